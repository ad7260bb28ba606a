// The record of a written image, which the next build needs to update a copy
// of it instead of writing every byte again. It lists where each log
// extension and each file's data sit, the SHA-256 of each, and which host
// file the image is. Callers keep it as JSON beside the image.

import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';

import { z } from 'zod';

import type { TreeFile } from './image-tree';
import type { FilesystemPlan } from './tfs-writer';

/** Bumped whenever a record field changes meaning, so older records are ignored. */
export const IMAGE_RECORD_FORMAT = 1;

const count = z.number().int().nonnegative();
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const decimal = z.string().regex(/^\d+$/);

const filesystemRecordSchema = z.object({
  name: z.enum(['bootfs', 'rootfs']),
  /** Byte offset of the filesystem in the image. */
  offset: count,
  /** UUID in sector 0, 32 hex digits. */
  uuid: z.string().regex(/^[0-9a-f]{32}$/),
  /** Log extensions after sector 0 in chain order, with the bytes written at each. */
  logExtensions: z.array(z.object({ sector: count, bytes: count, sha256: sha256Hex })).min(1),
  /** Files in placement order, each extent as [first sector, sector count]. */
  files: z.array(z.object({ path: z.string(), size: count, sha256: sha256Hex, extents: z.array(z.tuple([count, count])) })),
});

export const imageRecordSchema = z.object({
  format: z.literal(IMAGE_RECORD_FORMAT),
  /** Image size in bytes. */
  size: count,
  /** Device, inode and modification time of the image file once written, as decimal strings. */
  host: z.object({ dev: decimal, ino: decimal, mtimeNs: decimal }),
  bootImageSha256: sha256Hex,
  label: z.string(),
  /** True when the UUIDs were derived from the contents rather than given by the caller. */
  uuidsDerived: z.boolean(),
  filesystems: z.tuple([filesystemRecordSchema, filesystemRecordSchema]),
});

export type ImageRecord = z.infer<typeof imageRecordSchema>;
export type FilesystemRecord = z.infer<typeof filesystemRecordSchema>;

/** Returns `value` as an image record, or the reason it is not one. */
export function parseImageRecord(value: unknown): ImageRecord | { invalid: string } {
  const parsed = imageRecordSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return { invalid: `${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}` };
}

export function filesystemRecord(name: 'bootfs' | 'rootfs', offset: number, uuid: Uint8Array, plan: FilesystemPlan, digests: ReadonlyMap<TreeFile, Uint8Array>): FilesystemRecord {
  return {
    name,
    offset,
    uuid: Buffer.from(uuid).toString('hex'),
    logExtensions: plan.extensions.map((extension) => ({ sector: extension.sector, bytes: extension.bytes.length, sha256: createHash('sha256').update(extension.bytes).digest('hex') })),
    files: plan.files.map(({ file, extents }) => ({
      path: file.path,
      size: file.size,
      sha256: Buffer.from(digests.get(file)!).toString('hex'),
      extents: extents.map((extent): [number, number] => [extent.sector, extent.sectors]),
    })),
  };
}

export function hostIdentity(stats: BigIntStats): ImageRecord['host'] {
  return { dev: stats.dev.toString(), ino: stats.ino.toString(), mtimeNs: stats.mtimeNs.toString() };
}

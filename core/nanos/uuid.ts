// TFS UUIDs are 16 raw bytes, shown as 8-4-4-4-12 lowercase hex of the bytes
// in order, with no byte swapping (`volume_match` in Nanos's src/kernel/storage.c).

import { createHash } from 'node:crypto';

import { NanosImageError } from './errors';
import { UUID_LENGTH, type LogExtensionImage } from './tfs-log';

export function formatUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Parses the 8-4-4-4-12 form back to 16 bytes. */
export function parseUuid(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text)) {
    throw new NanosImageError('invalid-option', `UUID "${text}" is not in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.`);
  }
  const bytes = Uint8Array.from(Buffer.from(text.replace(/-/g, ''), 'hex'));
  if (bytes.length !== UUID_LENGTH) throw new NanosImageError('invalid-option', `UUID "${text}" does not give ${UUID_LENGTH} bytes.`);
  return bytes;
}

/**
 * Derives both filesystem UUIDs from everything that makes up the image. The
 * inputs are the SHA-256 of boot.img, the encoded logs (tree, sizes, placement
 * and manifest), the label, the image size and the SHA-256 of each file in
 * plan order, boot filesystem first. Hashing per file lets a rebuild derive
 * the UUID from recorded digests without reading unchanged files again.
 */
export function deriveUuids(parts: {
  bootImageDigest: Uint8Array;
  label: string;
  size: number;
  logs: Array<readonly Pick<LogExtensionImage, 'sector' | 'bytes'>[]>;
  fileDigests: readonly Uint8Array[];
}): { root: Uint8Array; boot: Uint8Array } {
  const digest = createHash('sha256');
  digest.update('nx-unikernel nanos image v2\0');
  digest.update(parts.bootImageDigest);
  digest.update(`${parts.label}\0${parts.size}\0`);
  for (const extensions of parts.logs) {
    for (const extension of extensions) {
      digest.update(`${extension.sector}\0`);
      digest.update(extension.bytes);
    }
  }
  // The log records every file's size and place, so the digests alone identify the contents.
  for (const fileDigest of parts.fileDigests) digest.update(fileDigest);
  const base = digest.digest();

  const derive = (name: string): Uint8Array => Uint8Array.from(createHash('sha256').update(base).update(name).digest().subarray(0, UUID_LENGTH));
  return { root: derive('rootfs'), boot: derive('bootfs') };
}

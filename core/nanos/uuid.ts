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
 * Derives both filesystem UUIDs from everything that makes up the image:
 * boot.img, the encoded logs (tree, sizes, placement and manifest), the
 * label, the image size and the SHA-256 of all file contents in plan order.
 */
export function deriveUuids(parts: { bootImage: Uint8Array; label: string; size: number; logs: Array<readonly LogExtensionImage[]>; contentDigest: Buffer }): { root: Uint8Array; boot: Uint8Array } {
  const digest = createHash('sha256');
  digest.update('nx-unikernel nanos image v1\0');
  digest.update(createHash('sha256').update(parts.bootImage).digest());
  digest.update(`${parts.label}\0${parts.size}\0`);
  for (const extensions of parts.logs) {
    for (const extension of extensions) {
      digest.update(`${extension.sector}\0`);
      digest.update(extension.bytes);
    }
  }
  digest.update(parts.contentDigest);
  const base = digest.digest();

  const derive = (name: string): Uint8Array => Uint8Array.from(createHash('sha256').update(base).update(name).digest().subarray(0, UUID_LENGTH));
  return { root: derive('rootfs'), boot: derive('bootfs') };
}

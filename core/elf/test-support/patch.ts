// Small byte patches on fixture files, for inputs no toolchain produces
// directly: files without section headers, bad e_ident bytes, corrupt offsets.
// Offsets follow the ELF gABI header layout.

import * as fs from 'node:fs';

/** Overwrites bytes of `file` at `offset`. */
export function patchFile(file: string, offset: number, bytes: readonly number[]): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Encodes `value` as `size` bytes in the given byte order. */
export function encodeUnsigned(value: number | bigint, size: 2 | 4 | 8, little: boolean): number[] {
  const buffer = Buffer.alloc(size);
  if (size === 2) {
    little ? buffer.writeUInt16LE(Number(value)) : buffer.writeUInt16BE(Number(value));
  } else if (size === 4) {
    little ? buffer.writeUInt32LE(Number(value)) : buffer.writeUInt32BE(Number(value));
  } else {
    little ? buffer.writeBigUInt64LE(BigInt(value)) : buffer.writeBigUInt64BE(BigInt(value));
  }
  return [...buffer];
}

/** Class and byte order of an ELF file, read from e_ident. */
export function identOf(file: string): { is64: boolean; little: boolean } {
  const ident = Buffer.alloc(6);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, ident, 0, 6, 0);
  } finally {
    fs.closeSync(fd);
  }
  return { is64: ident[4] === 2, little: ident[5] === 1 };
}

/**
 * Copies `source` to `target` and removes its section header table the way
 * sstrip leaves files, with three patches: e_shoff, e_shnum and e_shstrndx
 * become 0. Loaders never read section headers, so the copy still runs.
 */
export function copyWithoutSectionHeaders(source: string, target: string): void {
  fs.copyFileSync(source, target);
  const { is64, little } = identOf(target);
  patchFile(target, is64 ? 40 : 32, is64 ? encodeUnsigned(0, 8, little) : encodeUnsigned(0, 4, little));
  patchFile(target, is64 ? 60 : 48, encodeUnsigned(0, 2, little));
  patchFile(target, is64 ? 62 : 50, encodeUnsigned(0, 2, little));
}

/** Replaces the first occurrence of `from` in `file` by `to` (same length). Throws when `from` is absent. */
export function replaceBytes(file: string, from: string, to: string): void {
  if (from.length !== to.length) {
    throw new Error('replaceBytes: the replacement must have the same length');
  }
  const bytes = fs.readFileSync(file);
  const at = bytes.indexOf(Buffer.from(from, 'latin1'));
  if (at < 0) {
    throw new Error(`replaceBytes: "${from}" not found in ${file}`);
  }
  patchFile(file, at, [...Buffer.from(to, 'latin1')]);
}

// Reads the program's full exit code from the klog dump area of a Nanos image.
//
// QEMU's exit status keeps only the program's exit code mod 128 (see
// exit-status.ts). Nanos 0.1.55 also saves a crash log when the program exits
// with a non-zero code (klog_save in src/kernel/log.c, called from
// storage_shutdown in src/kernel/init.c). It writes it to the 4096 bytes just
// before the partition in slot 0 of the MBR, as a packed struct klog_dump
// (src/kernel/log.h):
//   +0  magic "KLOG"
//   +4  boot id, u64 little-endian
//   +12 exit code, s32 little-endian
//   +16 the kernel console text, NUL-terminated
// Nanos never clears the area itself, so a dump can be left from an earlier
// boot. The boot id does not help, because Nanos 0.1.55 only sets it from the
// radar klib and otherwise writes 0. So the runner clears a dump found before
// boot, and any dump found after QEMU exits was written during this boot.
//
// The reads and the write are synchronous: they are a few KiB, and the
// asynchronous ones wait for libuv's thread pool, which delayed the start of
// QEMU by about 3 ms.

import { closeSync, openSync, readSync, writeSync } from 'node:fs';

export const KLOG_DUMP_BYTES = 4096;

const SECTOR_BYTES = 512;
const MBR_SIGNATURE_OFFSET = 510;
const FIRST_PARTITION_LBA_OFFSET = 446 + 8;
const MAGIC = Buffer.from('KLOG', 'latin1');
const EXIT_CODE_OFFSET = 12;
const TEXT_OFFSET = 16;

export interface KlogDump {
  bootId: bigint;
  /** The exit code the kernel shut down with, as the program passed it to exit(). */
  exitCode: number;
  /** The kernel console text saved with the dump. */
  text: string;
}

/**
 * Returns the byte offset of the klog dump area of a raw Nanos image, or
 * undefined when sector 0 has no MBR signature or slot 0 is empty, as in a
 * bare TFS volume.
 */
export function findKlogArea(image: string): number | undefined {
  const sector = readBytes(image, 0, SECTOR_BYTES);
  if (sector.length < SECTOR_BYTES || sector[MBR_SIGNATURE_OFFSET] !== 0x55 || sector[MBR_SIGNATURE_OFFSET + 1] !== 0xaa) return undefined;

  const firstLba = sector.readUInt32LE(FIRST_PARTITION_LBA_OFFSET);
  const offset = firstLba * SECTOR_BYTES - KLOG_DUMP_BYTES;
  return offset > SECTOR_BYTES ? offset : undefined;
}

/** Parses a klog dump area, or returns undefined when it contains no dump (no "KLOG" magic). */
export function parseKlogDump(area: Buffer): KlogDump | undefined {
  if (area.length < TEXT_OFFSET || !area.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;

  const text = area.subarray(TEXT_OFFSET);
  const end = text.indexOf(0);
  return {
    bootId: area.readBigUInt64LE(MAGIC.length),
    exitCode: area.readInt32LE(EXIT_CODE_OFFSET),
    text: text.subarray(0, end === -1 ? text.length : end).toString('utf8'),
  };
}

/** Reads the dump at `offset` of `image`, or returns undefined when there is none. */
export function readKlogDump(image: string, offset: number): KlogDump | undefined {
  return parseKlogDump(readBytes(image, offset, KLOG_DUMP_BYTES));
}

/**
 * Clears a dump left in the area by an earlier boot, so that a dump read after
 * this boot is known to be its own. Returns the dump it cleared, if any.
 */
export function clearKlogDump(image: string, offset: number): KlogDump | undefined {
  const previous = readKlogDump(image, offset);
  if (previous === undefined) return undefined;

  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, Buffer.alloc(KLOG_DUMP_BYTES), 0, KLOG_DUMP_BYTES, offset);
  } finally {
    closeSync(fd);
  }
  return previous;
}

function readBytes(path: string, position: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const bytesRead = readSync(fd, buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    closeSync(fd);
  }
}

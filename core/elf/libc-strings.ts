// Detection of a statically linked glibc by strings glibc itself contains,
// for static programs whose NT_GNU_ABI_TAG note was stripped. Checked on
// glibc 2.36: even a static "hello world" contains "GLIBC_TUNABLES" and
// "GLIBC_PRIVATE"; version banners add "GNU C Library" and "GLIBC_2.".

import { type ElfReadContext, fitsInFile, readRegion } from './binary';
import { PF_X, PT_LOAD } from './constants';
import type { ProgramHeader } from './types';

const MARKERS = ['GLIBC_2.', 'GNU C Library', 'GLIBC_TUNABLES', 'GLIBC_PRIVATE'].map((text) => Buffer.from(text, 'latin1'));
const MAX_MARKER_LENGTH = Math.max(...MARKERS.map((marker) => marker.length));
const CHUNK_BYTES = 1024 * 1024;

/**
 * Upper bound on bytes scanned per file, so a huge static program costs at
 * most this much reading.
 * NOTE: glibc strings that lie past this bound are not found, and such a
 * program is reported with libc 'unknown'.
 */
export const MAX_SCAN_BYTES = 64 * 1024 * 1024;

/**
 * Returns true when a PT_LOAD segment's file image contains one of glibc's
 * marker strings. Read-only data segments are scanned before code segments,
 * because the strings live in .rodata.
 */
export function containsGlibcStrings(context: ElfReadContext, programHeaders: readonly ProgramHeader[]): boolean {
  const loads = programHeaders
    .filter((segment) => segment.type === PT_LOAD && segment.filesz > 0 && fitsInFile(context, segment.offset, segment.filesz))
    .sort((left, right) => (left.flags & PF_X) - (right.flags & PF_X));

  let budget = MAX_SCAN_BYTES;
  for (const segment of loads) {
    // Chunks overlap by the longest marker, so a string split between two chunks is still found.
    for (let start = 0; start < segment.filesz && budget > 0; start += CHUNK_BYTES - MAX_MARKER_LENGTH) {
      const length = Math.min(CHUNK_BYTES, segment.filesz - start, budget);
      const bytes = readRegion(context, segment.offset + start, length, 'a PT_LOAD segment').bytes;
      const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (MARKERS.some((marker) => chunk.includes(marker))) {
        return true;
      }
      budget -= length;
      if (start + length >= segment.filesz) {
        break;
      }
    }
  }
  return false;
}

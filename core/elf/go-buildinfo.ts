// Go build information, located and decoded the way Go's debug/buildinfo
// does it: a 16-byte-aligned blob starting with "\xff Go buildinf:" at the
// start of the .go.buildinfo section, or near the start of a writable data
// segment when section headers are gone.

import { type ElfReadContext, Region, fitsInFile, readRegion } from './binary';
import { PF_W, PF_X, PT_LOAD } from './constants';
import type { SectionTable } from './sections';
import type { GoInfo, ProgramHeader } from './types';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const ALIGN = 16;
/** Go's debug/buildinfo also searches only the first 64 KiB of the data. */
const SEARCH_BYTES = 64 * 1024;
/** Upper bound for the version and module strings; real blobs are a few KiB. */
const MAX_BLOB_BYTES = 1024 * 1024;
/** Byte 15 flag: the version and module strings follow the header inline (Go 1.18 and later). */
const FLAG_INLINE_STRINGS = 2;

/**
 * Finds and decodes the build info blob. Returns undefined when there is
 * none, and a GoInfo without `version` for the pre-1.18 layout, whose
 * strings are reached through pointers this reader does not follow.
 */
export function readGoBuildInfo(
  context: ElfReadContext,
  programHeaders: readonly ProgramHeader[],
  sections: SectionTable | undefined,
): GoInfo | undefined {
  const blob = findBlob(context, programHeaders, sections);
  return blob === undefined ? undefined : decodeBlob(blob);
}

function findBlob(context: ElfReadContext, programHeaders: readonly ProgramHeader[], sections: SectionTable | undefined): Buffer | undefined {
  if (sections !== undefined) {
    const section = sections.headers.find((candidate) => sections.nameOf(candidate) === '.go.buildinfo');
    if (section === undefined || !fitsInFile(context, section.offset, section.size)) {
      return undefined;
    }
    const length = Math.min(section.size, MAX_BLOB_BYTES);
    const bytes = asBuffer(readRegion(context, section.offset, length, 'the .go.buildinfo section'));
    return bytes.subarray(0, MAGIC.length).equals(MAGIC) ? bytes : undefined;
  }

  // Without section headers, search each writable, non-executable PT_LOAD.
  // The Go linker puts the blob at the start of one of them, and a PIE has
  // two (.data.rel.ro and .data), so checking only the first is not enough.
  for (const segment of programHeaders) {
    if (segment.type !== PT_LOAD || (segment.flags & (PF_W | PF_X)) !== PF_W || segment.filesz === 0) {
      continue;
    }
    if (!fitsInFile(context, segment.offset, Math.min(segment.filesz, SEARCH_BYTES))) {
      continue;
    }
    const found = searchSegment(context, segment);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}

function searchSegment(context: ElfReadContext, segment: ProgramHeader): Buffer | undefined {
  const data = asBuffer(readRegion(context, segment.offset, Math.min(segment.filesz, SEARCH_BYTES), 'a data segment'));

  // Alignment is relative to the virtual address, which equals the file
  // offset modulo the page size, so file-offset alignment is the same test.
  let from = 0;
  while (from < data.length) {
    const at = data.indexOf(MAGIC, from);
    if (at < 0 || data.length - at < HEADER_SIZE) {
      return undefined;
    }
    if ((segment.offset + at) % ALIGN === 0) {
      const length = Math.min(segment.filesz - at, MAX_BLOB_BYTES);
      if (!fitsInFile(context, segment.offset + at, length)) {
        return undefined;
      }
      return asBuffer(readRegion(context, segment.offset + at, length, 'the Go build info'));
    }
    from = at + 1;
  }
  return undefined;
}

function decodeBlob(blob: Buffer): GoInfo {
  const info: GoInfo = {};
  const flags = blob[15] ?? 0;
  if ((flags & FLAG_INLINE_STRINGS) === 0 || blob.length < HEADER_SIZE) {
    return info;
  }

  const version = readVarintString(blob, HEADER_SIZE);
  if (version === undefined || version.text === '') {
    return info;
  }
  info.version = version.text;

  const modules = readVarintString(blob, version.end);
  if (modules !== undefined) {
    // Build settings are "build\tKEY=VALUE" lines, present since Go 1.18.
    const match = /(?:^|\n)build\tCGO_ENABLED=([01])(?:\n|$)/.exec(modules.text);
    if (match !== null) {
      info.cgo = match[1] === '1';
    }
  }
  return info;
}

/** Decodes an unsigned-LEB128 length followed by that many bytes, or undefined when it runs past the blob. */
function readVarintString(blob: Buffer, start: number): { text: string; end: number } | undefined {
  let length = 0;
  let shift = 0;
  let at = start;
  for (;;) {
    const byte = blob[at];
    if (byte === undefined || shift > 28) {
      return undefined;
    }
    length += (byte & 0x7f) * 2 ** shift;
    at += 1;
    shift += 7;
    if ((byte & 0x80) === 0) {
      break;
    }
  }
  if (length > blob.length - at) {
    return undefined;
  }
  return { text: blob.toString('latin1', at, at + length), end: at + length };
}

function asBuffer(region: Region): Buffer {
  const bytes = region.bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

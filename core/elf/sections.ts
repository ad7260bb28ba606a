// The section header table. Loaders never use it, and stripped files
// (sstrip, or zeroed e_shoff/e_shnum/e_shstrndx) have none, so the reader
// uses it only as a better source for facts it can also derive otherwise:
// the .dynsym entry count and the .go.buildinfo location. A table that does
// not fit in the file is treated as absent instead of failing the parse.

import { type ElfReadContext, Region, fitsInFile, readRegion } from './binary';
import { SHDR_SIZE, SHT_DYNSYM } from './constants';
import { ElfError } from './errors';
import type { ElfHeader } from './types';

export interface SectionHeader {
  nameOffset: number;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface SectionTable {
  headers: SectionHeader[];
  /** Returns the name of a section from the section name string table, or undefined when unreadable. */
  nameOf(header: SectionHeader): string | undefined;
}

/** Reads the section headers, or returns undefined when the file has none or they are invalid. */
export function readSectionTable(context: ElfReadContext, header: ElfHeader): SectionTable | undefined {
  const entrySize = SHDR_SIZE[header.ident.class];
  if (header.shoff === 0 || header.shnum === 0 || header.shentsize < entrySize) {
    return undefined;
  }
  if (!fitsInFile(context, header.shoff, header.shnum * header.shentsize)) {
    return undefined;
  }

  const table = readRegion(context, header.shoff, header.shnum * header.shentsize, 'the section header table');
  const headers: SectionHeader[] = [];
  for (let index = 0; index < header.shnum; index++) {
    const decoded = decodeSectionHeader(table, index * header.shentsize, context.is64);
    if (decoded === undefined) {
      return undefined;
    }
    headers.push(decoded);
  }

  const names = readSectionNames(context, headers, header.shstrndx);
  return {
    headers,
    nameOf(section: SectionHeader): string | undefined {
      if (names === undefined || section.nameOffset >= names.length) {
        return undefined;
      }
      const end = names.indexOf(0, section.nameOffset);
      return end < 0 ? undefined : names.toString('latin1', section.nameOffset, end);
    },
  };
}

/** Returns the number of .dynsym entries from the SHT_DYNSYM header, or undefined without a usable one. */
export function dynsymCountFromSections(context: ElfReadContext, sections: SectionTable | undefined): number | undefined {
  const dynsym = sections?.headers.find((section) => section.type === SHT_DYNSYM);
  if (dynsym === undefined || dynsym.entsize === 0 || !fitsInFile(context, dynsym.offset, dynsym.size)) {
    return undefined;
  }
  return Math.floor(dynsym.size / dynsym.entsize);
}

function readSectionNames(context: ElfReadContext, headers: readonly SectionHeader[], index: number): Buffer | undefined {
  const strtab = headers[index];
  if (strtab === undefined || strtab.size === 0 || !fitsInFile(context, strtab.offset, strtab.size)) {
    return undefined;
  }
  // Section names are short ASCII strings; 64 KiB covers any real table.
  const length = Math.min(strtab.size, 64 * 1024);
  const bytes = readRegion(context, strtab.offset, length, 'the section name string table').bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Entry layout from the ELF gABI, "Sections". 64-bit values of 2^53 or more
// make the whole table unusable rather than the file corrupt.
function decodeSectionHeader(table: Region, at: number, is64: boolean): SectionHeader | undefined {
  if (!is64) {
    return {
      nameOffset: table.u32(at),
      type: table.u32(at + 4),
      flags: table.u32(at + 8),
      addr: table.u32(at + 12),
      offset: table.u32(at + 16),
      size: table.u32(at + 20),
      link: table.u32(at + 24),
      info: table.u32(at + 28),
      entsize: table.u32(at + 36),
    };
  }

  try {
    return {
      nameOffset: table.u32(at),
      type: table.u32(at + 4),
      flags: table.word(at + 8, true, 'sh_flags'),
      addr: table.word(at + 16, true, 'sh_addr'),
      offset: table.word(at + 24, true, 'sh_offset'),
      size: table.word(at + 32, true, 'sh_size'),
      link: table.u32(at + 40),
      info: table.u32(at + 44),
      entsize: table.word(at + 56, true, 'sh_entsize'),
    };
  } catch (error) {
    if (error instanceof ElfError) {
      return undefined;
    }
    throw error;
  }
}

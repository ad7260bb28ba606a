// The ELF file header and the program header table (ELF gABI, "ELF Header"
// and "Program Header"). Field offsets differ between ELFCLASS32 and
// ELFCLASS64, and everything after e_ident is in the byte order of EI_DATA.

import { type ElfReadContext, Region, corrupt, describe, readRegion } from './binary';
import type { ByteSource } from './byte-source';
import {
  EHDR_SIZE,
  EI_ABIVERSION,
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_OSABI,
  EI_PAD,
  EI_VERSION,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  PHDR_SIZE,
  PN_XNUM,
  SHDR_SIZE,
  SHN_XINDEX,
} from './constants';
import { ElfError } from './errors';
import type { ElfHeader, ElfIdent, ProgramHeader } from './types';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** Returns true when the bytes start with the 4-byte ELF magic "\x7fELF". */
export function hasElfMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((value, index) => bytes[index] === value);
}

/** Returns true when all of `bytes` (fewer than 4) match the start of the ELF magic. */
export function isElfMagicPrefix(bytes: Uint8Array): boolean {
  return bytes.length < 4 && bytes.length > 0 && Array.from(bytes).every((value, index) => value === ELF_MAGIC[index]);
}

/**
 * Decodes e_ident. The caller has checked the magic. Throws ElfError 'corrupt'
 * for an EI_CLASS or EI_DATA value the gABI does not define.
 */
export function parseIdent(ident: Uint8Array, path?: string): ElfIdent {
  const elfClass = ident[EI_CLASS] ?? 0;
  const data = ident[EI_DATA] ?? 0;

  if (elfClass !== ELFCLASS32 && elfClass !== ELFCLASS64) {
    throw corrupt({ path }, `invalid EI_CLASS ${elfClass} (expected 1 for ELFCLASS32 or 2 for ELFCLASS64)`);
  }
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) {
    throw corrupt({ path }, `invalid EI_DATA ${data} (expected 1 for little-endian or 2 for big-endian)`);
  }

  let paddingZero = true;
  for (let index = EI_PAD; index < EI_NIDENT; index++) {
    if ((ident[index] ?? 0) !== 0) {
      paddingZero = false;
    }
  }

  return {
    class: elfClass === ELFCLASS64 ? 64 : 32,
    byteOrder: data === ELFDATA2LSB ? 'little' : 'big',
    version: ident[EI_VERSION] ?? 0,
    osAbi: ident[EI_OSABI] ?? 0,
    abiVersion: ident[EI_ABIVERSION] ?? 0,
    paddingZero,
  };
}

/** The decoded file header together with the context later steps read with. */
export interface ParsedHeader {
  header: ElfHeader;
  context: ElfReadContext;
}

/**
 * Reads e_ident and the file header. The caller has checked the ELF magic.
 * Throws ElfError 'truncated' when the file is shorter than the header and
 * 'corrupt' for invalid identification bytes.
 */
export function parseHeader(source: ByteSource, path?: string): ParsedHeader {
  const ident = source.read(0, EI_NIDENT);
  if (ident.length < EI_NIDENT) {
    throw new ElfError('truncated', `${describe(path)} is truncated: it has ${source.size} bytes, fewer than the 16-byte ELF identification (e_ident)`, path);
  }

  const identity = parseIdent(ident, path);
  const is64 = identity.class === 64;
  const headerSize = EHDR_SIZE[identity.class];
  if (source.size < headerSize) {
    throw new ElfError(
      'truncated',
      `${describe(path)} is truncated: it has ${source.size} bytes, but an ELFCLASS${identity.class} file header needs ${headerSize}`,
      path,
    );
  }

  const context: ElfReadContext = { source, is64, little: identity.byteOrder === 'little', path };
  const region = readRegion(context, 0, headerSize, 'the ELF header');

  // Offsets of e_entry and later fields differ by class (ELF gABI, "ELF Header").
  const header: ElfHeader = {
    ident: identity,
    type: region.u16(16),
    machine: region.u16(18),
    version: region.u32(20),
    entry: is64 ? region.u64(24) : BigInt(region.u32(24)),
    phoff: region.word(is64 ? 32 : 28, is64, 'e_phoff'),
    shoff: region.word(is64 ? 40 : 32, is64, 'e_shoff'),
    flags: region.u32(is64 ? 48 : 36),
    ehsize: region.u16(is64 ? 52 : 40),
    phentsize: region.u16(is64 ? 54 : 42),
    phnum: region.u16(is64 ? 56 : 44),
    shentsize: region.u16(is64 ? 58 : 46),
    shnum: region.u16(is64 ? 60 : 48),
    shstrndx: region.u16(is64 ? 62 : 50),
  };

  applyExtendedNumbering(context, header);
  return { header, context };
}

/**
 * Replaces the escape values of e_phnum (PN_XNUM), e_shnum (0 with a section
 * table) and e_shstrndx (SHN_XINDEX) by the real values the gABI stores in
 * section header 0 (sh_info, sh_size and sh_link).
 */
function applyExtendedNumbering(context: ElfReadContext, header: ElfHeader): void {
  const needsSection0 = header.phnum === PN_XNUM || (header.shnum === 0 && header.shoff !== 0) || header.shstrndx === SHN_XINDEX;
  if (!needsSection0) {
    return;
  }

  const entrySize = SHDR_SIZE[header.ident.class];
  if (header.shoff === 0) {
    if (header.phnum === PN_XNUM) {
      throw corrupt(context, 'e_phnum is PN_XNUM (0xffff) but there is no section header 0 (e_shoff is 0) to hold the real count');
    }
    return;
  }

  const section0 = readRegion(context, header.shoff, entrySize, 'section header 0 (extended header numbering)');
  const is64 = context.is64;
  if (header.phnum === PN_XNUM) {
    header.phnum = section0.u32(is64 ? 44 : 28);
  }
  if (header.shnum === 0) {
    header.shnum = section0.word(is64 ? 32 : 20, is64, 'sh_size of section header 0');
  }
  if (header.shstrndx === SHN_XINDEX) {
    header.shstrndx = section0.u32(is64 ? 40 : 24);
  }
}

/**
 * Reads the program header table. Throws ElfError 'corrupt' when the table
 * does not fit in the file or e_phentsize is smaller than one entry.
 */
export function parseProgramHeaders(context: ElfReadContext, header: ElfHeader): ProgramHeader[] {
  if (header.phnum === 0) {
    return [];
  }

  const entrySize = PHDR_SIZE[header.ident.class];
  if (header.phentsize < entrySize) {
    throw corrupt(context, `e_phentsize is ${header.phentsize}, smaller than an ELFCLASS${header.ident.class} program header (${entrySize} bytes)`);
  }

  // Checking the table against the file size first also bounds the loop below.
  const tableSize = header.phnum * header.phentsize;
  if (header.phoff > context.source.size || tableSize > context.source.size - header.phoff) {
    throw corrupt(
      context,
      `the program header table (e_phoff ${header.phoff}, e_phnum ${header.phnum} entries of ${header.phentsize} bytes) extends past the end of the file (${context.source.size} bytes)`,
    );
  }

  const table = readRegion(context, header.phoff, tableSize, 'the program header table');
  const headers: ProgramHeader[] = [];
  for (let index = 0; index < header.phnum; index++) {
    headers.push(decodeProgramHeader(table, index * header.phentsize, context.is64, index));
  }
  return headers;
}

// Entry layouts from the ELF gABI: ELF64 moves p_flags next to p_type so the
// 8-byte fields stay aligned.
function decodeProgramHeader(table: Region, at: number, is64: boolean, index: number): ProgramHeader {
  const field = (name: string): string => `${name} of program header ${index}`;
  if (is64) {
    return {
      type: table.u32(at),
      flags: table.u32(at + 4),
      offset: table.word(at + 8, true, field('p_offset')),
      vaddr: table.word(at + 16, true, field('p_vaddr')),
      paddr: table.word(at + 24, true, field('p_paddr')),
      filesz: table.word(at + 32, true, field('p_filesz')),
      memsz: table.word(at + 40, true, field('p_memsz')),
      align: table.word(at + 48, true, field('p_align')),
    };
  }
  return {
    type: table.u32(at),
    offset: table.u32(at + 4),
    vaddr: table.u32(at + 8),
    paddr: table.u32(at + 12),
    filesz: table.u32(at + 16),
    memsz: table.u32(at + 20),
    flags: table.u32(at + 24),
    align: table.u32(at + 28),
  };
}

// Detection of a statically linked musl by the names in its symbol table.
// musl's start-up code defines __init_libc and __libc_start_init, and even a
// static "hello world" linked with musl 1.2.3 has both in .symtab. A static
// glibc 2.36 program has neither. A stripped program has no .symtab, so it
// stays 'unknown'.

import { fitsInFile, readRegion, type ElfReadContext } from './binary';
import { SHT_SYMTAB } from './constants';
import type { SectionTable } from './sections';

const MUSL_START_SYMBOLS = ['__init_libc', '__libc_start_init'].map((name) => Buffer.from(`\0${name}\0`, 'latin1'));

/**
 * Upper bound on the .strtab bytes read. musl's start-up symbols come from
 * the first objects linked, but a linker may order .strtab differently.
 * NOTE: names past this bound are not found, and the program stays 'unknown'.
 */
const MAX_STRTAB_BYTES = 16 * 1024 * 1024;

/** Returns true when the .symtab string table names both of musl's start-up functions. */
export function containsMuslSymbols(context: ElfReadContext, sections: SectionTable | undefined): boolean {
  const symtab = sections?.headers.find((section) => section.type === SHT_SYMTAB);
  const strtab = symtab === undefined ? undefined : sections?.headers[symtab.link];
  if (strtab === undefined || strtab.size === 0 || !fitsInFile(context, strtab.offset, strtab.size)) {
    return false;
  }

  const length = Math.min(strtab.size, MAX_STRTAB_BYTES);
  const bytes = readRegion(context, strtab.offset, length, 'the .symtab string table').bytes;
  // A string table starts with a NUL, so the first name also has one before it.
  const names = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return MUSL_START_SYMBOLS.every((marker) => names.includes(marker));
}

// Imported dynamic symbols: entries of DT_SYMTAB with st_shndx SHN_UNDEF and a
// name, with the version DT_VERSYM assigns them. The dynamic section does not
// give the number of entries, so locateSymbolTable derives it.

import type { MappedRange } from './address-map';
import { type ElfReadContext, WindowedReader, corrupt, fitsInFile, hex, readRegion } from './binary';
import {
  ADDRESS_TAGS,
  DT_GNU_HASH,
  DT_HASH,
  DT_SYMENT,
  DT_SYMTAB,
  DT_VERSYM,
  EM_ALPHA,
  EM_S390,
  STB_GLOBAL,
  STB_GNU_UNIQUE,
  STB_LOCAL,
  STB_WEAK,
  SYM_SIZE,
  VERSYM_VERSION,
} from './constants';
import { type DynamicSection, dynamicValue } from './dynamic';
import { type SectionTable, dynsymCountFromSections } from './sections';
import type { ElfHeader, ImportedSymbol, SymbolBinding } from './types';
import type { RequiredVersion } from './versions';

/** Location and entry count of the dynamic symbol table. */
export interface SymbolTableLocation {
  range: MappedRange;
  entrySize: number;
  count: number;
}

/**
 * Finds DT_SYMTAB and its entry count. The count comes from the SHT_DYNSYM
 * section header when there is one, else from DT_HASH (nchain), else from a
 * walk of DT_GNU_HASH. GNU hash cannot count symbols that are not hashed: an
 * executable that exports nothing has all-zero buckets although its .dynsym
 * contains its imports. So when section headers are absent, the count is the
 * larger of the hash count and the distance from DT_SYMTAB to the next table
 * the dynamic section points to, divided by DT_SYMENT.
 */
export function locateSymbolTable(
  context: ElfReadContext,
  header: ElfHeader,
  dynamic: DynamicSection,
  sections: SectionTable | undefined,
): SymbolTableLocation | undefined {
  const { entries, addresses } = dynamic;
  const address = dynamicValue(context, entries, DT_SYMTAB, 'DT_SYMTAB');
  if (address === undefined) {
    return undefined;
  }

  const range = addresses.require(context, address, 'DT_SYMTAB');
  const minimumSize = SYM_SIZE[header.ident.class];
  const entrySize = dynamicValue(context, entries, DT_SYMENT, 'DT_SYMENT') ?? minimumSize;
  if (entrySize < minimumSize) {
    throw corrupt(context, `DT_SYMENT is ${entrySize}, smaller than an ELFCLASS${header.ident.class} symbol (${minimumSize} bytes)`);
  }
  const fitting = Math.floor(range.available / entrySize);

  const fromSections = dynsymCountFromSections(context, sections);
  if (fromSections !== undefined) {
    return { range, entrySize, count: Math.min(fromSections, fitting) };
  }

  const fromHash = countFromHashTables(context, header, dynamic);
  if (fromHash !== undefined && fromHash > fitting) {
    throw corrupt(context, `the hash table gives ${fromHash} dynamic symbols, but only ${fitting} fit in the segment holding DT_SYMTAB`);
  }

  if (sections !== undefined && fromHash !== undefined) {
    return { range, entrySize, count: fromHash };
  }
  const fromDistance = countFromDistance(dynamic, address, entrySize);
  const count = Math.max(fromHash ?? 0, Math.min(fromDistance ?? 0, fitting));
  return { range, entrySize, count };
}

/** Reads the imported symbols and their required versions. */
export function readImports(
  context: ElfReadContext,
  header: ElfHeader,
  dynamic: DynamicSection,
  location: SymbolTableLocation,
  versions: Map<number, RequiredVersion>,
): ImportedSymbol[] {
  const strings = dynamic.strings;
  if (strings === undefined || location.count === 0) {
    return [];
  }

  const { entrySize, count } = location;
  const table = readRegion(context, location.range.offset, count * entrySize, 'the dynamic symbol table (DT_SYMTAB)');
  const view = table.view;
  const little = context.little;
  const is64 = header.ident.class === 64;

  // ELF64 symbols put st_info/st_shndx right after st_name; ELF32 puts them after st_value and st_size.
  const infoAt = is64 ? 4 : 12;
  const shndxAt = is64 ? 6 : 14;

  const versionIndexes = readVersionIndexes(context, dynamic, count);
  const imports: ImportedSymbol[] = [];

  for (let index = 0; index < count; index++) {
    const at = index * entrySize;
    if (view.getUint16(at + shndxAt, little) !== 0) {
      continue;
    }
    const nameOffset = view.getUint32(at, little);
    if (nameOffset === 0) {
      continue;
    }

    const symbol: ImportedSymbol = {
      name: strings.get(nameOffset, 'st_name'),
      binding: bindingOf(view.getUint8(at + infoAt) >> 4),
    };
    const required = versionIndexes === undefined ? undefined : versions.get(versionIndexes(index) & VERSYM_VERSION);
    if (required !== undefined) {
      symbol.version = required.name;
      symbol.versionFile = required.file;
    }
    imports.push(symbol);
  }
  return imports;
}

/** Returns a lookup of the DT_VERSYM entry per symbol index, or undefined without DT_VERSYM. */
function readVersionIndexes(context: ElfReadContext, dynamic: DynamicSection, count: number): ((index: number) => number) | undefined {
  const address = dynamicValue(context, dynamic.entries, DT_VERSYM, 'DT_VERSYM');
  if (address === undefined) {
    return undefined;
  }
  const range = dynamic.addresses.require(context, address, 'DT_VERSYM');
  if (count * 2 > range.available) {
    throw corrupt(context, `DT_VERSYM at ${hex(address)} has room for ${Math.floor(range.available / 2)} entries, fewer than the ${count} dynamic symbols`);
  }
  const region = readRegion(context, range.offset, count * 2, 'the symbol version table (DT_VERSYM)');
  const view = region.view;
  const little = context.little;
  return (index) => view.getUint16(index * 2, little);
}

function bindingOf(value: number): SymbolBinding {
  switch (value) {
    case STB_LOCAL:
      return 'local';
    case STB_GLOBAL:
      return 'global';
    case STB_WEAK:
      return 'weak';
    case STB_GNU_UNIQUE:
      return 'unique';
    default:
      return 'other';
  }
}

function countFromHashTables(context: ElfReadContext, header: ElfHeader, dynamic: DynamicSection): number | undefined {
  const { entries, addresses } = dynamic;

  const hashAddress = dynamicValue(context, entries, DT_HASH, 'DT_HASH');
  if (hashAddress !== undefined) {
    // The SysV hash table is nbucket, nchain, buckets, chains; nchain equals
    // the number of symbols. 64-bit s390 and Alpha use 8-byte words here.
    const range = addresses.require(context, hashAddress, 'DT_HASH');
    const wide = header.ident.class === 64 && (header.machine === EM_S390 || header.machine === EM_ALPHA);
    const wordSize = wide ? 8 : 4;
    const words = readRegionWithin(context, range, 2 * wordSize, 'DT_HASH');
    return wide ? words.word(8, true, 'nchain of DT_HASH') : words.u32(4);
  }

  const gnuAddress = dynamicValue(context, entries, DT_GNU_HASH, 'DT_GNU_HASH');
  if (gnuAddress !== undefined) {
    return countFromGnuHash(context, header, dynamic, gnuAddress);
  }
  return undefined;
}

/**
 * Walks DT_GNU_HASH: nbuckets, symoffset, bloom_size, bloom_shift, then
 * bloom_size address-sized bloom words, nbuckets u32 buckets and the chain
 * array for symbols from symoffset on. The highest bucket value is the start
 * of the last chain, and a chain ends at the entry with bit 0 set.
 */
function countFromGnuHash(context: ElfReadContext, header: ElfHeader, dynamic: DynamicSection, address: number): number {
  const range = dynamic.addresses.require(context, address, 'DT_GNU_HASH');
  const head = readRegionWithin(context, range, 16, 'DT_GNU_HASH');
  const bucketCount = head.u32(0);
  const symbolOffset = head.u32(4);
  const bloomWords = head.u32(8);

  const bloomSize = bloomWords * (header.ident.class === 64 ? 8 : 4);
  const bucketsAt = 16 + bloomSize;
  const chainsAt = bucketsAt + bucketCount * 4;
  if (chainsAt > range.available) {
    throw corrupt(context, `DT_GNU_HASH declares ${bucketCount} buckets and ${bloomWords} bloom words, more than fit in its segment`);
  }

  const buckets = readRegion(context, range.offset + bucketsAt, bucketCount * 4, 'the DT_GNU_HASH buckets');
  let highest = 0;
  for (let index = 0; index < bucketCount; index++) {
    highest = Math.max(highest, buckets.u32(index * 4));
  }
  if (highest === 0) {
    // No symbol is hashed: only the symoffset unhashed symbols are known.
    return symbolOffset;
  }
  if (highest < symbolOffset) {
    throw corrupt(context, `a DT_GNU_HASH bucket points at symbol ${highest}, below symoffset ${symbolOffset}`);
  }

  // Each chain step reads 4 bytes of the segment, so the walk ends by the segment end at the latest.
  const chains = new WindowedReader(context, range.offset + chainsAt, range.available - chainsAt, 'the DT_GNU_HASH chains');
  let index = highest;
  while ((chains.record((index - symbolOffset) * 4, 4).u32(0) & 1) === 0) {
    index += 1;
  }
  return index + 1;
}

/** Returns the symbol count implied by the next table after DT_SYMTAB, or undefined when none follows. */
function countFromDistance(dynamic: DynamicSection, symtab: number, entrySize: number): number | undefined {
  const start = BigInt(symtab);
  let next: bigint | undefined;
  for (const entry of dynamic.entries) {
    if (entry.value > start && ADDRESS_TAGS.includes(entry.tag) && (next === undefined || entry.value < next)) {
      next = entry.value;
    }
  }
  if (next === undefined) {
    return undefined;
  }
  const distance = next - start;
  return Number(distance / BigInt(entrySize));
}

function readRegionWithin(context: ElfReadContext, range: MappedRange, length: number, tag: string) {
  if (length > range.available || !fitsInFile(context, range.offset, length)) {
    throw corrupt(context, `${tag} (${length} bytes) reaches past the end of its segment`);
  }
  return readRegion(context, range.offset, length, tag);
}

// The dynamic section, found through PT_DYNAMIC (ELF gABI, "Dynamic Section").
// It is read through the segment's file offset; only the d_ptr values inside
// it are virtual addresses, which AddressMap turns into file offsets.

import { AddressMap } from './address-map';
import { type ElfReadContext, corrupt, fitsInFile, hex, readRegion, toSafeNumber } from './binary';
import {
  DT_AUXILIARY,
  DT_DEBUG,
  DT_FILTER,
  DT_FLAGS,
  DT_FLAGS_1,
  DT_NEEDED,
  DT_NULL,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  PT_DYNAMIC,
} from './constants';
import { StringTable } from './string-table';
import type { DynamicInfo, ProgramHeader } from './types';

/** One dynamic entry; `value` stays a bigint until a tag that uses it converts it. */
export interface DynamicEntry {
  tag: number;
  value: bigint;
}

/** The raw entries plus what later steps (symbols, versions) need from them. */
export interface DynamicSection {
  entries: DynamicEntry[];
  info: DynamicInfo;
  strings: StringTable | undefined;
  addresses: AddressMap;
}

/** Returns the PT_DYNAMIC header, or undefined when there is none or it is empty. */
export function findDynamicSegment(programHeaders: readonly ProgramHeader[]): ProgramHeader | undefined {
  // A PT_DYNAMIC with p_filesz 0 marks a separate debug-info file
  // (objcopy --only-keep-debug); it has no dynamic entries to read.
  return programHeaders.find((header) => header.type === PT_DYNAMIC && header.filesz > 0);
}

/**
 * Reads the dynamic entries up to DT_NULL or the end of the segment. Tags are
 * signed in ELF64; values outside the 32-bit range are no tag this reader
 * uses, so they are kept as -1.
 */
export function readDynamicEntries(context: ElfReadContext, segment: ProgramHeader): DynamicEntry[] {
  if (!fitsInFile(context, segment.offset, segment.filesz)) {
    throw corrupt(context, `PT_DYNAMIC (offset ${segment.offset}, ${segment.filesz} bytes) extends past the end of the file (${context.source.size} bytes)`);
  }

  const entrySize = context.is64 ? 16 : 8;
  const count = Math.floor(segment.filesz / entrySize);
  const region = readRegion(context, segment.offset, count * entrySize, 'the dynamic section');
  const entries: DynamicEntry[] = [];

  for (let index = 0; index < count; index++) {
    const at = index * entrySize;
    let tag: number;
    let value: bigint;
    if (context.is64) {
      const wideTag = region.i64(at);
      tag = wideTag >= -0x80000000n && wideTag <= 0xffffffffn ? Number(wideTag) : -1;
      value = region.u64(at + 8);
    } else {
      tag = region.u32(at);
      value = BigInt(region.u32(at + 4));
    }

    if (tag === DT_NULL) {
      break;
    }
    entries.push({ tag, value });
  }
  return entries;
}

/** Returns the first value of `tag` as a number, or undefined when the tag is absent. */
export function dynamicValue(context: ElfReadContext, entries: readonly DynamicEntry[], tag: number, name: string): number | undefined {
  const entry = entries.find((candidate) => candidate.tag === tag);
  return entry === undefined ? undefined : toSafeNumber(entry.value, name, context.path);
}

/**
 * Decodes the dynamic section into DynamicInfo. With `eagerStrings` the
 * whole string table is read at once, because symbol names will follow.
 */
export function readDynamicSection(
  context: ElfReadContext,
  programHeaders: readonly ProgramHeader[],
  segment: ProgramHeader,
  eagerStrings: boolean,
): DynamicSection {
  const entries = readDynamicEntries(context, segment);
  const addresses = new AddressMap(programHeaders);
  const strings = openStringTable(context, entries, addresses, eagerStrings);

  const info: DynamicInfo = {
    needed: [],
    flags: 0,
    flags1: 0,
    filters: [],
    auxiliaries: [],
    hasDebug: false,
    entryCount: entries.length,
  };

  const text = (entry: DynamicEntry, field: string): string => {
    if (strings === undefined) {
      throw corrupt(context, `${field} is present but the dynamic section has no DT_STRTAB`);
    }
    return strings.get(toSafeNumber(entry.value, field, context.path), field);
  };

  for (const entry of entries) {
    switch (entry.tag) {
      case DT_NEEDED:
        info.needed.push(text(entry, 'DT_NEEDED'));
        break;
      case DT_SONAME:
        info.soname = text(entry, 'DT_SONAME');
        break;
      case DT_RPATH:
        info.rpath = text(entry, 'DT_RPATH');
        break;
      case DT_RUNPATH:
        info.runpath = text(entry, 'DT_RUNPATH');
        break;
      case DT_FILTER:
        info.filters.push(text(entry, 'DT_FILTER'));
        break;
      case DT_AUXILIARY:
        info.auxiliaries.push(text(entry, 'DT_AUXILIARY'));
        break;
      case DT_FLAGS:
        info.flags = Number(entry.value & 0xffffffffn);
        break;
      case DT_FLAGS_1:
        info.flags1 = Number(entry.value & 0xffffffffn);
        break;
      case DT_DEBUG:
        info.hasDebug = true;
        break;
    }
  }

  return { entries, info, strings, addresses };
}

function openStringTable(
  context: ElfReadContext,
  entries: readonly DynamicEntry[],
  addresses: AddressMap,
  eager: boolean,
): StringTable | undefined {
  const address = dynamicValue(context, entries, DT_STRTAB, 'DT_STRTAB');
  if (address === undefined) {
    return undefined;
  }

  const range = addresses.require(context, address, 'DT_STRTAB');
  const declaredSize = dynamicValue(context, entries, DT_STRSZ, 'DT_STRSZ');

  // The gABI makes DT_STRSZ mandatory with DT_STRTAB. A file without it gets
  // its strings bounded by the end of the segment containing DT_STRTAB.
  const size = declaredSize ?? range.available;
  if (!fitsInFile(context, range.offset, size)) {
    throw corrupt(context, `the dynamic string table (DT_STRTAB ${hex(address)}, DT_STRSZ ${size}) extends past the end of the file`);
  }
  return new StringTable(context, range.offset, size, eager);
}

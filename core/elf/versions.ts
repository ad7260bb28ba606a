// Symbol versioning records (GNU extension to the gABI, as read by glibc's
// elf/dl-version.c): DT_VERNEED lists the versions an object needs from each
// file, DT_VERDEF the versions it defines. Both are linked lists whose
// vn_next/vd_next and aux offsets are relative to the current record.

import type { AddressMap } from './address-map';
import { type ElfReadContext, WindowedReader, corrupt } from './binary';
import { DT_VERDEF, DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM, VER_FLG_BASE, VER_FLG_WEAK } from './constants';
import { type DynamicEntry, dynamicValue } from './dynamic';
import type { StringTable } from './string-table';
import type { VersionNeed } from './types';

const VERNEED_SIZE = 16;
const VERNAUX_SIZE = 16;
const VERDEF_SIZE = 20;
const VERDAUX_SIZE = 8;

/** A required version as DT_VERSYM indexes refer to it (vna_other). */
export interface RequiredVersion {
  name: string;
  file: string;
}

export interface VersionNeeds {
  needs: VersionNeed[];
  /** Required versions by their version index (vna_other). */
  byIndex: Map<number, RequiredVersion>;
}

/** Reads DT_VERNEED; returns empty results when the object has none. */
export function readVersionNeeds(
  context: ElfReadContext,
  entries: readonly DynamicEntry[],
  addresses: AddressMap,
  strings: StringTable | undefined,
): VersionNeeds {
  const result: VersionNeeds = { needs: [], byIndex: new Map() };
  const address = dynamicValue(context, entries, DT_VERNEED, 'DT_VERNEED');
  if (address === undefined) {
    return result;
  }
  const table = requireStrings(context, strings, 'DT_VERNEED');
  const range = addresses.require(context, address, 'DT_VERNEED');
  const reader = new WindowedReader(context, range.offset, range.available, 'DT_VERNEED');

  // Every record takes at least VERNEED_SIZE bytes of the range, which bounds
  // the walk even when DT_VERNEEDNUM or the vn_next chain is corrupt.
  const declared = dynamicValue(context, entries, DT_VERNEEDNUM, 'DT_VERNEEDNUM');
  const limit = Math.floor(range.available / VERNEED_SIZE);
  const count = declared ?? limit;
  if (count > limit) {
    throw corrupt(context, `DT_VERNEEDNUM is ${count}, but only ${limit} records fit in the segment`);
  }

  // Aux records count against the same budget, so a corrupt vn_cnt cannot
  // multiply the work.
  let budget = limit;
  const spend = (): void => {
    budget -= 1;
    if (budget < 0) {
      throw corrupt(context, 'the DT_VERNEED records and their aux entries are more than fit in the segment');
    }
  };

  let offset = 0;
  for (let index = 0; index < count; index++) {
    spend();
    const record = reader.record(offset, VERNEED_SIZE);
    const auxCount = record.u16(2);
    const file = table.get(record.u32(4), 'vn_file');
    const need: VersionNeed = { file, versions: [] };

    let auxOffset = offset + record.u32(8);
    for (let auxIndex = 0; auxIndex < auxCount; auxIndex++) {
      spend();
      const aux = reader.record(auxOffset, VERNAUX_SIZE);
      const name = table.get(aux.u32(8), 'vna_name');
      need.versions.push({ name, weak: (aux.u16(4) & VER_FLG_WEAK) !== 0 });
      result.byIndex.set(aux.u16(6), { name, file });

      const next = aux.u32(12);
      if (next === 0) {
        break;
      }
      auxOffset += next;
    }
    result.needs.push(need);

    const next = record.u32(12);
    if (next === 0) {
      break;
    }
    offset += next;
  }
  return result;
}

/** Reads the version names DT_VERDEF defines, without the BASE entry (the file's own name). */
export function readVersionDefinitions(
  context: ElfReadContext,
  entries: readonly DynamicEntry[],
  addresses: AddressMap,
  strings: StringTable | undefined,
): string[] {
  const address = dynamicValue(context, entries, DT_VERDEF, 'DT_VERDEF');
  if (address === undefined) {
    return [];
  }
  const table = requireStrings(context, strings, 'DT_VERDEF');
  const range = addresses.require(context, address, 'DT_VERDEF');
  const reader = new WindowedReader(context, range.offset, range.available, 'DT_VERDEF');

  const declared = dynamicValue(context, entries, DT_VERDEFNUM, 'DT_VERDEFNUM');
  const limit = Math.floor(range.available / VERDEF_SIZE);
  const count = declared ?? limit;
  if (count > limit) {
    throw corrupt(context, `DT_VERDEFNUM is ${count}, but only ${limit} records fit in the segment`);
  }

  const names: string[] = [];
  let offset = 0;
  for (let index = 0; index < count; index++) {
    const record = reader.record(offset, VERDEF_SIZE);
    const flags = record.u16(2);
    const auxCount = record.u16(6);

    // The first aux entry names the version; later ones name its parents.
    if ((flags & VER_FLG_BASE) === 0 && auxCount > 0) {
      const aux = reader.record(offset + record.u32(12), VERDAUX_SIZE);
      names.push(table.get(aux.u32(0), 'vda_name'));
    }

    const next = record.u32(16);
    if (next === 0) {
      break;
    }
    offset += next;
  }
  return names;
}

function requireStrings(context: ElfReadContext, strings: StringTable | undefined, tag: string): StringTable {
  if (strings === undefined) {
    throw corrupt(context, `${tag} is present but the dynamic section has no DT_STRTAB`);
  }
  return strings;
}

// Translation of virtual addresses (the values of DT_STRTAB, DT_SYMTAB and the
// other d_ptr tags) to file offsets through the PT_LOAD segments. The first
// segment does not have to start at address 0: non-PIE executables start at
// 0x400000 or 0x10000 and prelinked libraries at arbitrary bases.

import { type ElfReadContext, corrupt, hex } from './binary';
import { PT_LOAD } from './constants';
import type { ProgramHeader } from './types';

/** A file range that an address maps to, up to the end of its segment's file image. */
export interface MappedRange {
  offset: number;
  /** Bytes from `offset` to the end of the segment's file image (p_offset + p_filesz). */
  available: number;
}

export class AddressMap {
  private readonly loads: ProgramHeader[];

  constructor(programHeaders: readonly ProgramHeader[]) {
    this.loads = programHeaders.filter((header) => header.type === PT_LOAD && header.filesz > 0);
  }

  /**
   * Returns the file range holding `address`, or undefined when no PT_LOAD
   * segment's file image contains it (for example an address in .bss).
   */
  find(address: number): MappedRange | undefined {
    for (const load of this.loads) {
      if (address >= load.vaddr && address - load.vaddr < load.filesz) {
        const delta = address - load.vaddr;
        return { offset: load.offset + delta, available: load.filesz - delta };
      }
    }
    return undefined;
  }

  /** Like `find`, but throws ElfError 'corrupt' naming the tag when the address is not mapped. */
  require(context: ElfReadContext, address: number, tag: string): MappedRange {
    const range = this.find(address);
    if (range === undefined) {
      throw corrupt(context, `${tag} address ${hex(address)} is not inside the file image of any PT_LOAD segment`);
    }
    return range;
  }
}

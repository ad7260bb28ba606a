// PT_NOTE segments (ELF gABI, "Note Section"): records of namesz, descsz and
// type (u32 each), then the owner name and the descriptor, each padded to the
// segment's alignment. GNU property notes in ELFCLASS64 files use 8-byte
// alignment (p_align 8), other notes 4.

import { type ElfReadContext, Region, WindowedReader, corrupt } from './binary';
import {
  EM_386,
  EM_X86_64,
  GNU_PROPERTY_X86_ISA_1_NEEDED,
  NT_GNU_ABI_TAG,
  NT_GNU_BUILD_ID,
  NT_GNU_PROPERTY_TYPE_0,
  NT_GO_BUILD_ID,
  PT_NOTE,
} from './constants';
import type { ElfHeader, ElfNotes, ProgramHeader } from './types';

const NOTE_HEADER_SIZE = 12;

/** Reads the ABI tag, build ids and x86 ISA level from every PT_NOTE segment. */
export function readNotes(context: ElfReadContext, header: ElfHeader, programHeaders: readonly ProgramHeader[]): ElfNotes {
  const notes: ElfNotes = {};
  for (const segment of programHeaders) {
    if (segment.type !== PT_NOTE || segment.filesz === 0) {
      continue;
    }
    readNoteSegment(context, header, segment, notes);
  }
  return notes;
}

function readNoteSegment(context: ElfReadContext, header: ElfHeader, segment: ProgramHeader, notes: ElfNotes): void {
  const reader = new WindowedReader(context, segment.offset, segment.filesz, 'a PT_NOTE segment');
  const align = segment.align === 8 ? 8 : 4;

  // Every note takes at least NOTE_HEADER_SIZE bytes, so the loop ends by the segment end.
  let offset = 0;
  while (segment.filesz - offset >= NOTE_HEADER_SIZE) {
    const noteHeader = reader.record(offset, NOTE_HEADER_SIZE);
    const nameSize = noteHeader.u32(0);
    const descSize = noteHeader.u32(4);
    const type = noteHeader.u32(8);

    const descAt = alignUp(offset + NOTE_HEADER_SIZE + nameSize, align);
    const end = alignUp(descAt + descSize, align);
    if (descAt + descSize > segment.filesz) {
      throw corrupt(context, `a note in the PT_NOTE segment at offset ${segment.offset} claims ${descSize} descriptor bytes, past the segment end`);
    }

    const owner = readOwner(reader.record(offset + NOTE_HEADER_SIZE, nameSize));
    const desc = reader.record(descAt, descSize);
    applyNote(header, owner, type, desc, notes);

    if (end <= offset) {
      break;
    }
    offset = end;
  }
}

function applyNote(header: ElfHeader, owner: string, type: number, desc: Region, notes: ElfNotes): void {
  if (owner === 'GNU' && type === NT_GNU_ABI_TAG && desc.length >= 16) {
    notes.abiTag = { os: desc.u32(0), major: desc.u32(4), minor: desc.u32(8), patch: desc.u32(12) };
  } else if (owner === 'GNU' && type === NT_GNU_BUILD_ID && desc.length > 0) {
    notes.buildId = Buffer.from(desc.bytes).toString('hex');
  } else if (owner === 'GNU' && type === NT_GNU_PROPERTY_TYPE_0) {
    const isa = findX86IsaNeeded(header, desc);
    if (isa !== undefined) {
      notes.x86IsaNeeded = isa;
    }
  } else if (owner === 'Go' && type === NT_GO_BUILD_ID) {
    notes.goBuildId = Buffer.from(desc.bytes).toString('latin1').replace(/\0+$/, '');
  }
}

/**
 * Finds GNU_PROPERTY_X86_ISA_1_NEEDED in an NT_GNU_PROPERTY_TYPE_0 note.
 * Properties are pr_type, pr_datasz and data padded to 8 bytes in ELFCLASS64
 * and 4 in ELFCLASS32 (as glibc's elf/dl-load.c walks them).
 */
function findX86IsaNeeded(header: ElfHeader, desc: Region): number | undefined {
  if (header.machine !== EM_X86_64 && header.machine !== EM_386) {
    return undefined;
  }
  const align = header.ident.class === 64 ? 8 : 4;
  let at = 0;
  while (desc.length - at >= 8) {
    const type = desc.u32(at);
    const size = desc.u32(at + 4);
    const dataAt = at + 8;
    if (size > desc.length - dataAt) {
      return undefined;
    }
    if (type === GNU_PROPERTY_X86_ISA_1_NEEDED && size >= 4) {
      return desc.u32(dataAt);
    }
    at = alignUp(dataAt + size, align);
  }
  return undefined;
}

function readOwner(name: Region): string {
  const bytes = name.bytes;
  let end = bytes.indexOf(0);
  if (end < 0) {
    end = bytes.length;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

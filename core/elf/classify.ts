// Classification of a file's link kind and the C library it expects.
// PT_DYNAMIC alone does not make a program dynamic (static-pie files have one) and e_type alone does
// not make a file a library (every PIE is ET_DYN), so the decision combines
// PT_INTERP, PT_DYNAMIC, e_type, DF_1_PIE, DT_DEBUG and DT_SONAME:
//
//   PT_INTERP  PT_DYNAMIC  e_type  DF_1_PIE  result
//   no         no          EXEC    -         static
//   no         yes         DYN     yes       static-pie
//   no         yes         DYN     no        shared-library (also ld.so itself)
//   yes        yes         EXEC    -         dynamic, not PIE
//   yes        yes         DYN     yes       dynamic PIE (maybe without DT_NEEDED)
//   yes        yes         DYN     no        shared-library that can also run (glibc's libc.so.6)
//
// GNU ld before binutils 2.26 did not set DF_1_PIE, so an ET_DYN with DT_DEBUG
// and no DT_SONAME counts as an executable: linkers add DT_DEBUG only to
// executables, for debuggers to find the link map.

import { DF_1_PIE, ET_DYN, ET_EXEC, PT_DYNAMIC, PT_INTERP } from './constants';
import type { Classification, DynamicInfo, ElfHeader, ElfNotes, GoInfo, LibcFlavour, LinkKind, ProgramHeader } from './types';

export interface ClassifyInput {
  header: ElfHeader;
  programHeaders: readonly ProgramHeader[];
  /** PT_INTERP without its NUL. */
  interpreter?: string;
  dynamic?: DynamicInfo;
  notes: ElfNotes;
  /** Present when the file is a Go program. */
  go?: GoInfo;
  /**
   * Returns true when the loadable data contains glibc's own strings. Called
   * only for static programs without an NT_GNU_ABI_TAG note.
   */
  containsGlibcStrings?: () => boolean;
  /** Returns true when the symbol table names musl's start-up functions. Called only for static programs that are not glibc. */
  containsMuslSymbols?: () => boolean;
}

export function classify(input: ClassifyInput): Classification {
  const kind = linkKindOf(input);
  const flags1 = input.dynamic?.flags1 ?? 0;
  const pie = (flags1 & DF_1_PIE) !== 0 || (input.header.type === ET_DYN && (kind === 'dynamic' || kind === 'static-pie'));

  const classification: Classification = { kind, libc: libcOf(kind, input), pie };
  if (input.go !== undefined) {
    classification.go = input.go;
  }
  return classification;
}

/** Decides static / static-pie / dynamic / shared-library per the table at the top of this file. */
export function linkKindOf(input: Pick<ClassifyInput, 'header' | 'programHeaders' | 'dynamic'>): LinkKind {
  const { header, programHeaders, dynamic } = input;
  if (header.type !== ET_EXEC && header.type !== ET_DYN) {
    return 'not-loadable';
  }

  const hasInterpreter = programHeaders.some((segment) => segment.type === PT_INTERP);
  const hasDynamic = dynamic !== undefined && programHeaders.some((segment) => segment.type === PT_DYNAMIC);

  if (header.type === ET_EXEC) {
    return hasInterpreter ? 'dynamic' : 'static';
  }

  // ET_DYN without a dynamic section cannot relocate itself or be relocated,
  // so it runs only at its link address like a static executable.
  if (!hasDynamic) {
    return hasInterpreter ? 'dynamic' : 'static';
  }

  const isExecutable = ((dynamic?.flags1 ?? 0) & DF_1_PIE) !== 0 || (dynamic?.hasDebug === true && dynamic.soname === undefined);
  if (hasInterpreter) {
    return isExecutable ? 'dynamic' : 'shared-library';
  }
  return isExecutable ? 'static-pie' : 'shared-library';
}

/**
 * Returns the C library a PT_INTERP path belongs to, from its basename.
 * glibc names its loader ld-linux*.so.N, ld64.so.N (PowerPC64, s390x) or
 * ld.so.1 (32-bit PowerPC, MIPS, s390). musl uses ld-musl-ARCH.so.1,
 * Android's bionic uses linker or linker64, and uClibc uses ld-uClibc.so.N.
 */
export function libcFromInterpreter(interpreter: string): LibcFlavour {
  const base = interpreter.slice(interpreter.lastIndexOf('/') + 1);
  if (base.startsWith('ld-musl-')) {
    return 'musl';
  }
  if (base.startsWith('ld-linux') || /^ld64\.so\.\d+$/.test(base) || base === 'ld.so.1') {
    return 'glibc';
  }
  if (base === 'linker' || base === 'linker64') {
    return 'bionic';
  }
  if (base.startsWith('ld-uClibc')) {
    return 'uclibc';
  }
  return 'unknown';
}

function libcOf(kind: LinkKind, input: ClassifyInput): LibcFlavour {
  if (input.interpreter !== undefined && kind !== 'static' && kind !== 'static-pie') {
    return libcFromInterpreter(input.interpreter);
  }

  if (kind === 'shared-library') {
    return libcFromLibraryNames(input.dynamic);
  }
  if (kind === 'not-loadable') {
    return 'unknown';
  }

  // Static programs: glibc's crt1.o adds the ABI tag note; musl adds no notes.
  if (input.notes.abiTag !== undefined) {
    return 'glibc';
  }
  if (input.go !== undefined) {
    return 'none';
  }
  if (input.containsGlibcStrings?.() === true) {
    return 'glibc';
  }
  return input.containsMuslSymbols?.() === true ? 'musl' : 'unknown';
}

/** Returns the C library that a library without PT_INTERP names in DT_NEEDED, or that it is itself (libc.so.6, ld.so). */
function libcFromLibraryNames(dynamic: DynamicInfo | undefined): LibcFlavour {
  if (dynamic === undefined) {
    return 'unknown';
  }
  const names = [...dynamic.needed, ...(dynamic.soname === undefined ? [] : [dynamic.soname])];
  if (names.some((name) => name === 'libc.so.6' || name === 'libc.so.6.1' || libcFromInterpreter(name) === 'glibc')) {
    return 'glibc';
  }
  if (names.some((name) => name === 'libc.so' || name.startsWith('libc.musl-') || name.startsWith('ld-musl-'))) {
    return 'musl';
  }
  return 'unknown';
}

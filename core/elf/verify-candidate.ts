// Whether a dynamic loader accepts a file it found while searching for a
// DT_NEEDED library. glibc skips files of another ELF class or machine and
// continues with the next directory, but any other defect stops the whole
// load ("fatal"), even when a later directory contains a good copy. musl skips
// nothing that it could open.
//
// The glibc checks follow open_verify and _dl_map_object_from_fd in glibc's
// elf/dl-load.c (2.36 to 2.43 development), with glibc's own error strings.
// The header checks run on the first bytes of the file, the later ones on the
// parsed program headers and dynamic section.

import { type ByteSource, withElfFile } from './byte-source';
import {
  DF_1_PIE,
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
  ELFOSABI_ARM_AEABI,
  ELFOSABI_GNU,
  ELFOSABI_SYSV,
  EM_386,
  EM_ARM,
  EM_PPC,
  EM_PPC64,
  EM_RISCV,
  EM_SPARC,
  EM_SPARC32PLUS,
  EM_SPARCV9,
  EM_X86_64,
  ET_DYN,
  ET_EXEC,
  EV_CURRENT,
  PHDR_SIZE,
  PT_DYNAMIC,
  PT_LOAD,
  machineName,
} from './constants';
import { ElfError } from './errors';
import { hasElfMagic, parseHeader, parseProgramHeaders } from './header';
import { parseElf } from './read-elf';
import type { ByteOrder, ElfClass, ElfInfo, ProgramHeader } from './types';

/** The object whose DT_NEEDED entry is being resolved; the loader checks candidates against it. */
export interface RequesterArch {
  class: ElfClass;
  byteOrder: ByteOrder;
  machine: number;
  /** The requester's e_flags, which glibc compares on machines with ABI variants (ARM, PowerPC64, RISC-V). */
  flags: number;
}

export type CandidateVerdict =
  | { verdict: 'accept' }
  /** The loader ignores the file and tries the next directory. */
  | { verdict: 'skip'; reason: string }
  /** The loader stops the load with this error; later directories are not tried. */
  | { verdict: 'fatal'; reason: string };

/** The parts of a candidate file that the checks use. */
export interface CandidateFile {
  /**
   * The file's first bytes, at least the ELF header when the file is that
   * long. The musl check also reads program headers from them when they fit.
   */
  head: Uint8Array;
  /** File size in bytes. */
  size: number;
  /** parseElf result (no symbols needed); absent when parsing failed. */
  info?: ElfInfo;
  /** The parse failure, when there was one. */
  parseError?: ElfError;
  /** The program headers, when parseElf failed after reading them (for example on a bad dynamic section). */
  programHeaders?: ProgramHeader[];
}

export interface GlibcVerifyOptions {
  /**
   * glibc's LIBC_ABI_MAX: EI_ABIVERSION must be below it for EI_OSABI GNU.
   * Defaults to 4 on x86, PowerPC and SPARC, whose ABI version list in
   * glibc's libc-abis includes IFUNC, and 3 elsewhere. glibc 2.36 on x86_64
   * accepts 1 to 3 and rejects 4 (checked with dlopen).
   * NOTE: the default of 3 for other machines is derived, not checked.
   */
  abiVersionLimit?: number;
  /** The loader's page size, for the PT_LOAD address/offset check. Defaults to 4096. */
  pageSize?: number;
  /**
   * GNU_PROPERTY_X86_ISA_1 bits the CPU supports (1 baseline, 2 v2, 4 v3,
   * 8 v4). When set, a candidate needing more is fatal, as in glibc's
   * sysdeps/x86/dl-prop.h. Leave undefined to skip the check.
   */
  x86IsaSupported?: number;
}

/** Returns the requester identity of a parsed object. */
export function requesterOf(info: ElfInfo): RequesterArch {
  return {
    class: info.header.ident.class,
    byteOrder: info.header.ident.byteOrder,
    machine: info.header.machine,
    flags: info.header.flags,
  };
}

/**
 * Reads the first 4 KiB and parses the candidate, keeping a parse failure
 * instead of throwing it. 4 KiB covers glibc's 832-byte first read and the
 * program headers of real files, which follow the ELF header.
 */
export function readCandidate(source: ByteSource, path?: string): CandidateFile {
  const head = source.read(0, 4096);
  const candidate: CandidateFile = { head, size: source.size };
  if (!hasElfMagic(head)) {
    return candidate;
  }
  try {
    candidate.info = parseElf(source, path === undefined ? {} : { path });
  } catch (error) {
    if (!(error instanceof ElfError)) {
      throw error;
    }
    candidate.parseError = error;
    candidate.programHeaders = readProgramHeadersOnly(source, path);
  }
  return candidate;
}

function readProgramHeadersOnly(source: ByteSource, path: string | undefined): ProgramHeader[] | undefined {
  try {
    const { header, context } = parseHeader(source, path);
    return parseProgramHeaders(context, header);
  } catch (error) {
    if (error instanceof ElfError) {
      return undefined;
    }
    throw error;
  }
}

/** Opens `path`, reads it with readCandidate and applies the loader's checks. */
export function verifyCandidateFile(path: string, requester: RequesterArch, loader: 'glibc' | 'musl', options: GlibcVerifyOptions = {}): CandidateVerdict {
  const candidate = withElfFile(path, (source) => readCandidate(source, path));
  return loader === 'glibc' ? verifyGlibcCandidate(candidate, requester, options) : verifyMuslCandidate(candidate, requester);
}

/**
 * Applies glibc's checks, in glibc's order, to a candidate library. A
 * directory with the library's name is the caller's case: glibc fails
 * reading it ("cannot read file data: Is a directory"), which is fatal.
 */
export function verifyGlibcCandidate(candidate: CandidateFile, requester: RequesterArch, options: GlibcVerifyOptions = {}): CandidateVerdict {
  const headerVerdict = checkGlibcHeader(candidate, requester, options);
  if (headerVerdict !== undefined) {
    return headerVerdict;
  }

  const info = candidate.info;
  if (info !== undefined) {
    return checkGlibcMapping(info.header.type, info.programHeaders, info.dynamic?.flags1 ?? 0, info.notes.x86IsaNeeded, options);
  }

  // The header passed, so parsing failed on the program headers or later.
  // The remaining glibc checks need only the program headers, and the caller
  // still has parseError for whatever else was wrong.
  if (candidate.programHeaders === undefined) {
    return fatal('cannot read file data');
  }
  const type = new DataView(candidate.head.buffer, candidate.head.byteOffset, candidate.head.byteLength).getUint16(16, requester.byteOrder === 'little');
  return checkGlibcMapping(type, candidate.programHeaders, 0, undefined, options);
}

/** open_verify: the ELF header checks that run before any segment is mapped. */
function checkGlibcHeader(candidate: CandidateFile, requester: RequesterArch, options: GlibcVerifyOptions): CandidateVerdict | undefined {
  const { head } = candidate;
  const headerSize = EHDR_SIZE[requester.class];
  if (head.length < headerSize) {
    return fatal('file too short');
  }

  const expectedClass = requester.class === 64 ? ELFCLASS64 : ELFCLASS32;
  const expectedData = requester.byteOrder === 'little' ? ELFDATA2LSB : ELFDATA2MSB;
  const osAbi = head[EI_OSABI] ?? 0;
  const abiVersion = head[EI_ABIVERSION] ?? 0;
  const armFloatMismatch = requester.machine === EM_ARM && !armFloatAbiMatches(candidate, requester);

  const identValid =
    hasElfMagic(head) &&
    head[EI_CLASS] === expectedClass &&
    head[EI_DATA] === expectedData &&
    head[EI_VERSION] === EV_CURRENT &&
    validOsAbi(osAbi, requester.machine) &&
    validAbiVersion(osAbi, abiVersion, requester.machine, options) &&
    paddingIsZero(head) &&
    !armFloatMismatch;

  if (!identValid) {
    // glibc diagnoses the first field that differs, in this order.
    if (!hasElfMagic(head)) {
      return fatal('invalid ELF header');
    }
    if (head[EI_CLASS] !== expectedClass) {
      return { verdict: 'skip', reason: `wrong ELF class: ${className(head[EI_CLASS] ?? 0)}` };
    }
    if (head[EI_DATA] !== expectedData) {
      return fatal(`ELF file data encoding not ${requester.byteOrder}-endian`);
    }
    if (head[EI_VERSION] !== EV_CURRENT) {
      return fatal('ELF file version ident does not match current one');
    }
    if (!validOsAbi(osAbi, requester.machine)) {
      return fatal('ELF file OS ABI invalid');
    }
    if (!validAbiVersion(osAbi, abiVersion, requester.machine, options)) {
      return fatal('ELF file ABI version invalid');
    }
    if (!paddingIsZero(head)) {
      return fatal('nonzero padding in e_ident');
    }
    // Only ARM's float-ABI test in VALID_ELF_HEADER reaches here.
    return fatal('internal error');
  }

  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const little = requester.byteOrder === 'little';
  if (view.getUint32(20, little) !== EV_CURRENT) {
    return fatal('ELF file version does not match current one');
  }

  const machine = view.getUint16(18, little);
  const flags = view.getUint32(requester.class === 64 ? 48 : 36, little);
  if (!machineMatchesHost(machine, flags, requester)) {
    return { verdict: 'skip', reason: `wrong machine: ${machineName(machine)} (e_machine ${machine}), the requester is ${machineName(requester.machine)}` };
  }

  const type = view.getUint16(16, little);
  if (type !== ET_DYN && type !== ET_EXEC) {
    return fatal('only ET_DYN and ET_EXEC can be loaded');
  }
  const phentsize = view.getUint16(requester.class === 64 ? 54 : 42, little);
  if (phentsize !== PHDR_SIZE[requester.class]) {
    return fatal("ELF file's phentsize not the expected size");
  }

  // NOTE: MIPS also rejects candidates by FP ABI through PT_MIPS_ABIFLAGS
  // (elf_machine_reject_phdr_p, a skip); that check is not modelled.
  return undefined;
}

/** _dl_map_object_from_fd: the checks on program headers and the dynamic section. */
function checkGlibcMapping(
  type: number,
  programHeaders: readonly ProgramHeader[],
  flags1: number,
  x86IsaNeeded: number | undefined,
  options: GlibcVerifyOptions,
): CandidateVerdict {
  const pageSize = options.pageSize ?? 4096;
  const loads = programHeaders.filter((segment) => segment.type === PT_LOAD);

  // Current glibc's wording; older releases word this check differently.

  for (const load of loads) {
    if ((load.vaddr - load.offset) % pageSize !== 0) {
      return fatal('ELF load command address/offset not page-aligned');
    }
  }
  if (loads.length === 0) {
    return fatal('object file has no loadable segments');
  }
  if (type !== ET_DYN) {
    return fatal('cannot dynamically load executable');
  }

  const dynamicSegment = programHeaders.find((segment) => segment.type === PT_DYNAMIC);
  if (dynamicSegment === undefined || dynamicSegment.filesz === 0) {
    return fatal('object file has no dynamic section');
  }
  if ((flags1 & DF_1_PIE) !== 0) {
    return fatal('cannot dynamically load position-independent executable');
  }

  if (options.x86IsaSupported !== undefined && x86IsaNeeded !== undefined && (x86IsaNeeded & ~options.x86IsaSupported) !== 0) {
    return fatal('CPU ISA level is lower than required');
  }
  return { verdict: 'accept' };
}

/**
 * Applies musl's checks (map_library in musl's ldso/dynlink.c). musl reads the
 * header and program headers as its own native structs and never looks at
 * e_ident: the file must be at least an ELF header long, have e_type ET_DYN
 * or ET_EXEC, and its program headers must be readable and include
 * PT_DYNAMIC. A file for another machine is not skipped; it is mapped and
 * the load fails, so that is fatal too. musl reports "Exec format error"
 * (ENOEXEC); the reason adds what was wrong.
 */
export function verifyMuslCandidate(candidate: CandidateFile, requester: RequesterArch): CandidateVerdict {
  const { head, size } = candidate;
  const noexec = (detail: string): CandidateVerdict => fatal(`Exec format error: ${detail}`);

  const is64 = requester.class === 64;
  if (Math.min(head.length, size) < EHDR_SIZE[requester.class]) {
    return noexec('the file is shorter than an ELF header');
  }

  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const little = requester.byteOrder === 'little';
  const type = view.getUint16(16, little);
  if (type !== ET_DYN && type !== ET_EXEC) {
    return noexec(`e_type ${type} is neither ET_DYN nor ET_EXEC`);
  }

  const phoff = is64 ? Number(view.getBigUint64(32, little)) : view.getUint32(28, little);
  const phentsize = view.getUint16(is64 ? 54 : 42, little);
  const phnum = view.getUint16(is64 ? 56 : 44, little);
  const tableSize = phentsize * phnum;
  if (phoff + tableSize > size) {
    return noexec('the program headers extend past the end of the file');
  }

  const segments = nativeProgramHeaders(candidate, requester, phoff, phentsize, phnum);
  if (segments === undefined) {
    return noexec('the program headers cannot be read in the loader\'s layout');
  }
  const dynamic = segments.find((segment) => segment.type === PT_DYNAMIC);
  if (dynamic === undefined) {
    return noexec('there is no PT_DYNAMIC');
  }

  // These pass map_library's checks but then fail: with no PT_LOAD the
  // mapping size is invalid, and an empty PT_DYNAMIC (a debug-info file)
  // makes musl read a dynamic array that is not in the file (it crashes).
  if (!segments.some((segment) => segment.type === PT_LOAD)) {
    return fatal('loading fails: there is no PT_LOAD to map');
  }
  if (dynamic.filesz === 0) {
    return fatal('loading fails: PT_DYNAMIC is empty, as in a separate debug-info file');
  }

  // NOTE: an x32 file has the same e_machine as x86_64. When its program
  // headers happen to parse in the ELF64 layout it is accepted here, but
  // loading it fails.
  const machine = view.getUint16(18, little);
  if (machine !== requester.machine) {
    return fatal(`wrong machine: ${machineName(machine)} (e_machine ${machine}), the requester is ${machineName(requester.machine)}; musl does not skip it, and loading it fails`);
  }
  return { verdict: 'accept' };
}

/**
 * Reads p_type and p_filesz of each program header with the loader's layout,
 * from `head` or, when the file's e_ident layout is the loader's, from the
 * parsed headers.
 */
function nativeProgramHeaders(
  candidate: CandidateFile,
  requester: RequesterArch,
  phoff: number,
  phentsize: number,
  phnum: number,
): { type: number; filesz: number }[] | undefined {
  const { head } = candidate;
  const is64 = requester.class === 64;
  const entrySize = PHDR_SIZE[requester.class];
  if (phnum === 0) {
    return [];
  }
  if (phentsize >= entrySize && phoff + phentsize * phnum <= head.length) {
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const little = requester.byteOrder === 'little';
    return Array.from({ length: phnum }, (_, index) => {
      const at = phoff + index * phentsize;
      const filesz = is64 ? Number(view.getBigUint64(at + 32, little)) : view.getUint32(at + 16, little);
      return { type: view.getUint32(at, little), filesz };
    });
  }

  const parsedHeaders = candidate.info?.programHeaders ?? candidate.programHeaders;
  const sameLayout = head[EI_CLASS] === (is64 ? ELFCLASS64 : ELFCLASS32) && head[EI_DATA] === (requester.byteOrder === 'little' ? ELFDATA2LSB : ELFDATA2MSB);
  return sameLayout ? parsedHeaders : undefined;
}

function className(value: number): string {
  if (value === ELFCLASS64) {
    return 'ELFCLASS64';
  }
  if (value === ELFCLASS32) {
    return 'ELFCLASS32';
  }
  return `EI_CLASS ${value}`;
}

function fatal(reason: string): CandidateVerdict {
  return { verdict: 'fatal', reason };
}

/** VALID_ELF_OSABI from glibc's sysdeps/gnu/ldsodefs.h, plus ARM EABI from sysdeps/unix/sysv/linux/arm/ldsodefs.h. */
function validOsAbi(osAbi: number, machine: number): boolean {
  return osAbi === ELFOSABI_SYSV || osAbi === ELFOSABI_GNU || (machine === EM_ARM && osAbi === ELFOSABI_ARM_AEABI);
}

/** VALID_ELF_ABIVERSION: 0, or below LIBC_ABI_MAX when EI_OSABI is GNU. */
function validAbiVersion(osAbi: number, abiVersion: number, machine: number, options: GlibcVerifyOptions): boolean {
  const limit = options.abiVersionLimit ?? defaultAbiVersionLimit(machine);
  return abiVersion === 0 || (osAbi === ELFOSABI_GNU && abiVersion < limit);
}

// glibc's libc-abis file adds IFUNC as an ABI version only on x86, PowerPC and SPARC.
function defaultAbiVersionLimit(machine: number): number {
  const withIfunc = [EM_X86_64, EM_386, EM_PPC, EM_PPC64, EM_SPARC, EM_SPARC32PLUS, EM_SPARCV9];
  return withIfunc.includes(machine) ? 4 : 3;
}

function paddingIsZero(head: Uint8Array): boolean {
  for (let index = EI_PAD; index < EI_NIDENT; index++) {
    if ((head[index] ?? 0) !== 0) {
      return false;
    }
  }
  return true;
}

// EF_ARM_EABIMASK, EF_ARM_EABI_VER5, EF_ARM_ABI_FLOAT_SOFT/HARD from glibc's elf/elf.h.
const EF_ARM_EABIMASK = 0xff000000;
const EF_ARM_EABI_VER5 = 0x05000000;
const EF_ARM_ABI_FLOAT_SOFT = 0x200;
const EF_ARM_ABI_FLOAT_HARD = 0x400;

/** VALID_FLOAT_ABI of glibc's ARM port: an EABI5 file must not declare the other float ABI. */
function armFloatAbiMatches(candidate: CandidateFile, requester: RequesterArch): boolean {
  const head = candidate.head;
  if (head.length < 40) {
    return true;
  }
  const flags = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(36, requester.byteOrder === 'little');
  if ((flags & EF_ARM_EABIMASK) >>> 0 !== EF_ARM_EABI_VER5) {
    return true;
  }
  const requesterHard = (requester.flags & EF_ARM_ABI_FLOAT_HARD) !== 0;
  return requesterHard ? (flags & EF_ARM_ABI_FLOAT_SOFT) === 0 : (flags & EF_ARM_ABI_FLOAT_HARD) === 0;
}

/**
 * elf_machine_matches_host of glibc's ports: the same e_machine, plus the
 * ABI variant bits of e_flags on PowerPC64 (ELFv1 or ELFv2, 0 accepted by
 * both) and RISC-V (float ABI). 32-bit SPARC also accepts SPARC32PLUS,
 * which glibc allows only on a V9 CPU; this check assumes one.
 * NOTE: MIPS and LoongArch ABI variants in e_flags are not compared.
 */
function machineMatchesHost(machine: number, flags: number, requester: RequesterArch): boolean {
  if (requester.machine === EM_SPARC || requester.machine === EM_SPARC32PLUS) {
    return machine === EM_SPARC || machine === EM_SPARC32PLUS;
  }
  if (machine !== requester.machine) {
    return false;
  }

  if (machine === EM_PPC64) {
    const abi = flags & 3;
    const requesterAbi = (requester.flags & 3) || (requester.byteOrder === 'little' ? 2 : 1);
    return abi === 0 || abi === requesterAbi;
  }
  if (machine === EM_RISCV) {
    const EF_RISCV_FLOAT_ABI = 0x6;
    return (flags & EF_RISCV_FLOAT_ABI) === (requester.flags & EF_RISCV_FLOAT_ABI);
  }
  return true;
}

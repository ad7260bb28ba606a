// Build-time defaults of a glibc loader (ld.so): the built-in system
// directories it searches last, the value of `$LIB`, a default for
// `$PLATFORM` and its glibc-hwcaps subdirectory names. They differ between
// distributions, so they are read from the target's loader file itself, with
// a per-port table when that fails.

import type { ByteOrder, ElfClass } from '../elf/types';
import type { RootedFs } from './rooted-fs';

// The e_machine values live with the ELF reader; re-exported for this module's users.
import {
  EM_SPARC,
  EM_386,
  EM_68K,
  EM_MIPS,
  EM_PARISC,
  EM_SPARC32PLUS,
  EM_PPC,
  EM_PPC64,
  EM_S390,
  EM_ARM,
  EM_SH,
  EM_SPARCV9,
  EM_X86_64,
  EM_AARCH64,
  EM_RISCV,
  EM_LOONGARCH,
  EM_ALPHA,
} from '../elf/constants';

export {
  EM_SPARC,
  EM_386,
  EM_68K,
  EM_MIPS,
  EM_PARISC,
  EM_SPARC32PLUS,
  EM_PPC,
  EM_PPC64,
  EM_S390,
  EM_ARM,
  EM_SH,
  EM_SPARCV9,
  EM_X86_64,
  EM_AARCH64,
  EM_RISCV,
  EM_LOONGARCH,
  EM_ALPHA,
};

/** e_flags bits that select a glibc ABI variant. */
export const EF_ARM_ABI_FLOAT_SOFT = 0x200;
export const EF_ARM_ABI_FLOAT_HARD = 0x400;
export const EF_MIPS_ABI2 = 0x20;
export const EF_MIPS_NAN2008 = 0x400;
export const EF_RISCV_FLOAT_ABI = 0x6;
export const EF_RISCV_FLOAT_ABI_SOFT = 0x0;
export const EF_RISCV_FLOAT_ABI_DOUBLE = 0x4;
export const EF_LARCH_ABI_MODIFIER_MASK = 0x7;
export const EF_LARCH_ABI_SOFT_FLOAT = 0x1;
export const EF_LARCH_ABI_DOUBLE_FLOAT = 0x3;

/** One glibc port (an ABI ld.so can be built for) and its build-time defaults. */
export interface GlibcPort {
  /** Short name used in messages, e.g. "x86_64", "x32", "armhf". */
  name: string;
  machine: number;
  elfClass: ElfClass;
  byteOrder: ByteOrder;
  /** Debian multiarch triplet, e.g. "x86_64-linux-gnu". */
  triplet?: string;
  /** Upstream configure defaults: `slibdir` and `libdir` with prefix /usr. */
  slibdir: string;
  libdir: string;
  /**
   * AT_PLATFORM as the kernel usually reports it. Undefined where the value
   * names a CPU model (POWER, s390x, MIPS) or the kernel reports none.
   */
  platform?: string;
  /** glibc-hwcaps subdirectory names in priority order, as the current glibc source lists them. */
  hwcapsSubdirs: readonly string[];
}

export interface LoaderDefaults {
  /** Built-in system directories in search order, without trailing slashes. */
  systemDirs: string[];
  /** Expansion of `$LIB`, e.g. "lib/x86_64-linux-gnu" (Debian) or "lib64" (upstream, Fedora). */
  lib: string;
  /** Default for `$PLATFORM`. glibc on x86_64 uses "haswell" or "xeon_phi" instead on such CPUs. */
  platform?: string;
  /** glibc-hwcaps subdirectory names built into this loader, best first. The CPU decides which are active. */
  hwcapsSubdirs: string[];
  source: 'loader' | 'fallback-debian' | 'fallback-upstream';
  /** Reasons a value came from a table instead of the loader file. */
  notes: string[];
}

export interface LoaderDefaultsOptions {
  /** e_flags of the loader or program: picks armhf or armel, MIPS n32, RISC-V and LoongArch float ABIs. */
  flags?: number;
  byteOrder?: ByteOrder;
}

// From glibc sysdeps/x86_64/dl-hwcaps-subdirs.c, sysdeps/powerpc/powerpc64/le/dl-hwcaps-subdirs.c
// and sysdeps/s390/s390-64/dl-hwcaps-subdirs.c (glibc 2.43 development sources).
const X86_64_HWCAPS = ['x86-64-v4', 'x86-64-v3', 'x86-64-v2'];
const POWER_HWCAPS = ['power10', 'power9'];
const S390X_HWCAPS = ['z17', 'z16', 'z15', 'z14', 'z13'];

// ld.so stores its names as one NUL-terminated list (_dl_hwcaps_subdirs),
// e.g. "x86-64-v4:x86-64-v3:x86-64-v2".
function hwcapsListPattern(port: GlibcPort): RegExp | undefined {
  if (port.hwcapsSubdirs === X86_64_HWCAPS) return /^x86-64-v\d+(?::x86-64-v\d+)*$/;
  if (port.hwcapsSubdirs === POWER_HWCAPS) return /^power\d+(?::power\d+)*$/;
  if (port.hwcapsSubdirs === S390X_HWCAPS) return /^z\d+(?::z\d+)*$/;
  return undefined;
}

const PRINTABLE_MIN = 0x21;
const PRINTABLE_MAX = 0x7e;
const SLASH = 0x2f;
const LATIN1 = new TextDecoder('latin1');

/**
 * Finds the glibc port for an ELF machine, class and e_flags. Unknown
 * machines get glibc's generic defaults (`/lib`, `/usr/lib`, no hwcaps).
 */
export function glibcPortFor(machine: number, elfClass: ElfClass, flags = 0, byteOrder?: ByteOrder): GlibcPort {
  const port = (
    name: string,
    triplet: string | undefined,
    slibdir: string,
    extra: Partial<Pick<GlibcPort, 'platform' | 'hwcapsSubdirs' | 'byteOrder'>> = {},
  ): GlibcPort => ({
    name,
    machine,
    elfClass,
    byteOrder: byteOrder ?? extra.byteOrder ?? 'little',
    ...(triplet !== undefined ? { triplet } : {}),
    slibdir,
    libdir: `/usr${slibdir}`,
    ...(extra.platform !== undefined ? { platform: extra.platform } : {}),
    hwcapsSubdirs: extra.hwcapsSubdirs ?? [],
  });
  const big = byteOrder === 'big';

  switch (machine) {
    case EM_X86_64:
      return elfClass === 64
        ? port('x86_64', 'x86_64-linux-gnu', '/lib64', { platform: 'x86_64', hwcapsSubdirs: X86_64_HWCAPS })
        : port('x32', 'x86_64-linux-gnux32', '/libx32', { platform: 'x86_64', hwcapsSubdirs: X86_64_HWCAPS });
    case EM_386:
      return port('i386', 'i386-linux-gnu', '/lib', { platform: 'i686' });
    case EM_AARCH64:
      return port(big ? 'aarch64_be' : 'aarch64', big ? 'aarch64_be-linux-gnu' : 'aarch64-linux-gnu', '/lib64', { platform: 'aarch64' });
    case EM_ARM:
      // NOTE: an object with neither float-ABI flag is taken as hard-float, the common Debian and Fedora port.
      return (flags & EF_ARM_ABI_FLOAT_SOFT) !== 0 && (flags & EF_ARM_ABI_FLOAT_HARD) === 0
        ? port('armel', 'arm-linux-gnueabi', '/lib', { platform: 'v7l' })
        : port('armhf', 'arm-linux-gnueabihf', '/lib', { platform: 'v7l' });
    case EM_PPC64:
      return byteOrder === 'big'
        ? port('ppc64', 'powerpc64-linux-gnu', '/lib64')
        : port('ppc64le', 'powerpc64le-linux-gnu', '/lib64', { hwcapsSubdirs: POWER_HWCAPS });
    case EM_PPC:
      return port('powerpc', 'powerpc-linux-gnu', '/lib', { byteOrder: 'big' });
    case EM_S390:
      return elfClass === 64
        ? port('s390x', 's390x-linux-gnu', '/lib64', { byteOrder: 'big', hwcapsSubdirs: S390X_HWCAPS })
        : port('s390', 's390-linux-gnu', '/lib', { byteOrder: 'big' });
    case EM_SPARCV9:
    case EM_SPARC:
    case EM_SPARC32PLUS:
      return elfClass === 64
        ? port('sparc64', 'sparc64-linux-gnu', '/lib64', { byteOrder: 'big' })
        : port('sparc', 'sparc-linux-gnu', '/lib', { byteOrder: 'big' });
    case EM_MIPS:
      return mipsPort(port, elfClass, flags, big);
    case EM_RISCV:
      return riscvPort(port, elfClass, flags);
    case EM_LOONGARCH:
      return (flags & EF_LARCH_ABI_MODIFIER_MASK) === EF_LARCH_ABI_DOUBLE_FLOAT
        ? port('loongarch64', 'loongarch64-linux-gnu', '/lib64')
        : port('loongarch64-sf', 'loongarch64-linux-gnusf', '/lib64/sf');
    case EM_ALPHA:
      return port('alpha', 'alpha-linux-gnu', '/lib');
    case EM_PARISC:
      return port('hppa', 'hppa-linux-gnu', '/lib', { byteOrder: 'big' });
    case EM_68K:
      return port('m68k', 'm68k-linux-gnu', '/lib', { byteOrder: 'big' });
    case EM_SH:
      return port('sh4', 'sh4-linux-gnu', '/lib');
    default:
      return port(`e_machine ${machine}`, undefined, '/lib');
  }
}

type PortBuilder = (
  name: string,
  triplet: string | undefined,
  slibdir: string,
  extra?: Partial<Pick<GlibcPort, 'platform' | 'hwcapsSubdirs' | 'byteOrder'>>,
) => GlibcPort;

function mipsPort(port: PortBuilder, elfClass: ElfClass, flags: number, big: boolean): GlibcPort {
  const suffix = big ? '' : 'el';
  const byteOrder: ByteOrder = big ? 'big' : 'little';
  if (elfClass === 64) return port(`mips64${suffix}`, `mips64${suffix}-linux-gnuabi64`, '/lib64', { byteOrder });
  if ((flags & EF_MIPS_ABI2) !== 0) return port(`mipsn32${suffix}`, `mips64${suffix}-linux-gnuabin32`, '/lib32', { byteOrder });
  return port(`mips${suffix}`, `mips${suffix}-linux-gnu`, '/lib', { byteOrder });
}

// glibc sysdeps/unix/sysv/linux/riscv/configure: slibdir is /lib64/lp64d for
// the double-float LP64 ABI, /lib64/lp64 for soft-float, /lib32/ilp32[d] on RV32.
function riscvPort(port: PortBuilder, elfClass: ElfClass, flags: number): GlibcPort {
  const double = (flags & EF_RISCV_FLOAT_ABI) === EF_RISCV_FLOAT_ABI_DOUBLE;
  if (elfClass === 64) return port(double ? 'riscv64' : 'riscv64-lp64', 'riscv64-linux-gnu', double ? '/lib64/lp64d' : '/lib64/lp64');
  return port(double ? 'riscv32' : 'riscv32-ilp32', 'riscv32-linux-gnu', double ? '/lib32/ilp32d' : '/lib32/ilp32');
}

/**
 * Reads the built-in system directories, `$LIB`, `$PLATFORM` and the
 * glibc-hwcaps names of a glibc loader. When the loader file does not show
 * its directories (an empty buffer is allowed), the port table supplies
 * them: Debian multiarch when `fs` has `/lib/<triplet>` or
 * `/usr/lib/<triplet>`, else glibc's upstream defaults (Fedora, openSUSE).
 */
export function readLoaderDefaults(
  loaderBytes: Uint8Array,
  machine: number,
  elfClass: ElfClass,
  fs?: RootedFs,
  options: LoaderDefaultsOptions = {},
): LoaderDefaults {
  const port = glibcPortFor(machine, elfClass, options.flags ?? 0, options.byteOrder);
  const notes: string[] = [];
  const hwcapsSubdirs = scanHwcapsSubdirs(loaderBytes, port, notes);
  const platform = port.platform !== undefined ? { platform: port.platform } : {};

  const systemDirs = scanSystemDirs(loaderBytes);
  if (systemDirs) {
    const lib = scanLibToken(loaderBytes, systemDirs) ?? libFromSystemDirs(systemDirs, notes);
    return { systemDirs, lib, ...platform, hwcapsSubdirs, source: 'loader', notes };
  }

  notes.push(`the loader file has no list of built-in directories, so the ${port.name} defaults are assumed`);
  return { ...fallbackDirs(port, fs), ...platform, hwcapsSubdirs, notes };
}

/** Returns the Debian multiarch layout when the root has it, else glibc's upstream `slibdir` and `libdir`. */
export function fallbackDirs(
  port: GlibcPort,
  fs: RootedFs | undefined,
): Pick<LoaderDefaults, 'systemDirs' | 'lib' | 'source'> {
  if (port.triplet !== undefined && fs && hasDebianMultiarch(fs, port.triplet)) {
    return {
      systemDirs: [`/lib/${port.triplet}`, `/usr/lib/${port.triplet}`, '/lib', '/usr/lib'],
      lib: `lib/${port.triplet}`,
      source: 'fallback-debian',
    };
  }

  const systemDirs = port.slibdir === port.libdir ? [port.slibdir] : [port.slibdir, port.libdir];
  // glibc's elf/Makefile defines $LIB (DL_DST_LIB) as the last component of slibdir.
  return { systemDirs, lib: port.slibdir.slice(port.slibdir.lastIndexOf('/') + 1), source: 'fallback-upstream' };
}

/** True when the root has Debian's multiarch library folder for `triplet`. */
export function hasDebianMultiarch(fs: RootedFs, triplet: string): boolean {
  return [`/lib/${triplet}`, `/usr/lib/${triplet}`].some((folder) => fs.stat(folder)?.isDirectory === true);
}

/**
 * Finds ld.so's SYSTEM_DIRS: consecutive NUL-terminated absolute paths that
 * end in `/`, e.g. "/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0".
 * The first string of a run may follow other data without a NUL. Returns the
 * longest run of two or more that all contain "lib", without trailing slashes.
 */
function scanSystemDirs(bytes: Uint8Array): string[] | undefined {
  let best: string[] | undefined;
  let run: string[] = [];
  let segmentStart = 0;

  const finishRun = (): void => {
    if (run.length >= 2 && run.every((dir) => dir.includes('lib')) && (!best || run.length > best.length)) best = run;
    run = [];
  };

  for (let index = 0; index < bytes.length; index += 1) {
    if (bytes[index] !== 0) continue;

    const segmentEnd = index;
    const whole = segmentEnd > segmentStart && isDirectoryString(bytes, segmentStart, segmentEnd);
    if (run.length > 0 && whole) {
      run.push(LATIN1.decode(bytes.subarray(segmentStart, segmentEnd)));
    } else {
      finishRun();
      const start = directoryStringStart(bytes, segmentStart, segmentEnd);
      if (start !== undefined) run.push(LATIN1.decode(bytes.subarray(start, segmentEnd)));
    }
    segmentStart = index + 1;
  }
  finishRun();

  return best?.map((dir) => dir.replace(/\/+$/, ''));
}

/** True when bytes[start, end) is printable, starts with `/`, ends with `/` and is longer than "/". */
function isDirectoryString(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start < 2 || bytes[start] !== SLASH || bytes[end - 1] !== SLASH) return false;
  for (let index = start; index < end; index += 1) {
    const byte = bytes[index] as number;
    if (byte < PRINTABLE_MIN || byte > PRINTABLE_MAX) return false;
  }
  return true;
}

/** Start of the directory string that ends a segment after non-text data, if there is one. */
function directoryStringStart(bytes: Uint8Array, start: number, end: number): number | undefined {
  let textStart = end;
  while (textStart > start) {
    const byte = bytes[textStart - 1] as number;
    if (byte < PRINTABLE_MIN || byte > PRINTABLE_MAX) break;
    textStart -= 1;
  }
  while (textStart < end && bytes[textStart] !== SLASH) textStart += 1;
  return isDirectoryString(bytes, textStart, end) ? textStart : undefined;
}

/**
 * Finds the `$LIB` value: in the Debian and upstream builds checked, the
 * string after "LIB\0" (the token name ld.so compares against), after any NUL
 * padding. It must match the end of one of the system directories.
 */
function scanLibToken(bytes: Uint8Array, systemDirs: readonly string[]): string | undefined {
  const marker = [0, 0x4c, 0x49, 0x42, 0]; // "\0LIB\0"
  for (let index = indexOfBytes(bytes, marker, 0); index >= 0; index = indexOfBytes(bytes, marker, index + 1)) {
    let start = index + marker.length;
    while (start < bytes.length && bytes[start] === 0) start += 1;
    let end = start;
    while (end < bytes.length && bytes[end] !== 0) end += 1;

    const value = LATIN1.decode(bytes.subarray(start, end));
    if (!/^[A-Za-z0-9._+-]+(?:\/[A-Za-z0-9._+-]+)*$/.test(value)) continue;
    if (systemDirs.some((dir) => dir === `/${value}` || dir.endsWith(`/${value}`))) return value;
  }
  return undefined;
}

function libFromSystemDirs(systemDirs: readonly string[], notes: string[]): string {
  const first = systemDirs[0] as string;
  const multiarch = /^\/lib\/[^/]+-linux-[^/]+$/.test(first);
  const lib = multiarch ? first.slice(1) : first.slice(first.lastIndexOf('/') + 1);
  notes.push(`$LIB was not found in the loader file; derived "${lib}" from its first system directory ${first}`);
  return lib;
}

/**
 * Reads the loader's glibc-hwcaps names. Loaders before glibc 2.33 contain no
 * "glibc-hwcaps" text and search no such subdirectory. Newer loaders of ports
 * other than x86-64, POWER and s390x define no names, so they search none either.
 */
function scanHwcapsSubdirs(bytes: Uint8Array, port: GlibcPort, notes: string[]): string[] {
  if (bytes.length === 0) return [...port.hwcapsSubdirs];

  const pattern = hwcapsListPattern(port);
  const lowest = port.hwcapsSubdirs[port.hwcapsSubdirs.length - 1];
  if (pattern && lowest !== undefined) {
    const list = findCString(bytes, pattern, lowest);
    if (list !== undefined) return list.split(':');
  }

  if (indexOfBytes(bytes, [...Buffer.from('glibc-hwcaps', 'latin1')], 0) < 0) return [];
  if (port.hwcapsSubdirs.length > 0) {
    notes.push(`the loader's glibc-hwcaps list was not found; assumed ${port.hwcapsSubdirs.join(':')} as in current glibc`);
  }
  return [...port.hwcapsSubdirs];
}

/** Finds a NUL-terminated string containing `needle` that matches `pattern`. */
function findCString(bytes: Uint8Array, pattern: RegExp, needle: string): string | undefined {
  const needleBytes = [...Buffer.from(needle, 'latin1')];
  for (let index = indexOfBytes(bytes, needleBytes, 0); index >= 0; index = indexOfBytes(bytes, needleBytes, index + 1)) {
    let start = index;
    while (start > 0 && bytes[start - 1] !== 0) start -= 1;
    let end = index;
    while (end < bytes.length && bytes[end] !== 0) end += 1;
    const text = LATIN1.decode(bytes.subarray(start, end));
    if (pattern.test(text)) return text;
  }
  return undefined;
}

function indexOfBytes(bytes: Uint8Array, needle: readonly number[], from: number): number {
  const first = needle[0] as number;
  for (let index = bytes.indexOf(first, from); index >= 0 && index + needle.length <= bytes.length; index = bytes.indexOf(first, index + 1)) {
    let matches = true;
    for (let offset = 1; offset < needle.length; offset += 1) {
      if (bytes[index + offset] !== needle[offset]) {
        matches = false;
        break;
      }
    }
    if (matches) return index;
  }
  return -1;
}

// /etc/ld.so.cache: the binary index ldconfig writes and ld.so reads to map a
// library name (a soname) to a path. Layouts and lookup rules follow glibc's
// sysdeps/generic/dl-cache.h, elf/dl-cache.c (the loader side) and
// elf/cache.c (the ldconfig side).

import type { ByteOrder, ElfClass } from '../elf/types';
import {
  EF_LARCH_ABI_DOUBLE_FLOAT,
  EF_LARCH_ABI_MODIFIER_MASK,
  EF_MIPS_ABI2,
  EF_MIPS_NAN2008,
  EF_RISCV_FLOAT_ABI,
  EF_RISCV_FLOAT_ABI_DOUBLE,
  EF_RISCV_FLOAT_ABI_SOFT,
  EM_386,
  EM_AARCH64,
  EM_ARM,
  EM_LOONGARCH,
  EM_MIPS,
  EM_PPC64,
  EM_RISCV,
  EM_S390,
  EM_SPARC,
  EM_SPARC32PLUS,
  EM_SPARCV9,
  EM_X86_64,
  glibcPortFor,
} from './loader-defaults';
import type { RootedFs } from './rooted-fs';

/** Entry flags (glibc sysdeps/generic/ldconfig.h): the low byte is the library type, the high byte the ABI. */
export const FLAG_ELF = 0x0001;
export const FLAG_ELF_LIBC6 = 0x0003;
export const FLAG_SPARC_LIB64 = 0x0100;
export const FLAG_IA64_LIB64 = 0x0200;
export const FLAG_X8664_LIB64 = 0x0300;
export const FLAG_S390_LIB64 = 0x0400;
export const FLAG_POWERPC_LIB64 = 0x0500;
export const FLAG_MIPS64_LIBN32 = 0x0600;
export const FLAG_MIPS64_LIBN64 = 0x0700;
export const FLAG_X8664_LIBX32 = 0x0800;
export const FLAG_ARM_LIBHF = 0x0900;
export const FLAG_AARCH64_LIB64 = 0x0a00;
export const FLAG_ARM_LIBSF = 0x0b00;
export const FLAG_MIPS_LIB32_NAN2008 = 0x0c00;
export const FLAG_MIPS64_LIBN32_NAN2008 = 0x0d00;
export const FLAG_MIPS64_LIBN64_NAN2008 = 0x0e00;
export const FLAG_RISCV_FLOAT_ABI_SOFT = 0x0f00;
export const FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000;
export const FLAG_LARCH_FLOAT_ABI_SOFT = 0x1100;
export const FLAG_LARCH_FLOAT_ABI_DOUBLE = 0x1200;

/** Bit 62 of an entry's hwcap field marks a glibc-hwcaps entry (DL_CACHE_HWCAP_EXTENSION). */
export const HWCAP_EXTENSION = 1n << 62n;

/** Bits 32 to 41 of a glibc-hwcaps entry's hwcap field hold its x86 ISA level. */
const ISA_LEVEL_MASK = 0x3ffn;

const MAGIC_OLD = 'ld.so-1.7.0';
const MAGIC_NEW = 'glibc-ld.so.cache1.1';
const OLD_HEADER_SIZE = 16;
const OLD_ENTRY_SIZE = 12;
const NEW_HEADER_SIZE = 48;
const NEW_ENTRY_SIZE = 24;
const EXTENSION_MAGIC = 0xeaa42174;
const EXTENSION_TAG_GENERATOR = 0;
const EXTENSION_TAG_GLIBC_HWCAPS = 1;

/** Values of the endianness bits in the new header's flags byte. */
const ENDIAN_UNSET = 0;
const ENDIAN_INVALID = 1;
const ENDIAN_LITTLE = 2;
const ENDIAN_BIG = 3;

export interface LdCacheEntry {
  /** Library name the loader looks up: a soname, or the file name of a `.so` development link. */
  key: string;
  /** Path inside the root. */
  value: string;
  flags: number;
  /** The raw 64-bit hwcap field, which is 0 for plain entries and in the old format. */
  hwcap: bigint;
  /** glibc-hwcaps subdirectory name, for glibc-hwcaps entries whose index is in the name table. */
  hwcapsSubdir?: string;
  /**
   * For glibc-hwcaps entries: the highest bit set in the library's
   * GNU_PROPERTY_X86_ISA_1_NEEDED (0 baseline, 1 x86-64-v2, 2 v3, 3 v4).
   */
  isaLevel?: number;
  /**
   * Only in views built from ld.so.conf: the file ldconfig would point the
   * soname link `value` at, for when that link does not exist yet in the root.
   */
  sonameLinkTarget?: string;
}

export type LdCacheFormat = 'new' | 'old' | 'compat' | 'ldconfig-view';

export interface LdCache {
  /** Layout: `compat` is an old table followed by a new one, which lookups use. `ldconfig-view` is built in memory. */
  format: LdCacheFormat;
  byteOrder: ByteOrder;
  /** Low two bits of the new header's flags: 0 unset, 1 invalid, 2 little endian, 3 big endian. */
  endianFlag?: number;
  /** Entries in file order, which ldconfig sorts for the loader's binary search. */
  entries: readonly LdCacheEntry[];
  /** The glibc-hwcaps name table (cache extension tag 1). */
  hwcapsNames: readonly string[];
  /** The generator string (cache extension tag 0), e.g. "ldconfig (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36". */
  generator?: string;
}

/** A malformed or unreadable ld.so.cache. `offset` is the byte offset in the file where the problem was found. */
export class LdCacheError extends Error {
  override readonly name = 'LdCacheError';

  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Builds the error for a file that is not a usable cache, with the fix. */
function invalidCache(message: string, offset: number): LdCacheError {
  return new LdCacheError(`${message} Rebuild the cache with \`ldconfig -r ROOT\`, or delete it.`, offset);
}

/** The cache entry flags one loader accepts (glibc's _dl_cache_check_flags per port). */
export interface CacheAbi {
  machine: number;
  elfClass: ElfClass;
  /** e_flags the ABI was derived from (ARM, MIPS, RISC-V and LoongArch variants). */
  elfFlags: number;
  byteOrder: ByteOrder;
  /** Every flags value this loader accepts. */
  accepted: readonly number[];
  /** _DL_CACHE_DEFAULT_ID: a plain entry with exactly these flags ends the search at once. */
  preferred: number;
  /** glibc-hwcaps subdirectory names of the port, best first. */
  hwcapsSubdirs: readonly string[];
  /** True for x86 ports, whose loaders also check a glibc-hwcaps entry's ISA level (sysdeps/x86/dl-isa-level.h). */
  checksIsaLevel: boolean;
}

export interface LookupOptions {
  /** x86-64 micro-architecture level of the target CPU (1 baseline to 4 = x86-64-v4); only x86 ports use it. */
  isaLevel: 1 | 2 | 3 | 4;
  /**
   * Active glibc-hwcaps names, best first. Default: the x86-64 names the
   * level supports on x86 ports, none on other ports.
   */
  hwcapsSubdirs?: readonly string[];
}

/** A lookup result: the path inside the root to open, and the glibc-hwcaps subdirectory when the entry came from one. */
export interface LdCacheHit {
  path: string;
  hwcaps?: string;
  entry: LdCacheEntry;
}

const UTF8 = new TextDecoder('utf-8');

/**
 * Returns the cache flags a glibc loader for this ELF machine, class and
 * e_flags accepts, following glibc's per-port dl-cache.h. Ports without their
 * own rule take the generic one: flags 0x0003 (libc6), also 0x0001 (ELF).
 */
export function cacheAbiFor(machine: number, elfClass: ElfClass, flags = 0, byteOrder?: ByteOrder): CacheAbi {
  const port = glibcPortFor(machine, elfClass, flags, byteOrder);
  const abi = (accepted: number[], preferred: number): CacheAbi => ({
    machine,
    elfClass,
    elfFlags: flags,
    byteOrder: port.byteOrder,
    accepted,
    preferred,
    hwcapsSubdirs: port.hwcapsSubdirs,
    checksIsaLevel: machine === EM_X86_64 || machine === EM_386,
  });
  const only = (abiFlag: number): CacheAbi => abi([abiFlag | FLAG_ELF_LIBC6], abiFlag | FLAG_ELF_LIBC6);
  const generic = abi([FLAG_ELF_LIBC6, FLAG_ELF], FLAG_ELF_LIBC6);

  switch (machine) {
    case EM_X86_64:
      return only(elfClass === 64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32);
    case EM_AARCH64:
      return only(FLAG_AARCH64_LIB64);
    case EM_ARM:
      // sysdeps/unix/sysv/linux/arm/dl-cache.h: the float ABI's flag or a plain
      // libc6 entry; _DL_CACHE_DEFAULT_ID stays the generic 0x0003.
      return abi([(port.name === 'armel' ? FLAG_ARM_LIBSF : FLAG_ARM_LIBHF) | FLAG_ELF_LIBC6, FLAG_ELF_LIBC6], FLAG_ELF_LIBC6);
    case EM_PPC64:
      return only(FLAG_POWERPC_LIB64);
    case EM_S390:
      return elfClass === 64 ? only(FLAG_S390_LIB64) : generic;
    case EM_SPARCV9:
    case EM_SPARC:
    case EM_SPARC32PLUS:
      return elfClass === 64 ? only(FLAG_SPARC_LIB64) : generic;
    case EM_MIPS:
      return mipsCacheAbi(elfClass, flags, only, generic);
    case EM_RISCV: {
      const floatAbi = flags & EF_RISCV_FLOAT_ABI;
      if (floatAbi === EF_RISCV_FLOAT_ABI_DOUBLE) return only(FLAG_RISCV_FLOAT_ABI_DOUBLE);
      if (floatAbi === EF_RISCV_FLOAT_ABI_SOFT) return only(FLAG_RISCV_FLOAT_ABI_SOFT);
      return generic;
    }
    case EM_LOONGARCH:
      return only((flags & EF_LARCH_ABI_MODIFIER_MASK) === EF_LARCH_ABI_DOUBLE_FLOAT ? FLAG_LARCH_FLOAT_ABI_DOUBLE : FLAG_LARCH_FLOAT_ABI_SOFT);
    case EM_386:
    default:
      return generic;
  }
}

function mipsCacheAbi(elfClass: ElfClass, flags: number, only: (flag: number) => CacheAbi, generic: CacheAbi): CacheAbi {
  const nan2008 = (flags & EF_MIPS_NAN2008) !== 0;
  if (elfClass === 64) return only(nan2008 ? FLAG_MIPS64_LIBN64_NAN2008 : FLAG_MIPS64_LIBN64);
  if ((flags & EF_MIPS_ABI2) !== 0) return only(nan2008 ? FLAG_MIPS64_LIBN32_NAN2008 : FLAG_MIPS64_LIBN32);
  return nan2008 ? only(FLAG_MIPS_LIB32_NAN2008) : generic;
}

/**
 * Reads `/etc/ld.so.cache` inside the root. Returns undefined when the file
 * does not exist, as ld.so then searches only its system directories. Throws
 * LdCacheError when the file exists but cannot be read or parsed.
 */
export function readLdCache(fs: RootedFs, options: { path?: string; byteOrder?: ByteOrder } = {}): LdCache | undefined {
  const cachePath = options.path ?? '/etc/ld.so.cache';
  const file = fs.readFile(cachePath);
  if (!file.ok) {
    if (file.errno === 'ENOENT') return undefined;
    throw new LdCacheError(`Cannot read ${cachePath}: ${file.message}`, 0);
  }
  return parseLdCache(file.bytes, options.byteOrder ? { byteOrder: options.byteOrder } : {});
}

/**
 * Parses an ld.so.cache in the new format (glibc-ld.so.cache1.1), the old
 * format (ld.so-1.7.0) or the compat layout (old table, then a new header
 * aligned to 8 bytes). Throws LdCacheError naming the offset of the first
 * problem. Every count is checked against the file size before it is used.
 *
 * `byteOrder` is a hint for files that do not record theirs (the old format,
 * and new-format files written before glibc 2.33 set the endianness bits).
 */
export function parseLdCache(bytes: Uint8Array, options: { byteOrder?: ByteOrder } = {}): LdCache {
  const reader = new CacheReader(bytes);

  if (reader.startsWith(0, MAGIC_NEW)) {
    return parseNewFormat(reader, 0, 'new', options.byteOrder);
  }

  if (!reader.startsWith(0, MAGIC_OLD)) {
    throw invalidCache(
      `Not an ld.so.cache file: it starts with neither "${MAGIC_NEW}" nor "${MAGIC_OLD}".`,
      0,
    );
  }
  if (bytes.length <= OLD_HEADER_SIZE) {
    throw invalidCache(`Truncated ld.so.cache: ${bytes.length} bytes, but the old-format header alone needs ${OLD_HEADER_SIZE}.`, 0);
  }

  // The old header records no byte order; a compat file's new header does, so look for it with both.
  for (const byteOrder of byteOrdersToTry(options.byteOrder)) {
    const count = reader.u32(12, byteOrder);
    if (count > (bytes.length - OLD_HEADER_SIZE) / OLD_ENTRY_SIZE) continue;
    const tableEnd = OLD_HEADER_SIZE + count * OLD_ENTRY_SIZE;
    for (const alignment of [8, 4]) {
      const newStart = alignUp(tableEnd, alignment);
      if (newStart + NEW_HEADER_SIZE <= bytes.length && reader.startsWith(newStart, MAGIC_NEW)) {
        return parseNewFormat(reader, newStart, 'compat', byteOrder);
      }
    }
  }

  return parseOldFormat(reader, options.byteOrder);
}

function parseOldFormat(reader: CacheReader, hint: ByteOrder | undefined): LdCache {
  let firstError: LdCacheError | undefined;
  for (const byteOrder of byteOrdersToTry(hint)) {
    try {
      return { format: 'old', byteOrder, entries: readOldEntries(reader, byteOrder), hwcapsNames: [] };
    } catch (error) {
      if (!(error instanceof LdCacheError)) throw error;
      firstError ??= error;
    }
  }
  throw firstError as LdCacheError;
}

function readOldEntries(reader: CacheReader, byteOrder: ByteOrder): LdCacheEntry[] {
  const count = reader.u32(12, byteOrder);
  const room = Math.floor((reader.size - OLD_HEADER_SIZE) / OLD_ENTRY_SIZE);
  if (count > room) {
    throw invalidCache(`Truncated ld.so.cache: the old-format header at offset 12 lists ${count} entries, but the file has room for ${room}.`, 12);
  }

  // Old-format string offsets count from the end of the entry table.
  const stringBase = OLD_HEADER_SIZE + count * OLD_ENTRY_SIZE;
  const entries: LdCacheEntry[] = [];
  for (let index = 0; index < count; index += 1) {
    const offset = OLD_HEADER_SIZE + index * OLD_ENTRY_SIZE;
    entries.push({
      key: reader.entryString(stringBase, reader.u32(offset + 4, byteOrder), offset, index, 'key'),
      value: reader.entryString(stringBase, reader.u32(offset + 8, byteOrder), offset, index, 'value'),
      flags: reader.i32(offset, byteOrder),
      hwcap: 0n,
    });
  }
  return entries;
}

function parseNewFormat(reader: CacheReader, base: number, format: 'new' | 'compat', hint: ByteOrder | undefined): LdCache {
  // ld.so wants more than a bare header in a new-format file, and at least a header in a compat file.
  if (reader.size < base + NEW_HEADER_SIZE || (format === 'new' && reader.size === NEW_HEADER_SIZE)) {
    throw invalidCache(
      `Truncated ld.so.cache: ${reader.size - base} bytes from the new-format header at offset ${base}, which alone needs ${NEW_HEADER_SIZE}.`,
      base,
    );
  }

  const endianFlag = reader.u8(base + 28) & 3;
  let candidates = byteOrdersToTry(hint);
  if (endianFlag === ENDIAN_LITTLE) candidates = ['little'];
  if (endianFlag === ENDIAN_BIG) candidates = ['big'];

  let firstError: LdCacheError | undefined;
  for (const byteOrder of candidates) {
    try {
      const { entries, hwcapsNames, generator } = readNewTables(reader, base, byteOrder);
      return { format, byteOrder, endianFlag, entries, hwcapsNames, ...(generator !== undefined ? { generator } : {}) };
    } catch (error) {
      if (!(error instanceof LdCacheError)) throw error;
      firstError ??= error;
    }
  }
  throw firstError as LdCacheError;
}

function readNewTables(
  reader: CacheReader,
  base: number,
  byteOrder: ByteOrder,
): { entries: LdCacheEntry[]; hwcapsNames: string[]; generator?: string } {
  const count = reader.u32(base + 20, byteOrder);
  const room = Math.floor((reader.size - base - NEW_HEADER_SIZE) / NEW_ENTRY_SIZE);
  if (count > room) {
    throw invalidCache(
      `Truncated ld.so.cache: the header at offset ${base + 20} lists ${count} entries, but the file has room for ${room}.`,
      base + 20,
    );
  }

  const { hwcapsNames, generator } = readExtensions(reader, reader.u32(base + 32, byteOrder), base + 32, byteOrder);

  // New-format string offsets count from the start of the new header.
  const entries: LdCacheEntry[] = [];
  for (let index = 0; index < count; index += 1) {
    const offset = base + NEW_HEADER_SIZE + index * NEW_ENTRY_SIZE;
    const hwcap = reader.u64(offset + 16, byteOrder);
    const entry: LdCacheEntry = {
      key: reader.entryString(base, reader.u32(offset + 4, byteOrder), offset, index, 'key'),
      value: reader.entryString(base, reader.u32(offset + 8, byteOrder), offset, index, 'value'),
      flags: reader.i32(offset, byteOrder),
      hwcap,
    };
    if (isHwcapsEntry(hwcap)) {
      entry.isaLevel = Number((hwcap >> 32n) & ISA_LEVEL_MASK);
      const name = hwcapsNames[Number(hwcap & 0xffffffffn)];
      if (name !== undefined) entry.hwcapsSubdir = name;
    }
    entries.push(entry);
  }

  return { entries, hwcapsNames, ...(generator !== undefined ? { generator } : {}) };
}

/**
 * Reads the extension directory with the checks of glibc's
 * cache_extension_load. A directory that fails them is an error, as in
 * `ldconfig -p`, while a bad glibc-hwcaps name table is dropped, as
 * cache_extension_verify does.
 */
function readExtensions(
  reader: CacheReader,
  directoryOffset: number,
  fieldOffset: number,
  byteOrder: ByteOrder,
): { hwcapsNames: string[]; generator?: string } {
  const result: { hwcapsNames: string[]; generator?: string } = { hwcapsNames: [] };
  if (directoryOffset === 0) return result;

  if (directoryOffset % 4 !== 0) {
    throw invalidCache(`Malformed ld.so.cache: the extension directory offset ${directoryOffset} (field at offset ${fieldOffset}) is not a multiple of 4.`, fieldOffset);
  }
  if (directoryOffset + 8 > reader.size) {
    throw invalidCache(`Truncated ld.so.cache: the extension directory at offset ${directoryOffset} lies past the end of the ${reader.size}-byte file.`, fieldOffset);
  }
  if (reader.u32(directoryOffset, byteOrder) !== EXTENSION_MAGIC) {
    throw invalidCache(`Malformed ld.so.cache: no extension magic 0x${EXTENSION_MAGIC.toString(16)} at offset ${directoryOffset}.`, directoryOffset);
  }

  const count = reader.u32(directoryOffset + 4, byteOrder);
  if (count > (reader.size - directoryOffset - 8) / 16) {
    throw invalidCache(`Truncated ld.so.cache: the extension directory at offset ${directoryOffset} lists ${count} sections, more than fit in the file.`, directoryOffset + 4);
  }

  for (let index = 0; index < count; index += 1) {
    const sectionOffset = directoryOffset + 8 + index * 16;
    const tag = reader.u32(sectionOffset, byteOrder);
    const offset = reader.u32(sectionOffset + 8, byteOrder);
    const size = reader.u32(sectionOffset + 12, byteOrder);
    if (offset + size > reader.size) {
      throw invalidCache(`Truncated ld.so.cache: extension section ${index} (at offset ${sectionOffset}) covers bytes ${offset} to ${offset + size}, past the end of the ${reader.size}-byte file.`, sectionOffset);
    }

    if (tag === EXTENSION_TAG_GENERATOR) {
      result.generator = UTF8.decode(reader.bytes.subarray(offset, offset + size));
    } else if (tag === EXTENSION_TAG_GLIBC_HWCAPS) {
      // glibc's cache_extension_verify drops a name table that is empty or not 4-byte aligned.
      if (size === 0 || offset % 4 !== 0 || size % 4 !== 0) continue;
      result.hwcapsNames = [];
      for (let name = 0; name < size / 4; name += 1) {
        // Name offsets count from the start of the file, not from the new header.
        const stringOffset = reader.u32(offset + name * 4, byteOrder);
        result.hwcapsNames.push(reader.cString(stringOffset, offset + name * 4, `glibc-hwcaps name ${name}`));
      }
    }
  }
  return result;
}

/**
 * Looks a library name up as glibc's search_cache (elf/dl-cache.c, glibc 2.37
 * and later) does. Names are compared with _dl_cache_libcmp, so digit runs
 * compare as numbers ("libfoo.so.01" equals "libfoo.so.1"). Only entries with
 * flags the ABI accepts count.
 * - A glibc-hwcaps entry counts when its subdirectory is active and, on x86,
 *   when the CPU level covers its ISA level. The best subdirectory wins.
 * - Otherwise the first plain entry wins. glibc stops at once on the preferred
 *   flags. On merely accepted flags it keeps the entry and stops at the next
 *   accepted plain entry, so that one never replaces it.
 * - Legacy hwcap entries (non-zero hwcap without the extension bit) are
 *   skipped. glibc 2.36 and earlier matched them against the CPU instead.
 *
 * Returns undefined when nothing matches, or when the cache's byte order
 * differs from the ABI's, because ld.so ignores such a cache. The caller opens
 * the path. If that fails, ld.so goes on to its system directories and never
 * tries a second cache entry.
 */
export function lookupLdCache(cache: LdCache, name: string, abi: CacheAbi, options: LookupOptions): LdCacheHit | undefined {
  if (!isCacheUsable(cache, abi)) return undefined;

  const active = options.hwcapsSubdirs ?? defaultHwcapsSubdirs(abi, options.isaLevel);
  const hasHwcapField = cache.format !== 'old';
  let best: LdCacheEntry | undefined;
  let bestPriority = 0;

  for (const entry of equalNameGroup(cache, name)) {
    if (!abi.accepted.includes(entry.flags)) continue;

    if (hasHwcapField) {
      const isHwcaps = isHwcapsEntry(entry.hwcap);
      if (isHwcaps && abi.checksIsaLevel && (entry.isaLevel ?? 0) >= options.isaLevel) continue;
      // glibc-hwcaps entries sort before plain ones, so a plain entry ends the hwcaps part.
      if (!isHwcaps && best) break;
      if (!isHwcaps && entry.hwcap !== 0n) continue;

      if (isHwcaps) {
        const priority = entry.hwcapsSubdir === undefined ? 0 : active.indexOf(entry.hwcapsSubdir) + 1;
        if (priority === 0) continue;
        if (best && priority >= bestPriority) continue;
        bestPriority = priority;
        best = entry;
        continue;
      }
    }

    best = entry;
    if (entry.flags === abi.preferred) break;
  }

  if (!best) return undefined;
  return { path: best.value, ...(best.hwcapsSubdir !== undefined && bestPriority > 0 ? { hwcaps: best.hwcapsSubdir } : {}), entry: best };
}

/** Lists the glibc-hwcaps names an x86 CPU at `isaLevel` uses, best first. Other ports get none. */
export function defaultHwcapsSubdirs(abi: CacheAbi, isaLevel: number): string[] {
  if (!abi.checksIsaLevel) return [];
  return abi.hwcapsSubdirs.filter((subdir) => {
    const match = /^x86-64-v(\d+)$/.exec(subdir);
    return match !== null && Number(match[1]) <= isaLevel;
  });
}

/** Returns false when ld.so would ignore the cache, because its endianness bits are invalid or name the other byte order. */
export function isCacheUsable(cache: LdCache, abi: CacheAbi): boolean {
  if (cache.endianFlag === ENDIAN_INVALID) return false;
  if (cache.endianFlag === ENDIAN_UNSET || cache.endianFlag === undefined) return cache.byteOrder === abi.byteOrder;
  return (cache.endianFlag === ENDIAN_BIG ? 'big' : 'little') === abi.byteOrder;
}

/** True for an hwcap field that marks a glibc-hwcaps entry: only bit 62 set in the upper half, ignoring the ISA level bits. */
export function isHwcapsEntry(hwcap: bigint): boolean {
  return ((hwcap >> 32n) & ~ISA_LEVEL_MASK) === HWCAP_EXTENSION >> 32n;
}

/**
 * Compares library names as glibc's _dl_cache_libcmp: runs of digits compare
 * as numbers, and a digit sorts after any other character. ldconfig sorts
 * cache entries in descending order of this comparison.
 */
export function compareLibraryNames(left: string, right: string): number {
  let i = 0;
  let j = 0;
  while (i < left.length) {
    const a = left.charCodeAt(i);
    const b = j < right.length ? right.charCodeAt(j) : 0;
    if (isDigit(a)) {
      if (!isDigit(b)) return 1;
      let leftValue = 0;
      let rightValue = 0;
      while (i < left.length && isDigit(left.charCodeAt(i))) leftValue = leftValue * 10 + left.charCodeAt(i++) - 48;
      while (j < right.length && isDigit(right.charCodeAt(j))) rightValue = rightValue * 10 + right.charCodeAt(j++) - 48;
      if (leftValue !== rightValue) return leftValue - rightValue;
    } else if (isDigit(b)) {
      return -1;
    } else if (a !== b) {
      return a - b;
    } else {
      i += 1;
      j += 1;
    }
  }
  return j < right.length ? -right.charCodeAt(j) : 0;
}

/**
 * Formats an entry's flags as `ldconfig -p` (glibc 2.36 elf/cache.c
 * print_entry) does, e.g. "libc6,x86-64" or "ELF".
 */
export function formatCacheFlags(flags: number): string {
  const types = ['libc4', 'ELF', 'libc5', 'libc6'];
  const type = types[flags & 0xff] ?? 'unknown';
  const abiNames: Record<number, string> = {
    [FLAG_SPARC_LIB64]: ',64bit',
    [FLAG_IA64_LIB64]: ',IA-64',
    [FLAG_X8664_LIB64]: ',x86-64',
    [FLAG_S390_LIB64]: ',64bit',
    [FLAG_POWERPC_LIB64]: ',64bit',
    [FLAG_MIPS64_LIBN32]: ',N32',
    [FLAG_MIPS64_LIBN64]: ',64bit',
    [FLAG_X8664_LIBX32]: ',x32',
    [FLAG_ARM_LIBHF]: ',hard-float',
    [FLAG_AARCH64_LIB64]: ',AArch64',
    [FLAG_ARM_LIBSF]: ',soft-float',
    [FLAG_MIPS_LIB32_NAN2008]: ',nan2008',
    [FLAG_MIPS64_LIBN32_NAN2008]: ',N32,nan2008',
    [FLAG_MIPS64_LIBN64_NAN2008]: ',64bit,nan2008',
    [FLAG_RISCV_FLOAT_ABI_SOFT]: ',soft-float',
    [FLAG_RISCV_FLOAT_ABI_DOUBLE]: ',double-float',
    [FLAG_LARCH_FLOAT_ABI_SOFT]: ',soft-float',
    [FLAG_LARCH_FLOAT_ABI_DOUBLE]: ',double-float',
    0: '',
  };
  const abiBits = flags & 0xff00;
  return type + (abiNames[abiBits] ?? `,${abiBits}`);
}

/** Formats one entry as a line of `ldconfig -p` output, without the leading tab. */
export function formatCacheEntry(entry: LdCacheEntry): string {
  let annotation = '';
  if (entry.hwcapsSubdir !== undefined) annotation = `, hwcap: "${entry.hwcapsSubdir}"`;
  else if (entry.hwcap !== 0n) annotation = `, hwcap: 0x${entry.hwcap.toString(16).padStart(16, '0')}`;
  return `${entry.key} (${formatCacheFlags(entry.flags)}${annotation}) => ${entry.value}`;
}

/**
 * Finds the entries whose key equals `name` by _dl_cache_libcmp, in file
 * order. Like glibc's binary search it takes one contiguous run of equal
 * names. In a cache sorted by ldconfig, all of them are contiguous.
 */
function equalNameGroup(cache: LdCache, name: string): LdCacheEntry[] {
  let index = nameIndexes.get(cache);
  if (!index) {
    index = new Map();
    cache.entries.forEach((entry, position) => {
      const key = normalizeDigitRuns(entry.key);
      const positions = index?.get(key);
      if (positions) positions.push(position);
      else index?.set(key, [position]);
    });
    nameIndexes.set(cache, index);
  }

  const positions = index.get(normalizeDigitRuns(name)) ?? [];
  const group: LdCacheEntry[] = [];
  for (const [order, position] of positions.entries()) {
    if (order > 0 && position !== (positions[order - 1] as number) + 1) break;
    group.push(cache.entries[position] as LdCacheEntry);
  }
  return group;
}

const nameIndexes = new WeakMap<LdCache, Map<string, number[]>>();

/** Rewrites digit runs without leading zeros, so two names are equal here exactly when _dl_cache_libcmp returns 0. */
function normalizeDigitRuns(name: string): string {
  return name.replace(/\d+/g, (digits) => digits.replace(/^0+(?=\d)/, ''));
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function byteOrdersToTry(hint: ByteOrder | undefined): ByteOrder[] {
  return hint === 'big' ? ['big', 'little'] : ['little', 'big'];
}

/** Bounds-checked reads from the cache bytes. */
class CacheReader {
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get size(): number {
    return this.bytes.length;
  }

  startsWith(offset: number, text: string): boolean {
    if (offset + text.length > this.bytes.length) return false;
    for (let index = 0; index < text.length; index += 1) {
      if (this.bytes[offset + index] !== text.charCodeAt(index)) return false;
    }
    return true;
  }

  u8(offset: number): number {
    this.check(offset, 1);
    return this.view.getUint8(offset);
  }

  u32(offset: number, byteOrder: ByteOrder): number {
    this.check(offset, 4);
    return this.view.getUint32(offset, byteOrder === 'little');
  }

  i32(offset: number, byteOrder: ByteOrder): number {
    this.check(offset, 4);
    return this.view.getInt32(offset, byteOrder === 'little');
  }

  u64(offset: number, byteOrder: ByteOrder): bigint {
    this.check(offset, 8);
    return this.view.getBigUint64(offset, byteOrder === 'little');
  }

  /** A string referenced by an entry: `base + relative` must start a NUL-terminated string inside the file. */
  entryString(base: number, relative: number, entryOffset: number, index: number, field: 'key' | 'value'): string {
    return this.cString(base + relative, entryOffset, `entry ${index} ${field}`);
  }

  cString(offset: number, referencedAt: number, what: string): string {
    if (offset >= this.bytes.length) {
      throw invalidCache(
        `Malformed ld.so.cache: ${what} (at offset ${referencedAt}) points to offset ${offset}, past the end of the ${this.bytes.length}-byte file.`,
        referencedAt,
      );
    }
    const end = this.bytes.indexOf(0, offset);
    if (end < 0) {
      throw invalidCache(`Truncated ld.so.cache: ${what} (at offset ${referencedAt}) starts at offset ${offset} but has no terminating NUL.`, referencedAt);
    }
    return UTF8.decode(this.bytes.subarray(offset, end));
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.bytes.length) {
      throw invalidCache(`Truncated ld.so.cache: needs ${length} bytes at offset ${offset}, but the file has ${this.bytes.length}.`, offset);
    }
  }
}

// The cache ldconfig would write, built in memory for a root that has
// /etc/ld.so.conf but no /etc/ld.so.cache. It follows glibc's elf/ldconfig.c
// (parse_conf, add_dir_1, add_glibc_hwcaps_subdirectories, search_dir),
// elf/readelflib.c with the per-port readelflib.c files, and elf/cache.c
// (the sort order of add_to_cache), as of glibc 2.39 and later.
//
// NOTE: older ldconfig versions differ in ways that rarely change a lookup.
// - Up to 2.38 they also cached RPM and dpkg temporary files (`;`, `.dpkg-new`).
// - Up to 2.36 they accepted `DIR=TYPE` lines, which are stripped here when
//   TYPE is a known name.
// - Up to 2.36 they scanned legacy hwcap subdirectories such as `tls/` and
//   `haswell/`. They are ignored here, and ld.so 2.37+ skips their entries.
// - Up to 2.36 they flagged i386 libraries that need neither libc.so.6 nor
//   libm.so.6 as 0x0001 instead of 0x0003. The i386 loader accepts both.

import type { ElfClass } from '../elf/types';
import {
  compareLibraryNames,
  FLAG_AARCH64_LIB64,
  FLAG_ARM_LIBHF,
  FLAG_ARM_LIBSF,
  FLAG_ELF_LIBC6,
  FLAG_LARCH_FLOAT_ABI_DOUBLE,
  FLAG_LARCH_FLOAT_ABI_SOFT,
  FLAG_MIPS64_LIBN32,
  FLAG_MIPS64_LIBN32_NAN2008,
  FLAG_MIPS64_LIBN64,
  FLAG_MIPS64_LIBN64_NAN2008,
  FLAG_MIPS_LIB32_NAN2008,
  FLAG_POWERPC_LIB64,
  FLAG_RISCV_FLOAT_ABI_DOUBLE,
  FLAG_RISCV_FLOAT_ABI_SOFT,
  FLAG_S390_LIB64,
  FLAG_SPARC_LIB64,
  FLAG_X8664_LIB64,
  FLAG_X8664_LIBX32,
  HWCAP_EXTENSION,
  type CacheAbi,
  type LdCache,
  type LdCacheEntry,
} from './ld-cache';
import {
  EF_ARM_ABI_FLOAT_HARD,
  EF_ARM_ABI_FLOAT_SOFT,
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
  EM_PPC,
  EM_PPC64,
  EM_RISCV,
  EM_S390,
  EM_SPARC,
  EM_SPARC32PLUS,
  EM_SPARCV9,
  EM_X86_64,
  glibcPortFor,
  hasDebianMultiarch,
} from './loader-defaults';
import { compareByteOrder, joinInRoot, type RootedFile, type RootedFs } from './rooted-fs';

export interface ReadLdSoConfOptions {
  /** The top-level file inside the root. Default /etc/ld.so.conf. */
  path?: string;
  /** Receives one message per problem ldconfig would warn about, or that would make it loop. */
  warnings?: string[];
}

export interface BuildCacheViewOptions {
  /**
   * Directories ldconfig adds after ld.so.conf. Default: Debian's four
   * multiarch directories when the root has them, else glibc's upstream
   * slibdir and libdir as the port's add_system_dir expands them.
   */
  builtinDirs?: readonly string[];
}

const DEFAULT_CONF = '/etc/ld.so.conf';
const LIBRARY_TYPES = new Set(['libc4', 'libc5', 'libc6', 'glibc2']);

/**
 * Reads /etc/ld.so.conf inside the root as ldconfig does, and returns its
 * directories in order, each once.
 * - Text after `#` is a comment, and blank lines are skipped.
 * - `include PATTERN...` parses the files that each glob pattern matches, in
 *   sorted order, at that point. Relative patterns start at the including
 *   file's folder.
 * - `hwcap` lines are ignored.
 * - Other lines are directories, with trailing whitespace and slashes removed.
 *
 * ldconfig has no guard against an include cycle. Here a file that is being
 * parsed is not entered again, and a warning names the cycle.
 */
export function readLdSoConf(fs: RootedFs, options: ReadLdSoConfOptions = {}): string[] {
  const warnings = options.warnings ?? [];
  const dirs: string[] = [];
  const seen = new Set<string>();
  parseConfFile(fs, options.path ?? DEFAULT_CONF, { dirs, seen, warnings, stack: [] });
  return dirs;
}

interface ConfState {
  dirs: string[];
  seen: Set<string>;
  warnings: string[];
  /** Canonical paths of the files being parsed, outermost first. */
  stack: string[];
}

function parseConfFile(fs: RootedFs, file: string, state: ConfState): void {
  const read = fs.readFile(file);
  if (!read.ok) {
    // ldconfig stays silent only when the file does not exist.
    if (read.errno !== 'ENOENT') state.warnings.push(`Ignored configuration file ${file}: ${read.message}`);
    return;
  }
  if (state.stack.includes(read.path)) {
    state.warnings.push(`Ignored include of ${file}: it is already being read (${[...state.stack, read.path].join(' -> ')}), which would make ldconfig loop.`);
    return;
  }

  state.stack.push(read.path);
  const lines = Buffer.from(read.bytes).toString('utf8').split('\n');
  for (const [index, rawLine] of lines.entries()) {
    // The format has no quoting, so `#` always starts a comment.
    const hash = rawLine.indexOf('#');
    const line = (hash >= 0 ? rawLine.slice(0, hash) : rawLine).replace(/^[ \t\n\v\f\r]+/, '');
    if (line === '') continue;

    if (/^include[ \t]/.test(line)) {
      for (const pattern of line.slice(8).split(/[ \t]/)) {
        if (pattern !== '') parseInclude(fs, file, pattern, state);
      }
    } else if (/^hwcap[ \t]/i.test(line)) {
      state.warnings.push(`${file}:${index + 1}: hwcap directive ignored`);
    } else {
      addConfDir(line, state);
    }
  }
  state.stack.pop();
}

function parseInclude(fs: RootedFs, includingFile: string, pattern: string, state: ConfState): void {
  const slash = includingFile.lastIndexOf('/');
  const absolute = pattern.startsWith('/') || slash < 0 ? pattern : joinInRoot(includingFile.slice(0, slash) || '/', pattern);
  for (const match of fs.glob(absolute)) parseConfFile(fs, match, state);
}

function addConfDir(line: string, state: ConfState): void {
  let dir = line;
  const equals = dir.indexOf('=');
  if (equals >= 0 && LIBRARY_TYPES.has(dir.slice(equals + 1).trim())) dir = dir.slice(0, equals);

  dir = trimDirectory(dir);
  if (dir === '' || state.seen.has(dir)) return;
  state.seen.add(dir);
  state.dirs.push(dir);
}

/** Removes trailing whitespace, then trailing slashes, as ldconfig's add_dir_1 does. `/` becomes empty and is dropped. */
function trimDirectory(dir: string): string {
  return dir.replace(/[ \t\n\v\f\r]+$/, '').replace(/\/+$/, '');
}

/**
 * Lists the directories ldconfig adds after ld.so.conf. Debian's ldconfig adds
 * `/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib` and `/usr/lib` (seen with
 * `ldconfig -v` on Debian 12). Upstream adds slibdir and libdir through the
 * port's add_system_dir, which on x86_64 turns /lib64 into /lib, /lib64 and /libx32.
 */
export function ldconfigBuiltinDirs(fs: RootedFs, abi: CacheAbi): string[] {
  const port = glibcPortFor(abi.machine, abi.elfClass, abi.elfFlags, abi.byteOrder);
  if (port.triplet !== undefined && hasDebianMultiarch(fs, port.triplet)) {
    return [`/lib/${port.triplet}`, `/usr/lib/${port.triplet}`, '/lib', '/usr/lib'];
  }

  const dirs: string[] = [];
  for (const dir of port.slibdir === port.libdir ? [port.slibdir] : [port.slibdir, port.libdir]) {
    for (const expanded of expandSystemDir(dir, abi)) if (!dirs.includes(expanded)) dirs.push(expanded);
  }
  return dirs;
}

/** Expands one built-in directory as the per-port add_system_dir macros of glibc's dl-cache.h files do. */
function expandSystemDir(dir: string, abi: CacheAbi): string[] {
  const siblings = (suffixes: readonly string[], variants: readonly string[]): string[] => {
    const suffix = suffixes.find((candidate) => dir.endsWith(candidate));
    const base = suffix === undefined ? dir : dir.slice(0, dir.length - suffix.length) + '/lib';
    return base.endsWith('/lib') ? [base, ...variants.map((variant) => base.slice(0, -4) + variant)] : [base];
  };

  switch (abi.machine) {
    case EM_X86_64:
      return siblings(['/lib64', '/libx32'], ['/lib64', '/libx32']);
    case EM_AARCH64:
    case EM_SPARC:
    case EM_SPARC32PLUS:
    case EM_SPARCV9:
    case EM_PPC:
    case EM_PPC64:
    case EM_S390:
      return siblings(['/lib64'], ['/lib64']);
    case EM_MIPS:
      return siblings(['/lib64', '/lib32'], ['/lib32', '/lib64']);
    case EM_RISCV:
      return siblings(['/lib64/lp64d', '/lib64/lp64', '/lib32/ilp32d', '/lib32/ilp32'], ['/lib64/lp64d', '/lib64/lp64', '/lib32/ilp32d', '/lib32/ilp32']);
    case EM_LOONGARCH:
      return siblings(['/lib64', '/lib64/sf'], ['/lib64', '/lib64/sf']);
    default:
      return [dir];
  }
}

/**
 * Builds the cache `ldconfig -r ROOT` would write for `dirs` (usually
 * readLdSoConf's result) plus ldconfig's built-in directories, as an LdCache
 * that lookupLdCache reads like a real one. Nothing is written to the root.
 *
 * Plain entries map a soname to `DIR/SONAME`, the link ldconfig creates;
 * `sonameLinkTarget` names the file when that link may not exist yet.
 */
export function buildCacheView(fs: RootedFs, dirs: readonly string[], abi: CacheAbi, options: BuildCacheViewOptions = {}): LdCache {
  const scanDirs = collectScanDirs(fs, [...dirs, ...(options.builtinDirs ?? ldconfigBuiltinDirs(fs, abi))]);
  const factsByFile = new Map<string, LibraryFacts | null>();

  const collected: CollectedEntry[] = [];
  for (const dir of scanDirs) collected.push(...scanDirectory(fs, dir, abi, factsByFile));

  // elf/cache.c add_to_cache keeps entries sorted by name (descending by
  // _dl_cache_libcmp), then by flags (descending), then glibc-hwcaps entries
  // first, ordered by subdirectory name. Equal entries keep directory order,
  // which the stable sort preserves.
  collected.sort(compareCacheEntries);

  const hwcapsNames = [...new Set(collected.flatMap((entry) => (entry.hwcapsSubdir === undefined ? [] : [entry.hwcapsSubdir])))].sort(compareByteOrder);
  const entries = collected.map((entry): LdCacheEntry => {
    if (entry.hwcapsSubdir === undefined) {
      return {
        key: entry.key,
        value: entry.value,
        flags: entry.flags,
        hwcap: 0n,
        ...(entry.sonameLinkTarget !== undefined ? { sonameLinkTarget: entry.sonameLinkTarget } : {}),
      };
    }
    const index = hwcapsNames.indexOf(entry.hwcapsSubdir);
    return {
      key: entry.key,
      value: entry.value,
      flags: entry.flags,
      hwcap: HWCAP_EXTENSION | (BigInt(entry.isaLevel) << 32n) | BigInt(index),
      hwcapsSubdir: entry.hwcapsSubdir,
      isaLevel: entry.isaLevel,
    };
  });

  return {
    format: 'ldconfig-view',
    byteOrder: abi.byteOrder,
    endianFlag: abi.byteOrder === 'big' ? 3 : 2,
    entries,
    hwcapsNames,
  };
}

interface ScanDir {
  /** The directory as written in ld.so.conf (trimmed), which ldconfig puts into cache values. */
  path: string;
  hwcapsSubdir?: string;
}

interface CollectedEntry {
  key: string;
  value: string;
  flags: number;
  isaLevel: number;
  hwcapsSubdir?: string;
  sonameLinkTarget?: string;
}

/**
 * ldconfig's add_dir_1 and add_glibc_hwcaps_subdirectories: keeps directories
 * that exist, drops a directory whose device and inode were seen before
 * (first position wins), and queues each non-hidden subdirectory of
 * `DIR/glibc-hwcaps/` right after DIR.
 */
function collectScanDirs(fs: RootedFs, dirs: readonly string[]): ScanDir[] {
  const result: ScanDir[] = [];
  const seen = new Set<string>();

  const add = (dir: ScanDir): boolean => {
    const resolved = fs.resolve(dir.path);
    if (!resolved.ok || seen.has(resolved.identity)) return false;
    seen.add(resolved.identity);
    result.push(dir);
    return true;
  };

  for (const raw of dirs) {
    const dir = trimDirectory(raw);
    if (dir === '' || !add({ path: dir })) continue;

    const hwcapsRoot = `${dir}/glibc-hwcaps`;
    for (const name of fs.listDir(hwcapsRoot) ?? []) {
      // A name with ':' cannot be looked up by ld.so, whose lists use ':' as a separator.
      if (name.startsWith('.') || name.includes(':') || fs.lstat(`${hwcapsRoot}/${name}`)?.isFile) continue;
      if (fs.stat(`${hwcapsRoot}/${name}`)?.isDirectory) add({ path: `${hwcapsRoot}/${name}`, hwcapsSubdir: name });
    }
  }
  return result;
}

/** ldconfig's search_dir for one directory: one entry per soname, preferring a file to a link, then the newer name. */
function scanDirectory(fs: RootedFs, dir: ScanDir, abi: CacheAbi, factsByFile: Map<string, LibraryFacts | null>): CollectedEntry[] {
  const libraries = new Map<string, { name: string; isLink: boolean; flags: number; isaLevel: number }>();

  for (const name of fs.listDir(dir.path) ?? []) {
    const filePath = `${dir.path}/${name}`;
    const own = fs.lstat(filePath);
    if (!own || (!own.isFile && !own.isSymbolicLink && !own.isDirectory)) continue;
    if (!isLibraryFileName(name) && (own.isFile || dir.hwcapsSubdir === undefined)) continue;
    if (isTemporaryFileName(name)) continue;
    if (!own.isFile && !own.isSymbolicLink) continue;

    const facts = libraryFacts(fs, filePath, abi, factsByFile);
    if (!facts) continue;

    // A link counts as a link only when it is named after the soname or is
    // the `.so` link for ld(1), whose name is a prefix of the soname. Any
    // other link is another implementation of that soname to ldconfig.
    let soname = facts.soname ?? name;
    let isLink = own.isSymbolicLink;
    if (isLink && name !== soname && !(name.endsWith('.so') && soname.startsWith(name))) isLink = false;
    if (isLink) soname = name;

    const known = libraries.get(soname);
    if (!known) {
      libraries.set(soname, { name, isLink, flags: facts.flags, isaLevel: facts.isaLevel });
    } else if ((!isLink && known.isLink) || (isLink === known.isLink && compareLibraryNames(known.name, name) < 0)) {
      // ldconfig keeps the first file's flags here and only warns when they differ.
      known.name = name;
      known.isLink = isLink;
      known.isaLevel = facts.isaLevel;
    }
  }

  const entries: CollectedEntry[] = [];
  for (const [soname, library] of libraries) {
    if (dir.hwcapsSubdir !== undefined) {
      // In glibc-hwcaps subdirectories ldconfig creates no links and caches the file itself.
      entries.push({ key: soname, value: `${dir.path}/${library.name}`, flags: library.flags, isaLevel: library.isaLevel, hwcapsSubdir: dir.hwcapsSubdir });
      continue;
    }
    entries.push({
      key: soname,
      value: `${dir.path}/${soname}`,
      flags: library.flags,
      isaLevel: library.isaLevel,
      ...(!library.isLink && library.name !== soname ? { sonameLinkTarget: library.name } : {}),
    });
  }
  return entries;
}

function compareCacheEntries(left: CollectedEntry, right: CollectedEntry): number {
  const byName = compareLibraryNames(right.key, left.key);
  if (byName !== 0) return byName;
  if (left.flags !== right.flags) return right.flags - left.flags;
  if (left.hwcapsSubdir !== undefined && right.hwcapsSubdir === undefined) return -1;
  if (left.hwcapsSubdir === undefined && right.hwcapsSubdir !== undefined) return 1;
  if (left.hwcapsSubdir !== undefined && right.hwcapsSubdir !== undefined) return compareByteOrder(left.hwcapsSubdir, right.hwcapsSubdir);
  return 0;
}

/** glibc's _dl_is_dso (elf/dl-is_dso.h): lib*.so*, ld-*.so*, ld.so.*, ld64.so.*. */
function isLibraryFileName(name: string): boolean {
  return ((name.startsWith('lib') || name.startsWith('ld-')) && name.includes('.so')) || name.startsWith('ld.so.') || name.startsWith('ld64.so.');
}

/** Files that prelink, RPM and dpkg write while they work (elf/ldconfig.c skip_dso_based_on_name). */
function isTemporaryFileName(name: string): boolean {
  return (
    name.endsWith('.#prelink#') ||
    /\.#prelink#\.[^/]{6}$/.test(name) ||
    name.includes(';') ||
    name.endsWith('.dpkg-new') ||
    name.endsWith('.dpkg-tmp')
  );
}

/** Facts ldconfig's process_file reads from one library. */
interface LibraryFacts {
  flags: number;
  soname?: string;
  /** Highest bit of GNU_PROPERTY_X86_ISA_1_NEEDED, or 0 when absent and on non-x86 ports. */
  isaLevel: number;
}

function libraryFacts(fs: RootedFs, filePath: string, abi: CacheAbi, cache: Map<string, LibraryFacts | null>): LibraryFacts | undefined {
  const opened = fs.openFile(filePath);
  if (!opened.ok) return undefined;

  const known = cache.get(opened.identity);
  if (known !== undefined) {
    opened.file.close();
    return known ?? undefined;
  }

  let facts: LibraryFacts | undefined;
  try {
    facts = readLibraryFacts(opened.file, abi);
  } finally {
    opened.file.close();
  }
  cache.set(opened.identity, facts ?? null);
  return facts;
}

const ET_DYN = 3;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_GNU_PROPERTY = 0x6474e553;
const DT_NULL = 0;
const DT_STRTAB = 5;
const DT_SONAME = 14;
const NT_GNU_PROPERTY_TYPE_0 = 5;
const GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002;
const EF_RISCV_RVC = 0x1;
const EF_LARCH_OBJABI_V1 = 0x40;
const EF_LARCH_ABI_SOFT_OR_DOUBLE = 0x3;
const EF_ARM_EABIMASK = 0xff000000;
const EF_ARM_EABI_VER5 = 0x05000000;

/**
 * Reads the file type, soname and ISA level of a library the way the
 * target's ldconfig does (elf/readlib.c process_file and elf/readelflib.c).
 * Returns undefined for anything ldconfig skips: not ELF, not ET_DYN, a class
 * or machine the port's ldconfig does not take, or no dynamic string table.
 *
 * NOTE: libc5-era a.out libraries, which ldconfig still recognises by their
 * ZMAGIC/QMAGIC header, are skipped here.
 */
function readLibraryFacts(file: RootedFile, abi: CacheAbi): LibraryFacts | undefined {
  // process_file skips files smaller than the native ELF header.
  if (file.size < (abi.elfClass === 64 ? 64 : 52)) return undefined;

  const header = new ElfBytes(file.read(0, 64), 0);
  if (header.byte(0) !== 0x7f || header.byte(1) !== 0x45 || header.byte(2) !== 0x4c || header.byte(3) !== 0x46) return undefined;
  const elfClass: ElfClass | undefined = header.byte(4) === 1 ? 32 : header.byte(4) === 2 ? 64 : undefined;
  const little = header.byte(5) === 1 ? true : header.byte(5) === 2 ? false : undefined;
  // ldconfig reads headers in its own byte order, so a file of the other byte order is never a library to it.
  if (elfClass === undefined || little === undefined || little !== (abi.byteOrder === 'little')) return undefined;
  header.little = little;

  if (header.u16(16) !== ET_DYN) return undefined;
  const machine = header.u16(18);
  const elfFlags = header.u32(elfClass === 64 ? 48 : 36);
  const flags = ldconfigFlags(abi, elfClass, machine, elfFlags);
  if (flags === undefined) return undefined;

  const dynamic = readDynamicFacts(file, header, elfClass, abi);
  return dynamic ? { flags, ...dynamic } : undefined;
}

/** Returns the cache flags the target's ldconfig gives a library (per-port readelflib.c), or undefined when it rejects it. */
function ldconfigFlags(abi: CacheAbi, elfClass: ElfClass, machine: number, elfFlags: number): number | undefined {
  switch (abi.machine) {
    case EM_X86_64:
    case EM_386:
      // sysdeps/x86/readelflib.c: only x86-64 (64-bit or x32) and 32-bit i386 files.
      if (machine === EM_X86_64) return (elfClass === 64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32) | FLAG_ELF_LIBC6;
      return machine === EM_386 && elfClass === 32 ? FLAG_ELF_LIBC6 : undefined;
    case EM_ARM:
    case EM_AARCH64:
      // sysdeps/unix/sysv/linux/arm/readelflib.c checks no machine, only the class and the EABI float flags.
      if (elfClass === 64) return FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6;
      if ((elfFlags & EF_ARM_EABIMASK) >>> 0 !== EF_ARM_EABI_VER5) return FLAG_ELF_LIBC6;
      if (elfFlags & EF_ARM_ABI_FLOAT_HARD) return FLAG_ARM_LIBHF | FLAG_ELF_LIBC6;
      if (elfFlags & EF_ARM_ABI_FLOAT_SOFT) return FLAG_ARM_LIBSF | FLAG_ELF_LIBC6;
      return FLAG_ELF_LIBC6;
    case EM_PPC:
    case EM_PPC64:
      return elfClass === 64 ? FLAG_POWERPC_LIB64 | FLAG_ELF_LIBC6 : FLAG_ELF_LIBC6;
    case EM_S390:
      return elfClass === 64 ? FLAG_S390_LIB64 | FLAG_ELF_LIBC6 : FLAG_ELF_LIBC6;
    case EM_SPARC:
    case EM_SPARC32PLUS:
    case EM_SPARCV9:
      return elfClass === 64 ? FLAG_SPARC_LIB64 | FLAG_ELF_LIBC6 : FLAG_ELF_LIBC6;
    case EM_MIPS: {
      const nan2008 = (elfFlags & EF_MIPS_NAN2008) !== 0;
      if (elfClass === 64) return (nan2008 ? FLAG_MIPS64_LIBN64_NAN2008 : FLAG_MIPS64_LIBN64) | FLAG_ELF_LIBC6;
      if (elfFlags & EF_MIPS_ABI2) return (nan2008 ? FLAG_MIPS64_LIBN32_NAN2008 : FLAG_MIPS64_LIBN32) | FLAG_ELF_LIBC6;
      return nan2008 ? FLAG_MIPS_LIB32_NAN2008 | FLAG_ELF_LIBC6 : FLAG_ELF_LIBC6;
    }
    case EM_RISCV: {
      if (elfFlags & ~(EF_RISCV_FLOAT_ABI | EF_RISCV_RVC)) return undefined;
      const floatAbi = elfFlags & EF_RISCV_FLOAT_ABI;
      if (floatAbi === EF_RISCV_FLOAT_ABI_SOFT) return FLAG_RISCV_FLOAT_ABI_SOFT | FLAG_ELF_LIBC6;
      return floatAbi === EF_RISCV_FLOAT_ABI_DOUBLE ? FLAG_RISCV_FLOAT_ABI_DOUBLE | FLAG_ELF_LIBC6 : undefined;
    }
    case EM_LOONGARCH: {
      if (elfClass !== 64) return undefined;
      const abiFlags = elfFlags & ~EF_LARCH_OBJABI_V1;
      if (abiFlags & ~EF_LARCH_ABI_SOFT_OR_DOUBLE) return undefined;
      if ((abiFlags & EF_LARCH_ABI_SOFT_OR_DOUBLE) === 0x1) return FLAG_LARCH_FLOAT_ABI_SOFT | FLAG_ELF_LIBC6;
      return (abiFlags & EF_LARCH_ABI_SOFT_OR_DOUBLE) === 0x3 ? FLAG_LARCH_FLOAT_ABI_DOUBLE | FLAG_ELF_LIBC6 : undefined;
    }
    default:
      // The generic elf/readelflib.c is built for the native class only.
      return elfClass === abi.elfClass ? FLAG_ELF_LIBC6 : undefined;
  }
}

/** Reads the program headers, then DT_STRTAB and DT_SONAME, in the order elf/readelflib.c walks them. */
function readDynamicFacts(file: RootedFile, header: ElfBytes, elfClass: ElfClass, abi: CacheAbi): Omit<LibraryFacts, 'flags'> | undefined {
  const wide = elfClass === 64;
  const phoff = header.address(wide ? 32 : 28, wide);
  const phnum = header.u16(wide ? 56 : 44);
  const phentsize = wide ? 56 : 32;
  if (phoff + phnum * phentsize > file.size) return undefined;

  const table = new ElfBytes(file.read(phoff, phnum * phentsize), phoff, header.little);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let dynamicOffset = 0;
  let dynamicSize = 0;
  let isaLevel = 0;

  for (let index = 0; index < phnum; index += 1) {
    const at = phoff + index * phentsize;
    const type = table.u32(at);
    const offset = table.address(wide ? at + 8 : at + 4, wide);
    const vaddr = table.address(wide ? at + 16 : at + 8, wide);
    const filesz = table.address(wide ? at + 32 : at + 16, wide);
    const align = table.address(wide ? at + 48 : at + 28, wide);

    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    // A second PT_DYNAMIC replaces the first, as in ldconfig (which warns).
    if (type === PT_DYNAMIC) {
      dynamicOffset = offset;
      dynamicSize = filesz;
    }
    if (type === PT_GNU_PROPERTY && (abi.machine === EM_X86_64 || abi.machine === EM_386) && align === (wide ? 8 : 4)) {
      isaLevel = readX86IsaLevel(file, offset, filesz, align, header.little) ?? isaLevel;
    }
  }
  if (dynamicSize === 0) return undefined;

  const { strtab, sonameOffset } = readDynamicEntries(file, dynamicOffset, wide, header.little);
  if (strtab === undefined) return undefined;

  // The string table's file offset comes from the PT_LOAD segment that maps DT_STRTAB (or 0 when none does).
  const load = loads.find((segment) => strtab >= segment.vaddr && strtab - segment.vaddr < segment.filesz);
  const strtabOffset = strtab - (load ? load.vaddr - load.offset : 0);
  if (sonameOffset === undefined) return { isaLevel };

  const soname = readCString(file, strtabOffset + sonameOffset);
  if (soname === undefined) return undefined;
  return { soname, isaLevel };
}

/** Walks dynamic entries up to DT_NULL (not bounded by p_filesz, like ldconfig) and returns the first DT_STRTAB and DT_SONAME values. */
function readDynamicEntries(file: RootedFile, start: number, wide: boolean, little: boolean): { strtab?: number; sonameOffset?: number } {
  const entrySize = wide ? 16 : 8;
  const result: { strtab?: number; sonameOffset?: number } = {};
  const chunkEntries = 256;

  for (let chunkStart = start; chunkStart + entrySize <= file.size; chunkStart += chunkEntries * entrySize) {
    const chunk = new ElfBytes(file.read(chunkStart, chunkEntries * entrySize), chunkStart, little);
    for (let at = chunkStart; at + entrySize <= chunkStart + chunk.length; at += entrySize) {
      const tag = chunk.address(at, wide);
      if (tag === DT_NULL) return result;
      const value = chunk.address(at + entrySize / 2, wide);
      if (tag === DT_STRTAB && result.strtab === undefined) result.strtab = value;
      if (tag === DT_SONAME && result.sonameOffset === undefined) result.sonameOffset = value;
    }
  }
  return {};
}

/**
 * Reads the x86 ISA level from a PT_GNU_PROPERTY segment: the index of the
 * highest bit of GNU_PROPERTY_X86_ISA_1_NEEDED (sysdeps/unix/sysv/linux/x86/elf-read-prop.h).
 */
function readX86IsaLevel(file: RootedFile, offset: number, size: number, align: number, little: boolean): number | undefined {
  if (offset + size > file.size) return undefined;
  const notes = new ElfBytes(file.read(offset, size), offset, little);
  const end = offset + size;

  for (let note = offset; note + 12 < end; ) {
    const nameSize = notes.u32(note);
    const descSize = notes.u32(note + 4);
    const type = notes.u32(note + 8);
    if (nameSize === 4 && type === NT_GNU_PROPERTY_TYPE_0 && note + 16 <= end && notes.u32(note + 12) === (little ? 0x00554e47 : 0x474e5500)) {
      if (descSize < 8 || descSize % align !== 0 || note + 16 + descSize > end) return undefined;
      return readIsaProperty(notes, note + 16, note + 16 + descSize, align);
    }
    note += alignUp(alignUp(12 + nameSize, align) + descSize, align);
  }
  return undefined;
}

function readIsaProperty(notes: ElfBytes, start: number, end: number, align: number): number | undefined {
  let lastType = 0;
  for (let at = start; end - at >= 8; ) {
    const type = notes.u32(at);
    const dataSize = notes.u32(at + 4);
    // Properties must come in ascending type order.
    if (type < lastType || at + 8 + dataSize > end) return undefined;
    lastType = type;
    if (type > GNU_PROPERTY_X86_ISA_1_NEEDED) return undefined;
    if (type === GNU_PROPERTY_X86_ISA_1_NEEDED) {
      if (dataSize !== 4) return undefined;
      const needed = notes.u32(at + 8);
      return needed === 0 ? undefined : 31 - Math.clz32(needed);
    }
    at += 8 + alignUp(dataSize, align);
  }
  return undefined;
}

function readCString(file: RootedFile, offset: number): string | undefined {
  for (let length = 256; offset < file.size; length *= 4) {
    const bytes = file.read(offset, length);
    const end = bytes.indexOf(0);
    if (end >= 0) return Buffer.from(bytes.subarray(0, end)).toString('utf8');
    if (offset + bytes.length >= file.size) return undefined;
  }
  return undefined;
}

function alignUp(value: number, alignment: number): number {
  return alignment <= 1 ? value : Math.ceil(value / alignment) * alignment;
}

/** A chunk of a file, read by absolute file offsets. Offsets past the chunk read as 0. */
class ElfBytes {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly start: number,
    public little = true,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  byte(offset: number): number {
    return this.fits(offset, 1) ? this.view.getUint8(offset - this.start) : 0;
  }

  u16(offset: number): number {
    return this.fits(offset, 2) ? this.view.getUint16(offset - this.start, this.little) : 0;
  }

  u32(offset: number): number {
    return this.fits(offset, 4) ? this.view.getUint32(offset - this.start, this.little) : 0;
  }

  /** Reads a 32- or 64-bit address, offset or size. 64-bit values above 2^53 read as Infinity, so bounds checks fail. */
  address(offset: number, wide: boolean): number {
    if (!wide) return this.u32(offset);
    if (!this.fits(offset, 8)) return 0;
    const value = this.view.getBigUint64(offset - this.start, this.little);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
  }

  private fits(offset: number, size: number): boolean {
    return offset >= this.start && offset + size <= this.start + this.bytes.length;
  }
}

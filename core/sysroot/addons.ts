// Shared objects inside packed files and folders, such as Node.js `.node`
// addons or vendored `.so` files. A program loads them with dlopen, so their
// DT_NEEDED entries never appear in the program's own dependency tree. Each
// one is resolved here as the loader would at dlopen time, with its own
// DT_RUNPATH and its `$ORIGIN` at its image path.

import { open } from 'node:fs/promises';

import { ET_DYN, machineName } from '../elf/constants';
import { ElfError } from '../elf/errors';
import { readElfFile } from '../elf/read-elf';
import type { ElfClass, ElfInfo, LibcFlavour } from '../elf/types';
import { Resolver } from '../resolve/resolver';
import type { RootedMount } from '../resolve/rooted-fs';
import type { MissingLibrary, ResolveResult, SearchedFolder } from '../resolve/types';
import { SysrootPlanError } from './errors';
import type { AddonResolveOptions } from './types';

export interface PackedFile {
  imagePath: string;
  hostPath: string;
}

/** One packed shared object and what the loader would load for it. */
export interface AddonResolution {
  /** Image path of the shared object. */
  addon: string;
  result: ResolveResult;
}

export interface AddonScanInput {
  packedFiles: readonly PackedFile[];
  sysroot: string;
  mounts: readonly RootedMount[];
  /** The program that loads the addons: they must match its machine, class and C library. */
  program: { machine: string; elfClass: ElfClass; libc: LibcFlavour };
  /** The program's working directory in the image. */
  cwd: string;
  options: AddonResolveOptions;
  warnings: string[];
}

/** Bytes of e_ident plus e_type, enough to tell an ELF shared object from other files. */
const HEAD_BYTES = 18;
const FILES_READ_AT_ONCE = 16;
/** Paths listed in one warning before the rest are counted. */
const LISTED_PATHS = 10;

/**
 * Finds the ELF shared objects among packed files and resolves the
 * libraries each one needs. Throws when one of them cannot be found.
 */
export async function resolvePackedSharedObjects(input: AddonScanInput): Promise<AddonResolution[]> {
  const candidates = await findElfSharedObjects(input.packedFiles);
  const addons = selectLoadable(candidates, input);
  if (addons.length === 0) return [];

  const resolver = new Resolver({
    sysroot: input.sysroot,
    mounts: input.mounts,
    ...(input.options.isaLevel !== undefined ? { isaLevel: input.options.isaLevel } : {}),
    ...(input.options.platform !== undefined ? { platform: input.options.platform } : {}),
    ...(input.options.emulateLdconfig !== undefined ? { emulateLdconfig: input.options.emulateLdconfig } : {}),
  });
  const resolutions = addons.map((addon) => ({ addon: addon.imagePath, result: resolveAddon(resolver, addon, input) }));

  reportMissing(resolutions, input.warnings);
  return resolutions;
}

function resolveAddon(resolver: Resolver, addon: PackedFile, input: AddonScanInput): ResolveResult {
  // NOTE: a shared object is resolved with the default glibc loader path (/lib64/ld-linux-x86-64.so.2
  // on x86-64), not the program's PT_INTERP, so a root whose loader lives elsewhere reports it missing.
  try {
    return resolver.resolve(addon.hostPath, {
      allowSharedLibrary: true,
      cwd: input.cwd,
      ...(input.options.env ? { env: input.options.env } : {}),
      ...(input.options.libraryPath !== undefined ? { libraryPath: input.options.libraryPath } : {}),
    });
  } catch (error) {
    throw new SysrootPlanError('read-failed', `Cannot resolve the libraries of the packed shared object ${addon.imagePath} (${addon.hostPath}): ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Throws for libraries an addon needs that are missing. A shared object that
 * another packed one loads is resolved in that one's context too, where the
 * loader may already have its dependencies, so its own misses only warn.
 */
function reportMissing(resolutions: readonly AddonResolution[], warnings: string[]): void {
  const loadedByOthers = new Set<string>();
  for (const { result } of resolutions) for (const library of result.libraries) loadedByOthers.add(library.realPath);

  const failures: string[] = [];
  for (const { addon, result } of resolutions) {
    if (result.missing.length === 0) continue;

    const messages = result.missing.map((entry) => describeMissing(addon, entry));
    if (loadedByOthers.has(result.program.realPath)) {
      warnings.push(...messages.map((message) => `${message} It is also loaded as a dependency of another packed shared object, where this may be found.`));
    } else {
      failures.push(...messages);
    }
  }

  if (failures.length > 0) {
    throw new SysrootPlanError(
      'addon-dependency-missing',
      `${failures.join('\n')}\nFix: add the library to the root, pack it next to the addon and link the addon with -Wl,-rpath,'$ORIGIN', or add its folder to LD_LIBRARY_PATH in the image environment.`,
    );
  }
}

function describeMissing(addon: string, missing: MissingLibrary): string {
  const neededBy = missing.chain.at(-1) ?? addon;
  const through = neededBy === addon ? '' : ` (DT_NEEDED of ${neededBy})`;
  const failure = missing.kind === 'not-found' ? 'not found' : (missing.reason ?? missing.kind);
  return `The packed shared object ${addon} needs ${missing.name}${through}: ${failure}. Searched ${formatSearched(missing.searched)}.`;
}

/** Lists searched folders grouped by phase, e.g. "DT_RUNPATH of /app/a.node: /app/lib; ld.so.cache; system folders: /lib, /usr/lib". */
function formatSearched(searched: readonly SearchedFolder[]): string {
  const groups: { label: string; folders: string[] }[] = [];
  for (const entry of searched) {
    const label = phaseLabel(entry);
    const last = groups.at(-1);
    if (last && last.label === label) last.folders.push(entry.folder);
    else groups.push({ label, folders: [entry.folder] });
  }
  return groups.map(({ label, folders }) => (label === 'ld.so.cache' ? label : `${label}: ${folders.join(', ')}`)).join('; ') || 'nothing';
}

function phaseLabel(entry: SearchedFolder): string {
  switch (entry.phase) {
    case 'rpath':
      return `DT_RPATH of ${entry.owner ?? '?'}`;
    case 'runpath':
      return `DT_RUNPATH of ${entry.owner ?? '?'}`;
    case 'system-dir':
      return 'system folders';
    case 'musl-path':
      return 'musl search path';
    default:
      return entry.phase;
  }
}

/**
 * Keeps the shared objects the program can load: same machine, ELF class
 * and C library. Packages often ship prebuilt objects for several platforms
 * (e.g. linux-arm64 or musl builds in node_modules), and those are skipped
 * with one warning.
 */
function selectLoadable(candidates: readonly (PackedFile & { elf: ElfInfo })[], input: AddonScanInput): PackedFile[] {
  const loadable: PackedFile[] = [];
  const skipped: string[] = [];
  const programs: string[] = [];

  for (const candidate of candidates) {
    const { elf } = candidate;
    if (elf.classification.kind === 'dynamic') {
      programs.push(candidate.imagePath);
      continue;
    }
    if (elf.classification.kind !== 'shared-library') continue;

    const machine = machineName(elf.header.machine);
    const needed = elf.dynamic?.needed ?? [];
    const needsMusl = needed.some((name) => name === 'libc.so' || name.startsWith('libc.musl-'));
    const needsGlibc = needed.includes('libc.so.6');
    if (machine !== input.program.machine || elf.header.ident.class !== input.program.elfClass) {
      skipped.push(`${candidate.imagePath} (${machine}, ELFCLASS${elf.header.ident.class})`);
    } else if ((input.program.libc === 'glibc' && needsMusl) || (input.program.libc === 'musl' && needsGlibc)) {
      skipped.push(`${candidate.imagePath} (built for ${needsMusl ? 'musl' : 'glibc'})`);
    } else {
      loadable.push(candidate);
    }
  }

  if (skipped.length > 0) {
    input.warnings.push(
      `Skipped ${skipped.length} packed shared objects that a ${input.program.machine} ${input.program.libc} program cannot load: ${listSome(skipped)}.`,
    );
  }
  if (programs.length > 0) {
    // NOTE: packed programs that the program starts are not resolved; only the configured program's libraries are added.
    input.warnings.push(`Packed dynamically linked programs get no libraries added for them: ${listSome(programs)}. Build them statically if the program runs them.`);
  }
  return loadable;
}

/** Reads the head of every packed file and parses those that are ELF ET_DYN files. */
async function findElfSharedObjects(files: readonly PackedFile[]): Promise<(PackedFile & { elf: ElfInfo })[]> {
  const found: (PackedFile & { elf: ElfInfo })[] = [];
  for (let start = 0; start < files.length; start += FILES_READ_AT_ONCE) {
    const batch = files.slice(start, start + FILES_READ_AT_ONCE);
    const heads = await Promise.all(batch.map((file) => readHead(file.hostPath)));
    batch.forEach((file, index) => {
      const head = heads[index];
      if (!head || !isElfDynamicHead(head)) return;
      try {
        found.push({ ...file, elf: readElfFile(file.hostPath) });
      } catch (error) {
        // A damaged or truncated ELF file cannot be loaded by dlopen either.
        if (!(error instanceof ElfError)) throw error;
      }
    });
  }
  return found;
}

/** Returns the first bytes of a file, or undefined for a shorter or unreadable file, which hashing reports later. */
async function readHead(hostPath: string): Promise<Uint8Array | undefined> {
  let handle;
  try {
    handle = await open(hostPath, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = new Uint8Array(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return bytesRead === HEAD_BYTES ? head : undefined;
  } finally {
    await handle.close();
  }
}

/** True for the ELF magic followed by e_type ET_DYN in the file's byte order (EI_DATA 1 little, 2 big endian). */
function isElfDynamicHead(head: Uint8Array): boolean {
  if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return false;
  const type = head[5] === 2 ? ((head[16] ?? 0) << 8) | (head[17] ?? 0) : (head[16] ?? 0) | ((head[17] ?? 0) << 8);
  return type === ET_DYN;
}

function listSome(paths: readonly string[]): string {
  const listed = paths.slice(0, LISTED_PATHS).join(', ');
  return paths.length > LISTED_PATHS ? `${listed} and ${paths.length - LISTED_PATHS} more` : listed;
}

// The files a resolution puts into the image. The program goes to its image
// path, the interpreter to its PT_INTERP path and each library to the path
// the loader opens. glibc-hwcaps libraries also get their baseline copies,
// the root's ld.so.cache comes along when the guest loader needs it, and
// the run-time /etc files are added.

import * as posix from 'node:path/posix';

import { readElfFile } from '../elf/read-elf';
import { readLoaderDefaults } from '../resolve/loader-defaults';
import type { RootedFs } from '../resolve/rooted-fs';
import type { ExtraFile, FoundBy, MissingLibrary, ResolvedLibrary, ResolveResult } from '../resolve/types';
import { SysrootPlanError } from './errors';
import { absoluteFrom } from './image-path';
import type { Precedence } from './image-table';
import type { StagedRole } from './types';

/** A file to stage, before its contents are hashed. */
export interface FileRequest {
  /** Image path as the loader or kernel opens it; may contain `..` or pass packed symlinks. */
  path: string;
  source: { hostPath: string } | { contents: Uint8Array };
  role: StagedRole;
  reason: string;
  precedence: Exclude<Precedence, 'packed'>;
}

export interface RootContext {
  /** The root, with packed folders mounted, that maps paths inside the root to host files. */
  rooted: RootedFs;
  /** The program's working directory in the image. */
  cwd: string;
}

/** Throws when the resolution lists missing libraries, since the image would not start. */
export function assertNothingMissing(resolution: ResolveResult): void {
  if (resolution.missing.length === 0) return;
  const lines = resolution.missing.map((missing) => `  - ${describeMissing(missing)}`);
  throw new SysrootPlanError(
    'missing-library',
    `${resolution.program.path} cannot start: ${resolution.missing.length} of its libraries are missing in ${resolution.sysroot}:\n${lines.join('\n')}\n` +
      'Add them to the root or to files, then resolve again; `nx-unikernel ldd` shows each search in detail.',
  );
}

/** Returns requests for the program at its image path and the interpreter at exactly its PT_INTERP path, which the kernel opens. */
export function programRequests(resolution: ResolveResult, programImagePath: string, programHostPath: string, context: RootContext): FileRequest[] {
  const requests: FileRequest[] = [{ path: programImagePath, source: { hostPath: programHostPath }, role: 'program', reason: 'program', precedence: 'required' }];

  const interpreter = resolution.interpreter;
  if (interpreter?.realPath !== undefined) {
    requests.push({
      path: absoluteFrom(context.cwd, interpreter.path),
      source: { hostPath: context.rooted.hostPathOf(interpreter.realPath) },
      role: 'interpreter',
      reason: `PT_INTERP of ${programImagePath}` + (interpreter.realPath !== interpreter.path ? ` (the root's file ${interpreter.realPath})` : ''),
      precedence: 'required',
    });
  }
  return requests;
}

/**
 * Returns a request for each library as a regular file at the path the
 * loader opened, so the guest loader finds it without the root's folder
 * symlinks. A library from a glibc-hwcaps subfolder also gets the root's
 * baseline copy, because the guest CPU may lack the features of the build host's.
 */
export function libraryRequests(
  libraries: readonly ResolvedLibrary[],
  context: RootContext,
  role: StagedRole,
  reasonOf: (library: ResolvedLibrary) => string,
  warnings: string[],
): FileRequest[] {
  const requests: FileRequest[] = [];
  for (const library of libraries) {
    const loaderPath = absoluteFrom(context.cwd, library.path);
    const reason = reasonOf(library);
    requests.push({ path: loaderPath, source: { hostPath: context.rooted.hostPathOf(library.realPath) }, role, reason, precedence: 'required' });

    if (library.hwcaps === undefined) continue;
    const subfolder = `/glibc-hwcaps/${library.hwcaps}/`;
    const baselinePath = loaderPath.replace(subfolder, '/');
    const baseline = context.rooted.resolve(baselinePath);
    if (!baseline.ok || !baseline.stat.isFile) {
      warnings.push(
        `${loaderPath} is built for ${library.hwcaps} CPUs and the root has no baseline copy at ${baselinePath}; the image starts only on CPUs with ${library.hwcaps} features. Pass isaLevel 1 to resolve for any x86-64 CPU.`,
      );
      continue;
    }
    requests.push({
      path: baselinePath,
      source: { hostPath: context.rooted.hostPathOf(baseline.path) },
      role,
      reason: `baseline copy for guest CPUs without ${library.hwcaps}: ${reason}`,
      precedence: 'required',
    });
  }
  return requests;
}

/**
 * Returns a request for the root's /etc/ld.so.cache when a library was found
 * through it in a folder that is not built into the loader, because without
 * the cache file the guest loader never searches that folder. Returns
 * undefined when it is not needed.
 */
export function loaderCacheRequest(resolution: ResolveResult, libraries: readonly ResolvedLibrary[], context: RootContext): FileRequest | undefined {
  const cached = libraries.filter((library) => library.foundBy.rule === 'ld-so-cache');
  if (cached.length === 0 || resolution.interpreter?.realPath === undefined) return undefined;

  const systemDirs = new Set(resolution.interpreter.systemDirs ?? loaderSystemDirs(resolution.interpreter.realPath, context.rooted));
  const outside = cached.filter((library) => !systemDirs.has(searchFolderOf(library)));
  if (outside.length === 0) return undefined;

  const names = outside.map((library) => `${library.name} in ${searchFolderOf(library)}`).join(', ');
  const cache = context.rooted.resolve('/etc/ld.so.cache');
  if (!cache.ok || !cache.stat.isFile) {
    throw new SysrootPlanError(
      'missing-library',
      `The loader finds ${names} only through /etc/ld.so.cache, which the root ${resolution.sysroot} lacks (the folders came from /etc/ld.so.conf). ` +
        'Run `ldconfig -r ROOT` to write the cache, or add those folders to LD_LIBRARY_PATH in the image environment.',
    );
  }
  return {
    path: '/etc/ld.so.cache',
    source: { hostPath: context.rooted.hostPathOf(cache.path) },
    role: 'loader-cache',
    reason: `the guest loader finds ${names} only through it; ${resolution.interpreter.path} does not search those folders by itself`,
    precedence: 'required',
  };
}

/** Generated or root files the program reads at run time, such as /etc/nsswitch.conf. */
export function extraFileRequests(extraFiles: readonly ExtraFile[], context: RootContext, reasonSuffix = ''): FileRequest[] {
  return extraFiles.map((extra) => {
    const reason = extra.reason + reasonSuffix;
    if (extra.source.kind === 'generated') {
      return { path: extra.path, source: { contents: Buffer.from(extra.source.contents, 'utf8') }, role: 'runtime-file', reason, precedence: 'runtime-file' };
    }

    const found = context.rooted.resolve(extra.source.path);
    if (!found.ok || !found.stat.isFile) {
      throw new SysrootPlanError('read-failed', `${extra.path} (${extra.reason}) should come from ${extra.source.path} in the root, which is not a readable file there; add it to the root or to files.`);
    }
    return { path: extra.path, source: { hostPath: context.rooted.hostPathOf(found.path) }, role: 'runtime-file', reason, precedence: 'runtime-file' };
  });
}

/** Reason of a library loaded for the program, e.g. "DT_NEEDED of /app (found by ld.so.cache)". */
export function libraryReason(library: ResolvedLibrary, programImagePath: string): string {
  const found = `found by ${foundByText(library.foundBy)}${library.hwcaps !== undefined ? `, glibc-hwcaps/${library.hwcaps}` : ''}`;
  if (library.runtime) return `${library.runtime.reason} (${found})`;
  if (library.foundBy.rule === 'preload') return `preloaded by ${library.foundBy.source} (${found})`;
  return `DT_NEEDED of ${library.neededBy[0] ?? programImagePath} (${found})`;
}

export function foundByText(foundBy: FoundBy): string {
  switch (foundBy.rule) {
    case 'interpreter':
      return 'PT_INTERP';
    case 'preload':
      return foundBy.source;
    case 'path':
      return 'its path';
    case 'rpath':
      return `DT_RPATH of ${foundBy.owner}`;
    case 'runpath':
      return `DT_RUNPATH of ${foundBy.owner}`;
    case 'ld-library-path':
      return 'LD_LIBRARY_PATH';
    case 'ld-so-cache':
      return 'ld.so.cache';
    case 'system-dir':
      return "the loader's system folders";
    case 'already-loaded':
      return `an object already loaded (same ${foundBy.match})`;
  }
}

/** Returns the folder a cached library sits in, without its glibc-hwcaps subfolder, which the loader adds itself. */
function searchFolderOf(library: ResolvedLibrary): string {
  const folder = posix.dirname(library.path);
  const hwcaps = library.hwcaps !== undefined ? `/glibc-hwcaps/${library.hwcaps}` : '';
  return hwcaps !== '' && folder.endsWith(hwcaps) ? folder.slice(0, -hwcaps.length) : folder;
}

/** Reads the loader's built-in library folders from the loader file in the root. */
function loaderSystemDirs(interpreterRealPath: string, rooted: RootedFs): string[] {
  const loader = rooted.readFile(interpreterRealPath);
  if (!loader.ok) return [];
  const header = readElfFile(loader.hostPath).header;
  return readLoaderDefaults(loader.bytes, header.machine, header.ident.class, rooted, { flags: header.flags, byteOrder: header.ident.byteOrder }).systemDirs;
}

function describeMissing(missing: MissingLibrary): string {
  const neededBy = missing.chain.at(-1);
  const library = missing.runtime ? `${missing.name} (${missing.runtime.reason})` : `${missing.name}${neededBy !== undefined ? ` (needed by ${neededBy})` : ''}`;
  const failure = missing.kind === 'not-found' ? 'not found' : (missing.reason ?? missing.kind);
  const fix = missing.suggestions[0];
  return `${library}: ${failure}${fix !== undefined ? `; ${fix}` : ''}`;
}

// Turns a resolution plus the user's configured files into a staging plan:
// every image path with its source, in a fixed order, with the reason each
// file is there.

import * as path from 'node:path';
import * as posix from 'node:path/posix';

import { RootedFs } from '../resolve/rooted-fs';
import type { ResolvedLibrary } from '../resolve/types';
import { resolvePackedSharedObjects, type AddonResolution } from './addons';
import { SysrootPlanError } from './errors';
import { FileDigests, sha256Of, type FileDigest, type UnhashedFile } from './file-digest';
import { absoluteFrom, normalizeImagePath } from './image-path';
import { ImageTable, type PlannedFile, type PlannedItem } from './image-table';
import { collectPackedEntries, packedMounts, type PackedEntry } from './packed-files';
import {
  assertNothingMissing,
  extraFileRequests,
  foundByText,
  libraryReason,
  libraryRequests,
  loaderCacheRequest,
  programRequests,
  type FileRequest,
  type RootContext,
} from './resolution-files';
import type { ImageEntry, StagedFile, StagedRole, StagingPlan, SysrootPlanInput } from './types';

/** Permission bits recorded for generated files and for symlinks, as Linux shows them. */
const GENERATED_MODE = 0o644;
const SYMLINK_MODE = 0o777;

/**
 * Plans the image's files. Throws SysrootPlanError when a library is
 * missing, when two sources claim one path with different contents, or when
 * two paths differ only by letter case.
 */
export async function planSysroot(input: SysrootPlanInput): Promise<StagingPlan> {
  const deferred = await stageSysroot(input, false);
  return deferred.complete(new Map());
}

/**
 * A staging plan that leaves hashing to the image writer for host files
 * whose digest `input.digests` does not know yet, so that each of them is
 * read once, while it is copied.
 */
export interface DeferredStagingPlan {
  /** Image entries; file entries without `sha256` are the ones left unhashed. */
  entries: ImageEntry[];
  warnings: string[];
  /**
   * Returns the full plan, given the SHA-256 (lower-case hex) of each file
   * entry that had none, by image path, and hands those digests to
   * `input.digests` for the next build. Throws when one is missing.
   */
  complete(written: ReadonlyMap<string, string>): StagingPlan;
}

/** `planSysroot` with hashing left to the image writer; see DeferredStagingPlan. */
export async function planSysrootDeferred(input: SysrootPlanInput): Promise<DeferredStagingPlan> {
  return stageSysroot(input, true);
}

async function stageSysroot(input: SysrootPlanInput, deferHashing: boolean): Promise<DeferredStagingPlan> {
  const { resolution } = input;
  const sysroot = path.resolve(input.sysroot);
  if (sysroot !== resolution.sysroot) {
    throw new SysrootPlanError('invalid-input', `The resolution was made in the root ${resolution.sysroot}, not in ${sysroot}; resolve the program with the same sysroot.`);
  }
  const programImagePath = normalizeImagePath(input.programImagePath, 'programImagePath');
  if (programImagePath === '/') throw new SysrootPlanError('invalid-input', 'programImagePath is the image root; give the program a file path such as /app.');
  const cwd = normalizeImagePath(input.cwd ?? '/', 'cwd');
  assertNothingMissing(resolution);

  const warnings: string[] = [];
  const files = input.files ?? [];
  const dirs = input.dirs ?? [];
  const mounts = packedMounts(files, dirs);
  // Paths inside the root map to host files through the mounts each
  // resolution was made with: the caller's for the program, the packed
  // files for the addons resolved here.
  const programContext: RootContext = { rooted: new RootedFs(sysroot, undefined, { mounts: input.resolutionMounts ?? [] }), cwd };
  const addonContext: RootContext = { rooted: new RootedFs(sysroot, undefined, { mounts }), cwd };
  warnIfOriginMoved(input, programImagePath, warnings);

  // 1. The user's files and folders, and the shared objects among them.
  const packed = await collectPackedEntries(files, dirs, warnings);
  const packedFiles = packed.filter((entry) => entry.kind === 'file' && entry.imagePath !== programImagePath);
  const addons =
    resolution.interpreter === undefined
      ? []
      : await resolvePackedSharedObjects({
          packedFiles,
          sysroot,
          mounts,
          program: { machine: resolution.machine, elfClass: resolution.elfClass, libc: resolution.libc.flavour },
          cwd,
          options: input.addonResolve ?? {},
          warnings,
        });

  // 2. What the program and the addons need from the root.
  const addonLibraries = addons.flatMap((addon) => addon.result.libraries);
  const requests: FileRequest[] = [
    ...programRequests(resolution, programImagePath, path.resolve(input.programHostPath), programContext),
    ...libraryRequests(resolution.libraries, programContext, 'library', (library) => libraryReason(library, programImagePath), warnings),
  ];
  const loaderCache = loaderCacheRequest(resolution, [...resolution.libraries, ...addonLibraries], programContext);
  if (loaderCache) requests.push(loaderCache);
  for (const addon of addons) {
    requests.push(...libraryRequests(addon.result.libraries, addonContext, 'addon-dependency', (library) => addonReason(addon.addon, library), warnings));
    requests.push(...extraFileRequests(addon.result.extraFiles, addonContext, ` (for the packed shared object ${addon.addon})`));
  }
  requests.push(...extraFileRequests(resolution.extraFiles, programContext));

  // 3. Hash everything (or look up what is known, when hashing is left to
  //    the writer), then lay it out: packed first, so their symlinks decide
  //    where the other files land.
  const digests = input.digests ?? new FileDigests();
  const digestOf = deferHashing ? digests.lookup.bind(digests) : digests.digest.bind(digests);
  const packedItems = await Promise.all(packed.map((entry) => plannedPackedItem(entry, digestOf)));
  const requestedItems = await Promise.all(requests.map((request) => plannedRequest(request, digestOf)));
  if (deferHashing) await hashSharedPaths(packedItems, requestedItems, digests);

  const table = new ImageTable();
  for (const item of packedItems) table.addPacked(item);
  for (const item of requestedItems) table.place(item);
  table.dropBrokenLinks();
  const items = table.finish();
  warnings.push(...table.warnings);

  const interpreterPath = resolution.interpreter?.path;
  return {
    entries: items.map((item) => toImageEntry(item, item.kind === 'file' ? item.digest.sha256 : undefined)),
    warnings,
    complete: (written) => {
      const sha256s = items.map((item) => supplyDigest(item, written, digests));
      return {
        entries: items.map((item, index) => toImageEntry(item, sha256s[index])),
        records: items.flatMap((item, index) => toRecord(item, sha256s[index])),
        warnings,
        program: programImagePath,
        ...(interpreterPath !== undefined ? { interpreter: absoluteFrom(cwd, interpreterPath) } : {}),
        addons: addons.map(summarizeAddon),
      };
    },
  };
}

/**
 * Hashes the unhashed files that share an image path with another item now,
 * because the image table compares their contents to decide which one stays.
 * Paths are resolved through the packed symlinks as the table resolves them.
 */
async function hashSharedPaths(packedItems: readonly PlannedItem[], requestedItems: readonly PlannedFile[], digests: FileDigests): Promise<void> {
  const links = new ImageTable();
  for (const item of packedItems) {
    if (item.kind !== 'symlink') continue;
    try {
      links.addPacked(item);
    } catch {
      // Two links at one path: the real placement reports it.
    }
  }

  const claims = new Map<string, PlannedItem[]>();
  const claim = (imagePath: string, item: PlannedItem): void => {
    const group = claims.get(imagePath);
    if (group) group.push(item);
    else claims.set(imagePath, [item]);
  };
  for (const item of packedItems) claim(item.path, item);
  for (const item of requestedItems) {
    try {
      claim(links.resolve(item.path, item), item);
    } catch {
      // A symlink cycle or a file used as a folder: the real placement reports it.
    }
  }

  for (const group of claims.values()) {
    if (group.length < 2) continue;
    for (const item of group) {
      if (item.kind === 'file' && item.digest.sha256 === undefined && 'hostPath' in item) item.digest = await digests.digest(item.hostPath, item.path);
    }
  }
}

/** Returns the SHA-256 of a planned file, taking one the writer computed when the plan left it unhashed. */
function supplyDigest(item: PlannedItem, written: ReadonlyMap<string, string>, digests: FileDigests): string | undefined {
  if (item.kind !== 'file') return undefined;
  if (item.digest.sha256 !== undefined) return item.digest.sha256;

  const sha256 = written.get(item.path);
  if (sha256 === undefined || !('hostPath' in item)) {
    throw new SysrootPlanError('invalid-input', `No SHA-256 was given for ${item.path} (${item.origin}), which the plan left for the image writer to hash; pass the digests the writer recorded.`);
  }
  digests.supply(item.hostPath, sha256);
  return sha256;
}

function addonReason(addon: string, library: ResolvedLibrary): string {
  const neededBy = library.neededBy[0];
  const through = neededBy !== undefined && neededBy !== addon ? `DT_NEEDED of ${neededBy}, ` : '';
  return `addon dependency: ${addon} → ${library.name} (${through}found by ${foundByText(library.foundBy)})`;
}

function summarizeAddon(addon: AddonResolution): { path: string; libraries: { name: string; path: string }[] } {
  return { path: addon.addon, libraries: addon.result.libraries.map((library) => ({ name: library.name, path: library.path })) };
}

/**
 * Warns when the program was resolved at another path than its image path
 * and libraries were found through its DT_RPATH or DT_RUNPATH, because
 * `$ORIGIN` there was the resolved path's folder.
 */
function warnIfOriginMoved(input: SysrootPlanInput, programImagePath: string, warnings: string[]): void {
  const resolvedAt = input.resolution.program.realPath;
  if (resolvedAt === programImagePath) return;
  const usesOwnPaths = input.resolution.libraries.some((library) => library.foundBy.rule === 'rpath' || library.foundBy.rule === 'runpath');
  if (!usesOwnPaths) return;
  warnings.push(
    `The program was resolved as ${resolvedAt} but is placed at ${programImagePath}; libraries found through its DT_RPATH or DT_RUNPATH were searched from ${posix.dirname(resolvedAt)}. ` +
      'Resolve it with its folder mounted at its image path so that $ORIGIN matches the image.',
  );
}

type DigestOf = (hostPath: string, label: string) => Promise<FileDigest | UnhashedFile>;

async function plannedPackedItem(entry: PackedEntry, digestOf: DigestOf): Promise<PlannedItem> {
  const base = { path: entry.imagePath, role: 'packed' as const, reason: entry.reason, precedence: 'packed' as const, origin: entry.hostPath };
  switch (entry.kind) {
    case 'file':
      return { ...base, kind: 'file', hostPath: entry.hostPath, digest: await digestOf(entry.hostPath, entry.imagePath) };
    case 'symlink':
      return { ...base, kind: 'symlink', hostPath: entry.hostPath, target: entry.target };
    case 'directory':
      return { ...base, kind: 'directory' };
  }
}

async function plannedRequest(request: FileRequest, digestOf: DigestOf): Promise<PlannedFile> {
  const base = { kind: 'file' as const, path: request.path, role: request.role, reason: request.reason, precedence: request.precedence };
  if ('contents' in request.source) {
    const contents = request.source.contents;
    return { ...base, contents, origin: 'generated', digest: { size: contents.length, sha256: sha256Of(contents), mode: GENERATED_MODE } };
  }
  const hostPath = request.source.hostPath;
  return { ...base, hostPath, origin: hostPath, digest: await digestOf(hostPath, `${request.path} (${request.reason})`) };
}

/**
 * Returns the writer's placement group for a file. Files from the target root
 * (libraries, loader, generated /etc files) change only when that root is
 * updated. The program changes when the user rebuilds it. Packed files, such
 * as the script a Node or Python program runs, change most often. Files that
 * change more often are placed later, so a size change of one moves only the
 * files placed after it and a rebuild rewrites less data.
 */
function placementGroup(role: StagedRole): number {
  if (role === 'packed') return 2;
  return role === 'program' ? 1 : 0;
}

function toImageEntry(item: PlannedItem, sha256: string | undefined): ImageEntry {
  switch (item.kind) {
    case 'directory':
      return { kind: 'directory', path: item.path };
    case 'symlink':
      return { kind: 'symlink', path: item.path, target: item.target };
    case 'file': {
      const group = placementGroup(item.role);
      if ('contents' in item) return { kind: 'file', path: item.path, contents: item.contents, placementGroup: group };
      return { kind: 'file', path: item.path, source: item.hostPath, mode: item.digest.mode, ...(sha256 !== undefined ? { sha256 } : {}), placementGroup: group };
    }
  }
}

function toRecord(item: PlannedItem, sha256: string | undefined): StagedFile[] {
  const common = { path: item.path, role: item.role, reason: item.reason };
  if (item.kind === 'directory') return [];
  if (item.kind === 'symlink') {
    const target = Buffer.from(item.target, 'utf8');
    return [{ ...common, kind: 'symlink', size: target.length, sha256: sha256Of(target), mode: SYMLINK_MODE, source: item.hostPath, target: item.target }];
  }
  return [{ ...common, kind: 'file', size: item.digest.size, sha256: sha256!, mode: item.digest.mode, source: 'contents' in item ? 'generated' : item.hostPath }];
}

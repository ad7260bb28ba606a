// Turns a resolution plus the user's configured files into a staging plan:
// every image path with its source, in a fixed order, with the reason each
// file is there.

import * as path from 'node:path';
import * as posix from 'node:path/posix';

import { RootedFs } from '../resolve/rooted-fs';
import type { ResolvedLibrary } from '../resolve/types';
import { resolvePackedSharedObjects, type AddonResolution } from './addons';
import { SysrootPlanError } from './errors';
import { FileDigests, sha256Of } from './file-digest';
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
import type { ImageEntry, StagedFile, StagingPlan, SysrootPlanInput } from './types';

/** Permission bits recorded for generated files and for symlinks, as Linux shows them. */
const GENERATED_MODE = 0o644;
const SYMLINK_MODE = 0o777;

/**
 * Plans the image's files. Throws SysrootPlanError when a library is
 * missing, when two sources claim one path with different contents, or when
 * two paths differ only by letter case.
 */
export async function planSysroot(input: SysrootPlanInput): Promise<StagingPlan> {
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

  // 3. Hash everything, then lay it out: packed first, so their symlinks
  //    decide where the other files land.
  const digests = new FileDigests();
  const packedItems = await Promise.all(packed.map((entry) => plannedPackedItem(entry, digests)));
  const requestedItems = await Promise.all(requests.map((request) => plannedRequest(request, digests)));

  const table = new ImageTable();
  for (const item of packedItems) table.addPacked(item);
  for (const item of requestedItems) table.place(item);
  table.dropBrokenLinks();
  const items = table.finish();
  warnings.push(...table.warnings);

  const interpreterPath = resolution.interpreter?.path;
  return {
    entries: items.map(toImageEntry),
    records: items.flatMap(toRecord),
    warnings,
    program: programImagePath,
    ...(interpreterPath !== undefined ? { interpreter: absoluteFrom(cwd, interpreterPath) } : {}),
    addons: addons.map(summarizeAddon),
  };
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

async function plannedPackedItem(entry: PackedEntry, digests: FileDigests): Promise<PlannedItem> {
  const base = { path: entry.imagePath, role: 'packed' as const, reason: entry.reason, precedence: 'packed' as const, origin: entry.hostPath };
  switch (entry.kind) {
    case 'file':
      return { ...base, kind: 'file', hostPath: entry.hostPath, digest: await digests.digest(entry.hostPath, entry.imagePath) };
    case 'symlink':
      return { ...base, kind: 'symlink', hostPath: entry.hostPath, target: entry.target };
    case 'directory':
      return { ...base, kind: 'directory' };
  }
}

async function plannedRequest(request: FileRequest, digests: FileDigests): Promise<PlannedFile> {
  const base = { kind: 'file' as const, path: request.path, role: request.role, reason: request.reason, precedence: request.precedence };
  if ('contents' in request.source) {
    const contents = request.source.contents;
    return { ...base, contents, origin: 'generated', digest: { size: contents.length, sha256: sha256Of(contents), mode: GENERATED_MODE } };
  }
  const hostPath = request.source.hostPath;
  return { ...base, hostPath, origin: hostPath, digest: await digests.digest(hostPath, `${request.path} (${request.reason})`) };
}

function toImageEntry(item: PlannedItem): ImageEntry {
  switch (item.kind) {
    case 'directory':
      return { kind: 'directory', path: item.path };
    case 'symlink':
      return { kind: 'symlink', path: item.path, target: item.target };
    case 'file':
      return 'contents' in item ? { kind: 'file', path: item.path, contents: item.contents } : { kind: 'file', path: item.path, source: item.hostPath, mode: item.digest.mode };
  }
}

function toRecord(item: PlannedItem): StagedFile[] {
  const common = { path: item.path, role: item.role, reason: item.reason };
  if (item.kind === 'directory') return [];
  if (item.kind === 'symlink') {
    const target = Buffer.from(item.target, 'utf8');
    return [{ ...common, kind: 'symlink', size: target.length, sha256: sha256Of(target), mode: SYMLINK_MODE, source: item.hostPath, target: item.target }];
  }
  return [{ ...common, kind: 'file', size: item.digest.size, sha256: item.digest.sha256, mode: item.digest.mode, source: 'contents' in item ? 'generated' : item.hostPath }];
}

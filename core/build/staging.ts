// The steps before an image is written, shared by `buildImage` and the Nx
// sysroot executor: the packed files, the program's libraries resolved with
// those files mounted at their image paths, and the input of the sysroot plan.

import type { ImageCopy, ResolvedUnikernelConfig } from '../config';
import type { ResolveResult } from '../resolve/types';
import { packedMounts, type SysrootPlanInput } from '../sysroot';
import { BuildError } from './errors';
import { expandMapDirs } from './map-dirs';
import { resolutionRequest, resolveWithCache, type CachedResolution } from './resolution-cache';

export interface PackedCopies {
  files: { from: string; to: string }[];
  dirs: { from: string; to: string }[];
}

/** Lists the configured files (mapDirs expanded) and folders as host → image copies. */
export function packedCopies(config: ResolvedUnikernelConfig): PackedCopies {
  const toCopy = (copy: ImageCopy) => ({ from: copy.hostPath, to: copy.imagePath });
  return {
    files: [...config.files, ...expandMapDirs(config.mapDirs)].map(toCopy),
    dirs: config.dirs.map(toCopy),
  };
}

/**
 * Resolves the program's libraries and returns the sysroot plan's input.
 * Packed files are mounted at their image paths while resolving, so a
 * program's $ORIGIN-relative RUNPATH finds libraries the project ships.
 * `previous` is the resolution a build cache stored, reused when nothing the
 * resolver read has changed (resolution-cache.ts). Throws BuildError with the
 * resolver's report when a library is missing.
 */
export function stageProgram(
  config: ResolvedUnikernelConfig,
  program: ImageCopy,
  packed: PackedCopies,
  previous?: unknown,
): { resolution: ResolveResult; planInput: SysrootPlanInput; cacheEntry?: CachedResolution; reused: boolean } {
  const mounts = packedMounts(packed.files, packed.dirs);
  const { result: resolution, entry: cacheEntry, reused } = resolveWithCache(resolutionRequest(config, program, mounts), previous);
  if (!resolution.ok) throw BuildError.fromResolution(resolution);

  const planInput: SysrootPlanInput = {
    resolution,
    sysroot: config.sysroot,
    programImagePath: program.imagePath,
    programHostPath: program.hostPath,
    files: packed.files,
    dirs: packed.dirs,
    resolutionMounts: mounts,
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    addonResolve: { env: { ...config.env } },
  };
  return { resolution, planInput, ...(cacheEntry ? { cacheEntry } : {}), reused };
}

// Shapes of a staging plan: which host file or generated text goes to which
// path in the image, and why.

import type { ImageEntry } from '../nanos';
import type { FileDigests } from './file-digest';
import type { RootedMount } from '../resolve/rooted-fs';
import type { IsaLevel, ResolveResult } from '../resolve/types';

export type { ImageEntry };

/** A host file or folder the user configured, and where it goes in the image. */
export interface PackedPath {
  /** Host path. */
  from: string;
  /** Absolute path in the image. */
  to: string;
}

/** Resolver settings for packed shared objects (addons). Use the same values as for the program. */
export interface AddonResolveOptions {
  /** The program's environment in the image; LD_LIBRARY_PATH is read from it. */
  env?: Record<string, string>;
  /** Overrides LD_LIBRARY_PATH from `env`. */
  libraryPath?: string;
  isaLevel?: IsaLevel;
  platform?: string;
  emulateLdconfig?: boolean;
}

export interface SysrootPlanInput {
  /** The program's resolution. */
  resolution: ResolveResult;
  /**
   * The mounts the resolution was made with (ResolverSetup.mounts), so its
   * paths inside the root map to the right host files. Default: none. Pass
   * `packedMounts(files, dirs)` to both when the program loads libraries
   * from packed folders, e.g. through DT_RUNPATH `$ORIGIN/lib`.
   */
  resolutionMounts?: readonly RootedMount[];
  /** Host folder of the target root; must be the root the resolution used. */
  sysroot: string;
  /** Absolute image path of the program. */
  programImagePath: string;
  programHostPath: string;
  /** Host files copied to image paths. Symlinks on the host are followed. */
  files?: PackedPath[];
  /** Host folders copied recursively. Symlinks inside stay symlinks with their target text. */
  dirs?: PackedPath[];
  /** The program's working directory in the image, for relative library paths. Default `/`. */
  cwd?: string;
  addonResolve?: AddonResolveOptions;
  /** Hashes the host files; pass one made with the previous build's digests to skip unchanged files. Default: a new one. */
  digests?: FileDigests;
}

/** Category of the reason a file is in the image. `reason` has the details. */
export type StagedRole =
  | 'program'
  | 'interpreter'
  | 'library'
  | 'addon-dependency'
  | 'loader-cache'
  | 'runtime-file'
  | 'packed';

/** One file or symlink of the image, as the manifest lists it. */
export interface StagedFile {
  /** Absolute path in the image. */
  path: string;
  kind: 'file' | 'symlink';
  /** Bytes of the file, or of the link's target text. */
  size: number;
  /** SHA-256 of the contents (of the target text for a symlink), lower-case hex. */
  sha256: string;
  /** Permission bits of the host file; 0o644 for generated files, 0o777 for symlinks. */
  mode: number;
  /** Host path the contents come from, or `generated`. */
  source: string;
  role: StagedRole;
  reason: string;
  /** Link target text, for symlinks. */
  target?: string;
}

export interface StagingPlan {
  /** Image entries sorted by path in UTF-8 byte order, directories included. */
  entries: ImageEntry[];
  /** Files and symlinks sorted like `entries`. */
  records: StagedFile[];
  warnings: string[];
  /** Image path of the program. */
  program: string;
  /** Image path of the program interpreter (PT_INTERP), absent for static programs. */
  interpreter?: string;
  /** Packed shared objects (addons) and the libraries the loader opens for each. */
  addons: { path: string; libraries: { name: string; path: string }[] }[];
}

// The result of resolving a program, and the options that shape it. The JSON
// printed by `nx-unikernel ldd --json` is this result as is, so every field here
// is part of a documented, versioned schema (see RESOLVE_SCHEMA_VERSION).

import type { Classification, ElfClass, LibcFlavour } from '../elf/types';

/** Bumped whenever a field of ResolveResult changes meaning or is removed. */
export const RESOLVE_SCHEMA_VERSION = 1;

export type IsaLevel = 1 | 2 | 3 | 4;

export interface ResolveOptions {
  /** Folder used as the target's root; every path is resolved inside it. Default `/`. */
  sysroot?: string;
  /** The program's environment in the image; LD_LIBRARY_PATH and LD_PRELOAD are read from it. */
  env?: Record<string, string>;
  /** Overrides LD_LIBRARY_PATH from `env`. */
  libraryPath?: string;
  /** The process's working directory inside the root, for relative paths. Default `/`. */
  cwd?: string;
  /**
   * x86-64 micro-architecture level of the guest CPU, which picks glibc-hwcaps
   * subfolders. Default: the host's level when host and target are both x86_64,
   * else 1 (baseline).
   */
  isaLevel?: IsaLevel;
  /** The AT_PLATFORM string that `$PLATFORM` expands to. Default: the machine's name, e.g. `x86_64`. */
  platform?: string;
  /**
   * Build the ld.so.cache view from the root's /etc/ld.so.conf, as `ldconfig -r ROOT`
   * would, when the root has no /etc/ld.so.cache. Off by default, because the real
   * loader reads only the cache file.
   */
  emulateLdconfig?: boolean;
  /** Path of the program in the image, which sets its `$ORIGIN`. Default: its path in the root or a mount, else `/<file name>`. */
  imagePath?: string;
  /** Accept a shared library as the starting object and list its dependencies, as `ldd libfoo.so` does. */
  allowSharedLibrary?: boolean;
}

/** The search phase that found a library, named after glibc's phases (elf/dl-load.c). */
export type FoundBy =
  | { rule: 'interpreter' }
  | { rule: 'preload'; source: 'LD_PRELOAD' | '/etc/ld.so.preload' }
  | { rule: 'path' }
  | { rule: 'rpath'; owner: string }
  | { rule: 'ld-library-path' }
  | { rule: 'runpath'; owner: string }
  | { rule: 'ld-so-cache' }
  | { rule: 'system-dir' }
  | { rule: 'already-loaded'; match: 'name' | 'soname' | 'inode' };

export interface ResolvedLibrary {
  /** The DT_NEEDED (or preload, or dlopen) name under which it was first requested. */
  name: string;
  soname?: string;
  /** The path the loader opened, as ld.so prints it: search folder + name, or the cache entry. */
  path: string;
  /** The same file with every symlink resolved inside the root. */
  realPath: string;
  /** Display paths of the objects whose DT_NEEDED lists this library, first requester first. */
  neededBy: string[];
  foundBy: FoundBy;
  /** glibc-hwcaps subfolder it came from, e.g. `x86-64-v3`, when one was used. */
  hwcaps?: string;
  /** Breadth-first depth: 1 for the program's own DT_NEEDED. */
  depth: number;
  /** Loaded only at run time with dlopen (NSS modules, libgcc_s.so.1), not through DT_NEEDED. */
  runtime?: { reason: string };
}

export type SearchPhase =
  | 'rpath'
  | 'LD_LIBRARY_PATH'
  | 'runpath'
  | 'ld.so.cache'
  | 'system-dir'
  | 'path'
  | 'musl-path';

/** A folder the search looked in for one name. */
export interface SearchedFolder {
  phase: SearchPhase;
  /** For rpath and runpath: the object the path list belongs to. */
  owner?: string;
  folder: string;
}

/** A file with the right name that the loader would not use. */
export interface RejectedCandidate {
  path: string;
  reason: string;
  /** `skip`: the search goes on; `fatal`: the real loader stops the whole program here. */
  outcome: 'skip' | 'fatal' | 'stop-list';
}

export interface MissingLibrary {
  name: string;
  /** Display paths from the program down to the object whose DT_NEEDED names the library. */
  chain: string[];
  kind: 'not-found' | 'fatal' | 'version';
  /** For `fatal` and `version`: the loader's reason, e.g. "invalid ELF header". */
  reason?: string;
  searched: SearchedFolder[];
  rejected: RejectedCandidate[];
  /** Fixes the user can apply. */
  suggestions: string[];
  runtime?: { reason: string };
}

/** A file that is not a DT_NEEDED library but is read at run time. */
export interface ExtraFile {
  /** Absolute path in the image. */
  path: string;
  /** The source of the contents: a file in the root, or text the tool generates. */
  source: { kind: 'root'; path: string } | { kind: 'generated'; contents: string };
  reason: string;
}

export interface Diagnostic {
  level: 'error' | 'warning' | 'info';
  message: string;
}

export interface ResolveResult {
  schemaVersion: number;
  /** The program as given, and its path inside the root. */
  program: { path: string; realPath: string };
  sysroot: string;
  elfClass: ElfClass;
  machine: string;
  classification: Classification;
  /** PT_INTERP as written and where it is inside the root; absent for static programs. */
  interpreter?: {
    path: string;
    realPath?: string;
    /** The glibc loader's built-in library folders, read from the loader file. Absent for musl and when the file is unreadable. */
    systemDirs?: string[];
  };
  libc: { flavour: LibcFlavour; version?: string };
  /** Found libraries in load order (breadth-first, as ld.so maps them), the interpreter excluded. */
  libraries: ResolvedLibrary[];
  missing: MissingLibrary[];
  extraFiles: ExtraFile[];
  diagnostics: Diagnostic[];
  /** True when nothing is missing and no error diagnostic was raised. */
  ok: boolean;
}

// The objects of one program's load, as the dynamic loader keeps them in its
// link map list (glibc's struct link_map, musl's struct dso), reduced to what
// resolution needs.

import type { ElfInfo } from '../elf/types';
import type { FoundBy } from './types';

export interface LoadedObject {
  /** The names it was requested under (DT_NEEDED strings, preload names, PT_INTERP). */
  names: Set<string>;
  soname?: string;
  /** The path the loader opened: search folder + name, or the ld.so.cache value. */
  displayPath: string;
  /** The canonical path inside the root. */
  realPath: string;
  /** Device and inode, so two names for one file give one object, as in the loader. */
  identity: string;
  elf: ElfInfo;
  /**
   * The object whose request loaded this one first. glibc follows this chain,
   * not every parent, for the inherited DT_RPATH (elf/dl-load.c, l_loader).
   */
  loader?: LoadedObject;
  /** Folder that `$ORIGIN` expands to for this object's own path lists. */
  origin: string;
  depth: number;
  role: 'program' | 'interpreter' | 'library';
  foundBy: FoundBy;
  hwcaps?: string;
  neededBy: LoadedObject[];
  runtime?: { reason: string };
}

/** Lists the display paths from the program down to `object`, following loaders. */
export function loaderChain(object: LoadedObject): string[] {
  const chain: string[] = [];
  for (let current: LoadedObject | undefined = object; current; current = current.loader) {
    chain.unshift(current.displayPath);
  }
  return chain;
}

// Turns the caller's list of image entries into a directory tree: paths are
// validated, parent directories are implied, names are sorted by UTF-8 bytes,
// and the sizes of host source files are read.

import { statSync } from 'node:fs';

import { NanosImageError } from './errors';

export type ImageEntry =
  | {
      kind: 'file';
      /** Absolute path in the image. */
      path: string;
      /** Host path of the contents. Symlinks are followed, as Nanos mkfs does. */
      source: string;
      /** Accepted for callers that track modes, but TFS stores no permission bits, so the image does not record it. */
      mode?: number;
      /**
       * SHA-256 of the contents in lower-case hex, when the caller already
       * knows it. The writer then does not hash the file, and a rebuild reuses
       * its data from the previous image when digest and extents are unchanged.
       * A wrong digest gives a wrong UUID and can keep stale data in a rebuild.
       */
      sha256?: string;
      /**
       * Files are placed in ascending group order, in tree order within a
       * group. Default 0. Put files that change between builds in a higher
       * group: when one changes size, only the files placed after it move.
       */
      placementGroup?: number;
    }
  | {
      kind: 'file';
      path: string;
      contents: Uint8Array;
      /** See the `source` form. */
      placementGroup?: number;
    }
  | { kind: 'directory'; path: string }
  | { kind: 'symlink'; path: string; /** Raw link target, relative or absolute. */ target: string };

export interface TreeFile {
  kind: 'file';
  path: string;
  source?: string;
  contents?: Uint8Array;
  /** Size in bytes. For a source file, `readSourceSizes` sets it. */
  size: number;
  /** SHA-256 of the contents as the caller gave it, lower-case hex. */
  sha256?: string;
  placementGroup: number;
  /** Index of the entry in the caller's list, or -1 for files the writer adds (the kernel, klibs). */
  entryIndex: number;
}

export interface TreeSymlink {
  kind: 'symlink';
  path: string;
  target: string;
  entryIndex: number;
}

export interface TreeDirectory {
  kind: 'directory';
  path: string;
  /** Children by name, in UTF-8 byte order once the tree is built. */
  children: Map<string, TreeNode>;
  /** Index of the explicit entry, or -1 when the directory is only implied by a deeper path. */
  entryIndex: number;
}

export type TreeNode = TreeFile | TreeSymlink | TreeDirectory;

/** Linux PATH_MAX, which the kernel applies to link targets. */
const PATH_MAX = 4096;

function describeEntry(entry: ImageEntry, index: number): string {
  if (entry.kind === 'file' && 'source' in entry) return `entry ${index} (file ${entry.path} from ${entry.source})`;
  return `entry ${index} (${entry.kind} ${entry.path})`;
}

function describeNode(node: TreeNode, entries: readonly ImageEntry[]): string {
  const entry = entries[node.entryIndex];
  if (entry) return describeEntry(entry, node.entryIndex);
  return `the directory ${node.path} implied by deeper paths`;
}

function invalidEntry(entry: ImageEntry, index: number, reason: string): NanosImageError {
  return new NanosImageError('invalid-entry', `Image ${describeEntry(entry, index)}: ${reason}`);
}

function splitPath(entry: ImageEntry, index: number): string[] {
  const path: unknown = entry.path;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw invalidEntry(entry, index, 'the path is not absolute; image paths start with "/".');
  }
  if (path === '/') throw invalidEntry(entry, index, 'the path is the root directory, which always exists; remove the entry.');
  if (path.endsWith('/')) throw invalidEntry(entry, index, 'the path ends with "/"; remove the trailing slash.');
  if (path.includes('\0')) throw invalidEntry(entry, index, 'the path contains a NUL character.');

  const names = path.slice(1).split('/');
  for (const name of names) {
    if (name === '' || name === '.' || name === '..') {
      throw invalidEntry(entry, index, `the path has an empty, "." or ".." component; write it in normalized form such as "/usr/lib/x".`);
    }
  }
  return names;
}

function validateEntry(entry: ImageEntry, index: number): void {
  if (entry === null || typeof entry !== 'object') {
    throw new NanosImageError('invalid-entry', `Image entry ${index} is not an object; pass { kind, path, ... }.`);
  }

  switch (entry.kind) {
    case 'file': {
      const hasSource = 'source' in entry && entry.source !== undefined;
      const hasContents = 'contents' in entry && entry.contents !== undefined;
      if (hasSource === hasContents) throw invalidEntry(entry, index, 'a file needs exactly one of `source` (a host path) and `contents` (bytes).');
      if (hasSource && (typeof entry.source !== 'string' || entry.source === '')) throw invalidEntry(entry, index, '`source` is not a host path.');
      if (hasContents && !((entry as { contents: unknown }).contents instanceof Uint8Array)) throw invalidEntry(entry, index, '`contents` is not a Uint8Array.');
      const sha256: unknown = (entry as { sha256?: unknown }).sha256;
      if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) {
        throw invalidEntry(entry, index, '`sha256` is not 64 lower-case hex digits; pass the SHA-256 of the contents or leave it out.');
      }
      const group: unknown = entry.placementGroup;
      if (group !== undefined && (typeof group !== 'number' || !Number.isSafeInteger(group) || group < 0)) {
        throw invalidEntry(entry, index, '`placementGroup` is not a whole number of 0 or more.');
      }
      return;
    }
    case 'symlink': {
      const target: unknown = entry.target;
      if (typeof target !== 'string' || target === '') throw invalidEntry(entry, index, 'the link target is empty; give the path the link points to.');
      if (target.includes('\0')) throw invalidEntry(entry, index, 'the link target contains a NUL character.');
      if (Buffer.byteLength(target, 'utf8') >= PATH_MAX) throw invalidEntry(entry, index, `the link target is ${Buffer.byteLength(target)} bytes; the kernel resolves targets shorter than ${PATH_MAX}.`);
      return;
    }
    case 'directory':
      return;
    default:
      throw new NanosImageError(
        'invalid-entry',
        `Image entry ${index} has kind ${JSON.stringify((entry as { kind: unknown }).kind)}; use "file", "directory" or "symlink".`,
      );
  }
}

function nodeForEntry(entry: ImageEntry, index: number): TreeNode {
  switch (entry.kind) {
    case 'file': {
      const placementGroup = entry.placementGroup ?? 0;
      if ('contents' in entry) return { kind: 'file', path: entry.path, contents: entry.contents, size: entry.contents.length, placementGroup, entryIndex: index };
      return { kind: 'file', path: entry.path, source: entry.source, size: 0, ...(entry.sha256 !== undefined ? { sha256: entry.sha256 } : {}), placementGroup, entryIndex: index };
    }
    case 'symlink':
      return { kind: 'symlink', path: entry.path, target: entry.target, entryIndex: index };
    case 'directory':
      return { kind: 'directory', path: entry.path, children: new Map(), entryIndex: index };
  }
}

function sortChildren(directory: TreeDirectory): void {
  const keyed = [...directory.children.keys()].map((name) => ({ name, bytes: Buffer.from(name, 'utf8') }));
  keyed.sort((left, right) => Buffer.compare(left.bytes, right.bytes));
  const sorted = new Map(keyed.map(({ name }) => [name, directory.children.get(name)!]));
  directory.children = sorted;
  for (const child of sorted.values()) {
    if (child.kind === 'directory') sortChildren(child);
  }
}

/**
 * Builds the root directory of the image from `entries`. Throws an
 * `invalid-entry` error for a malformed entry. Throws a `duplicate-entry`
 * error naming both entries for two entries with one path, for a path below a
 * file or symlink, and for names in one directory that differ only in case.
 * Such names would collide when the tree is unpacked on a case-insensitive host.
 */
export function buildImageTree(entries: readonly ImageEntry[]): TreeDirectory {
  const root: TreeDirectory = { kind: 'directory', path: '/', children: new Map(), entryIndex: -1 };
  const foldedNames = new Map<TreeDirectory, Map<string, string>>();

  entries.forEach((entry, index) => {
    validateEntry(entry, index);
    const names = splitPath(entry, index);

    let directory = root;
    let path = '';
    names.forEach((name, depth) => {
      path += `/${name}`;
      const isLast = depth === names.length - 1;
      const existing = directory.children.get(name);

      if (existing === undefined) {
        let folded = foldedNames.get(directory);
        if (!folded) foldedNames.set(directory, (folded = new Map()));
        const clash = folded.get(name.toLowerCase());
        if (clash !== undefined) {
          throw new NanosImageError(
            'duplicate-entry',
            `Image ${describeEntry(entry, index)} differs only in case from ${describeNode(directory.children.get(clash)!, entries)}; rename one of them.`,
          );
        }
        folded.set(name.toLowerCase(), name);

        const created: TreeNode = isLast ? nodeForEntry(entry, index) : { kind: 'directory', path, children: new Map(), entryIndex: -1 };
        directory.children.set(name, created);
        if (created.kind === 'directory') directory = created;
        return;
      }

      if (isLast) {
        if (existing.kind === 'directory' && entry.kind === 'directory' && existing.entryIndex < 0) {
          existing.entryIndex = index;
          return;
        }
        throw new NanosImageError('duplicate-entry', `Image ${describeEntry(entry, index)} has the same path as ${describeNode(existing, entries)}; keep one of them.`);
      }

      if (existing.kind !== 'directory') {
        throw new NanosImageError(
          'duplicate-entry',
          `Image ${describeEntry(entry, index)} needs ${path} to be a directory, but ${describeNode(existing, entries)} makes it a ${existing.kind}.`,
        );
      }
      directory = existing;
    });
  });

  sortChildren(root);
  return root;
}

/** Yields every file of the tree in depth-first order, children in map order. */
export function* walkFiles(directory: TreeDirectory): Generator<TreeFile> {
  for (const child of directory.children.values()) {
    if (child.kind === 'file') yield child;
    else if (child.kind === 'directory') yield* walkFiles(child);
  }
}

/** Returns the node at an absolute image path, or undefined. */
export function findNode(root: TreeDirectory, path: string): TreeNode | undefined {
  let node: TreeNode = root;
  for (const name of path.split('/').filter((part) => part !== '')) {
    if (node.kind !== 'directory') return undefined;
    const child: TreeNode | undefined = node.children.get(name);
    if (!child) return undefined;
    node = child;
  }
  return node;
}

/** Linux's limit on symlinks followed in one path lookup (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * Resolves an absolute image path, following symlinks and ".." the way a
 * path lookup in the guest does. Returns undefined when a component is
 * missing, a file is used as a directory, or more than 40 links are followed.
 */
export function resolvePath(root: TreeDirectory, path: string): TreeNode | undefined {
  let remaining = path.split('/').filter((part) => part !== '');
  let directories: TreeDirectory[] = [root];
  let node: TreeNode = root;
  let links = 0;

  while (remaining.length > 0) {
    const name = remaining.shift()!;
    const directory = directories[directories.length - 1]!;

    if (name === '.' || name === '..') {
      if (name === '..' && directories.length > 1) directories.pop();
      node = directories[directories.length - 1]!;
      continue;
    }

    const child = directory.children.get(name);
    if (!child) return undefined;

    if (child.kind === 'symlink') {
      links += 1;
      if (links > MAX_SYMLINKS) return undefined;
      if (child.target.startsWith('/')) directories = [root];
      remaining = [...child.target.split('/').filter((part) => part !== ''), ...remaining];
      node = directories[directories.length - 1]!;
    } else if (child.kind === 'directory') {
      directories.push(child);
      node = child;
    } else {
      if (remaining.length > 0) return undefined;
      node = child;
    }
  }
  return node;
}

/**
 * Reads the size of every source file, following symlinks. Throws a
 * `missing-source` error naming the source and the image path when a source
 * does not exist or is not a regular file. The calls are synchronous because
 * a stat of a cached inode costs less than a thread-pool round trip.
 */
export function readSourceSizes(files: readonly TreeFile[]): void {
  for (const file of files) {
    const source = file.source;
    if (source === undefined) continue;

    let info;
    try {
      info = statSync(source);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new NanosImageError(
        'missing-source',
        `Source ${source} for image file ${file.path} cannot be read (${code}); check the path or remove the entry.`,
        source,
        { cause: error },
      );
    }
    if (!info.isFile()) {
      throw new NanosImageError(
        'missing-source',
        `Source ${source} for image file ${file.path} is not a regular file; add a directory entry or point at a file.`,
        source,
      );
    }
    file.size = info.size;
  }
}

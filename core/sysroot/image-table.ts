// The image as it is being planned: one item per path, the rules for two
// items at one path, and path resolution through the symlinks that packed
// folders bring into the image.

import * as posix from 'node:path/posix';

import { compareByteOrder, MAX_SYMLINK_HOPS } from '../resolve/rooted-fs';
import { SysrootPlanError } from './errors';
import type { FileDigest, UnhashedFile } from './file-digest';
import { parentFolders } from './image-path';
import type { StagedRole } from './types';

/**
 * Rank of an item at a path that two items claim. Packed files are the
 * user's choice. Required files (program, loader, libraries) must be exactly
 * what was resolved. Runtime files (generated /etc files) give way to packed ones.
 */
export type Precedence = 'packed' | 'required' | 'runtime-file';

interface ItemBase {
  path: string;
  role: StagedRole;
  reason: string;
  precedence: Precedence;
  /** Names the item in error messages: a host path, or where generated text came from. */
  origin: string;
}

/** A file; its digest can be left unhashed while no other item claims its path. */
export type PlannedFile = ItemBase & { kind: 'file'; digest: FileDigest | UnhashedFile } & ({ hostPath: string } | { contents: Uint8Array });
export type PlannedSymlink = ItemBase & { kind: 'symlink'; target: string; hostPath: string };
export type PlannedDirectory = ItemBase & { kind: 'directory' };
export type PlannedItem = PlannedFile | PlannedSymlink | PlannedDirectory;

export class ImageTable {
  private readonly items = new Map<string, PlannedItem>();
  readonly warnings: string[] = [];

  /** Adds an item at its own path; only packed items may be symlinks or directories. */
  addPacked(item: PlannedItem): void {
    const existing = this.items.get(item.path);
    if (!existing) {
      this.items.set(item.path, item);
      return;
    }
    if (sameContents(existing, item)) return;
    throw duplicate(existing, item);
  }

  /**
   * Adds a file at the path the guest kernel reaches from `item.path`,
   * following symlinks that packed folders put into the image.
   */
  place(item: PlannedFile): void {
    const physical = this.resolve(item.path, item);
    const placed = physical === item.path ? item : { ...item, path: physical };
    const existing = this.items.get(physical);
    if (!existing) {
      this.items.set(physical, placed);
      return;
    }
    if (sameContents(existing, placed)) {
      // The same bytes: the record keeps the more telling reason, e.g.
      // "addon dependency" over "configured in dirs".
      if (existing.precedence === 'packed' && placed.precedence === 'required') this.items.set(physical, placed);
      return;
    }

    if (existing.precedence === 'packed' && placed.precedence === 'runtime-file' && existing.kind === 'file') {
      this.warnings.push(`${physical}: the packed file ${existing.origin} is used instead of the generated one (${placed.reason}).`);
      return;
    }
    throw duplicate(existing, placed);
  }

  /**
   * Resolves `imagePath` through the planned symlinks the way the Linux
   * kernel walks a path: physically, absolute targets from the image root,
   * at most 40 links. Folders that no item names yet are taken as folders.
   */
  resolve(imagePath: string, item?: PlannedItem): string {
    const pending = imagePath.split('/').reverse();
    const current: string[] = [];
    let hops = 0;

    while (pending.length > 0) {
      const name = pending.pop() as string;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        current.pop();
        continue;
      }

      const childPath = `/${[...current, name].join('/')}`;
      const child = this.items.get(childPath);
      if (child?.kind === 'symlink') {
        hops += 1;
        if (hops > MAX_SYMLINK_HOPS) {
          throw new SysrootPlanError(
            'path-conflict',
            `${describe(imagePath, item)} passes more than ${MAX_SYMLINK_HOPS} symlinks in the image (last ${childPath} -> ${child.target}); fix the symlink cycle in the packed folder.`,
          );
        }
        if (child.target.startsWith('/')) current.length = 0;
        const parts = child.target.split('/');
        for (let index = parts.length - 1; index >= 0; index -= 1) pending.push(parts[index] as string);
        continue;
      }
      if (child?.kind === 'file' && pending.some((part) => part !== '' && part !== '.')) {
        throw new SysrootPlanError(
          'path-conflict',
          `${describe(imagePath, item)} needs ${childPath} to be a folder, but it is the file from ${child.origin} (${child.reason}); move one of them.`,
        );
      }
      current.push(name);
    }
    return `/${current.join('/')}`;
  }

  /**
   * Removes packed symlinks whose target is not in the image, with a warning,
   * as OPS skips broken links. Repeats, since a removed link can break another.
   */
  dropBrokenLinks(): void {
    let removed = true;
    while (removed) {
      removed = false;
      const folders = new Set(['/']);
      for (const path of this.items.keys()) for (const folder of parentFolders(path)) folders.add(folder);

      for (const item of this.items.values()) {
        if (item.kind !== 'symlink') continue;
        const target = item.target.startsWith('/') ? item.target : posix.join(posix.dirname(item.path), item.target);
        if (this.exists(target, folders)) continue;
        this.items.delete(item.path);
        this.warnings.push(`Skipped the symlink ${item.path} -> ${item.target} (from ${item.hostPath}): its target is not in the image.`);
        removed = true;
      }
    }
  }

  private exists(imagePath: string, folders: ReadonlySet<string>): boolean {
    try {
      const physical = this.resolve(imagePath);
      return this.items.has(physical) || folders.has(physical);
    } catch {
      return false;
    }
  }

  /**
   * Returns every item plus the folders the paths imply, sorted by UTF-8 byte
   * order. Throws for a path below a file or symlink and for paths that
   * differ only by letter case.
   */
  finish(): PlannedItem[] {
    const all = new Map(this.items);
    for (const item of this.items.values()) {
      for (const folder of parentFolders(item.path)) {
        const above = all.get(folder);
        if (!above) {
          all.set(folder, { kind: 'directory', path: folder, role: item.role, reason: `folder of ${item.path}`, precedence: item.precedence, origin: `the folder above ${item.path}` });
        } else if (above.kind !== 'directory') {
          throw new SysrootPlanError(
            'path-conflict',
            `${item.path} (${item.origin}) lies below ${folder}, which is a ${above.kind} from ${above.origin}; an image path cannot be both. Move one of them.`,
          );
        }
      }
    }

    const sorted = [...all.values()].sort((left, right) => compareByteOrder(left.path, right.path));
    checkLetterCase(sorted);
    return sorted;
  }
}

/**
 * Rejects two paths that differ only by letter case. Checkouts and caches on
 * case-insensitive volumes (macOS, Windows defaults) keep only one of them.
 */
function checkLetterCase(items: readonly PlannedItem[]): void {
  const byFolded = new Map<string, PlannedItem>();
  for (const item of items) {
    const folded = item.path.toLowerCase();
    const other = byFolded.get(folded);
    if (other) {
      throw new SysrootPlanError(
        'case-collision',
        `Image paths ${other.path} (${other.origin}) and ${item.path} (${item.origin}) differ only by letter case; a case-insensitive volume (macOS, Windows) keeps only one of them. Rename one.`,
      );
    }
    byFolded.set(folded, item);
  }
}

function sameContents(left: PlannedItem, right: PlannedItem): boolean {
  if (left.kind === 'file' && right.kind === 'file') return left.digest.sha256 !== undefined && left.digest.sha256 === right.digest.sha256;
  if (left.kind === 'symlink' && right.kind === 'symlink') return left.target === right.target;
  return left.kind === 'directory' && right.kind === 'directory';
}

function duplicate(existing: PlannedItem, added: PlannedItem): SysrootPlanError {
  const describeSource = (item: PlannedItem) => (item.kind === 'file' ? `${item.origin} (${item.reason})` : `a ${item.kind} from ${item.origin} (${item.reason})`);
  return new SysrootPlanError(
    'duplicate-path',
    `Image path ${added.path} comes from two sources with different contents: ${describeSource(existing)} and ${describeSource(added)}. Remove one of them from files or dirs, or place it at another path.`,
  );
}

function describe(imagePath: string, item: PlannedItem | undefined): string {
  return item ? `${imagePath} (${item.origin})` : imagePath;
}

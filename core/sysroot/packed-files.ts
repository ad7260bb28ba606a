// The user's configured files and folders: walked on the host, and shown to
// the resolver as mounts so packed shared objects resolve at their image paths.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as posix from 'node:path/posix';

import type { RootedMount } from '../resolve/rooted-fs';
import { SysrootPlanError } from './errors';
import { normalizeImagePath } from './image-path';
import type { PackedPath } from './types';

/** One entry found in a packed folder or listed in files. */
export type PackedEntry =
  | { kind: 'file'; imagePath: string; hostPath: string; reason: string }
  | { kind: 'symlink'; imagePath: string; hostPath: string; target: string; reason: string }
  | { kind: 'directory'; imagePath: string; hostPath: string; reason: string };

/**
 * Returns the mounts that show packed folders and files at their image
 * paths, for `ResolverSetup.mounts`. When two folders go to one image path,
 * only the first is mounted.
 */
export function packedMounts(files: readonly PackedPath[] = [], dirs: readonly PackedPath[] = []): RootedMount[] {
  const mounts = new Map<string, RootedMount>();
  // NOTE: folders merged at one image path are seen by the resolver as the first folder only.
  for (const entry of [...dirs, ...files]) {
    const imagePath = normalizeImagePath(entry.to, `packed ${entry.from}`);
    if (!mounts.has(imagePath)) mounts.set(imagePath, { imagePath, hostPath: path.resolve(entry.from) });
  }
  return [...mounts.values()];
}

/** Lists everything `files` and `dirs` put into the image. Skipped entries add a warning. */
export async function collectPackedEntries(files: readonly PackedPath[], dirs: readonly PackedPath[], warnings: string[]): Promise<PackedEntry[]> {
  const entries: PackedEntry[] = [];

  for (const file of files) {
    const hostPath = path.resolve(file.from);
    const imagePath = normalizeImagePath(file.to, `files entry ${file.from}`);
    const stats = await statOrThrow(hostPath, `files entry ${file.from}`);
    if (stats.isDirectory()) {
      throw new SysrootPlanError('invalid-input', `files entry ${file.from} is a folder; list folders in dirs, which copies them recursively.`);
    }
    if (!stats.isFile()) throw new SysrootPlanError('invalid-input', `files entry ${file.from} is not a regular file; give a regular file.`);
    if (imagePath === '/') throw new SysrootPlanError('invalid-input', `files entry ${file.from} has the image root as its path; give a file path such as /app/config.json.`);
    entries.push({ kind: 'file', imagePath, hostPath, reason: `configured in files (${hostPath})` });
  }

  for (const dir of dirs) {
    const hostPath = path.resolve(dir.from);
    const imagePath = normalizeImagePath(dir.to, `dirs entry ${dir.from}`);
    const stats = await statOrThrow(hostPath, `dirs entry ${dir.from}`);
    if (!stats.isDirectory()) {
      throw new SysrootPlanError('invalid-input', `dirs entry ${dir.from} is not a folder; list single files in files.`);
    }
    const reason = `configured in dirs (${hostPath})`;
    if (imagePath !== '/') entries.push({ kind: 'directory', imagePath, hostPath, reason });
    await walkFolder(hostPath, imagePath, reason, entries, warnings);
  }
  return entries;
}

/**
 * Walks a host folder without following symlinks, as OPS does for Dirs:
 * symlinks are kept with their target text, other special files skipped.
 */
async function walkFolder(hostFolder: string, imageFolder: string, reason: string, entries: PackedEntry[], warnings: string[]): Promise<void> {
  const names = (await fs.readdir(hostFolder)).sort();
  for (const name of names) {
    const hostPath = path.join(hostFolder, name);
    const imagePath = posix.join(imageFolder, name);
    const stats = await fs.lstat(hostPath);

    if (stats.isSymbolicLink()) {
      entries.push({ kind: 'symlink', imagePath, hostPath, target: await fs.readlink(hostPath), reason });
    } else if (stats.isDirectory()) {
      entries.push({ kind: 'directory', imagePath, hostPath, reason });
      await walkFolder(hostPath, imagePath, reason, entries, warnings);
    } else if (stats.isFile()) {
      entries.push({ kind: 'file', imagePath, hostPath, reason });
    } else {
      warnings.push(`Skipped ${hostPath}: it is a device, FIFO or socket, which the image cannot contain.`);
    }
  }
}

async function statOrThrow(hostPath: string, label: string) {
  try {
    return await fs.stat(hostPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new SysrootPlanError('invalid-input', `${label}: ${hostPath} cannot be read (${code}); check the path in the configuration.`, { cause: error });
  }
}

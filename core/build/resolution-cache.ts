// Reuses the previous build's library resolution when nothing it read has
// changed. Resolving a large program such as node reads its ELF tables, the
// loader's built-in folders, /etc/ld.so.cache and many folder listings, which
// costs more than patching the image on a rebuild. While resolving, every
// host path the resolver touches is recorded with its status at first touch:
// for files the device, inode, mode, size, mtime and ctime (as make and git
// trust file status instead of contents), for folders their identity and,
// where the resolver listed one, a digest of the names in it. A lookup that
// failed records the error, so a library added later changes the status of
// its own path. The next build reuses the result only when the same request
// finds every recorded path in the same state.
//
// NOTE: like every status-based cache, it misses an edit that keeps the size
// and lands within one timestamp tick of the recorded status, or one whose
// mtime and ctime were set back.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

import type { ResolvedUnikernelConfig } from '../config';
import { hostIsaLevel } from '../resolve/isa-level';
import { Resolver } from '../resolve/resolver';
import type { HostIo, RootedMount } from '../resolve/rooted-fs';
import { RESOLVE_SCHEMA_VERSION, type ResolveResult } from '../resolve/types';

/** Bumped whenever the resolver's rules change in a way that could change a result. */
export const RESOLUTION_CACHE_VERSION = 1;

export interface CachedResolution {
  /** Everything about the request that is not a file: options, mounts, CPU level and versions. */
  key: string;
  /**
   * Every host path the resolver touched, with its status: `l:` and the path
   * for the path itself, `f:` for what it leads to, and `d:` for a listed folder.
   */
  inputs: Array<[string, string]>;
  result: ResolveResult;
}

export interface ResolutionRequest {
  sysroot: string;
  mounts: readonly RootedMount[];
  programHostPath: string;
  imagePath: string;
  env: Record<string, string>;
  cwd?: string;
}

/**
 * Returns the request's resolution, from `previous` when it is still valid,
 * and the entry to store for the next build, unless a file it read changed
 * too recently to be trusted.
 */
export function resolveWithCache(request: ResolutionRequest, previous: unknown): { result: ResolveResult; entry?: CachedResolution; reused: boolean } {
  const isaLevel = hostIsaLevel();
  const key = JSON.stringify({ version: RESOLUTION_CACHE_VERSION, schema: RESOLVE_SCHEMA_VERSION, isaLevel, ...request });
  if (isValidEntry(previous) && previous.key === key && previous.inputs.every(([input, status]) => isUnchanged(input, status))) {
    return { result: previous.result, entry: previous, reused: true };
  }

  const recorder = new StatusRecorder();
  // The resolver opens the program itself, outside the recorded calls.
  recorder.follow(request.programHostPath);
  const resolver = new Resolver({ sysroot: request.sysroot, mounts: request.mounts, isaLevel, hostIo: recorder.io });
  const result = resolver.resolve(request.programHostPath, {
    imagePath: request.imagePath,
    env: { ...request.env },
    ...(request.cwd !== undefined ? { cwd: request.cwd } : {}),
  });
  const entry: CachedResolution = { key, inputs: [...recorder.statuses], result };
  return { result, ...(isRacy(entry, Date.now()) ? {} : { entry }), reused: false };
}

/**
 * Files changed less than this long before they were recorded may change
 * again within the same timestamp tick without a visible status change, so
 * a resolution that read one is not stored. Two seconds covers the coarsest
 * common timestamps (FAT), as FileDigests does for file digests.
 */
const RACY_WINDOW_MS = 2000;

// Folders are left out: their statuses carry no times, a listing is compared
// by its names, and the resolver looks each library up by name, so a library
// added later shows as a changed status of its own path.
function isRacy(entry: CachedResolution, nowMs: number): boolean {
  return entry.inputs.some(([input, status]) => {
    if (input.startsWith('d:')) return false;
    const fields = status.split(':');
    if (fields.length !== 6) return false;
    const changedMs = Math.max(Number(BigInt(fields[4]!) / 1_000_000n), Number(BigInt(fields[5]!) / 1_000_000n));
    return changedMs > nowMs - RACY_WINDOW_MS;
  });
}

/** The request for a configuration, as stageProgram resolves it. */
export function resolutionRequest(config: ResolvedUnikernelConfig, program: { hostPath: string; imagePath: string }, mounts: readonly RootedMount[]): ResolutionRequest {
  return {
    sysroot: config.sysroot,
    mounts,
    programHostPath: program.hostPath,
    imagePath: program.imagePath,
    env: { ...config.env },
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
  };
}

/** Host calls that note each path's status before the first call on it. */
class StatusRecorder {
  readonly statuses = new Map<string, string>();

  /** Notes the status of the path itself, for calls that do not follow a final symlink. */
  own(hostPath: string): void {
    this.note(`l:${hostPath}`);
  }

  /** Notes the status of what the path leads to, for calls that follow symlinks. */
  follow(hostPath: string): void {
    this.note(`f:${hostPath}`);
  }

  private note(input: string): void {
    if (!this.statuses.has(input)) this.statuses.set(input, statusOf(input));
  }

  readonly io: HostIo = {
    lstatSync: (hostPath, options) => {
      this.own(hostPath);
      return fs.lstatSync(hostPath, options);
    },
    statSync: (hostPath, options) => {
      this.follow(hostPath);
      return fs.statSync(hostPath, options);
    },
    readlinkSync: (hostPath) => {
      this.own(hostPath);
      return fs.readlinkSync(hostPath);
    },
    readdirSync: (hostPath) => {
      this.follow(hostPath);
      // The status is taken before the listing, so a change between the two shows next time.
      const before = folderStatus(hostPath);
      const names = fs.readdirSync(hostPath);
      if (!this.statuses.has(`d:${hostPath}`)) this.statuses.set(`d:${hostPath}`, `${before}|${listingDigest(names)}`);
      return names;
    },
    readFileSync: (hostPath) => {
      this.follow(hostPath);
      return fs.readFileSync(hostPath);
    },
    openSync: (hostPath, flags) => {
      this.follow(hostPath);
      return fs.openSync(hostPath, flags);
    },
    readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
    closeSync: (fd) => fs.closeSync(fd),
    accessSync: (hostPath, mode) => {
      this.follow(hostPath);
      fs.accessSync(hostPath, mode);
    },
  };
}

/**
 * Returns the status of an `l:` or `f:` input: device, inode, mode, size,
 * mtime and ctime of a file, only device, inode and mode of a folder (whose
 * times move with every change inside it, see `d:` inputs), or the error
 * code, so a path that starts to exist changes its status too.
 */
function statusOf(input: string): string {
  const hostPath = input.slice(2);
  try {
    const stats = input.startsWith('f:') ? fs.statSync(hostPath, { bigint: true }) : fs.lstatSync(hostPath, { bigint: true });
    if (stats.isDirectory()) return `${stats.dev}:${stats.ino}:${stats.mode}`;
    return `${stats.dev}:${stats.ino}:${stats.mode}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
  } catch (error) {
    return `!${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

/** Returns the identity and times of a folder, the first half of a `d:` status. */
function folderStatus(hostPath: string): string {
  try {
    const stats = fs.statSync(hostPath, { bigint: true });
    return `${stats.dev}:${stats.ino}:${stats.mtimeNs}:${stats.ctimeNs}`;
  } catch (error) {
    return `!${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

function listingDigest(names: readonly string[]): string {
  return createHash('sha256').update([...names].sort().join('\0')).digest('hex');
}

/**
 * Returns whether an input still has its recorded status. A listed folder
 * whose times moved is listed again, and it is unchanged when it is the same
 * folder with the same names: a workspace folder gains and loses unrelated
 * files (temporary files, outputs) between builds.
 */
function isUnchanged(input: string, recorded: string): boolean {
  if (!input.startsWith('d:')) return statusOf(input) === recorded;

  const hostPath = input.slice(2);
  const [recordedStatus, recordedDigest] = recorded.split('|');
  const status = folderStatus(hostPath);
  if (status === recordedStatus) return true;
  const [dev, ino] = status.split(':');
  const [recordedDev, recordedIno] = recordedStatus!.split(':');
  if (dev !== recordedDev || ino !== recordedIno) return false;
  try {
    return listingDigest(fs.readdirSync(hostPath)) === recordedDigest;
  } catch {
    return false;
  }
}

function isValidEntry(value: unknown): value is CachedResolution {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<CachedResolution>;
  return (
    typeof entry.key === 'string' &&
    Array.isArray(entry.inputs) &&
    entry.inputs.every((input) => Array.isArray(input) && input.length === 2 && typeof input[0] === 'string' && typeof input[1] === 'string') &&
    typeof entry.result === 'object' &&
    entry.result !== null &&
    entry.result.schemaVersion === RESOLVE_SCHEMA_VERSION
  );
}

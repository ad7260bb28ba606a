// SHA-256 and size of host files, read as streams so a 100 MB program never
// sits in memory, with at most a few files open at once. Digests from an
// earlier build can be passed in and are trusted while the file's stat is
// unchanged, so a rebuild reads only the files that changed.

import { createHash } from 'node:crypto';
import { createReadStream, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';

import { z } from 'zod';

import { compareByteOrder } from '../resolve/rooted-fs';
import { SysrootPlanError } from './errors';

export interface FileDigest {
  size: number;
  sha256: string;
  /** Permission bits (mode & 0o7777). */
  mode: number;
}

/**
 * A digest kept between builds, with the stat fields that must be unchanged
 * for it to be trusted. The 64-bit fields are decimal strings.
 */
export interface DigestRecord {
  /** Host path as given to `digest`. */
  path: string;
  size: number;
  sha256: string;
  dev: string;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
}

const decimal = z.string().regex(/^\d+$/);

export const digestRecordSchema = z.object({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  dev: decimal,
  ino: decimal,
  mtimeNs: decimal,
  ctimeNs: decimal,
});

/** Files hashed at the same time; enough to keep a disk busy without running out of descriptors. */
const PARALLEL_READS = 8;

/** Read size for hashing: large reads cost fewer calls than the 64 KiB stream default. */
const READ_CHUNK = 1024 * 1024;

/**
 * A digest is kept for the next build only when the file's mtime and ctime
 * are this much older than the stat that preceded its reading. A file
 * written within one timestamp tick of being read can change again without
 * changing its mtime (Git calls this the racy-git problem). 2 s covers the
 * coarsest common timestamps (FAT stores mtime in 2 s units), and ext4 and
 * Btrfs tick far finer.
 */
const RACY_WINDOW_NS = 2_000_000_000n;

/** Size and mode of a host file whose digest is computed elsewhere and handed to `FileDigests.supply`. */
export interface UnhashedFile {
  size: number;
  mode: number;
  sha256?: undefined;
}

/**
 * Hashes host files. Within one object a file seen twice with the same size
 * and mtime is read once, so one object should live for one plan only: a
 * file edited in place within the same mtime tick would keep its old hash.
 * Digests from `known` are used when size, mtime, ctime, inode and device
 * all match. Changing contents changes mtime, and tools that restore mtime
 * (`cp -p`, `tar`, `rsync -t`) still change ctime.
 */
export class FileDigests {
  private readonly digests = new Map<string, Promise<FileDigest>>();
  private readonly known: Map<string, DigestRecord>;
  // Digests to keep for the next build by host path; undefined for racy files.
  private readonly kept = new Map<string, Promise<DigestRecord | undefined>>();
  // Files `lookup` left unhashed, with the stat their digest will belong to and when it was taken.
  private readonly unhashed = new Map<string, { stats: BigIntStats; statTime: bigint }>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Number of files read and hashed here. */
  hashedFiles = 0;
  /** Number of files whose digest came from `known`. */
  reusedFiles = 0;
  /** Number of digests handed in through `supply`. */
  suppliedFiles = 0;

  constructor(known: readonly DigestRecord[] = []) {
    this.known = new Map(known.map((record) => [record.path, record]));
  }

  /** Returns the digests to keep for the next build: every file digested so far that is not racy. */
  async records(): Promise<DigestRecord[]> {
    const records: DigestRecord[] = [];
    for (const record of await Promise.all(this.kept.values())) {
      if (record !== undefined) records.push(record);
    }
    return records.sort((left, right) => compareByteOrder(left.path, right.path));
  }

  /** Returns the digest of a regular file, following symlinks. `label` names the file in errors. */
  async digest(hostPath: string, label: string): Promise<FileDigest> {
    const stats = await statFile(hostPath, label);
    return this.cached(hostPath, stats) ?? this.hash(hostPath, label, stats);
  }

  /**
   * Returns the digest when it is known without reading the file, from
   * `known` or an earlier call, and otherwise only size and mode. The caller
   * then computes the digest while it reads the file anyway, and passes it
   * to `supply`.
   */
  async lookup(hostPath: string, label: string): Promise<FileDigest | UnhashedFile> {
    const stats = await statFile(hostPath, label);
    const cached = this.cached(hostPath, stats);
    if (cached) return cached;
    this.unhashed.set(hostPath, { stats, statTime: nowNs() });
    return { size: Number(stats.size), mode: modeOf(stats) };
  }

  /** Adds the SHA-256 (lower-case hex) of a file that `lookup` left unhashed. */
  supply(hostPath: string, sha256: string): void {
    const unhashed = this.unhashed.get(hostPath);
    if (unhashed === undefined) throw new Error(`supply: ${hostPath} was not left unhashed by lookup`);
    const { stats, statTime } = unhashed;
    // A file at two image paths is looked up, copied and supplied twice.
    if (!this.digests.has(digestKey(hostPath, stats))) this.suppliedFiles += 1;
    this.remember(hostPath, stats, Promise.resolve({ size: Number(stats.size), sha256, mode: modeOf(stats) }), statTime);
  }

  private cached(hostPath: string, stats: BigIntStats): Promise<FileDigest> | undefined {
    const digest = this.digests.get(digestKey(hostPath, stats));
    if (digest) return digest;

    const known = this.known.get(hostPath);
    if (known === undefined || !sameStat(known, stats)) return undefined;
    this.reusedFiles += 1;
    return this.remember(hostPath, stats, Promise.resolve({ size: known.size, sha256: known.sha256, mode: modeOf(stats) }), 'trusted');
  }

  private hash(hostPath: string, label: string, stats: BigIntStats): Promise<FileDigest> {
    this.hashedFiles += 1;
    const expected = { size: Number(stats.size), mode: modeOf(stats) };
    return this.remember(hostPath, stats, this.whenSlotFree(() => hashFile(hostPath, label, expected)), nowNs());
  }

  // Stores a digest for this plan and, unless the file was racy when `stats` was taken at `statTime`, for the next build.
  private remember(hostPath: string, stats: BigIntStats, digest: Promise<FileDigest>, statTime: bigint | 'trusted'): Promise<FileDigest> {
    this.digests.set(digestKey(hostPath, stats), digest);
    const racy = statTime !== 'trusted' && (stats.mtimeNs + RACY_WINDOW_NS > statTime || stats.ctimeNs + RACY_WINDOW_NS > statTime);
    // A failed read rejects `digest` for the caller; the record is then just left out.
    this.kept.set(hostPath, racy ? Promise.resolve(undefined) : digest.then((result) => recordOf(hostPath, stats, result.sha256)).catch(() => undefined));
    return digest;
  }

  private async whenSlotFree<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= PARALLEL_READS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

async function statFile(hostPath: string, label: string): Promise<BigIntStats> {
  let stats;
  try {
    stats = await stat(hostPath, { bigint: true });
  } catch (error) {
    throw readFailed(hostPath, label, error);
  }
  if (!stats.isFile()) {
    throw new SysrootPlanError('read-failed', `${label}: ${hostPath} is not a regular file; give a file, or use dirs for a folder.`);
  }
  return stats;
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function digestKey(hostPath: string, stats: BigIntStats): string {
  return `${hostPath}\0${stats.size}\0${stats.mtimeNs}`;
}

function modeOf(stats: BigIntStats): number {
  return Number(stats.mode) & 0o7777;
}

function sameStat(record: DigestRecord, stats: BigIntStats): boolean {
  return (
    BigInt(record.size) === stats.size &&
    record.mtimeNs === stats.mtimeNs.toString() &&
    record.ctimeNs === stats.ctimeNs.toString() &&
    record.ino === stats.ino.toString() &&
    record.dev === stats.dev.toString()
  );
}

function recordOf(path: string, stats: BigIntStats, sha256: string): DigestRecord {
  return {
    path,
    size: Number(stats.size),
    sha256,
    dev: stats.dev.toString(),
    ino: stats.ino.toString(),
    mtimeNs: stats.mtimeNs.toString(),
    ctimeNs: stats.ctimeNs.toString(),
  };
}

async function hashFile(hostPath: string, label: string, expected: { size: number; mode: number }): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(hostPath, { highWaterMark: READ_CHUNK })) {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      size += bytes.length;
    }
  } catch (error) {
    throw readFailed(hostPath, label, error);
  }

  // A size that differs from stat means the file changed while it was read,
  // so the hash would not match what the image writer copies later.
  if (size !== expected.size) {
    throw new SysrootPlanError(
      'read-failed',
      `${label}: ${hostPath} changed while it was read (${expected.size} bytes before, ${size} read); wait for the build that writes it to finish and plan again.`,
    );
  }
  return { size, sha256: hash.digest('hex'), mode: expected.mode };
}

/** SHA-256 of bytes in memory, lower-case hex. */
export function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function readFailed(hostPath: string, label: string, error: unknown): SysrootPlanError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new SysrootPlanError('read-failed', `${label}: cannot read ${hostPath} (${code}); check that the file exists and is readable.`, { cause: error });
}

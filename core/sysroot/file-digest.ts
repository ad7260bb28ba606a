// SHA-256 and size of host files, read as streams so a 100 MB program never
// sits in memory, with at most a few files open at once.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

import { SysrootPlanError } from './errors';

export interface FileDigest {
  size: number;
  sha256: string;
  /** Permission bits (mode & 0o7777). */
  mode: number;
}

/** Files hashed at the same time; enough to keep a disk busy without running out of descriptors. */
const PARALLEL_READS = 8;

/**
 * Hashes host files. A file seen twice with the same size and mtime is read
 * once, so one object should live for one plan only: a file edited in place
 * within the same mtime tick would keep its old hash.
 */
export class FileDigests {
  private readonly digests = new Map<string, Promise<FileDigest>>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /** Returns the digest of a regular file, following symlinks. `label` names the file in errors. */
  async digest(hostPath: string, label: string): Promise<FileDigest> {
    let stats;
    try {
      stats = await stat(hostPath, { bigint: true });
    } catch (error) {
      throw readFailed(hostPath, label, error);
    }
    if (!stats.isFile()) {
      throw new SysrootPlanError('read-failed', `${label}: ${hostPath} is not a regular file; give a file, or use dirs for a folder.`);
    }

    const key = `${hostPath}\0${stats.size}\0${stats.mtimeNs}`;
    let digest = this.digests.get(key);
    if (!digest) {
      const expected = { size: Number(stats.size), mode: Number(stats.mode) & 0o7777 };
      digest = this.whenSlotFree(() => hashFile(hostPath, label, expected));
      this.digests.set(key, digest);
    }
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

async function hashFile(hostPath: string, label: string, expected: { size: number; mode: number }): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(hostPath)) {
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

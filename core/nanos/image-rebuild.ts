// Decides whether a new image can be written as a patched copy of the
// previous one, and which byte ranges the patch must cover.
//
// The copy is trusted only when the previous image file is exactly the one
// its record describes. Device, inode, size, mtime and the log bytes must
// match, and sector 0 must contain the recorded UUID. A derived UUID must
// also follow from the recorded digests. A boot writes to the
// image (the kernel appends to the log and fills the klog area), so a booted
// image fails the check and is written in full.
//
// NOTE: file data is not read back. An image edited in place within one mtime
// tick of the filesystem, or with its mtime set back, passes the check when
// the edit left the logs and sector 0 alone.

import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { KLOG_DUMP_SIZE, type DiskLayout } from './disk-layout';
import { NanosImageError } from './errors';
import { parseImageRecord, type ImageRecord } from './image-record';
import { MAX_JOURNAL_BYTES, PatchJournal } from './patch-journal';
import type { TreeFile } from './image-tree';
import { SECTOR_SIZE, encodeInitialExtension } from './tfs-log';
import type { FilesystemPlan } from './tfs-writer';
import { deriveUuids } from './uuid';

export interface PreviousImage {
  /** Host path of the image the record describes. */
  path: string;
  record: ImageRecord;
  /** The lock table from readLockedInodes, started early by the caller; read when needed otherwise. */
  lockedInodes?: Promise<ReadonlySet<bigint> | undefined>;
}

/** A half-open range [start, end) of sectors or bytes. */
type Range = [number, number];

export interface RebuildPlan {
  /** Files whose data the copy already contains at their planned extents. */
  reused: Set<TreeFile>;
  reusedBytes: number;
  /** Byte ranges that held data in the previous image and must read as zeros in the new one. */
  zeroRanges: Range[];
}

export interface NewFilesystem {
  /** Byte offset in the image. */
  offset: number;
  /** Size of the new filesystem in sectors. */
  sectors: number;
  plan: FilesystemPlan;
}

interface RebuildInput {
  previous: PreviousImage;
  layout: DiskLayout;
  /** Boot filesystem first, as in the record. */
  filesystems: readonly [NewFilesystem, NewFilesystem];
  /** Digests known before copying: given by the caller or of in-memory contents. */
  digests: ReadonlyMap<TreeFile, Uint8Array>;
}

/** Returns the patch plan, or the reason the image must be written in full. */
export async function planRebuild(input: RebuildInput): Promise<RebuildPlan | { reason: string }> {
  const { previous, layout } = input;
  const parsed = parseImageRecord(previous.record);
  if ('invalid' in parsed) return { reason: `the image record is invalid (${parsed.invalid})` };
  const record = parsed;
  if (record.filesystems[0].offset !== layout.bootfsOffset || record.filesystems[1].offset !== layout.rootfsOffset) {
    return { reason: 'boot.img changed size, so the filesystems start at other offsets' };
  }

  const identity = await checkIdentity(previous);
  if (identity !== undefined) return { reason: identity };
  let mismatch: string | undefined;
  try {
    mismatch = await checkRecordedLogs(previous);
  } catch (error) {
    mismatch = `reading the previous image failed (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  if (mismatch !== undefined) return { reason: mismatch };

  const reused = new Set<TreeFile>();
  let reusedBytes = 0;
  const zeroRanges: Range[] = [];
  input.filesystems.forEach((filesystem, index) => {
    const old = record.filesystems[index]!;
    const oldFiles = new Map(old.files.map((file) => [fileKey(file.sha256, file.size, file.extents), file]));
    const newRanges: Range[] = [[0, 1], ...filesystem.plan.extensions.map((extension): Range => [extension.sector, extension.sector + extension.bytes.length / SECTOR_SIZE])];

    for (const { file, extents } of filesystem.plan.files) {
      const pairs = extents.map((extent): [number, number] => [extent.sector, extent.sectors]);
      for (const [sector, sectors] of pairs) newRanges.push([sector, sector + sectors]);
      const digest = input.digests.get(file);
      if (digest === undefined || pairs.length === 0) continue;
      if (oldFiles.has(fileKey(Buffer.from(digest).toString('hex'), file.size, pairs))) {
        reused.add(file);
        reusedBytes += file.size;
      }
    }

    const oldRanges: Range[] = [[0, 1], ...old.logExtensions.map((extension): Range => [extension.sector, extension.sector + Math.ceil(extension.bytes / SECTOR_SIZE)])];
    for (const file of old.files) for (const [sector, sectors] of file.extents) oldRanges.push([sector, sector + sectors]);
    for (const [start, end] of subtractRanges(oldRanges, newRanges)) {
      const clippedEnd = Math.min(end, filesystem.sectors);
      if (start < clippedEnd) zeroRanges.push([filesystem.offset + start * SECTOR_SIZE, filesystem.offset + clippedEnd * SECTOR_SIZE]);
    }
  });

  return { reused, reusedBytes, zeroRanges };
}

/** Errors of an FICLONE request on a filesystem without reflinks or across filesystems (ioctl_ficlone(2)). */
const CLONE_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY', 'EBADF']);

/**
 * Copy method of a rebuild. 'clone-or-move' clones the previous image and,
 * where the filesystem cannot clone, takes the previous image file over when
 * it is the output itself. 'reflink-or-bytes' clones or copies byte by byte,
 * which tests use to keep the previous file intact on any filesystem.
 */
export type PreviousImageCopy = 'clone-or-move' | 'reflink-or-bytes';

/**
 * Provides `temporary` as the starting point of a patched image, open for
 * writing, or returns why the image must be written in full. It tries a
 * reflink clone first (`copyFile` with COPYFILE_FICLONE_FORCE, the FICLONE
 * ioctl on Linux), which shares the data blocks and takes about constant time
 * on Btrfs, XFS and other filesystems with reflinks. On filesystems that
 * cannot clone, such as ext4, a byte copy would move every byte of the image
 * through the page cache and measured no faster than a full write
 * (bench/README.md). There it renames the previous image to `temporary`
 * instead (see moveImage), when that image is `output` itself.
 */
export async function startFromPrevious(
  previous: PreviousImage,
  temporary: string,
  patch: { output: string; size: number; writtenBytes: number },
  copy: PreviousImageCopy,
): Promise<{ handle: FileHandle; start: IncrementalStart; journal?: PatchJournal } | { reason: string }> {
  const cloned = await cloneImage(previous, temporary, copy);
  if (!('reason' in cloned)) return { handle: cloned, start: copy === 'clone-or-move' ? 'clone' : 'copy' };
  if (!cloned.unsupported || copy !== 'clone-or-move' || resolve(previous.path) !== resolve(patch.output)) return { reason: cloned.reason };

  // The journal keeps what the patch overwrites, so it must stay small, and a
  // shrinking image would cut off bytes that a rollback needs.
  if (patch.writtenBytes > MAX_JOURNAL_BYTES) {
    return { reason: `${cloned.reason}, and patching the previous file in place would rewrite ${patch.writtenBytes} bytes (more than ${MAX_JOURNAL_BYTES})` };
  }
  if (patch.size < previous.record.size) return { reason: `${cloned.reason}, and the image shrinks, so the previous file cannot be patched in place` };

  const moved = await moveImage(previous, temporary);
  if ('reason' in moved) return { reason: `${cloned.reason}, and ${moved.reason}` };
  return { handle: moved, start: 'previous-file', journal: PatchJournal.open(moved, previous.record.size) };
}

/** Source of a rebuild's starting bytes: a reflink clone, a clone or byte copy (tests), or the previous file itself, renamed. */
export type IncrementalStart = 'clone' | 'copy' | 'previous-file';

async function cloneImage(previous: PreviousImage, temporary: string, copy: PreviousImageCopy): Promise<FileHandle | { reason: string; unsupported?: true }> {
  let reason: string;
  try {
    const clone = copy === 'clone-or-move' ? constants.COPYFILE_FICLONE_FORCE : constants.COPYFILE_FICLONE;
    await copyFile(previous.path, temporary, constants.COPYFILE_EXCL | clone);
    // The clone must be of the image that planRebuild checked.
    const changed = await checkIdentity(previous);
    if (changed === undefined) return await open(temporary, 'r+');
    reason = changed;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    if (CLONE_UNSUPPORTED.has(code)) {
      await rm(temporary, { force: true });
      return { reason: `the filesystem of ${dirname(temporary)} cannot clone files (reflink)`, unsupported: true };
    }
    reason = `cloning ${previous.path} failed (${code})`;
  }
  await rm(temporary, { force: true });
  return { reason };
}

/**
 * Renames the previous image to `temporary` and opens it, so the patch
 * rewrites only the ranges that differ. No image exists at the output path
 * until the patched one is renamed into place, so a reader never sees a
 * half-written image. If patching fails, the writer puts the previous image
 * back from its journal (patch-journal.ts). It declines when the file has
 * other hard links, because a copy elsewhere, such as a cache, would change
 * too. On Linux it also declines when a process holds a lock on the file:
 * QEMU locks the disk images it runs, and /proc/locks lists them (proc(5)).
 */
async function moveImage(previous: PreviousImage, temporary: string): Promise<FileHandle | { reason: string }> {
  let stats;
  try {
    stats = await stat(previous.path, { bigint: true });
  } catch (error) {
    return { reason: `the previous image cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  if (stats.nlink !== 1n) return { reason: `the previous image has ${stats.nlink} hard links, so patching it would change the other links too` };
  // NOTE: the lock table may be read a few milliseconds before the rename,
  // and a QEMU that starts after it is not seen. A boot also changes the
  // image's mtime, which the identity check after the rename catches.
  const locked = await (previous.lockedInodes ?? readLockedInodes());
  if (locked === undefined) return { reason: 'the previous image cannot be checked for locks (/proc/locks is unreadable), and it may be in use' };
  if (locked.has(stats.ino)) return { reason: 'a process holds a lock on the previous image (QEMU locks the images it runs)' };

  try {
    await rename(previous.path, temporary);
  } catch (error) {
    return { reason: `renaming the previous image failed (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const changed = await checkIdentity({ ...previous, path: temporary });
  if (changed === undefined) return await open(temporary, 'r+');
  // Another process replaced the image between the checks and the rename. Put its file back.
  await rename(temporary, previous.path).catch(() => rm(temporary, { force: true }));
  return { reason: changed };
}

/**
 * Reads the inode numbers of files that have a POSIX, OFD or flock lock
 * (/proc/locks, see proc(5)), or undefined where that file cannot be read.
 * Linux takes a per-CPU write lock to list them (locks_start in fs/locks.c),
 * which can wait for an RCU grace period (percpu_down_write). That took up to
 * 15 ms on the development machine, so callers start the read early and await
 * it when they need it.
 */
export async function readLockedInodes(): Promise<ReadonlySet<bigint> | undefined> {
  let text: string;
  try {
    text = await readFile('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  // Lines look like "1: OFDLCK ADVISORY READ -1 fd:01:1234567 100 100"; the
  // device numbers are left out because a false match only costs a full write.
  const inodes = new Set<bigint>();
  for (const match of text.matchAll(/ [0-9a-f]+:[0-9a-f]+:(\d+) /g)) inodes.add(BigInt(match[1]!));
  return inodes;
}

/** Hashes the files of `plan` that have no digest yet, reading each whole; meant for the few MB of the boot filesystem. */
export async function hashSources(plan: FilesystemPlan, digests: Map<TreeFile, Uint8Array>): Promise<void> {
  for (const { file } of plan.files) {
    if (digests.has(file) || file.source === undefined) continue;
    let bytes: Buffer;
    try {
      bytes = await readFile(file.source);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new NanosImageError('missing-source', `Source ${file.source} for image file ${file.path} cannot be read (${code}); check the path.`, file.source, { cause: error });
    }
    if (bytes.length !== file.size) {
      throw new NanosImageError('source-changed', `Source ${file.source} for image file ${file.path} changed while the image was written (${file.size} bytes when listed, ${bytes.length} now); write the image again.`, file.source);
    }
    digests.set(file, createHash('sha256').update(bytes).digest());
  }
}

export async function writeZeroRanges(output: FileHandle, ranges: ReadonlyArray<readonly [number, number]>, signal?: AbortSignal): Promise<void> {
  const zeros = Buffer.alloc(1024 * 1024);
  for (const [start, end] of ranges) {
    for (let position = start; position < end; position += zeros.length) {
      signal?.throwIfAborted();
      await output.write(zeros, 0, Math.min(zeros.length, end - position), position);
    }
  }
}

/** Returns the bytes a rebuild writes: boot.img, the klog area, zeroed ranges, logs, sector 0 of each filesystem and changed files. */
export function patchedBytes(rebuild: RebuildPlan, bootImageSize: number, filesystems: ReadonlyArray<{ plan: FilesystemPlan }>): number {
  let writtenBytes = bootImageSize + KLOG_DUMP_SIZE;
  for (const [start, end] of rebuild.zeroRanges) writtenBytes += end - start;
  for (const { plan } of filesystems) {
    writtenBytes += SECTOR_SIZE;
    for (const extension of plan.extensions) writtenBytes += extension.bytes.length;
    for (const { file, extents } of plan.files) {
      if (!rebuild.reused.has(file)) for (const extent of extents) writtenBytes += extent.sectors * SECTOR_SIZE;
    }
  }
  return writtenBytes;
}

/**
 * Returns why the file at `previous.path` is not the image its record
 * describes, or undefined when device, inode, size and mtime all match.
 */
export async function checkIdentity(previous: PreviousImage): Promise<string | undefined> {
  let stats;
  try {
    stats = await stat(previous.path, { bigint: true });
  } catch (error) {
    return `the previous image ${previous.path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const host = previous.record.host;
  if (stats.dev.toString() !== host.dev || stats.ino.toString() !== host.ino) return 'the image file was replaced since the last build';
  if (stats.size !== BigInt(previous.record.size) || stats.mtimeNs.toString() !== host.mtimeNs) {
    return 'the image was modified after the last build wrote it (a boot writes to it)';
  }
  return undefined;
}

// Reads sector 0 and the recorded log bytes of both filesystems and checks
// them against the record: hashes, the initial extension with the UUID, and
// for derived UUIDs the UUIDs that the recorded digests give. Returns the
// first mismatch, or undefined.
async function checkRecordedLogs(previous: PreviousImage): Promise<string | undefined> {
  const { record } = previous;
  const handle = await open(previous.path, 'r');
  try {
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
    };

    const logs: Array<Array<{ sector: number; bytes: Uint8Array }>> = [];
    for (const filesystem of record.filesystems) {
      const extensions: Array<{ sector: number; bytes: Uint8Array }> = [];
      for (const extension of filesystem.logExtensions) {
        const bytes = await read(filesystem.offset + extension.sector * SECTOR_SIZE, extension.bytes);
        if (createHash('sha256').update(bytes).digest('hex') !== extension.sha256) {
          return `the ${filesystem.name} log at sector ${extension.sector} differs from the build cache`;
        }
        extensions.push({ sector: extension.sector, bytes });
      }
      logs.push(extensions);

      const label = filesystem.name === 'rootfs' ? record.label : '';
      const expected = encodeInitialExtension(Buffer.from(filesystem.uuid, 'hex'), label, filesystem.logExtensions[0]!.sector);
      if (!(await read(filesystem.offset, SECTOR_SIZE)).equals(expected)) return `sector 0 of the ${filesystem.name} differs from the build cache`;
    }

    if (record.uuidsDerived) {
      const derived = deriveUuids({
        bootImageDigest: Buffer.from(record.bootImageSha256, 'hex'),
        label: record.label,
        size: record.size,
        logs,
        fileDigests: record.filesystems.flatMap((filesystem) => filesystem.files.map((file) => Buffer.from(file.sha256, 'hex'))),
      });
      const [bootfs, rootfs] = record.filesystems;
      if (Buffer.from(derived.boot).toString('hex') !== bootfs.uuid || Buffer.from(derived.root).toString('hex') !== rootfs.uuid) {
        return 'the file digests in the build cache do not give the UUIDs in the image';
      }
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

function fileKey(sha256: string, size: number, extents: ReadonlyArray<readonly [number, number]>): string {
  return `${sha256}:${size}:${extents.map(([sector, sectors]) => `${sector}+${sectors}`).join(',')}`;
}

/** Returns the parts of `from` that no range in `remove` covers, sorted and merged. */
export function subtractRanges(from: readonly Range[], remove: readonly Range[]): Range[] {
  const cuts = mergeRanges(remove);
  const result: Range[] = [];
  for (const [start, end] of mergeRanges(from)) {
    let position = start;
    for (const [cutStart, cutEnd] of cuts) {
      if (cutEnd <= position) continue;
      if (cutStart >= end) break;
      if (cutStart > position) result.push([position, cutStart]);
      position = Math.max(position, cutEnd);
      if (position >= end) break;
    }
    if (position < end) result.push([position, end]);
  }
  return result;
}

function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter(([start, end]) => end > start).sort((left, right) => left[0] - right[0]);
  const merged: Range[] = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

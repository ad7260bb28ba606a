// Writes a whole bootable Nanos disk image: boot.img with the partition table,
// the boot filesystem (kernel and klibs) and the root filesystem (program,
// files and boot manifest). Given the same inputs, UUIDs and attribute order,
// the bytes equal those of Nanos's `mkfs -b boot.img -k kernel.img`. Given
// the previous image and its record, the new image starts as a reflink clone
// of it, or as the previous file itself where the filesystem cannot clone,
// and only the ranges that differ are written (image-rebuild.ts).

import { createHash, randomBytes } from 'node:crypto';
import { lstat, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { BOOTFS_SECTORS, BOOTFS_SIZE, KLOG_DUMP_SIZE, diskLayout, type DiskLayout } from './disk-layout';
import { NanosImageError } from './errors';
import { copyFileData } from './file-data';
import { startFromPrevious, hashSources, patchedBytes, planRebuild, writeZeroRanges, type IncrementalStart, type PreviousImage, type PreviousImageCopy, type RebuildPlan } from './image-rebuild';
import { IMAGE_RECORD_FORMAT, filesystemRecord, hostIdentity, type ImageRecord } from './image-record';
import { decideImageSize } from './image-size';
import { buildImageTree, readSourceSizes, resolvePath, walkFiles, type ImageEntry, type TreeDirectory, type TreeFile } from './image-tree';
import { removeFilesOfEndedProcesses } from '../util/process-running';
import { manifestAttributes, type BootManifest } from './manifest';
import type { PatchJournal } from './patch-journal';
import { PARTITION_TYPE_LINUX, encodePartitionEntry, parseBootImage, withPartitionTable } from './mbr';
import { SECTOR_SIZE, UUID_LENGTH, encodeLabel } from './tfs-log';
import { planFilesystem, type FilesystemPlan, type TupleOrdering } from './tfs-writer';
import { deriveUuids, formatUuid } from './uuid';

export interface KernelFiles {
  /** Host path of boot.img (stage 1 and stage 2). */
  bootImg: string;
  /** Host path of kernel.img, stored as /kernel in the boot filesystem. */
  kernelImg: string;
  /** Host folder of kernel libraries, needed when the manifest lists `klibs`. */
  klibDir?: string;
  /** SHA-256 (lower-case hex) of these files by host path, where the caller knows it; the writer hashes the others. */
  digests?: ReadonlyMap<string, string>;
}

export interface WriteImageOptions {
  /** Host path of the image to write. It is replaced only once the new image is complete. */
  output: string;
  kernel: KernelFiles;
  entries: ImageEntry[];
  manifest: BootManifest;
  /**
   * Exact image size in bytes, a multiple of 512. It must hold the contents, and
   * also `freeSpace` when that is given too. Without it the size follows Nanos
   * mkfs's rule: the root filesystem is rounded up to 512 KiB units and always
   * extends at least 512 KiB past what it must hold.
   */
  size?: number;
  /**
   * Bytes that a program must be able to write to new files at run time, beyond
   * the 1 MiB the kernel reserves for its log. Default 32 MiB. 0 gives the
   * size that Nanos mkfs picks without `-s`, where a program can write less
   * than 1 MiB.
   */
  freeSpace?: number;
  /** UUID of the root filesystem, 16 bytes. Default: derived from boot.img, the metadata and the file contents. */
  uuid?: Uint8Array;
  /** UUID of the boot filesystem, 16 bytes. Default: derived like `uuid`. */
  bootUuid?: Uint8Array;
  /** Label of the root filesystem, at most 31 bytes of UTF-8. Default empty, as Nanos tools write it. */
  label?: string;
  /**
   * An image this writer wrote before, usually `output` itself, with the
   * `record` of its summary. When the file still matches the record, the new
   * image starts as a copy of it and only the ranges that differ are written.
   * When `previous.path` is `output` and the filesystem cannot clone files,
   * the previous file itself is renamed and patched, so it is gone afterwards.
   * The result has the same bytes as a full write; any mismatch gives a full
   * write, with the reason in `update`.
   */
  previous?: PreviousImage;
  /**
   * Stops the write between steps and between 4 MiB chunks. The writer then
   * removes its temporary file, or puts the previous image back when it was
   * patching it in place, and rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** Kind of write: in full, or as an update of a clone of the previous image. */
export type ImageUpdate =
  | { kind: 'full'; /** Why a given previous image was not used. */ reason?: string }
  | {
      kind: 'incremental';
      /** Source of the previous image's bytes that the update started from. */
      start: IncrementalStart;
      /** Bytes written into the copy of the previous image. */
      writtenBytes: number;
      /** Bytes of file data kept from it. */
      reusedBytes: number;
    };

export interface PartitionSummary {
  /** Slot in the partition table. */
  index: number;
  name: 'bootfs' | 'rootfs';
  /** Offset in bytes from the start of the image. */
  offset: number;
  size: number;
}

export interface ImageSummary {
  output: string;
  /** Image size in bytes. */
  size: number;
  /** Root filesystem UUID in 8-4-4-4-12 form. */
  uuid: string;
  bootUuid: string;
  label: string;
  partitions: PartitionSummary[];
  bootfs: { files: number; allocatedBytes: number };
  rootfs: {
    files: number;
    directories: number;
    symlinks: number;
    /** Bytes of file contents. */
    contentBytes: number;
    /** Bytes of the root filesystem in use at mount time: the log and the file data. */
    allocatedBytes: number;
    /** Bytes a program can write to new files, after the kernel's 1 MiB log reservation. */
    freeBytes: number;
  };
  update: ImageUpdate;
  /** Data that a later call passes in `previous` to update this image, as plain JSON values. */
  record: ImageRecord;
}

function invalidOption(message: string): NanosImageError {
  return new NanosImageError('invalid-option', message);
}

function validateOptions(options: WriteImageOptions): void {
  if (options === null || typeof options !== 'object') throw invalidOption('writeImage needs an options object.');
  if (typeof options.output !== 'string' || options.output === '') throw invalidOption('options.output is not a path; give the host path of the image to write.');
  if (!options.kernel || typeof options.kernel.bootImg !== 'string' || typeof options.kernel.kernelImg !== 'string') {
    throw invalidOption('options.kernel needs bootImg and kernelImg paths from a Nanos release.');
  }
  if (!Array.isArray(options.entries)) throw invalidOption('options.entries is not an array of image entries.');
  if (options.previous !== undefined && (options.previous === null || typeof options.previous.path !== 'string' || options.previous.path === '')) {
    throw invalidOption('options.previous needs the path of the previous image and the record its summary returned.');
  }

  if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size <= 0 || options.size % SECTOR_SIZE !== 0)) {
    throw invalidOption(`options.size ${options.size} is not a positive multiple of ${SECTOR_SIZE} bytes; round it up to whole sectors.`);
  }
  if (options.freeSpace !== undefined && (!Number.isSafeInteger(options.freeSpace) || options.freeSpace < 0)) {
    throw invalidOption(`options.freeSpace ${options.freeSpace} is not a non-negative whole number of bytes.`);
  }
  for (const key of ['uuid', 'bootUuid'] as const) {
    const uuid = options[key];
    if (uuid !== undefined && (!(uuid instanceof Uint8Array) || uuid.length !== UUID_LENGTH)) {
      throw invalidOption(`options.${key} is not ${UUID_LENGTH} bytes; pass a Uint8Array of length ${UUID_LENGTH} or leave it out.`);
    }
  }
  if (options.label !== undefined) {
    if (typeof options.label !== 'string') throw invalidOption('options.label is not a string.');
    encodeLabel(options.label);
  }
}

function validateKlibName(name: unknown): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new NanosImageError('invalid-manifest', `manifest.klibs entry ${JSON.stringify(name)} is not a klib file name such as "strace".`);
  }
  return name;
}

// The boot filesystem contains /kernel and, when klibs are listed, /klib/<name>.
function buildBootTree(kernel: KernelFiles, klibs: readonly string[]): TreeDirectory {
  const fileEntry = (imagePath: string, source: string): ImageEntry => {
    const sha256 = kernel.digests?.get(source);
    return { kind: 'file', path: imagePath, source, ...(sha256 !== undefined ? { sha256 } : {}) };
  };
  const entries: ImageEntry[] = [fileEntry('/kernel', kernel.kernelImg)];
  if (klibs.length > 0 && kernel.klibDir === undefined) {
    throw invalidOption(`manifest.klibs lists ${klibs.join(', ')}, but options.kernel.klibDir is not set; give the klibs folder of the Nanos release.`);
  }

  const seen = new Set<string>();
  for (const klib of klibs) {
    const name = validateKlibName(klib);
    if (seen.has(name)) throw new NanosImageError('invalid-manifest', `manifest.klibs lists "${name}" twice; list each klib once.`);
    seen.add(name);
    entries.push(fileEntry(`/klib/${name}`, join(kernel.klibDir!, name)));
  }

  const tree = buildImageTree(entries);
  for (const file of walkFiles(tree)) file.entryIndex = -1;
  return tree;
}

// Same as readSourceSizes, with a message that points at the kernel options.
function readKernelSizes(bootTree: TreeDirectory): void {
  try {
    readSourceSizes([...walkFiles(bootTree)]);
  } catch (error) {
    if (!(error instanceof NanosImageError) || error.code !== 'missing-source') throw error;
    throw new NanosImageError(
      'missing-source',
      `Kernel file ${error.path} cannot be read as a regular file; check options.kernel (kernelImg, klibDir) and manifest.klibs.`,
      error.path,
      { cause: error },
    );
  }
}

function checkManifestPaths(root: TreeDirectory, manifest: BootManifest): void {
  const program = resolvePath(root, manifest.program);
  if (program?.kind !== 'file') {
    throw new NanosImageError(
      'invalid-manifest',
      `manifest.program ${manifest.program} does not resolve to a file in the image; add an entry for it or fix the path.`,
    );
  }
  if (manifest.cwd !== undefined) {
    const cwd = resolvePath(root, manifest.cwd);
    if (cwd?.kind !== 'directory') {
      throw new NanosImageError('invalid-manifest', `manifest.cwd ${manifest.cwd} does not resolve to a directory in the image; the kernel fails exec without it.`);
    }
  }
}

async function writeAt(output: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  await output.write(bytes, 0, bytes.length, position);
}

/**
 * Writes a bootable image. The image goes to `output + '.tmp-<pid>-<random>'`
 * first and is renamed to `output` only when complete. On any error the
 * temporary file is removed and `output` is left as it was. A rebuild that
 * patches the previous file in place (on filesystems without reflinks) puts
 * it back from its journal. Only if that fails too is `output` missing,
 * never partial.
 */
export async function writeImage(options: WriteImageOptions): Promise<ImageSummary> {
  return writeImageWithOrdering(options, {});
}

/** Digests known before any file is read: those the caller gave, and those of in-memory contents. */
function knownDigests(plans: readonly FilesystemPlan[]): Map<TreeFile, Uint8Array> {
  const digests = new Map<TreeFile, Uint8Array>();
  for (const plan of plans) {
    for (const { file } of plan.files) {
      if (file.contents !== undefined) digests.set(file, createHash('sha256').update(file.contents).digest());
      else if (file.sha256 !== undefined) digests.set(file, Buffer.from(file.sha256, 'hex'));
    }
  }
  return digests;
}

/**
 * Rejects an output path that exists but is not a regular file. The image is
 * renamed over the output, which would replace a device such as /dev/null,
 * a FIFO or a symlink with a plain file.
 */
async function checkOutputPath(output: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(output);
  } catch {
    return;
  }
  if (stats.isFile()) return;
  const kind = stats.isDirectory() ? 'a folder' : stats.isSymbolicLink() ? 'a symlink' : stats.isCharacterDevice() || stats.isBlockDevice() ? 'a device' : 'not a regular file';
  throw invalidOption(`Output path ${output} is ${kind}, and writing the image would replace it with a regular file; give the path of a new or existing image file${stats.isSymbolicLink() ? ' (the symlink target, if that is the image)' : ''}.`);
}

/**
 * Removes temporary images that a killed writer left beside the output
 * (`<output>.tmp-<pid>-<random>` of a process that no longer exists).
 * A process that is gone cannot clean up after SIGKILL itself.
 */
async function removeStaleTemporaries(output: string): Promise<void> {
  await removeFilesOfEndedProcesses(dirname(output), `${basename(output)}.tmp-`, /^(\d+)-[0-9a-f]{12}$/);
}

async function createEmpty(temporary: string): Promise<FileHandle> {
  try {
    return await open(temporary, 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NanosImageError('io', `Cannot create ${temporary} next to the output image (${code}); check that the folder exists and is writable.`, temporary, { cause: error });
  }
}

/**
 * `writeImage` with the attribute and file order of each filesystem
 * overridden. The compatibility tests use it to reproduce the order of a given
 * Nanos mkfs run.
 */
export async function writeImageWithOrdering(
  options: WriteImageOptions,
  ordering: { bootfs?: TupleOrdering; rootfs?: TupleOrdering },
  copy: PreviousImageCopy = 'clone-or-move',
): Promise<ImageSummary> {
  validateOptions(options);
  await checkOutputPath(options.output);
  await removeStaleTemporaries(options.output);
  const label = options.label ?? '';
  const rootAttributes = manifestAttributes(options.manifest);

  let bootImage: Uint8Array;
  try {
    bootImage = await readFile(options.kernel.bootImg);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NanosImageError('missing-source', `Boot image ${options.kernel.bootImg} cannot be read (${code}); check options.kernel.bootImg.`, options.kernel.bootImg, { cause: error });
  }
  parseBootImage(bootImage, options.kernel.bootImg);
  const layout = diskLayout(bootImage.length);
  const bootImageDigest = createHash('sha256').update(bootImage).digest();

  const rootTree = buildImageTree(options.entries);
  checkManifestPaths(rootTree, options.manifest);
  const bootTree = buildBootTree(options.kernel, options.manifest.klibs ?? []);
  readKernelSizes(bootTree);
  readSourceSizes([...walkFiles(rootTree)]);

  const bootPlan = planFilesystem({ root: bootTree, rootAttributes: [], limitSectors: BOOTFS_SECTORS, name: 'boot filesystem', ordering: ordering.bootfs });
  const rootPlan = planFilesystem({ root: rootTree, rootAttributes, limitSectors: Infinity, name: 'root filesystem', ordering: ordering.rootfs });
  const { size, freeBytes } = decideImageSize(layout, rootPlan, options.size, options.freeSpace);

  // NOTE: no EFI System Partition is written (mkfs -u adds one), so the image boots through BIOS only.
  const rootfsSize = size - layout.rootfsOffset;
  const bootSector = withPartitionTable(bootImage, [
    encodePartitionEntry(PARTITION_TYPE_LINUX, layout.bootfsOffset, BOOTFS_SIZE),
    encodePartitionEntry(PARTITION_TYPE_LINUX, layout.rootfsOffset, rootfsSize),
  ]);

  const digests = knownDigests([bootPlan, rootPlan]);
  // The kernel and klibs come with no digest. Hashing them (about 2 MB) lets a
  // rebuild keep them instead of rewriting them.
  if (options.previous) await hashSources(bootPlan, digests);
  const filesystems = [
    { offset: layout.bootfsOffset, sectors: BOOTFS_SECTORS, plan: bootPlan },
    { offset: layout.rootfsOffset, sectors: rootfsSize / SECTOR_SIZE, plan: rootPlan },
  ] as const;
  let rebuild: RebuildPlan | undefined;
  let start: IncrementalStart = 'clone';
  let writtenBytes = 0;
  let fullReason: string | undefined;
  if (options.previous) {
    const decision = await planRebuild({ previous: options.previous, layout, filesystems, digests });
    if ('reason' in decision) fullReason = decision.reason;
    else rebuild = decision;
  }

  const temporary = `${options.output}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let output: FileHandle | undefined;
  let journal: PatchJournal | undefined;
  let uuids: { root: Uint8Array; boot: Uint8Array };
  let host: ImageRecord['host'];
  try {
    if (rebuild) {
      writtenBytes = patchedBytes(rebuild, bootImage.length, filesystems);
      const patch = { output: options.output, size, writtenBytes };
      const cloned = await startFromPrevious(options.previous!, temporary, patch, copy);
      if ('reason' in cloned) {
        rebuild = undefined;
        fullReason = cloned.reason;
      } else {
        journal = cloned.journal;
        output = journal?.output ?? cloned.handle;
        start = cloned.start;
      }
    }
    output ??= await createEmpty(temporary);
    options.signal?.throwIfAborted();
    // Sizing the file before writing matters on XFS: extending it afterwards
    // writes back and waits for all data past the on-disk size (xfs_setattr_size).
    await output.truncate(size);

    await writeAt(output, bootSector, 0);
    await writeAt(output, bootImage.subarray(SECTOR_SIZE), SECTOR_SIZE);
    if (rebuild) {
      // A fresh image leaves the klog area as a hole; a booted copy may hold a kernel log there.
      await writeAt(output, new Uint8Array(KLOG_DUMP_SIZE), layout.klogOffset);
      await writeZeroRanges(output, rebuild.zeroRanges, options.signal);
    }
    for (const { plan, offset } of filesystems) {
      for (const extension of plan.extensions) await writeAt(output, extension.bytes, offset + extension.sector * SECTOR_SIZE);
    }

    for (const { plan, offset } of filesystems) {
      const changed = rebuild ? plan.files.filter(({ file }) => !rebuild!.reused.has(file)) : plan.files;
      await copyFileData(output, offset, changed, digests, options.signal);
    }

    const derived =
      options.uuid === undefined || options.bootUuid === undefined
        ? deriveUuids({
            bootImageDigest,
            label,
            size,
            logs: [bootPlan.extensions, rootPlan.extensions],
            fileDigests: [...bootPlan.files, ...rootPlan.files].map(({ file }) => digests.get(file)!),
          })
        : undefined;
    uuids = { root: options.uuid ?? derived!.root, boot: options.bootUuid ?? derived!.boot };
    await writeAt(output, bootPlan.encodeInitialSector(uuids.boot, ''), layout.bootfsOffset);
    await writeAt(output, rootPlan.encodeInitialSector(uuids.root, label), layout.rootfsOffset);

    options.signal?.throwIfAborted();
    host = hostIdentity(await output.stat({ bigint: true }));
    await output.close();
    output = undefined;
    await rename(temporary, options.output);
  } catch (error) {
    if (journal !== undefined && output !== undefined) {
      await restorePrevious(journal, output, temporary, options.output);
    } else {
      await output?.close().catch(() => undefined);
      await rm(temporary, { force: true });
    }
    if (error instanceof NanosImageError || isAbort(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NanosImageError('io', `Writing image ${options.output} failed (${code}): ${(error as Error).message}`, options.output, { cause: error });
  }

  const record: ImageRecord = {
    format: IMAGE_RECORD_FORMAT,
    size,
    host,
    bootImageSha256: bootImageDigest.toString('hex'),
    label,
    uuidsDerived: options.uuid === undefined && options.bootUuid === undefined,
    filesystems: [filesystemRecord('bootfs', layout.bootfsOffset, uuids.boot, bootPlan, digests), filesystemRecord('rootfs', layout.rootfsOffset, uuids.root, rootPlan, digests)],
  };
  const update: ImageUpdate = rebuild
    ? { kind: 'incremental', start, writtenBytes, reusedBytes: rebuild.reusedBytes }
    : { kind: 'full', ...(fullReason !== undefined ? { reason: fullReason } : {}) };
  return summarize({ options, label, size, freeBytes, layout, bootPlan, rootPlan, rootTree, uuids, record, update });
}

/**
 * Puts the previous image back after a failed patch in place: the journal
 * rewrites the bytes the patch replaced and the file goes back to the output
 * path. If that fails too, the temporary file is removed, so the output path
 * is left without an image, never with a partial one.
 */
async function restorePrevious(journal: PatchJournal, output: FileHandle, temporary: string, path: string): Promise<void> {
  try {
    await journal.rollback();
    await output.close();
    await rename(temporary, path);
  } catch {
    await output.close().catch(() => undefined);
    await rm(temporary, { force: true });
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

function summarize(parts: {
  options: WriteImageOptions;
  label: string;
  size: number;
  freeBytes: number;
  layout: DiskLayout;
  bootPlan: FilesystemPlan;
  rootPlan: FilesystemPlan;
  rootTree: TreeDirectory;
  uuids: { root: Uint8Array; boot: Uint8Array };
  record: ImageRecord;
  update: ImageUpdate;
}): ImageSummary {
  const counts = { files: 0, directories: 0, symlinks: 0, contentBytes: 0 };
  const count = (directory: TreeDirectory): void => {
    for (const child of directory.children.values()) {
      if (child.kind === 'directory') {
        counts.directories += 1;
        count(child);
      } else if (child.kind === 'symlink') {
        counts.symlinks += 1;
      } else {
        counts.files += 1;
        counts.contentBytes += (child as TreeFile).size;
      }
    }
  };
  count(parts.rootTree);

  return {
    output: parts.options.output,
    size: parts.size,
    uuid: formatUuid(parts.uuids.root),
    bootUuid: formatUuid(parts.uuids.boot),
    label: parts.label,
    partitions: [
      { index: 0, name: 'bootfs', offset: parts.layout.bootfsOffset, size: BOOTFS_SIZE },
      { index: 1, name: 'rootfs', offset: parts.layout.rootfsOffset, size: parts.size - parts.layout.rootfsOffset },
    ],
    bootfs: { files: parts.bootPlan.files.length, allocatedBytes: parts.bootPlan.allocatedSectors * SECTOR_SIZE },
    rootfs: { ...counts, allocatedBytes: parts.rootPlan.allocatedSectors * SECTOR_SIZE, freeBytes: parts.freeBytes },
    update: parts.update,
    record: parts.record,
  };
}

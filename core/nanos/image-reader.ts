// Reads a Nanos disk image back: the partition table, both TFS logs and the
// trees they describe. It replays the log as the kernel does at mount time
// (`log_read_complete` in Nanos's src/fs/tlog.c, `enumerate_dir_entries` and
// `ingest_extent` in src/fs/tfs.c). It also checks more than the kernel does.
// Extents and log extensions must stay inside the filesystem and must not
// overlap, because the kernel only logs such faults and then corrupts data.

import { open, type FileHandle } from 'node:fs/promises';

import { BOOTFS_SECTORS, KERNEL_LOG_RESERVE_SECTORS, KLOG_DUMP_SIZE } from './disk-layout';
import { NanosImageError } from './errors';
import { manifestValueFromTuple, type ManifestValue } from './manifest';
import { notAnImageError } from './not-an-image';
import { PARTITION_TYPE_EFI, readPartitionTable, readRegionStage2Size, selectPartitions, type PartitionEntry } from './mbr';
import { SECTOR_SIZE, TFS_MAGIC, readLog, type LogExtensionInfo } from './tfs-log';
import { Tuple, scalarText, type TupleValue } from './tuple';
import { TupleDecoder } from './tuple-encoding';
import { formatUuid } from './uuid';

export interface ImageExtent {
  /** First sector of the file that the extent holds. */
  fileSector: number;
  /** First sector of the data, relative to the filesystem start. */
  sector: number;
  /** Sectors of file data. */
  length: number;
  /** Sectors reserved, at least `length`. */
  allocated: number;
  /** The extent is preallocated and reads as zeros. */
  uninited: boolean;
  /** Byte offset of the data in the image file. */
  imageOffset: number;
}

interface NodeBase {
  /** Name in the parent directory, or "/" for the root. */
  name: string;
  /** Absolute path in the filesystem. */
  path: string;
}

export interface ImageFileNode extends NodeBase {
  kind: 'file';
  /** `filelength` in bytes, or 0 when the attribute is missing, as the kernel reads it. */
  size: number;
  extents: ImageExtent[];
}

export interface ImageSymlinkNode extends NodeBase {
  kind: 'symlink';
  target: string;
}

export interface ImageDirectoryNode extends NodeBase {
  kind: 'directory';
  /** Children in UTF-8 byte order of their names. */
  children: ImageNode[];
}

/** A tuple with none of `extents`, `children` or `linktarget`. The kernel shows it as a file that cannot be read. */
export interface ImageOtherNode extends NodeBase {
  kind: 'other';
}

export type ImageNode = ImageFileNode | ImageSymlinkNode | ImageDirectoryNode | ImageOtherNode;

export interface FilesystemContents {
  /** Byte offset of the filesystem in the image file. */
  offset: number;
  /** Size in sectors. */
  sectors: number;
  uuid: string;
  label: string;
  /** TFS version of the initial log extension: 5, or 4 for old images. */
  version: number;
  /** Log extensions in chain order, the initial one (sector 0) first. */
  logExtensions: LogExtensionInfo[];
  logEntries: number;
  /** Sectors in use at mount time: sector 0, linked log extensions and extents. */
  allocatedSectors: number;
  /** Sectors not in use. */
  freeSectors: number;
  root: ImageDirectoryNode;
  /** The decoded root tuple, dictionary entry 1 of the log. */
  rootTuple: Tuple;
  warnings: string[];
}

export interface ImagePartition {
  index: number;
  name: 'efi' | 'bootfs' | 'rootfs' | 'other';
  type: number;
  active: boolean;
  /** Byte offset in the image file. */
  offset: number;
  /** Size in bytes, from the partition entry. */
  size: number;
}

export interface ImageContents {
  path: string;
  /** Image file size in bytes. */
  size: number;
  /** Stage-2 size from the boot sector's region record, or undefined for an image without a Nanos boot sector. */
  stage2Size?: number;
  /** Entries of the partition table, empty for a bare TFS volume, which starts at byte 0. */
  partitions: ImagePartition[];
  bootfs?: FilesystemContents;
  rootfs: FilesystemContents;
  /** Root-tuple attributes of the root filesystem other than `children`. */
  manifest: Record<string, ManifestValue>;
  /** Root filesystem UUID. */
  uuid: string;
  /** Root filesystem label. */
  label: string;
  /** Bytes a program could write to new files, after the kernel's 1 MiB log reservation. */
  freeBytes: number;
  /** Oddities that Nanos accepts but a writer should not produce. */
  warnings: string[];
}

function corrupt(message: string): NanosImageError {
  return new NanosImageError('corrupt-image', message);
}

function compareNames(left: ImageNode, right: ImageNode): number {
  return Buffer.compare(Buffer.from(left.name, 'utf8'), Buffer.from(right.name, 'utf8'));
}

// mkfs stores numbers as integers and ops as decimal strings. The kernel accepts both (`u64_from_value`).
function readNumber(value: TupleValue | undefined): number | undefined {
  const text = scalarText(value);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : undefined;
}

interface Occupant {
  start: number;
  end: number;
  owner: string;
}

class FilesystemWalker {
  readonly warnings: string[] = [];
  readonly occupants: Occupant[] = [];
  private readonly files = new Map<Tuple, ImageExtent[]>();
  allocatedSectors = 0;

  constructor(
    private readonly name: string,
    private readonly offset: number,
    private readonly sectors: number,
  ) {}

  occupy(start: number, length: number, owner: string): void {
    if (start + length > this.sectors) {
      throw corrupt(`${this.name}: ${owner} uses sectors ${start}..${start + length - 1}, past the filesystem's ${this.sectors} sectors.`);
    }
    this.occupants.push({ start, end: start + length, owner });
    this.allocatedSectors += length;
  }

  checkOverlaps(): void {
    const sorted = [...this.occupants].sort((left, right) => left.start - right.start);
    for (let i = 1; i < sorted.length; i++) {
      const previous = sorted[i - 1]!;
      const current = sorted[i]!;
      if (current.start < previous.end) {
        throw corrupt(`${this.name}: ${current.owner} (sectors ${current.start}..${current.end - 1}) overlaps ${previous.owner} (sectors ${previous.start}..${previous.end - 1}).`);
      }
    }
  }

  directory(tuple: Tuple, name: string, path: string, ancestors: Set<Tuple>): ImageDirectoryNode {
    const children: ImageNode[] = [];
    const childrenTuple = tuple.get('children');
    if (!(childrenTuple instanceof Tuple)) {
      this.warnings.push(`${path}: "children" is not a tuple, so the directory reads as empty`);
      return { kind: 'directory', name, path, children };
    }

    ancestors.add(tuple);
    for (const [childName, value] of childrenTuple.attributes) {
      // The kernel keeps "." and ".." in memory only, but can log ".." after a link() at run time.
      if (childName === '.' || childName === '..') continue;
      const childPath = path === '/' ? `/${childName}` : `${path}/${childName}`;
      if (!(value instanceof Tuple)) throw corrupt(`${this.name}: directory entry ${childPath} is not a tuple.`);
      children.push(this.node(value, childName, childPath, ancestors));
    }
    ancestors.delete(tuple);

    children.sort(compareNames);
    return { kind: 'directory', name, path, children };
  }

  // The kernel checks `extents` first, then `children` (`enumerate_dir_entries`).
  private node(tuple: Tuple, name: string, path: string, ancestors: Set<Tuple>): ImageNode {
    if (tuple.get('extents') instanceof Tuple) return this.file(tuple, name, path);

    if (tuple.get('children') !== undefined) {
      if (ancestors.has(tuple)) throw corrupt(`${this.name}: directory ${path} contains itself.`);
      return this.directory(tuple, name, path, ancestors);
    }

    const target = scalarText(tuple.get('linktarget'));
    if (target !== undefined) return { kind: 'symlink', name, path, target };

    this.warnings.push(`${path} has no extents, children or linktarget; the kernel cannot read it`);
    return { kind: 'other', name, path };
  }

  private file(tuple: Tuple, name: string, path: string): ImageFileNode {
    const lengthValue = tuple.get('filelength');
    let size = 0;
    if (lengthValue === undefined) {
      this.warnings.push(`${path} has no filelength, so the kernel reads it as empty`);
    } else {
      const parsed = readNumber(lengthValue);
      if (parsed === undefined) throw corrupt(`${this.name}: ${path} has a filelength that is not a whole number.`);
      size = parsed;
    }

    // A hard link reaches the same tuple twice, but its extents count once.
    let extents = this.files.get(tuple);
    if (!extents) {
      extents = this.extents(tuple.get('extents') as Tuple, path);
      this.files.set(tuple, extents);
    }
    return { kind: 'file', name, path, size, extents };
  }

  private extents(extentsTuple: Tuple, path: string): ImageExtent[] {
    const extents: ImageExtent[] = [];
    for (const [key, value] of extentsTuple.attributes) {
      const where = `${this.name}: extent "${key}" of ${path}`;
      const fileSector = /^\d+$/.test(key) ? Number(key) : NaN;
      if (!Number.isSafeInteger(fileSector)) throw corrupt(`${where} is not named by a file sector number.`);
      if (!(value instanceof Tuple)) throw corrupt(`${where} is not a tuple.`);

      const sector = readNumber(value.get('offset'));
      const length = readNumber(value.get('length'));
      const allocated = readNumber(value.get('allocated'));
      if (sector === undefined || length === undefined || allocated === undefined) {
        throw corrupt(`${where} lacks a numeric offset, length or allocated attribute, which makes the kernel halt.`);
      }
      if (length > allocated) this.warnings.push(`${path}: extent "${key}" has length ${length} above allocated ${allocated}`);

      this.occupy(sector, Math.max(allocated, length), `extent "${key}" of ${path}`);
      extents.push({ fileSector, sector, length, allocated, uninited: value.get('uninited') !== undefined, imageOffset: this.offset + sector * SECTOR_SIZE });
    }

    extents.sort((left, right) => left.fileSector - right.fileSector);
    for (let i = 1; i < extents.length; i++) {
      const previous = extents[i - 1]!;
      if (extents[i]!.fileSector < previous.fileSector + previous.length) throw corrupt(`${this.name}: extents of ${path} overlap inside the file.`);
    }
    return extents;
  }
}

async function readFilesystem(file: FileHandle, imageSize: number, name: string, offset: number, sectors: number): Promise<FilesystemContents> {
  const readSectors = async (sector: number, count: number): Promise<Uint8Array> => {
    if (sector + count > sectors) throw corrupt(`${name}: sectors ${sector}..${sector + count - 1} are past the filesystem's ${sectors} sectors.`);
    const buffer = Buffer.alloc(count * SECTOR_SIZE);
    const position = offset + sector * SECTOR_SIZE;
    const available = Math.max(0, Math.min(buffer.length, imageSize - position));
    let filled = 0;
    while (filled < available) {
      const { bytesRead } = await file.read(buffer, filled, available - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer;
  };

  const log = await readLog(readSectors, sectors, name);
  const decoder = new TupleDecoder();
  log.entries.forEach((entry, index) => {
    decoder.decodeEntry(entry.bytes, entry.oldEncoding, `${name}: log entry ${index + 1} (extension at sector ${entry.extensionSector}, byte ${entry.recordOffset})`);
  });

  const rootTuple = decoder.entry(1);
  if (!(rootTuple instanceof Tuple)) throw corrupt(`${name}: the log has no root tuple (dictionary entry 1).`);

  const walker = new FilesystemWalker(name, offset, sectors);
  walker.warnings.push(...log.warnings);
  walker.occupy(0, 1, 'the initial log extension');
  for (const extension of log.extensions.slice(1)) walker.occupy(extension.sector, extension.sectors, `the log extension at sector ${extension.sector}`);
  const root = walker.directory(rootTuple, '/', '/', new Set());
  walker.checkOverlaps();

  return {
    offset,
    sectors,
    uuid: formatUuid(log.uuid),
    label: log.label,
    version: log.version,
    logExtensions: log.extensions,
    logEntries: log.entries.length,
    allocatedSectors: walker.allocatedSectors,
    freeSectors: Math.max(0, sectors - walker.allocatedSectors),
    root,
    rootTuple,
    warnings: walker.warnings,
  };
}

function partitionName(entry: PartitionEntry, selected: ReturnType<typeof selectPartitions>): ImagePartition['name'] {
  if (entry === selected.efi) return 'efi';
  if (entry === selected.bootfs) return 'bootfs';
  if (entry === selected.rootfs) return 'rootfs';
  return 'other';
}

/**
 * Reads an image written by this module, Nanos mkfs or ops. The root
 * filesystem is found as the kernel finds it (`partition_get` in
 * src/runtime/storage.h) and spans to the end of the file. A file without a
 * partition table is read as a bare TFS volume. Throws a `not-an-image` error
 * for a file that is neither, and a `corrupt-image` error naming the
 * filesystem, log entry or file at fault.
 */
export async function readImage(path: string): Promise<ImageContents> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NanosImageError('io', `Image ${path} cannot be opened (${code}); check the path.`, path, { cause: error });
  }

  try {
    const { size } = await file.stat();
    const sector0 = Buffer.alloc(SECTOR_SIZE);
    await file.read(sector0, 0, SECTOR_SIZE, 0);
    if (size < SECTOR_SIZE) throw notAnImageError(path, sector0, size, SECTOR_SIZE);

    const table = readPartitionTable(sector0);
    const warnings: string[] = [];

    if (!table) {
      // Neither a partition table nor a bare TFS volume: the wrong file, not a damaged image.
      if (!sector0.subarray(0, TFS_MAGIC.length).equals(TFS_MAGIC)) throw notAnImageError(path, sector0, size, SECTOR_SIZE);
      const rootfs = await readFilesystem(file, size, 'root filesystem', 0, Math.floor(size / SECTOR_SIZE));
      return finish(path, size, undefined, [], undefined, rootfs, warnings);
    }

    const stage2Size = readRegionStage2Size(sector0);
    const selected = selectPartitions(table);
    const partitions = table.map((entry) => ({
      index: entry.index,
      name: partitionName(entry, selected),
      type: entry.type,
      active: entry.active,
      offset: entry.firstSector * SECTOR_SIZE,
      size: entry.sectorCount * SECTOR_SIZE,
    }));
    for (const partition of partitions) {
      if (partition.offset + partition.size > size) warnings.push(`partition ${partition.index} ends at byte ${partition.offset + partition.size}, past the ${size}-byte image`);
    }

    const first = table[0];
    if (stage2Size !== undefined && first && first.firstSector * SECTOR_SIZE !== SECTOR_SIZE + stage2Size + KLOG_DUMP_SIZE) {
      warnings.push(`the first partition starts at byte ${first.firstSector * SECTOR_SIZE}, not right after stage 2 and the 4 KiB klog area`);
    }
    if (selected.efi && selected.efi.type !== PARTITION_TYPE_EFI) warnings.push('the EFI System Partition has an unexpected type');

    const rootEntry = selected.rootfs;
    if (!rootEntry || rootEntry.firstSector === 0) throw corrupt(`Image ${path} has a partition table without a root filesystem entry.`);
    const rootOffset = rootEntry.firstSector * SECTOR_SIZE;
    if (rootOffset >= size) throw corrupt(`Image ${path}: the root filesystem starts at byte ${rootOffset}, past the end of the ${size}-byte file.`);

    // The kernel sizes the root filesystem from the disk, not from the partition entry.
    const rootSectors = Math.floor((size - rootOffset) / SECTOR_SIZE);
    if (rootEntry.sectorCount !== rootSectors) warnings.push(`the root partition entry gives ${rootEntry.sectorCount} sectors; the kernel uses the ${rootSectors} up to the end of the file`);
    const rootfs = await readFilesystem(file, size, 'root filesystem', rootOffset, rootSectors);

    let bootfs: FilesystemContents | undefined;
    const bootEntry = selected.bootfs;
    if (bootEntry && bootEntry.firstSector > 0 && bootEntry.sectorCount > 0) {
      if (bootEntry.sectorCount !== BOOTFS_SECTORS) warnings.push(`the boot partition is ${bootEntry.sectorCount} sectors; Nanos writes ${BOOTFS_SECTORS}`);
      if (bootEntry.firstSector + bootEntry.sectorCount > rootEntry.firstSector) warnings.push('the boot partition overlaps the root partition');
      bootfs = await readFilesystem(file, size, 'boot filesystem', bootEntry.firstSector * SECTOR_SIZE, bootEntry.sectorCount);
    }

    return finish(path, size, stage2Size, partitions, bootfs, rootfs, warnings);
  } finally {
    await file.close();
  }
}

function finish(
  path: string,
  size: number,
  stage2Size: number | undefined,
  partitions: ImagePartition[],
  bootfs: FilesystemContents | undefined,
  rootfs: FilesystemContents,
  warnings: string[],
): ImageContents {
  const manifest: Record<string, ManifestValue> = {};
  for (const [key, value] of rootfs.rootTuple.attributes) {
    if (key === 'children' || key === '.' || key === '..') continue;
    manifest[key] = manifestValueFromTuple(value);
  }

  const contents: ImageContents = {
    path,
    size,
    partitions,
    rootfs,
    manifest,
    uuid: rootfs.uuid,
    label: rootfs.label,
    freeBytes: Math.max(0, rootfs.freeSectors - KERNEL_LOG_RESERVE_SECTORS) * SECTOR_SIZE,
    warnings: [...warnings, ...rootfs.warnings.map((warning) => `root filesystem: ${warning}`), ...(bootfs?.warnings ?? []).map((warning) => `boot filesystem: ${warning}`)],
  };
  if (stage2Size !== undefined) contents.stage2Size = stage2Size;
  if (bootfs) contents.bootfs = bootfs;
  return contents;
}

/** Returns the node at an absolute path of a filesystem tree, or undefined. Symlinks are not followed. */
export function findImageNode(root: ImageDirectoryNode, path: string): ImageNode | undefined {
  let node: ImageNode = root;
  for (const name of path.split('/').filter((part) => part !== '')) {
    if (node.kind !== 'directory') return undefined;
    const child: ImageNode | undefined = node.children.find((candidate) => candidate.name === name);
    if (!child) return undefined;
    node = child;
  }
  return node;
}

/**
 * Reads the whole contents of one file of an image into memory. Gaps between
 * extents and uninited extents read as zeros, as in the kernel.
 */
export async function readImageFile(imagePath: string, node: ImageFileNode): Promise<Buffer> {
  const contents = Buffer.alloc(node.size);
  const file = await open(imagePath, 'r');
  try {
    for (const extent of node.extents) {
      const start = extent.fileSector * SECTOR_SIZE;
      const length = Math.min(extent.length * SECTOR_SIZE, node.size - start);
      if (length <= 0 || extent.uninited) continue;
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await file.read(contents, start + filled, length - filled, extent.imageOffset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    }
  } finally {
    await file.close();
  }
  return contents;
}

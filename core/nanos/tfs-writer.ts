// Plans one TFS filesystem the way Nanos mkfs builds it (`fsc` in
// tools/mkfs.c on top of src/fs/tfs.c and src/fs/tlog.c), so that the log
// bytes and the file placement match mkfs given the same attribute order:
//
// 1. Sector 0 contains the initial log extension. mkfs then reserves three
//    1024-sector areas: the first log extension (sector 1) and two areas kept
//    for later extensions (1025 and 2049), so file data starts at sector 3073.
// 2. The first log entry is the whole root tuple, with every file as an empty tuple.
// 3. For each file, in depth-first order, `filesystem_write_linear` allocates
//    extents of at most 32 MiB from the lowest free gap and logs one attribute
//    update per step: `extents = ()`, then `extents.<sector> = (offset length
//    allocated)` per extent, then `filelength`. An empty file gets
//    `extents = ()` and `filelength = 0`. This writer also lets callers sort
//    files into placement groups, placed one group after another.
//
// Only sizes are needed here, because the image writer streams the contents
// into the planned sectors. The UUID is the one thing left open: it sits in
// sector 0, which is encoded last.

import { NanosImageError } from './errors';
import { walkFiles, type TreeDirectory, type TreeFile, type TreeNode } from './image-tree';
import { LOG_EXTENSION_SECTORS, LogWriter, SECTOR_SIZE, encodeInitialExtension, type LogExtensionImage } from './tfs-log';
import { SpaceAllocator } from './space-allocator';
import { Tuple, type TupleValue } from './tuple';
import { TupleEncoder } from './tuple-encoding';

/** Maximum extent the kernel creates: 8192 pages of 4 KiB (`MAX_EXTENT_SIZE` in src/fs/tfs.h). */
export const MAX_EXTENT_SECTORS = (8192 * 4096) / SECTOR_SIZE;
/** `create_extent` halves a request that does not fit down to 1 MiB (`MIN_EXTENT_ALLOC_SIZE`). */
const MIN_EXTENT_ALLOC_SECTORS = (1024 * 1024) / SECTOR_SIZE;

/**
 * Overrides of the writer's attribute and file order. Nanos mkfs takes both
 * from its in-memory hash tables, so they change from run to run. The
 * compatibility tests read them from an mkfs image to compare bytes. Normal
 * callers leave them unset.
 */
export interface TupleOrdering {
  /**
   * Returns the attribute names of one tuple in the order to encode them.
   * `tuplePath` lists the attribute names from the root tuple, joined with "/":
   * "" is the root tuple, "children" the root directory, "children/etc/children"
   * the directory /etc and "children/bin/app/extents/0" the first extent of /bin/app.
   */
  attributeOrder?: (tuplePath: string, names: string[]) => string[];
  /** Returns the image paths of all files in the order to place their data. */
  fileOrder?: (paths: string[]) => string[];
}

/** A run of file data: `sectors` sectors of the file from `fileSector` sit at filesystem sector `sector`. */
export interface PlannedExtent {
  fileSector: number;
  sector: number;
  sectors: number;
}

export interface PlannedFile {
  file: TreeFile;
  extents: PlannedExtent[];
}

export interface FilesystemPlan {
  /** Log extensions after sector 0, in chain order. */
  extensions: LogExtensionImage[];
  /** Files in the order their data was placed. */
  files: PlannedFile[];
  /** One past the last sector that mkfs writes, which sets the size of its output file. */
  endSector: number;
  /** Sectors in use once the kernel mounts the filesystem: sector 0, linked log extensions and extents. */
  allocatedSectors: number;
  /** Number of log entries. */
  entryCount: number;
  /** Returns sector 0: the initial extension with the UUID and label. */
  encodeInitialSector(uuid: Uint8Array, label: string): Uint8Array;
}

export interface PlanInput {
  root: TreeDirectory;
  /** Root-tuple attributes after `children`: the boot manifest, or none for the boot filesystem. */
  rootAttributes: ReadonlyArray<readonly [string, TupleValue]>;
  /** Filesystem size in sectors, or Infinity for the root filesystem, which grows with the image file. */
  limitSectors: number;
  /** Name of the filesystem in error messages, e.g. "boot filesystem". */
  name: string;
  ordering?: TupleOrdering;
}

function nodeTuple(node: TreeNode, fileTuples: Map<TreeFile, Tuple>): Tuple {
  switch (node.kind) {
    case 'file': {
      const tuple = new Tuple();
      fileTuples.set(node, tuple);
      return tuple;
    }
    case 'symlink':
      return new Tuple([['linktarget', node.target]]);
    case 'directory':
      return new Tuple([['children', childrenTuple(node, fileTuples)]]);
  }
}

function childrenTuple(directory: TreeDirectory, fileTuples: Map<TreeFile, Tuple>): Tuple {
  const children = new Tuple();
  for (const [name, child] of directory.children) children.set(name, nodeTuple(child, fileTuples));
  return children;
}

function checkedOrder(path: string, names: string[], ordered: string[]): string[] {
  const expected = [...names].sort().join('\0');
  if ([...ordered].sort().join('\0') !== expected) {
    throw new RangeError(`attribute order for tuple "${path}" is not a permutation of ${names.join(', ')}`);
  }
  return ordered;
}

function reorderTuple(tuple: Tuple, path: string, order: NonNullable<TupleOrdering['attributeOrder']>): void {
  const names = [...tuple.attributes.keys()];
  const ordered = checkedOrder(path, names, order(path, names));
  const values = new Map(tuple.attributes);
  tuple.attributes.clear();
  for (const name of ordered) tuple.attributes.set(name, values.get(name)!);

  for (const [name, value] of tuple.attributes) {
    const childPath = path === '' ? name : `${path}/${name}`;
    if (value instanceof Tuple) reorderTuple(value, childPath, order);
  }
}

// Emulates one mkfs run: its allocator, its log and its dictionary.
class FilesystemPlanner {
  private readonly allocator: SpaceAllocator;
  private readonly log: LogWriter;
  private readonly encoder = new TupleEncoder();
  readonly firstExtension: number;
  private nextExtension: number;
  entryCount = 0;
  dataSectors = 0;

  constructor(
    private readonly input: PlanInput,
    private readonly attributeOrder: TupleOrdering['attributeOrder'],
  ) {
    this.allocator = new SpaceAllocator(input.limitSectors);

    // The same order of reservations as `log_create` and `log_ext_new` in src/fs/tlog.c.
    this.allocator.reserve(0, 1);
    this.firstExtension = this.reserveExtensionArea();
    this.nextExtension = this.reserveExtensionArea();
    this.reserveExtensionArea();

    // A new extension takes the area reserved last, and a fresh area is reserved in its place (`log_extend`).
    this.log = new LogWriter(this.firstExtension, () => {
      const sector = this.nextExtension;
      this.nextExtension = this.reserveExtensionArea();
      return sector;
    });
  }

  appendTuple(tuple: Tuple): void {
    this.log.appendEntry((out) => this.encoder.appendTuple(out, tuple));
    this.entryCount += 1;
  }

  // Logs `target.name = value` and applies it, as `filesystem_write_eav` callers in src/fs/tfs.c do.
  appendUpdate(target: Tuple, name: string, value: TupleValue): void {
    this.log.appendEntry((out) => this.encoder.appendAttributeUpdate(out, target, name, value));
    target.set(name, value);
    this.entryCount += 1;
  }

  /** Allocates the extents of one file and logs its updates, as `filesystem_write_linear` does. */
  placeFile(file: TreeFile, fileTuple: Tuple): PlannedFile {
    const extents: PlannedExtent[] = [];
    const totalSectors = Math.ceil(file.size / SECTOR_SIZE);
    let extentsTuple: Tuple | undefined;

    if (totalSectors === 0) {
      extentsTuple = new Tuple();
      this.appendUpdate(fileTuple, 'extents', extentsTuple);
    }

    for (let fileSector = 0; fileSector < totalSectors; ) {
      const { sector, sectors } = this.allocateExtent(file, Math.min(totalSectors - fileSector, MAX_EXTENT_SECTORS));

      // `add_extent_to_file` creates the extents tuple once the first extent has its storage.
      if (!extentsTuple) {
        extentsTuple = new Tuple();
        this.appendUpdate(fileTuple, 'extents', extentsTuple);
      }

      const name = String(fileSector);
      const extentTuple = new Tuple([
        ['offset', BigInt(sector)],
        ['length', BigInt(sectors)],
        ['allocated', BigInt(sectors)],
      ]);
      if (this.attributeOrder) {
        const tuplePath = `${file.path.slice(1).split('/').map((part) => `children/${part}`).join('/')}/extents/${name}`;
        reorderTuple(extentTuple, tuplePath, this.attributeOrder);
      }
      this.appendUpdate(extentsTuple, name, extentTuple);

      extents.push({ fileSector, sector, sectors });
      this.dataSectors += sectors;
      fileSector += sectors;
    }

    this.appendUpdate(fileTuple, 'filelength', BigInt(file.size));
    return { file, extents };
  }

  finish(): LogExtensionImage[] {
    return this.log.finish();
  }

  private reserveExtensionArea(): number {
    const sector = this.allocator.allocate(LOG_EXTENSION_SECTORS);
    if (sector === undefined) {
      throw new NanosImageError('bootfs-full', `The ${this.input.name} has no room left for another 512 KiB log extension.`);
    }
    return sector;
  }

  // `create_extent` halves a request that does not fit until it reaches 1 MiB.
  private allocateExtent(file: TreeFile, requestedSectors: number): { sector: number; sectors: number } {
    let sectors = requestedSectors;
    let sector = this.allocator.allocate(sectors);
    while (sector === undefined && sectors > MIN_EXTENT_ALLOC_SECTORS) {
      sectors = Math.floor(sectors / 2);
      sector = this.allocator.allocate(sectors);
    }

    if (sector === undefined) {
      const total = this.input.limitSectors * SECTOR_SIZE;
      const taken = this.allocator.reservedSectors * SECTOR_SIZE;
      throw new NanosImageError(
        'bootfs-full',
        `The ${this.input.name} has no room for ${file.path} (${file.size} bytes): ${taken} of its ${total} bytes are taken by the log and earlier files. Use a smaller kernel or fewer klibs.`,
      );
    }
    return { sector, sectors };
  }
}

// Without an override, files go in ascending placement group and in tree
// order within a group. Array.prototype.sort is stable (ES2019), so with
// every group 0 this is mkfs's depth-first order.
function orderFiles(files: TreeFile[], fileOrder: TupleOrdering['fileOrder']): TreeFile[] {
  if (!fileOrder) return [...files].sort((left, right) => left.placementGroup - right.placementGroup);
  const byPath = new Map(files.map((file) => [file.path, file]));
  const ordered = checkedOrder('(files)', [...byPath.keys()], fileOrder([...byPath.keys()]));
  return ordered.map((path) => byPath.get(path)!);
}

/** Plans the log and the data placement of one filesystem. Throws a `bootfs-full` error when the files do not fit `limitSectors`. */
export function planFilesystem(input: PlanInput): FilesystemPlan {
  const attributeOrder = input.ordering?.attributeOrder;
  const planner = new FilesystemPlanner(input, attributeOrder);

  const fileTuples = new Map<TreeFile, Tuple>();
  const root = new Tuple([['children', childrenTuple(input.root, fileTuples)], ...input.rootAttributes]);
  if (attributeOrder) reorderTuple(root, '', attributeOrder);
  planner.appendTuple(root);

  const files = orderFiles([...walkFiles(input.root)], input.ordering?.fileOrder);
  const planned = files.map((file) => planner.placeFile(file, fileTuples.get(file)!));
  const extensions = planner.finish();

  let endSector = 1;
  for (const extension of extensions) endSector = Math.max(endSector, extension.sector + extension.bytes.length / SECTOR_SIZE);
  for (const { extents } of planned) {
    for (const extent of extents) endSector = Math.max(endSector, extent.sector + extent.sectors);
  }

  const firstExtension = planner.firstExtension;
  return {
    extensions,
    files: planned,
    endSector,
    allocatedSectors: 1 + extensions.length * LOG_EXTENSION_SECTORS + planner.dataSectors,
    entryCount: planner.entryCount,
    encodeInitialSector: (uuid, label) => encodeInitialExtension(uuid, label, firstExtension),
  };
}

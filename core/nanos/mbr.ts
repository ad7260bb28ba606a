// Sector 0 of a Nanos disk: the stage-1 boot sector from boot.img, whose
// partition table the writer fills in. Offsets follow Nanos's
// platform/pc/boot/stage1.s and `struct partition_entry` in src/runtime/storage.h.

import { NanosImageError } from './errors';
import { SECTOR_SIZE } from './tfs-log';

export const PARTITION_TYPE_EFI = 0xef;
export const PARTITION_TYPE_LINUX = 0x83;

/** `REGION_FILESYSTEM` in src/kernel/region.h: the region record that stage 2 reads. */
const REGION_FILESYSTEM = 12;
// The 20-byte region record sits right before the partition table. It overlaps
// the usual disk-signature bytes, so no writer may put a signature there.
const REGION_LENGTH_OFFSET = 0x1b2;
const REGION_TYPE_OFFSET = 0x1ba;
const PARTITION_TABLE_OFFSET = 0x1be;
const PARTITION_ENTRY_SIZE = 16;
const SIGNATURE_OFFSET = 0x1fe;

// CHS geometry of `mbr_chs` in src/runtime/storage.h.
const SECTORS_PER_TRACK = 63;
const HEADS = 255;
const MAX_CYLINDER = 1023;

export interface BootImageInfo {
  /** Size of stage 2 in bytes, from the region record at 0x1B2. */
  stage2Size: number;
}

function hasSignature(sector: Uint8Array): boolean {
  return sector[SIGNATURE_OFFSET] === 0x55 && sector[SIGNATURE_OFFSET + 1] === 0xaa;
}

/**
 * Checks that `bytes` is a Nanos boot.img (stage 1 plus stage 2 padded to
 * sectors) and returns its stage-2 size. Nanos mkfs places the first partition
 * at 512 + stage-2 size + 4096, and the file is copied whole, so the region
 * record must agree with the file size.
 */
export function parseBootImage(bytes: Uint8Array, path: string): BootImageInfo {
  const fail = (reason: string): NanosImageError =>
    new NanosImageError('invalid-boot-image', `Boot image ${path} ${reason}; pass boot.img from a Nanos release (the file next to kernel.img).`, path);

  if (bytes.length < 2 * SECTOR_SIZE || bytes.length % SECTOR_SIZE !== 0) {
    throw fail(`is ${bytes.length} bytes, not a whole number of sectors (two or more)`);
  }
  if (!hasSignature(bytes)) throw fail('has no 55 AA boot signature at byte 510');

  const view = Buffer.from(bytes.buffer, bytes.byteOffset, SECTOR_SIZE);
  if (view.readUInt32LE(REGION_TYPE_OFFSET) !== REGION_FILESYSTEM) throw fail('lacks the filesystem region record at 0x1AA');

  const stage2Size = Number(view.readBigUInt64LE(REGION_LENGTH_OFFSET));
  if (stage2Size !== bytes.length - SECTOR_SIZE) {
    throw fail(`declares ${stage2Size} bytes of stage 2 but contains ${bytes.length - SECTOR_SIZE}`);
  }
  if (view.subarray(PARTITION_TABLE_OFFSET, SIGNATURE_OFFSET).some((byte) => byte !== 0)) {
    throw fail('already has partition entries, so it looks like a disk image');
  }

  return { stage2Size };
}

/**
 * Returns the 3 CHS bytes Nanos writes for `lba`. Nanos ORs cylinder bits 8-9
 * into the low bits of the second byte, unlike the standard layout. Nothing in
 * the boot path reads CHS.
 */
export function encodeChs(lba: number): [number, number, number] {
  let cylinder = Math.floor(lba / SECTORS_PER_TRACK / HEADS);
  let head = Math.floor(lba / SECTORS_PER_TRACK) % HEADS;
  let sector = (lba % SECTORS_PER_TRACK) + 1;
  if (cylinder > MAX_CYLINDER) {
    cylinder = MAX_CYLINDER;
    head = 254;
    sector = 63;
  }
  return [head, (cylinder >> 8) | sector, cylinder & 0xff];
}

/** Returns a 16-byte partition entry, marked active as Nanos marks every partition. Offsets and sizes are in bytes. */
export function encodePartitionEntry(type: number, offset: number, size: number): Uint8Array {
  const entry = Buffer.alloc(PARTITION_ENTRY_SIZE);
  entry[0] = 0x80;
  entry.set(encodeChs(offset / SECTOR_SIZE), 1);
  entry[4] = type;
  entry.set(encodeChs((offset + size - SECTOR_SIZE) / SECTOR_SIZE), 5);
  entry.writeUInt32LE(offset / SECTOR_SIZE, 8);
  entry.writeUInt32LE(size / SECTOR_SIZE, 12);
  return entry;
}

/** Returns a copy of `bootSector` with `entries` written into the partition table from slot 0. */
export function withPartitionTable(bootSector: Uint8Array, entries: readonly Uint8Array[]): Uint8Array {
  const sector = Uint8Array.from(bootSector.subarray(0, SECTOR_SIZE));
  entries.forEach((entry, index) => sector.set(entry, PARTITION_TABLE_OFFSET + index * PARTITION_ENTRY_SIZE));
  return sector;
}

export interface PartitionEntry {
  /** Slot 0..3 in the table. */
  index: number;
  active: boolean;
  type: number;
  firstSector: number;
  sectorCount: number;
}

/** Returns the non-empty partition entries of sector 0, or undefined when the sector has no 55 AA signature. */
export function readPartitionTable(sector: Uint8Array): PartitionEntry[] | undefined {
  if (sector.length < SECTOR_SIZE || !hasSignature(sector)) return undefined;

  const view = Buffer.from(sector.buffer, sector.byteOffset, SECTOR_SIZE);
  const entries: PartitionEntry[] = [];
  for (let index = 0; index < 4; index++) {
    const base = PARTITION_TABLE_OFFSET + index * PARTITION_ENTRY_SIZE;
    const entry = {
      index,
      active: view[base] === 0x80,
      type: view[base + 4]!,
      firstSector: view.readUInt32LE(base + 8),
      sectorCount: view.readUInt32LE(base + 12),
    };
    if (entry.type !== 0 || entry.firstSector !== 0 || entry.sectorCount !== 0) entries.push(entry);
  }
  return entries;
}

/** Returns the stage-2 size from the region record of sector 0, or undefined when the record is absent. */
export function readRegionStage2Size(sector: Uint8Array): number | undefined {
  const view = Buffer.from(sector.buffer, sector.byteOffset, SECTOR_SIZE);
  if (view.readUInt32LE(REGION_TYPE_OFFSET) !== REGION_FILESYSTEM) return undefined;
  return Number(view.readBigUInt64LE(REGION_LENGTH_OFFSET));
}

/**
 * Picks the boot and root filesystem entries as `partition_get` in
 * src/runtime/storage.h does: when slot 0 is an EFI System Partition they are
 * slots 1 and 2, otherwise slots 0 and 1.
 */
export function selectPartitions(entries: readonly PartitionEntry[]): { efi?: PartitionEntry; bootfs?: PartitionEntry; rootfs?: PartitionEntry } {
  const slot = (index: number): PartitionEntry | undefined => entries.find((entry) => entry.index === index);
  const first = slot(0);
  if (first?.type === PARTITION_TYPE_EFI) return { efi: first, bootfs: slot(1), rootfs: slot(2) };
  return { bootfs: first, rootfs: slot(1) };
}

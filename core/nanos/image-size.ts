// Image size: Nanos mkfs's rounding rule, plus the free space a program needs
// to write files at run time.

import { DEFAULT_FREE_SPACE, KERNEL_LOG_RESERVE_SECTORS, mkfsImageSize, type DiskLayout } from './disk-layout';
import { NanosImageError } from './errors';
import { SECTOR_SIZE } from './tfs-log';
import type { FilesystemPlan } from './tfs-writer';

/** MBR partition entries hold 32-bit sector numbers, so an image must stay below 2 TiB. */
const MAX_IMAGE_SECTORS = 2 ** 32;

export interface SizeDecision {
  /** Image size in bytes. */
  size: number;
  /** Bytes a program can write to new files, after the kernel's log reservation. */
  freeBytes: number;
}

/**
 * Returns the image size for a planned root filesystem. `requestedSize` is
 * taken exactly. It must hold what Nanos mkfs writes and, when `freeSpace` is
 * given as well, that free space. Without it the size is mkfs's rule applied
 * to the contents plus `freeSpace` (default 32 MiB), so a `freeSpace` of 0
 * gives exactly mkfs's size. Throws `image-too-small` naming both numbers.
 */
export function decideImageSize(layout: DiskLayout, plan: FilesystemPlan, requestedSize: number | undefined, freeSpace: number | undefined): SizeDecision {
  // Nanos mkfs sizes its output from the end of the last sector it wrote.
  const contentEnd = layout.rootfsOffset + plan.endSector * SECTOR_SIZE;
  const freeSpaceBytes = freeSpace ?? DEFAULT_FREE_SPACE;
  const withFreeSpace = layout.rootfsOffset + (plan.allocatedSectors + KERNEL_LOG_RESERVE_SECTORS) * SECTOR_SIZE + freeSpaceBytes;

  let size: number;
  if (requestedSize !== undefined) {
    const minimum = freeSpace === undefined ? contentEnd : Math.max(contentEnd, withFreeSpace);
    if (requestedSize < minimum) {
      const reason = freeSpace === undefined ? 'the contents need' : `the contents and ${freeSpaceBytes} bytes of free space need`;
      throw new NanosImageError(
        'image-too-small',
        `Requested image size ${requestedSize} bytes is smaller than the ${minimum} bytes ${reason}; request at least ${minimum} bytes or leave size unset.`,
      );
    }
    size = requestedSize;
  } else if (freeSpaceBytes === 0) {
    size = mkfsImageSize(contentEnd, layout.rootfsOffset);
  } else {
    size = mkfsImageSize(Math.max(contentEnd, withFreeSpace), layout.rootfsOffset);
  }

  if (size / SECTOR_SIZE >= MAX_IMAGE_SECTORS) {
    throw new NanosImageError('invalid-option', `Image size ${size} bytes reaches 2 TiB, which MBR partition entries cannot describe; use a smaller size or less free space.`);
  }

  const rootSectors = (size - layout.rootfsOffset) / SECTOR_SIZE;
  const freeSectors = Math.max(0, rootSectors - plan.allocatedSectors - KERNEL_LOG_RESERVE_SECTORS);
  return { size, freeBytes: freeSectors * SECTOR_SIZE };
}

// Where the parts of a Nanos disk image go and how large the image is, as
// `main` and `write_mbr` in Nanos's tools/mkfs.c lay them out.
//
//   0              boot.img: stage 1 (sector 0, with the partition table) and stage 2
//   boot.img size  4 KiB klog dump area, left zero (`KLOG_DUMP_SIZE`, src/config.h)
//   + 4 KiB        boot filesystem (TFS), exactly 12 MiB (`BOOTFS_SIZE`, src/runtime/storage.h)
//   + 12 MiB       root filesystem (TFS), to the end of the file
//
// Partitions are only sector-aligned. The kernel sizes the root filesystem
// from the disk size, not from its partition entry, so a larger file is a
// larger filesystem.

import { LOG_EXTENSION_BYTES, SECTOR_SIZE } from './tfs-log';

export const KLOG_DUMP_SIZE = 4096;
export const BOOTFS_SIZE = 12 * 1024 * 1024;
export const BOOTFS_SECTORS = BOOTFS_SIZE / SECTOR_SIZE;

/**
 * Sectors the kernel reserves for its log before it allocates any file data:
 * two 512 KiB log areas (`create_extent` in src/fs/tfs.c). Free space beyond
 * these is what a program can write.
 */
export const KERNEL_LOG_RESERVE_SECTORS = 2 * (LOG_EXTENSION_BYTES / SECTOR_SIZE);

/**
 * Default room for files a program writes at run time: logs, caches and
 * temporary files of a typical service. The image file is sparse, so unused
 * free space takes no space on the host's disk.
 */
export const DEFAULT_FREE_SPACE = 32 * 1024 * 1024;

export interface DiskLayout {
  klogOffset: number;
  bootfsOffset: number;
  rootfsOffset: number;
}

export function diskLayout(bootImageSize: number): DiskLayout {
  const klogOffset = bootImageSize;
  const bootfsOffset = klogOffset + KLOG_DUMP_SIZE;
  return { klogOffset, bootfsOffset, rootfsOffset: bootfsOffset + BOOTFS_SIZE };
}

/**
 * Returns the image size Nanos mkfs picks for a minimum size: the root
 * filesystem is rounded up to whole 512 KiB units and always extends at least
 * 512 KiB past `minimumSize`.
 */
export function mkfsImageSize(minimumSize: number, rootfsOffset: number): number {
  const rootfsBytes = minimumSize - rootfsOffset + LOG_EXTENSION_BYTES;
  return Math.ceil(rootfsBytes / LOG_EXTENSION_BYTES) * LOG_EXTENSION_BYTES + rootfsOffset;
}

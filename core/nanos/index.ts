// Writer and reader of whole Nanos disk images, byte-compatible with Nanos's
// own mkfs. See image-writer.ts for the layout and tfs-writer.ts for how the
// filesystems are built.

export { writeImage, type ImageSummary, type ImageUpdate, type KernelFiles, type PartitionSummary, type WriteImageOptions } from './image-writer';
export { IMAGE_RECORD_FORMAT, imageRecordSchema, parseImageRecord, type ImageRecord } from './image-record';
export { readLockedInodes, type PreviousImage } from './image-rebuild';
export {
  findImageNode,
  readImage,
  readImageFile,
  type FilesystemContents,
  type ImageContents,
  type ImageDirectoryNode,
  type ImageExtent,
  type ImageFileNode,
  type ImageNode,
  type ImageOtherNode,
  type ImagePartition,
  type ImageSymlinkNode,
} from './image-reader';
export type { ImageEntry } from './image-tree';
export type { BootManifest, ManifestValue } from './manifest';
export { DEFAULT_FREE_SPACE } from './disk-layout';
export { NanosImageError, type NanosImageErrorCode } from './errors';
export { formatUuid, parseUuid } from './uuid';

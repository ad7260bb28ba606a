// Public API of the kernel release module.

export { type DownloadRecord, type KernelDownloadProgress } from './download';
export { KernelReleaseError, type KernelReleaseErrorCode } from './errors';
export { BOOT_IMAGE, DEFAULT_NANOS_VERSION, KERNEL_IMAGE, KLIB_FOLDER, RELEASE_BASE_URL, releaseUrls } from './release-layout';
export { UNKNOWN_KERNEL_VERSION, versionMismatchWarning } from './release-version';
export { NANOS_DIR_ENV, resolveKernelRelease, type KernelRelease, type KernelReleaseSource, type ResolveKernelOptions } from './resolve';
export { inspectReleaseFolder, type ReleaseFiles, type ReleaseInspection } from './validate';

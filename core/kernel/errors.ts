// The one error type of kernel release lookup. Callers branch on `code`; the
// message names the folder or URL, what is wrong and how to provide a kernel.

export type KernelReleaseErrorCode =
  /** A version string that is not three dot-separated numbers. */
  | 'invalid-version'
  /** A folder that lacks kernel.img or boot.img, or whose files are not what their names claim. */
  | 'invalid-release'
  /** No source had the release and the download failed or was disabled. */
  | 'not-found'
  /** The HTTP request failed, timed out or returned an error status. */
  | 'download-failed'
  /** The archive does not match the published checksum. */
  | 'checksum-mismatch'
  /** The archive is not a gzip-compressed tar of a release folder. */
  | 'invalid-archive';

export class KernelReleaseError extends Error {
  override readonly name = 'KernelReleaseError';

  constructor(
    readonly code: KernelReleaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

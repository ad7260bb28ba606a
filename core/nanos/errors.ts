// The one error type of the Nanos image writer and reader. Callers branch on
// `code`, and the message names the value, the reason and what to do next.

export type NanosImageErrorCode =
  | 'invalid-option'
  | 'invalid-entry'
  | 'duplicate-entry'
  | 'invalid-manifest'
  | 'missing-source'
  | 'source-changed'
  | 'invalid-boot-image'
  | 'image-too-small'
  | 'bootfs-full'
  | 'not-an-image'
  | 'corrupt-image'
  | 'io';

export class NanosImageError extends Error {
  override readonly name = 'NanosImageError';

  constructor(
    readonly code: NanosImageErrorCode,
    message: string,
    /** The host file the error is about, when there is one. */
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// The one error type the ELF reader throws. Callers branch on `code`; the
// message is written for the user and says what the file is and what to do.

export type ElfErrorCode =
  | 'empty'
  | 'truncated'
  | 'corrupt'
  | 'not-elf'
  | 'mach-o'
  | 'pe'
  | 'script'
  | 'disk-image'
  | 'archive'
  | 'object-file'
  | 'core-dump'
  | 'wrong-class'
  | 'wrong-byte-order'
  | 'wrong-machine'
  | 'wrong-os'
  | 'not-a-program'
  | 'io';

export class ElfError extends Error {
  override readonly name = 'ElfError';

  constructor(
    readonly code: ElfErrorCode,
    message: string,
    /** The file the error is about, when the bytes came from a file. */
    readonly path?: string,
  ) {
    super(message);
  }
}

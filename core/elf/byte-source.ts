// Random-access byte sources for the ELF reader. The reader asks only for the
// parts it needs (headers, the dynamic section, the tables it points to), so a
// file source never has to load a 100 MB program into memory.

import * as fs from 'node:fs';

import { ElfError } from './errors';

export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Reads `length` bytes starting at `offset`. Returns fewer bytes only when
   * the range reaches past the end of the source, and an empty array when
   * `offset` is at or past the end. The result may share memory with the
   * source, so callers must not modify it.
   */
  read(offset: number, length: number): Uint8Array;
}

/** A source over bytes already in memory. `read` returns views, never copies. */
export class BufferByteSource implements ByteSource {
  readonly size: number;

  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.byteLength;
  }

  read(offset: number, length: number): Uint8Array {
    const start = clampOffset(offset, this.size);
    const end = Math.min(this.size, start + Math.max(0, length));
    return this.bytes.subarray(start, end);
  }
}

/**
 * A source over an open file that reads with positioned `fs.readSync`, so the
 * file position is never used and the file is never read whole. The caller
 * owns the descriptor: call `close()` or use `withElfFile`.
 */
export class FileByteSource implements ByteSource {
  readonly size: number;
  /** Bytes read from the file so far; tests use it to check that reads stay small. */
  bytesRead = 0;
  private fd: number | undefined;

  private constructor(
    fd: number,
    size: number,
    readonly path: string,
  ) {
    this.fd = fd;
    this.size = size;
  }

  /**
   * Opens `path` for reading. Throws ElfError code 'io' when the file cannot
   * be opened or is not a regular file.
   */
  static open(path: string): FileByteSource {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (error) {
      throw ioError(path, error);
    }

    try {
      const stat = fs.fstatSync(fd);
      if (stat.isDirectory()) {
        throw new ElfError('io', `${path} is a directory, not a program file`, path);
      }
      if (!stat.isFile()) {
        throw new ElfError('io', `${path} is not a regular file (a device, FIFO or socket), so it cannot be a program`, path);
      }
      return new FileByteSource(fd, stat.size, path);
    } catch (error) {
      fs.closeSync(fd);
      throw error instanceof ElfError ? error : ioError(path, error);
    }
  }

  read(offset: number, length: number): Uint8Array {
    if (this.fd === undefined) {
      throw new ElfError('io', `cannot read ${this.path}: the file source is already closed`, this.path);
    }

    const start = clampOffset(offset, this.size);
    const requested = Math.min(this.size - start, Math.max(0, length));
    const buffer = Buffer.allocUnsafe(requested);

    // readSync may return fewer bytes than asked for, so loop until the range
    // is complete or the file turns out shorter than its size at open time.
    let filled = 0;
    while (filled < requested) {
      let count: number;
      try {
        count = fs.readSync(this.fd, buffer, filled, requested - filled, start + filled);
      } catch (error) {
        throw ioError(this.path, error);
      }
      if (count === 0) {
        break;
      }
      filled += count;
    }

    this.bytesRead += filled;
    return buffer.subarray(0, filled);
  }

  /** Closes the descriptor. Calling it again does nothing. */
  close(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      fs.closeSync(fd);
    }
  }
}

/**
 * A source that reads the first `prefixSize` bytes of another source once and
 * serves reads inside them from memory. The ELF header, the program headers,
 * PT_INTERP, the notes and, in small files, the symbol and string tables all
 * lie there, so this saves most read calls per file.
 */
export class PrefixCachedSource implements ByteSource {
  readonly size: number;
  private readonly prefix: Uint8Array;

  constructor(
    private readonly inner: ByteSource,
    prefixSize: number,
  ) {
    this.size = inner.size;
    this.prefix = inner.read(0, prefixSize);
  }

  read(offset: number, length: number): Uint8Array {
    if (offset >= 0 && length >= 0 && offset + length <= this.prefix.length) {
      return this.prefix.subarray(offset, offset + length);
    }
    return this.inner.read(offset, length);
  }
}

/** Opens `path` as a FileByteSource, runs `fn` with it and always closes it. */
export function withElfFile<T>(path: string, fn: (source: FileByteSource) => T): T {
  const source = FileByteSource.open(path);
  try {
    return fn(source);
  } finally {
    source.close();
  }
}

function clampOffset(offset: number, size: number): number {
  if (!Number.isFinite(offset) || offset < 0) {
    return size;
  }
  return Math.min(Math.floor(offset), size);
}

function ioError(path: string, error: unknown): ElfError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new ElfError('io', `${path} not found: no such file`, path);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new ElfError('io', `cannot read ${path}: permission denied`, path);
  }
  if (code === 'EISDIR') {
    return new ElfError('io', `${path} is a directory, not a program file`, path);
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new ElfError('io', `cannot read ${path}: ${detail}`, path);
}

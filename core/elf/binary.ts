// Bounds-checked reads of fixed-layout ELF data in the file's byte order.
// Every offset and count that comes from the file is checked against the file
// size before any memory is allocated for it.

import type { ByteSource } from './byte-source';
import { ElfError } from './errors';

/** The source and number format that every reader step uses. */
export interface ElfReadContext {
  readonly source: ByteSource;
  readonly is64: boolean;
  readonly little: boolean;
  readonly path?: string;
}

/** A byte range of the file with typed accessors; offsets passed to them are relative to `fileOffset`. */
export class Region {
  readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly fileOffset: number,
    private readonly little: boolean,
    private readonly path?: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  u8(at: number): number {
    return this.view.getUint8(at);
  }

  u16(at: number): number {
    return this.view.getUint16(at, this.little);
  }

  u32(at: number): number {
    return this.view.getUint32(at, this.little);
  }

  /** Reads an unsigned 64-bit field as bigint. */
  u64(at: number): bigint {
    return this.view.getBigUint64(at, this.little);
  }

  /** Reads a signed 64-bit field as bigint. */
  i64(at: number): bigint {
    return this.view.getBigInt64(at, this.little);
  }

  /**
   * Reads an address-sized field (4 or 8 bytes) as a number. Throws ElfError
   * 'corrupt' when a 64-bit value is 2^53 or more, because file offsets and
   * sizes that large cannot be real and would lose precision as numbers.
   */
  word(at: number, is64: boolean, field: string): number {
    if (!is64) {
      return this.u32(at);
    }
    // Two 32-bit halves give the same value as a bigint read without
    // allocating one; this runs for every program and section header.
    const high = this.view.getUint32(this.little ? at + 4 : at, this.little);
    const low = this.view.getUint32(this.little ? at : at + 4, this.little);
    if (high >= 0x200000) {
      return toSafeNumber(this.u64(at), field, this.path);
    }
    return high * 0x100000000 + low;
  }
}

/** Converts a 64-bit field to a number, rejecting values of 2^53 or more as corrupt. */
export function toSafeNumber(value: bigint, field: string, path?: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ElfError('corrupt', `${describe(path)} is corrupt: ${field} is 0x${value.toString(16)}, too large for any real file`, path);
  }
  return Number(value);
}

/**
 * Reads exactly `length` bytes at `offset` as a Region. Throws ElfError
 * 'corrupt' naming `what` when the range does not lie inside the file.
 */
export function readRegion(context: ElfReadContext, offset: number, length: number, what: string): Region {
  const size = context.source.size;
  if (offset < 0 || length < 0 || offset > size || length > size - offset) {
    throw new ElfError(
      'corrupt',
      `${describe(context.path)} is corrupt: ${what} (offset ${offset}, ${length} bytes) lies outside the file (${size} bytes)`,
      context.path,
    );
  }

  const bytes = context.source.read(offset, length);
  if (bytes.byteLength !== length) {
    throw new ElfError(
      'truncated',
      `${describe(context.path)} is truncated: reading ${what} returned ${bytes.byteLength} of ${length} bytes`,
      context.path,
    );
  }
  return new Region(bytes, offset, context.little, context.path);
}

/** Returns true when `offset + length` lies inside the file. */
export function fitsInFile(context: ElfReadContext, offset: number, length: number): boolean {
  const size = context.source.size;
  return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
}

/** Builds the ElfError for a file whose content contradicts itself. */
export function corrupt(context: { path?: string }, detail: string): ElfError {
  return new ElfError('corrupt', `${describe(context.path)} is corrupt: ${detail}`, context.path);
}

/** Names the file in messages, or "the ELF data" when the bytes did not come from a file. */
export function describe(path: string | undefined): string {
  return path ?? 'the ELF data';
}

/** Formats an address or offset as lower-case hex with a 0x prefix. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/**
 * Reads small records scattered through one file range (version records,
 * notes) with few reads: it keeps a window of up to 64 KiB and reads a new
 * one only when a record falls outside it.
 */
export class WindowedReader {
  private window: Region | undefined;

  constructor(
    private readonly context: ElfReadContext,
    /** File offset where the range starts. */
    readonly start: number,
    /** Range length; records past it are rejected as corrupt. */
    readonly length: number,
    private readonly what: string,
  ) {}

  /**
   * Returns a Region of `size` bytes at `offset` (relative to `start`).
   * Throws ElfError 'corrupt' when the record reaches past the range.
   */
  record(offset: number, size: number): Region {
    if (offset < 0 || size > this.length || offset > this.length - size) {
      throw corrupt(this.context, `a record of ${this.what} at offset ${offset} (${size} bytes) lies outside its ${this.length}-byte range`);
    }

    const fileOffset = this.start + offset;
    const window = this.window;
    if (window !== undefined && fileOffset >= window.fileOffset && fileOffset + size <= window.fileOffset + window.length) {
      return sliceRegion(window, fileOffset - window.fileOffset, size, this.context);
    }

    const windowLength = Math.min(Math.max(size, WINDOW_BYTES), this.length - offset);
    this.window = readRegion(this.context, fileOffset, windowLength, this.what);
    return sliceRegion(this.window, 0, size, this.context);
  }
}

const WINDOW_BYTES = 64 * 1024;

function sliceRegion(region: Region, at: number, size: number, context: ElfReadContext): Region {
  return new Region(region.bytes.subarray(at, at + size), region.fileOffset + at, context.little, context.path);
}

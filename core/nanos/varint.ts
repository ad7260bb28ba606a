// TFS varints, as `push_varint` and `pop_varint` in Nanos's src/runtime/buffer.h
// write them: 7-bit groups, most significant group first, bit 7 set on every
// byte except the last. This is big-endian base-128, not LEB128.

import { ByteWriter } from './byte-writer';
import { NanosImageError } from './errors';

/** Maximum varint length in bytes: 64 bits in 7-bit groups (`MAX_VARINT_SIZE` in src/fs/tlog.c). */
export const MAX_VARINT_SIZE = 10;

const U64_MAX = (1n << 64n) - 1n;
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/** Appends `value` (a non-negative integer up to 2^64 - 1) as a varint. */
export function pushVarint(out: ByteWriter, value: number | bigint): void {
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_SAFE_BIGINT) value = Number(value);
  if (typeof value === 'number' && value >= 0 && value < 128 && Number.isInteger(value)) {
    out.pushByte(value);
    return;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    // Number arithmetic avoids BigInt allocations for lengths, sectors and indexes.
    let groups = 1;
    for (let rest = value; rest >= 128; rest = Math.floor(rest / 128)) groups += 1;
    for (let i = groups - 1; i >= 0; i--) {
      const group = Math.floor(value / 128 ** i) % 128;
      out.pushByte(i > 0 ? group | 0x80 : group);
    }
    return;
  }

  let remaining = BigInt(value);
  if (remaining < 0n || remaining > U64_MAX) {
    throw new RangeError(`varint value ${value} is outside 0..2^64-1`);
  }
  const groups: number[] = [Number(remaining & 0x7fn)];
  remaining >>= 7n;
  while (remaining > 0n) {
    groups.push(0x80 | Number(remaining & 0x7fn));
    remaining >>= 7n;
  }
  for (let i = groups.length - 1; i >= 0; i--) out.pushByte(groups[i]!);
}

/** Returns the varint encoding of `value` as a new array. */
export function encodeVarint(value: number | bigint): Uint8Array {
  const out = new ByteWriter(MAX_VARINT_SIZE);
  pushVarint(out, value);
  return out.toBytes();
}

export interface DecodedVarint {
  value: bigint;
  /** Offset of the first byte after the varint. */
  next: number;
}

/**
 * Reads the varint at `offset`. Throws a `corrupt-image` error when the bytes
 * end first or the varint is longer than 10 bytes, which no Nanos writer emits.
 */
export function readVarint(bytes: Uint8Array, offset: number, context: string): DecodedVarint {
  let value = 0n;
  let position = offset;

  for (;;) {
    if (position >= bytes.length) {
      throw new NanosImageError('corrupt-image', `${context}: varint at offset ${offset} runs past the end of the data.`);
    }
    if (position - offset >= MAX_VARINT_SIZE) {
      throw new NanosImageError('corrupt-image', `${context}: varint at offset ${offset} is longer than ${MAX_VARINT_SIZE} bytes.`);
    }

    const byte = bytes[position]!;
    position += 1;
    value = (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) break;
  }

  return { value: value & U64_MAX, next: position };
}

/** Reads a varint that must fit in a JavaScript number (sector numbers, lengths, indexes). */
export function readSmallVarint(bytes: Uint8Array, offset: number, context: string): { value: number; next: number } {
  const decoded = readVarint(bytes, offset, context);
  if (decoded.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new NanosImageError('corrupt-image', `${context}: varint ${decoded.value} at offset ${offset} is too large for a length or index.`);
  }
  return { value: Number(decoded.value), next: decoded.next };
}

import { describe, expect, it } from 'vitest';

import { NanosImageError } from './errors';
import { encodeVarint, readSmallVarint, readVarint } from './varint';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('TFS varint', () => {
  it.each([
    [0, '00'],
    [5, '05'],
    [127, '7f'],
    [128, '8100'],
    [136, '8108'],
    [1024, '8800'],
    [3073, '9801'],
    [524237, '9fff4d'],
  ])('encodes %i as %s', (value, expected) => {
    expect(hex(encodeVarint(value))).toBe(expected);
  });

  it('round-trips 64-bit values', () => {
    for (const value of [0n, 1n, 2n ** 32n, 7715541016816079140n, 2n ** 64n - 1n]) {
      const bytes = encodeVarint(value);
      expect(readVarint(bytes, 0, 'test')).toEqual({ value, next: bytes.length });
    }
  });

  it('rejects negative and oversized values', () => {
    expect(() => encodeVarint(-1)).toThrow(RangeError);
    expect(() => encodeVarint(2n ** 64n)).toThrow(RangeError);
  });

  it('reads at an offset', () => {
    expect(readSmallVarint(Uint8Array.from([0xff, 0x98, 0x01, 0x05]), 1, 'test')).toEqual({ value: 3073, next: 3 });
  });

  it('rejects truncated varints', () => {
    expect(() => readVarint(Uint8Array.from([0x81, 0x80]), 0, 'test')).toThrow(NanosImageError);
  });

  it('rejects varints over 10 bytes', () => {
    expect(() => readVarint(new Uint8Array(11).fill(0x80), 0, 'test')).toThrow(/longer than 10 bytes/);
  });
});

// Parser for the size strings of unikernel.json. It returns either the
// parsed value or a reason, so the schema and the OPS reader can both report
// the reason with the key path. Port strings are parsed in port-spec.ts.

/** Sector size of Nanos disk images; image sizes are rounded up to it. */
export const SECTOR_BYTES = 512;

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/**
 * Size strings: `0`, or whole digits with a unit B, K, M, G or T (any case,
 * powers of 1024), optionally followed by `B` or `iB` after K to T:
 * `"512M"`, `"2g"`, `"64MiB"`, `"4096B"`. Decimal fractions and `0x`
 * prefixes are not accepted.
 */
export const SIZE_PATTERN = /^(?:0|([0-9]+)(?:([KkMmGgTt])(?:[Ii]?[Bb])?|([Bb])))$/;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses a size string (see SIZE_PATTERN) into bytes. */
export function parseSize(text: string): ParseResult<number> {
  const match = SIZE_PATTERN.exec(text);
  if (!match) {
    return { ok: false, reason: 'is not a size with a unit' };
  }

  const [, digits, unit, bytesUnit] = match;
  if (digits === undefined) {
    return { ok: true, value: 0 };
  }

  const multiplier = UNIT_BYTES[(unit ?? bytesUnit ?? 'b').toLowerCase()] ?? 1;
  const bytes = Number(digits) * multiplier;
  if (!Number.isSafeInteger(bytes)) {
    return { ok: false, reason: 'is too large' };
  }
  return { ok: true, value: bytes };
}

/** Rounds a byte count up to a whole number of 512-byte sectors. */
export function roundUpToSector(bytes: number): number {
  return Math.ceil(bytes / SECTOR_BYTES) * SECTOR_BYTES;
}

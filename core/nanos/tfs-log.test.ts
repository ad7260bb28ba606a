import { describe, expect, it } from 'vitest';

import { NanosImageError } from './errors';
import { LOG_EXTENSION_BYTES, LogWriter, SECTOR_SIZE, encodeInitialExtension, readLog, type LogExtensionImage } from './tfs-log';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const UUID = Uint8Array.from(Buffer.from('052d175a68d266c5782463569bea1da6', 'hex'));

// Lays extensions out in a sparse in-memory filesystem for readLog.
function sectorReader(extensions: Array<{ sector: number; bytes: Uint8Array }>): (sector: number, count: number) => Promise<Uint8Array> {
  return async (sector, count) => {
    const out = new Uint8Array(count * SECTOR_SIZE);
    for (const extension of extensions) {
      const start = (extension.sector - sector) * SECTOR_SIZE;
      const from = Math.max(0, -start);
      const to = Math.min(extension.bytes.length, out.length - start);
      if (to > from) out.set(extension.bytes.subarray(from, to), start + from);
    }
    return out;
  };
}

describe('initial log extension', () => {
  it('matches mkfs for an empty label', () => {
    const sector = encodeInitialExtension(UUID, '', 1);

    expect(sector.length).toBe(512);
    expect(hex(sector.subarray(0, 0x1e))).toBe('4e564d544653' + '05' + '01' + hex(UUID) + '00' + '05018800' + '01');
    expect(sector.subarray(0x1e).every((byte) => byte === 0)).toBe(true);
  });

  it('stores the label before the link', () => {
    const sector = encodeInitialExtension(UUID, 'mylabel', 1);

    expect(hex(sector.subarray(0x18, 0x25))).toBe(Buffer.from('mylabel\0').toString('hex') + '05018800' + '01');
  });

  it('accepts 31 label bytes and rejects 32', () => {
    expect(() => encodeInitialExtension(UUID, 'x'.repeat(31), 1)).not.toThrow();
    expect(() => encodeInitialExtension(UUID, 'x'.repeat(32), 1)).toThrow(/at most 31/);
  });

  it('rejects a UUID that is not 16 bytes', () => {
    expect(() => encodeInitialExtension(new Uint8Array(15), '', 1)).toThrow(NanosImageError);
  });
});

describe('LogWriter', () => {
  it('frames small entries in the first extension', () => {
    const log = new LogWriter(1, () => {
      throw new Error('no second extension expected');
    });
    log.append(Uint8Array.from([0x90]));
    log.append(new Uint8Array(136).fill(0x91));

    const [extension] = log.finish();

    expect(extension!.sector).toBe(1);
    expect(extension!.bytes.length).toBe(512);
    expect(hex(extension!.bytes.subarray(0, 16))).toBe('4e564d544653058800' + '020101' + '90' + '028108');
    expect(extension!.bytes[9 + 4 + 5 + 136]).toBe(0x01);
  });

  it('splits an entry across extensions like mkfs', () => {
    // A 700101-byte entry right after the 9-byte header: mkfs wrote
    // TUPLE_AVAILABLE total=700101 chunk=524237, a link at 0x7FFDD and a
    // TUPLE_EXTENDED of 175864 bytes in the next extension.
    const entry = new Uint8Array(700_101).fill(0x42);
    const log = new LogWriter(1, () => 1025);
    log.append(entry);

    const [first, second] = log.finish();

    expect(hex(first!.bytes.subarray(9, 16))).toBe('02aadd459fff4d');
    expect(hex(first!.bytes.subarray(0x7ffdd, 0x7ffdd + 6))).toBe('05880188' + '00' + '01');
    expect(first!.bytes.length).toBe(LOG_EXTENSION_BYTES);
    expect(second!.sector).toBe(1025);
    expect(hex(second!.bytes.subarray(9, 13))).toBe('038add78');
    expect(second!.bytes[13 + 175_864]).toBe(0x01);
  });

  it('flushes staged entries when full', () => {
    const allocations: number[] = [];
    const log = new LogWriter(1, () => {
      allocations.push(allocations.length === 0 ? 1025 : 5000);
      return allocations.at(-1)!;
    });

    log.append(new Uint8Array(300_000).fill(1));
    expect(allocations).toEqual([]);
    log.append(new Uint8Array(300_000).fill(2));
    expect(allocations).toEqual([1025]);
  });
});

describe('readLog', () => {
  async function roundTrip(entries: Uint8Array[]): Promise<{ extensions: LogExtensionImage[]; contents: Awaited<ReturnType<typeof readLog>> }> {
    let next = 1025;
    const log = new LogWriter(1, () => {
      const sector = next;
      next += 1024;
      return sector;
    });
    for (const entry of entries) log.append(entry);
    const extensions = log.finish();
    const all = [{ sector: 0, sectors: 1, bytes: encodeInitialExtension(UUID, 'vol', 1) }, ...extensions];
    return { extensions, contents: await readLog(sectorReader(all), 100_000, 'test') };
  }

  it('reassembles entries written by LogWriter', async () => {
    const entries = [Uint8Array.from([0x90]), new Uint8Array(700_101).fill(7), new Uint8Array(600_000).fill(9), Uint8Array.from([0x91, 0x80, 0x80])];

    const { contents } = await roundTrip(entries);

    expect(contents.label).toBe('vol');
    expect(hex(contents.uuid)).toBe(hex(UUID));
    expect(contents.extensions.map((extension) => extension.sector)).toEqual([0, 1, 1025, 2049]);
    expect(contents.entries.map((entry) => entry.bytes.length)).toEqual(entries.map((entry) => entry.length));
    expect(contents.entries.every((entry, index) => Buffer.from(entry.bytes).equals(Buffer.from(entries[index]!)))).toBe(true);
    expect(contents.warnings).toEqual([]);
  });

  it('skips END_OF_SEGMENT records', async () => {
    const first = Uint8Array.from([...Buffer.from('NVMTFS'), 0x05, 0x88, 0x00, 0x02, 0x01, 0x01, 0x90, 0x04, 0x02, 0x01, 0x01, 0x90, 0x01]);
    const all = [
      { sector: 0, bytes: encodeInitialExtension(UUID, '', 1) },
      { sector: 1, bytes: first },
    ];

    const contents = await readLog(sectorReader(all), 2000, 'test');

    expect(contents.entries).toHaveLength(2);
    expect(contents.endOffset).toBe(first.length - 1);
  });

  function corrupted(patch: (sector0: Uint8Array, first: Uint8Array) => void): Promise<unknown> {
    const sector0 = encodeInitialExtension(UUID, '', 1);
    const first = new Uint8Array(512);
    first.set([...Buffer.from('NVMTFS'), 0x05, 0x88, 0x00, 0x02, 0x01, 0x01, 0x90, 0x01]);
    patch(sector0, first);
    return readLog(
      sectorReader([
        { sector: 0, bytes: sector0 },
        { sector: 1, bytes: first },
      ]),
      2000,
      'test',
    );
  }

  it.each([
    ['a wrong magic', (sector0: Uint8Array) => (sector0[0] = 0x4f), /magic/],
    ['version 6', (sector0: Uint8Array) => (sector0[6] = 6), /version 6/],
    ['a zero-length link', (sector0: Uint8Array) => sector0.set([0x05, 0x01, 0x00], 0x19), /zero-length/],
    ['a link past the filesystem', (sector0: Uint8Array) => sector0.set([0x05, 0x8f, 0x7f, 0x88, 0x00], 0x19), /past the filesystem/],
    ['a link back to sector 0', (_: Uint8Array, first: Uint8Array) => first.set([0x05, 0x00, 0x01], 13), /overlap/],
    ['an unknown record', (_: Uint8Array, first: Uint8Array) => (first[9] = 0x07), /record type 0x7/],
    ['a chunk longer than its entry', (_: Uint8Array, first: Uint8Array) => first.set([0x02, 0x01, 0x02], 9), /chunk length 2/],
    ['a TUPLE_EXTENDED with nothing pending', (_: Uint8Array, first: Uint8Array) => first.set([0x03, 0x01, 0x90], 9), /TUPLE_EXTENDED/],
    ['a label without NUL', (sector0: Uint8Array) => sector0.fill(0x41, 0x18, 0x18 + 40), /label/],
  ])('rejects %s', async (_, patch, message) => {
    await expect(corrupted(patch)).rejects.toThrow(message);
  });
});

import { describe, expect, it } from 'vitest';

import { NanosImageError } from './errors';
import { PARTITION_TYPE_EFI, PARTITION_TYPE_LINUX, encodeChs, encodePartitionEntry, parseBootImage, readPartitionTable, selectPartitions, withPartitionTable } from './mbr';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function bootImage(stage2Sectors: number): Buffer {
  const image = Buffer.alloc(512 + stage2Sectors * 512, 0xcc);
  image.fill(0, 0x1aa, 0x1fe);
  image.writeBigUInt64LE(0x8000n, 0x1aa);
  image.writeBigUInt64LE(BigInt(stage2Sectors * 512), 0x1b2);
  image.writeUInt32LE(12, 0x1ba);
  image[0x1fe] = 0x55;
  image[0x1ff] = 0xaa;
  return image;
}

describe('partition entries', () => {
  // Entries of a Nanos mkfs image built with a 48640-byte boot.img: boot
  // filesystem at LBA 103, root filesystem at LBA 24679 with 5120 sectors.
  it('match mkfs for the boot and root filesystems', () => {
    expect(hex(encodePartitionEntry(PARTITION_TYPE_LINUX, 103 * 512, 12 * 1024 * 1024))).toBe('8001290083882e016700000000600000');
    expect(hex(encodePartitionEntry(PARTITION_TYPE_LINUX, 24679 * 512, 5120 * 512))).toBe('80882f0183d93f016760000000140000');
  });

  it('match mkfs for an EFI System Partition', () => {
    expect(hex(encodePartitionEntry(PARTITION_TYPE_EFI, 103 * 512, 33 * 1024 * 1024))).toBe('80012900ef3619046700000000080100');
  });

  it('pack CHS the Nanos way', () => {
    expect(encodeChs(89)).toEqual([1, 27, 0]);
    expect(encodeChs(24664)).toEqual([136, 32, 1]);
    expect(encodeChs(1024 * 255 * 63)).toEqual([254, 63, 255]);
  });

  it('read back through the partition table', () => {
    const sector = withPartitionTable(bootImage(1), [
      encodePartitionEntry(PARTITION_TYPE_LINUX, 9 * 512, 12 * 1024 * 1024),
      encodePartitionEntry(PARTITION_TYPE_LINUX, (9 + 24576) * 512, 4096 * 512),
    ]);

    const table = readPartitionTable(sector)!;

    expect(table).toEqual([
      { index: 0, active: true, type: 0x83, firstSector: 9, sectorCount: 24576 },
      { index: 1, active: true, type: 0x83, firstSector: 24585, sectorCount: 4096 },
    ]);
    expect(selectPartitions(table).rootfs).toBe(table[1]);
  });

  it('skip the EFI System Partition when selecting', () => {
    const table = [
      { index: 0, active: true, type: PARTITION_TYPE_EFI, firstSector: 103, sectorCount: 67584 },
      { index: 1, active: true, type: 0x83, firstSector: 67687, sectorCount: 24576 },
      { index: 2, active: true, type: 0x83, firstSector: 92263, sectorCount: 5120 },
    ];

    expect(selectPartitions(table)).toEqual({ efi: table[0], bootfs: table[1], rootfs: table[2] });
  });
});

describe('parseBootImage', () => {
  it('returns the stage-2 size', () => {
    expect(parseBootImage(bootImage(94), 'boot.img')).toEqual({ stage2Size: 94 * 512 });
  });

  it.each([
    ['a partial sector', (image: Buffer) => image.subarray(0, image.length - 1), /whole number of sectors/],
    ['no signature', (image: Buffer) => ((image[0x1fe] = 0), image), /55 AA/],
    ['no region record', (image: Buffer) => (image.writeUInt32LE(1, 0x1ba), image), /region record/],
    ['a wrong stage-2 length', (image: Buffer) => (image.writeBigUInt64LE(512n, 0x1b2), image), /declares 512 bytes/],
    ['partition entries', (image: Buffer) => ((image[0x1c2] = 0x83), image), /disk image/],
  ])('rejects %s', (_, damage, message) => {
    const parse = (): unknown => parseBootImage(damage(bootImage(3)), '/x/boot.img');

    expect(parse).toThrow(NanosImageError);
    expect(parse).toThrow(message);
    expect(parse).toThrow(/\/x\/boot\.img/);
  });
});

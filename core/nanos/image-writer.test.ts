import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BOOTFS_SIZE, DEFAULT_FREE_SPACE, KERNEL_LOG_RESERVE_SECTORS, KLOG_DUMP_SIZE } from './disk-layout';
import { NanosImageError } from './errors';
import { findImageNode, readImage, readImageFile, type ImageDirectoryNode, type ImageFileNode, type ImageNode } from './image-reader';
import type { ImageEntry } from './image-tree';
import { writeImage, type WriteImageOptions } from './image-writer';
import { firstDifference, makeTempDir, patternBytes, removeDir, writeFakeKernel, type FakeKernel } from './test-support/fixtures';
import { parseUuid } from './uuid';

const MiB = 1024 * 1024;

let dir: string;
let kernel: FakeKernel;
let entries: ImageEntry[];
const sources = new Map<string, Buffer>();

const manifest = {
  program: '/bin/app',
  arguments: ['app', '--port', '8080'],
  environment: { USER: 'root', PWD: '/', EMPTY: '' },
  cwd: '/srv',
  klibs: ['strace', 'tls'],
  extra: { debug_exit: 't', en1: { ipaddr: '10.0.2.15' }, notrace: ['futex', 'clock_gettime'] },
};

beforeAll(async () => {
  dir = await makeTempDir('image-writer');
  kernel = await writeFakeKernel(dir);

  const sizes: Record<string, number> = { s0: 0, s1: 1, s511: 511, s512: 512, s513: 513, s3m: 3 * MiB + 17, s33m: 33 * MiB + 5 };
  entries = [];
  for (const [name, size] of Object.entries(sizes)) {
    const path = join(dir, name);
    const bytes = patternBytes(size, name);
    sources.set(`/data/${name}`, bytes);
    await writeFile(path, bytes);
    entries.push({ kind: 'file', path: `/data/${name}`, source: path });
  }
  const app = patternBytes(4000, 'app');
  await writeFile(join(dir, 'app'), app);
  sources.set('/bin/app', app);

  entries.push(
    { kind: 'file', path: '/bin/app', source: join(dir, 'app'), mode: 0o755 },
    { kind: 'file', path: '/etc/hosts', contents: Buffer.from('127.0.0.1 localhost\n') },
    { kind: 'directory', path: '/srv' },
    { kind: 'directory', path: '/var/empty' },
    { kind: 'symlink', path: '/usr/bin/app', target: '/bin/app' },
    { kind: 'symlink', path: '/lib/rel', target: '../bin/app' },
  );
  sources.set('/etc/hosts', Buffer.from('127.0.0.1 localhost\n'));
});

afterAll(async () => {
  await removeDir(dir);
});

function options(output: string, overrides: Partial<WriteImageOptions> = {}): WriteImageOptions {
  return { output: join(dir, output), kernel, entries, manifest, ...overrides };
}

function listTree(node: ImageNode): string[] {
  if (node.kind !== 'directory') return [];
  return node.children.flatMap((child) => {
    let line = child.path;
    if (child.kind === 'symlink') line = `${child.path} -> ${child.target}`;
    if (child.kind === 'file') line = `${child.path} (${child.size})`;
    return [line, ...listTree(child)];
  });
}

describe('writeImage and readImage', () => {
  let output: string;
  let summary: Awaited<ReturnType<typeof writeImage>>;

  beforeAll(async () => {
    summary = await writeImage(options('round-trip.img', { label: 'data-1' }));
    output = summary.output;
  });

  it('places partitions after klog area', async () => {
    const image = await readImage(output);
    const bootImgSize = (await stat(kernel.bootImg)).size;

    expect(image.partitions.map((partition) => [partition.name, partition.offset, partition.size])).toEqual([
      ['bootfs', bootImgSize + KLOG_DUMP_SIZE, BOOTFS_SIZE],
      ['rootfs', bootImgSize + KLOG_DUMP_SIZE + BOOTFS_SIZE, image.size - bootImgSize - KLOG_DUMP_SIZE - BOOTFS_SIZE],
    ]);
    expect(image.stage2Size).toBe(bootImgSize - 512);
    expect(image.size).toBe(summary.size);
    expect(image.warnings).toEqual([]);
  });

  it('keeps boot.img bytes intact', async () => {
    const [bootImg, written] = await Promise.all([readFile(kernel.bootImg), readFile(output)]);

    expect(written.subarray(0, 0x1be).equals(bootImg.subarray(0, 0x1be))).toBe(true);
    expect(written.subarray(0x1fe, bootImg.length).equals(bootImg.subarray(0x1fe))).toBe(true);
    expect(written.subarray(bootImg.length, bootImg.length + KLOG_DUMP_SIZE).every((byte) => byte === 0)).toBe(true);
  });

  it('reads back the root tree', async () => {
    const image = await readImage(output);

    expect(listTree(image.rootfs.root)).toEqual([
      '/bin',
      '/bin/app (4000)',
      '/data',
      '/data/s0 (0)',
      '/data/s1 (1)',
      '/data/s33m (34603013)',
      '/data/s3m (3145745)',
      '/data/s511 (511)',
      '/data/s512 (512)',
      '/data/s513 (513)',
      '/etc',
      '/etc/hosts (20)',
      '/lib',
      '/lib/rel -> ../bin/app',
      '/srv',
      '/usr',
      '/usr/bin',
      '/usr/bin/app -> /bin/app',
      '/var',
      '/var/empty',
    ]);
  });

  it('reads back every file', async () => {
    const image = await readImage(output);

    for (const [path, expected] of sources) {
      const node = findImageNode(image.rootfs.root, path) as ImageFileNode;
      expect(firstDifference(await readImageFile(output, node), expected), path).toBe(-1);
    }
  });

  it('splits files at 32 MiB', async () => {
    const image = await readImage(output);
    const big = findImageNode(image.rootfs.root, '/data/s33m') as ImageFileNode;

    expect(big.extents.map((extent) => [extent.fileSector, extent.length])).toEqual([
      [0, 65536],
      [65536, 2049],
    ]);
  });

  it('places data after reserved log areas', async () => {
    const image = await readImage(output);
    const first = findImageNode(image.rootfs.root, '/bin/app') as ImageFileNode;

    expect(image.rootfs.logExtensions.map((extension) => [extension.sector, extension.sectors])).toEqual([
      [0, 1],
      [1, 1024],
    ]);
    expect(first.extents[0]!.sector).toBe(3073);
  });

  it('reads back the boot filesystem', async () => {
    const image = await readImage(output);

    expect(listTree(image.bootfs!.root)).toEqual(['/kernel (100000)', '/klib', '/klib/strace (7000)', '/klib/tls (9000)']);
    const kernelNode = findImageNode(image.bootfs!.root, '/kernel') as ImageFileNode;
    expect((await readImageFile(output, kernelNode)).equals(await readFile(kernel.kernelImg))).toBe(true);
    expect(image.bootfs!.label).toBe('');
  });

  it('reads back the manifest', async () => {
    const image = await readImage(output);

    expect(image.manifest).toEqual({
      program: '/bin/app',
      arguments: ['app', '--port', '8080'],
      environment: { EMPTY: '', PWD: '/', USER: 'root' },
      cwd: '/srv',
      klibs: 'bootfs',
      debug_exit: 't',
      en1: { ipaddr: '10.0.2.15' },
      notrace: ['futex', 'clock_gettime'],
    });
    expect(image.label).toBe('data-1');
    expect(image.uuid).toBe(summary.uuid);
    expect(image.bootfs!.uuid).toBe(summary.bootUuid);
  });

  it('reports free space like reader', async () => {
    const image = await readImage(output);

    expect(summary.rootfs.freeBytes).toBe(image.freeBytes);
    expect(summary.rootfs.freeBytes).toBeGreaterThanOrEqual(DEFAULT_FREE_SPACE);
    expect(summary.rootfs.allocatedBytes).toBe(image.rootfs.allocatedSectors * 512);
    expect(summary.rootfs).toMatchObject({ files: 9, directories: 9, symlinks: 2 });
  });
});

describe('reproducibility', () => {
  it('writes identical bytes for identical inputs', async () => {
    const first = await writeImage(options('same-1.img'));
    const second = await writeImage(options('same-2.img'));

    expect(first.uuid).toBe(second.uuid);
    expect(firstDifference(await readFile(first.output), await readFile(second.output))).toBe(-1);
  });

  it('ignores entry and environment order', async () => {
    const first = await writeImage(options('order-1.img'));
    const second = await writeImage(
      options('order-2.img', {
        entries: [...entries].reverse(),
        manifest: { ...manifest, environment: { PWD: '/', EMPTY: '', USER: 'root' } },
      }),
    );

    expect(firstDifference(await readFile(first.output), await readFile(second.output))).toBe(-1);
  });

  it('changes UUID with file contents', async () => {
    const changed = join(dir, 's513-changed');
    const bytes = Buffer.from(sources.get('/data/s513')!);
    bytes[100] = bytes[100]! ^ 1;
    await writeFile(changed, bytes);
    const changedEntries = entries.map((entry) => (entry.path === '/data/s513' ? { ...entry, source: changed } : entry));

    const original = await writeImage(options('uuid-1.img'));
    const modified = await writeImage(options('uuid-2.img', { entries: changedEntries }));

    expect(modified.uuid).not.toBe(original.uuid);
    expect(modified.bootUuid).not.toBe(original.bootUuid);
  });

  it('changes UUID with manifest', async () => {
    const original = await writeImage(options('manifest-1.img'));
    const modified = await writeImage(options('manifest-2.img', { manifest: { ...manifest, arguments: ['app'] } }));

    expect(modified.uuid).not.toBe(original.uuid);
  });

  it('uses the given UUIDs', async () => {
    const uuid = parseUuid('052d175a-68d2-66c5-7824-63569bea1da6');
    const bootUuid = parseUuid('00112233-4455-6677-8899-aabbccddeeff');

    const summary = await writeImage(options('given-uuid.img', { uuid, bootUuid }));
    const image = await readImage(summary.output);

    expect(image.uuid).toBe('052d175a-68d2-66c5-7824-63569bea1da6');
    expect(image.bootfs!.uuid).toBe('00112233-4455-6677-8899-aabbccddeeff');
  });
});

describe('image size', () => {
  it('rounds like mkfs without free space', async () => {
    const summary = await writeImage(options('mkfs-size.img', { freeSpace: 0 }));
    const rootfs = summary.partitions[1]!;
    const image = await readImage(summary.output);
    const lastUsedSector = Math.max(...image.rootfs.logExtensions.map((extension) => extension.sector + 1), ...allExtents(image.rootfs.root).map((extent) => extent.sector + extent.length));

    expect(rootfs.size % (512 * 1024)).toBe(0);
    expect(rootfs.size - lastUsedSector * 512).toBeGreaterThanOrEqual(512 * 1024);
    expect(rootfs.size - lastUsedSector * 512).toBeLessThanOrEqual(1024 * 1024);
  });

  it('leaves the requested free space', async () => {
    const summary = await writeImage(options('free-space.img', { freeSpace: 100 * MiB }));
    const image = await readImage(summary.output);

    expect(image.freeBytes).toBeGreaterThanOrEqual(100 * MiB);
    expect(image.freeBytes).toBeLessThan(101 * MiB);
    expect(image.rootfs.freeSectors - KERNEL_LOG_RESERVE_SECTORS).toBe(image.freeBytes / 512);
  });

  it('honours an exact size', async () => {
    const summary = await writeImage(options('exact.img', { size: 200 * MiB }));

    expect((await stat(summary.output)).size).toBe(200 * MiB);
    expect((await readImage(summary.output)).partitions[1]!.size).toBe(200 * MiB - summary.partitions[1]!.offset);
  });

  it('rejects size below contents', async () => {
    const write = writeImage(options('too-small.img', { size: 20 * MiB }));

    await expect(write).rejects.toThrow(NanosImageError);
    await expect(write).rejects.toThrow(/Requested image size 20971520 bytes is smaller than the \d+ bytes the contents need/);
    expect(existsSync(join(dir, 'too-small.img'))).toBe(false);
  });

  it('rejects size below free space', async () => {
    const write = writeImage(options('too-small-free.img', { size: 60 * MiB, freeSpace: 64 * MiB }));

    await expect(write).rejects.toThrow(/the contents and 67108864 bytes of free space need/);
  });

  it('rejects partial-sector size', async () => {
    await expect(writeImage(options('odd.img', { size: 100 * MiB + 1 }))).rejects.toThrow(/multiple of 512/);
  });
});

describe('temporary output', () => {
  async function leftovers(): Promise<string[]> {
    return (await readdir(dir)).filter((name) => name.includes('.tmp-'));
  }

  // Files in /sys report 4096 bytes but hold fewer, so the copy fails after the
  // temporary file has been created and partly written.
  const shortSource = '/sys/devices/system/cpu/online';

  it.skipIf(!existsSync(shortSource))('keeps old output on copy failure', async () => {
    const output = join(dir, 'kept.img');
    await writeFile(output, 'previous image');
    const failing: ImageEntry[] = [...entries, { kind: 'file', path: '/zz/short', source: shortSource }];

    const write = writeImage(options('kept.img', { entries: failing }));

    await expect(write).rejects.toThrow(/changed while the image was written/);
    expect(await readFile(output, 'utf8')).toBe('previous image');
    expect(await leftovers()).toEqual([]);
  });

  it('writes nothing for missing source', async () => {
    const missing = join(dir, 'does-not-exist');
    const write = writeImage(options('missing.img', { entries: [...entries, { kind: 'file', path: '/x', source: missing }] }));

    await expect(write).rejects.toThrow(`Source ${missing} for image file /x cannot be read (ENOENT)`);
    expect(existsSync(join(dir, 'missing.img'))).toBe(false);
    expect(await leftovers()).toEqual([]);
  });
});

describe('option and manifest checks', () => {
  // Overrides are functions because the fixtures exist only once beforeAll has run.
  it.each([
    ['a program missing from the image', () => ({ manifest: { ...manifest, program: '/bin/other' } }), /manifest.program \/bin\/other does not resolve to a file in the image/],
    ['a program symlink to nothing', () => ({ entries: [...entries, { kind: 'symlink', path: '/bin/dangling', target: 'missing' }], manifest: { ...manifest, program: '/bin/dangling' } }), /\/bin\/dangling does not resolve/],
    ['a relative program', () => ({ manifest: { ...manifest, program: 'bin/app' } }), /not an absolute path/],
    ['a cwd that is a file', () => ({ manifest: { ...manifest, cwd: '/bin/app' } }), /manifest.cwd \/bin\/app does not resolve to a directory/],
    ['a reserved extra key', () => ({ manifest: { ...manifest, extra: { children: 'x' } } }), /"children" is not allowed/],
    ['a number in extra', () => ({ manifest: { ...manifest, extra: { mtu: 1500 as unknown as string } } }), /manifest.extra.mtu is number/],
    ['an environment name with "="', () => ({ manifest: { ...manifest, environment: { 'A=B': 'c' } } }), /names are non-empty and contain no "="/],
    ['klibs without a klib folder', () => ({ kernel: { bootImg: kernel.bootImg, kernelImg: kernel.kernelImg } }), /klibDir is not set/],
    ['a klib path', () => ({ manifest: { ...manifest, klibs: ['../strace'] } }), /not a klib file name/],
    ['a missing klib', () => ({ manifest: { ...manifest, klibs: ['nope'] } }), /Kernel file .*nope cannot be read/],
    ['a missing kernel', () => ({ kernel: { ...kernel, kernelImg: join(dir, 'no-kernel.img') } }), /Kernel file .*no-kernel.img cannot be read/],
    ['a long label', () => ({ label: 'l'.repeat(32) }), /at most 31/],
    ['a short UUID', () => ({ uuid: new Uint8Array(4) }), /options.uuid is not 16 bytes/],
    ['a negative free space', () => ({ freeSpace: -1 }), /freeSpace -1/],
  ])('rejects %s', async (_, overrides, message) => {
    await expect(writeImage(options('rejected.img', overrides() as Partial<WriteImageOptions>))).rejects.toThrow(message);
    expect(existsSync(join(dir, 'rejected.img'))).toBe(false);
  });

  it('rejects kernel too big for bootfs', async () => {
    const big = join(dir, 'big-kernel.img');
    await writeFile(big, Buffer.alloc(12 * MiB));

    await expect(writeImage(options('no-room.img', { kernel: { ...kernel, kernelImg: big } }))).rejects.toThrow(/The boot filesystem has no room for \/kernel \(12582912 bytes\)/);
  });
});

function allExtents(directory: ImageDirectoryNode): ImageFileNode['extents'] {
  const extents: ImageFileNode['extents'] = [];
  for (const child of directory.children) {
    if (child.kind === 'file') extents.push(...child.extents);
    if (child.kind === 'directory') extents.push(...allExtents(child));
  }
  return extents;
}

// Checks the writer against a real Nanos build: byte equality with Nanos's
// mkfs, `dump` reading our images, and boots under QEMU (TCG). Set
// NX_UNIKERNEL_NANOS_DIR to a release folder (kernel.img, boot.img, klibs/)
// and NX_UNIKERNEL_NANOS_TOOLS to a folder with mkfs and dump.

import { spawnSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { findImageNode, readImage, readImageFile, type ImageDirectoryNode, type ImageExtent, type ImageFileNode } from './image-reader';
import type { ImageEntry } from './image-tree';
import { writeImage, writeImageWithOrdering, type WriteImageOptions } from './image-writer';
import type { BootManifest } from './manifest';
import { findNanosBuild, firstDifference, makeTempDir, patternBytes, removeDir, type NanosBuild } from './test-support/fixtures';
import { bootImage, compileStatic, dumpExtract, dumpTree, mkfsManifest, readMkfsOrder, runMkfs, type MkfsNode } from './test-support/nanos-tools';

const found = findNanosBuild();
const skipReason = typeof found === 'string' ? found : undefined;
if (skipReason) console.log(`Skipping the Nanos compatibility tests: ${skipReason}.`);
const build = found as NanosBuild;

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const hasGcc = spawnSync('gcc', ['--version']).status === 0;
if (!skipReason && !(hasQemu && hasGcc)) console.log('Skipping the boot tests: qemu-system-x86_64 or gcc is not installed.');

const BOOT_TIMEOUT_MS = 120_000;

describe.skipIf(skipReason !== undefined)('Nanos tools compatibility', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await makeTempDir('nanos-compat');
  });

  afterAll(async () => {
    await removeDir(dir);
  });

  // One tree with every kind of node, as ImageEntry list and as mkfs manifest.
  async function sampleTree(name: string): Promise<{ entries: ImageEntry[]; children: Record<string, MkfsNode> }> {
    const root = join(dir, name);
    await mkdir(root, { recursive: true });
    const sizes: Record<string, number> = { s0: 0, s1: 1, s511: 511, s512: 512, s513: 513, big: 3 * 1024 * 1024 + 7, huge: 33 * 1024 * 1024 + 100 };
    for (const [file, size] of Object.entries(sizes)) await writeFile(join(root, file), patternBytes(size, file));
    await writeFile(join(root, 'hello'), patternBytes(2000, 'hello'));
    await writeFile(join(root, 'hostname'), 'nxhost\n');

    const entries: ImageEntry[] = [
      { kind: 'file', path: '/hello', source: join(root, 'hello') },
      { kind: 'file', path: '/etc/hostname', contents: Buffer.from('nxhost\n') },
      ...Object.keys(sizes).map((file): ImageEntry => ({ kind: 'file', path: `/data/${file}`, source: join(root, file) })),
      { kind: 'directory', path: '/emptydir' },
      { kind: 'symlink', path: '/lnk', target: '/hello' },
      { kind: 'symlink', path: '/lib/rel', target: '../hello' },
    ];
    const children: Record<string, MkfsNode> = {
      hello: { host: join(root, 'hello') },
      etc: { children: { hostname: { host: join(root, 'hostname') } } },
      data: { children: Object.fromEntries(Object.keys(sizes).map((file) => [file, { host: join(root, file) }])) },
      emptydir: { children: {} },
      lnk: { linktarget: '/hello' },
      lib: { children: { rel: { linktarget: '../hello' } } },
    };
    return { entries, children };
  }

  const manifest: BootManifest = {
    program: '/hello',
    arguments: ['hello', 'a'],
    environment: { USER: 'root', PWD: '/' },
    klibs: ['strace', 'tls'],
    extra: { debug_exit: 't' },
  };
  const mkfsKeys = { program: '/hello', arguments: ['hello', 'a'], environment: { USER: 'root', PWD: '/' }, klibs: 'bootfs', debug_exit: 't' };
  const mkfsBoot = (): Record<string, MkfsNode> => ({
    klib: { children: { strace: { host: join(build.klibDir, 'strace') }, tls: { host: join(build.klibDir, 'tls') } } },
  });

  // Writes the same tree with mkfs and with our writer, in mkfs's attribute order
  // and with its UUIDs. With `sizeFromMkfs` our image gets mkfs's file size.
  async function writeBoth(
    name: string,
    extraKeys: Record<string, string>,
    options: { label?: string; sizeFromMkfs?: boolean },
    mkfsArgs: string[],
  ): Promise<{ mkfsImage: string; ourImage: string }> {
    const { entries, children } = await sampleTree(name);
    const mkfsImage = join(dir, `${name}-mkfs.img`);
    const ourImage = join(dir, `${name}-ours.img`);
    await runMkfs(build.mkfs, ['-b', build.bootImg, '-k', build.kernelImg, ...mkfsArgs, mkfsImage], mkfsManifest(children, { ...mkfsKeys, ...extraKeys }, mkfsBoot()));

    const order = await readMkfsOrder(mkfsImage);
    const sizing: Partial<WriteImageOptions> = options.sizeFromMkfs ? { size: (await stat(mkfsImage)).size } : { freeSpace: 0 };
    await writeImageWithOrdering(
      {
        output: ourImage,
        kernel: { bootImg: build.bootImg, kernelImg: build.kernelImg, klibDir: build.klibDir },
        entries,
        manifest: { ...manifest, extra: { ...manifest.extra, ...extraKeys } },
        uuid: order.rootfs.uuid,
        bootUuid: order.bootfs.uuid,
        label: options.label,
        ...sizing,
      },
      { bootfs: order.bootfs.ordering, rootfs: order.rootfs.ordering },
    );
    return { mkfsImage, ourImage };
  }

  // Nanos mkfs fills the rest of the last sector of each log extension, after
  // its final END_OF_LOG, from a staging buffer that src/fs/tlog.c never zeroes,
  // so those bytes are leftover heap memory. The kernel stops reading at
  // END_OF_LOG and overwrites them when it appends. Returns their byte ranges.
  async function logTailRanges(imagePath: string): Promise<Array<[number, number]>> {
    const image = await readImage(imagePath);
    const bytes = await readFile(imagePath);
    const ranges: Array<[number, number]> = [];
    for (const filesystem of [image.bootfs!, image.rootfs]) {
      for (const extension of filesystem.logExtensions) {
        const start = filesystem.offset + extension.sector * 512;
        const area = bytes.subarray(start, start + extension.sectors * 512);
        let last = area.length - 1;
        while (last >= 0 && area[last] === 0) last -= 1;
        expect(area[last], `END_OF_LOG of the extension at sector ${extension.sector}`).toBe(0x01);
        const tailEnd = Math.ceil((last + 1) / 512) * 512;
        if (tailEnd > last + 1) ranges.push([start + last + 1, start + tailEnd]);
      }
    }
    return ranges;
  }

  // Compares the images byte for byte, except mkfs's leftover bytes after END_OF_LOG.
  async function expectSameBytes(mkfsImage: string, ourImage: string): Promise<void> {
    const [expected, actual] = await Promise.all([readFile(mkfsImage), readFile(ourImage)]);
    expect(actual.length).toBe(expected.length);

    const ranges = await logTailRanges(ourImage);
    expect(ranges.length).toBeGreaterThanOrEqual(4);
    for (const [start, end] of ranges) expected.fill(0, start, end);
    expect(firstDifference(actual, expected)).toBe(-1);
  }

  it('matches mkfs byte for byte', async () => {
    const { mkfsImage, ourImage } = await writeBoth('plain', {}, {}, []);

    await expectSameBytes(mkfsImage, ourImage);
  });

  it('reads mkfs images like ours', async () => {
    const { mkfsImage, ourImage } = await writeBoth('read-back', {}, {}, []);

    const [fromMkfs, fromOurs] = await Promise.all([readImage(mkfsImage), readImage(ourImage)]);

    expect(fromMkfs.rootfs.root).toEqual(fromOurs.rootfs.root);
    expect(fromMkfs.bootfs!.root).toEqual(fromOurs.bootfs!.root);
    expect(fromMkfs.manifest).toEqual(fromOurs.manifest);
    expect(fromMkfs.warnings).toEqual([]);
  });

  it('matches mkfs with a label and -s', async () => {
    // mkfs -s 64M rounds up to whole 512 KiB units past 64 MiB; our writer takes that size exactly.
    const { mkfsImage, ourImage } = await writeBoth('sized', {}, { label: 'nx-label', sizeFromMkfs: true }, ['-l', 'nx-label', '-s', '64M']);

    await expectSameBytes(mkfsImage, ourImage);
  });

  it('matches mkfs with two-extension log', async () => {
    // A 700000-byte root entry fills the first 512 KiB extension, so mkfs
    // links a second one at sector 1025 and file data starts at sector 4097.
    const { mkfsImage, ourImage } = await writeBoth('long-log', { padding: 'x'.repeat(700_000) }, {}, []);

    await expectSameBytes(mkfsImage, ourImage);
    const image = await readImage(ourImage);
    expect(image.rootfs.logExtensions.map((extension) => extension.sector)).toEqual([0, 1, 1025]);
    const big = findImageNode(image.rootfs.root, '/data/big') as ImageFileNode;
    expect(Math.min(...big.extents.map((extent) => extent.sector))).toBeGreaterThanOrEqual(4097);
  });

  it('matches mkfs flushing mid-placement', async () => {
    // 6000 distinct long names make a root entry of about 400 KB. mkfs writes its
    // staged log once it reaches 512 KiB, which happens halfway through the
    // files' attribute updates. It then reserves the next log area right after
    // the data placed so far, so the later files start 1024 sectors further on.
    const root = join(dir, 'many');
    const entries: ImageEntry[] = [];
    const children: Record<string, MkfsNode> = {};
    for (let d = 0; d < 60; d++) {
      await mkdir(join(root, `d${d}`), { recursive: true });
      const files: Record<string, MkfsNode> = {};
      for (let f = 0; f < 100; f++) {
        const name = `file-${d}-${f}-${'x'.repeat(40)}`;
        const host = join(root, `d${d}`, name);
        await writeFile(host, patternBytes((d * 100 + f) % 1500, host));
        entries.push({ kind: 'file', path: `/d${d}/${name}`, source: host });
        files[name] = { host };
      }
      children[`d${d}`] = { children: files };
    }
    const hello = join(root, 'hello');
    await writeFile(hello, patternBytes(100, 'hello'));
    entries.push({ kind: 'file', path: '/hello', source: hello });
    children.hello = { host: hello };

    const mkfsImage = join(dir, 'many-mkfs.img');
    const ourImage = join(dir, 'many-ours.img');
    await runMkfs(build.mkfs, ['-b', build.bootImg, '-k', build.kernelImg, mkfsImage], mkfsManifest(children, { program: '/hello', arguments: ['hello'], environment: {} }));
    const order = await readMkfsOrder(mkfsImage);
    await writeImageWithOrdering(
      {
        output: ourImage,
        kernel: { bootImg: build.bootImg, kernelImg: build.kernelImg },
        entries,
        manifest: { program: '/hello', arguments: ['hello'], environment: {} },
        uuid: order.rootfs.uuid,
        bootUuid: order.bootfs.uuid,
        freeSpace: 0,
      },
      { bootfs: order.bootfs.ordering, rootfs: order.rootfs.ordering },
    );

    await expectSameBytes(mkfsImage, ourImage);
    const image = await readImage(ourImage);
    expect(image.rootfs.logExtensions.map((extension) => extension.sector)).toEqual([0, 1, 1025]);
    const starts = collectExtents(image.rootfs.root).sort((left, right) => left.sector - right.sector);
    const gaps = starts.slice(1).map((extent, index) => extent.sector - (starts[index]!.sector + starts[index]!.allocated));
    expect(gaps.filter((gap) => gap !== 0)).toEqual([1024]);
  });

  it('dump lists and extracts image', async () => {
    const { entries } = await sampleTree('dump');
    const output = join(dir, 'dump.img');
    await writeImage({ output, kernel: { bootImg: build.bootImg, kernelImg: build.kernelImg, klibDir: build.klibDir }, entries, manifest });

    const listed = await dumpTree(build.dump, output);
    expect(listed).toEqual(
      [
        '/data', '/data/big', '/data/huge', '/data/s0', '/data/s1', '/data/s511', '/data/s512', '/data/s513',
        '/emptydir', '/etc', '/etc/hostname', '/hello', '/lib', '/lib/rel -> ../hello', '/lnk -> /hello',
      ].sort(),
    );

    const extracted = join(dir, 'dump-extracted');
    await dumpExtract(build.dump, output, extracted);
    for (const entry of entries) {
      if (entry.kind !== 'file') continue;
      const expected = 'contents' in entry ? Buffer.from(entry.contents) : await readFile(entry.source);
      expect(firstDifference(await readFile(join(extracted, entry.path)), expected), entry.path).toBe(-1);
    }
  });

  describe.skipIf(!(hasQemu && hasGcc))('boot under QEMU', () => {
    async function program(name: string, source: string): Promise<string> {
      const sourcePath = join(dir, `${name}.c`);
      const binary = join(dir, name);
      await writeFile(sourcePath, source);
      await compileStatic(sourcePath, binary);
      return binary;
    }

    it('runs a program that exits 3', { timeout: BOOT_TIMEOUT_MS + 30_000 }, async () => {
      const binary = await program('exit3', '#include <stdio.h>\nint main(void) { puts("hello from nx-unikernel"); return 3; }\n');
      const output = join(dir, 'exit3.img');
      await writeImage({
        output,
        kernel: { bootImg: build.bootImg, kernelImg: build.kernelImg },
        entries: [{ kind: 'file', path: '/bin/exit3', source: binary }],
        manifest: { program: '/bin/exit3', arguments: ['exit3'], environment: {}, extra: { debug_exit: 't' } },
      });

      const result = await bootImage(output, BOOT_TIMEOUT_MS);

      expect(result.timedOut, result.output).toBe(false);
      expect(result.output).toContain('hello from nx-unikernel');
      expect(result.status, result.output).toBe(7);
    });

    it('writes 1 MiB with default free space', { timeout: BOOT_TIMEOUT_MS + 30_000 }, async () => {
      const binary = await program(
        'write1m',
        [
          '#include <fcntl.h>',
          '#include <stdio.h>',
          '#include <string.h>',
          '#include <unistd.h>',
          'int main(void) {',
          '  static char chunk[65536];',
          '  memset(chunk, 0x5a, sizeof chunk);',
          '  int fd = open("/out", O_CREAT | O_WRONLY | O_TRUNC, 0644);',
          '  if (fd < 0) { perror("open"); return 2; }',
          '  long total = 0;',
          '  for (int i = 0; i < 16; i++) {',
          '    ssize_t n = write(fd, chunk, sizeof chunk);',
          '    if (n != (ssize_t)sizeof chunk) { perror("write"); printf("wrote %ld bytes\\n", total); return 4; }',
          '    total += n;',
          '  }',
          '  if (fsync(fd) != 0 || close(fd) != 0) { perror("fsync"); return 5; }',
          '  printf("wrote %ld bytes\\n", total);',
          '  return 0;',
          '}',
          '',
        ].join('\n'),
      );
      const output = join(dir, 'write1m.img');
      await writeImage({
        output,
        kernel: { bootImg: build.bootImg, kernelImg: build.kernelImg },
        entries: [{ kind: 'file', path: '/write1m', source: binary }],
        manifest: { program: '/write1m', arguments: ['write1m'], environment: {}, extra: { debug_exit: 't' } },
      });

      const result = await bootImage(output, BOOT_TIMEOUT_MS);

      expect(result.timedOut, result.output).toBe(false);
      expect(result.output).toContain('wrote 1048576 bytes');
      expect(result.status, result.output).toBe(1);

      // The kernel's own log entries (END_OF_SEGMENT, times, the new file) must read back too.
      const image = await readImage(output);
      const written = findImageNode(image.rootfs.root, '/out') as ImageFileNode;
      expect(written.size).toBe(1024 * 1024);
      expect((await readImageFile(output, written)).equals(Buffer.alloc(1024 * 1024, 0x5a))).toBe(true);
      expect(findImageNode(image.rootfs.root, '/proc/self/exe')).toMatchObject({ kind: 'symlink', target: '/write1m' });
    });
  });
});

function collectExtents(directory: ImageDirectoryNode): ImageExtent[] {
  const extents: ImageExtent[] = [];
  for (const child of directory.children) {
    if (child.kind === 'file') extents.push(...child.extents);
    if (child.kind === 'directory') extents.push(...collectExtents(child));
  }
  return extents;
}

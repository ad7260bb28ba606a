// Rebuilds from a previous image. Every rebuild must give the bytes of a
// fresh write of the same inputs, and every mismatch must fall back to a
// full write with a reason. The patching runs on any filesystem here,
// because the tests allow a byte copy where reflink clones are unsupported.

import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, constants, existsSync, linkSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { subtractRanges } from './image-rebuild';
import type { ImageEntry } from './image-tree';
import { writeImage, writeImageWithOrdering, type ImageSummary, type WriteImageOptions } from './image-writer';
import { firstDifference, makeTempDir, patternBytes, removeDir, writeFakeBootImage, writeFakeKernel, type FakeKernel } from './test-support/fixtures';

const MiB = 1024 * 1024;

let dir: string;
let kernel: FakeKernel;

beforeAll(async () => {
  dir = await makeTempDir('image-rebuild');
  kernel = await writeFakeKernel(dir);
});

afterAll(async () => {
  await removeDir(dir);
});

/** Host files of one test, by image path; a changed file gets a new host file. */
type Files = Record<string, Buffer>;

let fileCounter = 0;

async function entriesFor(files: Files, options: { digests?: boolean } = {}): Promise<ImageEntry[]> {
  const entries: ImageEntry[] = [];
  for (const [imagePath, bytes] of Object.entries(files)) {
    const host = join(dir, `source-${(fileCounter += 1)}`);
    await writeFile(host, bytes);
    const sha256 = options.digests === false ? {} : { sha256: createHash('sha256').update(bytes).digest('hex') };
    // /app files change most often, so they go last, as the staging plan puts packed files.
    entries.push({ kind: 'file', path: imagePath, source: host, ...sha256, placementGroup: imagePath.startsWith('/app/') ? 2 : 0 });
  }
  entries.push({ kind: 'file', path: '/etc/hosts', contents: Buffer.from('127.0.0.1 localhost\n') }, { kind: 'symlink', path: '/usr/bin/app', target: '/app/main.js' });
  return entries;
}

function baseFiles(): Files {
  return {
    '/lib/big.so': patternBytes(3 * MiB + 7, 'big'),
    '/lib/small.so': patternBytes(5000, 'small'),
    '/bin/runtime': patternBytes(40_000, 'runtime'),
    '/app/main.js': Buffer.from('console.log("hello");\n'),
    '/app/data.json': Buffer.from('{"a":1}\n'),
  };
}

function options(output: string, entries: ImageEntry[], overrides: Partial<WriteImageOptions> = {}): WriteImageOptions {
  return { output, kernel, entries, manifest: { program: '/bin/runtime', arguments: ['runtime', '/app/main.js'], environment: { PORT: '8080' } }, ...overrides };
}

/** Writes `first`, rebuilds the same output with `second` and writes `second` fresh; returns both results. */
async function rebuildAndFresh(name: string, first: WriteImageOptions, second: WriteImageOptions): Promise<{ before: ImageSummary; rebuilt: ImageSummary; fresh: ImageSummary }> {
  const output = join(dir, `${name}.img`);
  const before = await writeImage({ ...first, output });
  const rebuilt = await writeImageWithOrdering({ ...second, output, previous: { path: output, record: before.record } }, {}, 'reflink-or-bytes');
  const fresh = await writeImage({ ...second, output: join(dir, `${name}-fresh.img`) });
  return { before, rebuilt, fresh };
}

async function expectSameBytes(left: string, right: string): Promise<void> {
  const [a, b] = await Promise.all([readFile(left), readFile(right)]);
  expect(a.length).toBe(b.length);
  expect(firstDifference(a, b)).toBe(-1);
}

describe('rebuild from previous image', () => {
  it('matches fresh write after content change', async () => {
    const files = baseFiles();
    const changed = { ...files, '/app/main.js': Buffer.from('console.log("HELLO");\n') };

    const { rebuilt, fresh } = await rebuildAndFresh('content', options('', await entriesFor(files)), options('', await entriesFor(changed)));

    expect(rebuilt.update.kind).toBe('incremental');
    await expectSameBytes(rebuilt.output, fresh.output);
    expect(rebuilt.uuid).toBe(fresh.uuid);
  });

  it('keeps earlier files when last group grows', async () => {
    const files = baseFiles();
    const grown = { ...files, '/app/main.js': patternBytes(70_000, 'main.js grown') };

    const { rebuilt, fresh } = await rebuildAndFresh('grown', options('', await entriesFor(files)), options('', await entriesFor(grown)));

    expect(rebuilt.update).toMatchObject({ kind: 'incremental' });
    // big.so, small.so and runtime stay, and so does the kernel.
    const update = rebuilt.update as { reusedBytes: number; writtenBytes: number };
    expect(update.reusedBytes).toBeGreaterThanOrEqual(3 * MiB + 7 + 5000 + 40_000);
    expect(update.writtenBytes).toBeLessThan(2 * MiB);
    await expectSameBytes(rebuilt.output, fresh.output);
  });

  it('moves later files when first group shrinks', async () => {
    const files = baseFiles();
    // /bin/runtime is placed first, so its shorter data moves every later file and their old sectors must read as zeros.
    const shrunk = { ...files, '/bin/runtime': patternBytes(1000, 'runtime shrunk') };

    const { rebuilt, fresh } = await rebuildAndFresh('shrunk', options('', await entriesFor(files)), options('', await entriesFor(shrunk)));

    expect(rebuilt.update.kind).toBe('incremental');
    await expectSameBytes(rebuilt.output, fresh.output);
  });

  it('handles removed and added files', async () => {
    const files = baseFiles();
    const { ['/lib/small.so']: _removed, ...rest } = files;
    const changed = { ...rest, '/app/new.txt': patternBytes(1000, 'new file') };

    const { rebuilt, fresh } = await rebuildAndFresh('added-removed', options('', await entriesFor(files)), options('', await entriesFor(changed)));

    expect(rebuilt.update.kind).toBe('incremental');
    await expectSameBytes(rebuilt.output, fresh.output);
  });

  it('handles manifest, label and klib changes', async () => {
    const entries = await entriesFor(baseFiles());
    const second = options('', entries, { label: 'v2', manifest: { program: '/bin/runtime', arguments: ['runtime', '--flag'], environment: {}, klibs: ['strace'] } });

    const { rebuilt, fresh } = await rebuildAndFresh('manifest', options('', entries), second);

    expect(rebuilt.update.kind).toBe('incremental');
    await expectSameBytes(rebuilt.output, fresh.output);
  });

  it.each([
    ['larger', 200 * MiB],
    ['smaller', 40 * MiB],
  ])('handles %s image size', async (name, size) => {
    const entries = await entriesFor(baseFiles());

    const { rebuilt, fresh } = await rebuildAndFresh(`size-${name}`, options('', entries, { size: 100 * MiB }), options('', entries, { size }));

    expect(rebuilt.update.kind).toBe('incremental');
    expect((await stat(rebuilt.output)).size).toBe(size);
    await expectSameBytes(rebuilt.output, fresh.output);
  });

  it('rewrites files without known digests', async () => {
    const files = baseFiles();
    const changed = { ...files, '/app/main.js': Buffer.from('console.log(2);\n') };

    const { rebuilt, fresh } = await rebuildAndFresh('no-digests', options('', await entriesFor(files, { digests: false })), options('', await entriesFor(changed, { digests: false })));

    expect(rebuilt.update).toMatchObject({ kind: 'incremental' });
    // Only the kernel, which the writer hashes itself on a rebuild, and the in-memory /etc/hosts stay.
    expect((rebuilt.update as { reusedBytes: number }).reusedBytes).toBe(100_000 + 20);
    await expectSameBytes(rebuilt.output, fresh.output);
  });

  it('rebuilds unchanged inputs to same bytes', async () => {
    const entries = await entriesFor(baseFiles());
    const output = join(dir, 'unchanged.img');
    const before = await writeImage(options(output, entries));
    const copy = join(dir, 'unchanged-before.img');
    copyFileSync(output, copy);

    const rebuilt = await writeImageWithOrdering(options(output, entries, { previous: { path: output, record: before.record } }), {}, 'reflink-or-bytes');

    expect(rebuilt.update).toMatchObject({ kind: 'incremental', reusedBytes: 3 * MiB + 7 + 5000 + 40_000 + 22 + 8 + 20 + 100_000 });
    await expectSameBytes(output, copy);
  });

  it('chains several rebuilds', async () => {
    const output = join(dir, 'chain.img');
    let files = baseFiles();
    let summary = await writeImage(options(output, await entriesFor(files)));
    for (let round = 0; round < 3; round += 1) {
      files = { ...files, '/app/main.js': Buffer.from(`console.log(${'x'.repeat(round * 600)});\n`) };
      const entries = await entriesFor(files);
      summary = await writeImageWithOrdering(options(output, entries, { previous: { path: output, record: summary.record } }), {}, 'reflink-or-bytes');
      expect(summary.update.kind, `round ${round}`).toBe('incremental');

      const fresh = await writeImage(options(join(dir, `chain-fresh-${round}.img`), entries));
      await expectSameBytes(output, fresh.output);
    }
  });
});

describe('rebuild fallback', () => {
  async function firstImage(name: string): Promise<{ output: string; entries: ImageEntry[]; summary: ImageSummary }> {
    const entries = await entriesFor(baseFiles());
    const output = join(dir, `${name}.img`);
    return { output, entries, summary: await writeImage(options(output, entries)) };
  }

  async function expectFullWrite(output: string, entries: ImageEntry[], previous: WriteImageOptions['previous'], reason: RegExp, overrides: Partial<WriteImageOptions> = {}): Promise<void> {
    const rebuilt = await writeImageWithOrdering(options(output, entries, { ...overrides, previous }), {}, 'reflink-or-bytes');

    expect(rebuilt.update.kind).toBe('full');
    expect(rebuilt.update.kind === 'full' ? rebuilt.update.reason : undefined).toMatch(reason);
    const fresh = await writeImage(options(`${output}-fresh`, entries, overrides));
    await expectSameBytes(output, fresh.output);
  }

  it('writes booted image in full', async () => {
    const { output, entries, summary } = await firstImage('booted');
    // A boot writes the klog area and log entries; any write changes the mtime.
    const bytes = await readFile(output);
    bytes[summary.partitions[0]!.offset - 100] = 0x42;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(output, bytes);

    await expectFullWrite(output, entries, { path: output, record: summary.record }, /modified after the last build wrote it/);
  });

  it('writes in full for another image file', async () => {
    const { output, entries, summary } = await firstImage('replaced');
    const other = join(dir, 'replaced-other.img');
    copyFileSync(output, other);

    await expectFullWrite(other, entries, { path: other, record: summary.record }, /image file was replaced/);
  });

  it('writes in full when log differs', async () => {
    const { output, entries, summary } = await firstImage('log-differs');
    const record = structuredClone(summary.record);
    record.filesystems[1].logExtensions[0]!.sha256 = '0'.repeat(64);

    await expectFullWrite(output, entries, { path: output, record }, /rootfs log at sector 1 differs from the build cache/);
  });

  it('writes in full when digests differ', async () => {
    const { output, entries, summary } = await firstImage('digest-differs');
    const record = structuredClone(summary.record);
    record.filesystems[1].files[0]!.sha256 = 'f'.repeat(64);

    await expectFullWrite(output, entries, { path: output, record }, /file digests in the build cache do not give the UUIDs/);
  });

  it('writes in full for invalid record', async () => {
    const { output, entries, summary } = await firstImage('invalid-record');
    const record = { ...summary.record, format: 99 } as unknown as typeof summary.record;

    await expectFullWrite(output, entries, { path: output, record }, /image record is invalid \(format/);
  });

  it('writes in full when boot.img grows', async () => {
    const { output, entries, summary } = await firstImage('boot-grows');
    const bootDir = join(dir, 'boot-grows-kernel');
    await mkdir(bootDir, { recursive: true });
    const bootImg = await writeFakeBootImage(bootDir, 5);

    await expectFullWrite(output, entries, { path: output, record: summary.record }, /boot.img changed size/, { kernel: { ...kernel, bootImg } });
  });

  it('patches image without reflink support', async () => {
    const { output, entries, summary } = await firstImage('reflink');
    const cloneSupported = canClone(output);
    const inodeBefore = (await stat(output)).ino;
    const changed = await entriesFor({ ...baseFiles(), '/app/main.js': Buffer.from('console.log("changed");\n') });

    const rebuilt = await writeImage(options(output, changed, { previous: { path: output, record: summary.record } }));

    expect(rebuilt.update.kind).toBe('incremental');
    // Without reflinks the previous file itself is renamed and patched, so the inode stays.
    if (!cloneSupported) expect((await stat(output)).ino).toBe(inodeBefore);
    const fresh = await writeImage(options(join(dir, 'reflink-fresh.img'), changed));
    await expectSameBytes(output, fresh.output);
    expect((await readdir(dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('writes in full for hard-linked image', async (context) => {
    const { output, entries, summary } = await firstImage('hard-linked');
    // With reflinks the writer patches a clone, and this case does not arise.
    if (canClone(output)) context.skip();
    const link = join(dir, 'hard-linked-other.img');
    linkSync(output, link);
    const linkedBefore = await readFile(link);
    const changed = await entriesFor({ ...baseFiles(), '/app/main.js': Buffer.from('console.log("linked");\n') });

    const rebuilt = await writeImage(options(output, changed, { previous: { path: output, record: summary.record } }));

    expect(rebuilt.update).toMatchObject({ kind: 'full', reason: expect.stringMatching(/previous image has 2 hard links/) });
    expect(firstDifference(await readFile(link), linkedBefore)).toBe(-1);
    const fresh = await writeImage(options(join(dir, 'hard-linked-fresh.img'), changed));
    await expectSameBytes(output, fresh.output);
  });

  it('writes in full for locked image', async (context) => {
    const { output, entries, summary } = await firstImage('locked');
    // With reflinks the writer patches a clone, and this case does not arise.
    if (canClone(output)) context.skip();
    // flock(1) holds a lock like the one QEMU takes on a disk image it runs.
    const holder = spawn('flock', ['--shared', output, 'sleep', '30'], { stdio: 'ignore' });
    try {
      await waitForLock((await stat(output)).ino);
      const lockedBefore = await readFile(output);

      const rebuilt = await writeImage(options(output, entries, { previous: { path: output, record: summary.record } }));

      expect(rebuilt.update).toMatchObject({ kind: 'full', reason: expect.stringMatching(/a process holds a lock on the previous image/) });
      expect(firstDifference(await readFile(output), lockedBefore)).toBe(-1);
    } finally {
      holder.kill();
    }
  });

  it('restores image after interrupted patch', async (context) => {
    const { output, summary } = await firstImage('interrupted');
    // With reflinks the writer patches a clone, and this case does not arise.
    if (canClone(output)) context.skip();
    const before = await readFile(output);
    const modifiedBefore = statSync(output, { bigint: true }).mtimeNs;
    const changed = await entriesFor({ ...baseFiles(), '/lib/big.so': patternBytes(3 * MiB + 7, 'big changed') });
    await new Promise((resolve) => setTimeout(resolve, 20));

    // Aborts at the fourth check, after the patch has written into the previous file.
    const write = writeImage(options(output, changed, { previous: { path: output, record: summary.record }, signal: abortOnCheck(4) }));

    await expect(write).rejects.toThrow(/stopped for the test/);
    // The file was written (patched, then rolled back), yet it has its old bytes.
    expect(statSync(output, { bigint: true }).mtimeNs).not.toBe(modifiedBefore);
    expect(firstDifference(await readFile(output), before)).toBe(-1);
    expect((await readdir(dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('writes large patches in full', async (context) => {
    const { output, summary } = await firstImage('large-patch');
    // With reflinks the writer patches a clone, and this case does not arise.
    if (canClone(output)) context.skip();
    const changed = await entriesFor({ ...baseFiles(), '/lib/huge.so': patternBytes(65 * MiB, 'huge') });

    const rebuilt = await writeImage(options(output, changed, { previous: { path: output, record: summary.record } }));

    expect(rebuilt.update).toMatchObject({ kind: 'full', reason: expect.stringMatching(/would rewrite \d+ bytes \(more than 67108864\)/) });
  });

  it('rejects output that is no file', async () => {
    const entries = await entriesFor(baseFiles());
    // A FIFO stands for any special file, such as /dev/null, without risking the real one.
    const fifo = join(dir, 'output.fifo');
    execFileSync('mkfifo', [fifo]);

    await expect(writeImage(options(fifo, entries))).rejects.toThrow(/Output path .*output\.fifo is not a regular file, and writing the image would replace it/);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('removes temporaries of dead writers', async () => {
    const { output, entries } = await firstImage('stale');
    // A pid above the kernel's pid_max (at most 2^22 on Linux) never exists.
    const stale = `${output}.tmp-4194305-0123456789ab`;
    const live = `${output}.tmp-${process.pid}-0123456789ab`;
    await writeFile(stale, 'left by a killed build');
    await writeFile(live, 'this process');

    await writeImage(options(output, entries));

    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    rmSync(live);
  });

  it('keeps previous image on failure', async () => {
    const { output, entries, summary } = await firstImage('failing');
    const before = await readFile(output);
    const missing: ImageEntry[] = [...entries, { kind: 'file', path: '/app/missing', source: join(dir, 'does-not-exist') }];

    const write = writeImageWithOrdering(options(output, missing, { previous: { path: output, record: summary.record } }), {}, 'reflink-or-bytes');

    await expect(write).rejects.toThrow(/cannot be read \(ENOENT\)/);
    expect(firstDifference(await readFile(output), before)).toBe(-1);
    expect((await readdir(dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });
});

describe('entry digest and group checks', () => {
  it.each([
    ['an uppercase sha256', { sha256: 'A'.repeat(64) }, /`sha256` is not 64 lower-case hex digits/],
    ['a short sha256', { sha256: 'a'.repeat(63) }, /`sha256` is not 64 lower-case hex digits/],
    ['a negative group', { placementGroup: -1 }, /`placementGroup` is not a whole number of 0 or more/],
    ['a fractional group', { placementGroup: 1.5 }, /`placementGroup` is not a whole number of 0 or more/],
  ])('rejects %s', async (_, fields, message) => {
    const host = join(dir, 'checked-entry');
    await writeFile(host, 'x');
    const entries = [{ kind: 'file', path: '/bin/runtime', source: host, ...fields } as ImageEntry];

    await expect(writeImage(options(join(dir, 'checked.img'), entries))).rejects.toThrow(message);
  });
});

describe('subtractRanges', () => {
  it.each([
    ['no overlap', [[0, 10]], [[20, 30]], [[0, 10]]],
    ['cut in the middle', [[0, 10]], [[3, 5]], [[0, 3], [5, 10]]],
    ['cut at both ends', [[0, 10]], [[0, 2], [8, 12]], [[2, 8]]],
    ['fully covered', [[4, 6]], [[0, 10]], []],
    ['merges overlapping input', [[0, 5], [3, 8], [8, 9]], [[6, 7]], [[0, 6], [7, 9]]],
    ['ignores empty ranges', [[5, 5], [1, 2]], [], [[1, 2]]],
  ] as Array<[string, Array<[number, number]>, Array<[number, number]>, Array<[number, number]>]>)('%s', (_, from, remove, expected) => {
    expect(subtractRanges(from, remove)).toEqual(expected);
  });
});

function canClone(file: string): boolean {
  const probe = `${file}.clone-probe`;
  try {
    copyFileSync(file, probe, constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

/** Waits until /proc/locks lists a lock on `inode`. */
async function waitForLock(inode: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (readFileSync('/proc/locks', 'utf8').includes(`:${inode} `)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no lock on inode ${inode} appeared in /proc/locks within 2 s`);
}

/**
 * Returns a signal that reports an abort at its `check`-th throwIfAborted
 * call, so a test can stop the writer between two of its steps.
 */
function abortOnCheck(check: number): AbortSignal {
  const controller = new AbortController();
  let calls = 0;
  const signal = controller.signal;
  signal.throwIfAborted = () => {
    calls += 1;
    if (calls >= check) controller.abort(new DOMException('stopped for the test', 'AbortError'));
    if (signal.aborted) throw signal.reason;
  };
  return signal;
}

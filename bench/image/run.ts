// Benchmark: builds the Node image (the host's node, its libraries and
// examples/node-server/server.js at /app/server.js) in two comparisons.
//   (a) `buildImage` and Nanos's mkfs from the same tree, alternating.
//   (b) A full build and a rebuild after a change to server.js only.
// It prints medians over several rounds and the ratios. Each timed step
// starts after sync(1), except the first rebuild after a full build, whose
// time includes the writeback of that image.
//
// Usage: node dist/bench/image/run.js [--rounds N] [--dir FOLDER] [--program PATH] [--keep]
// NX_UNIKERNEL_NANOS_DIR names a Nanos release folder (boot.img, kernel.img),
// needed for every part. NX_UNIKERNEL_NANOS_TOOLS names a folder with mkfs,
// needed for the mkfs side of (a). --dir puts the images on another
// filesystem, e.g. one with reflinks (Btrfs, XFS), which rebuilds use.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { buildImage, type BuildImageResult } from '../../core/build';
import { parseUnikernelConfig, type ResolvedUnikernelConfig } from '../../core/config';
import { resolveKernelRelease, type KernelRelease } from '../../core/kernel';
import { readImage, type ImageNode, type ImageUpdate } from '../../core/nanos';
import { compareByteOrder } from '../../core/resolve/rooted-fs';
import { mkfsManifest } from './mkfs-manifest';

const REPO = path.resolve(__dirname, '../../..');
const SERVER_JS = path.join(REPO, 'examples/node-server/server.js');
const CLI = path.join(REPO, 'dist/bin/nx-unikernel.js');

interface Setup {
  work: string;
  kernel: KernelRelease;
  config: ResolvedUnikernelConfig;
  program: string;
  serverJs: string;
  rounds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '5' }, dir: { type: 'string' }, program: { type: 'string' }, keep: { type: 'boolean', default: false } },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds} is not a whole number of 1 or more.`);
  const program = values.program ?? (fs.existsSync('/usr/bin/node') ? '/usr/bin/node' : fs.realpathSync(process.execPath));

  const releaseDir = process.env['NX_UNIKERNEL_NANOS_DIR'];
  const toolsDir = process.env['NX_UNIKERNEL_NANOS_TOOLS'];
  console.log(`bench/image: ${program} (${fs.statSync(program).size} bytes) with ${path.relative(REPO, SERVER_JS)} at /app/server.js, ${rounds} rounds`);
  if (!releaseDir) {
    console.log('skipped: every part, because NX_UNIKERNEL_NANOS_DIR is not set; set it to a Nanos release folder with boot.img and kernel.img.');
    return;
  }

  const parent = values.dir ?? os.tmpdir();
  const work = fs.mkdtempSync(path.join(parent, 'nx-unikernel-bench-image-'));
  const loadBefore = os.loadavg()[0]!;
  try {
    const kernel = await resolveKernelRelease({ kernelDir: releaseDir });
    const serverJs = path.join(work, 'server.js');
    fs.copyFileSync(SERVER_JS, serverJs);
    const config = parseUnikernelConfig({ program, args: ['/app/server.js'], files: [{ from: serverJs, to: '/app/server.js' }] }, { file: 'bench/image', baseDir: work });
    const setup: Setup = { work, kernel, config, program, serverJs, rounds };

    // Warm-up, not counted: loads and compiles the code paths and fills the page cache.
    const warm = await timedBuild(setup, path.join(work, 'warm.img'));
    console.log(`image:                ${warm.result.plan.records.length} files, ${warm.result.image.size} bytes; work folder ${work} (${filesystemType(work)}), reflink clone ${cloneSupport(warm.result.image.output)}`);

    await compareWithMkfs(setup, warm.result, toolsDir);
    await compareRebuild(setup);
  } finally {
    console.log(`machine:              ${os.cpus().length} CPUs, load average ${loadBefore.toFixed(2)} before and ${os.loadavg()[0]!.toFixed(2)} after, Node ${process.version}`);
    if (values.keep) console.log(`kept:                 ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Writes all dirty pages to disk (sync(1)) before a timed step, so a step
 * does not compete with the writeback of the step before it.
 */
function settle(): void {
  spawnSync('sync');
}

/** Builds `output` in this process with the kernel already found, as `nx-unikernel build` does after its kernel lookup. */
async function timedBuild(setup: Setup, output: string): Promise<{ seconds: number; result: BuildImageResult }> {
  const start = performance.now();
  const result = await buildImage({ config: setup.config, output, kernel: setup.kernel });
  return { seconds: (performance.now() - start) / 1000, result };
}

function removeImage(output: string): void {
  for (const file of [output, `${output}.manifest.json`, `${output}.build-cache.json`]) fs.rmSync(file, { force: true });
}

async function compareWithMkfs(setup: Setup, warm: BuildImageResult, toolsDir: string | undefined): Promise<void> {
  const ours: number[] = [];
  const theirs: number[] = [];
  const mkfs = toolsDir === undefined ? undefined : path.join(toolsDir, 'mkfs');
  if (mkfs === undefined) console.log('(a) mkfs side skipped, because NX_UNIKERNEL_NANOS_TOOLS is not set; set it to a folder with Nanos mkfs.');

  const manifest = mkfsManifest(warm.plan.entries, path.join(setup.work, 'generated'), {
    program: warm.plan.program,
    arguments: [warm.plan.program, ...setup.config.args],
    environment: { ...setup.config.env },
    extra: { debug_exit: 't' },
  });
  // mkfs rounds -s up and adds 512 KiB, so this gives our image's size.
  const mkfsSize = String(warm.image.size - 512 * 1024);
  const ourImage = path.join(setup.work, 'ours.img');
  const mkfsImage = path.join(setup.work, 'mkfs.img');

  for (let round = 0; round < setup.rounds; round += 1) {
    const runOurs = async (): Promise<void> => {
      removeImage(ourImage);
      settle();
      ours.push((await timedBuild(setup, ourImage)).seconds);
    };
    const runMkfs = (): void => {
      if (mkfs === undefined) return;
      fs.rmSync(mkfsImage, { force: true });
      settle();
      const start = performance.now();
      const run = spawnSync(mkfs, ['-b', setup.kernel.bootImg, '-k', setup.kernel.kernelImg, '-s', mkfsSize, mkfsImage], { input: manifest, stdio: ['pipe', 'ignore', 'pipe'] });
      theirs.push((performance.now() - start) / 1000);
      if (run.status !== 0) throw new Error(`mkfs exited with ${run.status}: ${run.stderr.toString()}`);
    };
    // Alternate which side goes first, so neither always meets a page cache the other just filled.
    if (round % 2 === 0) {
      await runOurs();
      runMkfs();
    } else {
      runMkfs();
      await runOurs();
    }
  }

  console.log(`(a) ours, full build: ${summary(ours)} (resolve, hash, write, manifest and build cache in this process; no Node start)`);
  if (mkfs !== undefined) {
    const sameTree = (await listTree(mkfsImage)).join('\n') === (await listTree(ourImage)).join('\n');
    console.log(`    Nanos mkfs:       ${summary(theirs)} (new process, manifest on stdin, image ${fs.statSync(mkfsImage).size} bytes, same tree and manifest: ${sameTree ? 'yes' : 'NO'})`);
    console.log(`    ratio ours/mkfs:  ${(median(ours) / median(theirs)).toFixed(2)}`);
  }

  const cli: number[] = [];
  const cliImage = path.join(setup.work, 'cli.img');
  for (let round = 0; round < Math.min(3, setup.rounds); round += 1) {
    removeImage(cliImage);
    settle();
    const start = performance.now();
    const run = spawnSync(
      process.execPath,
      [CLI, 'build', setup.program, '--file', `${setup.serverJs}:/app/server.js`, '--args', '/app/server.js', '--kernel-dir', setup.kernel.dir, '-o', cliImage],
      { cwd: setup.work, encoding: 'utf8' },
    );
    cli.push((performance.now() - start) / 1000);
    if (run.status !== 0) throw new Error(`nx-unikernel build exited with ${run.status}: ${run.stderr}`);
  }
  console.log(`    ours via the CLI: ${summary(cli)} (new Node process: start, module loading, kernel folder check, full build)`);
}

async function compareRebuild(setup: Setup): Promise<void> {
  const full: number[] = [];
  const rebuild: number[] = [];
  const afterFull: number[] = [];
  const updates: ImageUpdate[] = [];
  const afterFullUpdates: ImageUpdate[] = [];
  const fullImage = path.join(setup.work, 'full.img');
  const rebuiltImage = path.join(setup.work, 'rebuilt.img');
  await timedBuild(setup, rebuiltImage);

  for (let round = 0; round < setup.rounds; round += 1) {
    removeImage(fullImage);
    settle();
    full.push((await timedBuild(setup, fullImage)).seconds);

    // A new line changes server.js's content and size, so the files after it move.
    fs.appendFileSync(setup.serverJs, `// bench round ${round}\n`);
    // No settle here: this case includes the writeback of the image just built in full.
    const first = await timedBuild(setup, fullImage);
    afterFull.push(first.seconds);
    afterFullUpdates.push(first.result.image.update);

    settle();
    const steady = await timedBuild(setup, rebuiltImage);
    rebuild.push(steady.seconds);
    updates.push(steady.result.image.update);
  }

  // The last rebuild must hold the bytes of a fresh build of the same inputs.
  const checkImage = path.join(setup.work, 'check.img');
  await timedBuild(setup, checkImage);
  const identical = sha256File(checkImage) === sha256File(rebuiltImage);

  const incremental = updates.filter((update) => update.kind === 'incremental');
  const reasons = [...new Set(updates.flatMap((update) => (update.kind === 'full' && update.reason !== undefined ? [update.reason] : [])))];
  const written = incremental.map((update) => (update.kind === 'incremental' ? update.writtenBytes : 0));
  console.log(`(b) full build:       ${summary(full)}`);
  console.log(`    rebuild:          ${summary(rebuild)} (server.js changed; ${incremental.length} of ${updates.length} incremental${describeStarts(updates)}${written.length > 0 ? `, ${median(written)} bytes written` : ''})`);
  for (const reason of reasons) console.log(`      written in full, because ${reason}`);
  console.log(`    ratio:            ${((100 * median(rebuild)) / median(full)).toFixed(1)} % of a full build`);
  const clonedAfterFull = afterFullUpdates.filter((update) => update.kind === 'incremental' && update.start === 'clone').length;
  const incrementalAfterFull = afterFullUpdates.filter((update) => update.kind === 'incremental').length;
  const flushNote = clonedAfterFull > 0 ? '; cloning an image written just before first waits for its data to reach the disk' : '';
  console.log(`    first rebuild after a full build: ${summary(afterFull)} (${incrementalAfterFull} of ${afterFullUpdates.length} incremental${describeStarts(afterFullUpdates)}${flushNote})`);
  console.log(`    rebuilt bytes equal a fresh build: ${identical ? 'yes' : 'NO'}`);

  const copies: number[] = [];
  const copy = path.join(setup.work, 'copy.img');
  for (let round = 0; round < 3; round += 1) {
    fs.rmSync(copy, { force: true });
    settle();
    const start = performance.now();
    fs.copyFileSync(rebuiltImage, copy);
    copies.push((performance.now() - start) / 1000);
  }
  console.log(`    byte copy of the image with fs.copyFileSync: ${summary(copies)}`);
}

/** Returns how the incremental updates started, e.g. ": 15 patched the previous file", or "" when none was incremental. */
function describeStarts(updates: readonly ImageUpdate[]): string {
  const labels = { clone: 'updated a reflink clone', copy: 'updated a byte copy', 'previous-file': 'patched the previous file' } as const;
  const counts = new Map<string, number>();
  for (const update of updates) {
    if (update.kind === 'incremental') counts.set(labels[update.start], (counts.get(labels[update.start]) ?? 0) + 1);
  }
  return counts.size === 0 ? '' : `: ${[...counts].map(([label, count]) => `${count} ${label}`).join(', ')}`;
}

/** Lists every path of the root filesystem with its size or link target, and the boot manifest, as read back from the image. */
async function listTree(image: string): Promise<string[]> {
  const contents = await readImage(image);
  const lines: string[] = [canonicalJson(contents.manifest)];
  const visit = (node: ImageNode): void => {
    if (node.kind === 'file') lines.push(`${node.path} ${node.size}`);
    else if (node.kind === 'symlink') lines.push(`${node.path} -> ${node.target}`);
    else if (node.kind === 'directory') {
      lines.push(`${node.path}/`);
      for (const child of node.children) visit(child);
    }
  };
  visit(contents.rootfs.root);
  return lines;
}

/** JSON with object keys sorted at every level, because mkfs orders tuple attributes by its hash tables. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([left], [right]) => compareByteOrder(left, right));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sha256File(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
  const fd = fs.openSync(file, 'r');
  try {
    for (let read = fs.readSync(fd, buffer); read > 0; read = fs.readSync(fd, buffer)) hash.update(buffer.subarray(0, read));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Returns whether the folder of `file` supports reflink clones, by cloning `file` once. */
function cloneSupport(file: string): string {
  const clone = `${file}.clone-probe`;
  try {
    fs.copyFileSync(file, clone, fs.constants.COPYFILE_FICLONE_FORCE);
    return 'supported';
  } catch (error) {
    return `unsupported (${(error as NodeJS.ErrnoException).code})`;
  } finally {
    fs.rmSync(clone, { force: true });
  }
}

function filesystemType(folder: string): string {
  const run = spawnSync('stat', ['-f', '-c', '%T', folder], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : 'filesystem type unknown';
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function summary(seconds: readonly number[]): string {
  return `${median(seconds).toFixed(3)} s median of ${seconds.map((value) => value.toFixed(3)).join(', ')}`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

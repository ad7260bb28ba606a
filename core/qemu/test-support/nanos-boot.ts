// Builds small Nanos images for the boot tests: compiles a C fixture with gcc
// and writes the image with Nanos's own mkfs or with the project's writer
// (writeImage). NX_UNIKERNEL_NANOS_DIR names a release folder (kernel.img,
// boot.img) and NX_UNIKERNEL_NANOS_TOOLS a folder with mkfs.

import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

import { writeImage } from '../../nanos';

const run = promisify(execFile);

const FIXTURES = join(__dirname, 'fixtures');

export interface BootEnvironment {
  bootImg: string;
  kernelImg: string;
  mkfs: string;
}

/** Returns what the boot tests need, or the reason they must be skipped. */
export function findBootEnvironment(): BootEnvironment | string {
  const release = process.env.NX_UNIKERNEL_NANOS_DIR;
  const tools = process.env.NX_UNIKERNEL_NANOS_TOOLS;
  if (!release || !tools) {
    return 'NX_UNIKERNEL_NANOS_DIR (Nanos release folder with kernel.img and boot.img) and NX_UNIKERNEL_NANOS_TOOLS (folder with Nanos mkfs) are not both set';
  }

  const environment = { bootImg: join(release, 'boot.img'), kernelImg: join(release, 'kernel.img'), mkfs: join(tools, 'mkfs') };
  for (const path of Object.values(environment)) {
    if (!existsSync(path)) return `${path} does not exist`;
  }
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) return 'qemu-system-x86_64 is not installed';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not installed';
  return environment;
}

export interface NanosRelease {
  bootImg: string;
  kernelImg: string;
}

/**
 * Returns the release files for tests that write images with writeImage, or
 * the reason they must be skipped. Unlike findBootEnvironment it needs no mkfs.
 */
export function findNanosRelease(): NanosRelease | string {
  const release = process.env.NX_UNIKERNEL_NANOS_DIR;
  if (!release) return 'NX_UNIKERNEL_NANOS_DIR (Nanos release folder with kernel.img and boot.img) is not set';

  const files = { bootImg: join(release, 'boot.img'), kernelImg: join(release, 'kernel.img') };
  for (const path of Object.values(files)) {
    if (!existsSync(path)) return `${path} does not exist`;
  }
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) return 'qemu-system-x86_64 is not installed';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not installed';
  return files;
}

/** Writes an image with writeImage that runs the static `program` as /NAME with `args`. */
export async function writeProgramImage(release: NanosRelease, program: string, args: readonly string[], output: string): Promise<string> {
  const name = basename(program);
  await writeImage({
    output,
    kernel: { bootImg: release.bootImg, kernelImg: release.kernelImg },
    entries: [{ kind: 'file', path: `/${name}`, source: program }],
    manifest: { program: `/${name}`, arguments: [name, ...args], environment: {}, extra: { debug_exit: 't' } },
  });
  return output;
}

export async function makeTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'nx-unikernel-qemu-'));
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Compiles `fixtures/NAME.c` into a static program in `dir` and returns its path. */
export async function compileFixture(name: string, dir: string): Promise<string> {
  const output = join(dir, name);
  await run('gcc', ['-static', '-O2', '-o', output, join(FIXTURES, `${name}.c`)]);
  return output;
}

/**
 * Writes an image that runs `program` with `args` and reports its exit code
 * through debug_exit. The manifest values must be bare mkfs words (no spaces,
 * parentheses or brackets).
 */
export async function makeImage(environment: BootEnvironment, program: string, args: readonly string[], output: string): Promise<string> {
  const name = basename(program);
  const words = [name, ...args];
  for (const word of [program, ...words]) {
    if (!/^[\w./:-]+$/.test(word)) throw new Error(`test value ${JSON.stringify(word)} needs quoting in an mkfs manifest`);
  }
  const manifest = `(children:(${name}:(contents:(host:${program}))) program:/${name} arguments:[${words.join(' ')}])\n`;

  await new Promise<void>((resolve, reject) => {
    const child = spawn(environment.mkfs, ['-b', environment.bootImg, '-k', environment.kernelImg, '-t', '(debug_exit:t)', output], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`mkfs exited with ${status}: ${stderr}`))));
    child.stdin.end(manifest);
  });
  return output;
}

let copies = 0;

/** Copies an image to a new unique path, because booting writes to the image. */
export async function bootCopy(image: string): Promise<string> {
  copies += 1;
  const copy = image.replace(/\.img$/, `-boot${copies}-${process.pid}.img`);
  await copyFile(image, copy);
  return copy;
}

/** Returns the PIDs of processes whose command line contains `text` (pgrep -f). */
export function processesMatching(text: string): number[] {
  const result = spawnSync('pgrep', ['-f', text], { encoding: 'utf8' });
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

// Files the Nanos image tests build on: a synthetic boot.img, kernel and klibs
// for tests that never boot, and the location of a real Nanos build for the
// tests that compare with Nanos's mkfs and dump and boot under QEMU.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `nx-unikernel-${prefix}-`));
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Returns `size` bytes that differ per `seed`, so a misplaced sector shows up in a comparison. */
export function patternBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset, 0, Math.min(block.length, size - offset));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * Writes a boot.img with the stage-1 fields the writer checks: the filesystem
 * region record (type 12, stage-2 length) and 55 AA, followed by
 * `stage2Sectors` sectors of stage 2. It does not boot.
 */
export async function writeFakeBootImage(dir: string, stage2Sectors = 3): Promise<string> {
  const image = patternBytes(512 + stage2Sectors * 512, 'boot.img');
  image.fill(0, 0x1aa, 0x1fe);
  image.writeBigUInt64LE(0x8000n, 0x1aa);
  image.writeBigUInt64LE(BigInt(stage2Sectors * 512), 0x1b2);
  image.writeUInt32LE(12, 0x1ba);
  image[0x1fe] = 0x55;
  image[0x1ff] = 0xaa;

  const path = join(dir, 'boot.img');
  await writeFile(path, image);
  return path;
}

export interface FakeKernel {
  bootImg: string;
  kernelImg: string;
  klibDir: string;
}

/** Writes boot.img, a kernel.img of `kernelSize` pattern bytes and a klibs folder with `strace` and `tls`. */
export async function writeFakeKernel(dir: string, kernelSize = 100_000): Promise<FakeKernel> {
  const bootImg = await writeFakeBootImage(dir);
  const kernelImg = join(dir, 'kernel.img');
  await writeFile(kernelImg, patternBytes(kernelSize, 'kernel.img'));

  const klibDir = join(dir, 'klibs');
  await mkdir(klibDir, { recursive: true });
  await writeFile(join(klibDir, 'strace'), patternBytes(7000, 'strace'));
  await writeFile(join(klibDir, 'tls'), patternBytes(9000, 'tls'));
  return { bootImg, kernelImg, klibDir };
}

export interface NanosBuild {
  /** Release folder with kernel.img, boot.img and klibs/. */
  release: string;
  bootImg: string;
  kernelImg: string;
  klibDir: string;
  mkfs: string;
  dump: string;
}

/**
 * Returns the real Nanos build named by NX_UNIKERNEL_NANOS_DIR (a release
 * folder) and NX_UNIKERNEL_NANOS_TOOLS (a folder with mkfs and dump), or a
 * reason to skip.
 */
export function findNanosBuild(): NanosBuild | string {
  const release = process.env.NX_UNIKERNEL_NANOS_DIR;
  const tools = process.env.NX_UNIKERNEL_NANOS_TOOLS;
  if (!release || !tools) {
    return 'NX_UNIKERNEL_NANOS_DIR (folder with kernel.img, boot.img, klibs/) and NX_UNIKERNEL_NANOS_TOOLS (folder with mkfs, dump) are not both set';
  }

  const build: NanosBuild = {
    release,
    bootImg: join(release, 'boot.img'),
    kernelImg: join(release, 'kernel.img'),
    klibDir: join(release, 'klibs'),
    mkfs: join(tools, 'mkfs'),
    dump: join(tools, 'dump'),
  };
  for (const path of [build.bootImg, build.kernelImg, build.klibDir, build.mkfs, build.dump]) {
    if (!existsSync(path)) return `${path} does not exist`;
  }
  return build;
}

/** Returns the offset of the first byte where `left` and `right` differ, or -1 when they are equal. */
export function firstDifference(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  const chunk = 64 * 1024;
  for (let start = 0; start < length; start += chunk) {
    const end = Math.min(length, start + chunk);
    if (Buffer.compare(left.subarray(start, end), right.subarray(start, end)) === 0) continue;
    for (let index = start; index < end; index++) {
      if (left[index] !== right[index]) return index;
    }
  }
  return left.length === right.length ? -1 : length;
}

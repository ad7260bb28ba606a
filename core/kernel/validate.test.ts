// inspectReleaseFolder: a valid fake release, and each way a folder can fail.

import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildElf64, hasCommand, makeBootImage, makeTempDir, removeTempDir, writeFakeRelease } from './test-support/fake-release';
import { inspectReleaseFolder } from './validate';

const hasGcc = hasCommand('gcc');
if (!hasGcc) console.log('Skipping the release folder tests: gcc is not installed, and kernel.img is built with it.');

describe.skipIf(!hasGcc)('inspectReleaseFolder', () => {
  let root: string;
  let elf: Buffer;
  let counter = 0;

  beforeAll(() => {
    root = makeTempDir();
    elf = buildElf64(root);
  });

  afterAll(() => {
    removeTempDir(root);
  });

  /** Writes a fresh release folder with every part valid unless overridden. */
  function release(overrides: Partial<Parameters<typeof writeFakeRelease>[1]> = {}): string {
    counter += 1;
    return writeFakeRelease(path.join(root, `release-${counter}`), { kernel: elf, boot: makeBootImage(), klibs: ['tls', 'ntp'], ...overrides });
  }

  async function problemsOf(dir: string): Promise<string[]> {
    const inspection = await inspectReleaseFolder(dir);
    if (inspection.ok) {
      throw new Error(`expected ${dir} to be invalid`);
    }
    return inspection.problems;
  }

  it('accepts a complete folder', async () => {
    const dir = release();
    writeFileSync(path.join(dir, 'bootx64.efi'), 'MZ');

    const inspection = await inspectReleaseFolder(dir);

    expect(inspection).toEqual({
      ok: true,
      files: {
        dir,
        kernelImg: path.join(dir, 'kernel.img'),
        bootImg: path.join(dir, 'boot.img'),
        klibDir: path.join(dir, 'klibs'),
        uefiLoader: path.join(dir, 'bootx64.efi'),
      },
    });
  });

  it('accepts a folder without klibs', async () => {
    const inspection = await inspectReleaseFolder(release({ klibs: undefined }));

    expect(inspection.ok).toBe(true);
    expect(inspection.ok ? inspection.files.klibDir : 'invalid').toBeUndefined();
  });

  it('reports a missing folder', async () => {
    expect(await problemsOf(path.join(root, 'nothing-here'))).toEqual([`the folder ${path.join(root, 'nothing-here')} does not exist`]);
  });

  it('reports a file given as folder', async () => {
    const file = path.join(root, 'plain-file');
    writeFileSync(file, 'x');

    expect(await problemsOf(file)).toEqual([`${file} is not a folder`]);
  });

  it('reports both images missing', async () => {
    expect(await problemsOf(release({ kernel: undefined, boot: undefined }))).toEqual(['kernel.img is missing', 'boot.img is missing']);
  });

  it('names stage3.img of old releases', async () => {
    const dir = release({ kernel: undefined });
    writeFileSync(path.join(dir, 'stage3.img'), elf);

    expect(await problemsOf(dir)).toEqual(['kernel.img is missing (the folder has stage3.img, the name in old releases; rename it to kernel.img)']);
  });

  it('rejects a kernel that is not ELF', async () => {
    expect(await problemsOf(release({ kernel: Buffer.from('#!/bin/sh\necho hi\n') }))).toEqual(['kernel.img is not an ELF file']);
  });

  it('rejects a 32-bit kernel', async () => {
    const elf32 = Buffer.from(elf);
    elf32[4] = 1;

    expect(await problemsOf(release({ kernel: elf32 }))).toEqual(['kernel.img is a 32-bit ELF file; the Nanos kernel is ELF64']);
  });

  it('rejects an arm64 kernel', async () => {
    const arm = Buffer.from(elf);
    arm.writeUInt16LE(183, 18);

    expect(await problemsOf(release({ kernel: arm }))).toEqual(['kernel.img is an arm64 kernel (the -virt release); nx-unikernel boots x86-64 guests']);
  });

  it('rejects a folder named kernel.img', async () => {
    const dir = release({ kernel: undefined });
    mkdirSync(path.join(dir, 'kernel.img'));

    expect(await problemsOf(dir)).toEqual(['kernel.img is not a regular file']);
  });

  it('rejects a boot image of partial sectors', async () => {
    expect(await problemsOf(release({ boot: makeBootImage(2).subarray(0, 1000) }))).toEqual([
      'boot.img is 1000 bytes, not a whole number of 512-byte sectors',
    ]);
  });

  it('rejects a boot image without signature', async () => {
    expect(await problemsOf(release({ boot: Buffer.alloc(1024) }))).toEqual(['boot.img has no boot signature 0x55 0xAA at offset 510']);
  });

  it('rejects a klibs file', async () => {
    const dir = release({ klibs: undefined });
    writeFileSync(path.join(dir, 'klibs'), '');

    expect(await problemsOf(dir)).toEqual(['klibs is not a folder']);
  });
});

const realReleaseDir = process.env['NX_UNIKERNEL_NANOS_DIR'];
if (!realReleaseDir) console.log('Skipping the real release test: NX_UNIKERNEL_NANOS_DIR is not set.');

describe.skipIf(!realReleaseDir)('real Nanos release', () => {
  it('validates NX_UNIKERNEL_NANOS_DIR', async () => {
    const inspection = await inspectReleaseFolder(realReleaseDir as string);

    expect(inspection.ok ? [] : inspection.problems).toEqual([]);
  });
});

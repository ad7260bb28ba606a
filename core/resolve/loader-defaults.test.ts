import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EM_386, EM_AARCH64, EM_RISCV, EM_X86_64, glibcPortFor, readLoaderDefaults } from './loader-defaults';
import { RootedFs } from './rooted-fs';
import { TempRoot } from './test-support/sysroot-fixtures';

/** Returns the first of `candidates` that exists on this host. */
function hostLoader(candidates: string[]): string | undefined {
  return candidates.find((candidate) => fs.existsSync(candidate));
}

const X86_64_LOADER = process.platform === 'linux' ? hostLoader(['/lib64/ld-linux-x86-64.so.2']) : undefined;
const I386_LOADER = process.platform === 'linux' ? hostLoader(['/lib32/ld-linux.so.2', '/lib/ld-linux.so.2']) : undefined;
const X32_LOADER = process.platform === 'linux' ? hostLoader(['/libx32/ld-linux-x32.so.2']) : undefined;
const IS_DEBIAN = fs.existsSync('/etc/debian_version');

describe.skipIf(!X86_64_LOADER || !IS_DEBIAN)("this host's glibc loaders", () => {
  it('reads the x86_64 loader', () => {
    const defaults = readLoaderDefaults(fs.readFileSync(X86_64_LOADER as string), EM_X86_64, 64);
    expect(defaults.source).toBe('loader');
    expect(defaults.systemDirs).toEqual(['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib']);
    expect(defaults.lib).toBe('lib/x86_64-linux-gnu');
    expect(defaults.platform).toBe('x86_64');
    expect(defaults.hwcapsSubdirs).toEqual(['x86-64-v4', 'x86-64-v3', 'x86-64-v2']);
    expect(defaults.notes).toEqual([]);
  });

  it.skipIf(!I386_LOADER)('reads the i386 multilib loader', () => {
    const defaults = readLoaderDefaults(fs.readFileSync(I386_LOADER as string), EM_386, 32);
    expect(defaults.source).toBe('loader');
    expect(defaults.systemDirs).toEqual(['/lib32', '/usr/lib32', '/lib', '/usr/lib']);
    expect(defaults.lib).toBe('lib32');
    expect(defaults.platform).toBe('i686');
    expect(defaults.hwcapsSubdirs).toEqual([]);
  });

  it.skipIf(!X32_LOADER)('reads the x32 loader', () => {
    const defaults = readLoaderDefaults(fs.readFileSync(X32_LOADER as string), EM_X86_64, 32);
    expect(defaults.source).toBe('loader');
    expect(defaults.systemDirs).toEqual(['/libx32', '/usr/libx32', '/lib', '/usr/lib']);
    expect(defaults.lib).toBe('libx32');
    expect(defaults.hwcapsSubdirs).toEqual(['x86-64-v4', 'x86-64-v3', 'x86-64-v2']);
  });
});

describe('readLoaderDefaults fallback', () => {
  let debianRoot: TempRoot;
  let plainRoot: TempRoot;
  const noStrings = new Uint8Array(4096).map((_, index) => (index * 7) % 251);

  beforeAll(() => {
    debianRoot = new TempRoot();
    debianRoot.mkdir('usr/lib/x86_64-linux-gnu');
    debianRoot.symlink('usr/lib', 'lib');
    plainRoot = new TempRoot();
    plainRoot.mkdir('usr/lib64');
  });

  afterAll(() => {
    debianRoot.remove();
    plainRoot.remove();
  });

  it('uses Debian multiarch when the root has it', () => {
    const defaults = readLoaderDefaults(noStrings, EM_X86_64, 64, new RootedFs(debianRoot.dir));
    expect(defaults.source).toBe('fallback-debian');
    expect(defaults.systemDirs).toEqual(['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib']);
    expect(defaults.lib).toBe('lib/x86_64-linux-gnu');
    expect(defaults.notes.length).toBeGreaterThan(0);
  });

  it('uses upstream defaults otherwise', () => {
    const defaults = readLoaderDefaults(noStrings, EM_X86_64, 64, new RootedFs(plainRoot.dir));
    expect(defaults.source).toBe('fallback-upstream');
    expect(defaults.systemDirs).toEqual(['/lib64', '/usr/lib64']);
    expect(defaults.lib).toBe('lib64');

    const i386 = readLoaderDefaults(noStrings, EM_386, 32, new RootedFs(plainRoot.dir));
    expect(i386.systemDirs).toEqual(['/lib', '/usr/lib']);
    expect(i386.lib).toBe('lib');

    const withoutRoot = readLoaderDefaults(new Uint8Array(0), EM_AARCH64, 64);
    expect(withoutRoot.source).toBe('fallback-upstream');
    expect(withoutRoot.systemDirs).toEqual(['/lib64', '/usr/lib64']);
    expect(withoutRoot.platform).toBe('aarch64');
    expect(withoutRoot.hwcapsSubdirs).toEqual([]);

    const riscv = readLoaderDefaults(new Uint8Array(0), EM_RISCV, 64, undefined, { flags: 0x5 });
    expect(riscv.systemDirs).toEqual(['/lib64/lp64d', '/usr/lib64/lp64d']);
    expect(riscv.lib).toBe('lp64d');
  });

  it('keeps the port hwcaps list for an empty buffer', () => {
    expect(readLoaderDefaults(new Uint8Array(0), EM_X86_64, 64).hwcapsSubdirs).toEqual(['x86-64-v4', 'x86-64-v3', 'x86-64-v2']);
  });
});

describe('readLoaderDefaults on synthetic loaders', () => {
  /** Bytes with `parts` laid out one after another, like .rodata of ld.so. */
  function bytesOf(...parts: (string | number[])[]): Uint8Array {
    return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));
  }

  it('reads an upstream-style loader', () => {
    const loader = bytesOf([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3], '/lib64/\0/usr/lib64/\0', [9, 9, 0], 'ORIGIN\0PLATFORM\0LIB\0\0\0\0lib64\0', 'glibc-hwcaps\0', 'x86-64-v4:x86-64-v3:x86-64-v2\0');
    const defaults = readLoaderDefaults(loader, EM_X86_64, 64);
    expect(defaults.source).toBe('loader');
    expect(defaults.systemDirs).toEqual(['/lib64', '/usr/lib64']);
    expect(defaults.lib).toBe('lib64');
    expect(defaults.hwcapsSubdirs).toEqual(['x86-64-v4', 'x86-64-v3', 'x86-64-v2']);
  });

  it('finds no hwcaps in a pre-2.33 loader', () => {
    const loader = bytesOf([1, 2], '/lib64/\0/usr/lib64/\0', 'XLIB\0lib64\0');
    const defaults = readLoaderDefaults(loader, EM_X86_64, 64);
    expect(defaults.hwcapsSubdirs).toEqual([]);
    // "LIB" must follow a NUL, so this one is not found and $LIB comes from the first directory.
    expect(defaults.lib).toBe('lib64');
    expect(defaults.notes.some((note) => note.includes('$LIB'))).toBe(true);
  });

  it('prefers the longest directory run', () => {
    const loader = bytesOf([3], '/usr/lib/\0/lib/\0', [0, 7], '/usr/lib/\0/usr/lib64/\0/lib64/\0', [0], '/tmp/\0/var/\0');
    expect(readLoaderDefaults(loader, EM_X86_64, 64).systemDirs).toEqual(['/usr/lib', '/usr/lib64', '/lib64']);
  });
});

describe('glibcPortFor', () => {
  it('knows common ports', () => {
    expect(glibcPortFor(EM_X86_64, 64).triplet).toBe('x86_64-linux-gnu');
    expect(glibcPortFor(EM_X86_64, 32).triplet).toBe('x86_64-linux-gnux32');
    expect(glibcPortFor(EM_AARCH64, 64).slibdir).toBe('/lib64');
    expect(glibcPortFor(0x1234, 64).slibdir).toBe('/lib');
  });
});

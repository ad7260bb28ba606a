import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MUSL_DEFAULT_SYSTEM_PATH, muslPathFile, readMuslSystemPath, readMuslSystemPathDetails } from './musl-path';
import { RootedFs } from './rooted-fs';
import { TempRoot } from './test-support/sysroot-fixtures';

const HOST_PATH_FILE = '/etc/ld-musl-x86_64.path';

describe('muslPathFile', () => {
  it('drops the last two components of PT_INTERP', () => {
    expect(muslPathFile('/lib/ld-musl-x86_64.so.1')).toBe('/etc/ld-musl-x86_64.path');
    expect(muslPathFile('/usr/lib/ld-musl-aarch64.so.1')).toBe('/usr/etc/ld-musl-aarch64.path');
    expect(muslPathFile('/opt/musl/lib/ld-musl-armhf.so.1')).toBe('/opt/musl/etc/ld-musl-armhf.path');
    expect(muslPathFile('/ld-musl-x86_64.so.1')).toBe('/etc/ld-musl-x86_64.path');
    expect(muslPathFile('ld-musl-x86_64.so.1')).toBe('/etc/ld-musl-x86_64.path');
  });

  it('needs the architecture for a renamed loader', () => {
    expect(() => muslPathFile('/lib/my-loader.so')).toThrow(/ld-musl-<ARCH>\.so\.1/);
    expect(muslPathFile('/lib/my-loader.so', 'x86_64')).toBe('/etc/ld-musl-x86_64.path');
  });
});

describe.skipIf(!fs.existsSync(HOST_PATH_FILE))("this host's musl path file", () => {
  it('matches the file musl-tools installed', () => {
    const expected = fs.readFileSync(HOST_PATH_FILE, 'utf8').split(/[:\n]/).filter((dir) => dir !== '');
    const details = readMuslSystemPathDetails(new RootedFs('/'), '/lib/ld-musl-x86_64.so.1');
    expect(details.source).toBe('file');
    expect(details.dirs).toEqual(expected);
    expect(details.dirs).toContain('/usr/lib/x86_64-linux-musl');
  });
});

describe('readMuslSystemPath in temporary roots', () => {
  let root: TempRoot;

  beforeAll(() => {
    root = new TempRoot();
    root.write('listed/etc/ld-musl-x86_64.path', '/lib/a:/usr/lib/b\n\n/opt/c::\n/with space \n');
    root.write('empty/etc/ld-musl-x86_64.path', '');
    root.mkdir('directory/etc/ld-musl-x86_64.path');
    root.write('nul/etc/ld-musl-x86_64.path', '/first\0/ignored\n');
    root.symlink('/nowhere', 'dangling/etc/ld-musl-x86_64.path');
    root.symlink('ld-musl-x86_64.path', 'loop/etc/ld-musl-x86_64.path');
    root.write('usr/etc/ld-musl-aarch64.path', '/usr/lib/aarch64\n');
  });

  afterAll(() => root.remove());

  const read = (interpreter: string) => readMuslSystemPathDetails(new RootedFs(root.dir), interpreter);

  it('splits on colons and newlines only', () => {
    expect(read('/listed/lib/ld-musl-x86_64.so.1').dirs).toEqual(['/lib/a', '/usr/lib/b', '/opt/c', '/with space ']);
  });

  it('uses the default list when the file is missing', () => {
    const details = read('/missing/lib/ld-musl-x86_64.so.1');
    expect(details.source).toBe('default');
    expect(details.dirs).toEqual(MUSL_DEFAULT_SYSTEM_PATH);
    expect(read('/dangling/lib/ld-musl-x86_64.so.1').source).toBe('default');
  });

  it('searches nothing for an empty or unreadable file', () => {
    expect(read('/empty/lib/ld-musl-x86_64.so.1').dirs).toEqual([]);
    expect(read('/empty/lib/ld-musl-x86_64.so.1').source).toBe('file');
    const directory = read('/directory/lib/ld-musl-x86_64.so.1');
    expect(directory.dirs).toEqual([]);
    expect(directory.source).toBe('unreadable');
    const loop = read('/loop/lib/ld-musl-x86_64.so.1');
    expect(loop.dirs).toEqual([]);
    expect(loop.message).toContain('symbolic links');
  });

  it('stops at a NUL byte', () => {
    expect(read('/nul/lib/ld-musl-x86_64.so.1').dirs).toEqual(['/first']);
  });

  it('reads the file beside a /usr/lib loader', () => {
    expect(readMuslSystemPath(new RootedFs(root.dir), '/usr/lib/ld-musl-aarch64.so.1')).toEqual(['/usr/lib/aarch64']);
  });
});

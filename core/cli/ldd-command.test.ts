// The `nx-unikernel ldd` command as a user runs it: the built CLI in a child
// process, on real programs.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLddOutput } from '../../bench/ldd/ldd-output';
import { hasCommand, Lab } from '../resolve/test-support/lab';

const CLI = path.resolve(__dirname, '../../dist/bin/nx-unikernel.js');
const lab = Lab.create();
afterAll(() => lab.remove());

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!fs.existsSync(CLI))('nx-unikernel ldd', () => {
  it('lists the same libraries as ldd for /usr/bin/node', () => {
    const node = fs.realpathSync('/usr/bin/node');
    const output = run('ldd', '--json', node);
    expect(output.status).toBe(0);
    const result = JSON.parse(output.stdout) as { libraries: { name: string; path: string; runtime?: unknown }[]; interpreter: { path: string } };

    const expected = parseLddOutput(spawnSync('ldd', [node], { encoding: 'utf8' }).stdout);
    expected.delete(result.interpreter.path);
    const actual = new Map(result.libraries.filter((library) => !library.runtime).map((library) => [library.name, library.path]));
    expect(actual).toEqual(expected);
  });

  it('prints name => path lines and a tree', () => {
    const flat = run('ldd', '/usr/bin/node');
    expect(flat.stdout).toMatch(/^ {4}libc\.so\.6 => \/lib\/x86_64-linux-gnu\/libc\.so\.6$/m);
    const tree = run('ldd', '--tree', '/usr/bin/node');
    expect(tree.status).toBe(0);
    expect(tree.stdout.split('\n')[0]).toContain('(interpreter => /lib64/ld-linux-x86-64.so.2');
  });

  it('names a missing soname, who needs it and where it looked', () => {
    lab.lib('foo/libfoo.so', 'libfoo.so');
    const program = lab.exe('app', { needs: [lab.path('foo/libfoo.so')], source: 'int f_foo_libfoo_so(void); int main(void){return f_foo_libfoo_so();}\n' });
    const output = run('ldd', program);

    expect(output.status).toBe(1);
    expect(output.stdout).toContain('libfoo.so => not found');
    expect(output.stderr).toContain('libfoo.so: not found');
    expect(output.stderr).toContain(`needed by: ${program}`);
    expect(output.stderr).toContain('system folders [/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib]');
    expect(output.stderr).toContain('fix: add the folder that holds libfoo.so to LD_LIBRARY_PATH');

    const fixed = run('ldd', '--library-path', lab.path('foo'), program);
    expect(fixed.status).toBe(0);
    expect(fixed.stdout).toContain(`libfoo.so => ${lab.path('foo/libfoo.so')}`);
  });

  it('names a missing interpreter and the root fix', () => {
    const program = lab.exe('glibc-app');
    fs.mkdirSync(lab.path('empty-root'), { recursive: true });

    const output = run('ldd', '--sysroot', lab.path('empty-root'), program);

    expect(output.status).toBe(1);
    expect(output.stderr).toContain("/lib64/ld-linux-x86-64.so.2: not found: the program's interpreter (PT_INTERP) /lib64/ld-linux-x86-64.so.2 is missing from the root");
    expect(output.stderr).toContain('LD_LIBRARY_PATH cannot supply it, because the kernel loads the interpreter before any library search');
    expect(output.stderr).toContain('fix: pass a root that contains /lib64/ld-linux-x86-64.so.2, such as a copy of the system the program was built for: --sysroot DIR for ldd and build');
    expect(output.stderr).toContain(`fix: or install the glibc package (libc6 on Debian and Ubuntu, glibc on Fedora) into ${lab.path('empty-root')}`);
    const interpreterReport = output.stderr.slice(output.stderr.indexOf('  /lib64/ld-linux-x86-64.so.2:'), output.stderr.indexOf('  libc.so.6:'));
    expect(interpreterReport).not.toContain('fix: add the folder');
  });

  it.skipIf(!hasCommand('musl-gcc', ['--version']))('names a missing musl interpreter', () => {
    const program = lab.exe('musl-app', { compiler: 'musl-gcc' });
    fs.mkdirSync(lab.path('empty-root'), { recursive: true });

    const output = run('ldd', '--sysroot', lab.path('empty-root'), program);

    expect(output.status).toBe(1);
    expect(output.stderr).toContain("/lib/ld-musl-x86_64.so.1: not found: the program's interpreter (PT_INTERP)");
    expect(output.stderr).toContain('fix: or install the musl package (musl on Debian and Alpine)');
  });

  it('lists every miss at once', () => {
    lab.lib('bar/libbar.so', 'libbar.so');
    lab.lib('baz/libbaz.so', 'libbaz.so');
    const program = lab.exe('two-missing', { needs: [lab.path('bar/libbar.so'), lab.path('baz/libbaz.so')] });
    const output = run('ldd', '--json', program);
    expect(output.status).toBe(1);
    const result = JSON.parse(output.stdout) as { missing: { name: string; chain: string[]; searched: unknown[]; suggestions: string[] }[] };
    expect(result.missing.map((entry) => entry.name)).toEqual(['libbar.so', 'libbaz.so']);
    for (const entry of result.missing) {
      expect(entry.chain).toEqual([program]);
      expect(entry.searched.length).toBeGreaterThan(0);
      expect(entry.suggestions.length).toBeGreaterThan(0);
    }
  });

  it('rejects a Mach-O program with the macOS message', () => {
    const macho = lab.write('macho', Buffer.concat([Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x07, 0x00, 0x00, 0x01]), Buffer.alloc(4088)]));
    const output = run('ldd', macho);
    expect(output.status).toBe(2);
    expect(output.stderr).toContain('is a macOS program (Mach-O 64-bit, x86_64)');
    expect(output.stderr).toContain('GOOS=linux');
    expect(output.stdout).toBe('');
  });

  it('rejects a script, naming its interpreter', () => {
    const output = run('ldd', '/usr/bin/ldd');
    expect(output.status).toBe(2);
    expect(output.stderr).toContain('/bin/bash');
  });

  it.skipIf(!hasCommand('clang'))('rejects a program for another machine', () => {
    const program = lab.exe('arm-app', { compiler: 'clang', flags: ['--target=aarch64-linux-gnu', '-nostdlib', '-fuse-ld=lld', '-static'], source: 'void _start(void){for(;;);}\n' });
    const output = run('ldd', program);
    expect(output.status).toBe(2);
    expect(output.stderr).toContain('AArch64');
    expect(output.stderr).toContain('x86_64');
  });

  it('gives a JSON error for a rejected input', () => {
    const output = run('ldd', '--json', lab.write('empty', ''));
    expect(output.status).toBe(2);
    expect(JSON.parse(output.stdout)).toMatchObject({ error: { code: 'empty' } });
  });

  it('rejects a sysroot that does not exist', () => {
    const output = run('ldd', '--sysroot', lab.path('no-such-root'), '/usr/bin/node');
    expect(output.status).toBe(2);
    expect(output.stderr).toContain('no-such-root');
  });
});

describe.skipIf(!fs.existsSync(CLI))('build and run input checks', () => {
  it('build refuses to overwrite its own program', () => {
    const program = lab.exe('victim');
    const before = fs.readFileSync(program);
    const output = run('build', program, '-o', program);
    expect(output.status).toBe(2);
    expect(output.stderr).toContain('is also an input of the image');
    expect(fs.readFileSync(program).equals(before)).toBe(true);
  });

  it('run rejects a file that is neither program nor image', () => {
    const output = run('run', lab.write('notes.txt', 'hello\n'));
    expect(output.status).toBe(2);
    expect(output.stderr).toContain('neither a Linux ELF program nor a Nanos disk image');
  });

  it('run and inspect reject a folder without a stack trace', () => {
    for (const command of ['run', 'inspect']) {
      const output = run(command, lab.dir);
      expect(output.status).toBe(2);
      expect(output.stderr).not.toContain('    at ');
    }
  });
});

describe.skipIf(!fs.existsSync(CLI))('usage errors', () => {
  it('an invalid option value exits with 2', () => {
    const output = run('ldd', '--isa-level', '9', '/usr/bin/node');
    expect(output.status).toBe(2);
    expect(output.stderr).toContain('"9" is not an x86-64 level');
  });

  it('an unknown command exits with 2', () => {
    expect(run('bogus').status).toBe(2);
  });
});

// Link kind and C library of real gcc and musl-gcc outputs, and the decision
// table on synthetic inputs for cases no current toolchain produces.

import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { classify, libcFromInterpreter, linkKindOf } from './classify';
import { DF_1_PIE, ET_DYN, ET_EXEC, ET_REL, PT_DYNAMIC, PT_INTERP, PT_LOAD } from './constants';
import { readElfFile } from './read-elf';
import { HELLO_C, buildC, buildSharedLib, hasCommand, makeTempDir, readelfDynamic, removeTempDir, run } from './test-support';
import type { DynamicInfo, ElfHeader, ProgramHeader } from './types';

const MUSL_LIB_DIR = '/usr/lib/x86_64-linux-musl';
const hasMusl = hasCommand('musl-gcc');

let dir: string;

beforeAll(() => {
  dir = makeTempDir();
});

afterAll(() => {
  removeTempDir(dir);
});

function build(name: string, flags: readonly string[], compiler = 'gcc'): string {
  return buildC({ source: HELLO_C, out: path.join(dir, name), flags, compiler });
}

describe('classification of glibc builds', () => {
  it('static program', () => {
    const info = readElfFile(build('static', ['-static']));

    expect(info.interpreter).toBeUndefined();
    expect(info.dynamic).toBeUndefined();
    expect(info.classification).toEqual({ kind: 'static', libc: 'glibc', pie: false });
  });

  it('static-pie program', () => {
    const file = build('static-pie', ['-static-pie']);
    const info = readElfFile(file, { symbols: true });

    expect(info.header.type).toBe(ET_DYN);
    expect(info.interpreter).toBeUndefined();
    expect(info.dynamic?.needed).toEqual([]);
    expect(readelfDynamic(file).flags1).toContain('PIE');
    expect(info.classification).toEqual({ kind: 'static-pie', libc: 'glibc', pie: true });
  });

  it('PIE program', () => {
    const info = readElfFile(build('pie', ['-fPIE', '-pie']));

    expect(info.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(info.classification).toEqual({ kind: 'dynamic', libc: 'glibc', pie: true });
  });

  it('non-PIE program', () => {
    const info = readElfFile(build('no-pie', ['-fno-PIE', '-no-pie']));

    expect(info.header.type).toBe(ET_EXEC);
    expect(info.classification).toEqual({ kind: 'dynamic', libc: 'glibc', pie: false });
  });

  it('shared library', () => {
    const library = buildSharedLib(path.join(dir, 'lib'), 'libx.so.1', 'libx.so.1', [], '#include <stdio.h>\nint x(void) { return puts("x"); }\n');
    const info = readElfFile(library);

    expect(info.classification).toEqual({ kind: 'shared-library', libc: 'glibc', pie: false });
  });

  it('libc.so.6 runs but is a library', () => {
    const libc = run('gcc', ['-print-file-name=libc.so.6']).trim();
    const info = readElfFile(libc);

    expect(info.interpreter).toMatch(/ld-linux-x86-64\.so\.2$/);
    expect(info.dynamic?.soname).toBe('libc.so.6');
    expect(info.classification).toEqual({ kind: 'shared-library', libc: 'glibc', pie: false });
  });

  it('the dynamic loader is a library', () => {
    const loader = readElfFile(readElfFile(build('loader-probe', [])).interpreter ?? '');

    expect(loader.interpreter).toBeUndefined();
    expect(loader.dynamic?.soname).toMatch(/^ld-linux-x86-64\.so\.2$/);
    expect(loader.classification).toEqual({ kind: 'shared-library', libc: 'glibc', pie: false });
  });

  it('static glibc without the ABI tag note', () => {
    const file = build('static-no-abi-tag', ['-static']);
    run('objcopy', ['--remove-section=.note.ABI-tag', file]);
    const info = readElfFile(file);

    expect(info.notes.abiTag).toBeUndefined();
    expect(info.classification).toEqual({ kind: 'static', libc: 'glibc', pie: false });
  });
});

describe('classification of musl builds', () => {
  it.skipIf(!hasMusl)('dynamic musl program', () => {
    const info = readElfFile(build('musl-dynamic', [], 'musl-gcc'), { symbols: true });

    expect(info.interpreter).toBe('/lib/ld-musl-x86_64.so.1');
    expect(info.dynamic?.needed).toEqual(['libc.so']);
    expect(info.notes.abiTag).toBeUndefined();
    expect(info.versionNeeds).toEqual([]);
    expect(info.classification).toEqual({ kind: 'dynamic', libc: 'musl', pie: true });
  });

  it.skipIf(!hasMusl)('static musl program', () => {
    const info = readElfFile(build('musl-static', ['-static'], 'musl-gcc'));

    expect(info.notes.abiTag).toBeUndefined();
    expect(info.classification).toEqual({ kind: 'static', libc: 'musl', pie: false });
  });

  it.skipIf(!hasMusl)('stripped static musl program is unknown', () => {
    // Without .symtab nothing in a musl "hello world" names musl.
    const info = readElfFile(build('musl-static-stripped', ['-static', '-s'], 'musl-gcc'));

    expect(info.classification).toEqual({ kind: 'static', libc: 'unknown', pie: false });
  });

  it.skipIf(!hasMusl)('static-pie musl program', () => {
    // musl-gcc has no -static-pie mode; link with musl's rcrt1.o as musl's docs describe.
    const crt = (name: string): string => path.join(MUSL_LIB_DIR, name);
    const out = path.join(dir, 'musl-static-pie');
    buildC({
      source: HELLO_C,
      out,
      flags: [
        '-nostdlib',
        '-nostdinc',
        '-isystem',
        '/usr/include/x86_64-linux-musl',
        '-fPIE',
        '-static-pie',
        crt('rcrt1.o'),
        crt('crti.o'),
        crt('libc.a'),
        crt('crtn.o'),
        run('gcc', ['-print-libgcc-file-name']).trim(),
      ],
    });
    const info = readElfFile(out);

    expect(info.interpreter).toBeUndefined();
    expect(info.classification).toEqual({ kind: 'static-pie', libc: 'musl', pie: true });
  });
});

describe('classify decision table', () => {
  const header = (type: number): ElfHeader => ({
    ident: { class: 64, byteOrder: 'little', version: 1, osAbi: 0, abiVersion: 0, paddingZero: true },
    type,
    machine: 62,
    version: 1,
    entry: 0n,
    phoff: 64,
    shoff: 0,
    flags: 0,
    ehsize: 64,
    phentsize: 56,
    phnum: 0,
    shentsize: 64,
    shnum: 0,
    shstrndx: 0,
  });
  const segment = (type: number): ProgramHeader => ({ type, flags: 4, offset: 0, vaddr: 0, paddr: 0, filesz: 1, memsz: 1, align: 8 });
  const dynamic = (fields: Partial<DynamicInfo>): DynamicInfo => ({
    needed: [],
    flags: 0,
    flags1: 0,
    filters: [],
    auxiliaries: [],
    hasDebug: false,
    entryCount: 1,
    ...fields,
  });

  it('PIE from binutils before 2.26', () => {
    // No DF_1_PIE, but DT_DEBUG and no DT_SONAME mark an executable.
    const kind = linkKindOf({ header: header(ET_DYN), programHeaders: [segment(PT_LOAD), segment(PT_INTERP), segment(PT_DYNAMIC)], dynamic: dynamic({ hasDebug: true, needed: ['libc.so.6'] }) });
    expect(kind).toBe('dynamic');
  });

  it('static-pie from binutils before 2.26', () => {
    const kind = linkKindOf({ header: header(ET_DYN), programHeaders: [segment(PT_LOAD), segment(PT_DYNAMIC)], dynamic: dynamic({ hasDebug: true }) });
    expect(kind).toBe('static-pie');
  });

  it('library with DT_DEBUG and DT_SONAME', () => {
    const kind = linkKindOf({ header: header(ET_DYN), programHeaders: [segment(PT_LOAD), segment(PT_DYNAMIC)], dynamic: dynamic({ hasDebug: true, soname: 'libodd.so.1' }) });
    expect(kind).toBe('shared-library');
  });

  it('PIE flag wins over DT_SONAME', () => {
    const kind = linkKindOf({
      header: header(ET_DYN),
      programHeaders: [segment(PT_LOAD), segment(PT_INTERP), segment(PT_DYNAMIC)],
      dynamic: dynamic({ flags1: DF_1_PIE, soname: 'app' }),
    });
    expect(kind).toBe('dynamic');
  });

  it('object file is not loadable', () => {
    const result = classify({ header: header(ET_REL), programHeaders: [], notes: {} });
    expect(result).toEqual({ kind: 'not-loadable', libc: 'unknown', pie: false });
  });

  it('static Go program has no libc', () => {
    const result = classify({ header: header(ET_EXEC), programHeaders: [segment(PT_LOAD)], notes: { goBuildId: 'x' }, go: { version: 'go1.19.8', cgo: false } });
    expect(result).toEqual({ kind: 'static', libc: 'none', pie: false, go: { version: 'go1.19.8', cgo: false } });
  });

  it('glibc string scan runs only when needed', () => {
    let scans = 0;
    const containsGlibcStrings = (): boolean => {
      scans += 1;
      return true;
    };
    classify({ header: header(ET_EXEC), programHeaders: [segment(PT_LOAD)], notes: { abiTag: { os: 0, major: 3, minor: 2, patch: 0 } }, containsGlibcStrings });
    classify({ header: header(ET_EXEC), programHeaders: [segment(PT_LOAD), segment(PT_INTERP)], interpreter: '/lib/ld-musl-x86_64.so.1', notes: {}, containsGlibcStrings });
    expect(scans).toBe(0);

    const result = classify({ header: header(ET_EXEC), programHeaders: [segment(PT_LOAD)], notes: {}, containsGlibcStrings });
    expect(scans).toBe(1);
    expect(result.libc).toBe('glibc');
  });
});

describe('libcFromInterpreter', () => {
  it.each([
    ['/lib64/ld-linux-x86-64.so.2', 'glibc'],
    ['/lib/ld-linux.so.2', 'glibc'],
    ['/libx32/ld-linux-x32.so.2', 'glibc'],
    ['/lib/ld-linux-aarch64.so.1', 'glibc'],
    ['/lib/ld-linux-armhf.so.3', 'glibc'],
    ['/lib64/ld64.so.1', 'glibc'],
    ['/lib64/ld64.so.2', 'glibc'],
    ['/lib/ld.so.1', 'glibc'],
    ['/lib/ld-musl-x86_64.so.1', 'musl'],
    ['/lib/ld-musl-aarch64.so.1', 'musl'],
    ['/system/bin/linker64', 'bionic'],
    ['/system/bin/linker', 'bionic'],
    ['/lib/ld-uClibc.so.0', 'uclibc'],
    ['/libexec/ld-elf.so.1', 'unknown'],
  ])('%s is %s', (interpreter, libc) => {
    expect(libcFromInterpreter(interpreter)).toBe(libc);
  });
});

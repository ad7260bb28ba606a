// parseElf on foreign machines and big-endian files, built with clang and lld
// without a C library. Each program links against a stub "libc.so.6" whose
// version script defines GLIBC_2.17 and GLIBC_2.34. So the program gets
// DT_NEEDED, versioned imports and DT_VERNEED like a real glibc program.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EM_AARCH64, EM_ARM, EM_PPC, EM_PPC64, EM_RISCV, EM_S390, ET_DYN, ET_REL } from './constants';
import { readElfFile } from './read-elf';
import {
  buildCross,
  clangCanCompile,
  clangCanLink,
  compileObject,
  copyWithoutSectionHeaders,
  makeTempDir,
  readelfDynamic,
  readelfHeader,
  readelfImports,
  readelfInterpreter,
  readelfVersionNeeds,
  removeTempDir,
} from './test-support';
import type { ElfInfo } from './types';

const STUB_LIBC_C = 'int puts(const char *text) { return 0; }\nint getaddrinfo(void) { return 1; }\n';
const VERSION_SCRIPT = 'GLIBC_2.17 { global: puts; };\nGLIBC_2.34 { global: getaddrinfo; } GLIBC_2.17;\n';
const PROGRAM_C = [
  'int puts(const char *text);',
  'int getaddrinfo(void);',
  'int main(void) { puts("hi"); return getaddrinfo(); }',
  'void _start(void) { main(); }',
  '',
].join('\n');

interface CrossTarget {
  triple: string;
  machine: number;
  elfClass: 32 | 64;
  byteOrder: 'little' | 'big';
  interpreter: string;
}

const TARGETS: CrossTarget[] = [
  { triple: 'aarch64-linux-gnu', machine: EM_AARCH64, elfClass: 64, byteOrder: 'little', interpreter: '/lib/ld-linux-aarch64.so.1' },
  { triple: 'powerpc-linux-gnu', machine: EM_PPC, elfClass: 32, byteOrder: 'big', interpreter: '/lib/ld.so.1' },
  { triple: 'powerpc64-linux-gnu', machine: EM_PPC64, elfClass: 64, byteOrder: 'big', interpreter: '/lib64/ld64.so.1' },
  { triple: 'riscv64-linux-gnu', machine: EM_RISCV, elfClass: 64, byteOrder: 'little', interpreter: '/lib/ld-linux-riscv64-lp64d.so.1' },
  { triple: 'arm-linux-gnueabihf', machine: EM_ARM, elfClass: 32, byteOrder: 'little', interpreter: '/lib/ld-linux-armhf.so.3' },
];

let dir: string;

beforeAll(() => {
  dir = makeTempDir();
  fs.writeFileSync(path.join(dir, 'libc.map'), VERSION_SCRIPT);
});

afterAll(() => {
  removeTempDir(dir);
});

const builtPrograms = new Map<string, string>();

/** Builds the stub libc and a program using it for `target` once; returns the program path. */
function buildProgram(target: CrossTarget, hashStyle: 'gnu' | 'both'): string {
  const key = `${target.triple}-${hashStyle}`;
  const built = builtPrograms.get(key);
  if (built !== undefined) {
    return built;
  }

  const targetDir = path.join(dir, `${target.triple}-${hashStyle}`);
  fs.mkdirSync(targetDir, { recursive: true });
  const libc = buildCross({
    target: target.triple,
    dir: targetDir,
    name: 'libc.so.6',
    source: STUB_LIBC_C,
    shared: true,
    flags: ['-Wl,-soname,libc.so.6', `-Wl,--version-script,${path.join(dir, 'libc.map')}`],
  });
  const program = buildCross({
    target: target.triple,
    dir: targetDir,
    name: 'program',
    source: PROGRAM_C,
    flags: [libc, `-Wl,--dynamic-linker,${target.interpreter}`, '-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib', `-Wl,--hash-style=${hashStyle}`],
  });
  builtPrograms.set(key, program);
  return program;
}

function importsOf(info: ElfInfo): { name: string; version?: string; binding: string }[] {
  return (info.imports ?? []).map((symbol) => ({
    name: symbol.name,
    ...(symbol.version === undefined ? {} : { version: symbol.version }),
    binding: symbol.binding,
  }));
}

describe.each(TARGETS)('parseElf on $triple', (target) => {
  const linkable = clangCanLink(target.triple);

  it.skipIf(!linkable)('header and byte order', () => {
    const program = buildProgram(target, 'both');
    const info = readElfFile(program);
    const expected = readelfHeader(program);

    expect(info.header.ident.class).toBe(target.elfClass);
    expect(expected.class).toBe(target.elfClass);
    expect(info.header.ident.byteOrder).toBe(target.byteOrder);
    expect(expected.byteOrder).toBe(target.byteOrder);
    expect(info.header.machine).toBe(target.machine);
    expect(expected.machine).toBe(target.machine);
    expect(info.header.type).toBe(ET_DYN);
    expect(info.header.entry).toBe(expected.entry);
    expect(info.programHeaders).toHaveLength(expected.phnum);
  });

  it.skipIf(!linkable)('interpreter, DT_NEEDED and RUNPATH', () => {
    const program = buildProgram(target, 'both');
    const info = readElfFile(program);
    const expected = readelfDynamic(program);

    expect(info.interpreter).toBe(target.interpreter);
    expect(info.interpreter).toBe(readelfInterpreter(program));
    expect(info.dynamic?.needed).toEqual(['libc.so.6']);
    expect(info.dynamic?.needed).toEqual(expected.needed);
    expect(info.dynamic?.runpath).toBe('$ORIGIN/lib');
    expect(info.classification).toMatchObject({ kind: 'dynamic', libc: 'glibc', pie: true });
  });

  it.skipIf(!linkable)('imports and version needs', () => {
    const program = buildProgram(target, 'both');
    const info = readElfFile(program, { symbols: true });

    expect(importsOf(info)).toEqual(readelfImports(program));
    expect(info.imports?.find((symbol) => symbol.name === 'getaddrinfo')).toMatchObject({ version: 'GLIBC_2.34', versionFile: 'libc.so.6' });
    expect(new Map(info.versionNeeds?.map((need) => [need.file, need.versions.map((version) => version.name)]))).toEqual(readelfVersionNeeds(program));
  });

  it.skipIf(!linkable)('GNU hash only, no section headers', () => {
    // The program exports nothing, so every DT_GNU_HASH bucket is empty and
    // the count comes from symoffset and the DT_SYMTAB-to-next-table distance.
    const program = buildProgram(target, 'gnu');
    const copy = `${program}-no-sections`;
    copyWithoutSectionHeaders(program, copy);
    const info = readElfFile(copy, { symbols: true });

    expect(info.header.shnum).toBe(0);
    expect(readelfDynamic(program).needed).toEqual(['libc.so.6']);
    expect(importsOf(info)).toEqual(readelfImports(program));
    expect(info.imports?.length).toBeGreaterThan(0);
  });
});

describe('parseElf on s390x', () => {
  // lld 14 cannot link s390x, so an ET_REL object covers the big-endian ELF64 header there.
  const compilable = clangCanCompile('s390x-linux-gnu');

  it.skipIf(!compilable)('big-endian ELF64 object file', () => {
    const object = compileObject({ target: 's390x-linux-gnu', source: PROGRAM_C, out: path.join(dir, 's390x.o') });
    const info = readElfFile(object, { symbols: true });
    const expected = readelfHeader(object);

    expect(info.header.ident.class).toBe(64);
    expect(info.header.ident.byteOrder).toBe('big');
    expect(expected.byteOrder).toBe('big');
    expect(info.header.machine).toBe(EM_S390);
    expect(expected.machine).toBe(EM_S390);
    expect(info.header.type).toBe(ET_REL);
    expect(info.programHeaders).toEqual([]);
    expect(info.dynamic).toBeUndefined();
    expect(info.imports).toEqual([]);
    expect(info.classification.kind).toBe('not-loadable');
  });

});

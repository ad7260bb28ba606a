// parseElf on x86 programs and libraries built by gcc at test time, checked
// against readelf.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BufferByteSource, FileByteSource } from './byte-source';
import { DF_1_NODEFLIB, DF_1_NOW, DF_1_PIE, DF_BIND_NOW, EM_386, EM_X86_64, ET_DYN, ET_EXEC, PT_LOAD } from './constants';
import { parseElf, readElfFile } from './read-elf';
import {
  HELLO_C,
  buildC,
  buildSharedLib,
  copyWithoutSectionHeaders,
  encodeUnsigned,
  makeTempDir,
  patchFile,
  readelfBuildId,
  readelfDynamic,
  readelfHeader,
  readelfImports,
  readelfInterpreter,
  readelfVersionDefinitions,
  readelfVersionNeeds,
  removeTempDir,
  replaceBytes,
  run,
} from './test-support';
import type { ElfInfo, ImportedSymbol } from './types';

const MAIN_C = 'int main(void) { return 0; }\n';
const LIBRARY_C = '#include <stdio.h>\nint demo(void) { return puts("demo"); }\n';

let dir: string;
const fixture = {
  pie: '',
  noPie: '',
  i386: '',
  x32: '',
  library: '',
  rpath: '',
  runpath: '',
  nodeflib: '',
  duplicates: '',
  gnuHashOnly: '',
  gnuHashNoPie: '',
  sysvHashOnly: '',
};

beforeAll(() => {
  dir = makeTempDir();
  const out = (name: string): string => path.join(dir, name);

  fixture.pie = buildC({ source: HELLO_C, out: out('hello-pie'), flags: ['-fPIE', '-pie'] });
  fixture.noPie = buildC({ source: HELLO_C, out: out('hello-no-pie'), flags: ['-fno-PIE', '-no-pie'] });
  fixture.i386 = buildC({ source: HELLO_C, out: out('hello-i386'), flags: ['-m32'] });
  fixture.x32 = buildC({ source: HELLO_C, out: out('hello-x32'), flags: ['-mx32'] });
  fixture.library = buildSharedLib(out('lib'), 'libdemo.so.1.2', 'libdemo.so.1', ['-Wl,-F,libfilter.so.1', '-Wl,-f,libaux.so.1'], LIBRARY_C);
  fixture.rpath = buildC({ source: MAIN_C, out: out('rpath'), flags: ['-Wl,--disable-new-dtags,-rpath,/opt/a:/opt/b'] });
  fixture.runpath = buildC({ source: MAIN_C, out: out('runpath'), flags: ['-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib'] });
  fixture.nodeflib = buildC({ source: MAIN_C, out: out('nodeflib'), flags: ['-Wl,-z,nodefaultlib', '-Wl,-z,now'] });
  fixture.gnuHashOnly = buildC({ source: HELLO_C, out: out('gnu-hash'), flags: ['-Wl,--hash-style=gnu'] });
  fixture.gnuHashNoPie = buildC({ source: HELLO_C, out: out('gnu-hash-no-pie'), flags: ['-fno-PIE', '-no-pie', '-Wl,--hash-style=gnu'] });
  fixture.sysvHashOnly = buildC({ source: HELLO_C, out: out('sysv-hash'), flags: ['-Wl,--hash-style=sysv'] });

  // GNU ld drops a second DT_NEEDED with the same soname, so link two
  // libraries whose sonames differ in one letter and then make the strings equal.
  const first = buildSharedLib(out('dup1'), 'libdup.so', 'libdup.so');
  const second = buildSharedLib(out('dup2'), 'libdvp.so', 'libdvp.so');
  fixture.duplicates = buildC({ source: MAIN_C, out: out('duplicates'), flags: ['-Wl,--no-as-needed', first, second] });
  replaceBytes(fixture.duplicates, 'libdvp.so\0', 'libdup.so\0');
});

afterAll(() => {
  removeTempDir(dir);
});

function importsOf(info: ElfInfo): { name: string; version?: string; binding: string }[] {
  return (info.imports ?? []).map((symbol: ImportedSymbol) => ({
    name: symbol.name,
    ...(symbol.version === undefined ? {} : { version: symbol.version }),
    binding: symbol.binding,
  }));
}

describe('parseElf on x86_64 programs', () => {
  it('header fields match readelf', () => {
    const info = readElfFile(fixture.pie);
    const expected = readelfHeader(fixture.pie);

    expect(info.header.ident.class).toBe(64);
    expect(info.header.ident.byteOrder).toBe('little');
    expect(info.header.type).toBe(ET_DYN);
    expect(expected.type).toBe('DYN');
    expect(info.header.machine).toBe(EM_X86_64);
    expect(info.header.machine).toBe(expected.machine);
    expect(info.header.entry).toBe(expected.entry);
    expect(info.header.phnum).toBe(expected.phnum);
    expect(info.programHeaders).toHaveLength(expected.phnum);
  });

  it('PIE interpreter, DT_NEEDED and flags', () => {
    const info = readElfFile(fixture.pie);
    const expected = readelfDynamic(fixture.pie);

    expect(info.interpreter).toBe(readelfInterpreter(fixture.pie));
    expect(info.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(info.dynamic?.needed).toEqual(expected.needed);
    expect(info.dynamic?.needed).toEqual(['libc.so.6']);
    expect((info.dynamic?.flags1 ?? 0) & DF_1_PIE).toBe(DF_1_PIE);
    expect(info.dynamic?.hasDebug).toBe(true);
    expect(info.classification).toMatchObject({ kind: 'dynamic', libc: 'glibc', pie: true });
  });

  it('notes of a glibc program', () => {
    const info = readElfFile(fixture.pie);
    const notesText = run('readelf', ['-n', '-W', fixture.pie]);

    expect(info.notes.abiTag).toBeDefined();
    expect(notesText).toContain(`ABI: ${info.notes.abiTag?.major}.${info.notes.abiTag?.minor}.${info.notes.abiTag?.patch}`);
    expect(info.notes.abiTag?.os).toBe(0);
    expect(info.notes.buildId).toBe(readelfBuildId(fixture.pie));
    if (notesText.includes('x86 ISA needed: x86-64-baseline')) {
      expect(info.notes.x86IsaNeeded).toBe(1);
    } else {
      expect(info.notes.x86IsaNeeded).toBeUndefined();
    }
    expect(info.notes.goBuildId).toBeUndefined();
  });

  it('ET_EXEC maps addresses above 0x400000', () => {
    const info = readElfFile(fixture.noPie, { symbols: true });
    const firstLoad = info.programHeaders.find((segment) => segment.type === PT_LOAD);

    expect(info.header.type).toBe(ET_EXEC);
    expect(firstLoad?.vaddr).toBe(0x400000);
    expect(info.dynamic?.needed).toEqual(readelfDynamic(fixture.noPie).needed);
    expect(importsOf(info)).toEqual(readelfImports(fixture.noPie));
    expect(info.classification).toMatchObject({ kind: 'dynamic', libc: 'glibc', pie: false });
  });

  it('imports match readelf', () => {
    for (const file of [fixture.pie, fixture.noPie, fixture.library, fixture.gnuHashOnly, fixture.sysvHashOnly]) {
      const info = readElfFile(file, { symbols: true });
      expect(importsOf(info), file).toEqual(readelfImports(file));
    }
  });

  it('version needs include GLIBC_2.34', () => {
    const info = readElfFile(fixture.pie, { symbols: true });
    const libc = info.versionNeeds?.find((need) => need.file === 'libc.so.6');
    const startMain = info.imports?.find((symbol) => symbol.name === '__libc_start_main');

    expect(libc?.versions.map((version) => version.name)).toContain('GLIBC_2.34');
    expect(startMain).toMatchObject({ version: 'GLIBC_2.34', versionFile: 'libc.so.6', binding: 'global' });
    const expected = readelfVersionNeeds(fixture.pie);
    expect(new Map(info.versionNeeds?.map((need) => [need.file, need.versions.map((version) => version.name)]))).toEqual(expected);
  });

  it('version definitions of libc.so.6', () => {
    const libc = run('gcc', ['-print-file-name=libc.so.6']).trim();
    const info = readElfFile(libc, { symbols: true });
    const expected = readelfVersionDefinitions(libc);

    expect(info.versionDefinitions).toEqual(expected);
    expect(info.versionDefinitions).not.toContain('libc.so.6');
    const highest = highestGlibcVersion(info.versionDefinitions ?? []);
    expect(highest).toBe(highestGlibcVersion(expected));
    expect(highest).toMatch(/^GLIBC_2\.\d+$/);
  });

  it('RPATH and RUNPATH', () => {
    const rpath = readElfFile(fixture.rpath);
    const runpath = readElfFile(fixture.runpath);

    expect(rpath.dynamic?.rpath).toBe('/opt/a:/opt/b');
    expect(rpath.dynamic?.runpath).toBeUndefined();
    expect(rpath.dynamic?.rpath).toBe(readelfDynamic(fixture.rpath).rpath);
    expect(runpath.dynamic?.runpath).toBe('$ORIGIN/../lib');
    expect(runpath.dynamic?.rpath).toBeUndefined();
    expect(runpath.dynamic?.runpath).toBe(readelfDynamic(fixture.runpath).runpath);
  });

  it('soname, DT_FILTER and DT_AUXILIARY', () => {
    const info = readElfFile(fixture.library);
    const expected = readelfDynamic(fixture.library);

    expect(info.dynamic?.soname).toBe('libdemo.so.1');
    expect(info.dynamic?.filters).toEqual(['libfilter.so.1']);
    expect(info.dynamic?.filters).toEqual(expected.filters);
    expect(info.dynamic?.auxiliaries).toEqual(['libaux.so.1']);
    expect(info.dynamic?.auxiliaries).toEqual(expected.auxiliaries);
    expect(info.dynamic?.hasDebug).toBe(false);
    expect(info.classification).toMatchObject({ kind: 'shared-library', libc: 'glibc', pie: false });
  });

  it('DT_FLAGS and DT_FLAGS_1 bits', () => {
    const info = readElfFile(fixture.nodeflib);
    const expected = readelfDynamic(fixture.nodeflib);

    expect(expected.flags1).toContain('NODEFLIB');
    expect((info.dynamic?.flags1 ?? 0) & DF_1_NODEFLIB).toBe(DF_1_NODEFLIB);
    expect((info.dynamic?.flags1 ?? 0) & DF_1_NOW).toBe(DF_1_NOW);
    expect((info.dynamic?.flags1 ?? 0) & DF_1_PIE).toBe(DF_1_PIE);
    expect(expected.flags).toContain('BIND_NOW');
    expect((info.dynamic?.flags ?? 0) & DF_BIND_NOW).toBe(DF_BIND_NOW);
  });

  it('DT_NEEDED keeps order and duplicates', () => {
    const info = readElfFile(fixture.duplicates);

    expect(info.dynamic?.needed).toEqual(['libdup.so', 'libdup.so', 'libc.so.6']);
    expect(info.dynamic?.needed).toEqual(readelfDynamic(fixture.duplicates).needed);
  });

  it('imports absent without the symbols option', () => {
    const info = readElfFile(fixture.pie);

    expect(info.imports).toBeUndefined();
    expect(info.versionNeeds).toBeUndefined();
    expect(info.versionDefinitions).toBeUndefined();
  });

  it('buffer and file sources agree', () => {
    const fromBuffer = parseElf(new BufferByteSource(fs.readFileSync(fixture.pie)), { symbols: true });
    const fromFile = readElfFile(fixture.pie, { symbols: true });

    expect(fromBuffer).toEqual(fromFile);
  });

  it('PN_XNUM program header count', () => {
    const copy = path.join(dir, 'xnum');
    fs.copyFileSync(fixture.pie, copy);
    const original = readElfFile(copy);

    // e_phnum becomes PN_XNUM and the real count moves to sh_info of section 0.
    patchFile(copy, 56, encodeUnsigned(0xffff, 2, true));
    patchFile(copy, original.header.shoff + 44, encodeUnsigned(original.programHeaders.length, 4, true));
    const patched = readElfFile(copy);

    expect(patched.header.phnum).toBe(original.programHeaders.length);
    expect(patched.programHeaders).toEqual(original.programHeaders);
    expect(patched.interpreter).toBe(original.interpreter);
  });
});

describe('parseElf on 32-bit x86 programs', () => {
  it('i386 program (-m32)', () => {
    const info = readElfFile(fixture.i386, { symbols: true });

    expect(info.header.ident.class).toBe(32);
    expect(info.header.machine).toBe(EM_386);
    expect(info.header.machine).toBe(readelfHeader(fixture.i386).machine);
    expect(info.interpreter).toBe('/lib/ld-linux.so.2');
    expect(info.dynamic?.needed).toEqual(readelfDynamic(fixture.i386).needed);
    expect(importsOf(info)).toEqual(readelfImports(fixture.i386));
    expect(info.classification.libc).toBe('glibc');
  });

  it('x32 program (-mx32)', () => {
    const info = readElfFile(fixture.x32, { symbols: true });

    expect(info.header.ident.class).toBe(32);
    expect(info.header.machine).toBe(EM_X86_64);
    expect(info.interpreter).toBe('/libx32/ld-linux-x32.so.2');
    expect(info.dynamic?.needed).toEqual(readelfDynamic(fixture.x32).needed);
    expect(importsOf(info)).toEqual(readelfImports(fixture.x32));
    expect(info.classification.libc).toBe('glibc');
  });
});

describe('dynamic symbols without section headers', () => {
  it('node imports match readelf', () => {
    const node = process.execPath;
    const info = readElfFile(node, { symbols: true });

    expect(importsOf(info)).toEqual(readelfImports(node));
  });

  it('node imports survive removed section headers', () => {
    const node = process.execPath;
    const copy = path.join(dir, 'node-no-sections');
    copyWithoutSectionHeaders(node, copy);
    const info = readElfFile(copy, { symbols: true });

    expect(info.header.shoff).toBe(0);
    expect(info.header.shnum).toBe(0);
    expect(importsOf(info)).toEqual(importsOf(readElfFile(node, { symbols: true })));
    fs.rmSync(copy);
  });

  it('GNU hash with empty buckets', () => {
    // GNU ld gives this -no-pie program, which exports nothing, symoffset 1
    // and empty buckets, so DT_GNU_HASH alone counts 1 symbol of 4.
    const hashWords = gnuHashWords(fixture.gnuHashNoPie);
    expect(hashWords.slice(0, 2)).toEqual([1, 1]);
    expect(hashWords.slice(4).every((word) => word === 0)).toBe(true);

    const copy = `${fixture.gnuHashNoPie}-no-sections`;
    copyWithoutSectionHeaders(fixture.gnuHashNoPie, copy);
    const info = readElfFile(copy, { symbols: true });

    expect(importsOf(info)).toEqual(readelfImports(fixture.gnuHashNoPie));
    expect(info.imports?.map((symbol) => symbol.name)).toEqual(['__libc_start_main', 'puts', '__gmon_start__']);
  });

  it('small programs keep all imports', () => {
    for (const file of [fixture.pie, fixture.gnuHashOnly, fixture.sysvHashOnly, fixture.i386, fixture.library]) {
      const copy = `${file}-no-sections`;
      copyWithoutSectionHeaders(file, copy);
      expect(importsOf(readElfFile(copy, { symbols: true })), file).toEqual(readelfImports(file));
    }
  });
});

describe('FileByteSource reads', () => {
  it('parses node without reading it whole', () => {
    const node = process.execPath;
    const source = FileByteSource.open(node);
    try {
      const started = performance.now();
      const info = parseElf(source, { path: node });
      const elapsed = performance.now() - started;

      expect(info.dynamic?.needed.length).toBeGreaterThan(0);
      expect(source.bytesRead).toBeLessThan(Math.max(1024 * 1024, source.size / 20));
      // Typically a few ms; the bound leaves room for a loaded machine.
      expect(elapsed).toBeLessThan(2000);
    } finally {
      source.close();
    }
  });
});

/** Returns the 32-bit words of .gnu.hash from `readelf -x` (x86_64 is little-endian). */
function gnuHashWords(file: string): number[] {
  const output = run('readelf', ['-x', '.gnu.hash', file]);
  const words: number[] = [];
  for (const line of output.split('\n')) {
    const match = /^\s*0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ?){1,4})/.exec(line);
    for (const word of match?.[1]?.trim().split(' ') ?? []) {
      if (word.length === 8) {
        words.push(Buffer.from(word, 'hex').readUInt32LE(0));
      }
    }
  }
  return words;
}

function highestGlibcVersion(names: readonly string[]): string | undefined {
  const versions = names
    .map((name) => /^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$/.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ name: match[0], key: [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] }));
  versions.sort((left, right) => left.key[0]! - right.key[0]! || left.key[1]! - right.key[1]! || left.key[2]! - right.key[2]!);
  return versions.at(-1)?.name;
}

// Rejection of inputs that are not runnable Linux programs for the target:
// the error code, and a message stating what to do.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BufferByteSource } from './byte-source';
import { ELFOSABI_FREEBSD } from './constants';
import { ElfError } from './errors';
import { TARGET_X86_64, assertRunnableProgram, identifyNonElf } from './identify';
import { parseElf, readElfFile } from './read-elf';
import { HELLO_C, buildC, buildCross, buildSharedLib, clangCanLink, compileObject, encodeUnsigned, makeTempDir, patchFile, removeTempDir, run } from './test-support';
import type { TargetArch } from './types';

let dir: string;
let program: string;

beforeAll(() => {
  dir = makeTempDir();
  program = buildC({ source: HELLO_C, out: path.join(dir, 'hello') });
});

afterAll(() => {
  removeTempDir(dir);
});

function bytes(...parts: (number[] | string)[]): Uint8Array {
  const chunks = parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part)));
  return new Uint8Array(Buffer.concat(chunks));
}

/** Parses `data` as if read from `name` and returns the ElfError it throws. */
function rejectBytes(data: Uint8Array, name: string): ElfError {
  return catchElfError(() => parseElf(new BufferByteSource(data), { path: name }));
}

/** Parses `file` and checks it against `target`, returning the ElfError thrown. */
function rejectProgram(file: string, target: TargetArch = TARGET_X86_64): ElfError {
  return catchElfError(() => assertRunnableProgram(readElfFile(file), target, file));
}

function catchElfError(action: () => unknown): ElfError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ElfError);
    return error as ElfError;
  }
  throw new Error('expected an ElfError, but nothing was thrown');
}

describe('identifyNonElf', () => {
  it('returns undefined for ELF', () => {
    expect(identifyNonElf(fs.readFileSync(program))).toBeUndefined();
  });

  it.each([
    ['cffaedfe', [0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01], 'Mach-O 64-bit, arm64'],
    ['feedfacf', [0xfe, 0xed, 0xfa, 0xcf, 0x01, 0x00, 0x00, 0x07], 'Mach-O 64-bit, x86_64'],
    ['cefaedfe', [0xce, 0xfa, 0xed, 0xfe, 0x07, 0x00, 0x00, 0x00], 'Mach-O 32-bit, i386'],
    ['feedface', [0xfe, 0xed, 0xfa, 0xce, 0x00, 0x00, 0x00, 0x12], 'Mach-O 32-bit, ppc'],
  ])('Mach-O magic %s', (_magic, head, kind) => {
    const error = rejectBytes(bytes(head, new Array(24).fill(0)), 'app');

    expect(error.code).toBe('mach-o');
    expect(error.message).toBe(`app is a macOS program (${kind}); Nanos runs Linux ELF programs: build it for Linux, e.g. GOOS=linux GOARCH=amd64 go build, or with a Linux C toolchain`);
  });

  it('universal Mach-O', () => {
    const arch = (cpu: number[]): number[] => [...cpu, ...new Array(16).fill(0)];
    const error = rejectBytes(bytes([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2], arch([0x01, 0, 0, 0x07]), arch([0x01, 0, 0, 0x0c])), 'app');

    expect(error.code).toBe('mach-o');
    expect(error.message).toContain('universal Mach-O, x86_64 + arm64');
  });

  it('Java class file shares the fat magic', () => {
    const error = rejectBytes(bytes([0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x34], new Array(32).fill(0)), 'Main.class');

    expect(error.code).toBe('not-elf');
    expect(error.message).toContain('Main.class is a Java class file');
  });

  it('Windows PE program', () => {
    const head = new Uint8Array(0x100);
    head.set([0x4d, 0x5a]);
    head.set(encodeUnsigned(0x80, 4, true), 0x3c);
    head.set([0x50, 0x45, 0, 0], 0x80);
    const error = rejectBytes(head, 'app.exe');

    expect(error.code).toBe('pe');
    expect(error.message).toContain('app.exe is a Windows program (PE/COFF); Nanos runs Linux ELF programs');
    expect(error.message).toContain('GOOS=linux (not windows)');
  });

  it.skipIf(!fs.existsSync('/usr/bin/ldd'))('ldd shell script', () => {
    const ldd = '/usr/bin/ldd';
    const error = catchElfError(() => readElfFile(ldd));

    expect(error.code).toBe('script');
    expect(error.message).toMatch(/^\/usr\/bin\/ldd is a script for \/bin\/bash \(#!\/bin\/bash\), not an ELF program/);
    expect(error.message).toContain('program /bin/bash with args [ldd]');
  });

  it('env script names the interpreter', () => {
    const error = rejectBytes(bytes('#!/usr/bin/env python3\nprint("hi")\n'), 'src/app.py');

    expect(error.code).toBe('script');
    expect(error.message).toContain('a script for python3 via /usr/bin/env');
    expect(error.message).toContain('program the path of python3 (e.g. /usr/bin/python3) with args [app.py]');
    expect(error.message).toContain("add the script to the image's files");
  });

  it('Nanos disk image', () => {
    const sector = new Uint8Array(512);
    sector.set(encodeUnsigned(0x8000, 8, true), 0x1aa);
    sector.set(encodeUnsigned(0xbc00, 8, true), 0x1b2);
    sector.set(encodeUnsigned(12, 4, true), 0x1ba);
    sector.set([0x80, 0, 0, 0, 0x83], 0x1be);
    sector.set([0x55, 0xaa], 510);
    const error = rejectBytes(sector, 'disk.img');

    expect(error.code).toBe('disk-image');
    expect(error.message).toBe('disk.img is a Nanos disk image (the output of an earlier build), not a program: give the Linux program to put in an image instead');
  });

  it('MBR disk image', () => {
    const sector = new Uint8Array(1024);
    sector.set([0x80, 1, 1, 0, 0x83], 0x1be);
    sector.set([0x55, 0xaa], 510);
    const error = rejectBytes(sector, 'old.img');

    expect(error.code).toBe('disk-image');
    expect(error.message).toContain('old.img is a disk image with an MBR partition table');
  });

  it('GPT disk image', () => {
    const head = new Uint8Array(1024);
    head.set([0x00, 0, 2, 0, 0xee], 0x1be);
    head.set([0x55, 0xaa], 510);
    head.set(Buffer.from('EFI PART', 'latin1'), 512);

    expect(rejectBytes(head, 'gpt.img').message).toContain('GPT partition table');
  });

  it('qcow2 disk image', () => {
    const error = rejectBytes(bytes('QFI\xfb', [0, 0, 0, 3]), 'vm.qcow2');

    expect(error.code).toBe('disk-image');
    expect(error.message).toContain('QEMU qcow2 disk image');
  });

  it('static library archive', () => {
    const object = compileObject({ source: 'int f(void) { return 1; }\n', out: path.join(dir, 'f.o') });
    const archive = path.join(dir, 'libf.a');
    run('ar', ['rcs', archive, object]);
    const error = catchElfError(() => readElfFile(archive));

    expect(error.code).toBe('archive');
    expect(error.message).toContain('is an ar archive (a static library such as libfoo.a)');
  });

  it('Debian package', () => {
    const error = rejectBytes(bytes('!<arch>\ndebian-binary   1700000000  0     0     100644  4         `\n2.0\n'), 'app.deb');

    expect(error.code).toBe('archive');
    expect(error.message).toContain('a Debian package');
  });

  it('compressed files and archives', () => {
    const tarFile = path.join(dir, 'bundle.tar');
    execFileSync('tar', ['cf', tarFile, '-C', dir, 'hello.c']);

    const cases: [Uint8Array, string][] = [
      [new Uint8Array(zlib.gzipSync(Buffer.from('hello'))), 'gzip-compressed'],
      [bytes([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0, 0]), 'xz-compressed'],
      [bytes([0x28, 0xb5, 0x2f, 0xfd], [0, 0, 0, 0]), 'zstd-compressed'],
      [bytes('PK\x03\x04', new Array(26).fill(0)), 'zip archive'],
      [new Uint8Array(fs.readFileSync(tarFile)), 'tar archive'],
    ];
    for (const [data, kind] of cases) {
      const error = rejectBytes(data, 'input');
      expect(error.code, kind).toBe('archive');
      expect(error.message, kind).toContain(kind);
    }
  });

  it('empty file', () => {
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    const error = catchElfError(() => readElfFile(empty));

    expect(error.code).toBe('empty');
    expect(error.message).toBe(`${empty} is empty (0 bytes), not a program: rebuild it or check the path`);
  });

  it('text, WebAssembly and unknown bytes', () => {
    expect(rejectBytes(bytes('just some notes\n'), 'notes.txt').message).toContain('notes.txt is a text file');
    expect(rejectBytes(bytes([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 'app.wasm').message).toContain('WebAssembly module');

    const unknown = rejectBytes(bytes([0x01, 0x02, 0x03, 0x04, 0x00, 0xff]), 'blob');
    expect(unknown.code).toBe('not-elf');
    expect(unknown.message).toContain('it starts with bytes 01 02 03 04, not 7f 45 4c 46');
  });

  it('truncated ELF header', () => {
    const error = rejectBytes(new Uint8Array(fs.readFileSync(program).subarray(0, 20)), 'cut');

    expect(error.code).toBe('truncated');
  });
});

describe('assertRunnableProgram', () => {
  it('accepts x86_64 programs', () => {
    const staticProgram = buildC({ source: HELLO_C, out: path.join(dir, 'static'), flags: ['-static'] });
    const staticPie = buildC({ source: HELLO_C, out: path.join(dir, 'static-pie'), flags: ['-static-pie'] });

    for (const file of [program, staticProgram, staticPie]) {
      expect(() => assertRunnableProgram(readElfFile(file), TARGET_X86_64, file)).not.toThrow();
    }
  });

  it('rejects an object file', () => {
    const object = compileObject({ source: HELLO_C, out: path.join(dir, 'hello.o') });
    const error = rejectProgram(object);

    expect(error.code).toBe('object-file');
    expect(error.message).toBe(`${object} is an object file (ET_REL), not a program: link it into a program, e.g. gcc -o app ${object}`);
  });

  it('rejects a core dump', () => {
    // An ELF64 header with e_type ET_CORE and no tables is enough.
    const header = Buffer.from(fs.readFileSync(program).subarray(0, 64));
    header.writeUInt16LE(4, 16);
    header.writeBigUInt64LE(0n, 32);
    header.writeBigUInt64LE(0n, 40);
    header.writeUInt16LE(0, 56);
    header.writeUInt16LE(0, 60);
    header.writeUInt16LE(0, 62);
    const info = parseElf(new BufferByteSource(header), { path: 'core' });
    const error = catchElfError(() => assertRunnableProgram(info, TARGET_X86_64, 'core'));

    expect(error.code).toBe('core-dump');
    expect(error.message).toContain('core is a core dump (ET_CORE)');
  });

  it.skipIf(!clangCanLink('aarch64-linux-gnu'))('rejects an AArch64 program', () => {
    const arm = buildCross({ target: 'aarch64-linux-gnu', dir, name: 'hello-arm64', source: 'void _start(void) {}\n', flags: ['-static'] });
    const error = rejectProgram(arm);

    expect(error.code).toBe('wrong-machine');
    expect(error.message).toBe(
      `${arm} is ELF64 AArch64 (e_machine 183), but the target is x86_64 (ELF64, e_machine 62): build it for x86_64, e.g. GOARCH=amd64 for Go, or gcc on an x86_64 Linux host`,
    );
  });

  it('rejects an i386 program', () => {
    const i386 = buildC({ source: HELLO_C, out: path.join(dir, 'hello32'), flags: ['-m32'] });
    const error = rejectProgram(i386);

    expect(error.code).toBe('wrong-class');
    expect(error.message).toBe(
      `${i386} is ELF32 i386 (e_machine 3), but the target is x86_64 (ELF64, e_machine 62): rebuild it as an ELF64 x86_64 program (e.g. without -m32)`,
    );
  });

  it('rejects an x32 program', () => {
    const x32 = buildC({ source: HELLO_C, out: path.join(dir, 'hellox32'), flags: ['-mx32'] });
    const error = rejectProgram(x32);

    expect(error.code).toBe('wrong-class');
    expect(error.message).toContain('is ELF32 x86_64 x32 ABI (e_machine 62)');
    expect(error.message).toContain('rebuild it without -mx32');
  });

  it('rejects the other byte order', () => {
    const bigEndianTarget: TargetArch = { ...TARGET_X86_64, byteOrder: 'big', name: 'x86_64 (big-endian)' };
    const error = rejectProgram(program, bigEndianTarget);

    expect(error.code).toBe('wrong-byte-order');
  });

  it('rejects a FreeBSD program', () => {
    const copy = path.join(dir, 'freebsd');
    fs.copyFileSync(program, copy);
    patchFile(copy, 7, [ELFOSABI_FREEBSD]);
    const error = rejectProgram(copy);

    expect(error.code).toBe('wrong-os');
    expect(error.message).toContain('is a FreeBSD program (EI_OSABI 9)');
  });

  it('rejects shared libraries', () => {
    const library = buildSharedLib(path.join(dir, 'lib'), 'libz9.so.1', 'libz9.so.1');
    const libc = run('gcc', ['-print-file-name=libc.so.6']).trim();

    const error = rejectProgram(library);
    expect(error.code).toBe('not-a-program');
    expect(error.message).toContain('is a shared library (soname libz9.so.1), not a program');

    expect(rejectProgram(libc).message).toContain('(soname libc.so.6)');
  });
});

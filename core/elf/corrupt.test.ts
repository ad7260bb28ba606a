// parseElf on damaged files: each case patches one field of a real program
// and expects an ElfError with a message naming that field.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BufferByteSource } from './byte-source';
import { DT_NEEDED, DT_STRSZ, DT_STRTAB, PT_DYNAMIC, PT_INTERP } from './constants';
import { ElfError } from './errors';
import { parseElf, readElfFile } from './read-elf';
import { HELLO_C, buildC, encodeUnsigned, makeTempDir, patchFile, removeTempDir } from './test-support';
import type { ElfInfo } from './types';

let dir: string;
let program: string;
let program32: string;
let original: ElfInfo;

beforeAll(() => {
  dir = makeTempDir();
  program = buildC({ source: HELLO_C, out: path.join(dir, 'hello') });
  program32 = buildC({ source: HELLO_C, out: path.join(dir, 'hello32'), flags: ['-m32'] });
  original = readElfFile(program);
});

afterAll(() => {
  removeTempDir(dir);
});

/** Copies the program, applies `patch` to the copy and returns the ElfError parsing it throws. */
function errorAfterPatch(name: string, patch: (file: string) => void, source = program): ElfError {
  const copy = path.join(dir, name);
  fs.copyFileSync(source, copy);
  patch(copy);
  return expectElfError(() => readElfFile(copy, { symbols: true }));
}

function expectElfError(action: () => unknown): ElfError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ElfError);
    return error as ElfError;
  }
  throw new Error('expected an ElfError, but parsing succeeded');
}

/** File offset of the value (d_val) of the first dynamic entry with `tag`. */
function dynamicValueOffset(info: ElfInfo, file: string, tag: number): number {
  const segment = info.programHeaders.find((header) => header.type === PT_DYNAMIC);
  if (segment === undefined) {
    throw new Error('fixture has no PT_DYNAMIC');
  }
  const bytes = fs.readFileSync(file).subarray(segment.offset, segment.offset + segment.filesz);
  for (let at = 0; at + 16 <= bytes.length; at += 16) {
    if (bytes.readBigInt64LE(at) === BigInt(tag)) {
      return segment.offset + at + 8;
    }
  }
  throw new Error(`fixture has no dynamic tag ${tag}`);
}

describe('parseElf rejects damaged files', () => {
  it('empty input', () => {
    const error = expectElfError(() => parseElf(new BufferByteSource(new Uint8Array(0))));
    expect(error.code).toBe('empty');
  });

  it('truncated ELF magic', () => {
    const error = expectElfError(() => parseElf(new BufferByteSource(Uint8Array.from([0x7f, 0x45, 0x4c]))));
    expect(error.code).toBe('truncated');
  });

  it('truncated file header', () => {
    const head = fs.readFileSync(program).subarray(0, 40);
    const error = expectElfError(() => parseElf(new BufferByteSource(head), { path: 'cut' }));
    expect(error.code).toBe('truncated');
    expect(error.message).toContain('cut is truncated');
    expect(error.message).toContain('64');
  });

  it('invalid EI_CLASS', () => {
    const error = errorAfterPatch('bad-class', (file) => patchFile(file, 4, [3]));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('EI_CLASS 3');
  });

  it('invalid EI_DATA', () => {
    const error = errorAfterPatch('bad-data', (file) => patchFile(file, 5, [0]));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('EI_DATA 0');
  });

  it('e_phoff past the end', () => {
    const error = errorAfterPatch('bad-phoff', (file) => patchFile(file, 32, encodeUnsigned(fs.statSync(file).size + 100, 8, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('program header table');
  });

  it('e_phnum past the end', () => {
    const error = errorAfterPatch('bad-phnum', (file) => patchFile(file, 56, encodeUnsigned(0xfffe, 2, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('e_phnum 65534');
  });

  it('ELF32 e_phoff past the end', () => {
    const error = errorAfterPatch('bad-phoff32', (file) => patchFile(file, 28, encodeUnsigned(0xfffffff0, 4, true)), program32);
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('program header table');
  });

  it('64-bit field of 2^53 or more', () => {
    const error = errorAfterPatch('huge-phoff', (file) => patchFile(file, 32, encodeUnsigned(1n << 60n, 8, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('e_phoff is 0x1000000000000000');
  });

  it('e_phentsize too small', () => {
    const error = errorAfterPatch('bad-phentsize', (file) => patchFile(file, 54, encodeUnsigned(20, 2, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('e_phentsize is 20');
  });

  it('PT_INTERP past the end', () => {
    const index = original.programHeaders.findIndex((header) => header.type === PT_INTERP);
    const at = original.header.phoff + index * original.header.phentsize + 8;
    const error = errorAfterPatch('bad-interp', (file) => patchFile(file, at, encodeUnsigned(fs.statSync(file).size - 4, 8, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('PT_INTERP');
  });

  it('DT_NEEDED outside DT_STRSZ', () => {
    const error = errorAfterPatch('bad-needed', (file) => patchFile(file, dynamicValueOffset(original, file, DT_NEEDED), encodeUnsigned(0x7fffff, 8, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('DT_NEEDED string offset 8388607 is outside the dynamic string table');
  });

  it('DT_STRSZ cuts strings short', () => {
    const error = errorAfterPatch('bad-strsz', (file) => patchFile(file, dynamicValueOffset(original, file, DT_STRSZ), encodeUnsigned(1, 8, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/DT_NEEDED string (offset \d+ is outside|at offset \d+ is not NUL-terminated)/);
  });

  it('DT_STRTAB outside every PT_LOAD', () => {
    const error = errorAfterPatch('bad-strtab', (file) => patchFile(file, dynamicValueOffset(original, file, DT_STRTAB), encodeUnsigned(0x7fff0000, 8, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('DT_STRTAB address 0x7fff0000 is not inside the file image of any PT_LOAD segment');
  });

  it('PT_DYNAMIC past the end', () => {
    const index = original.programHeaders.findIndex((header) => header.type === PT_DYNAMIC);
    const at = original.header.phoff + index * original.header.phentsize + 32;
    const error = errorAfterPatch('bad-dynamic', (file) => patchFile(file, at, encodeUnsigned(0x10000000, 8, true)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('PT_DYNAMIC');
  });

  it('file cut after the program headers', () => {
    const bytes = fs.readFileSync(program).subarray(0, 4096);
    const error = expectElfError(() => parseElf(new BufferByteSource(bytes), { path: 'cut', symbols: true }));
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/^cut is corrupt: /);
  });
});

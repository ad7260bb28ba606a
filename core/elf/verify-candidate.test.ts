// Loader acceptance of library candidates. Each bad candidate is built as a
// file and checked with verifyGlibcCandidate and verifyMuslCandidate. The
// verdict is compared with the result of dlopen() on the same file in the
// host's real loaders: glibc's ld.so, and musl's when musl-gcc is installed.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EM_X86_64, PT_LOAD } from './constants';
import { readElfFile } from './read-elf';
import {
  HELLO_C,
  buildC,
  buildCross,
  buildSharedLib,
  clangCanLink,
  compileObject,
  encodeUnsigned,
  hasCommand,
  makeTempDir,
  patchFile,
  removeTempDir,
  run,
} from './test-support';
import type { CandidateVerdict, RequesterArch } from './verify-candidate';
import { verifyCandidateFile } from './verify-candidate';

const X86_64: RequesterArch = { class: 64, byteOrder: 'little', machine: EM_X86_64, flags: 0 };
const LIBRARY_C = 'int f(void) { return 1; }\n';
const DLOPEN_C = [
  '#include <dlfcn.h>',
  '#include <stdio.h>',
  'int main(int argc, char **argv) {',
  '  void *handle = dlopen(argv[1], RTLD_NOW);',
  '  if (handle == NULL) { printf("%s\\n", dlerror()); return 1; }',
  '  printf("ok\\n");',
  '  return 0;',
  '}',
  '',
].join('\n');

const hasMusl = hasCommand('musl-gcc') && fs.existsSync('/lib/ld-musl-x86_64.so.1');
const canBuildArm = clangCanLink('aarch64-linux-gnu');

let dir: string;
let goodLibrary: string;
let glibcProbe: string;
let muslProbe: string | undefined;

beforeAll(() => {
  dir = makeTempDir();
  goodLibrary = buildSharedLib(path.join(dir, 'good'), 'libw.so', 'libw.so', [], LIBRARY_C);
  glibcProbe = buildC({ source: DLOPEN_C, out: path.join(dir, 'dlopen-glibc'), flags: ['-ldl'] });
  if (hasMusl) {
    muslProbe = buildC({ source: DLOPEN_C, out: path.join(dir, 'dlopen-musl'), compiler: 'musl-gcc' });
  }
});

afterAll(() => {
  removeTempDir(dir);
});

/** Copies the good library to `name` and applies byte patches. */
function patchedLibrary(name: string, patches: [number, number[]][]): string {
  const file = path.join(dir, name);
  fs.copyFileSync(goodLibrary, file);
  for (const [offset, bytes] of patches) {
    patchFile(file, offset, bytes);
  }
  return file;
}

/** Returns the real loader's dlopen result for `file`: the dlerror text, or "ok". */
function dlopenMessage(probe: string, file: string): string {
  const result = spawnSync(probe, [file], { encoding: 'utf8' });
  if (result.signal !== null) {
    return `killed by ${result.signal}`;
  }
  return result.stdout.trim();
}

/**
 * Maps glibc's dlopen result to a verdict. dlopen takes a path, so a skipped
 * candidate shows as "cannot open shared object file" (wrong machine) or
 * "wrong ELF class" (wrong class): glibc had nothing else to try.
 */
function glibcOracle(file: string): CandidateVerdict {
  const message = dlopenMessage(glibcProbe, file);
  if (message === 'ok') {
    return { verdict: 'accept' };
  }
  const reason = message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
  if (reason.startsWith('wrong ELF class') || reason.startsWith('cannot open shared object file')) {
    return { verdict: 'skip', reason };
  }
  return { verdict: 'fatal', reason };
}

interface Case {
  name: string;
  build: () => string;
  glibc: CandidateVerdict;
  /** Expected musl verdict; only 'accept' or 'fatal', because musl skips nothing it can open. */
  musl: 'accept' | 'fatal';
  needsArm?: boolean;
  /** False when musl's dlopen result is not comparable with the verdict. */
  muslOracle?: boolean;
}

const CASES: Case[] = [
  {
    name: 'empty file',
    build: () => {
      const file = path.join(dir, 'empty.so');
      fs.writeFileSync(file, '');
      return file;
    },
    glibc: { verdict: 'fatal', reason: 'file too short' },
    musl: 'fatal',
  },
  {
    name: 'short text stub',
    build: () => {
      const file = path.join(dir, 'stub.so');
      fs.writeFileSync(file, 'not a library\n');
      return file;
    },
    glibc: { verdict: 'fatal', reason: 'file too short' },
    musl: 'fatal',
  },
  {
    name: 'linker script',
    build: () => {
      const file = path.join(dir, 'script.so');
      fs.writeFileSync(file, '/* GNU ld script */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /lib/x86_64-linux-gnu/libc.so.6 )\n');
      return file;
    },
    glibc: { verdict: 'fatal', reason: 'invalid ELF header' },
    musl: 'fatal',
  },
  {
    name: 'object file',
    build: () => compileObject({ source: LIBRARY_C, out: path.join(dir, 'object.so') }),
    glibc: { verdict: 'fatal', reason: 'only ET_DYN and ET_EXEC can be loaded' },
    musl: 'fatal',
  },
  {
    name: 'EI_DATA big-endian',
    build: () => patchedLibrary('data.so', [[5, [2]]]),
    glibc: { verdict: 'fatal', reason: 'ELF file data encoding not little-endian' },
    musl: 'accept',
  },
  {
    name: 'EI_VERSION 2',
    build: () => patchedLibrary('ident-version.so', [[6, [2]]]),
    glibc: { verdict: 'fatal', reason: 'ELF file version ident does not match current one' },
    musl: 'accept',
  },
  {
    name: 'EI_OSABI FreeBSD',
    build: () => patchedLibrary('osabi9.so', [[7, [9]]]),
    glibc: { verdict: 'fatal', reason: 'ELF file OS ABI invalid' },
    musl: 'accept',
  },
  {
    name: 'EI_OSABI GNU',
    build: () => patchedLibrary('osabi3.so', [[7, [3]]]),
    glibc: { verdict: 'accept' },
    musl: 'accept',
  },
  {
    name: 'GNU ABI version 3',
    build: () => patchedLibrary('abiversion3.so', [[7, [3]], [8, [3]]]),
    glibc: { verdict: 'accept' },
    musl: 'accept',
  },
  {
    name: 'GNU ABI version 4',
    build: () => patchedLibrary('abiversion4.so', [[7, [3]], [8, [4]]]),
    glibc: { verdict: 'fatal', reason: 'ELF file ABI version invalid' },
    musl: 'accept',
  },
  {
    name: 'SYSV ABI version 1',
    build: () => patchedLibrary('abiversion-sysv.so', [[8, [1]]]),
    glibc: { verdict: 'fatal', reason: 'ELF file ABI version invalid' },
    musl: 'accept',
  },
  {
    name: 'nonzero e_ident padding',
    build: () => patchedLibrary('padding.so', [[12, [1]]]),
    glibc: { verdict: 'fatal', reason: 'nonzero padding in e_ident' },
    musl: 'accept',
  },
  {
    name: 'e_version 2',
    build: () => patchedLibrary('version.so', [[20, encodeUnsigned(2, 4, true)]]),
    glibc: { verdict: 'fatal', reason: 'ELF file version does not match current one' },
    musl: 'accept',
  },
  {
    name: 'e_phentsize 64',
    build: () => patchedLibrary('phentsize.so', [[54, encodeUnsigned(64, 2, true)]]),
    glibc: { verdict: 'fatal', reason: "ELF file's phentsize not the expected size" },
    musl: 'fatal',
  },
  {
    name: 'program headers past the end',
    build: () => patchedLibrary('phoff.so', [[32, encodeUnsigned(0x100000, 8, true)]]),
    glibc: { verdict: 'fatal', reason: 'cannot read file data' },
    musl: 'fatal',
  },
  {
    name: 'no PT_LOAD',
    build: () => {
      const info = readElfFile(goodLibrary);
      const patches: [number, number[]][] = [];
      info.programHeaders.forEach((header, index) => {
        if (header.type === PT_LOAD) {
          patches.push([info.header.phoff + index * info.header.phentsize, encodeUnsigned(0, 4, true)]);
        }
      });
      return patchedLibrary('no-load.so', patches);
    },
    glibc: { verdict: 'fatal', reason: 'object file has no loadable segments' },
    musl: 'fatal',
  },
  {
    name: 'debug-info file',
    build: () => {
      const file = path.join(dir, 'debug.so');
      run('objcopy', ['--only-keep-debug', goodLibrary, file]);
      return file;
    },
    glibc: { verdict: 'fatal', reason: 'object file has no dynamic section' },
    musl: 'fatal',
  },
  {
    name: 'PIE program',
    build: () => buildC({ source: HELLO_C, out: path.join(dir, 'pie.so'), flags: ['-fPIE', '-pie'] }),
    glibc: { verdict: 'fatal', reason: 'cannot dynamically load position-independent executable' },
    musl: 'accept',
  },
  {
    name: 'non-PIE program',
    build: () => buildC({ source: HELLO_C, out: path.join(dir, 'exec.so'), flags: ['-fno-PIE', '-no-pie'] }),
    glibc: { verdict: 'fatal', reason: 'cannot dynamically load executable' },
    // musl maps an ET_EXEC at its link address when that range is free.
    musl: 'accept',
  },
  {
    name: 'i386 library',
    build: () => buildSharedLib(path.join(dir, 'i386'), 'libw.so', 'libw.so', ['-m32'], LIBRARY_C),
    glibc: { verdict: 'skip', reason: 'wrong ELF class: ELFCLASS32' },
    musl: 'fatal',
  },
  {
    name: 'x32 library',
    build: () => buildSharedLib(path.join(dir, 'x32'), 'libw.so', 'libw.so', ['-mx32'], LIBRARY_C),
    glibc: { verdict: 'skip', reason: 'wrong ELF class: ELFCLASS32' },
    musl: 'fatal',
  },
  {
    name: 'AArch64 library',
    build: () => {
      const armDir = path.join(dir, 'arm');
      fs.mkdirSync(armDir, { recursive: true });
      return buildCross({ target: 'aarch64-linux-gnu', dir: armDir, name: 'libw.so', source: LIBRARY_C, shared: true, flags: ['-Wl,-soname,libw.so'] });
    },
    glibc: { verdict: 'skip', reason: 'wrong machine: AArch64 (e_machine 183), the requester is x86_64' },
    musl: 'fatal',
    needsArm: true,
    // This stub has no relocations, so musl's dlopen "succeeds", but no code
    // in it can run on x86_64; a real library fails at its first relocation.
    muslOracle: false,
  },
  {
    name: 'good library',
    build: () => goodLibrary,
    glibc: { verdict: 'accept' },
    musl: 'accept',
  },
];

describe('verifyGlibcCandidate', () => {
  for (const testCase of CASES) {
    it.skipIf(testCase.needsArm === true && !canBuildArm)(testCase.name, () => {
      const file = testCase.build();
      const verdict = verifyCandidateFile(file, X86_64, 'glibc');

      expect(verdict).toEqual(testCase.glibc);

      // The host's ld.so must agree; for a skip only the kind is comparable.
      const oracle = glibcOracle(file);
      expect(oracle.verdict).toBe(verdict.verdict);
      if (verdict.verdict === 'fatal' && oracle.verdict === 'fatal') {
        expect(oracle.reason).toBe(verdict.reason);
      }
    });
  }
});

describe.skipIf(!hasMusl)('verifyMuslCandidate', () => {
  for (const testCase of CASES) {
    it.skipIf(testCase.needsArm === true && !canBuildArm)(testCase.name, () => {
      const file = testCase.build();
      const verdict = verifyCandidateFile(file, X86_64, 'musl');

      expect(verdict.verdict).toBe(testCase.musl);
      if (verdict.verdict === 'fatal') {
        expect(verdict.reason).toMatch(/^(Exec format error: |wrong machine: |loading fails: )/);
      }

      // musl's own dlopen must agree on accept or fail.
      if (testCase.muslOracle !== false) {
        const message = dlopenMessage(muslProbe ?? '', file);
        expect(message === 'ok' ? 'accept' : 'fatal', message).toBe(testCase.musl);
      }
    });
  }
});

describe('glibc options', () => {
  it('x86 ISA level above the CPU', () => {
    // GNU ld's -z x86-64-v3 marks GNU_PROPERTY_X86_ISA_1_NEEDED with the v3 bit (4).
    const library = buildSharedLib(path.join(dir, 'v3'), 'libw.so', 'libw.so', ['-Wl,-z,x86-64-v3'], LIBRARY_C);
    expect(readElfFile(library).notes.x86IsaNeeded).toBe(4);

    expect(verifyCandidateFile(library, X86_64, 'glibc', { x86IsaSupported: 1 | 2 })).toEqual({ verdict: 'fatal', reason: 'CPU ISA level is lower than required' });
    expect(verifyCandidateFile(library, X86_64, 'glibc', { x86IsaSupported: 1 | 2 | 4 })).toEqual({ verdict: 'accept' });
    expect(verifyCandidateFile(library, X86_64, 'glibc')).toEqual({ verdict: 'accept' });
  });

  it('ABI version limit option', () => {
    const file = patchedLibrary('abiversion-limit.so', [[7, [3]], [8, [3]]]);

    expect(verifyCandidateFile(file, X86_64, 'glibc', { abiVersionLimit: 3 })).toEqual({ verdict: 'fatal', reason: 'ELF file ABI version invalid' });
  });

  it('ELF32 requester skips ELF64', () => {
    const i386: RequesterArch = { class: 32, byteOrder: 'little', machine: 3, flags: 0 };

    expect(verifyCandidateFile(goodLibrary, i386, 'glibc')).toEqual({ verdict: 'skip', reason: 'wrong ELF class: ELFCLASS64' });
  });
});

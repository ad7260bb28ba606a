// glibc's search rules, each on real files built by gcc, with the result
// Debian 12's ld.so (glibc 2.36) gives for the same files.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveProgram } from './resolver';
import type { ResolveOptions, ResolveResult } from './types';
import { hasCommand, Lab, retagDynamicEntry, RPATH, RUNPATH } from './test-support/lab';

const lab = Lab.create();
const E = lab.dir;
afterAll(() => lab.remove());

function resolve(program: string, options: ResolveOptions = {}): ResolveResult {
  return resolveProgram(program, { isaLevel: 1, ...options });
}

/** name => path of every library found, the usual libc ones included. */
function found(result: ResolveResult): Record<string, string> {
  return Object.fromEntries(result.libraries.map((library) => [library.name, library.path]));
}

function missingNames(result: ResolveResult): string[] {
  return result.missing.map((entry) => entry.name);
}

describe('RPATH, RUNPATH and LD_LIBRARY_PATH order', () => {
  lab.lib('a/libdep.so', 'libdep.so');
  lab.lib('b/libdep.so', 'libdep.so');
  const withRpath = lab.exe('rp', { needs: [`${E}/a/libdep.so`], flags: [`${RPATH}${E}/a`] });
  const withRunpath = lab.exe('run', { needs: [`${E}/a/libdep.so`], flags: [`${RUNPATH}${E}/a`] });
  const withoutPath = lab.exe('nopath', { needs: [`${E}/a/libdep.so`] });

  it('RPATH beats LD_LIBRARY_PATH', () => {
    expect(found(resolve(withRpath))['libdep.so']).toBe(`${E}/a/libdep.so`);
    expect(found(resolve(withRpath, { libraryPath: `${E}/b` }))['libdep.so']).toBe(`${E}/a/libdep.so`);
  });

  it('LD_LIBRARY_PATH beats RUNPATH', () => {
    expect(found(resolve(withRunpath))['libdep.so']).toBe(`${E}/a/libdep.so`);
    expect(found(resolve(withRunpath, { libraryPath: `${E}/b` }))['libdep.so']).toBe(`${E}/b/libdep.so`);
  });

  it('no path at all is a miss until LD_LIBRARY_PATH names the folder', () => {
    const result = resolve(withoutPath);
    expect(missingNames(result)).toEqual(['libdep.so']);
    expect(result.ok).toBe(false);
    expect(found(resolve(withoutPath, { libraryPath: `${E}/b` }))['libdep.so']).toBe(`${E}/b/libdep.so`);
  });

  it('LD_LIBRARY_PATH comes from the image env', () => {
    expect(found(resolve(withoutPath, { env: { LD_LIBRARY_PATH: `${E}/b` } }))['libdep.so']).toBe(`${E}/b/libdep.so`);
  });

  it('both RPATH and RUNPATH: RPATH is ignored', () => {
    lab.lib('r/libx.so', 'libx.so');
    lab.lib('u/libx.so', 'libx.so');
    lab.lib('l/libx.so', 'libx.so');
    const both = lab.exe('both', { needs: [`${E}/r/libx.so`], flags: [`${RPATH}${E}/r`, `-Wl,-soname,${E}/u`] });
    retagDynamicEntry(both, 14, 29);

    expect(found(resolve(both))['libx.so']).toBe(`${E}/u/libx.so`);
    expect(found(resolve(both, { libraryPath: `${E}/l` }))['libx.so']).toBe(`${E}/l/libx.so`);
  });
});

describe('inherited RPATH, non-inherited RUNPATH', () => {
  lab.lib('leaf/libleaf.so', 'libleaf.so');
  lab.lib('mid/libmid.so', 'libmid.so', { needs: [`${E}/leaf/libleaf.so`] });
  const linkMid = [`${E}/mid/libmid.so`];

  it('program RPATH serves grandchildren', () => {
    const exe = lab.exe('f04', { needs: linkMid, flags: [`${RPATH}${E}/mid:${E}/leaf`] });
    expect(found(resolve(exe))['libleaf.so']).toBe(`${E}/leaf/libleaf.so`);
  });

  it('program RUNPATH does not serve grandchildren', () => {
    const exe = lab.exe('f05', { needs: linkMid, flags: [`${RUNPATH}${E}/mid:${E}/leaf`] });
    const result = resolve(exe);
    expect(missingNames(result)).toEqual(['libleaf.so']);
    expect(result.missing[0]?.chain).toEqual([`${E}/f05`, `${E}/mid/libmid.so`]);
  });

  it('an intermediate RUNPATH blocks the inherited RPATH for its children', () => {
    lab.lib('m1/libm1.so', 'libm1.so', { needs: [`${E}/leaf/libleaf.so`], flags: [`${RUNPATH}${E}/nonexistent`] });
    const exe = lab.exe('f06', { needs: [`${E}/m1/libm1.so`], flags: [`${RPATH}${E}/m1:${E}/leaf`] });
    expect(missingNames(resolve(exe))).toEqual(['libleaf.so']);
  });

  it('the RPATH chain goes on past a RUNPATH holder', () => {
    lab.lib('m3/libm3.so', 'libm3.so', { needs: [`${E}/leaf/libleaf.so`] });
    lab.lib('m2/libm2.so', 'libm2.so', { needs: [`${E}/m3/libm3.so`], flags: [`${RUNPATH}${E}/m3`, `-Wl,-rpath-link,${E}/leaf`] });
    const exe = lab.exe('f07', { needs: [`${E}/m2/libm2.so`], flags: [`${RPATH}${E}/m2:${E}/leaf`, `-Wl,-rpath-link,${E}/m3:${E}/leaf`] });
    expect(found(resolve(exe))['libleaf.so']).toBe(`${E}/leaf/libleaf.so`);
  });

  it("a library's RPATH serves its grandchildren", () => {
    lab.lib('m4/libm4.so', 'libm4.so', { needs: [`${E}/m3/libm3.so`], flags: [`${RPATH}${E}/m3:${E}/leaf`] });
    const exe = lab.exe('f08', { needs: [`${E}/m4/libm4.so`], flags: [`${RUNPATH}${E}/m4`, `-Wl,-rpath-link,${E}/m3:${E}/leaf`] });
    const result = resolve(exe);
    expect(found(result)['libleaf.so']).toBe(`${E}/leaf/libleaf.so`);
    expect(result.libraries.find((library) => library.name === 'libleaf.so')?.foundBy).toEqual({ rule: 'rpath', owner: `${E}/m4/libm4.so` });
  });

  it('RUNPATH build of a two-level program reports the grandchild with its requester', () => {
    lab.lib('b07/lib/libb.so', 'libb.so');
    lab.lib('b07/lib/liba.so', 'liba.so', { needs: [`${E}/b07/lib/libb.so`] });
    const runpathBuild = lab.exe('b07/run', { needs: [`${E}/b07/lib/liba.so`], flags: [`${RUNPATH}$ORIGIN/lib`, `-Wl,-rpath-link,${E}/b07/lib`] });
    const rpathBuild = lab.exe('b07/rp', { needs: [`${E}/b07/lib/liba.so`], flags: [`${RPATH}$ORIGIN/lib`, `-Wl,-rpath-link,${E}/b07/lib`] });

    const failing = resolve(runpathBuild);
    expect(missingNames(failing)).toEqual(['libb.so']);
    expect(failing.missing[0]?.chain.at(-1)).toBe(`${E}/b07/lib/liba.so`);
    expect(found(resolve(rpathBuild))['libb.so']).toBe(`${E}/b07/lib/libb.so`);
  });
});

describe('$ORIGIN and other tokens', () => {
  lab.lib('app/lib/libo.so', 'libo.so');
  const exe = lab.exe('app/bin/exe', { needs: [`${E}/app/lib/libo.so`], flags: [`${RUNPATH}$ORIGIN/../lib`] });
  const braced = lab.exe('app/bin/exe-braced', { needs: [`${E}/app/lib/libo.so`], flags: [`${RUNPATH}\${ORIGIN}/../lib`] });

  it('$ORIGIN and ${ORIGIN} are the program folder', () => {
    expect(found(resolve(exe))['libo.so']).toBe(`${E}/app/bin/../lib/libo.so`);
    expect(found(resolve(braced))['libo.so']).toBe(`${E}/app/bin/../lib/libo.so`);
  });

  it("a symlinked program's $ORIGIN is its real folder", () => {
    const link = lab.symlink(`${E}/app/bin/exe`, 'other/exe_link');
    expect(found(resolve(link))['libo.so']).toBe(`${E}/app/bin/../lib/libo.so`);
  });

  it("a symlinked library's $ORIGIN is the folder it was found in", () => {
    lab.lib('B/libdepA.so', 'libdepA.so');
    lab.lib('B/liblnk.so.1.0', 'liblnk.so.1', { needs: [`${E}/B/libdepA.so`], flags: [`${RUNPATH}$ORIGIN`] });
    lab.symlink('../B/liblnk.so.1.0', 'C/liblnk.so.1');
    const program = lab.exe('f11', { needs: [`${E}/B/liblnk.so.1.0`], flags: [`${RUNPATH}${E}/C`] });

    expect(missingNames(resolve(program))).toEqual(['libdepA.so']);
    lab.copy(`${E}/B/libdepA.so`, 'C/libdepA.so');
    expect(found(resolve(program))['libdepA.so']).toBe(`${E}/C/libdepA.so`);
  });

  it('$LIB is the loader\'s value, lib/x86_64-linux-gnu on Debian', () => {
    lab.lib('L/lib/x86_64-linux-gnu/libL.so', 'libL.so');
    lab.lib('L/lib64/libL.so', 'libL.so');
    const program = lab.exe('f12-lib', { needs: [`${E}/L/lib64/libL.so`], flags: [`${RUNPATH}${E}/L/$LIB`] });
    expect(found(resolve(program))['libL.so']).toBe(`${E}/L/lib/x86_64-linux-gnu/libL.so`);
  });

  it('$PLATFORM follows the platform option and warns', () => {
    lab.lib('P/x86_64/libP.so', 'libP.so');
    const program = lab.exe('f12-platform', { needs: [`${E}/P/x86_64/libP.so`], flags: [`${RUNPATH}${E}/P/$PLATFORM`] });

    const result = resolve(program);
    expect(found(result)['libP.so']).toBe(`${E}/P/x86_64/libP.so`);
    expect(result.diagnostics.some((diagnostic) => diagnostic.level === 'warning' && diagnostic.message.includes('$PLATFORM'))).toBe(true);
    expect(missingNames(resolve(program, { platform: 'haswell' }))).toEqual(['libP.so']);
  });

  it('an unknown $TOKEN is searched literally and reported as an error', () => {
    lab.lib('U/$FOO/libU.so', 'libU.so');
    const program = lab.exe('f12-unknown', { needs: [`${E}/U/$FOO/libU.so`], flags: [`${RUNPATH}${E}/U/$FOO`] });
    const result = resolve(program);
    expect(found(result)['libU.so']).toBe(`${E}/U/$FOO/libU.so`);
    expect(result.ok).toBe(false);
    expect(result.diagnostics.find((diagnostic) => diagnostic.level === 'error')?.message).toContain('$FOO');
  });

  it('a token in DT_NEEDED is expanded and opened as a path', () => {
    lab.lib('app3/lib/libo.so', '$ORIGIN/../lib/libo.so');
    const program = lab.exe('app3/bin/exe', { needs: [`${E}/app3/lib/libo.so`] });
    expect(found(resolve(program))['$ORIGIN/../lib/libo.so']).toBe(`${E}/app3/bin/../lib/libo.so`);
  });
});

describe('load order and reuse', () => {
  it('the first requester decides, even when a later one could find it', () => {
    lab.lib('p2/libx.so', 'libx.so');
    lab.lib('f13/libA.so', 'libA.so', { needs: [`${E}/p2/libx.so`] });
    lab.lib('f13/libB.so', 'libB.so', { needs: [`${E}/p2/libx.so`], flags: [`${RPATH}${E}/p2`] });
    const program = lab.exe('f13/exe', { needs: [`${E}/f13/libA.so`, `${E}/f13/libB.so`], flags: [`${RUNPATH}${E}/f13`] });

    const result = resolve(program);
    expect(missingNames(result)).toEqual(['libx.so']);
    expect(result.missing[0]?.chain).toEqual([`${E}/f13/exe`, `${E}/f13/libA.so`]);
    expect(found(result)['libx.so']).toBe(`${E}/p2/libx.so`);

    const swapped = lab.exe('f13/exe-swapped', { needs: [`${E}/f13/libB.so`, `${E}/f13/libA.so`], flags: [`${RUNPATH}${E}/f13`] });
    const swappedResult = resolve(swapped);
    expect(swappedResult.missing).toEqual([]);
    expect(found(swappedResult)['libx.so']).toBe(`${E}/p2/libx.so`);
  });

  it('breadth-first order picks the library of the nearer requester', () => {
    lab.lib('p1/libx.so', 'libx.so');
    lab.lib('f14/C/libC.so', 'libC.so', { needs: [`${E}/p1/libx.so`] });
    lab.lib('f14/libA.so', 'libA.so', { needs: [`${E}/f14/C/libC.so`], flags: [`${RPATH}${E}/f14/C:${E}/p1`] });
    lab.lib('f14/libB.so', 'libB.so', { needs: [`${E}/p2/libx.so`], flags: [`${RPATH}${E}/p2`] });
    const program = lab.exe('f14/exe', { needs: [`${E}/f14/libA.so`, `${E}/f14/libB.so`], flags: [`${RUNPATH}${E}/f14`, `-Wl,-rpath-link,${E}/f14/C:${E}/p1`] });
    expect(found(resolve(program))['libx.so']).toBe(`${E}/p2/libx.so`);
  });

  it('a name loaded once is reused by later requesters', () => {
    lab.lib('f15/libC.so', 'libC.so', { needs: [`${E}/p1/libx.so`], flags: [`${RPATH}${E}/p1`] });
    lab.lib('f15/libB.so', 'libB.so', { needs: [`${E}/p2/libx.so`], flags: [`${RPATH}${E}/p2`] });
    const program = lab.exe('f15/exe', { needs: [`${E}/f15/libC.so`, `${E}/f15/libB.so`], flags: [`${RUNPATH}${E}/f15`] });
    const result = resolve(program);
    const libx = result.libraries.filter((library) => library.name === 'libx.so');
    expect(libx.map((library) => library.path)).toEqual([`${E}/p1/libx.so`]);
    expect(libx[0]?.neededBy).toEqual([`${E}/f15/libC.so`, `${E}/f15/libB.so`]);
  });

  it('a loaded soname satisfies a later request for that name', () => {
    lab.lib('d1/libA1.so', 'libA1.so');
    lab.lib('d2/libB1.so', 'libB1.so');
    const program = lab.exe('f16', { needs: [`${E}/d1/libA1.so`, `${E}/d2/libB1.so`], flags: [`${RUNPATH}${E}/d1:${E}/d2`] });
    lab.lib('d1/libA1.so', 'libB1.so');

    const paths = resolve(program).libraries.map((library) => library.path);
    expect(paths).toContain(`${E}/d1/libA1.so`);
    expect(paths).not.toContain(`${E}/d2/libB1.so`);
  });

  it('an absolute DT_NEEDED serves later requests for its soname', () => {
    lab.lib('stub/libabs.so.1', undefined);
    lab.lib('other/libabs.so.1', 'libabs.so.1');
    lab.lib('f17/libneedsabs.so', 'libneedsabs.so', { needs: [`${E}/other/libabs.so.1`], flags: [`${RPATH}${E}/other`] });
    const program = lab.exe('f17/exe', { needs: [`${E}/stub/libabs.so.1`, `${E}/f17/libneedsabs.so`], flags: [`${RUNPATH}${E}/f17`] });
    lab.lib('stub/libabs.so.1', 'libabs.so.1');

    const result = resolve(program);
    const abs = result.libraries.filter((library) => library.soname === 'libabs.so.1');
    expect(abs.map((library) => library.path)).toEqual([`${E}/stub/libabs.so.1`]);
  });

  it('two names for one file give one object', () => {
    lab.lib('r/libr-a.so', 'libr-a.so');
    lab.lib('r/libr-b.so', 'libr-b.so');
    const program = lab.exe('f18', { needs: [`${E}/r/libr-a.so`, `${E}/r/libr-b.so`], flags: [`${RPATH}${E}/r`] });
    lab.lib('r/libr-a.so', 'libr.so.9');
    fs.rmSync(`${E}/r/libr-b.so`);
    lab.symlink('libr-a.so', 'r/libr-b.so');

    const result = resolve(program);
    const fromR = result.libraries.filter((library) => library.path.startsWith(`${E}/r/`));
    expect(fromR.map((library) => library.path)).toEqual([`${E}/r/libr-a.so`]);
  });

  it('a DT_NEEDED with a slash is relative to the working directory', () => {
    lab.lib('app/lib2/libn.so', undefined);
    // gcc records a library given by a relative path as written, so link from E.
    const program = lab.path('f19');
    execFileSync('gcc', ['-o', program, '-x', 'c', '-', '-x', 'none', '-Wl,--no-as-needed', 'app/lib2/libn.so'], { cwd: E, input: 'int main(void){return 0;}' });

    expect(found(resolve(program, { cwd: E }))['app/lib2/libn.so']).toBe('app/lib2/libn.so');
    expect(missingNames(resolve(program, { cwd: '/' }))).toEqual(['app/lib2/libn.so']);
  });

  it("libc's DT_NEEDED of the loader is the PT_INTERP object", () => {
    const program = lab.exe('f49');
    const result = resolve(program);
    expect(result.interpreter?.path).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(result.libraries.map((library) => library.name)).toEqual(['libc.so.6']);
    expect(result.missing).toEqual([]);
  });
});

describe('candidates the loader skips or stops at', () => {
  lab.lib('good/libw.so', 'libw.so');
  const program = lab.exe('w-exe', { needs: [`${E}/good/libw.so`] });

  it.skipIf(!hasCommand('gcc', ['-m32', '-print-libgcc-file-name']))('a 32-bit copy is skipped', () => {
    lab.lib('d32/libw.so', 'libw.so', { flags: ['-m32'] });
    expect(found(resolve(program, { libraryPath: `${E}/d32:${E}/good` }))['libw.so']).toBe(`${E}/good/libw.so`);

    const only32 = resolve(program, { libraryPath: `${E}/d32` });
    expect(missingNames(only32)).toEqual(['libw.so']);
    expect(only32.missing[0]?.rejected[0]).toMatchObject({ path: `${E}/d32/libw.so`, outcome: 'skip' });
    expect(only32.missing[0]?.rejected[0]?.reason).toContain('ELFCLASS32');
  });

  it.skipIf(!hasCommand('gcc', ['-mx32', '-print-libgcc-file-name']))('an x32 copy is skipped', () => {
    lab.lib('dx32/libw.so', 'libw.so', { flags: ['-mx32'] });
    expect(found(resolve(program, { libraryPath: `${E}/dx32:${E}/good` }))['libw.so']).toBe(`${E}/good/libw.so`);
  });

  it.skipIf(!hasCommand('clang'))('an aarch64 copy is skipped', () => {
    lab.lib('arm/libw.so', 'libw.so', { compiler: 'clang', flags: ['--target=aarch64-linux-gnu', '-nostdlib', '-fuse-ld=lld'] });
    expect(found(resolve(program, { libraryPath: `${E}/arm:${E}/good` }))['libw.so']).toBe(`${E}/good/libw.so`);
  });

  const compileObject = (output: string) => {
    fs.mkdirSync(lab.path('bad-object'), { recursive: true });
    execFileSync('gcc', ['-c', '-x', 'c', '-', '-o', output], { input: 'int w(void){return 1;}' });
  };
  const keepDebugOnly = (output: string) => {
    fs.mkdirSync(lab.path('bad-debug'), { recursive: true });
    execFileSync('objcopy', ['--only-keep-debug', `${E}/good/libw.so`, output]);
  };
  // Each row: the folder that contains the bad libw.so, how to make it, and glibc's reason.
  const fatalCases: [string, (output: string) => void, string][] = [
    ['bad-empty', (output) => fs.writeFileSync(output, ''), 'file too short'],
    ['bad-text', (output) => fs.writeFileSync(output, 'INPUT ( /lib/libw.so.1 )\n'.repeat(4)), 'invalid ELF header'],
    ['bad-dir', (output) => fs.mkdirSync(output), 'Is a directory'],
    ['bad-object', compileObject, 'only ET_DYN and ET_EXEC'],
    ['bad-endian', (output) => patchedCopy(output, 5, 2), 'not little-endian'],
    ['bad-osabi', (output) => patchedCopy(output, 7, 9), 'OS ABI'],
    ['bad-pie', () => lab.exe('bad-pie/libw.so', { flags: ['-pie'] }), 'position-independent executable'],
    ['bad-exec', () => lab.exe('bad-exec/libw.so', { flags: ['-no-pie'] }), 'cannot dynamically load executable'],
    ['bad-debug', keepDebugOnly, 'no dynamic section'],
  ];

  for (const [folder, build, reason] of fatalCases) {
    it(`${folder}/libw.so stops the load`, () => {
      fs.mkdirSync(lab.path(folder), { recursive: true });
      build(lab.path(`${folder}/libw.so`));
      const result = resolve(program, { libraryPath: `${E}/${folder}:${E}/good` });
      expect(found(result)['libw.so']).toBeUndefined();
      expect(result.missing[0]).toMatchObject({ name: 'libw.so', kind: 'fatal' });
      expect(result.missing[0]?.reason).toContain(reason);
    });
  }

  it('OS ABI GNU is accepted', () => {
    patchedCopy(lab.path('osabi-gnu/libw.so'), 7, 3);
    expect(found(resolve(program, { libraryPath: `${E}/osabi-gnu:${E}/good` }))['libw.so']).toBe(`${E}/osabi-gnu/libw.so`);
  });

  it('a dangling symlink is skipped', () => {
    lab.symlink('/nonexistent/libw.so', 'dangling/libw.so');
    expect(found(resolve(program, { libraryPath: `${E}/dangling:${E}/good` }))['libw.so']).toBe(`${E}/good/libw.so`);
  });

  it('a symlink loop ends the rest of its path list', () => {
    lab.symlink('libw.so', 'loop/libw.so');
    expect(missingNames(resolve(program, { libraryPath: `${E}/loop:${E}/good` }))).toEqual(['libw.so']);
    expect(found(resolve(program, { libraryPath: `${E}/good:${E}/loop` }))['libw.so']).toBe(`${E}/good/libw.so`);
  });

  function patchedCopy(output: string, offset: number, value: number): void {
    const bytes = fs.readFileSync(`${E}/good/libw.so`);
    bytes[offset] = value;
    fs.mkdirSync(output.slice(0, output.lastIndexOf('/')), { recursive: true });
    fs.writeFileSync(output, bytes);
  }
});

describe('glibc-hwcaps, NODEFLIB, empty elements, separators', () => {
  it('picks the best glibc-hwcaps subfolder for the ISA level', () => {
    for (const sub of ['', 'glibc-hwcaps/x86-64-v2/', 'glibc-hwcaps/x86-64-v3/', 'glibc-hwcaps/x86-64-v4/', 'glibc-hwcaps/x86-64-v9/']) {
      lab.lib(`hw/${sub}libh.so`, 'libh.so');
    }
    const program = lab.exe('f28', { needs: [`${E}/hw/libh.so`], flags: [`${RUNPATH}${E}/hw`] });
    expect(found(resolve(program, { isaLevel: 4 }))['libh.so']).toBe(`${E}/hw/glibc-hwcaps/x86-64-v4/libh.so`);
    expect(found(resolve(program, { isaLevel: 3 }))['libh.so']).toBe(`${E}/hw/glibc-hwcaps/x86-64-v3/libh.so`);
    expect(found(resolve(program, { isaLevel: 1 }))['libh.so']).toBe(`${E}/hw/libh.so`);
    expect(resolve(program, { isaLevel: 3 }).libraries.find((library) => library.name === 'libh.so')?.hwcaps).toBe('x86-64-v3');
  });

  it('DF_1_NODEFLIB skips the cache and system folders', () => {
    lab.lib('nd/libdep.so', 'libdep.so');
    const program = lab.exe('f36', { needs: [`${E}/nd/libdep.so`], flags: ['-Wl,-z,nodefaultlib', `${RPATH}${E}/nd`] });
    expect(missingNames(resolve(program))).toEqual(['libc.so.6']);
    const withLibcFolder = lab.exe('f36-ok', { needs: [`${E}/nd/libdep.so`], flags: ['-Wl,-z,nodefaultlib', `${RPATH}${E}/nd:/lib/x86_64-linux-gnu`] });
    expect(resolve(withLibcFolder).missing).toEqual([]);
  });

  it('an empty path element is the working directory', () => {
    lab.lib('cwd/libdep.so', 'libdep.so');
    const program = lab.exe('f37', { needs: [`${E}/cwd/libdep.so`], flags: [`${RPATH}/nonexistent::/nonexistent2`] });
    expect(found(resolve(program, { cwd: `${E}/cwd` }))['libdep.so']).toBe('libdep.so');
    expect(missingNames(resolve(program, { cwd: E }))).toEqual(['libdep.so']);
  });

  it('LD_LIBRARY_PATH takes $ORIGIN of the program and ; as a separator', () => {
    lab.lib('f38/b/libdep.so', 'libdep.so');
    lab.lib('c/libdep.so', 'libdep.so');
    const program = lab.exe('f38/exe', { needs: [`${E}/f38/b/libdep.so`] });
    expect(found(resolve(program, { libraryPath: '$ORIGIN/b' }))['libdep.so']).toBe(`${E}/f38/b/libdep.so`);
    expect(found(resolve(program, { libraryPath: `/x;${E}/c` }))['libdep.so']).toBe(`${E}/c/libdep.so`);
  });
});

describe('symbol versions', () => {
  it('reports a version the found library lacks', () => {
    const versioned = 'int v1(void){return 1;} int v2(void){return 2;}\n';
    lab.write('ver/v12.map', 'V1 { global: v1; local: *; };\nV2 { global: v2; } V1;\n');
    lab.write('ver/v1.map', 'V1 { global: v1; v2; local: *; };\n');
    lab.lib('ver/libv.so', 'libv.so', { source: versioned, flags: [`-Wl,--version-script=${E}/ver/v12.map`] });
    const program = lab.exe('f39', { needs: [`${E}/ver/libv.so`], flags: [`${RUNPATH}${E}/ver`], source: 'int v2(void); int main(void){return v2();}\n' });
    expect(resolve(program).missing).toEqual([]);

    lab.lib('ver/libv.so', 'libv.so', { source: versioned, flags: [`-Wl,--version-script=${E}/ver/v1.map`] });
    const result = resolve(program);
    expect(result.missing[0]).toMatchObject({ name: 'libv.so', kind: 'version' });
    expect(result.missing[0]?.reason).toContain("version `V2' not found");

    lab.lib('ver/libv.so', 'libv.so', { source: versioned });
    const unversioned = resolve(program);
    expect(unversioned.missing).toEqual([]);
    expect(unversioned.diagnostics.some((diagnostic) => diagnostic.message.includes('no version information available'))).toBe(true);
  });
});

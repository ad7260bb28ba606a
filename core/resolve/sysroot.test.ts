// Resolution inside a target root other than `/`: symlinks re-rooted, the
// root's own loader, ld.so.conf and ld.so.cache (written by the real
// `ldconfig -r`), and proof that nothing outside the root is read.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Resolver, resolveProgram } from './resolver';
import type { HostIo } from './rooted-fs';
import type { ResolveResult } from './types';
import { Lab } from './test-support/lab';

const lab = Lab.create();
afterAll(() => lab.remove());

const HOST_LOADER = '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2';
const HOST_LIBC = '/lib/x86_64-linux-gnu/libc.so.6';

/** Builds a small Debian-style root: the loader and libc, Debian's absolute /lib64 link, optionally merged /usr. */
function debianRoot(name: string, options: { mergedUsr?: boolean; libc?: boolean } = {}): string {
  const root = lab.path(name);
  const libFolder = options.mergedUsr ? 'usr/lib/x86_64-linux-gnu' : 'lib/x86_64-linux-gnu';
  lab.copy(HOST_LOADER, `${name}/${libFolder}/ld-linux-x86-64.so.2`);
  if (options.libc ?? true) lab.copy(HOST_LIBC, `${name}/${libFolder}/libc.so.6`);
  lab.symlink('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', `${name}/lib64/ld-linux-x86-64.so.2`);
  if (options.mergedUsr) lab.symlink('usr/lib', `${name}/lib`);
  return root;
}

function found(result: ResolveResult): Record<string, string> {
  return Object.fromEntries(result.libraries.map((library) => [library.name, library.path]));
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Node's fs calls, each recording the host path it touches. */
function recordingIo(paths: string[]): HostIo {
  const record = <T extends unknown[], R>(call: (hostPath: string, ...rest: T) => R) => (hostPath: string, ...rest: T): R => {
    paths.push(hostPath);
    return call(hostPath, ...rest);
  };
  return {
    lstatSync: record((hostPath: string, options: { bigint: true }) => fs.lstatSync(hostPath, options)),
    statSync: record((hostPath: string, options: { bigint: true }) => fs.statSync(hostPath, options)),
    readlinkSync: record((hostPath: string) => fs.readlinkSync(hostPath)),
    readdirSync: record((hostPath: string) => fs.readdirSync(hostPath)),
    readFileSync: record((hostPath: string) => fs.readFileSync(hostPath)),
    openSync: record((hostPath: string, flags: string) => fs.openSync(hostPath, flags)),
    readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
    closeSync: (fd) => fs.closeSync(fd),
    accessSync: record((hostPath: string, mode: number) => fs.accessSync(hostPath, mode)),
  };
}

describe('symlinks inside the root', () => {
  it('re-roots the absolute /lib64 link of a merged-/usr root and never reads the host', () => {
    const root = debianRoot('merged', { mergedUsr: true, libc: false });
    // A loader that differs from the host's, so a read that escaped to the host would show.
    fs.appendFileSync(`${root}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`, 'marker');
    const program = lab.copy(lab.exe('merged-build/app'), 'merged/app');
    const touched: string[] = [];

    const result = new Resolver({ sysroot: root, isaLevel: 1, hostIo: recordingIo(touched) }).resolve(program);

    expect(result.interpreter).toMatchObject({ path: '/lib64/ld-linux-x86-64.so.2', realPath: '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' });
    // Read from the root's loader file, whose built-in folders are Debian's.
    expect(result.interpreter?.systemDirs).toEqual(['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib']);
    expect(sha256(`${root}${result.interpreter?.realPath}`)).not.toBe(sha256(HOST_LOADER));
    // The host has libc.so.6; the root does not, so it must be missing.
    expect(result.missing.map((entry) => entry.name)).toEqual(['libc.so.6']);
    expect(touched.length).toBeGreaterThan(0);
    expect(touched.filter((hostPath) => hostPath !== root && !hostPath.startsWith(`${root}/`))).toEqual([]);
  });

  it('shows the loader path, keeps the real path apart', () => {
    const root = debianRoot('merged-libc', { mergedUsr: true });
    const program = lab.copy(lab.exe('merged-libc-build/app'), 'merged-libc/app');
    const result = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(result.ok).toBe(true);
    const libc = result.libraries.find((library) => library.name === 'libc.so.6');
    expect(libc?.path).toBe('/lib/x86_64-linux-gnu/libc.so.6');
    expect(libc?.realPath).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(result.program.realPath).toBe('/app');
  });

  it('a lib64 -> usr/lib root (Arch layout) finds libc under /usr/lib', () => {
    const root = lab.path('arch');
    lab.copy(HOST_LOADER, 'arch/usr/lib/ld-linux-x86-64.so.2');
    lab.copy(HOST_LIBC, 'arch/usr/lib/libc.so.6');
    lab.symlink('usr/lib', 'arch/lib64');
    const program = lab.copy(lab.exe('arch-build/app'), 'arch/app');

    const result = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(result.interpreter?.realPath).toBe('/usr/lib/ld-linux-x86-64.so.2');
    expect(found(result)['libc.so.6']).toBe('/usr/lib/libc.so.6');
  });

  it('reports a symlink loop at PT_INTERP clearly', () => {
    const root = lab.path('loop');
    lab.symlink('/lib64/ld-linux-x86-64.so.2', 'loop/lib64/ld-linux-x86-64.so.2');
    const program = lab.copy(lab.exe('loop-build/app'), 'loop/app');
    const result = resolveProgram(program, { sysroot: root });
    expect(result.ok).toBe(false);
    expect(result.missing[0]?.name).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(result.missing[0]?.reason).toMatch(/symlink|loop|ELOOP/i);
  });

  it('a link that climbs above the root stops at the root', () => {
    const root = debianRoot('climb');
    fs.rmSync(`${root}/lib64/ld-linux-x86-64.so.2`);
    lab.symlink('../../../../../../../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'climb/lib64/ld-linux-x86-64.so.2');
    const program = lab.copy(lab.exe('climb-build/app'), 'climb/app');
    const result = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(result.interpreter?.realPath).toBe('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
    expect(result.ok).toBe(true);
  });
});

describe('ld.so.conf and ld.so.cache of the root', () => {
  const root = debianRoot('conf');
  const build = (folder: string, file: string, soname: string) => lab.lib(`conf/${folder}/${file}`, soname);
  build('opt/a', 'libdup.so.1', 'libdup.so.1');
  build('opt/b', 'libdup.so.1', 'libdup.so.1');
  build('opt/nested', 'libnest.so.1', 'libnest.so.1');
  build('opt/disabled', 'libdis.so.1', 'libdis.so.1');
  build('opt/c', 'libsym.so.1.2.3', 'libsym.so.1');
  lab.symlink('libsym.so.1', 'conf/opt/c/libsym.so');
  lab.write('conf/etc/ld.so.conf', '# the root\'s own list\ninclude /etc/ld.so.conf.d/*.conf\n');
  lab.write('conf/etc/ld.so.conf.d/10-ab.conf', '/opt/a\n/opt/b/   # trailing comment\n');
  lab.write('conf/etc/ld.so.conf.d/20-misc.conf', 'include sub/*.conf\n/opt/c\n');
  lab.write('conf/etc/ld.so.conf.d/sub/nested.conf', '/opt/nested\n');
  lab.write('conf/etc/ld.so.conf.d/30-off.conf.disabled', '/opt/disabled\n');
  const program = lab.copy(
    lab.exe('conf-build/app', { needs: ['opt/a/libdup.so.1', 'opt/nested/libnest.so.1', 'opt/c/libsym.so.1.2.3', 'opt/disabled/libdis.so.1'].map((file) => `${root}/${file}`) }),
    'conf/app',
  );

  it('without a cache, folders listed only in ld.so.conf are not searched', () => {
    const result = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(result.missing.map((entry) => entry.name).sort()).toEqual(['libdis.so.1', 'libdup.so.1', 'libnest.so.1', 'libsym.so.1']);
    expect(result.diagnostics.some((diagnostic) => diagnostic.message.includes('no /etc/ld.so.cache'))).toBe(true);
  });

  it('--ldconfig reads ld.so.conf with its includes inside the root', () => {
    const result = resolveProgram(program, { sysroot: root, isaLevel: 1, emulateLdconfig: true });
    expect(found(result)['libdup.so.1']).toBe('/opt/a/libdup.so.1');
    expect(found(result)['libnest.so.1']).toBe('/opt/nested/libnest.so.1');
    expect(result.missing.map((entry) => entry.name)).toEqual(['libdis.so.1']);
  });

  it('the cache written by ldconfig -r gives the same answers', () => {
    execFileSync('ldconfig', ['-r', root]);
    const result = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(found(result)['libdup.so.1']).toBe('/opt/a/libdup.so.1');
    expect(found(result)['libnest.so.1']).toBe('/opt/nested/libnest.so.1');
    const libsym = result.libraries.find((library) => library.name === 'libsym.so.1');
    expect(libsym?.path).toBe('/opt/c/libsym.so.1');
    expect(libsym?.realPath).toBe('/opt/c/libsym.so.1.2.3');
    expect(libsym?.foundBy).toEqual({ rule: 'ld-so-cache' });
    expect(result.missing.map((entry) => entry.name)).toEqual(['libdis.so.1']);
  });

  it('a stale cache entry is not followed by another folder', () => {
    fs.rmSync(`${root}/opt/a/libdup.so.1`);
    const result = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(result.missing.map((entry) => entry.name)).toContain('libdup.so.1');
    const miss = result.missing.find((entry) => entry.name === 'libdup.so.1');
    expect(miss?.rejected[0]?.reason).toContain('stale');
  });

  it('a file whose soname differs from its name is keyed by the soname', () => {
    const misRoot = debianRoot('mismatch');
    lab.lib('mismatch/opt/mis/libmis.so.1', 'libmis.so.1');
    const app = lab.copy(lab.exe('mismatch-build/app', { needs: [`${misRoot}/opt/mis/libmis.so.1`] }), 'mismatch/app');
    const withRpath = lab.copy(lab.exe('mismatch-build/app-rpath', { needs: [`${misRoot}/opt/mis/libmis.so.1`], flags: ['-Wl,--disable-new-dtags,-rpath,/opt/mis'] }), 'mismatch/app-rpath');
    lab.lib('mismatch/opt/mis/libmis.so.1', 'libother.so.1');
    lab.write('mismatch/etc/ld.so.conf', '/opt/mis\n');
    execFileSync('ldconfig', ['-r', misRoot]);

    expect(resolveProgram(app, { sysroot: misRoot, isaLevel: 1 }).missing.map((entry) => entry.name)).toEqual(['libmis.so.1']);
    expect(found(resolveProgram(withRpath, { sysroot: misRoot, isaLevel: 1 }))['libmis.so.1']).toBe('/opt/mis/libmis.so.1');
  });

  it('/etc/ld.so.preload entries load right after the program', () => {
    const preloadRoot = debianRoot('preload');
    lab.lib('preload/opt/top/libtop.so.1', 'libtop.so.1');
    lab.lib('preload/lib/x86_64-linux-gnu/libnested.so.1', 'libnested.so.1');
    lab.write('preload/etc/ld.so.preload', '# c\n/opt/top/libtop.so.1 libnested.so.1\n');
    const app = lab.copy(lab.exe('preload-build/app'), 'preload/app');
    const result = resolveProgram(app, { sysroot: preloadRoot, isaLevel: 1 });
    expect(result.libraries.map((library) => library.path)).toEqual([
      '/opt/top/libtop.so.1',
      '/lib/x86_64-linux-gnu/libnested.so.1',
      '/lib/x86_64-linux-gnu/libc.so.6',
    ]);
    expect(result.libraries[0]?.foundBy).toEqual({ rule: 'preload', source: '/etc/ld.so.preload' });
  });
});

describe('the system folders come from the root\'s loader', () => {
  it('a Fedora-style loader searches /lib64 and /usr/lib64', () => {
    const root = lab.path('fedora');
    const loader = Buffer.from(fs.readFileSync(HOST_LOADER));
    replaceString(loader, '/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0', '/lib64/\0/usr/lib64/\0');
    lab.write('fedora/usr/lib64/ld-linux-x86-64.so.2', loader);
    lab.symlink('usr/lib64', 'fedora/lib64');
    lab.copy(HOST_LIBC, 'fedora/usr/lib64/libc.so.6');
    lab.lib('fedora/usr/lib64/libz.so.1', 'libz.so.1');
    fs.mkdirSync(`${root}/etc/ld.so.conf.d`, { recursive: true });
    lab.write('fedora/etc/ld.so.conf', 'include ld.so.conf.d/*.conf\n');
    const program = lab.copy(lab.exe('fedora-build/app', { needs: [`${root}/usr/lib64/libz.so.1`] }), 'fedora/app');

    const result = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(found(result)['libz.so.1']).toBe('/lib64/libz.so.1');
    expect(found(result)['libc.so.6']).toBe('/lib64/libc.so.6');
  });
});

/** Overwrites every copy of `from` (Debian's loader contains the folder list twice) with `to` and NUL padding. */
function replaceString(bytes: Buffer, from: string, to: string): void {
  let index = bytes.indexOf(from, 0, 'latin1');
  if (index < 0) throw new Error(`the host loader has no "${from.replaceAll('\0', '\\0')}"`);
  while (index >= 0) {
    bytes.fill(0, index, index + from.length);
    bytes.write(to, index, 'latin1');
    index = bytes.indexOf(from, index + from.length, 'latin1');
  }
}

// planSysroot against small roots built from this host's glibc: where the
// interpreter and libraries land, the /etc files for name lookups, packed
// files and folders, and the rules for paths claimed twice.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { readLoaderDefaults } from '../resolve/loader-defaults';
import { Resolver, type ResolverSetup } from '../resolve/resolver';
import { compareByteOrder } from '../resolve/rooted-fs';
import { Lab, RUNPATH } from '../resolve/test-support/lab';
import { LDCONFIG, LDCONFIG_PREFIX } from '../resolve/test-support/sysroot-fixtures';
import type { ResolveOptions, ResolveResult } from '../resolve/types';
import { SysrootPlanError } from './errors';
import { planSysroot } from './plan';
import { debianRoot, HAS_DEBIAN_GLIBC, HOST_LOADER, sha256File } from './test-support/debian-root';
import type { ImageEntry, StagedFile, StagingPlan, SysrootPlanInput } from './types';
import { planError } from './test-support/plan-error';

const lab = Lab.create('nxu-sysroot-');
afterAll(() => lab.remove());

const LOADER_IN_ROOT = 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2';
const GETADDRINFO_SOURCE = `#include <netdb.h>
int main(void) { struct addrinfo *result; return getaddrinfo("example.com", "80", 0, &result); }
`;

function resolveIn(root: string, program: string, setup: ResolverSetup = {}, options: Pick<ResolveOptions, 'cwd'> = {}): ResolveResult {
  return new Resolver({ sysroot: root, isaLevel: 1, ...setup }).resolve(program, options);
}

/** Resolves `program` in `root` and plans it at /<program name>. */
async function planIn(root: string, program: string, input: Partial<SysrootPlanInput> = {}): Promise<StagingPlan> {
  return planSysroot({
    resolution: input.resolution ?? resolveIn(root, program),
    sysroot: root,
    programImagePath: `/${path.basename(program)}`,
    programHostPath: program,
    ...input,
  });
}

function recordAt(plan: StagingPlan, imagePath: string): StagedFile | undefined {
  return plan.records.find((record) => record.path === imagePath);
}

function entryAt(plan: StagingPlan, imagePath: string): ImageEntry | undefined {
  return plan.entries.find((entry) => entry.path === imagePath);
}

describe.skipIf(!HAS_DEBIAN_GLIBC)('planSysroot in a Debian-style root', () => {
  const root = debianRoot(lab, 'debian');
  const program = lab.exe('debian-build/app');

  it('places PT_INTERP and libc at the loader paths', async () => {
    const resolution = resolveIn(root, program);
    const plan = await planIn(root, program, { resolution });

    expect(entryAt(plan, '/lib64/ld-linux-x86-64.so.2')).toMatchObject({ kind: 'file', source: `${root}/${LOADER_IN_ROOT}` });
    expect(recordAt(plan, '/lib64/ld-linux-x86-64.so.2')?.sha256).toBe(sha256File(`${root}/${LOADER_IN_ROOT}`));
    expect(recordAt(plan, '/lib/x86_64-linux-gnu/libc.so.6')?.source).toBe(`${root}/usr/lib/x86_64-linux-gnu/libc.so.6`);
    expect(entryAt(plan, '/app')).toMatchObject({ kind: 'file', source: program });
    expect(plan.program).toBe('/app');
    expect(plan.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(plan.warnings).toEqual([]);
  });

  it('has every library path of the resolution', async () => {
    const resolution = resolveIn(root, program);
    const plan = await planIn(root, program, { resolution });

    expect(resolution.libraries.length).toBeGreaterThan(0);
    for (const library of resolution.libraries) {
      expect(entryAt(plan, library.path)?.kind, library.path).toBe('file');
    }
  });

  it('writes real folders, no symlinks', async () => {
    const plan = await planIn(root, program);

    expect(plan.entries.filter((entry) => entry.kind === 'symlink')).toEqual([]);
    for (const folder of ['/lib', '/lib/x86_64-linux-gnu', '/lib64']) {
      expect(entryAt(plan, folder)?.kind, folder).toBe('directory');
    }
  });

  it('gives each file a reason', async () => {
    const plan = await planIn(root, program);

    expect(recordAt(plan, '/app')).toMatchObject({ role: 'program', reason: 'program' });
    expect(recordAt(plan, '/lib64/ld-linux-x86-64.so.2')?.reason).toBe(`PT_INTERP of /app (the root's file /${LOADER_IN_ROOT})`);
    expect(recordAt(plan, '/lib/x86_64-linux-gnu/libc.so.6')).toMatchObject({
      role: 'library',
      reason: "DT_NEEDED of /app (found by the loader's system folders)",
    });
  });

  it('records size, hash and mode of each file', async () => {
    const plan = await planIn(root, program);
    const libc = recordAt(plan, '/lib/x86_64-linux-gnu/libc.so.6');
    const hostLibc = `${root}/usr/lib/x86_64-linux-gnu/libc.so.6`;

    expect(libc?.size).toBe(fs.statSync(hostLibc).size);
    expect(libc?.sha256).toBe(sha256File(hostLibc));
    expect(libc?.mode).toBe(fs.statSync(hostLibc).mode & 0o7777);
    expect(libc?.kind).toBe('file');
  });

  it('sorts entries by path, folders first', async () => {
    const plan = await planIn(root, program);
    const paths = plan.entries.map((entry) => entry.path);

    expect(paths).toEqual([...paths].sort(compareByteOrder));
    for (const [index, entryPath] of paths.entries()) {
      const parent = path.posix.dirname(entryPath);
      if (parent !== '/') expect(paths.indexOf(parent), entryPath).toBeLessThan(index);
    }
  });

  it('rejects a resolution with missing libraries', async () => {
    const needy = lab.exe('debian-build/needy', { needs: [lab.lib('debian-build/libgone.so.1', 'libgone.so.1')] });
    const error = await planError(planIn(root, needy));

    expect(error.code).toBe('missing-library');
    expect(error.message).toContain('libgone.so.1 (needed by /needy): not found');
  });

  it('rejects a resolution from another root', async () => {
    const otherRoot = debianRoot(lab, 'debian-other');
    const error = await planError(planIn(otherRoot, program, { resolution: resolveIn(root, program) }));

    expect(error.code).toBe('invalid-input');
    expect(error.message).toContain(`made in the root ${root}`);
  });
});

describe.skipIf(!HAS_DEBIAN_GLIBC)('planSysroot and root layouts', () => {
  it('an Arch root keeps libraries in loader folders', async () => {
    // The root links /lib64 to usr/lib with a relative folder link, and PT_INTERP goes through it.
    const root = lab.path('arch');
    lab.copy(HOST_LOADER, 'arch/usr/lib/ld-linux-x86-64.so.2');
    lab.copy('/usr/lib/x86_64-linux-gnu/libc.so.6', 'arch/usr/lib/libc.so.6');
    lab.symlink('usr/lib', 'arch/lib64');
    const program = lab.exe('arch-build/app');
    const resolution = resolveIn(root, program);
    const plan = await planIn(root, program, { resolution });

    expect(entryAt(plan, '/lib64')?.kind).toBe('directory');
    expect(entryAt(plan, '/lib64/ld-linux-x86-64.so.2')).toMatchObject({ kind: 'file', source: `${root}/usr/lib/ld-linux-x86-64.so.2` });

    const loaderBytes = fs.readFileSync(`${root}/usr/lib/ld-linux-x86-64.so.2`);
    const systemDirs = readLoaderDefaults(loaderBytes, 62, 64).systemDirs;
    for (const library of resolution.libraries) {
      expect(entryAt(plan, library.path)?.kind, library.path).toBe('file');
      expect(systemDirs, library.path).toContain(path.posix.dirname(library.path));
    }
  });

  it('takes the loader from the root, not the host', async () => {
    const root = debianRoot(lab, 'marker');
    // Distinct bytes after the ELF contents keep the file loadable but give it its own hash.
    fs.appendFileSync(`${root}/${LOADER_IN_ROOT}`, 'marker: the loader inside the root\n');
    const program = lab.exe('marker-build/app');
    const plan = await planIn(root, program);
    const interpreter = recordAt(plan, '/lib64/ld-linux-x86-64.so.2');

    expect(interpreter?.sha256).toBe(sha256File(`${root}/${LOADER_IN_ROOT}`));
    expect(interpreter?.sha256).not.toBe(sha256File(HOST_LOADER));
    expect(interpreter?.source.startsWith(`${root}/`)).toBe(true);
  });

  it('joins a relative library path with cwd', async () => {
    const root = debianRoot(lab, 'relative');
    lab.lib('relative-build/lib/libr.so', undefined, { source: 'int f_libr(void) { return 1; }\n' });
    lab.copy(lab.path('relative-build/lib/libr.so'), 'relative/srv/lib/libr.so');
    fs.writeFileSync(lab.path('relative-build/main.c'), 'int f_libr(void); int main(void) { return f_libr(); }\n');
    // Linking a library without DT_SONAME by a relative path makes that path the DT_NEEDED entry.
    execFileSync('gcc', ['-o', 'app', 'main.c', 'lib/libr.so'], { cwd: lab.path('relative-build') });
    const program = lab.path('relative-build/app');
    const resolution = resolveIn(root, program, {}, { cwd: '/srv' });

    expect(resolution.libraries.map((library) => library.path)).toContain('lib/libr.so');
    const plan = await planIn(root, program, { resolution, cwd: '/srv' });
    expect(recordAt(plan, '/srv/lib/libr.so')?.source).toBe(`${root}/srv/lib/libr.so`);
  });

  it('adds the baseline copy of a glibc-hwcaps library', async () => {
    const root = debianRoot(lab, 'hwcaps');
    lab.lib('hwcaps/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v2/libh.so.1', 'libh.so.1');
    const baseline = lab.lib('hwcaps/usr/lib/x86_64-linux-gnu/libh.so.1', 'libh.so.1');
    const program = lab.exe('hwcaps-build/app', { needs: [baseline] });
    const resolution = resolveIn(root, program, { isaLevel: 2 });

    expect(resolution.libraries.find((library) => library.name === 'libh.so.1')?.hwcaps).toBe('x86-64-v2');
    const plan = await planIn(root, program, { resolution });
    expect(recordAt(plan, '/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v2/libh.so.1')?.role).toBe('library');
    expect(recordAt(plan, '/lib/x86_64-linux-gnu/libh.so.1')?.sha256).toBe(sha256File(baseline));
    expect(recordAt(plan, '/lib/x86_64-linux-gnu/libh.so.1')?.reason).toContain('baseline copy for guest CPUs without x86-64-v2');
  });

  it('warns when a hwcaps library has no baseline', async () => {
    const root = debianRoot(lab, 'hwcaps-only');
    const optimized = lab.lib('hwcaps-only/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v2/libh.so.1', 'libh.so.1');
    const program = lab.exe('hwcaps-only-build/app', { needs: [optimized] });
    const plan = await planIn(root, program, { resolution: resolveIn(root, program, { isaLevel: 2 }) });

    expect(recordAt(plan, '/lib/x86_64-linux-gnu/libh.so.1')).toBeUndefined();
    expect(plan.warnings.join('\n')).toContain('the root has no baseline copy at /lib/x86_64-linux-gnu/libh.so.1');
  });
});

describe.skipIf(!HAS_DEBIAN_GLIBC || LDCONFIG_PREFIX === undefined)('planSysroot and ld.so.cache', () => {
  const root = debianRoot(lab, 'cached');
  const libfoo = lab.lib('cached/opt/foo/libfoo.so.1', 'libfoo.so.1');
  lab.write('cached/etc/ld.so.conf', '/opt/foo\n');
  const command = [...(LDCONFIG_PREFIX ?? []), LDCONFIG ?? 'ldconfig', '-r', root];
  execFileSync(command[0] as string, command.slice(1));

  it('adds the cache for a folder only it names', async () => {
    const program = lab.exe('cached-build/app', { needs: [libfoo] });
    const plan = await planIn(root, program);

    expect(recordAt(plan, '/opt/foo/libfoo.so.1')?.reason).toBe('DT_NEEDED of /app (found by ld.so.cache)');
    expect(recordAt(plan, '/etc/ld.so.cache')).toMatchObject({ role: 'loader-cache', source: `${root}/etc/ld.so.cache` });
    expect(recordAt(plan, '/etc/ld.so.cache')?.reason).toContain('libfoo.so.1 in /opt/foo');
  });

  it('leaves the cache out for system folders', async () => {
    const program = lab.exe('cached-build/plain');
    const plan = await planIn(root, program);

    expect(recordAt(plan, '/etc/ld.so.cache')).toBeUndefined();
  });

  it('rejects an ld.so.conf folder without a cache', async () => {
    const confRoot = debianRoot(lab, 'conf-only');
    const confLib = lab.lib('conf-only/opt/foo/libfoo.so.1', 'libfoo.so.1');
    lab.write('conf-only/etc/ld.so.conf', '/opt/foo\n');
    const program = lab.exe('conf-only-build/app', { needs: [confLib] });
    const resolution = resolveIn(confRoot, program, { emulateLdconfig: true });
    const error = await planError(planIn(confRoot, program, { resolution }));

    expect(error.code).toBe('missing-library');
    expect(error.message).toContain('libfoo.so.1 in /opt/foo');
    expect(error.message).toContain('ldconfig -r ROOT');
  });
});

describe.skipIf(!HAS_DEBIAN_GLIBC)('planSysroot name lookup files', () => {
  const root = debianRoot(lab, 'nss');
  const program = lab.exe('nss-build/app', { source: GETADDRINFO_SOURCE });
  const etcFiles = ['/etc/nsswitch.conf', '/etc/hosts', '/etc/passwd', '/etc/group', '/etc/resolv.conf'];

  it('generates the /etc files getaddrinfo reads', async () => {
    const plan = await planIn(root, program);

    for (const etcFile of etcFiles) {
      const record = recordAt(plan, etcFile);
      expect(record?.source, etcFile).toBe('generated');
      expect(record?.role, etcFile).toBe('runtime-file');
      expect(record?.mode, etcFile).toBe(0o644);
      expect(record?.reason, etcFile).toContain('getaddrinfo (hosts)');
    }
    const passwd = entryAt(plan, '/etc/passwd');
    const passwdText = passwd && 'contents' in passwd ? Buffer.from(passwd.contents).toString() : undefined;
    expect(passwdText).toContain('root:x:0:0:');
  });

  it('adds no NSS modules from glibc 2.34 on', async () => {
    const resolution = resolveIn(root, program);
    const [major = 0, minor = 0] = (resolution.libc.version ?? '0.0').split('.').map(Number);
    expect(major * 100 + minor).toBeGreaterThanOrEqual(234);

    const plan = await planIn(root, program, { resolution });
    expect(plan.records.filter((record) => record.path.includes('libnss_'))).toEqual([]);
  });

  it('lets a packed /etc/hosts win with a warning', async () => {
    const hosts = lab.write('nss-build/hosts', '10.0.0.5\tdb\n');
    const plan = await planIn(root, program, { files: [{ from: hosts, to: '/etc/hosts' }] });

    expect(recordAt(plan, '/etc/hosts')).toMatchObject({ source: hosts, role: 'packed' });
    expect(plan.warnings.filter((warning) => warning.startsWith('/etc/hosts:'))).toHaveLength(1);
    expect(plan.warnings.join('\n')).toContain(`the packed file ${hosts} is used instead of the generated one`);
    expect(recordAt(plan, '/etc/passwd')?.source).toBe('generated');
  });
});

describe.skipIf(!HAS_DEBIAN_GLIBC)('planSysroot packed files and folders', () => {
  const root = debianRoot(lab, 'packed');
  const program = lab.exe('packed-build/app');

  it('copies a folder with its symlinks', async () => {
    const project = lab.path('packed-project');
    lab.write('packed-project/lib/libx.so.1.0', 'x');
    lab.symlink('libx.so.1.0', 'packed-project/lib/libx.so.1');
    lab.symlink('/lib/x86_64-linux-gnu/libc.so.6', 'packed-project/libc-link');
    fs.mkdirSync(lab.path('packed-project/empty'));
    const plan = await planIn(root, program, { dirs: [{ from: project, to: '/srv' }] });

    expect(entryAt(plan, '/srv/lib/libx.so.1.0')).toMatchObject({ kind: 'file', source: `${project}/lib/libx.so.1.0` });
    expect(entryAt(plan, '/srv/lib/libx.so.1')).toEqual({ kind: 'symlink', path: '/srv/lib/libx.so.1', target: 'libx.so.1.0' });
    expect(entryAt(plan, '/srv/libc-link')).toEqual({ kind: 'symlink', path: '/srv/libc-link', target: '/lib/x86_64-linux-gnu/libc.so.6' });
    expect(entryAt(plan, '/srv/empty')).toEqual({ kind: 'directory', path: '/srv/empty' });
    expect(recordAt(plan, '/srv/lib/libx.so.1')).toMatchObject({ kind: 'symlink', target: 'libx.so.1.0', size: 'libx.so.1.0'.length, mode: 0o777 });
    expect(recordAt(plan, '/srv/lib/libx.so.1.0')?.reason).toBe(`configured in dirs (${project})`);
  });

  it('skips broken symlinks with a warning', async () => {
    const project = lab.path('broken-project');
    lab.write('broken-project/file', 'x');
    lab.symlink('missing', 'broken-project/dangling');
    lab.symlink('dangling', 'broken-project/to-dangling');
    lab.symlink('/etc/not-in-image', 'broken-project/absolute');
    lab.symlink('loop-b', 'broken-project/loop-a');
    lab.symlink('loop-a', 'broken-project/loop-b');
    execFileSync('mkfifo', [lab.path('broken-project/fifo')]);
    const plan = await planIn(root, program, { dirs: [{ from: project, to: '/srv' }] });

    for (const skipped of ['/srv/dangling', '/srv/to-dangling', '/srv/absolute', '/srv/loop-a', '/srv/loop-b', '/srv/fifo']) {
      expect(entryAt(plan, skipped), skipped).toBeUndefined();
    }
    const warnings = plan.warnings.join('\n');
    expect(warnings).toContain('Skipped the symlink /srv/dangling -> missing');
    expect(warnings).toContain('Skipped the symlink /srv/absolute -> /etc/not-in-image');
    expect(warnings).toContain(`Skipped ${project}/fifo`);
  });

  it('places a library through a packed folder link', async () => {
    // The root has /srv/lib/libq.so, but the packed /srv/lib is a link to /srv/real.
    const libq = lab.lib('packed-link/srv/lib/libq.so', 'libq.so');
    const linkRoot = debianRoot(lab, 'packed-link');
    const linked = lab.exe('packed-link-build/app', { needs: [libq], flags: [`${RUNPATH}/srv/lib`] });
    lab.symlink('real', 'packed-link-project/lib');
    fs.mkdirSync(lab.path('packed-link-project/real'));
    const plan = await planIn(linkRoot, linked, { dirs: [{ from: lab.path('packed-link-project'), to: '/srv' }] });

    expect(entryAt(plan, '/srv/lib')).toEqual({ kind: 'symlink', path: '/srv/lib', target: 'real' });
    expect(recordAt(plan, '/srv/real/libq.so')?.sha256).toBe(sha256File(libq));
    expect(recordAt(plan, '/srv/real/libq.so')?.reason).toContain('DT_RUNPATH of /app');
  });

  it('rejects a folder given in files', async () => {
    const error = await planError(planIn(root, program, { files: [{ from: lab.path('packed-project'), to: '/srv' }] }));
    expect(error.code).toBe('invalid-input');
    expect(error.message).toContain('is a folder; list folders in dirs');
  });

  it('rejects a relative image path', async () => {
    const file = lab.write('packed-build/config.json', '{}');
    const error = await planError(planIn(root, program, { files: [{ from: file, to: 'config.json' }] }));
    expect(error.code).toBe('invalid-input');
    expect(error.message).toContain('image path "config.json" is not absolute');
  });
});

describe.skipIf(!HAS_DEBIAN_GLIBC)('planSysroot duplicate paths', () => {
  const root = debianRoot(lab, 'duplicates');
  const program = lab.exe('duplicates-build/app');
  const first = lab.write('duplicates-build/first.txt', 'first');
  const second = lab.write('duplicates-build/second.txt', 'second');
  const copyOfFirst = lab.write('duplicates-build/copy-of-first.txt', 'first');

  it('rejects a packed file over a library', async () => {
    const error = await planError(planIn(root, program, { files: [{ from: first, to: '/lib/x86_64-linux-gnu/libc.so.6' }] }));

    expect(error.code).toBe('duplicate-path');
    expect(error.message).toContain('Image path /lib/x86_64-linux-gnu/libc.so.6 comes from two sources with different contents');
    expect(error.message).toContain(first);
    expect(error.message).toContain(`${root}/usr/lib/x86_64-linux-gnu/libc.so.6`);
  });

  it('rejects two packed files with different contents', async () => {
    const files = [
      { from: first, to: '/data/file.txt' },
      { from: second, to: '/data/file.txt' },
    ];
    const error = await planError(planIn(root, program, { files }));

    expect(error.code).toBe('duplicate-path');
    expect(error.message).toContain(first);
    expect(error.message).toContain(second);
  });

  it('accepts one source twice, or equal bytes', async () => {
    const files = [
      { from: first, to: '/data/file.txt' },
      { from: first, to: '/data/file.txt' },
      { from: copyOfFirst, to: '/data/file.txt' },
    ];
    const plan = await planIn(root, program, { files });

    expect(recordAt(plan, '/data/file.txt')?.source).toBe(first);
    expect(plan.records.filter((record) => record.path === '/data/file.txt')).toHaveLength(1);
  });

  it('rejects names that differ only by case', async () => {
    const files = [
      { from: first, to: '/data/Readme' },
      { from: second, to: '/data/README' },
    ];
    const error = await planError(planIn(root, program, { files }));

    expect(error.code).toBe('case-collision');
    expect(error.message).toContain('Image paths /data/README');
    expect(error.message).toContain('and /data/Readme');
  });

  it('rejects folders that differ only by case', async () => {
    const files = [
      { from: first, to: '/Data/first.txt' },
      { from: second, to: '/data/second.txt' },
    ];
    const error = await planError(planIn(root, program, { files }));

    expect(error.code).toBe('case-collision');
    expect(error.message).toMatch(/Image paths \/Data .* and \/data /);
  });

  it('rejects a file where a folder must be', async () => {
    const files = [
      { from: first, to: '/data' },
      { from: second, to: '/data/inner.txt' },
    ];
    const error = await planError(planIn(root, program, { files }));

    expect(error.code).toBe('path-conflict');
    expect(error.message).toContain('/data/inner.txt');
  });

  it('gives the same plan for any input order', async () => {
    const files = [
      { from: first, to: '/data/b.txt' },
      { from: second, to: '/data/a.txt' },
      { from: copyOfFirst, to: '/z/c.txt' },
    ];
    const forward = await planIn(root, program, { files });
    const backward = await planIn(root, program, { files: [...files].reverse() });

    expect(backward.entries).toEqual(forward.entries);
    expect(backward.records).toEqual(forward.records);
  });
});

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { compareByteOrder, MAX_SYMLINK_HOPS, RootedFs, type ResolveResult } from './rooted-fs';
import { recordingIo, TempRoot } from './test-support/sysroot-fixtures';

const IS_ROOT_USER = process.getuid?.() === 0;

/** Returns the resolved path, or the error, so a failed expectation shows why resolution failed. */
function pathOf(result: ResolveResult): string {
  return result.ok ? result.path : `${result.errno}: ${result.message}`;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('RootedFs.resolve', () => {
  let root: TempRoot;
  const marker = 'marker: the loader inside the root\n';

  beforeAll(() => {
    root = new TempRoot();
    // A merged-/usr Debian layout: /lib -> usr/lib, and the absolute loader link in /lib64.
    root.write('usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', marker);
    root.write('usr/lib/x86_64-linux-gnu/libc.so.6', 'libc');
    root.symlink('usr/lib', 'lib');
    root.symlink('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'lib64/ld-linux-x86-64.so.2');
    // Arch-style relative directory link.
    root.symlink('usr/lib', 'libalias');
    root.write('a/b/c/file', 'deep');
    root.write('a/file', 'in a');
    root.symlink('a/b', 'x');
    root.symlink('../../../../../../../etc/target', 'a/b/escape');
    root.write('etc/target', 'target inside root');
    root.symlink('/etc/hostname', 'etc/hostlink');
    root.symlink('loop-b', 'loop-a');
    root.symlink('loop-a', 'loop-b');
    root.symlink('does-not-exist', 'dangling');
    root.write('plain-file', 'x');
    for (let index = 0; index < MAX_SYMLINK_HOPS + 1; index += 1) {
      root.symlink(index === MAX_SYMLINK_HOPS ? 'chain-end' : `chain-${index + 1}`, `chain-${index}`);
    }
    root.write('chain-end', 'end of chain');
  });

  afterAll(() => root.remove());

  it('re-roots an absolute loader link', () => {
    const { io, paths } = recordingIo();
    const rooted = new RootedFs(root.dir, io);
    const result = rooted.resolve('/lib64/ld-linux-x86-64.so.2');

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.path).toBe('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
    expect(result.hostPath).toBe(root.path('usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'));
    expect(sha256(fs.readFileSync(result.hostPath))).toBe(sha256(Buffer.from(marker)));
    expect(result.links.map((hop) => hop.link)).toEqual(['/lib64/ld-linux-x86-64.so.2', '/lib']);
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]?.kind).toBe('absolute-target');
    expect(result.notes[0]?.message).toContain('/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 is absolute');
    expect(paths.every((hostPath) => hostPath === root.dir || hostPath.startsWith(root.dir + '/'))).toBe(true);
  });

  it('never reads the host file an absolute link names', () => {
    const { io, paths } = recordingIo();
    const rooted = new RootedFs(root.dir, io);
    const result = rooted.resolve('/etc/hostlink');

    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errno).toBe('ENOENT');
    expect(result.path).toBe('/etc/hostname');
    expect(result.message).toContain('/etc/hostlink -> /etc/hostname');
    expect(paths.some((hostPath) => hostPath === '/etc/hostname')).toBe(false);
    expect(paths.every((hostPath) => hostPath === root.dir || hostPath.startsWith(root.dir + '/'))).toBe(true);
  });

  it('applies .. after a symlink physically', () => {
    const rooted = new RootedFs(root.dir);
    // x -> a/b, so x/.. is a (the link target's parent), not the root.
    expect(pathOf(rooted.resolve('/x/../file'))).toBe('/a/file');
    expect(pathOf(rooted.resolve('/x/c/file'))).toBe('/a/b/c/file');
  });

  it('keeps .. at the root', () => {
    const rooted = new RootedFs(root.dir);
    expect(pathOf(rooted.resolve('/../../../etc/target'))).toBe('/etc/target');
  });

  it('notes a relative link that climbs above the root', () => {
    const rooted = new RootedFs(root.dir);
    const result = rooted.resolve('/a/b/escape');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.path).toBe('/etc/target');
    expect(result.notes.map((note) => note.kind)).toEqual(['escapes-root']);
    expect(fs.readFileSync(result.hostPath, 'utf8')).toBe('target inside root');
  });

  it('continues a relative target from the link folder', () => {
    const rooted = new RootedFs(root.dir);
    const result = rooted.resolve('/libalias/x86_64-linux-gnu/libc.so.6');
    expect(pathOf(result)).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(result.notes).toEqual([]);
  });

  it('follows exactly 40 links and fails at 41', () => {
    const rooted = new RootedFs(root.dir);
    const forty = rooted.resolve('/chain-1');
    expect(pathOf(forty)).toBe('/chain-end');
    expect(forty.links).toHaveLength(MAX_SYMLINK_HOPS);

    const fortyOne = rooted.resolve('/chain-0');
    expect(fortyOne.ok).toBe(false);
    if (fortyOne.ok) return;
    expect(fortyOne.errno).toBe('ELOOP');
    expect(fortyOne.message).toContain('/chain-0 -> chain-1');
    expect(fortyOne.message).toContain('more than 40 links');
  });

  it('reports a symlink cycle as ELOOP', () => {
    const result = new RootedFs(root.dir).resolve('/loop-a');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errno).toBe('ELOOP');
    expect(result.message).toContain('/loop-a -> loop-b');
    expect(result.message).toContain('/loop-b -> loop-a');
  });

  it('reports ENOENT, ENOTDIR and empty paths', () => {
    const rooted = new RootedFs(root.dir);
    const missing = rooted.resolve('/usr/lib/nope/libz.so.1');
    expect(missing.ok || missing.errno).toBe('ENOENT');
    expect(missing.ok || missing.path).toBe('/usr/lib/nope');

    const dangling = rooted.resolve('/dangling');
    expect(dangling.ok || dangling.errno).toBe('ENOENT');

    const notDirectory = rooted.resolve('/plain-file/x');
    expect(notDirectory.ok || notDirectory.errno).toBe('ENOTDIR');
    expect(notDirectory.ok || notDirectory.path).toBe('/plain-file');

    const empty = rooted.resolve('');
    expect(empty.ok || empty.errno).toBe('ENOENT');
  });

  it('reports an over-long component', () => {
    const result = new RootedFs(root.dir).resolve(`/${'n'.repeat(256)}`);
    expect(result.ok || result.errno).toBe('ENAMETOOLONG');
  });

  it('stops at a final link with followFinal false', () => {
    const rooted = new RootedFs(root.dir);
    const link = rooted.resolve('/lib64/ld-linux-x86-64.so.2', { followFinal: false });
    expect(pathOf(link)).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(link.ok ? link.stat.isSymbolicLink : link.message).toBe(true);

    // A trailing slash makes the kernel follow the link and require a directory.
    const directory = rooted.resolve('/lib/', { followFinal: false });
    expect(pathOf(directory)).toBe('/usr/lib');
    expect(directory.ok ? directory.stat.isDirectory : directory.message).toBe(true);
  });

  it('resolves relative paths from cwd', () => {
    const rooted = new RootedFs(root.dir);
    const result = rooted.resolve('../x86_64-linux-gnu/libc.so.6', { cwd: '/lib/x86_64-linux-gnu' });
    expect(pathOf(result)).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
  });

  it('gives one identity for two names of a file', () => {
    const rooted = new RootedFs(root.dir);
    const viaLink = rooted.resolve('/lib/x86_64-linux-gnu/libc.so.6');
    const direct = rooted.resolve('/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(pathOf(viaLink)).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(pathOf(direct)).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
    if (!viaLink.ok || !direct.ok) return;
    const hostStat = fs.statSync(direct.hostPath, { bigint: true });
    expect(viaLink.identity).toBe(direct.identity);
    expect(direct.identity).toBe(`${hostStat.dev}:${hostStat.ino}`);
  });

  it('requires exact case on a case-insensitive volume', () => {
    const caseRoot = new TempRoot();
    try {
      caseRoot.write('opt/LibFoo.so.1', 'x');
      // The wrapper makes lstat case-insensitive, as on macOS volumes.
      const { io } = recordingIo({ caseInsensitive: true });
      const rooted = new RootedFs(caseRoot.dir, io);
      expect(fs.lstatSync(caseRoot.path('opt/LibFoo.so.1')).isFile()).toBe(true);
      expect(rooted.resolve('/opt/libfoo.so.1').ok).toBe(false);
      expect(rooted.resolve('/OPT/LibFoo.so.1').ok).toBe(false);
      expect(rooted.resolve('/opt/LibFoo.so.1').ok).toBe(true);
    } finally {
      caseRoot.remove();
    }
  });

  it.skipIf(IS_ROOT_USER)('reports EACCES for an unreadable folder', () => {
    const lockedRoot = new TempRoot();
    try {
      lockedRoot.write('locked/inner/file', 'x');
      fs.chmodSync(lockedRoot.path('locked'), 0o000);
      const result = new RootedFs(lockedRoot.dir).resolve('/locked/inner/file');
      expect(result.ok || result.errno).toBe('EACCES');
    } finally {
      fs.chmodSync(lockedRoot.path('locked'), 0o755);
      lockedRoot.remove();
    }
  });

  it('answers repeated lookups from its cache', () => {
    const { io, paths } = recordingIo();
    const rooted = new RootedFs(root.dir, io);
    rooted.resolve('/lib64/ld-linux-x86-64.so.2');
    const callsAfterFirst = paths.length;
    rooted.resolve('/lib64/ld-linux-x86-64.so.2');
    rooted.resolve('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
    expect(paths.length).toBe(callsAfterFirst);

    rooted.clearCache();
    rooted.resolve('/lib64/ld-linux-x86-64.so.2');
    expect(paths.length).toBe(callsAfterFirst * 2);
  });
});

describe('RootedFs file helpers', () => {
  let root: TempRoot;

  beforeAll(() => {
    root = new TempRoot();
    root.write('etc/ld.so.conf.d/10-b.conf', 'b');
    root.write('etc/ld.so.conf.d/02-a.conf', 'a');
    root.write('etc/ld.so.conf.d/Z-upper.conf', 'Z');
    root.write('etc/ld.so.conf.d/.hidden.conf', 'hidden');
    root.write('etc/ld.so.conf.d/notes.txt', 'txt');
    root.write('etc/ld.so.conf.d/x1.conf', 'x1');
    root.write('etc/ld.so.conf.d/b[1].conf', 'brackets');
    root.write('etc/ld.so.conf.d/sub/inner.conf', 'inner');
    root.write('etc/other.d/y.conf', 'y');
    root.symlink('/etc/ld.so.conf.d', 'etc/conf-link');
    root.write('data/bytes.bin', new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    root.symlink('bytes.bin', 'data/link.bin');
  });

  afterAll(() => root.remove());

  it('globs like glob(3) in byte order', () => {
    const rooted = new RootedFs(root.dir);
    expect(rooted.glob('/etc/ld.so.conf.d/*.conf')).toEqual([
      '/etc/ld.so.conf.d/02-a.conf',
      '/etc/ld.so.conf.d/10-b.conf',
      '/etc/ld.so.conf.d/Z-upper.conf',
      '/etc/ld.so.conf.d/b[1].conf',
      '/etc/ld.so.conf.d/x1.conf',
    ]);
    expect(rooted.glob('/etc/ld.so.conf.d/x?.conf')).toEqual(['/etc/ld.so.conf.d/x1.conf']);
    expect(rooted.glob('/etc/ld.so.conf.d/[0-9]*.conf')).toEqual(['/etc/ld.so.conf.d/02-a.conf', '/etc/ld.so.conf.d/10-b.conf']);
    expect(rooted.glob('/etc/ld.so.conf.d/[!0-9]*.conf')).toEqual([
      '/etc/ld.so.conf.d/Z-upper.conf',
      '/etc/ld.so.conf.d/b[1].conf',
      '/etc/ld.so.conf.d/x1.conf',
    ]);
    expect(rooted.glob('/etc/ld.so.conf.d/.*.conf')).toEqual(['/etc/ld.so.conf.d/.hidden.conf']);
    expect(rooted.glob('/etc/ld.so.conf.d/\\.h*')).toEqual(['/etc/ld.so.conf.d/.hidden.conf']);
    expect(rooted.glob('/etc/ld.so.conf.d/?hidden*')).toEqual([]);
    expect(rooted.glob('/etc/ld.so.conf.d/b\\[1\\].conf')).toEqual(['/etc/ld.so.conf.d/b[1].conf']);
    expect(rooted.glob('/etc/ld.so.conf.d/b[[]1].conf')).toEqual(['/etc/ld.so.conf.d/b[1].conf']);
  });

  it('globs folders and links inside the root', () => {
    const rooted = new RootedFs(root.dir);
    expect(rooted.glob('/etc/*.d/*.conf')).toContain('/etc/other.d/y.conf');
    expect(rooted.glob('/etc/conf-link/sub/*.conf')).toEqual(['/etc/conf-link/sub/inner.conf']);
    expect(rooted.glob('/etc/ld.so.conf.d/none-*.conf')).toEqual([]);
    expect(rooted.glob('/etc/ld.so.conf.d/x1.conf')).toEqual(['/etc/ld.so.conf.d/x1.conf']);
    expect(rooted.glob('/etc/ld.so.conf.d/missing.conf')).toEqual([]);
    expect(rooted.glob('ld.so.conf.d/0*', { cwd: '/etc' })).toEqual(['/etc/ld.so.conf.d/02-a.conf']);
  });

  it('reads files, ranges and links', () => {
    const rooted = new RootedFs(root.dir);
    const file = rooted.readFile('/data/link.bin');
    expect(file.ok ? [...file.bytes] : file.message).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const opened = rooted.openFile('/data/link.bin');
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.file.size).toBe(10);
    expect([...opened.file.read(8, 16)]).toEqual([8, 9]);
    expect([...opened.file.read(20, 4)]).toEqual([]);
    opened.file.close();

    expect(rooted.readlink('/data/link.bin')).toBe('bytes.bin');
    expect(rooted.readlink('/data/bytes.bin')).toBeUndefined();
    expect(rooted.lstat('/data/link.bin')?.isSymbolicLink).toBe(true);
    expect(rooted.stat('/data/link.bin')?.isFile).toBe(true);
    expect(rooted.exists('/data/none')).toBe(false);
  });

  it('rejects a directory where a file is read', () => {
    const rooted = new RootedFs(root.dir);
    const asFile = rooted.readFile('/etc/ld.so.conf.d');
    expect(asFile.ok || asFile.errno).toBe('EISDIR');
    const opened = rooted.openBytes('/etc');
    expect(opened.ok || opened.errno).toBe('EISDIR');
    const bytes = rooted.openBytes('/data/link.bin');
    expect(bytes.ok ? bytes.hostPath : bytes.message).toBe(root.path('data/bytes.bin'));
  });

  it('lists a folder in byte order', () => {
    const rooted = new RootedFs(root.dir);
    expect(rooted.listDir('/etc/conf-link')).toEqual(['.hidden.conf', '02-a.conf', '10-b.conf', 'Z-upper.conf', 'b[1].conf', 'notes.txt', 'sub', 'x1.conf']);
    expect(rooted.listDir('/data/bytes.bin')).toBeUndefined();
  });
});

describe('compareByteOrder', () => {
  it('orders like strcmp on UTF-8', () => {
    const names = ['b', 'a', 'B', '\u{1F600}', '\uFFFD', 'ab', 'a'];
    const expected = [...names].sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right)));
    expect([...names].sort(compareByteOrder)).toEqual(expected);
  });
});

describe.skipIf(process.platform !== 'linux')('RootedFs on this host', () => {
  const folders = ['/usr/bin', '/usr/lib/x86_64-linux-gnu'].filter((folder) => fs.existsSync(folder));

  it('matches realpath for every file', () => {
    const rooted = new RootedFs('/');
    let checked = 0;
    for (const folder of folders) {
      for (const name of fs.readdirSync(folder)) {
        const hostPath = path.join(folder, name);
        let real: string;
        try {
          real = fs.realpathSync(hostPath);
        } catch {
          expect(rooted.resolve(hostPath).ok).toBe(false);
          continue;
        }
        const result = rooted.resolve(hostPath);
        expect(pathOf(result), hostPath).toBe(real);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('resolves folders faster than ldd runs', () => {
    const files = folders.flatMap((folder) => fs.readdirSync(folder).map((name) => path.join(folder, name)));

    // Each file is resolved ten times, an estimate of how often a resolver looks one up.
    const rooted = new RootedFs('/');
    const started = process.hrtime.bigint();
    for (let round = 0; round < 10; round += 1) {
      for (const file of files) rooted.resolve(file);
    }
    const resolveMs = Number(process.hrtime.bigint() - started) / 1e6;

    const lddSample = ['/usr/bin/ls', '/usr/bin/cp', '/usr/bin/mv', '/usr/bin/cat', '/usr/bin/env'].filter((file) => fs.existsSync(file));
    const lddStarted = process.hrtime.bigint();
    for (const file of lddSample) execFileSync('ldd', [file], { stdio: 'ignore' });
    const lddMsPerFile = Number(process.hrtime.bigint() - lddStarted) / 1e6 / Math.max(lddSample.length, 1);

    console.log(
      `resolved ${files.length} paths x10 in ${resolveMs.toFixed(1)} ms; ldd takes ${lddMsPerFile.toFixed(1)} ms per program`,
    );
    // Ten resolves of every file must cost less than running ldd on a tenth of them.
    expect(resolveMs).toBeLessThan(lddMsPerFile * (files.length / 10));
  });
});

describe('RootedFs mounts', () => {
  let root: TempRoot;
  let project: TempRoot;
  let hostsFile: string;

  beforeAll(() => {
    root = new TempRoot();
    root.write('usr/lib/x86_64-linux-gnu/libc.so.6', 'libc of the root');
    root.symlink('usr/lib', 'lib');
    root.write('etc/hosts', 'hosts of the root');
    root.write('srv/old.txt', 'shadowed by the mount');

    project = new TempRoot('nxu-project-');
    project.write('build/addon.node', 'addon');
    project.write('vendor/lib/libfoo.so', 'libfoo of the project');
    // An absolute target names a path in the image, so it must not reach the host's /usr/lib.
    project.symlink('/usr/lib', 'lib-link');
    project.symlink('../etc', 'up');
    hostsFile = project.write('config/hosts', 'hosts of the project');
  });

  afterAll(() => {
    root.remove();
    project.remove();
  });

  function mounted(io?: Parameters<typeof recordingIo>[0]): { rooted: RootedFs; paths: string[] } {
    const recording = recordingIo(io);
    const mounts = [
      { imagePath: '/app', hostPath: project.dir },
      { imagePath: '/etc/hosts', hostPath: hostsFile },
      { imagePath: '/srv', hostPath: project.path('vendor') },
    ];
    return { rooted: new RootedFs(root.dir, recording.io, { mounts }), paths: recording.paths };
  }

  it('shows a host folder at its mount point', () => {
    const { rooted } = mounted();
    const result = rooted.resolve('/app/build/addon.node');
    expect(pathOf(result)).toBe('/app/build/addon.node');
    expect(result.ok ? result.hostPath : '').toBe(project.path('build/addon.node'));
    expect(rooted.hostPathOf('/app/vendor')).toBe(project.path('vendor'));
  });

  it('lists a mount point the root lacks', () => {
    const { rooted } = mounted();
    expect(rooted.listDir('/')).toEqual(['app', 'etc', 'lib', 'srv', 'usr']);
    expect(rooted.listDir('/app')).toEqual(['build', 'config', 'lib-link', 'up', 'vendor']);
    expect(rooted.stat('/app')?.isDirectory).toBe(true);
  });

  it('goes from the mount root to the parent in the root', () => {
    const { rooted } = mounted();
    expect(pathOf(rooted.resolve('/app/build/../vendor/lib/libfoo.so'))).toBe('/app/vendor/lib/libfoo.so');
    expect(pathOf(rooted.resolve('/app/../usr/lib/x86_64-linux-gnu/libc.so.6'))).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(pathOf(rooted.resolve('libfoo.so', { cwd: '/app/vendor/lib' }))).toBe('/app/vendor/lib/libfoo.so');
  });

  it('re-roots symlinks inside a mount', () => {
    const { rooted } = mounted();
    const absolute = rooted.readFile('/app/lib-link/x86_64-linux-gnu/libc.so.6');
    expect(absolute.ok ? Buffer.from(absolute.bytes).toString() : absolute.message).toBe('libc of the root');
    expect(absolute.ok ? absolute.path : '').toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');

    const relative = rooted.resolve('/app/up/hosts');
    expect(pathOf(relative)).toBe('/etc/hosts');
  });

  it('shows a host file over a file of the root', () => {
    const { rooted } = mounted();
    const hosts = rooted.readFile('/etc/hosts');
    expect(hosts.ok ? Buffer.from(hosts.bytes).toString() : hosts.message).toBe('hosts of the project');
    expect(rooted.listDir('/etc')).toEqual(['hosts']);
  });

  it('hides the root folder under a mount', () => {
    const { rooted } = mounted();
    expect(rooted.exists('/srv/old.txt')).toBe(false);
    expect(pathOf(rooted.resolve('/srv/lib/libfoo.so'))).toBe('/srv/lib/libfoo.so');
  });

  it('touches only the root and the mount sources', () => {
    const { rooted, paths } = mounted();
    rooted.resolve('/app/lib-link/x86_64-linux-gnu/libc.so.6');
    rooted.resolve('/app/build/../vendor/lib/libfoo.so');
    rooted.readFile('/etc/hosts');
    rooted.listDir('/');

    const inside = (hostPath: string, folder: string) => hostPath === folder || hostPath.startsWith(`${folder}/`);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.filter((hostPath) => !inside(hostPath, root.dir) && !inside(hostPath, project.dir))).toEqual([]);
    expect(paths.some((hostPath) => hostPath === '/usr/lib' || hostPath.startsWith('/usr/lib/'))).toBe(false);
  });

  it('keeps a root symlink above a mount point', () => {
    // /lib is a symlink in the root, so /lib/extra leads to /usr/lib/extra, which does not exist.
    const rooted = new RootedFs(root.dir, undefined, { mounts: [{ imagePath: '/lib/extra', hostPath: project.dir }] });
    expect(rooted.resolve('/lib/extra/build/addon.node').ok).toBe(false);
    expect(pathOf(rooted.resolve('/lib/x86_64-linux-gnu/libc.so.6'))).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
  });

  it('rejects invalid mount points', () => {
    expect(() => new RootedFs(root.dir, undefined, { mounts: [{ imagePath: 'app', hostPath: project.dir }] })).toThrow(/not an absolute path/);
    expect(() => new RootedFs(root.dir, undefined, { mounts: [{ imagePath: '/', hostPath: project.dir }] })).toThrow(/not an absolute path/);
    expect(
      () =>
        new RootedFs(root.dir, undefined, {
          mounts: [
            { imagePath: '/app', hostPath: project.dir },
            { imagePath: '/app/', hostPath: root.dir },
          ],
        }),
    ).toThrow(/Two mounts at \/app/);
  });
});

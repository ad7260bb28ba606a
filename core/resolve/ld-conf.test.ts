import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cacheAbiFor, lookupLdCache, readLdCache, type LdCache, type LdCacheEntry } from './ld-cache';
import { buildCacheView, ldconfigBuiltinDirs, readLdSoConf } from './ld-conf';
import { EM_386, EM_AARCH64, EM_X86_64 } from './loader-defaults';
import { RootedFs } from './rooted-fs';
import { HAS_GCC, HAS_GCC_M32, LDCONFIG_PREFIX, recordingIo, TempRoot } from './test-support/sysroot-fixtures';

const X86_64 = cacheAbiFor(EM_X86_64, 64);
const I386 = cacheAbiFor(EM_386, 32);

describe('readLdSoConf', () => {
  let root: TempRoot;

  beforeAll(() => {
    root = new TempRoot();
    root.write(
      'etc/ld.so.conf',
      [
        '# comment line',
        '   ',
        'include /etc/ld.so.conf.d/*.conf /etc/extra.d/*.conf',
        '/opt/after-include   # trailing comment',
        'hwcap 1 nosegneg',
        'HWCAP 2 other',
        '/opt/trailing///   ',
        '\t/opt/indented',
        '/opt/after-include',
        '/',
        '/opt/typed=libc6',
        'includes-not-a-directive',
        '',
      ].join('\n'),
    );
    root.write('etc/ld.so.conf.d/20-second.conf', '/opt/second\ninclude nested/*.conf\n/opt/second-after\n');
    root.write('etc/ld.so.conf.d/10-first.conf', '/opt/first\n');
    root.write('etc/ld.so.conf.d/nested/inner.conf', '/opt/nested\n');
    root.write('etc/ld.so.conf.d/30-off.conf.disabled', '/opt/disabled\n');
    root.write('etc/extra.d/a.conf', '/opt/extra\n');
    // An include cycle: ldconfig itself would recurse until it runs out of file descriptors.
    root.write('etc/ld.so.conf.d/40-cycle.conf', 'include /etc/ld.so.conf\n/opt/cycle\n');
    // An absolute link to a config file must be read inside the root.
    root.write('etc/linked/real.conf', '/opt/linked\n');
    root.symlink('/etc/linked/real.conf', 'etc/extra.d/b.conf');
  });

  afterAll(() => root.remove());

  it('expands includes in place and in order', () => {
    const warnings: string[] = [];
    const { io, paths } = recordingIo();
    const dirs = readLdSoConf(new RootedFs(root.dir, io), { warnings });

    expect(dirs).toEqual([
      '/opt/first',
      '/opt/second',
      '/opt/nested',
      '/opt/second-after',
      '/opt/cycle',
      '/opt/extra',
      '/opt/linked',
      '/opt/after-include',
      '/opt/trailing',
      '/opt/indented',
      '/opt/typed',
      'includes-not-a-directive',
    ]);
    expect(warnings.filter((warning) => warning.includes('hwcap directive ignored'))).toHaveLength(2);
    expect(warnings.some((warning) => warning.includes('already being read'))).toBe(true);
    expect(paths.every((hostPath) => hostPath === root.dir || hostPath.startsWith(root.dir + '/'))).toBe(true);
  });

  it('returns nothing without ld.so.conf', () => {
    const empty = new TempRoot();
    try {
      const warnings: string[] = [];
      expect(readLdSoConf(new RootedFs(empty.dir), { warnings })).toEqual([]);
      expect(warnings).toEqual([]);
    } finally {
      empty.remove();
    }
  });

  it('reads another top-level file', () => {
    expect(readLdSoConf(new RootedFs(root.dir), { path: '/etc/extra.d/a.conf' })).toEqual(['/opt/extra']);
  });
});

describe('ldconfigBuiltinDirs', () => {
  it('uses the Debian list when the root has multiarch folders', () => {
    const root = new TempRoot();
    try {
      root.mkdir('usr/lib/x86_64-linux-gnu');
      expect(ldconfigBuiltinDirs(new RootedFs(root.dir), X86_64)).toEqual(['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib']);
    } finally {
      root.remove();
    }
  });

  it('expands upstream slibdir and libdir per port', () => {
    const root = new TempRoot();
    try {
      const rooted = new RootedFs(root.dir);
      expect(ldconfigBuiltinDirs(rooted, X86_64)).toEqual(['/lib', '/lib64', '/libx32', '/usr/lib', '/usr/lib64', '/usr/libx32']);
      expect(ldconfigBuiltinDirs(rooted, cacheAbiFor(EM_AARCH64, 64))).toEqual(['/lib', '/lib64', '/usr/lib', '/usr/lib64']);
      expect(ldconfigBuiltinDirs(rooted, I386)).toEqual(['/lib', '/usr/lib']);
    } finally {
      root.remove();
    }
  });
});

/** Returns the entries with one flags value, as comparable records. */
function abiEntries(cache: LdCache, flags: number): Pick<LdCacheEntry, 'key' | 'value' | 'flags' | 'hwcapsSubdir' | 'isaLevel'>[] {
  return cache.entries
    .filter((entry) => entry.flags === flags)
    .map((entry) => ({
      key: entry.key,
      value: entry.value,
      flags: entry.flags,
      ...(entry.hwcapsSubdir !== undefined ? { hwcapsSubdir: entry.hwcapsSubdir } : {}),
      ...(entry.isaLevel !== undefined ? { isaLevel: entry.isaLevel } : {}),
    }));
}

describe.skipIf(!HAS_GCC || !LDCONFIG_PREFIX)('buildCacheView against ldconfig -r', () => {
  let root: TempRoot;

  beforeAll(() => {
    root = new TempRoot();
    root.write('etc/ld.so.conf', 'include /etc/ld.so.conf.d/*.conf\n/opt/late/\n');
    root.write('etc/ld.so.conf.d/10-ab.conf', '/opt/a\n/opt/b/\n# /opt/commented\n');
    root.write('etc/ld.so.conf.d/20-misc.conf', 'include sub/*.conf\n/opt/c\n/opt/missing\n');
    root.write('etc/ld.so.conf.d/sub/nested.conf', '/opt/nested\n/opt/alias\n');
    root.write('etc/ld.so.conf.d/30-off.conf.disabled', '/opt/disabled\n');
    root.write('etc/ld.so.conf.d/40-hw.conf', '/opt/hw\n/opt/hwonly\n/opt/isa\n');

    // Debian multiarch built-in folders, merged-/usr style.
    root.lib('usr/lib/x86_64-linux-gnu/libdef.so.1', 'libdef.so.1');
    root.lib('usr/lib/x86_64-linux-gnu/libz.so.1.2.13', 'libz.so.1');
    root.symlink('libz.so.1.2.13', 'usr/lib/x86_64-linux-gnu/libz.so.1');
    root.symlink('libz.so.1', 'usr/lib/x86_64-linux-gnu/libz.so');
    root.write('usr/lib/x86_64-linux-gnu/libc.so', '/* GNU ld script */\nGROUP ( libc.so.6 )\n');
    root.symlink('usr/lib', 'lib');

    root.lib('opt/a/libdup.so.1', 'libdup.so.1');
    root.lib('opt/b/libdup.so.1', 'libdup.so.1');
    root.lib('opt/b/libnosoname.so', undefined);
    root.lib('opt/c/libsym.so.1.2.3', 'libsym.so.1');
    root.symlink('libsym.so.1.2.3', 'opt/c/libsym.so.1');
    root.symlink('libsym.so.1', 'opt/c/libsym.so');
    // A link that is neither the soname nor a .so link counts as its own implementation.
    root.symlink('libsym.so.1.2.3', 'opt/c/libsym.so.1.2');
    // Two files with one soname: the numerically newer name wins.
    root.lib('opt/c/libver.so.1.2.9', 'libver.so.1');
    root.lib('opt/c/libver.so.1.2.10', 'libver.so.1');
    root.lib('opt/c/libother.so.1', 'libreal.so.7');
    root.write('opt/c/libtiny.so.1', 'tiny');
    root.lib('opt/c/notalib.so.1', 'notalib.so.1');
    root.lib('opt/nested/libnested.so.1', 'libnested.so.1');
    root.lib('opt/disabled/libdisabled.so.1', 'libdisabled.so.1');
    root.lib('opt/late/liblate.so.1', 'liblate.so.1');
    // The same folder twice under two names: ldconfig keeps the first by device and inode.
    root.symlink('/opt/nested', 'opt/alias');

    root.lib('opt/hw/libhw.so.1', 'libhw.so.1');
    root.lib('opt/hw/glibc-hwcaps/x86-64-v2/libhw.so.1', 'libhw.so.1');
    root.lib('opt/hw/glibc-hwcaps/x86-64-v3/libhw.so.1', 'libhw.so.1', ['-Wl,-z,x86-64-v3']);
    root.lib('opt/hw/glibc-hwcaps/x86-64-v9/libhw.so.1', 'libhw.so.1');
    root.lib('opt/hw/glibc-hwcaps/.hidden/libhw.so.1', 'libhw.so.1');
    root.lib('opt/hwonly/glibc-hwcaps/x86-64-v2/libhwonly.so.1', 'libhwonly.so.1');
    root.lib('opt/isa/libisa.so.1', 'libisa.so.1');
    // Marked as needing x86-64-v4 but placed in the v2 folder: only a v4 CPU may use it.
    root.lib('opt/isa/glibc-hwcaps/x86-64-v2/libisa.so.1', 'libisa.so.1', ['-Wl,-z,x86-64-v4']);
    if (HAS_GCC_M32) root.lib('opt/b/libm32.so.1', 'libm32.so.1', ['-m32']);
  });

  afterAll(() => root.remove());

  it('matches the cache ldconfig writes', () => {
    const rooted = new RootedFs(root.dir);
    const before = buildCacheView(rooted, readLdSoConf(rooted), X86_64);

    // -X keeps ldconfig from creating links, so the root stays as the view saw it.
    root.ldconfig(['-X']);
    rooted.clearCache();
    const written = readLdCache(rooted) as LdCache;

    expect(abiEntries(before, 0x0303)).toEqual(abiEntries(written, 0x0303));
    expect(before.hwcapsNames).toEqual(['x86-64-v2', 'x86-64-v3', 'x86-64-v9']);
    // ldconfig 2.36 flags an i386 library without DT_NEEDED libc.so.6 as 0x0001, newer ones as
    // 0x0003; the i386 loader accepts both, so compare what its lookups return.
    const i386Keys = written.entries.filter((entry) => I386.accepted.includes(entry.flags)).map((entry) => entry.key);
    if (HAS_GCC_M32) expect(i386Keys).toContain('libm32.so.1');
    for (const key of i386Keys) {
      expect(lookupLdCache(before, key, I386, { isaLevel: 1 })?.path, key).toBe(lookupLdCache(written, key, I386, { isaLevel: 1 })?.path);
    }
  });

  it('matches ldconfig after it creates links', () => {
    root.ldconfig();
    const rooted = new RootedFs(root.dir);
    const view = buildCacheView(rooted, readLdSoConf(rooted), X86_64);
    const written = readLdCache(rooted) as LdCache;
    expect(abiEntries(view, 0x0303)).toEqual(abiEntries(written, 0x0303));
  });

  it('answers lookups like the real cache', () => {
    const rooted = new RootedFs(root.dir);
    const view = buildCacheView(rooted, readLdSoConf(rooted), X86_64);
    const find = (name: string, isaLevel: 1 | 2 | 3 | 4 = 1) => lookupLdCache(view, name, X86_64, { isaLevel })?.path;

    expect(find('libdup.so.1')).toBe('/opt/a/libdup.so.1');
    expect(find('libnested.so.1')).toBe('/opt/nested/libnested.so.1');
    expect(find('libdisabled.so.1')).toBeUndefined();
    expect(find('libdef.so.1')).toBe('/lib/x86_64-linux-gnu/libdef.so.1');
    expect(find('libz.so')).toBe('/lib/x86_64-linux-gnu/libz.so');
    expect(find('libz.so.1')).toBe('/lib/x86_64-linux-gnu/libz.so.1');
    expect(find('libver.so.1')).toBe('/opt/c/libver.so.1');
    expect(find('libreal.so.7')).toBe('/opt/c/libreal.so.7');
    // A lookup by file name that is no soname misses the cache.
    expect(find('libother.so.1')).toBeUndefined();
    expect(find('libnosoname.so')).toBe('/opt/b/libnosoname.so');
    expect(find('notalib.so.1')).toBeUndefined();
    expect(find('libhw.so.1', 1)).toBe('/opt/hw/libhw.so.1');
    expect(find('libhw.so.1', 2)).toBe('/opt/hw/glibc-hwcaps/x86-64-v2/libhw.so.1');
    expect(find('libhw.so.1', 4)).toBe('/opt/hw/glibc-hwcaps/x86-64-v3/libhw.so.1');
    expect(find('libhwonly.so.1', 1)).toBeUndefined();
    expect(find('libhwonly.so.1', 3)).toBe('/opt/hwonly/glibc-hwcaps/x86-64-v2/libhwonly.so.1');
    expect(find('libisa.so.1', 3)).toBe('/opt/isa/libisa.so.1');
    expect(find('libisa.so.1', 4)).toBe('/opt/isa/glibc-hwcaps/x86-64-v2/libisa.so.1');
  });

  it('names the file behind a missing soname link', () => {
    const fresh = new TempRoot();
    try {
      fresh.write('etc/ld.so.conf', '/opt/c\n');
      fresh.lib('opt/c/libsym.so.1.2.3', 'libsym.so.1');
      const view = buildCacheView(new RootedFs(fresh.dir), ['/opt/c'], X86_64, { builtinDirs: [] });
      const entry = lookupLdCache(view, 'libsym.so.1', X86_64, { isaLevel: 1 })?.entry;
      expect(entry?.value).toBe('/opt/c/libsym.so.1');
      expect(entry?.sonameLinkTarget).toBe('libsym.so.1.2.3');
      expect(fs.existsSync(fresh.path('opt/c/libsym.so.1'))).toBe(false);
    } finally {
      fresh.remove();
    }
  });

  it('skips package manager temporary files', () => {
    // glibc 2.39 and later; older ldconfig versions cached these files too.
    const fresh = new TempRoot();
    try {
      fresh.lib('opt/t/libtemp.so.1.dpkg-new', 'libtemp.so.1');
      fresh.lib('opt/t/libtemp.so.2;5f3a', 'libtemp.so.2');
      fresh.lib('opt/t/libkeep.so.1', 'libkeep.so.1');
      const view = buildCacheView(new RootedFs(fresh.dir), ['/opt/t'], X86_64, { builtinDirs: [] });
      expect(view.entries.map((entry) => entry.key)).toEqual(['libkeep.so.1']);
    } finally {
      fresh.remove();
    }
  });

  it('without a cache searches only the view it is given', () => {
    const rooted = new RootedFs(root.dir);
    const confOnly = buildCacheView(rooted, readLdSoConf(rooted), X86_64, { builtinDirs: [] });
    expect(lookupLdCache(confOnly, 'libdef.so.1', X86_64, { isaLevel: 1 })).toBeUndefined();
    expect(lookupLdCache(confOnly, 'libdup.so.1', X86_64, { isaLevel: 1 })?.path).toBe('/opt/a/libdup.so.1');
  });
});

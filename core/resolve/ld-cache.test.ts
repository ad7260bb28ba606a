import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  cacheAbiFor,
  compareLibraryNames,
  formatCacheEntry,
  isCacheUsable,
  LdCacheError,
  lookupLdCache,
  parseLdCache,
  readLdCache,
  type LdCache,
} from './ld-cache';
import { EM_386, EM_AARCH64, EM_ARM, EM_LOONGARCH, EM_MIPS, EM_PPC, EM_PPC64, EM_RISCV, EM_S390, EM_SPARCV9, EM_X86_64 } from './loader-defaults';
import { RootedFs } from './rooted-fs';
import { HAS_GCC, HAS_GCC_M32, LDCONFIG, LDCONFIG_PREFIX, ldconfigPrint, TempRoot } from './test-support/sysroot-fixtures';

const X86_64 = cacheAbiFor(EM_X86_64, 64);
const X32 = cacheAbiFor(EM_X86_64, 32);
const I386 = cacheAbiFor(EM_386, 32);
const HOST_CACHE = '/etc/ld.so.cache';
const HAS_HOST_CACHE = process.platform === 'linux' && process.arch === 'x64' && LDCONFIG !== undefined && fs.existsSync(HOST_CACHE);

describe('cacheAbiFor', () => {
  it('maps each port to its accepted flags', () => {
    const cases: [string, ReturnType<typeof cacheAbiFor>, number[], number][] = [
      ['x86_64', X86_64, [0x0303], 0x0303],
      ['x32', X32, [0x0803], 0x0803],
      ['i386', I386, [0x0003, 0x0001], 0x0003],
      ['aarch64', cacheAbiFor(EM_AARCH64, 64), [0x0a03], 0x0a03],
      ['armhf', cacheAbiFor(EM_ARM, 32, 0x05000400), [0x0903, 0x0003], 0x0003],
      ['armel', cacheAbiFor(EM_ARM, 32, 0x05000200), [0x0b03, 0x0003], 0x0003],
      ['ppc64le', cacheAbiFor(EM_PPC64, 64), [0x0503], 0x0503],
      ['ppc32', cacheAbiFor(EM_PPC, 32), [0x0003, 0x0001], 0x0003],
      ['s390x', cacheAbiFor(EM_S390, 64), [0x0403], 0x0403],
      ['sparc64', cacheAbiFor(EM_SPARCV9, 64), [0x0103], 0x0103],
      ['riscv64 lp64d', cacheAbiFor(EM_RISCV, 64, 0x0005), [0x1003], 0x1003],
      ['riscv64 lp64', cacheAbiFor(EM_RISCV, 64, 0x0001), [0x0f03], 0x0f03],
      ['loongarch64', cacheAbiFor(EM_LOONGARCH, 64, 0x43), [0x1203], 0x1203],
      ['loongarch64 soft', cacheAbiFor(EM_LOONGARCH, 64, 0x41), [0x1103], 0x1103],
      ['mips64el n64', cacheAbiFor(EM_MIPS, 64), [0x0703], 0x0703],
      ['mips n32', cacheAbiFor(EM_MIPS, 32, 0x20), [0x0603], 0x0603],
      ['mips n64 nan2008', cacheAbiFor(EM_MIPS, 64, 0x400), [0x0e03], 0x0e03],
      ['mips o32', cacheAbiFor(EM_MIPS, 32), [0x0003, 0x0001], 0x0003],
    ];
    for (const [name, abi, accepted, preferred] of cases) {
      expect(abi.accepted, name).toEqual(accepted);
      expect(abi.preferred, name).toBe(preferred);
    }
    expect(X86_64.hwcapsSubdirs).toEqual(['x86-64-v4', 'x86-64-v3', 'x86-64-v2']);
    expect(cacheAbiFor(EM_PPC64, 64, 0, 'little').hwcapsSubdirs).toEqual(['power10', 'power9']);
    expect(cacheAbiFor(EM_S390, 64).byteOrder).toBe('big');
  });
});

describe('compareLibraryNames', () => {
  it('compares digit runs as numbers', () => {
    expect(compareLibraryNames('libfoo.so.01', 'libfoo.so.1')).toBe(0);
    expect(compareLibraryNames('libfoo.so.10', 'libfoo.so.9')).toBeGreaterThan(0);
    expect(compareLibraryNames('libfoo.so.1', 'libfoo.so.1.2')).toBeLessThan(0);
    expect(compareLibraryNames('libfoo.so.1', 'libfoo.so.a')).toBeGreaterThan(0);
    expect(compareLibraryNames('libc.so.6', 'libc.so.6')).toBe(0);
    expect(compareLibraryNames('', 'a')).toBeLessThan(0);
  });
});

describe('parseLdCache errors', () => {
  it('rejects a file that is not a cache', () => {
    const error = captureError(() => parseLdCache(Buffer.from('GROUP ( libc.so.6 )\n')));
    expect(error).toBeInstanceOf(LdCacheError);
    expect(error?.message).toContain('Not an ld.so.cache file');
    expect((error as LdCacheError).offset).toBe(0);
  });

  it('rejects an entry count larger than the file', () => {
    const bytes = new Uint8Array(64);
    bytes.set(Buffer.from('glibc-ld.so.cache1.1'));
    new DataView(bytes.buffer).setUint32(20, 1000, true);
    bytes[28] = 2;
    const error = captureError(() => parseLdCache(bytes));
    expect(error).toBeInstanceOf(LdCacheError);
    expect((error as LdCacheError).offset).toBe(20);
    expect(error?.message).toContain('lists 1000 entries');
  });

  it('rejects a string offset past the end', () => {
    const bytes = new Uint8Array(48 + 24 + 8);
    bytes.set(Buffer.from('glibc-ld.so.cache1.1'));
    const view = new DataView(bytes.buffer);
    view.setUint32(20, 1, true);
    bytes[28] = 2;
    view.setInt32(48, 0x303, true);
    view.setUint32(52, 9999, true);
    const error = captureError(() => parseLdCache(bytes));
    expect(error).toBeInstanceOf(LdCacheError);
    expect((error as LdCacheError).offset).toBe(48);
    expect(error?.message).toContain('entry 0 key');
  });
});

describe.skipIf(!HAS_HOST_CACHE)("this host's ld.so.cache", () => {
  let cache: LdCache;

  beforeAll(() => {
    cache = parseLdCache(fs.readFileSync(HOST_CACHE));
  });

  it('matches ldconfig -p line by line', () => {
    const printed = ldconfigPrint();
    expect(printed.header).toBe(`${cache.entries.length} libs found in cache \`${HOST_CACHE}'`);
    expect(cache.entries.map(formatCacheEntry)).toEqual(printed.entries.map((entry) => `${entry.key} (${entry.label}) => ${entry.value}`));
    expect(cache.generator).toBe(printed.generator);
    expect(cache.format).toBe('new');
    expect(cache.byteOrder).toBe('little');
    expect(cache.endianFlag).toBe(2);
  });

  it('is read through RootedFs', () => {
    const viaRoot = readLdCache(new RootedFs('/'));
    expect(viaRoot?.entries.length).toBe(cache.entries.length);
    expect(readLdCache(new RootedFs('/'), { path: '/etc/no-such-ld.so.cache' })).toBeUndefined();
  });

  it('filters libm.so.6 by ABI', () => {
    const printed = ldconfigPrint().entries.filter((entry) => entry.key === 'libm.so.6');
    const x86_64Path = printed.find((entry) => entry.label === 'libc6,x86-64')?.value;
    const i386Path = printed.find((entry) => entry.label === 'libc6')?.value;
    expect(x86_64Path).toBeDefined();
    expect(lookupLdCache(cache, 'libm.so.6', X86_64, { isaLevel: 1 })?.path).toBe(x86_64Path);
    expect(lookupLdCache(cache, 'libm.so.6', X86_64, { isaLevel: 4 })?.path).toBe(x86_64Path);
    if (i386Path !== undefined) {
      expect(lookupLdCache(cache, 'libm.so.6', I386, { isaLevel: 1 })?.path).toBe(i386Path);
      expect(i386Path).not.toBe(x86_64Path);
    }
    const x32Path = printed.find((entry) => entry.label === 'libc6,x32')?.value;
    if (x32Path !== undefined) expect(lookupLdCache(cache, 'libm.so.6', X32, { isaLevel: 1 })?.path).toBe(x32Path);
  });

  it('matches names numerically', () => {
    const expected = lookupLdCache(cache, 'libc.so.6', X86_64, { isaLevel: 1 })?.path;
    expect(expected).toBeDefined();
    expect(lookupLdCache(cache, 'libc.so.06', X86_64, { isaLevel: 1 })?.path).toBe(expected);
    expect(lookupLdCache(cache, 'libc.so.7', X86_64, { isaLevel: 1 })).toBeUndefined();
    expect(lookupLdCache(cache, 'no-such-library.so.1', X86_64, { isaLevel: 1 })).toBeUndefined();
  });

  it('takes an ELF-flagged entry for i386', () => {
    const printed = ldconfigPrint().entries.filter((entry) => entry.key === 'ld-linux.so.2');
    if (printed.length === 0) return;
    // ld.so 2.37+ keeps the first accepted plain entry; sorted caches list it first.
    expect(lookupLdCache(cache, 'ld-linux.so.2', I386, { isaLevel: 1 })?.path).toBe(printed[0]?.value);
    expect(lookupLdCache(cache, 'ld-linux.so.2', X86_64, { isaLevel: 1 })).toBeUndefined();
  });

  it('is ignored by a loader of the other byte order', () => {
    const bigEndian = { ...X86_64, byteOrder: 'big' as const };
    expect(isCacheUsable(cache, bigEndian)).toBe(false);
    expect(lookupLdCache(cache, 'libc.so.6', bigEndian, { isaLevel: 1 })).toBeUndefined();
  });

  it('survives truncation and byte mutations', () => {
    const original = fs.readFileSync(HOST_CACHE);
    let parsed = 0;
    let rejected = 0;
    const attempt = (bytes: Uint8Array): void => {
      try {
        const result = parseLdCache(bytes);
        parsed += 1;
        lookupLdCache(result, 'libc.so.6', X86_64, { isaLevel: 3 });
      } catch (error) {
        if (!(error instanceof LdCacheError)) throw error;
        rejected += 1;
      }
    };

    const step = Math.max(1, Math.floor(original.length / 400));
    for (let length = 0; length < original.length; length += step) attempt(original.subarray(0, length));
    for (const length of [0, 1, 11, 16, 19, 20, 47, 48, 49, 72]) attempt(original.subarray(0, length));

    // A seeded generator keeps failures reproducible.
    let seed = 0x12345678;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 400; round += 1) {
      const mutated = Uint8Array.from(original);
      const changes = 1 + Math.floor(random() * 8);
      for (let change = 0; change < changes; change += 1) {
        // Half the changes hit the header and entry table, where counts and offsets live.
        const limit = random() < 0.5 ? Math.min(mutated.length, 48 + 24 * 40) : mutated.length;
        mutated[Math.floor(random() * limit)] = Math.floor(random() * 256);
      }
      attempt(mutated);
    }

    expect(rejected).toBeGreaterThan(0);
    expect(parsed).toBeGreaterThan(0);
  });
});

describe.skipIf(!HAS_GCC || !LDCONFIG_PREFIX)('caches written by ldconfig -r', () => {
  let root: TempRoot;
  let rooted: RootedFs;
  let cache: LdCache;

  beforeAll(() => {
    root = new TempRoot();
    // ld.so.conf with includes, a nested relative include, comments and a .disabled file.
    root.write('etc/ld.so.conf', '# system config\ninclude /etc/ld.so.conf.d/*.conf\n\n/opt/late   # after the includes\n');
    root.write('etc/ld.so.conf.d/10-ab.conf', '/opt/a\n/opt/b/\n');
    root.write('etc/ld.so.conf.d/20-misc.conf', 'include sub/*.conf\n/opt/c\n');
    root.write('etc/ld.so.conf.d/sub/nested.conf', '/opt/nested\n');
    root.write('etc/ld.so.conf.d/30-off.conf.disabled', '/opt/disabled\n');
    root.write('etc/ld.so.conf.d/40-hw.conf', '/opt/hw\n/opt/hwonly\n');

    root.lib('opt/a/libdup.so.1', 'libdup.so.1');
    root.lib('opt/b/libdup.so.1', 'libdup.so.1');
    root.lib('opt/b/libbonly.so.2', 'libbonly.so.2');
    root.lib('opt/c/libsym.so.1.2.3', 'libsym.so.1');
    root.symlink('libsym.so.1', 'opt/c/libsym.so');
    root.lib('opt/nested/libnested.so.1', 'libnested.so.1');
    root.lib('opt/disabled/libdisabled.so.1', 'libdisabled.so.1');
    root.lib('opt/late/liblate.so.1', 'liblate.so.1');

    root.lib('opt/hw/libhw.so.1', 'libhw.so.1');
    root.lib('opt/hw/glibc-hwcaps/x86-64-v2/libhw.so.1', 'libhw.so.1');
    root.lib('opt/hw/glibc-hwcaps/x86-64-v3/libhw.so.1', 'libhw.so.1');
    root.lib('opt/hwonly/glibc-hwcaps/x86-64-v2/libhwonly.so.1', 'libhwonly.so.1');
    if (HAS_GCC_M32) root.lib('opt/b/libm32.so.1', 'libm32.so.1', ['-m32']);

    root.ldconfig();
    rooted = new RootedFs(root.dir);
    cache = readLdCache(rooted) as LdCache;
  });

  afterAll(() => root.remove());

  it('matches ldconfig -p for the fixture', () => {
    const printed = ldconfigPrint(root.path('etc/ld.so.cache'));
    expect(cache.entries.map(formatCacheEntry)).toEqual(printed.entries.map((entry) => `${entry.key} (${entry.label}) => ${entry.value}`));
    expect(cache.hwcapsNames).toEqual(['x86-64-v2', 'x86-64-v3']);
  });

  it('honours include order and comments', () => {
    const find = (name: string): string | undefined => lookupLdCache(cache, name, X86_64, { isaLevel: 1 })?.path;
    expect(find('libdup.so.1')).toBe('/opt/a/libdup.so.1');
    expect(find('libbonly.so.2')).toBe('/opt/b/libbonly.so.2');
    expect(find('libnested.so.1')).toBe('/opt/nested/libnested.so.1');
    expect(find('liblate.so.1')).toBe('/opt/late/liblate.so.1');
    expect(find('libdisabled.so.1')).toBeUndefined();
    expect(find('libsym.so.1')).toBe('/opt/c/libsym.so.1');
    const real = rooted.resolve('/opt/c/libsym.so.1');
    expect(real.ok ? real.path : real.message).toBe('/opt/c/libsym.so.1.2.3');
  });

  it('adds a .so link once its target exists', () => {
    // On the first run libsym.so -> libsym.so.1 dangled, because ldconfig creates libsym.so.1 after its scan.
    expect(lookupLdCache(cache, 'libsym.so', X86_64, { isaLevel: 1 })).toBeUndefined();

    root.ldconfig();
    rooted.clearCache();
    const rerun = readLdCache(rooted) as LdCache;
    expect(lookupLdCache(rerun, 'libsym.so', X86_64, { isaLevel: 1 })?.path).toBe('/opt/c/libsym.so');
  });

  it('picks glibc-hwcaps entries by ISA level', () => {
    const find = (name: string, isaLevel: 1 | 2 | 3 | 4) => lookupLdCache(cache, name, X86_64, { isaLevel });
    expect(find('libhw.so.1', 1)?.path).toBe('/opt/hw/libhw.so.1');
    expect(find('libhw.so.1', 2)?.path).toBe('/opt/hw/glibc-hwcaps/x86-64-v2/libhw.so.1');
    expect(find('libhw.so.1', 3)?.path).toBe('/opt/hw/glibc-hwcaps/x86-64-v3/libhw.so.1');
    expect(find('libhw.so.1', 3)?.hwcaps).toBe('x86-64-v3');
    expect(find('libhw.so.1', 4)?.path).toBe('/opt/hw/glibc-hwcaps/x86-64-v3/libhw.so.1');
    expect(find('libhwonly.so.1', 1)).toBeUndefined();
    expect(find('libhwonly.so.1', 2)?.path).toBe('/opt/hwonly/glibc-hwcaps/x86-64-v2/libhwonly.so.1');
    expect(find('libhwonly.so.1', 4)?.path).toBe('/opt/hwonly/glibc-hwcaps/x86-64-v2/libhwonly.so.1');
    // An explicit list replaces the level's default subdirectories.
    expect(lookupLdCache(cache, 'libhw.so.1', X86_64, { isaLevel: 4, hwcapsSubdirs: ['x86-64-v2'] })?.path).toBe(
      '/opt/hw/glibc-hwcaps/x86-64-v2/libhw.so.1',
    );
  });

  it.skipIf(!HAS_GCC_M32)('keeps i386 entries away from x86_64', () => {
    expect(lookupLdCache(cache, 'libm32.so.1', X86_64, { isaLevel: 1 })).toBeUndefined();
    expect(lookupLdCache(cache, 'libm32.so.1', I386, { isaLevel: 1 })?.path).toBe('/opt/b/libm32.so.1');
  });

  it('returns a stale entry without a second try', () => {
    const stale = new TempRoot();
    try {
      stale.write('etc/ld.so.conf', '/opt/a\n/opt/b\n');
      stale.lib('opt/a/libdup.so.1', 'libdup.so.1');
      stale.lib('opt/b/libdup.so.1', 'libdup.so.1');
      stale.ldconfig();
      fs.rmSync(stale.path('opt/a/libdup.so.1'));

      const staleFs = new RootedFs(stale.dir);
      const staleCache = readLdCache(staleFs) as LdCache;
      const hit = lookupLdCache(staleCache, 'libdup.so.1', X86_64, { isaLevel: 1 });
      expect(hit?.path).toBe('/opt/a/libdup.so.1');
      expect(staleFs.exists(hit?.path ?? '')).toBe(false);
    } finally {
      stale.remove();
    }
  });

  it('parses the compat and old formats', () => {
    root.ldconfig(['-c', 'compat', '-C', '/etc/ld.so.cache.compat']);
    root.ldconfig(['-c', 'old', '-C', '/etc/ld.so.cache.old']);
    rooted.clearCache();

    const compat = readLdCache(rooted, { path: '/etc/ld.so.cache.compat' }) as LdCache;
    expect(compat.format).toBe('compat');
    expect(compat.entries.map(formatCacheEntry)).toEqual(
      ldconfigPrint(root.path('etc/ld.so.cache.compat')).entries.map((entry) => `${entry.key} (${entry.label}) => ${entry.value}`),
    );
    expect(lookupLdCache(compat, 'libdup.so.1', X86_64, { isaLevel: 1 })?.path).toBe('/opt/a/libdup.so.1');

    const old = readLdCache(rooted, { path: '/etc/ld.so.cache.old' }) as LdCache;
    expect(old.format).toBe('old');
    expect(old.entries.map(formatCacheEntry)).toEqual(
      ldconfigPrint(root.path('etc/ld.so.cache.old')).entries.map((entry) => `${entry.key} (${entry.label}) => ${entry.value}`),
    );
    expect(old.entries.every((entry) => entry.hwcap === 0n)).toBe(true);
    expect(lookupLdCache(old, 'libdup.so.1', X86_64, { isaLevel: 1 })?.path).toBe('/opt/a/libdup.so.1');
    // glibc 2.36 writes glibc-hwcaps entries into the old table too, without their hwcap
    // field, so ld.so takes the first one as a plain entry at any level.
    expect(lookupLdCache(old, 'libhw.so.1', X86_64, { isaLevel: 1 })?.path).toBe(old.entries.find((entry) => entry.key === 'libhw.so.1')?.value);
  });
});

function captureError(action: () => unknown): Error | undefined {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

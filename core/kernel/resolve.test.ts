// resolveKernelRelease: the order of sources, validation errors per source,
// the download from a loopback HTTP server and the offline error. No request
// leaves 127.0.0.1.

import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { KernelDownloadProgress } from './download';
import { KernelReleaseError } from './errors';
import { DEFAULT_NANOS_VERSION } from './release-layout';
import { versionMismatchWarning } from './release-version';
import { resolveKernelRelease, type ResolveKernelOptions } from './resolve';
import {
  buildElf64,
  closedLoopbackPort,
  hasCommand,
  type LoopbackServer,
  makeBootImage,
  makeTempDir,
  md5Hex,
  packWithNodeTar,
  packWithTar,
  removeTempDir,
  type Route,
  sha256Hex,
  startLoopbackServer,
  writeFakeRelease,
} from './test-support/fake-release';

const hasTools = hasCommand('gcc') && hasCommand('tar');
if (!hasTools) console.log('Skipping the kernel release tests: gcc and tar are needed to build fake releases.');

const VERSION = '0.1.55';
const ARCHIVE_PATH = `/${VERSION}/nanos-release-linux-${VERSION}.tar.gz`;
const MD5_PATH = `/${VERSION}/nanos-release-linux-${VERSION}.md5`;

describe.skipIf(!hasTools)('resolveKernelRelease', () => {
  let root: string;
  let elf: Buffer;
  let archive: Buffer;
  let offlineBaseUrl: string;
  let counter = 0;
  const servers: LoopbackServer[] = [];

  beforeAll(async () => {
    root = makeTempDir();
    elf = buildElf64(root);
    const releaseDir = writeFakeRelease(path.join(root, 'packed-release'), { kernel: elf, boot: makeBootImage(), klibs: ['tls', 'ntp'] });
    archive = packWithTar(releaseDir, path.join(root, 'release.tar.gz'));
    offlineBaseUrl = `http://127.0.0.1:${await closedLoopbackPort()}`;
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  afterAll(() => {
    removeTempDir(root);
  });

  /** Fresh, empty ops home and cache folders, an empty environment and an unreachable server. */
  function isolated(overrides: Partial<ResolveKernelOptions> = {}): ResolveKernelOptions & { opsHome: string; cacheDir: string } {
    counter += 1;
    const base = path.join(root, `case-${counter}`);
    return { env: {}, opsHome: path.join(base, 'ops'), cacheDir: path.join(base, 'cache'), baseUrl: offlineBaseUrl, ...overrides };
  }

  function validRelease(dir: string): string {
    return writeFakeRelease(dir, { kernel: elf, boot: makeBootImage(), klibs: ['tls'] });
  }

  async function serve(routes: Record<string, Route>): Promise<LoopbackServer> {
    const server = await startLoopbackServer(routes);
    servers.push(server);
    return server;
  }

  async function rejection(promise: Promise<unknown>): Promise<KernelReleaseError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(KernelReleaseError);
    return error as KernelReleaseError;
  }

  describe('source order', () => {
    it('prefers the kernelDir option', async () => {
      const options = isolated();
      const optionDir = validRelease(path.join(root, `option-${counter}`, '0.1.50'));
      const envDir = validRelease(path.join(root, `env-${counter}`));
      validRelease(path.join(options.opsHome, VERSION));

      const release = await resolveKernelRelease({ ...options, kernelDir: optionDir, env: { NX_UNIKERNEL_NANOS_DIR: envDir } });

      expect(release).toEqual({
        dir: optionDir,
        kernelImg: path.join(optionDir, 'kernel.img'),
        bootImg: path.join(optionDir, 'boot.img'),
        klibDir: path.join(optionDir, 'klibs'),
        uefiLoader: undefined,
        version: '0.1.50',
        source: 'option',
        download: undefined,
      });
    });

    it('uses the environment before the ops folder', async () => {
      const options = isolated();
      const envDir = validRelease(path.join(root, `env-${counter}`));
      validRelease(path.join(options.opsHome, VERSION));

      const release = await resolveKernelRelease({ ...options, env: { NX_UNIKERNEL_NANOS_DIR: envDir } });

      expect(release.source).toBe('env');
      expect(release.dir).toBe(envDir);
      expect(release.version).toBeUndefined();
    });

    it('records the environment folder\'s version, not the requested one', async () => {
      const options = isolated();
      const envDir = validRelease(path.join(root, `env-${counter}`, '0.1.55'));
      validRelease(path.join(options.opsHome, '0.1.54'));

      const release = await resolveKernelRelease({ ...options, version: '0.1.54', env: { NX_UNIKERNEL_NANOS_DIR: envDir } });

      expect(release.source).toBe('env');
      expect(release.version).toBe('0.1.55');
      expect(versionMismatchWarning('0.1.54', release)).toBe(
        `Nanos 0.1.54 was requested, but the release folder ${envDir} from NX_UNIKERNEL_NANOS_DIR takes precedence and contains Nanos 0.1.55, so the image boots 0.1.55. To boot 0.1.54, unset NX_UNIKERNEL_NANOS_DIR or point it at a 0.1.54 release folder, or drop the requested version`,
      );
      expect(versionMismatchWarning('0.1.55', release)).toBeUndefined();
      expect(versionMismatchWarning(undefined, release)).toBeUndefined();
    });

    it('leaves a kernelDir version unknown when its name is not one', async () => {
      const options = isolated();
      const optionDir = validRelease(path.join(root, `option-${counter}`, 'nanos-master'));

      const release = await resolveKernelRelease({ ...options, version: '0.1.54', kernelDir: optionDir });

      expect(release.version).toBeUndefined();
      const warning = versionMismatchWarning('0.1.54', release);
      expect(warning).toContain(`the release folder ${optionDir} from kernelDir (--kernel-dir) takes precedence, and its version is unknown`);
      expect(warning).toContain('To boot 0.1.54, point kernelDir at a 0.1.54 release folder');
    });

    it('gives no version warning for the ops folder', async () => {
      const options = isolated();
      validRelease(path.join(options.opsHome, '0.1.54'));

      const release = await resolveKernelRelease({ ...options, version: '0.1.54' });

      expect(release.version).toBe('0.1.54');
      expect(versionMismatchWarning('0.1.54', release)).toBeUndefined();
    });

    it('uses the ops folder before the download cache', async () => {
      const options = isolated();
      const opsDir = validRelease(path.join(options.opsHome, VERSION));
      validRelease(path.join(options.cacheDir, VERSION));

      const release = await resolveKernelRelease(options);

      expect(release.source).toBe('ops-cache');
      expect(release.dir).toBe(opsDir);
      expect(release.version).toBe(DEFAULT_NANOS_VERSION);
    });

    it('finds the ops folder under OPS_HOME', async () => {
      const options = isolated();
      const opsHomeParent = path.join(root, `ops-home-${counter}`);
      const opsDir = validRelease(path.join(opsHomeParent, '.ops', '0.1.54'));

      const release = await resolveKernelRelease({ ...options, opsHome: undefined, env: { OPS_HOME: opsHomeParent }, version: '0.1.54' });

      expect(release.source).toBe('ops-cache');
      expect(release.dir).toBe(opsDir);
    });

    it('reuses the download cache without a request', async () => {
      const options = isolated();
      const cachedDir = validRelease(path.join(options.cacheDir, VERSION));

      const release = await resolveKernelRelease(options);

      expect(release.source).toBe('download');
      expect(release.dir).toBe(cachedDir);
      expect(release.download).toBeUndefined();
    });

    it('finds the cache under XDG_CACHE_HOME', async () => {
      const options = isolated();
      const xdgCache = path.join(root, `xdg-${counter}`);
      const cachedDir = validRelease(path.join(xdgCache, 'nx-unikernel', 'nanos', VERSION));

      const release = await resolveKernelRelease({ ...options, cacheDir: undefined, env: { XDG_CACHE_HOME: xdgCache } });

      expect(release.dir).toBe(cachedDir);
    });
  });

  describe('invalid sources', () => {
    it('names the kernelDir and what is missing', async () => {
      const dir = writeFakeRelease(path.join(root, `broken-option-${counter}`), { kernel: elf });

      const error = await rejection(resolveKernelRelease({ ...isolated(), kernelDir: dir }));

      expect(error.code).toBe('invalid-release');
      expect(error.message).toBe(
        [
          `The kernelDir ${dir} is not a valid Nanos release folder:`,
          '  - boot.img is missing',
          'Pass a kernelDir (--kernel-dir) that contains kernel.img, boot.img and klibs/ of a Nanos release.',
        ].join('\n'),
      );
    });

    it('names the environment variable', async () => {
      const dir = path.join(root, 'not-there');

      const error = await rejection(resolveKernelRelease({ ...isolated(), env: { NX_UNIKERNEL_NANOS_DIR: dir } }));

      expect(error.code).toBe('invalid-release');
      expect(error.message).toContain(`NX_UNIKERNEL_NANOS_DIR=${dir} is not a valid Nanos release folder:\n  - the folder ${dir} does not exist`);
      expect(error.message).toContain('Point NX_UNIKERNEL_NANOS_DIR at a folder');
    });

    it('rejects an incomplete ops folder', async () => {
      const options = isolated();
      const opsDir = writeFakeRelease(path.join(options.opsHome, VERSION), { boot: Buffer.alloc(512) });

      const error = await rejection(resolveKernelRelease(options));

      expect(error.message).toContain(`The ops release folder ${opsDir} is not a valid Nanos release folder:`);
      expect(error.message).toContain('  - kernel.img is missing\n  - boot.img has no boot signature 0x55 0xAA at offset 510');
      expect(error.message).toContain(`Delete it and let ops unpack the release again (an ops command with --nanos-version ${VERSION})`);
    });

    it('rejects an incomplete download cache', async () => {
      const options = isolated();
      writeFakeRelease(path.join(options.cacheDir, VERSION), { kernel: Buffer.from('not elf'), boot: makeBootImage() });

      const error = await rejection(resolveKernelRelease(options));

      expect(error.message).toContain('  - kernel.img is not an ELF file\nDelete it so the release is downloaded again.');
    });

    it('rejects a malformed version', async () => {
      const error = await rejection(resolveKernelRelease({ ...isolated(), version: '../0.1.55' }));

      expect(error.code).toBe('invalid-version');
      expect(error.message).toBe('Invalid Nanos version "../0.1.55": expected three dot-separated numbers such as "0.1.55".');
    });
  });

  describe('download', () => {
    it('downloads, verifies and caches the release', async () => {
      const server = await serve({ [ARCHIVE_PATH]: { body: archive }, [MD5_PATH]: { body: `${md5Hex(archive)}\n` } });
      const options = isolated({ baseUrl: server.baseUrl });
      const progress: KernelDownloadProgress[] = [];

      const release = await resolveKernelRelease({ ...options, onProgress: (event) => progress.push(event) });

      const target = path.join(options.cacheDir, VERSION);
      expect(release.source).toBe('download');
      expect(release.dir).toBe(target);
      expect(release.version).toBe(VERSION);
      expect(readFileSync(release.kernelImg).equals(elf)).toBe(true);
      expect(readFileSync(release.bootImg).equals(makeBootImage())).toBe(true);
      expect(readdirSync(release.klibDir as string).sort()).toEqual(['ntp', 'tls']);
      expect(release.download).toMatchObject({
        version: VERSION,
        url: `${server.baseUrl}${ARCHIVE_PATH}`,
        archiveBytes: archive.length,
        sha256: sha256Hex(archive),
        md5Check: 'verified',
      });
      expect(server.requests).toEqual([ARCHIVE_PATH, MD5_PATH]);
      expect(readdirSync(options.cacheDir)).toEqual([VERSION]);

      const phases = [...new Set(progress.map((event) => event.phase))];
      expect(phases).toEqual(['download', 'verify', 'extract', 'done']);
      expect(progress.at(-1)).toEqual({ phase: 'done', url: `${server.baseUrl}${ARCHIVE_PATH}`, receivedBytes: archive.length, totalBytes: archive.length });
    });

    it('reuses the download with its record', async () => {
      const server = await serve({ [ARCHIVE_PATH]: { body: archive }, [MD5_PATH]: { body: md5Hex(archive) } });
      const options = isolated({ baseUrl: server.baseUrl });
      const first = await resolveKernelRelease(options);

      const second = await resolveKernelRelease(options);

      expect(server.requests).toHaveLength(2);
      expect(second.dir).toBe(first.dir);
      expect(second.download).toEqual(first.download);
    });

    it('records a missing checksum file', async () => {
      const server = await serve({ [ARCHIVE_PATH]: { body: archive } });

      const release = await resolveKernelRelease(isolated({ baseUrl: server.baseUrl }));

      expect(release.download?.md5Check).toBe('not-published');
      expect(release.download?.sha256).toBe(sha256Hex(archive));
    });

    it('rejects a checksum mismatch', async () => {
      const server = await serve({ [ARCHIVE_PATH]: { body: archive }, [MD5_PATH]: { body: '0123456789abcdef0123456789abcdef\n' } });
      const options = isolated({ baseUrl: server.baseUrl });

      const error = await rejection(resolveKernelRelease(options));

      expect(error.code).toBe('checksum-mismatch');
      expect(error.message).toContain(`its MD5 is ${md5Hex(archive)}, but ${server.baseUrl}${MD5_PATH} publishes 0123456789abcdef0123456789abcdef`);
      expect(readdirSync(options.cacheDir)).toEqual([]);
    });

    it('rejects an archive entry outside the folder', async () => {
      const hostileDir = writeFakeRelease(path.join(root, `escape-${counter}`, 'release'), { kernel: elf });
      writeFileSync(path.join(hostileDir, '..', 'escaped'), 'x');
      const hostile = packWithNodeTar(hostileDir, path.join(root, `escape-${counter}.tar.gz`), ['kernel.img', '../escaped']);
      const server = await serve({ [ARCHIVE_PATH]: { body: hostile } });
      const options = isolated({ baseUrl: server.baseUrl });

      const error = await rejection(resolveKernelRelease(options));

      expect(error.code).toBe('invalid-archive');
      expect(error.message).toContain('the archive entry "../escaped" points outside the release folder');
      expect(existsSync(path.join(options.cacheDir, 'escaped'))).toBe(false);
      expect(readdirSync(options.cacheDir)).toEqual([]);
    });

    it('rejects a symlink in the archive', async () => {
      const hostileDir = path.join(root, `symlink-${counter}`);
      mkdirSync(hostileDir);
      symlinkSync('/etc/passwd', path.join(hostileDir, 'kernel.img'));
      const hostile = packWithNodeTar(hostileDir, path.join(root, `symlink-${counter}.tar.gz`), ['kernel.img']);
      const server = await serve({ [ARCHIVE_PATH]: { body: hostile } });

      const error = await rejection(resolveKernelRelease(isolated({ baseUrl: server.baseUrl })));

      expect(error.code).toBe('invalid-archive');
      expect(error.message).toContain('the archive entry "kernel.img" has tar type "2" (SymbolicLink); a release contains only files and folders');
    });

    it('rejects an archive without boot.img', async () => {
      const incomplete = packWithTar(writeFakeRelease(path.join(root, `no-boot-${counter}`), { kernel: elf }), path.join(root, `no-boot-${counter}.tar.gz`));
      const server = await serve({ [ARCHIVE_PATH]: { body: incomplete } });

      const error = await rejection(resolveKernelRelease(isolated({ baseUrl: server.baseUrl })));

      expect(error.code).toBe('invalid-archive');
      expect(error.message).toBe(`The archive ${server.baseUrl}${ARCHIVE_PATH} is not a Nanos release: boot.img is missing.`);
    });

    it('rejects data that is not gzip', async () => {
      const server = await serve({ [ARCHIVE_PATH]: { body: '<html>maintenance</html>' } });

      const error = await rejection(resolveKernelRelease(isolated({ baseUrl: server.baseUrl })));

      expect(error.code).toBe('invalid-archive');
      expect(error.message).toContain('the archive cannot be decompressed: gzip:');
    });

    it('lists every way when the release is missing', async () => {
      const server = await serve({});

      const error = await rejection(resolveKernelRelease(isolated({ baseUrl: server.baseUrl })));

      expect(error.code).toBe('not-found');
      expect(error.message).toContain(`5. the download from ${server.baseUrl}: Download of ${server.baseUrl}${ARCHIVE_PATH} failed: HTTP status 404 Not Found.`);
    });

    it('fails a stalled download', async () => {
      const server = await serve({ [ARCHIVE_PATH]: { body: archive, stallAfterBytes: 100 } });
      const options = isolated({ baseUrl: server.baseUrl, stallTimeoutMs: 300 });

      const error = await rejection(resolveKernelRelease(options));

      expect(error.code).toBe('not-found');
      expect(error.message).toContain('failed: no data received for 0.3 s.');
      expect(readdirSync(options.cacheDir)).toEqual([]);
    });

    it('fails a download over the total timeout', async () => {
      const server = await serve({ [ARCHIVE_PATH]: { body: archive, stallAfterBytes: 100 } });

      const error = await rejection(resolveKernelRelease(isolated({ baseUrl: server.baseUrl, timeoutMs: 200, stallTimeoutMs: 10_000 })));

      expect(error.message).toContain('failed: timed out after 0.2 s.');
    });
  });

  describe('offline', () => {
    it('lists every way to provide a kernel', async () => {
      const options = isolated();

      const error = await rejection(resolveKernelRelease(options));

      const opsDir = path.join(options.opsHome, VERSION);
      const cachedDir = path.join(options.cacheDir, VERSION);
      const host = new URL(offlineBaseUrl).host;
      expect(error.code).toBe('not-found');
      expect(error.message).toBe(
        [
          `No Nanos kernel release ${VERSION} is available. Looked in, in order:`,
          '  1. the kernelDir option (--kernel-dir): not given',
          '  2. NX_UNIKERNEL_NANOS_DIR: not set',
          `  3. the ops release folder ${opsDir}: does not exist`,
          `  4. the download cache ${cachedDir}: does not exist`,
          `  5. the download from ${offlineBaseUrl}: Download of ${offlineBaseUrl}${ARCHIVE_PATH} failed: connect ECONNREFUSED ${host}.`,
          'Provide a kernel in one of these ways:',
          '  - pass --kernel-dir <folder> (kernelDir in unikernel.json), a folder with kernel.img, boot.img and klibs/ of a Nanos release;',
          '  - set NX_UNIKERNEL_NANOS_DIR=<folder> to such a folder;',
          `  - let ops unpack the release into ${opsDir}: run an ops command with --nanos-version ${VERSION} (ops update installs only the latest release);`,
          `  - allow network access to ${host} so nx-unikernel can download the release.`,
        ].join('\n'),
      );
    });

    it('says when downloads are disabled', async () => {
      const error = await rejection(resolveKernelRelease(isolated({ download: false })));

      expect(error.code).toBe('not-found');
      expect(error.message).toContain(`5. the download from ${offlineBaseUrl}: disabled by the caller`);
    });
  });
});

const realReleaseDir = process.env['NX_UNIKERNEL_NANOS_DIR'];

describe.skipIf(!realReleaseDir)('real Nanos release', () => {
  it('resolves NX_UNIKERNEL_NANOS_DIR', async () => {
    const release = await resolveKernelRelease({ env: { NX_UNIKERNEL_NANOS_DIR: realReleaseDir }, download: false });

    expect(release.source).toBe('env');
    expect(release.kernelImg).toBe(path.join(path.resolve(realReleaseDir as string), 'kernel.img'));
  });
});

// Unpacking release archives: GNU, pax and ustar archives from the system's
// tar, and corrupt or hostile archives built with node-tar.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TarFormatError, unpackReleaseArchive } from './unpack-release';
import { encodeTarEntry, END_OF_ARCHIVE, hasCommand, makeTempDir, packWithNodeTar, packWithTar, removeTempDir } from './test-support/fake-release';

const hasTar = hasCommand('tar');
if (!hasTar) console.log('Skipping the tar format tests: the tar command is not installed.');

const LONG_NAME = `${'deep-folder-name/'.repeat(8)}file-with-a-long-name.txt`;
const MAX_BYTES = 1024 * 1024;

let root: string;
let caseCount = 0;

beforeAll(() => {
  root = makeTempDir('nx-unikernel-unpack-');
});

afterAll(() => {
  removeTempDir(root);
});

/** Creates `<root>/case-N` with an empty `source` folder, for one test's files. */
function makeCaseDir(): { caseDir: string; source: string } {
  caseCount += 1;
  const caseDir = path.join(root, `case-${caseCount}`);
  const source = path.join(caseDir, 'source');
  mkdirSync(source, { recursive: true });
  return { caseDir, source };
}

/** Unpacks `archive` into `<caseDir>/out/release` and returns that folder. */
async function unpackInCase(caseDir: string, archive: Buffer, maxBytes = MAX_BYTES): Promise<string> {
  const archivePath = path.join(caseDir, 'archive.tar.gz');
  writeFileSync(archivePath, archive);
  const destination = path.join(caseDir, 'out', 'release');
  mkdirSync(destination, { recursive: true });
  await unpackReleaseArchive(archivePath, destination, maxBytes);
  return destination;
}

/** Unpacks `archive`, expects a TarFormatError with `message`, and checks that nothing was written into or beside the destination. */
async function expectRejected(caseDir: string, archive: Buffer, message: string, maxBytes = MAX_BYTES): Promise<void> {
  const error: unknown = await unpackInCase(caseDir, archive, maxBytes).then(
    () => undefined,
    (reason: unknown) => reason,
  );

  expect(error).toBeInstanceOf(TarFormatError);
  expect((error as Error).message).toBe(message);
  expect(readdirSync(path.join(caseDir, 'out'))).toEqual(['release']);
  expect(readdirSync(path.join(caseDir, 'out', 'release'))).toEqual([]);
}

describe('unpackReleaseArchive', () => {
  let source: string;

  beforeAll(() => {
    source = makeCaseDir().source;
    mkdirSync(path.join(source, path.dirname(LONG_NAME)), { recursive: true });
    writeFileSync(path.join(source, LONG_NAME), 'long');
    writeFileSync(path.join(source, 'kernel.img'), 'kernel');
    chmodSync(path.join(source, 'kernel.img'), 0o755);
    writeFileSync(path.join(source, 'empty'), '');
  });

  it.skipIf(!hasTar).each([
    ['gnu', ['--format=gnu']],
    ['pax', ['--format=pax']],
    ['ustar', ['--format=ustar']],
  ])('unpacks %s archives from tar', async (format, flags) => {
    const { caseDir } = makeCaseDir();
    const archive = packWithTar(source, path.join(caseDir, `${format}.tar.gz`), flags);

    const destination = await unpackInCase(caseDir, archive);

    expect(readdirSync(destination).sort()).toEqual(['deep-folder-name', 'empty', 'kernel.img']);
    expect(readFileSync(path.join(destination, LONG_NAME), 'utf8')).toBe('long');
    expect(readFileSync(path.join(destination, 'kernel.img'), 'utf8')).toBe('kernel');
    expect(readFileSync(path.join(destination, 'empty'), 'utf8')).toBe('');
    expect(statSync(path.join(destination, 'kernel.img')).mode & 0o100).toBe(0o100);
  });

  it('unpacks archives from node-tar', async () => {
    const { caseDir } = makeCaseDir();
    const archive = packWithNodeTar(source, path.join(caseDir, 'node-tar.tar.gz'), ['kernel.img', 'deep-folder-name']);

    const destination = await unpackInCase(caseDir, archive);

    expect(readdirSync(destination).sort()).toEqual(['deep-folder-name', 'kernel.img']);
    expect(readFileSync(path.join(destination, LONG_NAME), 'utf8')).toBe('long');
  });

  it('clears setuid and world-writable modes', async () => {
    const { caseDir, source: modeSource } = makeCaseDir();
    writeFileSync(path.join(modeSource, 'setuid-tool'), 'tool');
    chmodSync(path.join(modeSource, 'setuid-tool'), 0o4777);
    writeFileSync(path.join(modeSource, 'private'), 'data');
    chmodSync(path.join(modeSource, 'private'), 0o600);
    mkdirSync(path.join(modeSource, 'klibs'));
    chmodSync(path.join(modeSource, 'klibs'), 0o1777);
    const archive = packWithNodeTar(modeSource, path.join(caseDir, 'modes.tar.gz'), ['setuid-tool', 'private', 'klibs']);

    const destination = await unpackInCase(caseDir, archive);

    const toolMode = statSync(path.join(destination, 'setuid-tool')).mode;
    const privateMode = statSync(path.join(destination, 'private')).mode;
    const klibsMode = statSync(path.join(destination, 'klibs')).mode;
    expect(toolMode & 0o7000).toBe(0);
    expect(toolMode & 0o002).toBe(0);
    expect(toolMode & 0o100).toBe(0o100);
    expect(privateMode & 0o111).toBe(0);
    expect(privateMode & 0o400).toBe(0o400);
    expect(klibsMode & 0o7000).toBe(0);
    expect(klibsMode & 0o002).toBe(0);
  });

  it('limits the unpacked size', async () => {
    const { caseDir, source: bigSource } = makeCaseDir();
    writeFileSync(path.join(bigSource, 'big'), Buffer.alloc(10_000));
    const archive = packWithNodeTar(bigSource, path.join(caseDir, 'big.tar.gz'), ['big']);

    await expectRejected(caseDir, archive, 'the archive cannot be decompressed: it unpacks to more than 4096 bytes', 4096);
  });
});

describe('unpackReleaseArchive compression', () => {
  it('rejects data that is not gzip', async () => {
    const { caseDir } = makeCaseDir();

    await expectRejected(caseDir, Buffer.from('<html>maintenance</html>'), 'the archive cannot be decompressed: gzip: incorrect header check');
  });

  it('rejects an uncompressed tar', async () => {
    const { caseDir, source } = makeCaseDir();
    writeFileSync(path.join(source, 'kernel.img'), 'kernel');
    const archive = packWithNodeTar(source, path.join(caseDir, 'plain.tar'), ['kernel.img'], { gzip: false });

    await expectRejected(caseDir, archive, 'the archive cannot be decompressed: gzip: incorrect header check');
  });

  it('rejects a truncated gzip stream', async () => {
    const { caseDir, source } = makeCaseDir();
    writeFileSync(path.join(source, 'kernel.img'), randomBytes(4096));
    const archive = packWithNodeTar(source, path.join(caseDir, 'cut.tar.gz'), ['kernel.img']);

    await expectRejected(caseDir, archive.subarray(0, archive.length / 2), 'the archive cannot be decompressed: gzip: unexpected end of file');
  });

  it('rejects gzip data that is not tar', async () => {
    const { caseDir } = makeCaseDir();

    await expectRejected(
      caseDir,
      gzipSync(Buffer.from('not a tar archive\n')),
      'the tar data is invalid (TAR_BAD_ARCHIVE: Unrecognized archive format), so the archive is corrupt or truncated',
    );
  });
});

describe('unpackReleaseArchive paths', () => {
  it('rejects a ../ entry', async () => {
    const { caseDir, source } = makeCaseDir();
    writeFileSync(path.join(source, 'kernel.img'), 'kernel');
    writeFileSync(path.join(caseDir, 'escape'), 'escape');
    const archive = packWithNodeTar(source, path.join(caseDir, 'escape.tar.gz'), ['kernel.img', '../escape']);

    await expectRejected(caseDir, archive, 'the archive entry "../escape" points outside the release folder');
  });

  it('rejects a .. inside the path', async () => {
    const { caseDir, source } = makeCaseDir();
    mkdirSync(path.join(source, 'klibs'));
    writeFileSync(path.join(caseDir, 'up'), 'up');
    const archive = packWithNodeTar(source, path.join(caseDir, 'up.tar.gz'), ['klibs/../../up']);

    await expectRejected(caseDir, archive, 'the archive entry "klibs/../../up" points outside the release folder');
  });

  it('rejects an absolute path', async () => {
    const { caseDir, source } = makeCaseDir();
    const target = path.join(caseDir, 'absolute.txt');
    writeFileSync(target, 'absolute');
    const archive = packWithNodeTar(source, path.join(caseDir, 'absolute.tar.gz'), [target], { preservePaths: true });
    rmSync(target);

    await expectRejected(caseDir, archive, `the archive entry ${JSON.stringify(target)} points outside the release folder`);
    expect(existsSync(target)).toBe(false);
  });

  it.each([['C:/evil'], ['C:evil'], ['\\evil'], ['klibs\\..\\..\\evil']])('rejects the Windows path %s', async (entryPath) => {
    const { caseDir } = makeCaseDir();
    const archive = gzipSync(Buffer.concat([encodeTarEntry({ path: entryPath, type: 'File' }, Buffer.from('x')), END_OF_ARCHIVE]));

    await expectRejected(caseDir, archive, `the archive entry ${JSON.stringify(entryPath)} points outside the release folder`);
  });
});

describe('unpackReleaseArchive entry types', () => {
  it('rejects a symlink', async () => {
    const { caseDir, source } = makeCaseDir();
    symlinkSync('/etc/passwd', path.join(source, 'kernel.img'));
    const archive = packWithNodeTar(source, path.join(caseDir, 'symlink.tar.gz'), ['kernel.img']);

    await expectRejected(caseDir, archive, 'the archive entry "kernel.img" has tar type "2" (SymbolicLink); a release contains only files and folders');
  });

  it.each([
    ['1', 'Link'],
    ['3', 'CharacterDevice'],
    ['4', 'BlockDevice'],
    ['6', 'FIFO'],
    ['D', 'GNUDumpDir'],
    ['A', 'SolarisACL'],
  ] as const)('rejects tar type %s (%s)', async (typeFlag, type) => {
    const { caseDir } = makeCaseDir();
    const linkpath = type === 'Link' ? 'kernel.img' : undefined;
    const archive = gzipSync(Buffer.concat([encodeTarEntry({ path: 'entry', type, ...(linkpath ? { linkpath } : {}) }), END_OF_ARCHIVE]));

    await expectRejected(caseDir, archive, `the archive entry "entry" has tar type "${typeFlag}" (${type}); a release contains only files and folders`);
  });

  it('rejects an oversized pax record', async () => {
    const { caseDir } = makeCaseDir();
    const paxRecord = encodeTarEntry({ path: 'PaxHeader/kernel.img', type: 'ExtendedHeader' }, randomBytes(2 * 1024 * 1024));
    const archive = gzipSync(Buffer.concat([paxRecord, encodeTarEntry({ path: 'kernel.img', type: 'File' }, Buffer.from('kernel')), END_OF_ARCHIVE]));

    await expectRejected(
      caseDir,
      archive,
      `the archive entry "PaxHeader/kernel.img" is a 2097152-byte ExtendedHeader record, above node-tar's 1 MiB limit for metadata records`,
      4 * 1024 * 1024,
    );
  });
});

describe('unpackReleaseArchive corrupt tar', () => {
  /** Packs one file of `size` random bytes into an uncompressed tar with node-tar. */
  function packOneFile(caseDir: string, source: string, size: number): Buffer {
    writeFileSync(path.join(source, 'kernel.img'), randomBytes(size));
    return packWithNodeTar(source, path.join(caseDir, 'plain.tar'), ['kernel.img'], { gzip: false });
  }

  it('rejects a wrong header checksum', async () => {
    const { caseDir, source } = makeCaseDir();
    const tar = packOneFile(caseDir, source, 10);
    tar[0] = 'K'.charCodeAt(0);

    await expectRejected(caseDir, gzipSync(tar), 'the tar data is invalid (TAR_ENTRY_INVALID: checksum failure), so the archive is corrupt or truncated');
  });

  it('rejects truncated data', async () => {
    const { caseDir, source } = makeCaseDir();
    const tar = packOneFile(caseDir, source, 2000);

    await expectRejected(
      caseDir,
      gzipSync(tar.subarray(0, 1024)),
      'the tar data is invalid (TAR_BAD_ARCHIVE: Truncated input (needed 1536 more bytes, only 0 available)), so the archive is corrupt or truncated',
    );
  });

  it('rejects a missing end block', async () => {
    const { caseDir, source } = makeCaseDir();
    const tar = packOneFile(caseDir, source, 10);

    await expectRejected(caseDir, gzipSync(tar.subarray(0, tar.length - END_OF_ARCHIVE.length)), 'the archive is truncated: it has no end-of-archive block');
  });
});

// Downloads an official Nanos release into nx-unikernel's cache. The archive
// is downloaded, checked and unpacked in a temporary folder next to the cache
// entry. Only the finished folder is renamed into place, so an interrupted
// download never leaves a half-written release behind.

import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

import { KernelReleaseError } from './errors';
import { downloadToFile, fetchText } from './http-download';
import { DOWNLOAD_RECORD_FILE, releaseUrls } from './release-layout';
import { TarFormatError, unpackReleaseArchive } from './unpack-release';
import { inspectReleaseFolder, type ReleaseFiles } from './validate';

/** Progress of a download, for a progress bar or log line. */
export interface KernelDownloadProgress {
  readonly phase: 'download' | 'verify' | 'extract' | 'done';
  readonly url: string;
  readonly receivedBytes: number;
  /** From the Content-Length header; undefined when the server sends none. */
  readonly totalBytes: number | undefined;
}

/**
 * Metadata of a downloaded release, stored in the release folder. Releases publish an MD5 file but no stronger checksum, so the
 * SHA-256 is the one computed here, for comparison with other machines.
 */
export interface DownloadRecord {
  readonly version: string;
  readonly url: string;
  readonly archiveBytes: number;
  readonly sha256: string;
  /** `verified`: matched the published .md5; `not-published`: the server has no .md5 file; `unavailable`: fetching it failed. */
  readonly md5Check: 'verified' | 'not-published' | 'unavailable';
  /** ISO 8601 time of the download. */
  readonly downloadedAt: string;
}

export interface DownloadReleaseOptions {
  readonly version: string;
  /** Folder that contains one subfolder per version. */
  readonly cacheRoot: string;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly stallTimeoutMs: number;
  readonly onProgress?: (progress: KernelDownloadProgress) => void;
}

/** Limits far above a release (about 2 MB packed in 0.1.55) that stop a wrong or hostile URL from filling the disk. */
const MAX_ARCHIVE_BYTES = 256 * 1024 * 1024;
const MAX_UNPACKED_BYTES = 512 * 1024 * 1024;

const CHECKSUM_TIMEOUT_MS = 30_000;

/** Downloads, checks and unpacks the release into `<cacheRoot>/<version>`; returns its files and record. */
export async function downloadRelease(options: DownloadReleaseOptions): Promise<{ files: ReleaseFiles; record: DownloadRecord }> {
  const urls = releaseUrls(options.baseUrl, options.version);
  const target = path.join(options.cacheRoot, options.version);
  await mkdir(options.cacheRoot, { recursive: true });
  const workDir = await mkdtemp(path.join(options.cacheRoot, `.download-${options.version}-`));

  const report = (phase: KernelDownloadProgress['phase'], receivedBytes: number, totalBytes: number | undefined): void => {
    options.onProgress?.({ phase, url: urls.archive, receivedBytes, totalBytes });
  };

  try {
    const archive = path.join(workDir, path.basename(urls.archive));
    const downloaded = await downloadToFile(urls.archive, archive, {
      timeoutMs: options.timeoutMs,
      stallTimeoutMs: options.stallTimeoutMs,
      maxBytes: MAX_ARCHIVE_BYTES,
      onData: (received, total) => report('download', received, total),
    });

    report('verify', downloaded.bytes, downloaded.bytes);
    const md5Check = await checkPublishedMd5(urls.md5, downloaded.md5, urls.archive);

    report('extract', downloaded.bytes, downloaded.bytes);
    const unpacked = path.join(workDir, 'release');
    await mkdir(unpacked);
    await unpackArchive(archive, unpacked, urls.archive);

    const inspection = await inspectReleaseFolder(unpacked);
    if (!inspection.ok) {
      throw new KernelReleaseError('invalid-archive', `The archive ${urls.archive} is not a Nanos release: ${inspection.problems.join('; ')}.`);
    }

    const record: DownloadRecord = {
      version: options.version,
      url: urls.archive,
      archiveBytes: downloaded.bytes,
      sha256: downloaded.sha256,
      md5Check,
      downloadedAt: new Date().toISOString(),
    };
    await writeFile(path.join(unpacked, DOWNLOAD_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);

    const files = await moveIntoPlace(unpacked, target);
    report('done', downloaded.bytes, downloaded.bytes);
    return { files, record: (await readDownloadRecord(target)) ?? record };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Reads the record of a downloaded release folder; undefined when it has none or it is unreadable. */
export async function readDownloadRecord(dir: string): Promise<DownloadRecord | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, DOWNLOAD_RECORD_FILE), 'utf8')) as DownloadRecord;
  } catch {
    return undefined;
  }
}

/**
 * Compares with the .md5 file that Nanos's release.sh uploads beside each
 * tarball. MD5 detects corruption in transit, not tampering. A missing file
 * is recorded rather than fatal, so a mirror without .md5 files still works.
 */
async function checkPublishedMd5(url: string, actual: string, archiveUrl: string): Promise<DownloadRecord['md5Check']> {
  const published = await fetchText(url, CHECKSUM_TIMEOUT_MS);
  if (published.status === 'not-found') {
    return 'not-published';
  }
  if (published.status === 'failed') {
    return 'unavailable';
  }

  const expected = published.text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (!/^[0-9a-f]{32}$/.test(expected)) {
    throw new KernelReleaseError('checksum-mismatch', `The checksum file ${url} does not contain an MD5 sum, so ${archiveUrl} cannot be verified.`);
  }
  if (expected !== actual) {
    throw new KernelReleaseError(
      'checksum-mismatch',
      `The download of ${archiveUrl} is corrupt: its MD5 is ${actual}, but ${url} publishes ${expected}. Try again; if it persists, report it to the Nanos project.`,
    );
  }
  return 'verified';
}

async function unpackArchive(archive: string, destination: string, archiveUrl: string): Promise<void> {
  try {
    await unpackReleaseArchive(archive, destination, MAX_UNPACKED_BYTES);
  } catch (error) {
    if (error instanceof TarFormatError) {
      throw new KernelReleaseError('invalid-archive', `The archive ${archiveUrl} is invalid: ${error.message}.`, { cause: error });
    }
    throw error;
  }
}

/** Renames the unpacked folder to `target`. When another process finished first, its valid copy is kept. */
async function moveIntoPlace(unpacked: string, target: string): Promise<ReleaseFiles> {
  try {
    await rename(unpacked, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      throw error;
    }
  }

  const inspection = await inspectReleaseFolder(target);
  if (!inspection.ok) {
    throw new KernelReleaseError(
      'invalid-release',
      `The cached release folder ${target} is invalid (${inspection.problems.join('; ')}); delete it so the release is downloaded again.`,
    );
  }
  return inspection.files;
}

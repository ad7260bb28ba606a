// Finds the Nanos kernel release folder to build images with. Sources, in
// order: the kernelDir option, NX_UNIKERNEL_NANOS_DIR, the release that ops
// unpacked into ~/.ops/<version>/, nx-unikernel's own download cache, and a
// download of the official release tarball into that cache.

import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as path from 'node:path';

import { downloadRelease, type DownloadRecord, type KernelDownloadProgress, readDownloadRecord } from './download';
import { KernelReleaseError } from './errors';
import { checkVersion, DEFAULT_NANOS_VERSION, RELEASE_BASE_URL, versionFromFolderName } from './release-layout';
import { inspectReleaseFolder, type ReleaseFiles } from './validate';

export const NANOS_DIR_ENV = 'NX_UNIKERNEL_NANOS_DIR';

export interface ResolveKernelOptions {
  /**
   * Release version; default DEFAULT_NANOS_VERSION. A folder given by
   * kernelDir or the environment is used whatever its version; see
   * versionMismatchWarning.
   */
  readonly version?: string;
  /** Release folder given by the user (--kernel-dir, kernelDir in unikernel.json). */
  readonly kernelDir?: string;
  /** Environment to read NX_UNIKERNEL_NANOS_DIR, OPS_HOME and XDG_CACHE_HOME from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** The ops folder holding one release folder per version; default $OPS_HOME/.ops or ~/.ops, as ops:lepton/const.go. */
  readonly opsHome?: string;
  /** Folder for downloaded releases, one subfolder per version; default $XDG_CACHE_HOME/nx-unikernel/nanos or ~/.cache/nx-unikernel/nanos. */
  readonly cacheDir?: string;
  /** Set false to never download. Default true. */
  readonly download?: boolean;
  /** URL of the folder with one subfolder per version; default the official release storage. */
  readonly baseUrl?: string;
  /** Maximum time in ms for the whole download; default 600 s, the timeout ops uses. */
  readonly timeoutMs?: number;
  /** Maximum time in ms without data during the download; default 30 s. */
  readonly stallTimeoutMs?: number;
  readonly onProgress?: (progress: KernelDownloadProgress) => void;
}

export type KernelReleaseSource = 'option' | 'env' | 'ops-cache' | 'download';

export interface KernelRelease extends ReleaseFiles {
  /**
   * The release's version: the requested one for the ops folder and the
   * download cache, else the folder's name when it is a version, else undefined.
   */
  readonly version: string | undefined;
  readonly source: KernelReleaseSource;
  /** Set for source `download`, also when an earlier download is reused. */
  readonly download: DownloadRecord | undefined;
}

const DEFAULT_TIMEOUT_MS = 600_000;
const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** Returns the first valid release folder from the sources above; throws KernelReleaseError. */
export async function resolveKernelRelease(options: ResolveKernelOptions = {}): Promise<KernelRelease> {
  const env = options.env ?? process.env;

  if (options.kernelDir !== undefined) {
    const dir = path.resolve(options.kernelDir);
    const files = await requireRelease(dir, `The kernelDir ${dir}`, 'Pass a kernelDir (--kernel-dir) that contains kernel.img, boot.img and klibs/ of a Nanos release.');
    return { ...files, version: versionFromFolderName(path.basename(dir)), source: 'option', download: undefined };
  }

  const envDir = env[NANOS_DIR_ENV];
  if (envDir) {
    const dir = path.resolve(envDir);
    const files = await requireRelease(dir, `${NANOS_DIR_ENV}=${envDir}`, `Point ${NANOS_DIR_ENV} at a folder that contains kernel.img, boot.img and klibs/ of a Nanos release, or unset it.`);
    return { ...files, version: versionFromFolderName(path.basename(dir)), source: 'env', download: undefined };
  }

  const version = options.version ?? DEFAULT_NANOS_VERSION;
  checkVersion(version);

  const opsDir = path.join(options.opsHome ?? defaultOpsHome(env), version);
  if (await isFolder(opsDir)) {
    const files = await requireRelease(opsDir, `The ops release folder ${opsDir}`, `Delete it and let ops unpack the release again (an ops command with --nanos-version ${version}), or pass a kernelDir.`);
    return { ...files, version, source: 'ops-cache', download: undefined };
  }

  const cacheRoot = options.cacheDir ?? defaultCacheDir(env);
  const cachedDir = path.join(cacheRoot, version);
  if (await isFolder(cachedDir)) {
    const files = await requireRelease(cachedDir, `The downloaded release folder ${cachedDir}`, 'Delete it so the release is downloaded again.');
    return { ...files, version, source: 'download', download: await readDownloadRecord(cachedDir) };
  }

  const baseUrl = options.baseUrl ?? RELEASE_BASE_URL;
  let downloadFailure: string;
  if (options.download === false) {
    downloadFailure = 'disabled by the caller';
  } else {
    try {
      const { files, record } = await downloadRelease({
        version,
        cacheRoot,
        baseUrl,
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
        onProgress: options.onProgress,
      });
      return { ...files, version, source: 'download', download: record };
    } catch (error) {
      if (!(error instanceof KernelReleaseError && error.code === 'download-failed')) {
        throw error;
      }
      downloadFailure = error.message;
    }
  }

  throw notFoundError({ version, opsDir, cachedDir, baseUrl, downloadFailure });
}

/** $OPS_HOME/.ops when OPS_HOME is set, else ~/.ops, as ops:lepton/const.go GetOpsHome. */
function defaultOpsHome(env: NodeJS.ProcessEnv): string {
  return path.join(env['OPS_HOME'] || homedir(), '.ops');
}

/** Returns nx-unikernel's folder in the XDG Base Directory cache, whose documented default is ~/.cache. */
function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache'), 'nx-unikernel', 'nanos');
}

async function isFolder(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/** Validates a candidate folder. The error names the folder by `label` and ends with the advice `fix`. */
async function requireRelease(dir: string, label: string, fix: string): Promise<ReleaseFiles> {
  const inspection = await inspectReleaseFolder(dir);
  if (!inspection.ok) {
    const problems = inspection.problems.map((problem) => `  - ${problem}`);
    throw new KernelReleaseError('invalid-release', [`${label} is not a valid Nanos release folder:`, ...problems, fix].join('\n'));
  }
  return inspection.files;
}

function notFoundError(attempt: { version: string; opsDir: string; cachedDir: string; baseUrl: string; downloadFailure: string }): KernelReleaseError {
  const host = hostOf(attempt.baseUrl);
  const lines = [
    `No Nanos kernel release ${attempt.version} is available. Looked in, in order:`,
    '  1. the kernelDir option (--kernel-dir): not given',
    `  2. ${NANOS_DIR_ENV}: not set`,
    `  3. the ops release folder ${attempt.opsDir}: does not exist`,
    `  4. the download cache ${attempt.cachedDir}: does not exist`,
    `  5. the download from ${attempt.baseUrl}: ${attempt.downloadFailure}`,
    'Provide a kernel in one of these ways:',
    '  - pass --kernel-dir <folder> (kernelDir in unikernel.json), a folder with kernel.img, boot.img and klibs/ of a Nanos release;',
    `  - set ${NANOS_DIR_ENV}=<folder> to such a folder;`,
    `  - let ops unpack the release into ${attempt.opsDir}: run an ops command with --nanos-version ${attempt.version} (ops update installs only the latest release);`,
    `  - allow network access to ${host} so nx-unikernel can download the release.`,
  ];
  return new KernelReleaseError('not-found', lines.join('\n'));
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

// HTTP helpers for the release download, on Node's global fetch: a streamed
// download to a file with hashes, a total timeout and a stall timeout, and a
// small text fetch for the checksum file.

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

import { KernelReleaseError } from './errors';

export interface FileDownload {
  readonly bytes: number;
  /** Hex SHA-256 of the downloaded bytes. */
  readonly sha256: string;
  /** Hex MD5 of the downloaded bytes, for comparison with the published .md5 file. */
  readonly md5: string;
}

export interface FileDownloadOptions {
  /** Maximum time in ms for the whole download. */
  readonly timeoutMs: number;
  /** Maximum time in ms without receiving data, so a stalled connection fails long before the total timeout. */
  readonly stallTimeoutMs: number;
  /** Maximum size in bytes; a larger response is aborted. */
  readonly maxBytes: number;
  readonly onData?: (receivedBytes: number, totalBytes: number | undefined) => void;
}

/**
 * Downloads `url` into `file`; throws KernelReleaseError('download-failed') naming the URL and the reason.
 * NOTE: Node 20's fetch ignores HTTP_PROXY and HTTPS_PROXY, so behind a proxy the download fails and the
 * release must come from kernelDir or NX_UNIKERNEL_NANOS_DIR.
 */
export async function downloadToFile(url: string, file: string, options: FileDownloadOptions): Promise<FileDownload> {
  const controller = new AbortController();
  const totalTimer = setTimeout(() => controller.abort(new Error(`timed out after ${options.timeoutMs / 1000} s`)), options.timeoutMs);
  let stallTimer: NodeJS.Timeout | undefined;
  const restartStallTimer = (): void => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => controller.abort(new Error(`no data received for ${options.stallTimeoutMs / 1000} s`)), options.stallTimeoutMs);
  };

  const output = await open(file, 'w');
  try {
    restartStallTimer();
    const response = await fetch(url, { signal: controller.signal });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`HTTP status ${response.status} ${response.statusText}`.trim());
    }

    const lengthHeader = response.headers.get('content-length');
    const totalBytes = lengthHeader === null ? undefined : Number(lengthHeader);
    const sha256 = createHash('sha256');
    const md5 = createHash('md5');
    let bytes = 0;

    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      restartStallTimer();

      bytes += value.byteLength;
      if (bytes > options.maxBytes) {
        await reader.cancel();
        throw new Error(`the response is larger than ${options.maxBytes} bytes, far more than a release`);
      }
      sha256.update(value);
      md5.update(value);
      await output.write(value);
      options.onData?.(bytes, totalBytes);
    }

    if (totalBytes !== undefined && bytes !== totalBytes) {
      throw new Error(`the connection closed after ${bytes} of ${totalBytes} bytes`);
    }
    return { bytes, sha256: sha256.digest('hex'), md5: md5.digest('hex') };
  } catch (error) {
    throw new KernelReleaseError('download-failed', `Download of ${url} failed: ${describeFetchError(error, controller.signal)}.`, { cause: error });
  } finally {
    clearTimeout(totalTimer);
    clearTimeout(stallTimer);
    await output.close();
  }
}

export type TextFetch = { status: 'found'; text: string } | { status: 'not-found' } | { status: 'failed'; reason: string };

/** Fetches a small text file; a 404 or 410 is `not-found`, any other failure `failed` with the reason. */
export async function fetchText(url: string, timeoutMs: number): Promise<TextFetch> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    const response = await fetch(url, { signal: controller.signal });
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      return { status: 'not-found' };
    }
    if (!response.ok) {
      await response.body?.cancel();
      return { status: 'failed', reason: `HTTP status ${response.status}` };
    }
    return { status: 'found', text: await response.text() };
  } catch (error) {
    return { status: 'failed', reason: describeFetchError(error, controller.signal) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Explains a fetch failure: the abort reason for timeouts, and for network
 * errors the cause that undici wraps in its "fetch failed" TypeError
 * (e.g. "connect ECONNREFUSED 127.0.0.1:9").
 */
export function describeFetchError(error: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason instanceof Error) {
    return signal.reason.message;
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    return cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}

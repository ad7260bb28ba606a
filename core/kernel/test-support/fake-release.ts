// Release folders, archives and a loopback HTTP server for the kernel tests.
// kernel.img is a real ELF64 program built with gcc; boot.img is a
// two-sector file with the boot signature; no Nanos file is needed.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import * as tar from 'tar';

export function makeTempDir(prefix = 'nx-unikernel-kernel-'): string {
  return realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function hasCommand(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles a minimal C program with gcc into `dir` and returns its bytes: an ELF64 file for the host machine. */
export function buildElf64(dir: string): Buffer {
  const source = path.join(dir, 'kernel.c');
  const output = path.join(dir, 'kernel.elf');
  writeFileSync(source, 'int main(void) { return 0; }\n');
  execFileSync('gcc', ['-O0', '-o', output, source]);
  return readFileSync(output);
}

/** Returns a boot record of `sectors` 512-byte sectors with 0x55 0xAA at offset 510. */
export function makeBootImage(sectors = 2): Buffer {
  const image = Buffer.alloc(sectors * 512, 0x90);
  image[510] = 0x55;
  image[511] = 0xaa;
  return image;
}

export interface FakeReleaseParts {
  readonly kernel?: Buffer | undefined;
  readonly boot?: Buffer | undefined;
  /** Klib file names to create under klibs/; undefined for no klibs folder. */
  readonly klibs?: readonly string[] | undefined;
}

/** Writes a release folder at `dir`; a part set to undefined is left out. */
export function writeFakeRelease(dir: string, parts: FakeReleaseParts): string {
  mkdirSync(dir, { recursive: true });
  if (parts.kernel) {
    writeFileSync(path.join(dir, 'kernel.img'), parts.kernel, { mode: 0o755 });
  }
  if (parts.boot) {
    writeFileSync(path.join(dir, 'boot.img'), parts.boot);
  }
  if (parts.klibs) {
    mkdirSync(path.join(dir, 'klibs'), { recursive: true });
    for (const name of parts.klibs) {
      writeFileSync(path.join(dir, 'klibs', name), `klib ${name}\n`, { mode: 0o755 });
    }
  }
  return dir;
}

/** Packs the contents of `dir` (not the folder itself) with the system's tar, as the Nanos Makefile does. */
export function packWithTar(dir: string, archive: string, extraFlags: readonly string[] = []): Buffer {
  execFileSync('tar', [...extraFlags, '-czf', archive, '-C', dir, '.']);
  return readFileSync(archive);
}

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One response of the test server; `stallAfterBytes` sends that much of the body and then stops without closing. */
export interface Route {
  readonly status?: number;
  readonly body?: Buffer | string;
  readonly stallAfterBytes?: number;
}

export interface LoopbackServer {
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** Request paths in arrival order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 that serves the given paths and responds 404 to any other. */
export async function startLoopbackServer(routes: Record<string, Route>): Promise<LoopbackServer> {
  const requests: string[] = [];
  const stalled: ServerResponse[] = [];

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    requests.push(url);
    const route = routes[url];
    if (!route) {
      response.writeHead(404).end('not found');
      return;
    }

    const body = typeof route.body === 'string' ? Buffer.from(route.body) : (route.body ?? Buffer.alloc(0));
    response.writeHead(route.status ?? 200, { 'content-length': String(body.length) });
    if (route.stallAfterBytes === undefined) {
      response.end(body);
    } else {
      response.write(body.subarray(0, route.stallAfterBytes));
      stalled.push(response);
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const response of stalled) {
        response.destroy();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Returns a loopback port with nothing listening on it: bound once by this process, then released. */
export async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Packs `paths`, relative to `cwd`, with node-tar, gzip-compressed unless
 * `gzip` is false. node-tar stores `..` segments as given and, with
 * `preservePaths`, absolute paths too, so this also builds hostile archives.
 */
export function packWithNodeTar(cwd: string, archive: string, paths: readonly string[], options: { gzip?: boolean; preservePaths?: boolean } = {}): Buffer {
  tar.c({ file: archive, cwd, sync: true, gzip: options.gzip ?? true, preservePaths: options.preservePaths ?? false }, [...paths]);
  return readFileSync(archive);
}

/**
 * Encodes one tar entry with node-tar's Header: the header block, then `data`
 * padded to whole 512-byte blocks. It builds entries that a packer does not
 * write from a folder, such as devices. Append END_OF_ARCHIVE to finish.
 */
export function encodeTarEntry(fields: { path: string; type: tar.types.EntryTypeName; linkpath?: string }, data: Buffer = Buffer.alloc(0)): Buffer {
  const block = Buffer.alloc(512);
  new tar.Header({ ...fields, size: data.length, mode: 0o644, mtime: new Date(0) }).encode(block);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([block, data, padding]);
}

/** The two zero blocks that end a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(1024);

// Unpacks the gzip-compressed tar archive of a Nanos release with node-tar.
// The archive is read three times. First zlib checks that it is gzip and
// measures the unpacked size. Then node-tar lists it and rejects any entry a
// release folder must not contain. Only then does node-tar extract it. A
// release contains only regular files and folders whose relative paths stay
// inside the destination, so a tampered archive cannot write elsewhere, plant
// links or devices, or fill the disk.

import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import * as tar from 'tar';

/** An archive that is not a valid tar.gz, or contains an entry that a release folder must not contain. */
export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
}

/** node-tar entry types of a release: regular files (`0`, the pre-POSIX NUL flag, `7` contiguous) and folders (`5`). */
const RELEASE_ENTRY_TYPES: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/**
 * Unpacks the release archive into `destination`, which must exist. Throws
 * TarFormatError before writing anything when the archive is not gzip,
 * unpacks to more than `maxUnpackedBytes`, is corrupt, or contains an entry
 * other than a file or folder inside `destination`.
 */
export async function unpackReleaseArchive(archive: string, destination: string, maxUnpackedBytes: number): Promise<void> {
  await checkDecompression(archive, maxUnpackedBytes);
  await checkEntries(archive);

  await tar.x({
    file: archive,
    cwd: destination,
    strict: true,
    preservePaths: false,
    // node-tar keeps the archive's owner by default when run as root.
    preserveOwner: false,
    // Repeats the listing's checks, so an entry that reads differently the second time is skipped, not written.
    filter: (_entryPath, entry) => entry instanceof tar.ReadEntry && findEntryProblem(entry) === undefined,
    // node-tar 7 calls onReadEntry before its own unpack handler, so it creates the file or folder with this mode.
    onReadEntry: (entry) => {
      entry.mode = releaseMode(entry);
    },
  });
}

/**
 * Decompresses the archive and discards the output, so data that is not
 * gzip, or that unpacks to more than `maxBytes`, is rejected before node-tar
 * reads it. node-tar itself accepts uncompressed tar and limits only the
 * compression ratio.
 */
async function checkDecompression(archive: string, maxBytes: number): Promise<void> {
  let unpackedBytes = 0;
  // A Writable sink, because Node 20.20's pipeline reports an error thrown by an async function destination as an AbortError.
  const countBytes = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      unpackedBytes += chunk.length;
      callback(unpackedBytes > maxBytes ? new TarFormatError(`the archive cannot be decompressed: it unpacks to more than ${maxBytes} bytes`) : null);
    },
  });

  try {
    await pipeline(createReadStream(archive), createGunzip(), countBytes);
  } catch (error) {
    // zlib errors carry codes such as Z_DATA_ERROR and Z_BUF_ERROR. Read errors of the file pass through unchanged.
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_')) {
      throw new TarFormatError(`the archive cannot be decompressed: gzip: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}

/** Lists the archive with node-tar and rejects it at the first entry that findEntryProblem reports, or when the tar data is invalid. */
async function checkEntries(archive: string): Promise<void> {
  const input = createReadStream(archive);
  let sawEndOfArchive = false;

  const parser = tar.t({
    strict: true,
    onReadEntry: (entry) => rejectEntry(entry),
  });
  const rejectEntry = (entry: tar.ReadEntry): void => {
    const problem = findEntryProblem(entry);
    if (problem !== undefined) {
      parser.abort(problem);
    }
  };
  // node-tar skips entries of types it cannot unpack and metadata records above its size limit without calling onReadEntry.
  parser.on('ignoredEntry', rejectEntry);
  // Two zero blocks end a tar archive. node-tar accepts an archive without them, but then the tar stream was cut short.
  parser.on('eof', () => {
    sawEndOfArchive = true;
  });

  try {
    await new Promise<void>((resolve, reject) => {
      input.on('error', reject);
      parser.on('error', (error: Error) => {
        reject(error instanceof TarFormatError ? error : new TarFormatError(`the tar data is invalid (${error.message}), so the archive is corrupt or truncated`, { cause: error }));
      });
      parser.on('end', () => {
        if (sawEndOfArchive) {
          resolve();
        } else {
          reject(new TarFormatError('the archive is truncated: it has no end-of-archive block'));
        }
      });
      input.pipe(parser);
    });
  } finally {
    input.destroy();
  }
}

/** Returns why the entry must not be unpacked into a release folder, or undefined when it may. */
function findEntryProblem(entry: tar.ReadEntry): TarFormatError | undefined {
  const name = JSON.stringify(entry.path);

  if (entry.meta) {
    return new TarFormatError(`the archive entry ${name} is a ${entry.size}-byte ${entry.type} record, above node-tar's 1 MiB limit for metadata records`);
  }
  if (!RELEASE_ENTRY_TYPES.has(entry.type)) {
    const typeFlag = entry.header.typeKey;
    const typeText = typeFlag === 'Unsupported' ? 'an unknown tar type' : `tar type ${JSON.stringify(typeFlag)} (${entry.type})`;
    return new TarFormatError(`the archive entry ${name} has ${typeText}; a release contains only files and folders`);
  }
  if (leavesDestination(entry.path)) {
    return new TarFormatError(`the archive entry ${name} points outside the release folder`);
  }
  return undefined;
}

/**
 * Reports paths that are absolute, contain a NUL byte or have a `..` segment.
 * Like node-tar on every platform, it treats Windows roots such as `C:` as
 * absolute and `\` as a separator when it looks for `..`.
 */
function leavesDestination(entryPath: string): boolean {
  const isAbsolute = path.posix.isAbsolute(entryPath) || path.win32.parse(entryPath).root !== '';
  const segments = entryPath.split(/[\\/]/);
  return isAbsolute || entryPath.includes('\0') || segments.includes('..');
}

/** Folders and files with any execute bit get 0o755, other files 0o644, so no setuid, setgid, sticky or world-writable bit survives. */
function releaseMode(entry: tar.ReadEntry): number {
  const isExecutable = entry.type === 'Directory' || ((entry.mode ?? 0) & 0o111) !== 0;
  return isExecutable ? 0o755 : 0o644;
}

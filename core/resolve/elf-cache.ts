// Parsed ELF files by identity (device and inode), so a library shared by many
// programs is read once per process. The benchmark resolves thousands of files
// in one process and depends on it.

import type { ByteSource } from '../elf/byte-source';
import { ElfError } from '../elf/errors';
import { hasElfMagic } from '../elf/header';
import { parseElf } from '../elf/read-elf';
import { readCandidate, type CandidateFile } from '../elf/verify-candidate';
import type { RootedFs } from './rooted-fs';

/** glibc's open_verify reads this many bytes for its header checks (elf/dl-load.c). */
const HEAD_LENGTH = 832;

export type ElfCacheEntry = { file: CandidateFile; error?: undefined } | { file?: undefined; error: ElfError };

export class ElfCache {
  private readonly entries = new Map<string, ElfCacheEntry>();

  /** Every read goes through `fs`, so no file outside the root is opened. */
  constructor(private readonly fs: RootedFs) {}

  /**
   * Reads and parses the file at `pathInRoot` with its imported symbols and
   * versions, or returns the cached entry for the same identity.
   */
  read(pathInRoot: string, identity: string): ElfCacheEntry {
    const cached = this.entries.get(identity);
    if (cached) return cached;

    const entry = this.readEntry(pathInRoot);
    this.entries.set(identity, entry);
    return entry;
  }

  private readEntry(pathInRoot: string): ElfCacheEntry {
    const opened = this.fs.openFile(pathInRoot);
    if (!opened.ok) return { error: new ElfError('io', opened.message, pathInRoot) };
    try {
      return parseCandidate(opened.file, opened.hostPath);
    } finally {
      opened.file.close();
    }
  }
}

function parseCandidate(source: ByteSource, hostPath: string): ElfCacheEntry {
  const head = Uint8Array.from(source.read(0, HEAD_LENGTH));
  if (!hasElfMagic(head)) return { file: { head, size: source.size } };
  try {
    return { file: { head, size: source.size, info: parseElf(source, { symbols: true, path: hostPath }) } };
  } catch (error) {
    if (!(error instanceof ElfError)) throw error;
    // Keep what the loader's checks can still use, such as the program headers.
    return { file: readCandidate(source, hostPath) };
  }
}

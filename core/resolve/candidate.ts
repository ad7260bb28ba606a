// Opening one candidate file during a library search, inside the root, and
// deciding as the loader would whether to use it, skip it, or stop.

import * as posix from 'node:path/posix';
import type { ElfInfo } from '../elf/types';
import type { CandidateFile, CandidateVerdict } from '../elf/verify-candidate';
import type { LoadedObject } from './loaded-object';
import type { RootedFs } from './rooted-fs';
import type { ElfCache } from './elf-cache';

export type CandidateOutcome =
  | OpenedCandidate
  /** Not there (ENOENT, ENOTDIR, EACCES, a dangling link): the search goes on. */
  | { status: 'missing'; reason: string }
  /** Wrong class or machine: glibc goes on to the next folder. */
  | { status: 'skip'; reason: string }
  /** An unusual open error (ELOOP, ENAMETOOLONG): glibc abandons the rest of this path list. */
  | { status: 'stop-list'; reason: string }
  /** The loader stops the program here, even if a later folder has a good copy. */
  | { status: 'fatal'; reason: string };

export interface OpenedCandidate {
  status: 'ok';
  realPath: string;
  identity: string;
  elf: ElfInfo;
  /** Folder `$ORIGIN` expands to: the folder of the path it was opened as, symlinks not resolved. */
  origin: string;
}

export interface CandidateOpener {
  open(path: string, requester: LoadedObject): CandidateOutcome;
}

export type CandidateCheck = (file: CandidateFile, requester: ElfInfo) => CandidateVerdict;

/**
 * Opens candidates inside the root for one loader model. `check` is glibc's or
 * musl's acceptance rule; the opener adds the file-system outcomes around it.
 */
export class RootedCandidateOpener implements CandidateOpener {
  constructor(
    private readonly fs: RootedFs,
    private readonly elfCache: ElfCache,
    private readonly check: CandidateCheck,
    /** Working directory inside the root, for relative paths. */
    private readonly cwd: string,
  ) {}

  open(path: string, requester: LoadedObject): CandidateOutcome {
    const absolute = posix.isAbsolute(path) ? path : posix.join(this.cwd, path);
    const resolved = this.fs.resolve(absolute);
    if (!resolved.ok) {
      if (resolved.errno === 'ELOOP' || resolved.errno === 'ENAMETOOLONG') return { status: 'stop-list', reason: resolved.message };
      return { status: 'missing', reason: resolved.message };
    }
    if (resolved.stat.isDirectory) return { status: 'fatal', reason: 'cannot read file data: Is a directory' };

    const identity = identityOf(resolved.stat);
    const entry = this.elfCache.read(resolved.path, identity);
    if (!entry.file) return { status: 'missing', reason: entry.error.message };

    const verdict = this.check(entry.file, requester.elf);
    if (verdict.verdict !== 'accept') return { status: verdict.verdict, reason: verdict.reason };
    // The checks accept only files that parsed; this guards the type.
    if (!entry.file.info) return { status: 'fatal', reason: entry.file.parseError?.message ?? 'invalid ELF header' };

    return {
      status: 'ok',
      realPath: resolved.path,
      identity,
      elf: entry.file.info,
      origin: posix.dirname(absolute),
    };
  }
}

/** Device and inode, the identity the loader compares (elf/dl-load.c, _dl_map_object_from_fd). */
export function identityOf(stat: { dev: bigint; ino: bigint }): string {
  return `${stat.dev}:${stat.ino}`;
}

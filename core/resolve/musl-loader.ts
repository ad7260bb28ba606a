// musl's library search, done over a target root. It follows musl's
// ldso/dynlink.c (load_library, path_open, fixup_rpath): LD_LIBRARY_PATH
// first, then DT_RUNPATH or DT_RPATH of the requester and of every object
// that loaded it, then the system path file. No cache, no hwcaps, no DT_SONAME
// reuse, and no class or machine check on candidates.

import * as posix from 'node:path/posix';
import { joinSearchPath, parseMuslLibraryPath, parseMuslPathList } from './path-list';
import { loaderChain, type LoadedObject } from './loaded-object';
import type { CandidateOpener } from './candidate';
import type { LoadSession } from './load-session';
import type { FoundBy, MissingLibrary, RejectedCandidate, SearchedFolder, SearchPhase } from './types';

export interface MuslSearchSettings {
  libraryPath?: string;
  /** Folders from `<prefix>/etc/ld-musl-<arch>.path`, or musl's default list. */
  systemPath: string[];
  /** PT_INTERP of the program: musl maps libc's names to the loader itself. */
  interpreter: LoadedObject | undefined;
}

// Names that musl resolves to its own loader, because libc, libpthread, libm
// and friends are all one file there (ldso/dynlink.c load_library).
const RESERVED_PREFIXES = ['c.', 'pthread.', 'rt.', 'm.', 'dl.', 'util.', 'xnet.'];

function isReservedName(name: string): boolean {
  return name.startsWith('lib') && RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix, 3));
}

export class MuslLoader {
  constructor(
    private readonly session: LoadSession,
    private readonly opener: CandidateOpener,
    private readonly settings: MuslSearchSettings,
  ) {}

  loadBreadthFirst(initial: LoadedObject[]): void {
    const queue = [...initial];
    while (queue.length > 0) {
      const requester = queue.shift() as LoadedObject;
      for (const name of requester.elf.dynamic?.needed ?? []) {
        const outcome = this.request(name, requester);
        if (outcome.kind === 'loaded' && outcome.isNew) queue.push(outcome.object);
        if (outcome.kind === 'missing') this.session.missing.push(outcome.missing);
      }
    }
  }

  private request(
    name: string,
    requester: LoadedObject,
  ): { kind: 'loaded'; object: LoadedObject; isNew: boolean } | { kind: 'missing'; missing: MissingLibrary } {
    const interpreter = this.settings.interpreter;
    if (interpreter && (isReservedName(name) || name === interpreter.displayPath)) {
      return this.reuse(interpreter, name, requester, { rule: 'interpreter' });
    }

    // musl reuses an object only when its short name equals the request; it
    // never looks at DT_SONAME.
    const reused = this.session.findByName(name, false);
    if (reused) return this.reuse(reused.object, name, requester, { rule: 'already-loaded', match: 'name' });

    const searched: SearchedFolder[] = [];
    const rejected: RejectedCandidate[] = [];

    if (name.includes('/')) {
      searched.push({ phase: 'path', folder: name });
      return this.tryPath(name, name, requester, { rule: 'path' }, searched, rejected) ?? this.missing(name, requester, searched, rejected);
    }

    const phases: { phase: SearchPhase; folders: string[]; foundBy: FoundBy; owner?: string }[] = [];
    if (this.settings.libraryPath !== undefined) {
      phases.push({ phase: 'LD_LIBRARY_PATH', folders: parseMuslLibraryPath(this.settings.libraryPath), foundBy: { rule: 'ld-library-path' } });
    }
    for (let owner: LoadedObject | undefined = requester; owner; owner = owner.loader) {
      const list = owner.elf.dynamic?.runpath ?? owner.elf.dynamic?.rpath;
      if (list === undefined) continue;
      const folders = parseMuslPathList(list, owner.origin);
      if (!folders) {
        this.session.diagnostics.push({
          level: 'warning',
          message: `musl ignores the whole ${owner.elf.dynamic?.runpath !== undefined ? 'DT_RUNPATH' : 'DT_RPATH'} "${list}" of ${owner.displayPath}: it contains a token other than $ORIGIN`,
        });
        continue;
      }
      const rule = owner.elf.dynamic?.runpath !== undefined ? 'runpath' : 'rpath';
      phases.push({ phase: rule, folders: folders.map((folder) => folder.value), foundBy: { rule, owner: owner.displayPath }, owner: owner.displayPath });
    }
    phases.push({ phase: 'musl-path', folders: this.settings.systemPath, foundBy: { rule: 'system-dir' } });

    for (const { phase, folders, foundBy, owner } of phases) {
      for (const folder of folders) {
        searched.push(owner ? { phase, owner, folder } : { phase, folder });
        const path = joinSearchPath(folder, name);
        const outcome = this.tryPath(name, path, requester, foundBy, searched, rejected);
        if (outcome) return outcome;
      }
    }
    return this.missing(name, requester, searched, rejected);
  }

  /**
   * Opens one candidate. musl goes on only when the file is not there (ENOENT,
   * ENOTDIR, EACCES, ENAMETOOLONG); anything else ends the search with an error.
   */
  private tryPath(
    name: string,
    path: string,
    requester: LoadedObject,
    foundBy: FoundBy,
    searched: SearchedFolder[],
    rejected: RejectedCandidate[],
  ) {
    const candidate = this.opener.open(path, requester);
    if (candidate.status === 'missing') return undefined;
    if (candidate.status !== 'ok') {
      rejected.push({ path, reason: candidate.reason, outcome: 'fatal' });
      return { kind: 'missing' as const, missing: { ...this.missing(name, requester, searched, rejected).missing, kind: 'fatal' as const, reason: candidate.reason } };
    }

    const sameFile = this.session.findByIdentity(candidate.identity);
    if (sameFile) return this.reuse(sameFile, name, requester, { rule: 'already-loaded', match: 'inode' });

    const object = this.session.addObject({
      // musl's short name is the basename of the path it found the file at.
      names: new Set([name, posix.basename(path)]),
      displayPath: path,
      realPath: candidate.realPath,
      identity: candidate.identity,
      elf: candidate.elf,
      loader: requester,
      origin: candidate.origin,
      depth: requester.depth + 1,
      role: 'library',
      foundBy,
      neededBy: [requester],
      ...(candidate.elf.dynamic?.soname !== undefined ? { soname: candidate.elf.dynamic.soname } : {}),
    });
    return { kind: 'loaded' as const, object, isNew: true };
  }

  private reuse(object: LoadedObject, name: string, requester: LoadedObject, foundBy: FoundBy) {
    object.names.add(name);
    if (!object.neededBy.includes(requester) && object !== requester) object.neededBy.push(requester);
    this.session.recordReuse(object, name, requester, foundBy);
    return { kind: 'loaded' as const, object, isNew: false };
  }

  private missing(name: string, requester: LoadedObject, searched: SearchedFolder[], rejected: RejectedCandidate[]) {
    const missing: MissingLibrary = { name, chain: loaderChain(requester), kind: 'not-found', searched, rejected, suggestions: [] };
    return { kind: 'missing' as const, missing };
  }
}

// glibc's library search, done over a target root without running anything.
// It follows elf/dl-deps.c (_dl_map_object_deps: breadth-first over DT_NEEDED)
// and elf/dl-load.c (_dl_map_object: name reuse, then DT_RPATH of the loader
// chain, LD_LIBRARY_PATH, DT_RUNPATH, ld.so.cache and the system folders).

import { DF_1_NODEFLIB } from '../elf/constants';
import { expandTokens, joinSearchPath, parseGlibcPathList, type PathListElement, type TokenValues } from './path-list';
import { loaderChain, type LoadedObject } from './loaded-object';
import type { CandidateOpener, OpenedCandidate } from './candidate';
import type { LoadSession } from './load-session';
import type { FoundBy, MissingLibrary, RejectedCandidate, SearchedFolder, SearchPhase } from './types';

/** The outcome of one request for a name. */
type RequestOutcome =
  | { kind: 'loaded'; object: LoadedObject; isNew: boolean }
  | { kind: 'missing'; missing: MissingLibrary }
  | { kind: 'ignored' };

/** The result of probing one folder list for a name. */
type ProbeOutcome =
  | { kind: 'found'; candidate: OpenedCandidate; displayPath: string; hwcaps?: string }
  | { kind: 'fatal'; path: string; reason: string }
  | { kind: 'none' };

export interface GlibcSearchSettings {
  tokens: Omit<TokenValues, 'origin'>;
  /** LD_LIBRARY_PATH as given in the image's environment. */
  libraryPath?: string;
  /** The loader's built-in folders, e.g. /lib/x86_64-linux-gnu ... /usr/lib. */
  systemDirs: string[];
  /** Active glibc-hwcaps subfolders in priority order, e.g. ['x86-64-v3', 'x86-64-v2']. */
  hwcapsSubdirs: string[];
  /** Looks a name up in the root's ld.so.cache; undefined when absent or not listed. */
  lookupCache: (name: string) => { path: string; hwcaps?: string } | undefined;
}

/**
 * Resolves every DT_NEEDED of the session's program, breadth-first, the way
 * glibc's ld.so would inside the root, and records misses instead of stopping.
 */
export class GlibcLoader {
  constructor(
    private readonly session: LoadSession,
    private readonly opener: CandidateOpener,
    private readonly settings: GlibcSearchSettings,
  ) {}

  /** Loads the queue breadth-first; new objects are appended as the loader does. */
  loadBreadthFirst(initial: LoadedObject[]): void {
    const queue = [...initial];
    while (queue.length > 0) {
      const requester = queue.shift() as LoadedObject;
      const dynamic = requester.elf.dynamic;
      if (!dynamic) continue;

      const requests = [
        ...dynamic.needed.map((name) => ({ name, optional: false })),
        ...dynamic.filters.map((name) => ({ name, optional: false })),
        // A DT_AUXILIARY filter that cannot be loaded is ignored by glibc.
        ...dynamic.auxiliaries.map((name) => ({ name, optional: true })),
      ];
      for (const { name, optional } of requests) {
        const outcome = this.request(name, requester);
        if (outcome.kind === 'loaded' && outcome.isNew) queue.push(outcome.object);
        if (outcome.kind === 'missing' && !optional) this.session.missing.push(outcome.missing);
      }
    }
  }

  /**
   * Requests a library the way libc would with dlopen: `requester` is libc.so.6,
   * which has no DT_RPATH, so the program's DT_RPATH applies (glibc elf/dl-load.c).
   */
  loadAtRunTime(name: string, requester: LoadedObject, reason: string): RequestOutcome {
    const outcome = this.request(name, requester, { reason });
    if (outcome.kind === 'loaded' && outcome.isNew) this.loadBreadthFirst([outcome.object]);
    return outcome;
  }

  request(name: string, requester: LoadedObject, runtime?: { reason: string }): RequestOutcome {
    const reused = this.session.findByName(name, true);
    if (reused) return this.reuse(reused.object, name, requester, { rule: 'already-loaded', match: reused.match });

    const expanded = expandTokens(name, { ...this.settings.tokens, origin: requester.origin });
    this.session.noteTokens(expanded, `DT_NEEDED ${name} of ${requester.displayPath}`);
    // glibc skips a dependency whose name expands to nothing (elf/dl-deps.c).
    if (expanded.value === '') return { kind: 'ignored' };

    if (expanded.value.includes('/')) return this.openByPath(name, expanded.value, requester, runtime);
    return this.search(name, requester, runtime);
  }

  private openByPath(name: string, path: string, requester: LoadedObject, runtime?: { reason: string }): RequestOutcome {
    const searched: SearchedFolder[] = [{ phase: 'path', folder: path }];
    const candidate = this.opener.open(path, requester);
    if (candidate.status === 'ok') return this.accept(name, requester, candidate, path, { rule: 'path' }, undefined, runtime);

    const rejected: RejectedCandidate[] = [];
    if (candidate.status === 'fatal') {
      return { kind: 'missing', missing: this.missing(name, requester, 'fatal', searched, [{ path, reason: candidate.reason, outcome: 'fatal' }], runtime, candidate.reason) };
    }
    if (candidate.status !== 'missing') rejected.push({ path, reason: candidate.reason, outcome: candidate.status });
    return { kind: 'missing', missing: this.missing(name, requester, 'not-found', searched, rejected, runtime) };
  }

  private search(name: string, requester: LoadedObject, runtime?: { reason: string }): RequestOutcome {
    const searched: SearchedFolder[] = [];
    const rejected: RejectedCandidate[] = [];
    const noDefaultLib = ((requester.elf.dynamic?.flags1 ?? 0) & DF_1_NODEFLIB) !== 0;

    const tryList = (phase: SearchPhase, folders: PathListElement[], owner?: LoadedObject): RequestOutcome | undefined => {
      const outcome = this.probeFolders(name, requester, folders, phase, owner, searched, rejected);
      if (outcome.kind === 'none') return undefined;
      if (outcome.kind === 'fatal') {
        return { kind: 'missing', missing: this.missing(name, requester, 'fatal', searched, rejected, runtime, outcome.reason) };
      }
      const foundBy: FoundBy =
        phase === 'rpath' ? { rule: 'rpath', owner: owner?.displayPath ?? '' }
        : phase === 'runpath' ? { rule: 'runpath', owner: requester.displayPath }
        : phase === 'LD_LIBRARY_PATH' ? { rule: 'ld-library-path' }
        : { rule: 'system-dir' };
      return this.accept(name, requester, outcome.candidate, outcome.displayPath, foundBy, outcome.hwcaps, runtime);
    };

    // 1. DT_RPATH of the requester and of every loader above it, only when the
    //    requester has no DT_RUNPATH. An object with DT_RUNPATH has its DT_RPATH
    //    dropped (elf/get-dynamic-info.h) but the walk goes on past it.
    if (requester.elf.dynamic?.runpath === undefined) {
      let visitedProgram = false;
      for (let owner: LoadedObject | undefined = requester; owner; owner = owner.loader) {
        if (owner.role === 'program') visitedProgram = true;
        const result = tryList('rpath', this.rpathOf(owner), owner);
        if (result) return result;
      }
      if (!visitedProgram) {
        const program = this.session.program;
        const result = tryList('rpath', this.rpathOf(program), program);
        if (result) return result;
      }
    }

    // 2. LD_LIBRARY_PATH, whose $ORIGIN is the program's folder.
    if (this.settings.libraryPath !== undefined) {
      const folders = this.pathList(this.settings.libraryPath, this.session.program, 'LD_LIBRARY_PATH', true);
      const result = tryList('LD_LIBRARY_PATH', folders);
      if (result) return result;
    }

    // 3. The requester's own DT_RUNPATH; never inherited by its dependencies.
    const runpath = requester.elf.dynamic?.runpath;
    if (runpath !== undefined) {
      const result = tryList('runpath', this.pathList(runpath, requester, `DT_RUNPATH of ${requester.displayPath}`), requester);
      if (result) return result;
    }

    // 4. ld.so.cache. A hit that fails to open is not followed by another cache
    //    entry for the name (elf/dl-load.c goes on to the system folders).
    const cached = this.settings.lookupCache(name);
    searched.push({ phase: 'ld.so.cache', folder: '/etc/ld.so.cache' });
    if (cached && !(noDefaultLib && this.isInSystemDir(cached.path))) {
      const candidate = this.opener.open(cached.path, requester);
      if (candidate.status === 'ok') {
        return this.accept(name, requester, candidate, cached.path, { rule: 'ld-so-cache' }, cached.hwcaps, runtime);
      }
      if (candidate.status === 'fatal') {
        rejected.push({ path: cached.path, reason: candidate.reason, outcome: 'fatal' });
        return { kind: 'missing', missing: this.missing(name, requester, 'fatal', searched, rejected, runtime, candidate.reason) };
      }
      rejected.push({ path: cached.path, reason: candidate.status === 'missing' ? 'listed in ld.so.cache but missing from the root (stale cache)' : candidate.reason, outcome: 'skip' });
    }

    // 5. The loader's built-in folders, unless the requester has DF_1_NODEFLIB.
    if (!noDefaultLib) {
      const folders = this.settings.systemDirs.map((value) => ({ raw: value, value, tokens: [], unknownTokens: [] }));
      const result = tryList('system-dir', folders);
      if (result) return result;
    }

    return { kind: 'missing', missing: this.missing(name, requester, 'not-found', searched, rejected, runtime) };
  }

  /**
   * Probes `folder/glibc-hwcaps/<sub>/name` for each active subfolder, then
   * `folder/name`, for every folder in the list (elf/dl-load.c open_path).
   */
  private probeFolders(
    name: string,
    requester: LoadedObject,
    folders: PathListElement[],
    phase: SearchPhase,
    owner: LoadedObject | undefined,
    searched: SearchedFolder[],
    rejected: RejectedCandidate[],
  ): ProbeOutcome {
    for (const folder of folders) {
      searched.push(owner ? { phase, owner: owner.displayPath, folder: folder.value } : { phase, folder: folder.value });

      const probes = [
        ...this.settings.hwcapsSubdirs.map((sub) => ({ path: joinSearchPath(folder.value, `glibc-hwcaps/${sub}/${name}`), hwcaps: sub })),
        { path: joinSearchPath(folder.value, name), hwcaps: undefined },
      ];
      for (const probe of probes) {
        const candidate = this.opener.open(probe.path, requester);
        if (candidate.status === 'ok') {
          return probe.hwcaps === undefined
            ? { kind: 'found', candidate, displayPath: probe.path }
            : { kind: 'found', candidate, displayPath: probe.path, hwcaps: probe.hwcaps };
        }
        if (candidate.status === 'missing') continue;

        rejected.push({ path: probe.path, reason: candidate.reason, outcome: candidate.status });
        if (candidate.status === 'fatal') return { kind: 'fatal', path: probe.path, reason: candidate.reason };
        // An unusual open error (ELOOP, ENAMETOOLONG) ends this path list only.
        if (candidate.status === 'stop-list') return { kind: 'none' };
      }
    }
    return { kind: 'none' };
  }

  private rpathOf(owner: LoadedObject): PathListElement[] {
    const dynamic = owner.elf.dynamic;
    if (!dynamic || dynamic.rpath === undefined || dynamic.runpath !== undefined) return [];
    return this.pathList(dynamic.rpath, owner, `DT_RPATH of ${owner.displayPath}`);
  }

  private pathList(list: string, owner: LoadedObject, context: string, semicolonSeparates = false): PathListElement[] {
    const elements = parseGlibcPathList(list, { ...this.settings.tokens, origin: owner.origin }, { semicolonSeparates });
    for (const element of elements) this.session.noteTokens(element, context);
    return elements;
  }

  private isInSystemDir(path: string): boolean {
    return this.settings.systemDirs.some((folder) => path.startsWith(folder.endsWith('/') ? folder : `${folder}/`));
  }

  private accept(
    name: string,
    requester: LoadedObject,
    candidate: OpenedCandidate,
    displayPath: string,
    foundBy: FoundBy,
    hwcaps: string | undefined,
    runtime: { reason: string } | undefined,
  ): RequestOutcome {
    // The same file under another name is the same object (elf/dl-load.c
    // compares device and inode before mapping).
    const sameFile = this.session.findByIdentity(candidate.identity);
    if (sameFile) return this.reuse(sameFile, name, requester, { rule: 'already-loaded', match: 'inode' });

    const object = this.session.addObject({
      names: new Set([name]),
      displayPath,
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
      ...(hwcaps !== undefined ? { hwcaps } : {}),
      ...(runtime ? { runtime } : {}),
    });
    return { kind: 'loaded', object, isNew: true };
  }

  private reuse(object: LoadedObject, name: string, requester: LoadedObject, foundBy: FoundBy): RequestOutcome {
    object.names.add(name);
    if (!object.neededBy.includes(requester) && object !== requester) object.neededBy.push(requester);
    this.session.recordReuse(object, name, requester, foundBy);
    return { kind: 'loaded', object, isNew: false };
  }

  private missing(
    name: string,
    requester: LoadedObject,
    kind: MissingLibrary['kind'],
    searched: SearchedFolder[],
    rejected: RejectedCandidate[],
    runtime: { reason: string } | undefined,
    reason?: string,
  ): MissingLibrary {
    return {
      name,
      chain: loaderChain(requester),
      kind,
      ...(reason !== undefined ? { reason } : {}),
      searched,
      rejected,
      suggestions: [],
      ...(runtime ? { runtime } : {}),
    };
  }
}

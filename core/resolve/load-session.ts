// The state of resolving one program: the objects loaded so far in load order,
// the misses, and the diagnostics. Both loader models (glibc, musl) write here.

import type { ExpandedPath } from './path-list';
import type { LoadedObject } from './loaded-object';
import type { Diagnostic, FoundBy, MissingLibrary } from './types';

export class LoadSession {
  readonly objects: LoadedObject[] = [];
  readonly missing: MissingLibrary[] = [];
  readonly diagnostics: Diagnostic[] = [];
  private readonly byIdentity = new Map<string, LoadedObject>();
  private readonly reportedTokens = new Set<string>();

  constructor(readonly program: LoadedObject) {
    this.addObject(program);
  }

  addObject(object: LoadedObject): LoadedObject {
    this.objects.push(object);
    this.byIdentity.set(object.identity, object);
    return object;
  }

  findByIdentity(identity: string): LoadedObject | undefined {
    return this.byIdentity.get(identity);
  }

  /**
   * Finds a loaded object that a request for `name` reuses without a search:
   * one requested under that name or opened as that path, or (glibc only,
   * elf/dl-load.c _dl_map_object) one whose DT_SONAME equals the name.
   */
  findByName(name: string, matchSoname: boolean): { object: LoadedObject; match: 'name' | 'soname' } | undefined {
    for (const object of this.objects) {
      if (object.names.has(name) || object.displayPath === name) return { object, match: 'name' };
    }
    if (!matchSoname) return undefined;
    for (const object of this.objects) {
      if (object.soname === name) return { object, match: 'soname' };
    }
    return undefined;
  }

  /** Kept for explanations; the loader itself records nothing on reuse. */
  recordReuse(_object: LoadedObject, _name: string, _requester: LoadedObject, _foundBy: FoundBy): void {}

  /**
   * Warns once per list about tokens whose result depends on the guest CPU
   * ($PLATFORM) and raises an error for `$NAME` sequences that are not tokens:
   * glibc searches them as literal text, which is almost always a build mistake.
   */
  noteTokens(expanded: Pick<ExpandedPath, 'tokens' | 'unknownTokens'>, context: string): void {
    if (expanded.tokens.includes('PLATFORM') && !this.reportedTokens.has(`PLATFORM ${context}`)) {
      this.reportedTokens.add(`PLATFORM ${context}`);
      this.diagnostics.push({
        level: 'warning',
        message: `${context} uses $PLATFORM, which depends on the guest CPU (glibc on x86_64 may use "haswell" instead of "x86_64"); resolved with the --platform value`,
      });
    }
    for (const token of expanded.unknownTokens) {
      const key = `${token} ${context}`;
      if (this.reportedTokens.has(key)) continue;
      this.reportedTokens.add(key);
      this.diagnostics.push({
        level: 'error',
        message: `${context} contains ${token}, which is not a dynamic string token ($ORIGIN, $LIB, $PLATFORM); the loader searches it as literal text. Fix the -rpath or library name at link time`,
      });
    }
  }
}

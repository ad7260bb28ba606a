// The public entry point: resolve a program's libraries inside a target root
// as its dynamic loader would, without running it, and explain every miss.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as posix from 'node:path/posix';
import { FileByteSource } from '../elf/byte-source';
import { EM_AARCH64, EM_X86_64, machineName } from '../elf/constants';
import { ElfError } from '../elf/errors';
import { assertRunnableProgram, TARGET_X86_64 } from '../elf/identify';
import { parseElf } from '../elf/read-elf';
import type { ElfInfo, TargetArch } from '../elf/types';
import { identityOf, RootedCandidateOpener } from './candidate';
import { glibcCandidateCheck, muslCandidateCheck } from './candidate-checks';
import { ElfCache } from './elf-cache';
import { GlibcLoader } from './glibc-loader';
import { hostIsaLevel, hwcapsSubdirsFor } from './isa-level';
import { buildCacheView, readLdSoConf } from './ld-conf';
import { cacheAbiFor, lookupLdCache, readLdCache, type LdCache } from './ld-cache';
import { LoadSession } from './load-session';
import type { LoadedObject } from './loaded-object';
import { readLoaderDefaults } from './loader-defaults';
import { readMuslSystemPath } from './musl-path';
import { MuslLoader } from './musl-loader';
import { muslResolverNeeds } from './musl-resolver';
import { addRuntimeNeeds, staticProgramNeeds } from './runtime-resolution';
import { RootedFs, type HostIo, type RootedMount } from './rooted-fs';
import { buildResult, missingInterpreterSuggestions } from './result';
import { checkVersionNeeds } from './version-check';
import { RESOLVE_SCHEMA_VERSION, type IsaLevel, type ResolveOptions, type ResolveResult } from './types';

export class ResolveError extends Error {
  override readonly name = 'ResolveError';
}

export interface ResolverSetup {
  sysroot?: string;
  isaLevel?: IsaLevel;
  platform?: string;
  emulateLdconfig?: boolean;
  /** The machine the program must be built for. Default x86_64. */
  target?: TargetArch;
  /** Host file calls for everything read inside the root; tests pass a recording wrapper. */
  hostIo?: HostIo;
  /**
   * Host files and folders shown at paths inside the root, such as the
   * project folder packed at /app. A program or library given by a host path
   * inside a mount gets its path inside the root, so its `$ORIGIN` is there.
   */
  mounts?: readonly RootedMount[];
}

/**
 * Resolves programs against one target root. Keep one Resolver for many
 * programs: parsed files, folder listings and the ld.so.cache are reused.
 */
export class Resolver {
  readonly sysroot: string;
  private readonly fs: RootedFs;
  private readonly elfCache: ElfCache;
  private readonly target: TargetArch;
  private ldCache: LdCache | null | undefined;
  private readonly loaderDefaultsByIdentity = new Map<string, ReturnType<typeof readLoaderDefaults>>();
  private isaLevel: IsaLevel | undefined;
  private readonly cacheDiagnostics: string[] = [];

  constructor(private readonly setup: ResolverSetup = {}) {
    this.sysroot = path.resolve(setup.sysroot ?? '/');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.sysroot);
    } catch {
      throw new ResolveError(`sysroot ${this.sysroot} not found: pass --sysroot an existing folder that contains the target's /lib and /usr/lib`);
    }
    if (!stat.isDirectory()) {
      throw new ResolveError(`sysroot ${this.sysroot} is not a folder: pass --sysroot the root folder of a Linux file system`);
    }
    this.fs = new RootedFs(this.sysroot, setup.hostIo, setup.mounts ? { mounts: setup.mounts } : {});
    this.elfCache = new ElfCache(this.fs);
    this.target = setup.target ?? TARGET_X86_64;
  }

  /** Resolves one program. `programPath` is a host path; inside the sysroot it keeps its path there. */
  resolve(programPath: string, options: Pick<ResolveOptions, 'env' | 'libraryPath' | 'cwd' | 'allowSharedLibrary' | 'imagePath'> = {}): ResolveResult {
    const program = this.loadProgram(programPath, options.allowSharedLibrary ?? false, options.imagePath);
    const session = new LoadSession(program.object);
    const libraryPath = options.libraryPath ?? options.env?.['LD_LIBRARY_PATH'];
    const cwd = options.cwd ?? '/';
    const elf = program.object.elf;

    const kind = elf.classification.kind;
    const interpreterPath = elf.interpreter ?? (kind === 'shared-library' ? defaultInterpreterFor(elf) : undefined);
    if (kind === 'static' || kind === 'static-pie' || interpreterPath === undefined) {
      const extraFiles = staticProgramNeeds(program.hostPath, elf, session);
      return buildResult({ session, sysroot: this.sysroot, programPath, extraFiles, schemaVersion: RESOLVE_SCHEMA_VERSION });
    }

    const interpreter = this.loadInterpreter(interpreterPath, session);
    const isMusl = elf.classification.libc === 'musl' || (kind === 'shared-library' && interpreterPath.includes('ld-musl-'));
    const opener = new RootedCandidateOpener(this.fs, this.elfCache, isMusl ? muslCandidateCheck : glibcCandidateCheck, cwd);
    const preloads = this.preloadNames(options.env, isMusl);

    if (isMusl) {
      const loader = new MuslLoader(session, opener, {
        ...(libraryPath !== undefined ? { libraryPath } : {}),
        systemPath: readMuslSystemPath(this.fs, interpreterPath),
        interpreter,
      });
      loader.loadBreadthFirst([program.object]);
      const extraFiles = muslResolverNeeds(session.objects);
      return buildResult({ session, sysroot: this.sysroot, programPath, interpreter, extraFiles, schemaVersion: RESOLVE_SCHEMA_VERSION });
    }

    const defaults = interpreter ? this.loaderDefaults(interpreter, session) : undefined;
    this.isaLevel ??= this.setup.isaLevel ?? (this.target.machine === 62 ? hostIsaLevel() : 1);
    const isaLevel = this.isaLevel;
    const abi = cacheAbiFor(elf.header.machine, elf.header.ident.class, elf.header.flags);
    const ldCache = this.readCache(abi, session);
    const loader = new GlibcLoader(session, opener, {
      tokens: {
        lib: defaults?.lib ?? 'lib',
        platform: this.setup.platform ?? defaults?.platform ?? machineName(elf.header.machine),
      },
      ...(libraryPath !== undefined ? { libraryPath } : {}),
      systemDirs: defaults?.systemDirs ?? [],
      hwcapsSubdirs: hwcapsSubdirsFor(defaults?.hwcapsSubdirs ?? [], isaLevel),
      lookupCache: (name) => (ldCache ? this.lookupCache(ldCache, name, abi, isaLevel) : undefined),
    });

    const initial = [program.object];
    for (const preload of preloads) {
      const outcome = loader.request(preload.name, program.object);
      if (outcome.kind === 'loaded' && outcome.isNew) {
        outcome.object.foundBy = { rule: 'preload', source: preload.source };
        initial.push(outcome.object);
      }
      if (outcome.kind === 'missing') session.missing.push(outcome.missing);
    }
    loader.loadBreadthFirst(initial);
    checkVersionNeeds(session);
    const extraFiles = addRuntimeNeeds(session, loader);

    const result = buildResult({ session, sysroot: this.sysroot, programPath, interpreter, extraFiles, schemaVersion: RESOLVE_SCHEMA_VERSION });
    if (result.interpreter && defaults?.source === 'loader') result.interpreter.systemDirs = [...defaults.systemDirs];
    return result;
  }

  private loadProgram(programPath: string, allowSharedLibrary: boolean, givenImagePath: string | undefined): { object: LoadedObject; hostPath: string } {
    const hostPath = path.resolve(programPath);
    const info = readProgram(hostPath);
    assertRunnableProgram(info, this.target, programPath, { allowSharedLibrary });

    // A program inside a mount or the root keeps its path there; any other
    // program goes where the caller places it, else at /<name> as OPS does.
    const relative = path.relative(this.sysroot, hostPath);
    const insideRoot = !relative.startsWith('..') && !path.isAbsolute(relative);
    const placedPath = this.mountedPathOf(hostPath) ?? (insideRoot ? `/${relative.split(path.sep).join('/')}` : undefined);
    let imagePath = givenImagePath ?? `/${path.basename(hostPath)}`;
    let realPath = imagePath;
    let identity = hostIdentityOf(hostPath);
    if (placedPath !== undefined && (givenImagePath === undefined || givenImagePath === placedPath)) {
      imagePath = placedPath;
      const resolved = this.fs.resolve(imagePath);
      if (resolved.ok) {
        realPath = resolved.path;
        identity = identityOf(resolved.stat);
      }
    }

    const object: LoadedObject = {
      names: new Set([imagePath]),
      displayPath: imagePath,
      realPath,
      identity,
      elf: info,
      // glibc takes the program's $ORIGIN from /proc/self/exe, which has every
      // symlink resolved (elf/dl-object.c, _dl_get_origin).
      origin: posix.dirname(realPath),
      depth: 0,
      role: 'program',
      foundBy: { rule: 'path' },
      neededBy: [],
      ...(info.dynamic?.soname !== undefined ? { soname: info.dynamic.soname } : {}),
    };
    return { object, hostPath };
  }

  /** Returns the path inside the root of a host file inside a mount's host path, checking the innermost mount first. */
  private mountedPathOf(hostPath: string): string | undefined {
    const mounts = (this.setup.mounts ?? []).map((mount) => ({ imagePath: mount.imagePath, hostPath: path.resolve(mount.hostPath) }));
    mounts.sort((left, right) => right.hostPath.length - left.hostPath.length);
    for (const mount of mounts) {
      const relative = path.relative(mount.hostPath, hostPath);
      if (relative === '') return posix.normalize(mount.imagePath);
      if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) continue;
      return posix.join(mount.imagePath, relative.split(path.sep).join('/'));
    }
    return undefined;
  }

  /** Opens PT_INTERP inside the root; the loader is an object from the start, named by PT_INTERP and its soname. */
  private loadInterpreter(interpreterPath: string, session: LoadSession): LoadedObject | undefined {
    const resolved = this.fs.resolve(interpreterPath);
    const program = session.program;
    if (!resolved.ok) {
      session.missing.push({
        name: interpreterPath,
        chain: [program.displayPath],
        kind: 'not-found',
        reason:
          `the program's interpreter (PT_INTERP) ${interpreterPath} is missing from the root (${resolved.message}), so the kernel would fail to start the program with a bare "No such file or directory". ` +
          'LD_LIBRARY_PATH cannot supply it, because the kernel loads the interpreter before any library search',
        searched: [{ phase: 'path', folder: interpreterPath }],
        rejected: [],
        suggestions: missingInterpreterSuggestions(interpreterPath, this.sysroot),
      });
      return undefined;
    }

    const identity = identityOf(resolved.stat);
    const entry = this.elfCache.read(resolved.path, identity);
    const info = entry.file?.info;
    if (!info) {
      session.missing.push({
        name: interpreterPath,
        chain: [program.displayPath],
        kind: 'fatal',
        reason: `PT_INTERP ${interpreterPath} is not a usable ELF file: ${entry.error?.message ?? entry.file?.parseError?.message ?? 'not an ELF file'}`,
        searched: [{ phase: 'path', folder: interpreterPath }],
        rejected: [],
        suggestions: [],
      });
      return undefined;
    }

    return session.addObject({
      names: new Set([interpreterPath]),
      displayPath: interpreterPath,
      realPath: resolved.path,
      identity,
      elf: info,
      origin: posix.dirname(interpreterPath),
      depth: 0,
      role: 'interpreter',
      foundBy: { rule: 'interpreter' },
      neededBy: [program],
      ...(info.dynamic?.soname !== undefined ? { soname: info.dynamic.soname } : {}),
    });
  }

  /** Reads the loader's built-in folders and `$LIB` once per loader file. */
  private loaderDefaults(interpreter: LoadedObject, session: LoadSession) {
    let defaults = this.loaderDefaultsByIdentity.get(interpreter.identity);
    if (!defaults) {
      const read = this.fs.readFile(interpreter.realPath);
      const bytes = read.ok ? read.bytes : new Uint8Array(0);
      defaults = readLoaderDefaults(bytes, interpreter.elf.header.machine, interpreter.elf.header.ident.class, this.fs);
      this.loaderDefaultsByIdentity.set(interpreter.identity, defaults);
    }
    if (defaults.source !== 'loader') {
      session.diagnostics.push({
        level: 'warning',
        message: `could not read the built-in library folders from ${interpreter.displayPath}; assumed ${defaults.systemDirs.join(':')} (${defaults.source})`,
      });
    }
    return defaults;
  }

  /** Reads the root's /etc/ld.so.cache once, or builds the ldconfig view when asked to. */
  private readCache(abi: ReturnType<typeof cacheAbiFor>, session: LoadSession): LdCache | undefined {
    if (this.ldCache === undefined) {
      try {
        this.ldCache = readLdCache(this.fs) ?? null;
      } catch (error) {
        this.ldCache = null;
        this.cacheDiagnostics.push(`ignored the root's /etc/ld.so.cache: ${(error as Error).message}`);
      }
      if (this.ldCache === null && this.setup.emulateLdconfig) {
        this.ldCache = buildCacheView(this.fs, readLdSoConf(this.fs), abi);
      } else if (this.ldCache === null) {
        this.cacheDiagnostics.push(
          'the root has no /etc/ld.so.cache, so folders listed only in /etc/ld.so.conf are not searched (as ld.so does); run ldconfig -r ROOT, or pass --ldconfig to read ld.so.conf',
        );
      }
    }
    for (const message of this.cacheDiagnostics) session.diagnostics.push({ level: 'info', message });
    return this.ldCache ?? undefined;
  }

  /**
   * Looks a name up in the cache. In a view built from ld.so.conf, the
   * soname link that ldconfig would create may not exist yet, so the file it
   * would point at is opened instead.
   */
  private lookupCache(cache: LdCache, name: string, abi: ReturnType<typeof cacheAbiFor>, isaLevel: IsaLevel) {
    const hit = lookupLdCache(cache, name, abi, { isaLevel });
    const linkTarget = hit?.entry.sonameLinkTarget;
    if (!hit || cache.format !== 'ldconfig-view' || linkTarget === undefined || this.fs.exists(hit.path)) return hit;
    return { ...hit, path: posix.join(posix.dirname(hit.path), linkTarget) };
  }

  /** LD_PRELOAD from the image's environment, then the root's /etc/ld.so.preload (glibc only). */
  private preloadNames(env: Record<string, string> | undefined, isMusl: boolean) {
    const names: { name: string; source: 'LD_PRELOAD' | '/etc/ld.so.preload' }[] = [];
    for (const name of (env?.['LD_PRELOAD'] ?? '').split(/[ :]/)) {
      if (name !== '') names.push({ name, source: 'LD_PRELOAD' });
    }
    if (isMusl) return names;

    const preloadFile = this.fs.readFile('/etc/ld.so.preload');
    if (!preloadFile.ok) return names;
    const text = Buffer.from(preloadFile.bytes).toString('utf8');
    for (const line of text.split('\n')) {
      for (const name of line.replace(/#.*/, '').split(/[\s:]+/)) {
        if (name !== '') names.push({ name, source: '/etc/ld.so.preload' });
      }
    }
    return names;
  }
}

/** Resolves one program with a one-off Resolver. */
export function resolveProgram(programPath: string, options: ResolveOptions & { target?: TargetArch } = {}): ResolveResult {
  const { env, libraryPath, cwd, ...setup } = options;
  const { allowSharedLibrary, ...resolverSetup } = setup;
  return new Resolver(resolverSetup).resolve(programPath, {
    ...(allowSharedLibrary !== undefined ? { allowSharedLibrary } : {}),
    ...(env ? { env } : {}),
    ...(libraryPath !== undefined ? { libraryPath } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
  });
}

/**
 * Returns the loader `ldd` uses for a shared library, which has no PT_INTERP: musl's
 * when the library needs musl's libc.so, else glibc's for the machine.
 */
function defaultInterpreterFor(elf: ElfInfo): string | undefined {
  const needed = elf.dynamic?.needed ?? [];
  const usesMusl = needed.some((name) => name === 'libc.so' || name.startsWith('libc.musl-'));
  const machine = elf.header.machine;
  if (machine === EM_X86_64 && elf.header.ident.class === 64) return usesMusl ? '/lib/ld-musl-x86_64.so.1' : '/lib64/ld-linux-x86-64.so.2';
  if (machine === EM_AARCH64) return usesMusl ? '/lib/ld-musl-aarch64.so.1' : '/lib/ld-linux-aarch64.so.1';
  // NOTE: other machines' default loaders are not listed; their libraries resolve as static files.
  return undefined;
}

function readProgram(hostPath: string): ElfInfo {
  const source = FileByteSource.open(hostPath);
  try {
    return parseElf(source, { symbols: true, path: hostPath });
  } finally {
    source.close();
  }
}

function hostIdentityOf(hostPath: string): string {
  return identityOf(fs.statSync(hostPath, { bigint: true }));
}

export { ElfError };

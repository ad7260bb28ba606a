// Turns a finished load session into the public ResolveResult, adding the
// fix suggestions to each miss.

import { machineName } from '../elf/constants';
import type { LoadSession } from './load-session';
import type { LoadedObject } from './loaded-object';
import { highestGlibcVersion } from './runtime-needs';
import type { ExtraFile, MissingLibrary, ResolvedLibrary, ResolveResult } from './types';

export interface ResultInput {
  session: LoadSession;
  sysroot: string;
  programPath: string;
  interpreter?: LoadedObject | undefined;
  extraFiles: ExtraFile[];
  schemaVersion: number;
}

export function buildResult(input: ResultInput): ResolveResult {
  const { session, sysroot } = input;
  const program = session.program;
  const elf = program.elf;
  const libraries = session.objects.filter((object) => object.role === 'library').map(toResolvedLibrary);
  const missing = session.missing.map((entry) => ({ ...entry, suggestions: suggestionsFor(entry, sysroot) }));
  const libc = libcVersion(session);

  const result: ResolveResult = {
    schemaVersion: input.schemaVersion,
    program: { path: input.programPath, realPath: program.realPath },
    sysroot,
    elfClass: elf.header.ident.class,
    machine: machineName(elf.header.machine),
    classification: elf.classification,
    libc: libc === undefined ? { flavour: elf.classification.libc } : { flavour: elf.classification.libc, version: libc },
    libraries,
    missing,
    extraFiles: input.extraFiles,
    diagnostics: session.diagnostics,
    ok: missing.length === 0 && !session.diagnostics.some((diagnostic) => diagnostic.level === 'error'),
  };
  if (elf.interpreter !== undefined) {
    result.interpreter = input.interpreter
      ? { path: elf.interpreter, realPath: input.interpreter.realPath }
      : { path: elf.interpreter };
  }
  return result;
}

function toResolvedLibrary(object: LoadedObject): ResolvedLibrary {
  const [name] = object.names;
  const library: ResolvedLibrary = {
    name: name ?? object.displayPath,
    path: object.displayPath,
    realPath: object.realPath,
    neededBy: object.neededBy.map((requester) => requester.displayPath),
    foundBy: object.foundBy,
    depth: object.depth,
  };
  if (object.soname !== undefined) library.soname = object.soname;
  if (object.hwcaps !== undefined) library.hwcaps = object.hwcaps;
  if (object.runtime) library.runtime = object.runtime;
  return library;
}

function libcVersion(session: LoadSession): string | undefined {
  const libc = session.objects.find((object) => object.role === 'library' && (object.names.has('libc.so.6') || object.soname === 'libc.so.6'));
  const version = libc ? highestGlibcVersion(libc.elf.versionDefinitions ?? []) : undefined;
  return version ? version.join('.') : undefined;
}

function suggestionsFor(entry: MissingLibrary, sysroot: string): string[] {
  if (entry.suggestions.length > 0) return entry.suggestions;
  if (entry.kind === 'fatal') {
    const culprit = entry.rejected.find((candidate) => candidate.outcome === 'fatal');
    return [
      `${culprit?.path ?? entry.name} stops the loader (${entry.reason ?? 'unusable file'}); remove or replace it in the root, even if another folder has a good copy`,
    ];
  }

  const suggestions: string[] = [];
  const incompatible = entry.rejected.filter((candidate) => candidate.outcome === 'skip');
  if (incompatible.length > 0) {
    suggestions.push(
      `only unusable copies were found (${incompatible.map((candidate) => `${candidate.path}: ${candidate.reason}`).join('; ')}); install the build of ${entry.name} for the program's architecture`,
    );
  }
  suggestions.push(
    `add the folder that holds ${entry.name} to LD_LIBRARY_PATH (--library-path, or LD_LIBRARY_PATH in the image's env)`,
    `or copy ${entry.name} into a folder that is searched, e.g. ${entry.searched.find((folder) => folder.phase === 'system-dir' || folder.phase === 'musl-path')?.folder ?? '/usr/lib'} inside ${sysroot}`,
    `or pass --sysroot a root that has it, such as a copy of the Linux system the program was built on`,
  );
  return suggestions;
}

/** Returns the fixes for a PT_INTERP path that is missing from the root, none of which is LD_LIBRARY_PATH. */
export function missingInterpreterSuggestions(interpreterPath: string, sysroot: string): string[] {
  const name = interpreterPath.slice(interpreterPath.lastIndexOf('/') + 1);
  const libcPackage = name.startsWith('ld-musl-')
    ? 'the musl package (musl on Debian and Alpine)'
    : name.startsWith('ld-linux')
      ? 'the glibc package (libc6 on Debian and Ubuntu, glibc on Fedora)'
      : 'the C library package of the system the program was built for';
  return [
    `pass a root that contains ${interpreterPath}, such as a copy of the system the program was built for: --sysroot DIR for ldd and build, "sysroot" in unikernel.json, or TargetRoot in an OPS config.json`,
    `or install ${libcPackage} into ${sysroot}`,
  ];
}


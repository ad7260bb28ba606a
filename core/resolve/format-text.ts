// Text forms of a ResolveResult: a flat list or a tree like lddtree's, and a
// report of every miss with the folders searched and the fix.

import type { FoundBy, MissingLibrary, ResolvedLibrary, ResolveResult, SearchedFolder } from './types';

const INDENT = '    ';

export function formatResolution(result: ResolveResult, options: { tree: boolean }): string {
  const lines: string[] = [];
  const interpreter = result.interpreter ? result.interpreter.path : 'none';
  lines.push(`${result.program.path} (interpreter => ${interpreter}; ${describeKind(result)})`);

  if (options.tree) appendTree(result, lines);
  else for (const library of result.libraries) lines.push(`${INDENT}${formatLibrary(library)}`);

  for (const missing of result.missing) {
    if (missing.kind === 'not-found') lines.push(`${INDENT}${missing.name} => not found`);
  }
  if (result.extraFiles.length > 0) {
    lines.push('run-time files:');
    for (const file of result.extraFiles) {
      const source = file.source.kind === 'root' ? file.source.path : 'generated';
      lines.push(`${INDENT}${file.path} <= ${source} (${file.reason})`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function describeKind(result: ResolveResult): string {
  const { classification, libc } = result;
  const parts: string[] = [classification.kind];
  if (libc.flavour !== 'none' && libc.flavour !== 'unknown') parts.push(libc.version ? `${libc.flavour} ${libc.version}` : libc.flavour);
  if (classification.go) parts.push(`Go${classification.go.version ? ` ${classification.go.version}` : ''}${classification.go.cgo ? ' with cgo' : ''}`);
  parts.push(`ELF${result.elfClass} ${result.machine}`);
  return parts.join(', ');
}

function formatLibrary(library: ResolvedLibrary): string {
  const shownName = library.path === library.name ? library.path : `${library.name} => ${library.path}`;
  const notes: string[] = [];
  if (library.hwcaps) notes.push(`glibc-hwcaps ${library.hwcaps}`);
  if (library.runtime) notes.push(`dlopen at run time: ${library.runtime.reason}`);
  if (library.foundBy.rule === 'preload') notes.push(`preloaded by ${library.foundBy.source}`);
  return notes.length > 0 ? `${shownName} (${notes.join('; ')})` : shownName;
}

/** Prints each library under the object that loaded it first, as lddtree does without --all. */
function appendTree(result: ResolveResult, lines: string[]): void {
  const children = new Map<string, ResolvedLibrary[]>();
  for (const library of result.libraries) {
    const parent = library.neededBy[0] ?? '';
    const list = children.get(parent) ?? [];
    list.push(library);
    children.set(parent, list);
  }

  const printed = new Set<string>();
  const visit = (parent: string, depth: number): void => {
    for (const library of children.get(parent) ?? []) {
      if (printed.has(library.path)) continue;
      printed.add(library.path);
      lines.push(`${INDENT.repeat(depth)}${formatLibrary(library)}`);
      visit(library.path, depth + 1);
    }
  };
  const programPath = result.libraries.find((library) => library.depth === 1)?.neededBy[0];
  visit(programPath ?? result.program.realPath, 1);
  // Runtime libraries are requested by libc.so.6 and so sit under it.
  for (const library of result.libraries) {
    if (!printed.has(library.path)) lines.push(`${INDENT}${formatLibrary(library)}`);
  }
}

/** Formats the error report: every miss, with who needs it, where it was looked for, and the fix. */
export function formatMissing(result: ResolveResult): string {
  if (result.missing.length === 0) return '';
  const count = result.missing.length;
  const lines = [`error: ${count} ${count === 1 ? 'library' : 'libraries'} cannot be loaded for ${result.program.path} in root ${result.sysroot}:`];
  for (const missing of result.missing) lines.push(...formatOneMissing(missing));
  return `${lines.join('\n')}\n`;
}

function formatOneMissing(missing: MissingLibrary): string[] {
  const what =
    missing.kind === 'not-found' ? (missing.reason === undefined ? 'not found' : `not found: ${missing.reason}`)
    : missing.kind === 'version' ? `version mismatch: ${missing.reason ?? ''}`
    : `cannot be loaded: ${missing.reason ?? ''}`;
  const lines = [`  ${missing.name}: ${what}`, `    needed by: ${missing.chain.join(' -> ')}${missing.runtime ? ` (at run time: ${missing.runtime.reason})` : ''}`];
  if (missing.searched.length > 0) lines.push(`    searched: ${formatSearched(missing.searched)}`);
  for (const rejected of missing.rejected) lines.push(`    rejected ${rejected.path}: ${rejected.reason}`);
  for (const suggestion of missing.suggestions) lines.push(`    fix: ${suggestion}`);
  return lines;
}

function formatSearched(searched: SearchedFolder[]): string {
  // Consecutive folders of one phase (and owner) are printed as one group.
  const groups: { label: string; folders: string[] }[] = [];
  for (const entry of searched) {
    const label = entry.owner ? `${phaseLabel(entry.phase)} of ${entry.owner}` : phaseLabel(entry.phase);
    let group = groups[groups.length - 1];
    if (!group || group.label !== label) {
      group = { label, folders: [] };
      groups.push(group);
    }
    group.folders.push(entry.folder === '' ? '(current directory)' : entry.folder);
  }
  return groups.map((group) => (group.label === 'ld.so.cache' ? 'ld.so.cache' : `${group.label} [${group.folders.join(', ')}]`)).join('; ');
}

function phaseLabel(phase: SearchedFolder['phase']): string {
  switch (phase) {
    case 'rpath': return 'DT_RPATH';
    case 'runpath': return 'DT_RUNPATH';
    case 'LD_LIBRARY_PATH': return 'LD_LIBRARY_PATH';
    case 'ld.so.cache': return 'ld.so.cache';
    case 'system-dir': return 'system folders';
    case 'musl-path': return 'musl system path';
    case 'path': return 'path';
  }
}

export function describeFoundBy(foundBy: FoundBy): string {
  switch (foundBy.rule) {
    case 'rpath': return `DT_RPATH of ${foundBy.owner}`;
    case 'runpath': return `DT_RUNPATH of ${foundBy.owner}`;
    case 'ld-library-path': return 'LD_LIBRARY_PATH';
    case 'ld-so-cache': return 'ld.so.cache';
    case 'system-dir': return 'system folder';
    case 'already-loaded': return `already loaded (same ${foundBy.match})`;
    case 'preload': return foundBy.source;
    case 'interpreter': return 'PT_INTERP';
    case 'path': return 'path';
  }
}

// Benchmark: resolves every ELF file in /usr/bin and /usr/lib/x86_64-linux-gnu
// in one process, side by side with `ldd` run once per file and, when it is
// installed, one `lddtree` run over all files. It prints the time ratio and
// whether the library sets are identical.
//
// Usage: node dist/bench/ldd/run.js [folder ...]

import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { ElfError } from '../../core/elf/errors';
import { Resolver } from '../../core/resolve/resolver';
import { listElfFiles } from './elf-files';
import { parseLddOutput } from './ldd-output';

const DEFAULT_FOLDERS = ['/usr/bin', '/usr/lib/x86_64-linux-gnu'];

function main(): void {
  const folders = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_FOLDERS;
  const files = listElfFiles(folders);
  console.log(`bench/ldd: ${files.length} ELF files in ${folders.join(', ')}`);

  // The tool: every file in one process with one Resolver, as the CLI or the
  // Nx plugin would. Three rounds, each with a fresh Resolver (no cache kept
  // between rounds); the first round also pays for loading and compiling the code.
  const rounds: number[] = [];
  let toolResults = new Map<string, Map<string, string>>();
  let rejected = 0;
  for (let round = 0; round < 3; round += 1) {
    const start = performance.now();
    ({ toolResults, rejected } = resolveAll(files));
    rounds.push((performance.now() - start) / 1000);
  }
  const toolSeconds = median(rounds);

  // ldd: one run per file, as a user or OPS would call it.
  const lddStart = performance.now();
  const lddResults = new Map<string, Map<string, string>>();
  for (const file of toolResults.keys()) {
    const run = spawnSync('ldd', [file], { encoding: 'utf8' });
    if (run.status !== 0) continue;
    const libraries = parseLddOutput(run.stdout);
    lddResults.set(file, libraries);
  }
  const lddSeconds = (performance.now() - lddStart) / 1000;

  // Compare the files ldd could list; its interpreter line is not a DT_NEEDED entry.
  let identical = 0;
  const differences: string[] = [];
  for (const [file, expected] of lddResults) {
    for (const name of [...expected.keys()]) if (name.startsWith('/') && name.includes('ld-linux')) expected.delete(name);
    const actual = toolResults.get(file) ?? new Map();
    if (sameMap(expected, actual)) identical += 1;
    else differences.push(`${file}: ldd ${[...expected].join(',')} | tool ${[...actual].join(',')}`);
  }

  console.log(`tool (one process):  ${toolSeconds.toFixed(2)} s median of ${rounds.map((seconds) => seconds.toFixed(2)).join(', ')} s for ${files.length} files (${rejected} rejected as not x86_64 or not ELF programs or libraries)`);
  console.log(`ldd (per file):      ${lddSeconds.toFixed(2)} s for ${toolResults.size} files (${lddResults.size} with a library list)`);
  console.log(`ratio ldd/tool:      ${(lddSeconds / toolSeconds).toFixed(1)}x`);
  console.log(`identical sets:      ${identical} of ${lddResults.size}${differences.length === 0 ? ' (all)' : ''}`);
  for (const difference of differences.slice(0, 20)) console.log(`  differs: ${difference}`);

  const lddtree = findLddtree();
  if (lddtree) {
    const lddtreeStart = performance.now();
    const run = spawnSync(lddtree.file, [...lddtree.args, '-l', ...toolResults.keys()], { encoding: 'utf8', maxBuffer: 256 << 20 });
    const lddtreeSeconds = (performance.now() - lddtreeStart) / 1000;
    console.log(`lddtree (one run):   ${lddtreeSeconds.toFixed(2)} s, exit ${run.status}; ratio lddtree/tool ${(lddtreeSeconds / toolSeconds).toFixed(1)}x`);
  } else {
    console.log('lddtree:             not installed (Debian package pax-utils with python3-pyelftools)');
  }
}

function resolveAll(files: string[]): { toolResults: Map<string, Map<string, string>>; rejected: number } {
  const resolver = new Resolver({ sysroot: '/' });
  const toolResults = new Map<string, Map<string, string>>();
  let rejected = 0;
  for (const file of files) {
    try {
      const result = resolver.resolve(file, { allowSharedLibrary: true });
      if (result.classification.libc === 'musl') continue;
      const libraries = new Map<string, string>();
      for (const library of result.libraries) if (!library.runtime) libraries.set(library.name, library.path);
      for (const missing of result.missing) if (!missing.runtime && missing.kind === 'not-found') libraries.set(missing.name, 'not found');
      toolResults.set(file, libraries);
    } catch (error) {
      if (!(error instanceof ElfError)) throw error;
      rejected += 1;
    }
  }
  return { toolResults, rejected };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function sameMap(left: Map<string, string>, right: Map<string, string>): boolean {
  if (left.size !== right.size) return false;
  for (const [key, value] of left) if (right.get(key) !== value) return false;
  return true;
}

/**
 * Finds pax-utils' lddtree. It is a Python script whose `env python3` may be
 * another Python than the one Debian's python3-pyelftools is installed for,
 * so Debian's /usr/bin/python3 is tried first.
 */
function findLddtree(): { file: string; args: string[] } | undefined {
  const candidates = [
    { file: '/usr/bin/python3', args: ['/usr/bin/lddtree'] },
    { file: 'lddtree', args: [] },
  ];
  for (const candidate of candidates) {
    try {
      execFileSync(candidate.file, [...candidate.args, '-V'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // Not installed, or its Python lacks pyelftools: try the next way.
    }
  }
  return undefined;
}

main();

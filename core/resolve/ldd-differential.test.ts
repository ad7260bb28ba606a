// Every dynamic ELF program in this machine's /usr/bin is resolved by the tool
// and by the machine's own `ldd`. Both must name the same libraries at the
// same paths.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ElfError } from '../elf/errors';
import { Resolver } from './resolver';
import { listElfFiles } from '../../bench/ldd/elf-files';
import { parseLddOutput } from '../../bench/ldd/ldd-output';

const execFileAsync = promisify(execFile);
const BIN = '/usr/bin';

async function runLdd(program: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('ldd', [program], { maxBuffer: 1 << 20 });
    return stdout;
  } catch {
    // ldd exits 1 for static programs ("not a dynamic executable").
    return undefined;
  }
}

describe('resolver against ldd', () => {
  it('agrees with ldd on every dynamic program in /usr/bin', async () => {
    const programs = listElfFiles([BIN]);
    expect(programs.length).toBeGreaterThan(50);
    const resolver = new Resolver({ sysroot: '/' });
    const mismatches: string[] = [];
    let compared = 0;

    // Four ldd processes at a time keeps the two cores busy without thrashing.
    const queue = [...programs];
    const worker = async (): Promise<void> => {
      for (let program = queue.shift(); program !== undefined; program = queue.shift()) {
        let result;
        try {
          result = resolver.resolve(program);
        } catch (error) {
          if (error instanceof ElfError) continue;
          throw error;
        }
        if (result.classification.kind !== 'dynamic') continue;
        // glibc's ldd runs musl programs with the glibc loader and gets them
        // wrong; the musl rules are tested on their own.
        if (result.classification.libc !== 'glibc') continue;

        const output = await runLdd(program);
        if (output === undefined) continue;
        const expected = parseLddOutput(output);
        const actual = new Map<string, string>();
        for (const library of result.libraries) {
          if (!library.runtime) actual.set(library.name, library.path);
        }
        for (const missing of result.missing) {
          if (!missing.runtime) actual.set(missing.name, 'not found');
        }
        if (result.interpreter) expected.delete(result.interpreter.path);

        compared += 1;
        const difference = compareMaps(expected, actual);
        if (difference) mismatches.push(`${program}: ${difference}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);

    expect(compared).toBeGreaterThan(50);
    expect(mismatches).toEqual([]);
  }, 600_000);
});

function compareMaps(expected: Map<string, string>, actual: Map<string, string>): string | undefined {
  const differences: string[] = [];
  for (const [name, expectedPath] of expected) {
    const actualPath = actual.get(name);
    if (actualPath !== expectedPath) differences.push(`${name}: ldd ${expectedPath}, tool ${actualPath ?? 'absent'}`);
  }
  for (const [name, actualPath] of actual) {
    if (!expected.has(name)) differences.push(`${name}: ldd absent, tool ${actualPath}`);
  }
  return differences.length > 0 ? differences.join('; ') : undefined;
}

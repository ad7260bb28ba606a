// Seeded mutation fuzzing of the reader: real ELF files with bytes flipped in
// the header, program headers and dynamic section, cut at random lengths, or
// with counts and offsets set to huge values. Every parse must either succeed
// or throw ElfError, quickly: every loop over a count taken from the file is
// bounded by the file size. The seed is fixed, so a failure reproduces.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BufferByteSource } from './byte-source';
import { PT_DYNAMIC } from './constants';
import { ElfError } from './errors';
import { TARGET_X86_64, assertRunnableProgram, identifyNonElf } from './identify';
import { parseElf } from './read-elf';
import { HELLO_C, buildC, buildSharedLib, makeTempDir, removeTempDir } from './test-support';
import { readCandidate, verifyGlibcCandidate, verifyMuslCandidate } from './verify-candidate';

// ELF_FUZZ_SEED and ELF_FUZZ_CASES override the defaults for longer local runs.
const SEED = Number(process.env.ELF_FUZZ_SEED ?? 0x5eed_e1f);
const CASES_PER_FIXTURE = Number(process.env.ELF_FUZZ_CASES ?? 1200);
/**
 * Bound for one case (several parses of a file of at most ~16 KB). Cases
 * take about 1 ms, and the margin absorbs garbage collection and a loaded
 * CI machine. A loop running to a corrupt count would take far longer.
 */
const MAX_CASE_MS = 1000;

let dir: string;
const fixtures: { name: string; bytes: Buffer }[] = [];

beforeAll(() => {
  dir = makeTempDir();
  const pie = buildC({ source: HELLO_C, out: path.join(dir, 'pie'), flags: ['-fPIE', '-pie'] });
  const library = buildSharedLib(path.join(dir, 'lib'), 'libfuzz.so.1', 'libfuzz.so.1', ['-Wl,-rpath,/opt/x', '-Wl,--version-script,' + writeVersionScript()], '#include <stdio.h>\nint fuzz(void) { return puts("x"); }\n');
  const elf32 = buildC({ source: HELLO_C, out: path.join(dir, 'pie32'), flags: ['-m32'] });
  for (const file of [pie, library, elf32]) {
    fixtures.push({ name: path.basename(file), bytes: fs.readFileSync(file) });
  }
});

afterAll(() => {
  removeTempDir(dir);
});

function writeVersionScript(): string {
  const script = path.join(dir, 'fuzz.map');
  fs.writeFileSync(script, 'FUZZ_1.0 { global: fuzz; local: *; };\n');
  return script;
}

/** mulberry32: a small seeded generator, so every run mutates the same way. */
function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

interface Regions {
  headerEnd: number;
  dynamicStart: number;
  dynamicEnd: number;
}

function regionsOf(bytes: Buffer): Regions {
  const info = parseElf(new BufferByteSource(bytes));
  const dynamic = info.programHeaders.find((segment) => segment.type === PT_DYNAMIC);
  return {
    headerEnd: info.header.phoff + info.header.phnum * info.header.phentsize,
    dynamicStart: dynamic?.offset ?? 0,
    dynamicEnd: (dynamic?.offset ?? 0) + (dynamic?.filesz ?? 0),
  };
}

/**
 * Applies one random mutation and returns the mutated copy. "Tables" is the
 * rest of the first page, where small files keep PT_INTERP, the notes,
 * the hash tables, .dynsym, .dynstr and the version records.
 */
function mutate(original: Buffer, regions: Regions, random: () => number): Buffer {
  const pick = (start: number, end: number): number => start + Math.floor(random() * Math.max(1, end - start));
  const tablesEnd = Math.min(4096, original.length);
  const kind = random();

  if (kind < 0.12) {
    return Buffer.from(original.subarray(0, pick(0, original.length)));
  }

  const bytes = Buffer.from(original);
  const flip = (start: number, end: number, maxCount: number): void => {
    for (let count = 1 + Math.floor(random() * maxCount); count > 0; count--) {
      bytes[pick(start, end)] = Math.floor(random() * 256);
    }
  };

  if (kind < 0.4) {
    flip(0, regions.headerEnd, 4);
  } else if (kind < 0.6) {
    flip(regions.dynamicStart, regions.dynamicEnd, 4);
  } else if (kind < 0.8) {
    flip(regions.headerEnd, tablesEnd, 6);
  } else if (kind < 0.92) {
    // A huge value in an aligned word of the headers, the tables or the dynamic section.
    const area = random();
    const at = area < 0.33 ? pick(16, regions.headerEnd - 8) : area < 0.66 ? pick(regions.headerEnd, tablesEnd - 8) : pick(regions.dynamicStart, regions.dynamicEnd - 8);
    const word = at - (at % 4);
    const huge = [0xffffffff, 0x7fffffff, 0x80000000, 0xfffffff0, 0x0000ffff][Math.floor(random() * 5)] ?? 0xffffffff;
    bytes.writeUInt32LE(huge >>> 0, Math.min(word, bytes.length - 4));
  } else {
    flip(0, bytes.length, 16);
  }
  return bytes;
}

/** Counts of parse outcomes, to check that mutations reach both success and rejection. */
const outcomes = { parsed: 0, rejected: 0 };

/** Runs every public entry point on `bytes`; returns a description of any non-ElfError failure. */
function exercise(bytes: Buffer): string | undefined {
  const source = new BufferByteSource(bytes);
  const guard = (step: string, action: () => unknown): string | undefined => {
    try {
      action();
      return undefined;
    } catch (error) {
      if (error instanceof ElfError) {
        return undefined;
      }
      return `${step}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
    }
  };

  return (
    guard('identifyNonElf', () => identifyNonElf(bytes.subarray(0, 4096))) ??
    guard('parseElf', () => {
      outcomes.rejected += 1;
      const info = parseElf(source, { symbols: true });
      outcomes.rejected -= 1;
      outcomes.parsed += 1;
      assertRunnableProgram(info, TARGET_X86_64);
    }) ??
    guard('verify', () => {
      const candidate = readCandidate(source);
      const requester = { class: 64 as const, byteOrder: 'little' as const, machine: 62, flags: 0 };
      verifyGlibcCandidate(candidate, requester);
      verifyMuslCandidate(candidate, requester);
      verifyGlibcCandidate(candidate, { ...requester, class: 32 });
      verifyMuslCandidate(candidate, { ...requester, class: 32, byteOrder: 'big' });
    })
  );
}

describe('mutation fuzzing', () => {
  it('throws only ElfError, quickly', () => {
    const random = makeRandom(SEED);
    const failures: string[] = [];
    const slow: string[] = [];
    const started = performance.now();
    let cases = 0;

    for (const fixture of fixtures) {
      const regions = regionsOf(fixture.bytes);
      for (let index = 0; index < CASES_PER_FIXTURE; index++) {
        const mutated = mutate(fixture.bytes, regions, random);
        const caseStarted = performance.now();
        const failure = exercise(mutated);
        const elapsed = performance.now() - caseStarted;
        cases += 1;

        if (failure !== undefined) {
          failures.push(`${fixture.name} case ${index}: ${failure}`);
        }
        if (elapsed > MAX_CASE_MS) {
          slow.push(`${fixture.name} case ${index}: ${elapsed.toFixed(0)} ms`);
        }
      }
    }

    expect(cases).toBe(fixtures.length * CASES_PER_FIXTURE);
    expect(outcomes.parsed).toBeGreaterThan(cases / 10);
    expect(outcomes.rejected).toBeGreaterThan(cases / 10);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(slow.slice(0, 5)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(30_000 * Math.max(1, CASES_PER_FIXTURE / 1200));
    console.info(`fuzz: ${cases} cases, ${outcomes.parsed} parsed, ${outcomes.rejected} rejected, ${(performance.now() - started).toFixed(0)} ms`);
  });
});

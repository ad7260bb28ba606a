// Parsers for `readelf -W` output (GNU binutils 2.40), the reference the
// reader's results are compared with.

import { run } from './toolchain';

export interface ReadelfImport {
  name: string;
  /** The version after "@", e.g. "GLIBC_2.34", when the import has one. */
  version?: string;
  /** The Bind column in lower case: "global", "weak", ... */
  binding: string;
}

/** Returns the named undefined (UND) symbols of `--dyn-syms`, in table order. */
export function readelfImports(file: string): ReadelfImport[] {
  const output = run('readelf', ['--dyn-syms', '-W', file]);
  const imports: ReadelfImport[] = [];
  for (const line of output.split('\n')) {
    // "   1: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND puts@GLIBC_2.2.5 (2)"
    const columns = line.trim().split(/\s+/);
    if (columns.length < 8 || !/^\d+:$/.test(columns[0] ?? '') || columns[6] !== 'UND') {
      continue;
    }
    const symbol = columns[7] ?? '';
    if (symbol === '') {
      continue;
    }
    const at = symbol.indexOf('@');
    const entry: ReadelfImport = { name: at < 0 ? symbol : symbol.slice(0, at), binding: (columns[4] ?? '').toLowerCase() };
    if (at >= 0) {
      entry.version = symbol.slice(at + 1).replace(/^@/, '');
    }
    imports.push(entry);
  }
  return imports;
}

export interface ReadelfDynamic {
  needed: string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  /** Words after "Flags:" of FLAGS_1, e.g. ["NOW", "PIE"]. */
  flags1: string[];
  /** Words of FLAGS, e.g. ["BIND_NOW"]. */
  flags: string[];
  filters: string[];
  auxiliaries: string[];
  hasDebug: boolean;
}

/** Parses `readelf -d -W`. */
export function readelfDynamic(file: string): ReadelfDynamic {
  const output = run('readelf', ['-d', '-W', file]);
  const result: ReadelfDynamic = { needed: [], flags1: [], flags: [], filters: [], auxiliaries: [], hasDebug: false };
  for (const line of output.split('\n')) {
    const match = /^\s*0x[0-9a-f]+ \((\w+)\)\s+(.*)$/.exec(line);
    if (match === null) {
      continue;
    }
    const [, tag = '', value = ''] = match;
    const bracketed = /\[(.*)\]/.exec(value)?.[1];
    switch (tag) {
      case 'NEEDED':
        result.needed.push(bracketed ?? '');
        break;
      case 'SONAME':
        result.soname = bracketed ?? '';
        break;
      case 'RPATH':
        result.rpath = bracketed ?? '';
        break;
      case 'RUNPATH':
        result.runpath = bracketed ?? '';
        break;
      case 'FILTER':
        result.filters.push(bracketed ?? '');
        break;
      case 'AUXILIARY':
        result.auxiliaries.push(bracketed ?? '');
        break;
      case 'FLAGS_1':
        result.flags1 = value.replace(/^Flags:\s*/, '').trim().split(/\s+/);
        break;
      case 'FLAGS':
        result.flags = value.trim().split(/\s+/);
        break;
      case 'DEBUG':
        result.hasDebug = true;
        break;
    }
  }
  return result;
}

export interface ReadelfHeader {
  class: 32 | 64;
  byteOrder: 'little' | 'big';
  /** e_type as "EXEC", "DYN", "REL", "CORE". */
  type: string;
  machine: number;
  entry: bigint;
  phnum: number;
  osAbi: string;
}

/** readelf's Machine names for the e_machine values the tests build. */
const READELF_MACHINES: Record<string, number> = {
  'Advanced Micro Devices X86-64': 62,
  'Intel 80386': 3,
  AArch64: 183,
  PowerPC: 20,
  PowerPC64: 21,
  'IBM S/390': 22,
  'RISC-V': 243,
  ARM: 40,
};

/** Parses `readelf -h -W`. Throws for a Machine name missing from READELF_MACHINES. */
export function readelfHeader(file: string): ReadelfHeader {
  const output = run('readelf', ['-h', '-W', file]);
  const field = (name: string): string => new RegExp(`^\\s*${name}:\\s*(.*)$`, 'm').exec(output)?.[1]?.trim() ?? '';
  const machineText = field('Machine');
  const machine = READELF_MACHINES[machineText];
  if (machine === undefined) {
    throw new Error(`readelfHeader: unknown Machine "${machineText}" in ${file}`);
  }
  return {
    class: field('Class') === 'ELF64' ? 64 : 32,
    byteOrder: field('Data').includes('little') ? 'little' : 'big',
    type: field('Type').split(/\s+/)[0] ?? '',
    machine,
    entry: BigInt(field('Entry point address')),
    phnum: Number(field('Number of program headers').split(/\s+/)[0]),
    osAbi: field('OS/ABI'),
  };
}

/** Returns the PT_INTERP path from `readelf -l -W`, or undefined. */
export function readelfInterpreter(file: string): string | undefined {
  const output = run('readelf', ['-l', '-W', file]);
  return /\[Requesting program interpreter: (.*)\]/.exec(output)?.[1];
}

/** Returns the version names of `.gnu.version_d` (readelf -V), without the BASE entry. */
export function readelfVersionDefinitions(file: string): string[] {
  const output = run('readelf', ['-V', '-W', file]);
  const section = /Version definition section[^\n]*\n([\s\S]*?)(?:\n\n|$)/.exec(output)?.[1] ?? '';
  const names: string[] = [];
  for (const line of section.split('\n')) {
    // "  0x001c: Rev: 1  Flags: none  Index: 2  Cnt: 1  Name: GLIBC_2.2.5"
    const match = /Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)/.exec(line);
    if (match !== null && match[1] !== 'BASE' && match[2] !== undefined) {
      names.push(match[2]);
    }
  }
  return names;
}

/** Returns `file -> [versions]` from the version needs section of `readelf -V`. */
export function readelfVersionNeeds(file: string): Map<string, string[]> {
  const output = run('readelf', ['-V', '-W', file]);
  const section = /Version needs section[^\n]*\n([\s\S]*?)(?:\n\n|$)/.exec(output)?.[1] ?? '';
  const needs = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of section.split('\n')) {
    const fileMatch = /File: (\S+)\s+Cnt:/.exec(line);
    if (fileMatch?.[1] !== undefined) {
      current = [];
      needs.set(fileMatch[1], current);
      continue;
    }
    const nameMatch = /Name: (\S+)\s+Flags:/.exec(line);
    if (nameMatch?.[1] !== undefined && current !== undefined) {
      current.push(nameMatch[1]);
    }
  }
  return needs;
}

/** Returns the hex build id from `readelf -n`, or undefined. */
export function readelfBuildId(file: string): string | undefined {
  return /Build ID: ([0-9a-f]+)/.exec(run('readelf', ['-n', '-W', file]))?.[1];
}

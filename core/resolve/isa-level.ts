// x86-64 micro-architecture levels (the x86-64 psABI's v2, v3 and v4), which
// decide the glibc-hwcaps subfolders the loader searches (glibc
// sysdeps/x86_64/dl-hwcaps-subdirs.c).

import * as fs from 'node:fs';
import type { IsaLevel } from './types';

// CPU flags, as /proc/cpuinfo names them, that each level adds to the one below.
const LEVEL_FLAGS: [IsaLevel, string[]][] = [
  [2, ['cx16', 'lahf_lm', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3']],
  [3, ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave']],
  [4, ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl']],
];

/** Returns the level the host CPU supports, read from /proc/cpuinfo on x86_64 Linux, else 1. */
export function hostIsaLevel(): IsaLevel {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 1;
  let cpuinfo: string;
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return 1;
  }
  const flagsLine = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '';
  return isaLevelFromFlags(new Set(flagsLine.trim().split(/\s+/)));
}

export function isaLevelFromFlags(flags: Set<string>): IsaLevel {
  let level: IsaLevel = 1;
  for (const [candidate, required] of LEVEL_FLAGS) {
    if (!required.every((flag) => flags.has(flag))) break;
    level = candidate;
  }
  return level;
}

/**
 * Returns the glibc-hwcaps subfolders active at `level`, best first. Only the x86-64
 * names are filtered by level.
 * NOTE: the POWER and s390x names depend on CPU features this tool does not model; they are never searched.
 */
export function hwcapsSubdirsFor(portSubdirs: string[], level: IsaLevel): string[] {
  return portSubdirs.filter((name) => {
    const match = /^x86-64-v(\d)$/.exec(name);
    return match !== null && Number(match[1]) <= level;
  });
}

// Builds real ELF fixtures at test time with the host's compilers, so no
// binary is committed. gcc is required. clang/lld (foreign machines),
// musl-gcc and go are optional: tests check `hasCommand` or `clangCanLink`
// and skip when one is missing.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A C program that calls into libc, so the result has DT_NEEDED libc.so.6 and versioned imports. */
export const HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n';

const commandCache = new Map<string, boolean>();

/**
 * Returns true when `name` runs with `probeArgs` (checked once per process).
 * Most tools accept `--version`, but go needs `version`.
 */
export function hasCommand(name: string, probeArgs: readonly string[] = ['--version']): boolean {
  const key = [name, ...probeArgs].join(' ');
  const cached = commandCache.get(key);
  if (cached !== undefined) {
    return cached;
  }
  let found = true;
  try {
    execFileSync(name, [...probeArgs], { stdio: 'ignore' });
  } catch {
    found = false;
  }
  commandCache.set(key, found);
  return found;
}

/** Creates a fresh directory under the OS temp dir; remove it with removeTempDir. */
export function makeTempDir(prefix = 'nx-elf-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs a command and returns its stdout; on failure the error message carries the command and its stderr. */
export function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(command, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${failure.stderr ?? failure.message}`);
  }
}

export interface BuildCOptions {
  /** C source text. */
  source: string;
  /** Output path; the source is written next to it as `<out>.c`. */
  out: string;
  /** Extra compiler and linker flags, e.g. ['-static'] or ['-m32']. */
  flags?: readonly string[];
  /** Compiler command; defaults to gcc. */
  compiler?: string;
}

/** Compiles and links a C program (or, with `-c` or `-shared` in flags, an object or library). Returns `out`. */
export function buildC(options: BuildCOptions): string {
  const sourcePath = `${options.out}.c`;
  fs.writeFileSync(sourcePath, options.source);
  run(options.compiler ?? 'gcc', ['-o', options.out, sourcePath, ...(options.flags ?? [])]);
  return options.out;
}

/**
 * Builds `dir/file` as a shared library with DT_SONAME `soname` from a
 * one-function source. Returns the library path.
 */
export function buildSharedLib(dir: string, file: string, soname: string, flags: readonly string[] = [], source = 'int f(void) { return 1; }\n'): string {
  fs.mkdirSync(dir, { recursive: true });
  return buildC({ source, out: path.join(dir, file), flags: ['-shared', '-fPIC', `-Wl,-soname,${soname}`, ...flags] });
}

export interface BuildGoOptions {
  /** Directory for the module (go.mod and main.go are written there). */
  dir: string;
  /** Source of main.go. */
  source: string;
  /** Output path. */
  out: string;
  /** Extra environment, e.g. { CGO_ENABLED: '0' }. */
  env?: Record<string, string>;
  /** Extra `go build` flags, e.g. ['-buildmode=pie']. */
  flags?: readonly string[];
}

/** Builds a Go program with `go build`. Returns `out`. */
export function buildGo(options: BuildGoOptions): string {
  fs.mkdirSync(options.dir, { recursive: true });
  fs.writeFileSync(path.join(options.dir, 'go.mod'), 'module example.com/fixture\n\ngo 1.18\n');
  fs.writeFileSync(path.join(options.dir, 'main.go'), options.source);
  run('go', ['build', '-o', options.out, ...(options.flags ?? []), '.'], {
    cwd: options.dir,
    env: { ...process.env, GOFLAGS: '-buildvcs=false', ...options.env },
  });
  return options.out;
}

const linkProbeCache = new Map<string, boolean>();

/**
 * Returns true when clang can compile and lld can link a shared library for
 * `target` (an LLVM triple such as aarch64-linux-gnu). lld 14 has no s390x
 * support, for example.
 */
export function clangCanLink(target: string): boolean {
  const cached = linkProbeCache.get(target);
  if (cached !== undefined) {
    return cached;
  }
  let works = hasCommand('clang') && hasCommand('ld.lld');
  if (works) {
    const dir = makeTempDir('nx-elf-probe-');
    try {
      buildCross({ target, dir, name: 'libprobe.so', source: 'int f(void) { return 1; }\n', shared: true });
    } catch {
      works = false;
    } finally {
      removeTempDir(dir);
    }
  }
  linkProbeCache.set(target, works);
  return works;
}

/** Returns true when clang can compile an object file for `target`. */
export function clangCanCompile(target: string): boolean {
  if (!hasCommand('clang')) {
    return false;
  }
  const dir = makeTempDir('nx-elf-probe-');
  try {
    compileObject({ target, source: 'int f(void) { return 1; }\n', out: path.join(dir, 'probe.o') });
    return true;
  } catch {
    return false;
  } finally {
    removeTempDir(dir);
  }
}

export interface CrossBuildOptions {
  /** LLVM target triple, e.g. powerpc-linux-gnu. */
  target: string;
  dir: string;
  /** Output file name inside `dir`. */
  name: string;
  source: string;
  /** Build a shared library instead of a program. */
  shared?: boolean;
  /** Extra clang/lld flags, e.g. ['-Wl,-soname,libc.so.6']. */
  flags?: readonly string[];
}

/**
 * Compiles and links with clang and lld for a foreign target without any C
 * library (-nostdlib): programs need their own `_start` and get their
 * imports from a stub library built with this function too.
 */
export function buildCross(options: CrossBuildOptions): string {
  const out = path.join(options.dir, options.name);
  const sourcePath = `${out}.c`;
  fs.writeFileSync(sourcePath, options.source);
  const shared = options.shared === true ? ['-shared', '-fPIC'] : [];
  run('clang', [`--target=${options.target}`, '-nostdlib', '-fuse-ld=lld', ...shared, '-o', out, sourcePath, ...(options.flags ?? [])]);
  return out;
}

/** Compiles `source` to an ET_REL object with clang (for targets lld cannot link) or gcc when `target` is undefined. */
export function compileObject(options: { target?: string; source: string; out: string }): string {
  const sourcePath = `${options.out}.c`;
  fs.writeFileSync(sourcePath, options.source);
  if (options.target === undefined) {
    run('gcc', ['-c', '-o', options.out, sourcePath]);
  } else {
    run('clang', [`--target=${options.target}`, '-c', '-o', options.out, sourcePath]);
  }
  return options.out;
}

// A scratch folder where tests build real ELF fixtures with gcc: libraries
// with chosen sonames, RPATH or RUNPATH, and programs that need them.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const RPATH = '-Wl,--disable-new-dtags,-rpath,';
export const RUNPATH = '-Wl,--enable-new-dtags,-rpath,';

export interface BuildOptions {
  /** Shared objects to link against, as host paths (their soname becomes the DT_NEEDED). */
  needs?: string[];
  flags?: string[];
  /** C source; a default one-function body otherwise. */
  source?: string;
  compiler?: string;
}

export class Lab {
  private constructor(readonly dir: string) {}

  static create(prefix = 'nxu-lab-'): Lab {
    return new Lab(fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix))));
  }

  path(relative: string): string {
    return path.join(this.dir, relative);
  }

  /** Builds `dir/file` as a shared library with DT_SONAME `soname` (none when undefined). */
  lib(relative: string, soname: string | undefined, options: BuildOptions = {}): string {
    const output = this.path(relative);
    fs.mkdirSync(path.dirname(output), { recursive: true });
    const source = this.source(options.source ?? `int ${symbolFor(relative)}(void) { return 1; }\n`);
    const args = ['-shared', '-fPIC', '-o', output, source, '-Wl,--no-as-needed', ...(options.needs ?? []), ...(options.flags ?? [])];
    if (soname !== undefined) args.push(`-Wl,-soname,${soname}`);
    compile(options.compiler ?? 'gcc', args);
    return output;
  }

  /** Builds a program at `relative` that needs `options.needs`. */
  exe(relative: string, options: BuildOptions = {}): string {
    const output = this.path(relative);
    fs.mkdirSync(path.dirname(output), { recursive: true });
    const source = this.source(options.source ?? 'int main(void) { return 0; }\n');
    compile(options.compiler ?? 'gcc', ['-o', output, source, '-Wl,--no-as-needed', ...(options.needs ?? []), ...(options.flags ?? [])]);
    return output;
  }

  write(relative: string, contents: string | Uint8Array): string {
    const output = this.path(relative);
    fs.mkdirSync(path.dirname(output), { recursive: true });
    fs.writeFileSync(output, contents);
    return output;
  }

  symlink(target: string, relative: string): string {
    const output = this.path(relative);
    fs.mkdirSync(path.dirname(output), { recursive: true });
    fs.symlinkSync(target, output);
    return output;
  }

  copy(from: string, relative: string): string {
    const output = this.path(relative);
    fs.mkdirSync(path.dirname(output), { recursive: true });
    fs.copyFileSync(from, output);
    return output;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private source(text: string): string {
    const file = path.join(this.dir, '.src', `${Math.random().toString(36).slice(2)}.c`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  }
}

function symbolFor(relative: string): string {
  return `f_${relative.replace(/[^A-Za-z0-9]/g, '_')}`;
}

function compile(compiler: string, args: string[]): void {
  try {
    execFileSync(compiler, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`${compiler} ${args.join(' ')} failed:\n${stderr}`);
  }
}

/** True when `command` runs on this machine. */
export function hasCommand(command: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces the first dynamic entry with tag `from` by tag `to`. Tests use it
 * to make files modern linkers no longer write, such as one with both DT_RPATH
 * and DT_RUNPATH (link with a DT_SONAME, then retag it as DT_RUNPATH).
 */
export function retagDynamicEntry(file: string, from: number, to: number): void {
  const bytes = fs.readFileSync(file);
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phnum = bytes.readUInt16LE(56);
  for (let index = 0; index < phnum; index += 1) {
    const header = phoff + index * 56;
    if (bytes.readUInt32LE(header) !== 2) continue;
    const offset = Number(bytes.readBigUInt64LE(header + 8));
    const size = Number(bytes.readBigUInt64LE(header + 32));
    for (let entry = offset; entry < offset + size; entry += 16) {
      if (bytes.readBigInt64LE(entry) === BigInt(from)) {
        bytes.writeBigInt64LE(BigInt(to), entry);
        fs.writeFileSync(file, bytes);
        return;
      }
    }
  }
  throw new Error(`${file} has no dynamic entry with tag ${from}`);
}

// musl's system library path: the folders its loader searches after
// LD_LIBRARY_PATH and the RPATH/RUNPATH chain (musl ldso/dynlink.c,
// load_library and path_open, musl 1.2.5).

import type { RootedFs } from './rooted-fs';

/** musl's built-in list, used when the path file does not exist. */
export const MUSL_DEFAULT_SYSTEM_PATH = ['/lib', '/usr/local/lib', '/usr/lib'];

export interface MuslSystemPath {
  /** Folders in search order. An empty list means musl searches no system folder at all. */
  dirs: string[];
  /** Origin of `dirs`: `file` (read from the path file), `default` (no such file) or `unreadable` (it exists but cannot be read). */
  source: 'file' | 'default' | 'unreadable';
  /** The path file inside the root, e.g. /etc/ld-musl-x86_64.path. */
  pathFile: string;
  /** Reason the file could not be read, for `unreadable`. */
  message?: string;
}

/**
 * Returns the path file musl's loader reads: `<P>/etc/ld-musl-<ARCH>.path`,
 * where P is PT_INTERP without its last two components (`/lib/ld-musl-x86_64.so.1`
 * gives an empty P) and ARCH is the loader's name between `ld-musl-` and
 * `.so.1`. A relative PT_INTERP gives an empty P.
 */
export function muslPathFile(interpreter: string, arch?: string): string {
  const name = interpreter.slice(interpreter.lastIndexOf('/') + 1);
  const archName = arch ?? /^ld-musl-(.+)\.so\.1$/.exec(name)?.[1];
  if (archName === undefined) {
    throw new Error(
      `Cannot tell the musl architecture from the interpreter ${interpreter}: its name is not ld-musl-<ARCH>.so.1. Pass the architecture (e.g. "x86_64") explicitly.`,
    );
  }

  // musl keeps everything before the second-to-last '/' of an absolute name.
  let prefix = '';
  if (interpreter.startsWith('/')) {
    const last = interpreter.lastIndexOf('/');
    const secondLast = last > 0 ? interpreter.lastIndexOf('/', last - 1) : 0;
    prefix = interpreter.slice(0, Math.max(secondLast, 0));
  }
  return `${prefix}/etc/ld-musl-${archName}.path`;
}

/**
 * Reads musl's system library path for a program whose PT_INTERP is
 * `interpreter`, inside the root. The file lists folders separated by `:` or
 * newlines. Empty elements are skipped and nothing else is trimmed, as in
 * musl's path_open. A missing file gives musl's default list. A file that
 * exists but is empty or cannot be read (a directory, too) gives no folders.
 */
export function readMuslSystemPathDetails(fs: RootedFs, interpreter: string, options: { arch?: string } = {}): MuslSystemPath {
  const pathFile = muslPathFile(interpreter, options.arch);
  const file = fs.readFile(pathFile);

  if (!file.ok) {
    if (file.errno === 'ENOENT') return { dirs: [...MUSL_DEFAULT_SYSTEM_PATH], source: 'default', pathFile };
    return { dirs: [], source: 'unreadable', pathFile, message: file.message };
  }

  // musl reads the file into a C string, so a NUL byte ends the list.
  const bytes = file.bytes;
  const nul = bytes.indexOf(0);
  const text = Buffer.from(nul >= 0 ? bytes.subarray(0, nul) : bytes).toString('utf8');
  return { dirs: text.split(/[:\n]/).filter((dir) => dir !== ''), source: 'file', pathFile };
}

/** Returns only the folders of readMuslSystemPathDetails, in search order. */
export function readMuslSystemPath(fs: RootedFs, interpreter: string, options: { arch?: string } = {}): string[] {
  return readMuslSystemPathDetails(fs, interpreter, options).dirs;
}

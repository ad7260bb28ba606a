// Temporary project folders with real files for the configuration tests.

import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** Creates an empty project folder under the OS temp folder; its path has symlinks resolved. */
export function makeProjectDir(prefix = 'nx-unikernel-config-'): string {
  return realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
}

export function removeProjectDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes `contents` to `relativePath` inside `dir`, creating folders; returns the absolute path. */
export function writeProjectFile(dir: string, relativePath: string, contents: string | Uint8Array = ''): string {
  const file = path.join(dir, relativePath);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, contents);
  return file;
}

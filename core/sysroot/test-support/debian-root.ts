// Small Debian 12 style roots for the staging tests, built from this host's
// own glibc files: merged /usr (`/lib -> usr/lib`) and Debian's absolute
// `/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

import type { Lab } from '../../resolve/test-support/lab';

export const HOST_MULTIARCH = '/usr/lib/x86_64-linux-gnu';
export const HOST_LOADER = `${HOST_MULTIARCH}/ld-linux-x86-64.so.2`;

/** True when this host has the Debian x86_64 glibc files the roots are built from. */
export const HAS_DEBIAN_GLIBC = process.platform === 'linux' && process.arch === 'x64' && fs.existsSync(HOST_LOADER) && fs.existsSync(`${HOST_MULTIARCH}/libc.so.6`);

/**
 * Builds `lab/<name>` with the host's loader and libc (plus `libraries`,
 * copied by name from the host's multiarch folder) in
 * /usr/lib/x86_64-linux-gnu. Returns the root's host path.
 */
export function debianRoot(lab: Lab, name: string, libraries: string[] = []): string {
  for (const library of ['ld-linux-x86-64.so.2', 'libc.so.6', ...libraries]) {
    lab.copy(`${HOST_MULTIARCH}/${library}`, `${name}/usr/lib/x86_64-linux-gnu/${library}`);
  }
  lab.symlink('usr/lib', `${name}/lib`);
  lab.symlink('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', `${name}/lib64/ld-linux-x86-64.so.2`);
  return lab.path(name);
}

export function sha256File(hostPath: string): string {
  return createHash('sha256').update(fs.readFileSync(hostPath)).digest('hex');
}

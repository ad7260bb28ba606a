// Whether a process exists, for removing what a killed process left behind.

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Tells whether a process with this ID exists (kill(2) with signal 0). EPERM means it exists but belongs to another user. */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the files in `folder` named `prefix` followed by a name that
 * `suffix` matches, with the owner's process ID as its first group, when that
 * process no longer runs. A process killed with SIGKILL cannot remove its own
 * temporary files. Files of this process are kept.
 */
export async function removeFilesOfEndedProcesses(folder: string, prefix: string, suffix: RegExp): Promise<void> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return;
  }
  for (const name of names) {
    const match = name.startsWith(prefix) ? suffix.exec(name.slice(prefix.length)) : null;
    const pid = match === null ? NaN : Number(match[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isProcessRunning(pid)) continue;
    await rm(join(folder, name), { force: true });
  }
}

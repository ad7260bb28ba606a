// Temporary folders of `run PROGRAM`, which contain the image built for that run.
// The run removes its folder when it ends, but a process killed with SIGKILL
// runs no code, so its folder stays. Each folder name carries the process ID of
// its owner, and the next `run PROGRAM` removes the folders whose owner no
// longer runs.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LogLine } from './log';
import { isProcessRunning } from '../util/process-running';

const RUN_FOLDER_PREFIX = 'nx-unikernel-run-';
const RUN_FOLDER_NAME = /^nx-unikernel-run-(\d+)-[^/]+$/;

/** Creates the temporary folder of this run, after removing the folders of runs that were killed. */
export function createRunFolder(log: LogLine, tmpdir = os.tmpdir()): string {
  removeStaleRunFolders(log, tmpdir);
  return fs.mkdtempSync(path.join(tmpdir, `${RUN_FOLDER_PREFIX}${process.pid}-`));
}

/**
 * Removes the run folders in `tmpdir` that this user owns and whose owner
 * process no longer runs. Returns their paths.
 */
export function removeStaleRunFolders(log: LogLine, tmpdir = os.tmpdir()): string[] {
  // NOTE: a process ID is only meaningful in this PID namespace. Two
  // containers that share the temp folder and run as the same user could
  // remove each other's folders while their runs are still going.
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmpdir);
  } catch {
    // Without a readable temp folder, mkdtemp fails next with its own error.
    return removed;
  }

  for (const name of names) {
    const match = RUN_FOLDER_NAME.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    const folder = path.join(tmpdir, name);
    if (pid === process.pid || isProcessRunning(pid) || !isOwnFolder(folder)) continue;

    try {
      fs.rmSync(folder, { recursive: true, force: true });
      removed.push(folder);
      log(`removed ${folder}, the temporary folder of an earlier run (process ${pid}) that no longer runs`);
    } catch (error) {
      log(`could not remove ${folder}, the temporary folder of an earlier run (process ${pid}): ${(error as Error).message}; remove it by hand`);
    }
  }
  return removed;
}

/** Tells whether `folder` is a real folder (not a symbolic link) owned by this user. */
function isOwnFolder(folder: string): boolean {
  try {
    const stat = fs.lstatSync(folder);
    return stat.isDirectory() && (process.getuid === undefined || stat.uid === process.getuid());
  } catch {
    return false;
  }
}

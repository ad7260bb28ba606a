// Makes QEMU die with this process on Linux, even when this process is killed
// with SIGKILL and no handler runs. QEMU is started through util-linux
// `setpriv --pdeathsig SIGKILL -- QEMU ARGS...`: setpriv sets
// prctl(PR_SET_PDEATHSIG) and then execs QEMU in the same process. The setting
// survives execve() unless the new program is set-user-ID, set-group-ID or has
// file capabilities (prctl(2)), so QEMU keeps it, and /proc/PID/cmdline shows
// QEMU's own argument vector.
//
// prctl(2) also states that the signal is sent when the thread that created the child
// ends, not the whole process. Node.js forks children from the thread that
// calls spawn (libuv uv_spawn), so setpriv is only used from the main thread:
// QEMU started from a worker thread would be killed when that worker ends.

import { execFile } from 'node:child_process';
import { isMainThread } from 'node:worker_threads';

import type { QemuCommand } from './command';

export const SETPRIV = 'setpriv';

/** setpriv's exit statuses when it cannot exec the program: 127 for a missing file (seen with util-linux 2.38.1), 126 for other exec errors. */
const EXEC_FAILED_STATUS = 126;
const EXEC_NOT_FOUND_STATUS = 127;
const SETPRIV_EXEC_ERROR = /^setpriv: failed to execute (.*)$/m;

let probe: Promise<boolean> | undefined;

/**
 * Resolves whether QEMU can be started through `setpriv --pdeathsig`: on
 * Linux, from the main thread, with a setpriv on PATH that supports the option
 * (older util-linux releases lack it). The check runs setpriv once per process.
 */
export function canUseParentDeathSignal(): Promise<boolean> {
  if (process.platform !== 'linux' || !isMainThread) return Promise.resolve(false);
  probe ??= new Promise((resolve) => {
    execFile(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', 'true'], { timeout: 5000 }, (error) => resolve(error === null));
  });
  return probe;
}

/** Returns the command that starts `command` through setpriv, which then execs it with the same argument vector. */
export function withParentDeathSignal(command: QemuCommand): QemuCommand {
  return { file: SETPRIV, args: ['--pdeathsig', 'SIGKILL', '--', command.file, ...command.args] };
}

/**
 * Finds setpriv's own error when it could not exec QEMU: exit status 127 when
 * the file does not exist, 126 when it cannot be run. Returns undefined when
 * the status and output came from QEMU.
 */
export function findSetprivExecFailure(status: number | null, stderr: string): { notFound: boolean; message: string } | undefined {
  if (status !== EXEC_NOT_FOUND_STATUS && status !== EXEC_FAILED_STATUS) return undefined;
  const match = SETPRIV_EXEC_ERROR.exec(stderr);
  if (match === null) return undefined;
  return { notFound: status === EXEC_NOT_FOUND_STATUS, message: match[0] };
}

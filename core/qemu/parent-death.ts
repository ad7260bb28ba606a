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
//
// setpriv is not probed before the start, because running it once more costs
// about 15 ms before QEMU can start. QEMU is started through it directly, and
// when setpriv is missing or lacks --pdeathsig (util-linux before 2.33, or a
// BusyBox setpriv), it fails at once and QEMU is started without it.

import { isMainThread } from 'node:worker_threads';

import type { QemuCommand } from './command';

export const SETPRIV = 'setpriv';

/** setpriv's exit statuses when it cannot exec the program: 127 for a missing file (seen with util-linux 2.38.1), 126 for other exec errors. */
const EXEC_FAILED_STATUS = 126;
const EXEC_NOT_FOUND_STATUS = 127;
const SETPRIV_EXEC_ERROR = /^setpriv: failed to execute (.*)$/m;
/** The status and message of a setpriv that rejects its options: getopt's message from glibc or musl, then EXIT_FAILURE. */
const OPTION_REJECTED_STATUS = 1;
const SETPRIV_OPTION_ERROR = /^setpriv: (?:unrecognized|invalid|unknown) option\b/m;
/** setpriv's own stderr lines, as opposed to QEMU's. */
const SETPRIV_OWN_LINE = /^(?:setpriv: |Try 'setpriv --help')/;

/** False once setpriv failed to start QEMU in this process, so later starts go without it. */
let setprivWorks = true;

/** Whether to start QEMU through `setpriv --pdeathsig`: on Linux, from the main thread, unless setpriv already failed here. */
export function shouldUseParentDeathSignal(): boolean {
  return process.platform === 'linux' && isMainThread && setprivWorks;
}

/** Returns the command that starts `command` through setpriv, which then execs it with the same argument vector. */
export function withParentDeathSignal(command: QemuCommand): QemuCommand {
  return { file: SETPRIV, args: ['--pdeathsig', 'SIGKILL', '--', command.file, ...command.args] };
}

/** The result of a start through setpriv, as far as setpriv itself is concerned. */
export type SetprivOutcome =
  /** setpriv exec'd QEMU; the status and output are QEMU's. */
  | { kind: 'ran' }
  /** setpriv is missing or rejected --pdeathsig, so QEMU never started: start it again without setpriv. */
  | { kind: 'unusable'; reason: string }
  /** setpriv could not exec QEMU: 127 when the file does not exist, 126 when it cannot be run. */
  | { kind: 'exec-failed'; notFound: boolean; message: string };

/**
 * Tells from a start through setpriv whether QEMU ran. `spawnErrorCode` is
 * the error code when setpriv itself could not be spawned (ENOENT when it is
 * not on PATH).
 */
export function classifySetprivStart(status: number | null, stderr: string, spawnErrorCode?: string): SetprivOutcome {
  if (spawnErrorCode === 'ENOENT') return { kind: 'unusable', reason: `${SETPRIV} was not found on PATH` };
  if (status === OPTION_REJECTED_STATUS && SETPRIV_OPTION_ERROR.test(stderr)) {
    return { kind: 'unusable', reason: `${SETPRIV} does not support --pdeathsig (${stderr.split('\n')[0]})` };
  }
  if (status !== EXEC_NOT_FOUND_STATUS && status !== EXEC_FAILED_STATUS) return { kind: 'ran' };
  const match = SETPRIV_EXEC_ERROR.exec(stderr);
  if (match === null) return { kind: 'ran' };
  return { kind: 'exec-failed', notFound: status === EXEC_NOT_FOUND_STATUS, message: match[0] };
}

/** Records that setpriv cannot start QEMU here, so later starts in this process skip it. */
export function markSetprivUnusable(): void {
  setprivWorks = false;
}

/** Returns whether a stderr line came from setpriv rather than QEMU, so that it can be kept out of QEMU's stderr events. */
export function isSetprivLine(line: string): boolean {
  return SETPRIV_OWN_LINE.test(line);
}

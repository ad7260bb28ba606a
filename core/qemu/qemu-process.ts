// Starts the QEMU process with node:child_process and reports how it ended.
//
// QEMU is spawned with node:child_process rather than execa, because loading
// execa and spawning through it took about 20 ms more (Node 20, measured on
// the machine in bench/README.md). Every millisecond before QEMU starts adds
// to the guest's time to the first reply, which bench/boot compares with a
// bare QEMU command.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

import type { QemuCommand } from './command';

export type QemuChild = ChildProcessByStdio<null, Readable, Readable>;

/** The end of the process: its status or signal, or the error that kept it from starting. */
export interface QemuProcessEnd {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the file could not be started at all, e.g. ENOENT for a program not on PATH. */
  spawnError?: NodeJS.ErrnoException;
}

/**
 * Spawns `command` with stdin from /dev/null and stdout and stderr as pipes.
 * `ended` resolves once the process exited and both pipes closed. Until then,
 * an exit of this Node.js process (process.exit(), an uncaught exception)
 * kills it, as no handler may run later; signals are handled by signals.ts.
 */
export function spawnQemu(command: QemuCommand): { child: QemuChild; ended: Promise<QemuProcessEnd> } {
  const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const ended = new Promise<QemuProcessEnd>((resolve) => {
    // A spawn failure emits 'error' and then 'close'; a running process only 'close'.
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) spawnError = error;
    });
    child.once('close', (status: number | null, signal: NodeJS.Signals | null) => {
      process.off('exit', killOnExit);
      resolve({ status, signal, ...(spawnError !== undefined ? { spawnError } : {}) });
    });
  });
  return { child, ended };
}

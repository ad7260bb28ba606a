// Boots an image, waits for the program to exit and returns its exit code:
// the runner for programs that finish, as opposed to servers.

import { QemuError, type QemuErrorCode } from './errors';
import { checkTimerDelay } from './timer-limit';
import { startVm, type StartVmOptions } from './vm';

export interface RunVmOptions extends StartVmOptions {
  /** Stops the VM when the program has not exited after this many ms. Default: no limit. */
  timeoutMs?: number;
  onSerialLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Receives notes such as the accelerator choice, a KVM retry or a readiness failure. */
  onNote?: (message: string) => void;
}

/**
 * Boots the image and resolves with the program's exit code (0-255; mod 128
 * when the klog dump cannot be read, see exit-status.ts). Rejects with
 * QemuError `vm-failure` when the guest kernel reported a fatal error or QEMU
 * failed without an exit code, `timeout` after `timeoutMs`, `stopped` when a
 * signal stopped the VM, or a start error from `startVm`.
 */
export async function runVm(options: RunVmOptions): Promise<number> {
  if (options.timeoutMs !== undefined) checkTimerDelay('timeoutMs', options.timeoutMs);
  const vm = startVm(options);
  if (options.onSerialLine) vm.on('serial', options.onSerialLine);
  if (options.onStderrLine) vm.on('stderr', options.onStderrLine);
  if (options.onNote) vm.on('note', options.onNote);

  vm.ready.catch((error: unknown) => {
    if (error instanceof QemuError && error.code === 'not-ready') options.onNote?.(error.message);
  });

  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  if (options.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      void vm.stop({ reason: `the program did not exit within ${options.timeoutMs} ms` });
    }, options.timeoutMs);
  }

  try {
    const exit = await vm.exited;
    if (exit.kind === 'program-exit') return exit.exitCode;

    const serialTail = vm.serialTail.length === 0 ? '' : `\nlast serial lines:\n${vm.serialTail.slice(-10).join('\n')}`;
    let code: QemuErrorCode = 'stopped';
    if (exit.kind === 'vm-failure') code = 'vm-failure';
    else if (timedOut) code = 'timeout';
    throw new QemuError(code, `${exit.message}${serialTail}`, { exit, stderr: vm.stderr });
  } finally {
    clearTimeout(timer);
  }
}

// Maps how QEMU ended to what happened to the program in the guest.
//
// When the manifest sets debug_exit:t, Nanos writes the program's exit code to
// I/O port 0x501 (QEMU_HALT in src/kernel/kvm_platform.h). QEMU's
// isa-debug-exit device listens there by default and exits QEMU with status
// (code << 1) | 1 (hw/misc/debugexit.c). So an odd status s is the program
// exit code (s - 1) / 2. The process status has 8 bits, so only code mod 128
// survives: 128 reads as 0 and 200 as 72. The runner then reads the full code
// from the klog dump that Nanos writes on a non-zero exit (klog-dump.ts). A
// Nanos kernel halt leaves through the same port with code 0x7f (status 255)
// and a fault with code 0x7e (status 253), which read as exit codes 127 and
// 126 (VM_EXIT_HALT and VM_EXIT_FAULT in src/runtime/runtime.h).

import { constants } from 'node:os';

export type VmExit =
  | {
      kind: 'program-exit';
      /** The program's exit code: mod 256 from the klog dump, else mod 128 from the QEMU status. */
      exitCode: number;
      /** The source of the exit code: the klog dump of this boot, or only the isa-debug-exit status. */
      exitCodeSource: 'klog-dump' | 'debug-exit';
      /** The signal that ended the program, when the kernel reported one that matches the exit code. */
      killedBySignal?: number;
      qemuStatus: number;
      message: string;
    }
  | {
      /** The runner or a signal stopped QEMU before the program exited. */
      kind: 'stopped';
      reason: string;
      qemuStatus: number | null;
      signal: string | null;
      message: string;
    }
  | {
      /** QEMU or the guest failed, and there is no program exit code. */
      kind: 'vm-failure';
      qemuStatus: number | null;
      signal: string | null;
      /** Whether QEMU reported "KVM internal error", which a retry under TCG can avoid. */
      kvmInternalError: boolean;
      /** The fatal-error line the guest kernel printed, when it printed one. */
      kernelMessage?: string;
      message: string;
    };

export interface QemuTermination {
  /** QEMU's exit status, or null when a signal ended it. */
  status: number | null;
  signal: string | null;
  /** QEMU's standard error output, searched for known failures. */
  stderr?: string;
  /** The reason the runner stopped QEMU, when it did. */
  stopReason?: string;
  /** Whether the guest wrote to the serial console, which proves that QEMU started. */
  guestOutput?: boolean;
  /** The image path, named in the message when another QEMU holds its lock. */
  image?: string;
}

/** The exit codes Nanos 0.1.55 shuts down with after halt() (0x7f) and after an unhandled fault (0x7e). */
const KERNEL_HALT_EXIT_CODES: ReadonlySet<number> = new Set([0x7f, 0x7e]);

const SEE_SERIAL_LOG = 'see the serial log';

/** Returns whether QEMU's output reports that KVM could not run the guest. */
export function hasKvmInternalError(text: string): boolean {
  return text.includes('KVM internal error');
}

/**
 * Returns the first error line QEMU printed (`qemu-system-x86_64: ...`),
 * skipping warnings and the notice QEMU prints when a signal ends it.
 */
export function findQemuErrorLine(stderr: string): string | undefined {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .find((line) => /^qemu-system-[\w-]+: /.test(line) && !/: warning: /.test(line) && !/: terminating on signal /.test(line));
}

/** Maps QEMU's exit status or signal, and its standard error, to the VM's outcome. */
export function mapQemuExit(termination: QemuTermination): VmExit {
  const { status, signal } = termination;
  const stderr = termination.stderr ?? '';
  const kvmInternalError = hasKvmInternalError(stderr);

  // QEMU also exits with status 1 when it cannot start (a bad option, a missing
  // image), which would otherwise read as program exit code 0. Guest output
  // rules that out.
  const errorLine = findQemuErrorLine(stderr);
  if (status === 1 && errorLine !== undefined && termination.guestOutput !== true) {
    return { kind: 'vm-failure', qemuStatus: status, signal, kvmInternalError, message: describeQemuError(errorLine, stderr, termination.image) };
  }

  if (status !== null && status % 2 === 1) {
    const exitCode = (status - 1) / 2;
    return { kind: 'program-exit', exitCode, exitCodeSource: 'debug-exit', qemuStatus: status, message: `program exited with ${exitCode}` };
  }

  if (kvmInternalError) {
    return {
      kind: 'vm-failure',
      qemuStatus: status,
      signal,
      kvmInternalError,
      message: 'QEMU reported "KVM internal error": KVM on this host cannot run the guest. Use accelerator "tcg", or "auto", which retries under TCG.',
    };
  }

  const signalNotice = /: terminating on signal (\d+)/.exec(stderr);
  if (termination.stopReason !== undefined || signalNotice !== null) {
    const reason = termination.stopReason ?? `QEMU received signal ${signalNotice?.[1]}`;
    return { kind: 'stopped', reason, qemuStatus: status, signal, message: `VM stopped before the program exited (${reason})` };
  }

  return { kind: 'vm-failure', qemuStatus: status, signal, kvmInternalError, message: describeFailure(status, signal, errorLine) };
}

/**
 * Replaces the exit code mod 128 of a program exit with the code from the klog
 * dump of the same boot. The dump is ignored when its code does not match the
 * QEMU status, which would mean it is not this exit's dump.
 */
export function applyKlogExitCode(exit: VmExit, dumpExitCode: number | undefined): VmExit {
  if (exit.kind !== 'program-exit' || dumpExitCode === undefined) return exit;
  // Like Linux, keep the low 8 bits of the code the program passed to exit().
  const exitCode = dumpExitCode & 0xff;
  if (exitCode % 128 !== exit.exitCode) return exit;
  return { ...exit, exitCode, exitCodeSource: 'klog-dump', message: `program exited with ${exitCode}` };
}

/**
 * Marks a program exit as the end by `signal` when the kernel reported that
 * signal and the exit code equals its number, since Nanos halts with the
 * signal number as the exit code (program-signal.ts).
 */
export function applyProgramSignal(exit: VmExit, signal: number | undefined): VmExit {
  if (exit.kind !== 'program-exit' || signal === undefined || exit.exitCode !== signal) return exit;
  const name = Object.entries(constants.signals).find(([, number]) => number === signal)?.[0];
  return { ...exit, killedBySignal: signal, message: `program killed by signal ${signal}${name !== undefined ? ` (${name})` : ''}` };
}

/**
 * Turns the exit after a kernel fatal-error report into a `vm-failure` that
 * quotes the kernel. A program exit with a code other than the kernel's halt
 * and fault codes is kept, because then the text came from the program itself.
 */
export function applyKernelFatal(exit: VmExit, kernelMessage: string | undefined, stoppedForFatal: boolean): VmExit {
  if (kernelMessage === undefined) return exit;
  if (exit.kind === 'program-exit' && !KERNEL_HALT_EXIT_CODES.has(exit.exitCode)) return exit;
  if (exit.kind === 'stopped' && !stoppedForFatal) return exit;

  const kvmInternalError = exit.kind === 'vm-failure' && exit.kvmInternalError;
  const signal = exit.kind === 'program-exit' ? null : exit.signal;
  const message = `the Nanos kernel stopped with a fatal error: "${kernelMessage}"`;
  return { kind: 'vm-failure', qemuStatus: exit.qemuStatus, signal, kvmInternalError, kernelMessage, message };
}

function describeFailure(status: number | null, signal: string | null, errorLine: string | undefined): string {
  const qemuSaid = errorLine === undefined ? '' : ` QEMU reported: ${errorLine}`;
  if (signal !== null) return `QEMU was killed by ${signal} without a program exit code: ${SEE_SERIAL_LOG}.${qemuSaid}`;
  if (status === 0) {
    return (
      'QEMU exited with status 0 without a program exit code: the guest powered off or reset without writing one ' +
      `(Nanos writes it only when the manifest sets debug_exit:t) or it crashed; ${SEE_SERIAL_LOG}.${qemuSaid}`
    );
  }
  return `QEMU exited with status ${status} without a program exit code: the guest crashed or QEMU failed; ${SEE_SERIAL_LOG}.${qemuSaid}`;
}

function describeQemuError(line: string, stderr: string, image: string | undefined): string {
  if (line.includes('Failed to get "write" lock')) {
    const name = image ?? /Is another process using the image \[(.+)\]\?/.exec(stderr)?.[1] ?? 'the image';
    return (
      `${name} is in use by another QEMU process (QEMU: Failed to get "write" lock). ` +
      'Stop the other run of this image, or run a copy of it (cp IMAGE COPY, then run COPY).'
    );
  }
  if (line.includes('Could not set up host forwarding rule')) {
    return `QEMU could not forward a host port (${line}): another process holds it. Stop that process or choose another port with -p HOST:GUEST.`;
  }
  if (line.includes('Could not access KVM kernel module')) {
    return `QEMU could not open /dev/kvm (${line}): give this user read-write access to /dev/kvm, or use accelerator "tcg" or "auto".`;
  }
  return `QEMU failed to start: ${line}`;
}

// Maps how QEMU ended to what happened to the program in the guest.
//
// When the manifest sets debug_exit:t, Nanos writes the program's exit code to
// I/O port 0x501 (QEMU_HALT in src/kernel/kvm_platform.h). QEMU's
// isa-debug-exit device listens there by default and exits QEMU with status
// (code << 1) | 1 (hw/misc/debugexit.c). So an odd status s is the program
// exit code (s - 1) / 2. The process status has 8 bits, so only code mod 128
// survives: 128 reads as 0 and 200 as 72. A Nanos kernel halt leaves through
// the same port with status 255, which reads as exit code 127.

export type VmExit =
  | {
      kind: 'program-exit';
      /** The program's exit code mod 128. */
      exitCode: number;
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
}

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
    return { kind: 'vm-failure', qemuStatus: status, signal, kvmInternalError, message: describeQemuError(errorLine) };
  }

  if (status !== null && status % 2 === 1) {
    const exitCode = (status - 1) / 2;
    return { kind: 'program-exit', exitCode, qemuStatus: status, message: `program exited with ${exitCode}` };
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

function describeQemuError(line: string): string {
  if (line.includes('Could not set up host forwarding rule')) {
    return `QEMU could not forward a host port (${line}): another process holds it. Stop that process or choose another port with -p HOST:GUEST.`;
  }
  if (line.includes('Could not access KVM kernel module')) {
    return `QEMU could not open /dev/kvm (${line}): give this user read-write access to /dev/kvm, or use accelerator "tcg" or "auto".`;
  }
  return `QEMU failed to start: ${line}`;
}

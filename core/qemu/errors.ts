// The one error type of the QEMU runner. Callers branch on `code`; the message
// names the value, the reason and the fix.

import type { VmExit } from './exit-status';

export type QemuErrorCode =
  | 'invalid-option'
  | 'invalid-port'
  | 'duplicate-port'
  | 'port-in-use'
  | 'port-unavailable'
  | 'accelerator-unavailable'
  | 'qemu-not-found'
  | 'qemu-start-failed'
  | 'vm-failure'
  | 'exited-before-ready'
  | 'not-ready'
  | 'stopped'
  | 'timeout';

export class QemuError extends Error {
  override readonly name = 'QemuError';

  constructor(
    readonly code: QemuErrorCode,
    message: string,
    readonly details: {
      /** QEMU's standard error output, when QEMU ran. */
      stderr?: string;
      /** The VM's exit, when it ended. */
      exit?: VmExit;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get stderr(): string | undefined {
    return this.details.stderr;
  }

  get exit(): VmExit | undefined {
    return this.details.exit;
  }
}

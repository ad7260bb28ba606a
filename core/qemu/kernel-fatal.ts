// Recognizes the fatal-error reports of the Nanos kernel on the serial console.
//
// Nanos 0.1.55 reports a fatal error in one of these forms:
// - a failed assertion: a frame trace, then "assertion EXPR failed at FILE:LINE
//   (IP 0x...) in FUNCTION()" (the assert macro in src/runtime/runtime.h);
// - halt(): its message, then a shutdown with code 0x7f
//   (halt_with_code in src/kernel/kernel.c);
// - a fault without a handler: "no fault handler", then "cpu N, state S,
//   vector V" and a register dump (common_handler in src/x86_64/interrupt.c);
// - a failed allocation that must not fail: "Out of memory: ...", then a frame
//   trace (src/kernel/kernel.c, src/runtime/runtime_init.c).
// The kernel then exits through isa-debug-exit, or, as after an assertion in a
// fault handler, stops making progress while QEMU keeps running.

/** One kernel console line that starts or belongs to a fatal report, with the part worth quoting. */
const FATAL_LINES: readonly RegExp[] = [
  /^assertion .+ failed at \S+:\d+ \(IP 0x[0-9a-f]+\) in \S+\(\)$/,
  /^no fault handler$/,
  /^cpu \d+, state \w+, vector \d+$/,
  /^Out of memory: cannot allocate \d+ bytes$/,
  /^program startup failed (?:on|before) exec: /,
  /^frame trace: ?$/,
];

/** A frame trace line carries no message, so a better line replaces it as the quote. */
const FRAME_TRACE = /^frame trace: ?$/;
const ASSERTION = FATAL_LINES[0]!;

/**
 * Watches serial console lines for a Nanos fatal-error report and keeps the
 * most telling line of it: the assertion or error line rather than the bare
 * "frame trace:" header that comes first.
 */
export class KernelFatalWatcher {
  private firstLine: string | undefined;
  private bestLine: string | undefined;

  /** Whether a fatal report has started. */
  get detected(): boolean {
    return this.firstLine !== undefined;
  }

  /** The kernel's message to quote, once a fatal report has started. */
  get message(): string | undefined {
    return this.bestLine;
  }

  /** Feeds one console line; returns true for the line that starts a fatal report. */
  feed(line: string): boolean {
    const text = line.trim();
    if (!FATAL_LINES.some((pattern) => pattern.test(text))) return false;

    const started = this.firstLine === undefined;
    this.firstLine ??= text;
    if (this.bestLine === undefined || FRAME_TRACE.test(this.bestLine) || (ASSERTION.test(text) && !ASSERTION.test(this.bestLine))) this.bestLine = text;
    return started;
  }
}

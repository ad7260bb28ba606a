// Recognizes the report Nanos prints when a fatal signal ends the program.
//
// For a signal whose default action terminates the program, Nanos 0.1.55
// prints "*** signal N received by tid T, errno E, code C" (dump_sig_info in
// src/unix/signal.c; SIGTERM prints nothing) and then halts with exit code N
// (VM_EXIT_SIGNAL in src/runtime/runtime.h). The exit code alone cannot tell
// a SIGSEGV from exit(11), so the runner keeps the last report and matches it
// against the exit code.

const SIGNAL_REPORT = /^\*\*\* signal (\d+) received by tid \d+/;

/** Returns whether a console line is the kernel's report of a signal, which is no program output. */
export function isSignalReport(line: string): boolean {
  return SIGNAL_REPORT.test(line.trim());
}

/** Keeps the number of the last fatal-signal report seen on the console. */
export class ProgramSignalWatcher {
  signal: number | undefined;

  feed(line: string): void {
    const match = SIGNAL_REPORT.exec(line.trim());
    if (match !== null) this.signal = Number(match[1]);
  }
}

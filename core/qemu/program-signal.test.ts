// The kernel's fatal-signal report, matched against the exit code it halts with.

import { describe, expect, it } from 'vitest';

import { applyProgramSignal, type VmExit } from './exit-status';
import { isSignalReport, ProgramSignalWatcher } from './program-signal';

function programExit(exitCode: number): VmExit {
  return { kind: 'program-exit', exitCode, exitCodeSource: 'klog-dump', qemuStatus: 1, message: `program exited with ${exitCode}` };
}

describe('ProgramSignalWatcher', () => {
  it('keeps the last report', () => {
    const watcher = new ProgramSignalWatcher();
    for (const line of ['hello', '*** signal 6 received by tid 2, errno 0, code -6', '   core dump', '*** signal 11 received by tid 3, errno 0, code 1']) watcher.feed(line);

    expect(watcher.signal).toBe(11);
  });

  it('ignores program text', () => {
    const watcher = new ProgramSignalWatcher();
    watcher.feed('the *** signal 9 received by tid 1 text inside a line');

    expect(watcher.signal).toBeUndefined();
    expect(isSignalReport('*** signal 9 received by tid 1, errno 0, code 0')).toBe(true);
  });
});

describe('applyProgramSignal', () => {
  it('marks a matching exit', () => {
    const exit = applyProgramSignal(programExit(11), 11);

    expect(exit).toMatchObject({ kind: 'program-exit', exitCode: 11, killedBySignal: 11, message: 'program killed by signal 11 (SIGSEGV)' });
  });

  it('keeps a different exit code', () => {
    // The program caught the signal and exited with its own code.
    expect(applyProgramSignal(programExit(3), 11)).toEqual(programExit(3));
  });

  it('keeps an exit without a report', () => {
    expect(applyProgramSignal(programExit(11), undefined)).toEqual(programExit(11));
  });
});

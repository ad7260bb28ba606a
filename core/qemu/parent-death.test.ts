import { describe, expect, it } from 'vitest';

import { classifySetprivStart, isSetprivLine, withParentDeathSignal } from './parent-death';

describe('classifySetprivStart', () => {
  it('a setpriv missing from PATH is unusable', () => {
    expect(classifySetprivStart(null, '', 'ENOENT')).toEqual({ kind: 'unusable', reason: 'setpriv was not found on PATH' });
  });

  it.each([
    // glibc getopt, as util-linux before 2.33 prints it
    "setpriv: unrecognized option '--pdeathsig'\nTry 'setpriv --help' for more information.\n",
    // musl getopt's format; BusyBox setpriv (based on util-linux 2.29) has no --pdeathsig
    'setpriv: unrecognized option: pdeathsig\nBusyBox v1.36.1 multi-call binary.\n',
  ])('status 1 with getopt\'s message is unusable: %j', (stderr) => {
    const outcome = classifySetprivStart(1, stderr);

    expect(outcome).toEqual({ kind: 'unusable', reason: `setpriv does not support --pdeathsig (${stderr.split('\n')[0]})` });
  });

  it('status 1 from QEMU itself is a QEMU run', () => {
    expect(classifySetprivStart(1, 'qemu-system-x86_64: -drive file=x.img: Could not open x.img\n')).toEqual({ kind: 'ran' });
  });

  it('setpriv failing to exec QEMU names the reason', () => {
    expect(classifySetprivStart(127, "setpriv: failed to execute qemu-system-x86_64: No such file or directory\n")).toEqual({
      kind: 'exec-failed',
      notFound: true,
      message: 'setpriv: failed to execute qemu-system-x86_64: No such file or directory',
    });
    expect(classifySetprivStart(126, 'setpriv: failed to execute /tmp/qemu: Permission denied\n')).toMatchObject({ kind: 'exec-failed', notFound: false });
  });

  it('status 127 without setpriv\'s message came from QEMU', () => {
    expect(classifySetprivStart(127, '')).toEqual({ kind: 'ran' });
  });
});

describe('withParentDeathSignal', () => {
  it('puts QEMU\'s argument vector after --', () => {
    expect(withParentDeathSignal({ file: 'qemu-system-x86_64', args: ['-m', '64M'] })).toEqual({
      file: 'setpriv',
      args: ['--pdeathsig', 'SIGKILL', '--', 'qemu-system-x86_64', '-m', '64M'],
    });
  });
});

describe('isSetprivLine', () => {
  it('tells setpriv\'s lines from QEMU\'s', () => {
    expect(isSetprivLine("setpriv: unrecognized option '--pdeathsig'")).toBe(true);
    expect(isSetprivLine("Try 'setpriv --help' for more information.")).toBe(true);
    expect(isSetprivLine('qemu-system-x86_64: warning: host doesn\'t support requested feature')).toBe(false);
  });
});

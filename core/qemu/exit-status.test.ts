import { describe, expect, it } from 'vitest';

import { findQemuErrorLine, hasKvmInternalError, mapQemuExit } from './exit-status';

const KVM_DUMP = `qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]
KVM internal error. Suberror: 1
extra data[0]: 0x0000000000000001
emulation failure
`;

describe('mapQemuExit', () => {
  it.each([
    [1, 0],
    [7, 3],
    [255, 127],
    [145, 72],
  ])('status %i is program exit %i', (status, exitCode) => {
    expect(mapQemuExit({ status, signal: null })).toEqual({ kind: 'program-exit', exitCode, qemuStatus: status, message: `program exited with ${exitCode}` });
  });

  it('status 0 is a VM failure', () => {
    const exit = mapQemuExit({ status: 0, signal: null });

    expect(exit.kind).toBe('vm-failure');
    expect(exit.message).toBe(
      'QEMU exited with status 0 without a program exit code: the guest powered off or reset without writing one ' +
        '(Nanos writes it only when the manifest sets debug_exit:t) or it crashed; see the serial log.',
    );
  });

  it('status 2 is a VM failure', () => {
    expect(mapQemuExit({ status: 2, signal: null })).toEqual({
      kind: 'vm-failure',
      qemuStatus: 2,
      signal: null,
      kvmInternalError: false,
      message: 'QEMU exited with status 2 without a program exit code: the guest crashed or QEMU failed; see the serial log.',
    });
  });

  it('signal is a VM failure', () => {
    const stderr = "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\nqemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n";

    const exit = mapQemuExit({ status: null, signal: 'SIGABRT', stderr });

    expect(exit).toMatchObject({ kind: 'vm-failure', qemuStatus: null, signal: 'SIGABRT', kvmInternalError: false });
    expect(exit.message).toBe(
      'QEMU was killed by SIGABRT without a program exit code: see the serial log. QEMU reported: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69',
    );
  });

  it('status 1 with a QEMU error is a start failure', () => {
    const stderr = "qemu-system-x86_64: -drive if=none,id=hd0,format=raw,file=/x.img: Could not open '/x.img': No such file or directory\n";

    const exit = mapQemuExit({ status: 1, signal: null, stderr });

    expect(exit.kind).toBe('vm-failure');
    expect(exit.message).toBe(`QEMU failed to start: ${stderr.trim()}`);
  });

  it('status 1 after guest output is program exit 0', () => {
    const stderr = 'qemu-system-x86_64: Slirp: external icmpv6 not supported yet\n';

    expect(mapQemuExit({ status: 1, signal: null, stderr, guestOutput: true })).toMatchObject({ kind: 'program-exit', exitCode: 0 });
  });

  it('status 1 with only warnings is program exit 0', () => {
    const exit = mapQemuExit({ status: 1, signal: null, stderr: "qemu-system-x86_64: warning: host doesn't support requested feature\n" });

    expect(exit).toMatchObject({ kind: 'program-exit', exitCode: 0 });
  });

  it('taken host port explains the fix', () => {
    const stderr = "qemu-system-x86_64: -netdev user,id=n0,hostfwd=tcp:127.0.0.1:3306-:3306: Could not set up host forwarding rule 'tcp:127.0.0.1:3306-:3306'\n";

    expect(mapQemuExit({ status: 1, signal: null, stderr }).message).toMatch(/^QEMU could not forward a host port \(.*\): another process holds it\. Stop that process or choose another port with -p HOST:GUEST\.$/);
  });

  it('KVM access error explains the fix', () => {
    const stderr = 'qemu-system-x86_64: -accel kvm: Could not access KVM kernel module: Permission denied\nqemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied\n';

    expect(mapQemuExit({ status: 1, signal: null, stderr }).message).toContain('give this user read-write access to /dev/kvm, or use accelerator "tcg" or "auto"');
  });

  it('KVM internal error is flagged', () => {
    const exit = mapQemuExit({ status: null, signal: 'SIGKILL', stderr: KVM_DUMP });

    expect(exit).toMatchObject({ kind: 'vm-failure', kvmInternalError: true });
    expect(exit.message).toContain('QEMU reported "KVM internal error"');
  });

  it('stop request is a stop', () => {
    expect(mapQemuExit({ status: 0, signal: null, stopReason: 'stop() was called' })).toEqual({
      kind: 'stopped',
      reason: 'stop() was called',
      qemuStatus: 0,
      signal: null,
      message: 'VM stopped before the program exited (stop() was called)',
    });
  });

  it('SIGKILL after a stop request is a stop', () => {
    expect(mapQemuExit({ status: null, signal: 'SIGKILL', stopReason: 'timed out' })).toMatchObject({ kind: 'stopped', signal: 'SIGKILL' });
  });

  it('signal notice from QEMU is a stop', () => {
    const stderr = 'qemu-system-x86_64: terminating on signal 2 from pid 4242 (node)\n';

    expect(mapQemuExit({ status: 0, signal: null, stderr })).toMatchObject({ kind: 'stopped', reason: 'QEMU received signal 2' });
  });

  it('program exit wins over a late stop request', () => {
    expect(mapQemuExit({ status: 7, signal: null, stopReason: 'stop() was called' })).toMatchObject({ kind: 'program-exit', exitCode: 3 });
  });
});

describe('QEMU output checks', () => {
  it('finds KVM internal error', () => {
    expect(hasKvmInternalError(KVM_DUMP)).toBe(true);
    expect(hasKvmInternalError('qemu-system-x86_64: warning: something\n')).toBe(false);
  });

  it('error line skips warnings and signal notices', () => {
    const stderr = 'qemu-system-x86_64: warning: a\nqemu-system-x86_64: terminating on signal 15 from pid 1\nqemu-system-x86_64: -m 2X: Parameter size expects a non-negative number\n';

    expect(findQemuErrorLine(stderr)).toBe('qemu-system-x86_64: -m 2X: Parameter size expects a non-negative number');
    expect(findQemuErrorLine('KVM internal error. Suberror: 1\n')).toBeUndefined();
  });
});

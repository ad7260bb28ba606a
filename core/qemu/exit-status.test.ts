import { describe, expect, it } from 'vitest';

import { applyKernelFatal, applyKlogExitCode, findQemuErrorLine, hasKvmInternalError, mapQemuExit } from './exit-status';

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
    expect(mapQemuExit({ status, signal: null })).toEqual({
      kind: 'program-exit',
      exitCode,
      exitCodeSource: 'debug-exit',
      qemuStatus: status,
      message: `program exited with ${exitCode}`,
    });
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

describe('applyKlogExitCode', () => {
  it.each([
    [1, 128, 128],
    [145, 200, 200],
    [255, 255, 255],
    [7, 3, 3],
    [1, 256, 0],
    [255, -1, 255],
  ])('status %i with dump code %i is exit %i', (status, dumpCode, exitCode) => {
    const exit = applyKlogExitCode(mapQemuExit({ status, signal: null }), dumpCode);

    expect(exit).toMatchObject({ kind: 'program-exit', exitCode, message: `program exited with ${exitCode}` });
  });

  it('marks the klog dump as the source', () => {
    expect(applyKlogExitCode(mapQemuExit({ status: 1, signal: null }), 128)).toMatchObject({ exitCodeSource: 'klog-dump' });
  });

  it('without a dump keeps the QEMU status code', () => {
    expect(applyKlogExitCode(mapQemuExit({ status: 1, signal: null }), undefined)).toMatchObject({ exitCode: 0, exitCodeSource: 'debug-exit' });
  });

  it('ignores a dump that contradicts the status', () => {
    expect(applyKlogExitCode(mapQemuExit({ status: 7, signal: null }), 200)).toMatchObject({ exitCode: 3, exitCodeSource: 'debug-exit' });
  });

  it('leaves a failure alone', () => {
    const failure = mapQemuExit({ status: 0, signal: null });

    expect(applyKlogExitCode(failure, 3)).toBe(failure);
  });
});

describe('applyKernelFatal', () => {
  const assertion = 'assertion x failed at a.c:1 (IP 0x1) in f()';

  it('halt status becomes a kernel failure', () => {
    const exit = applyKernelFatal(mapQemuExit({ status: 255, signal: null }), assertion, false);

    expect(exit).toMatchObject({ kind: 'vm-failure', kernelMessage: assertion, qemuStatus: 255 });
    expect(exit.message).toBe(`the Nanos kernel stopped with a fatal error: "${assertion}"`);
  });

  it('stop for the fatal error becomes a kernel failure', () => {
    const stopped = mapQemuExit({ status: 0, signal: null, stopReason: 'kernel fatal error' });

    expect(applyKernelFatal(stopped, assertion, true)).toMatchObject({ kind: 'vm-failure', kernelMessage: assertion });
  });

  it('other program exit codes stay program exits', () => {
    const exit = mapQemuExit({ status: 7, signal: null });

    expect(applyKernelFatal(exit, assertion, false)).toBe(exit);
  });

  it('a stop for another reason stays a stop', () => {
    const stopped = mapQemuExit({ status: 0, signal: null, stopReason: 'this process received SIGINT' });

    expect(applyKernelFatal(stopped, assertion, false)).toBe(stopped);
  });

  it('without a kernel message nothing changes', () => {
    const exit = mapQemuExit({ status: 255, signal: null });

    expect(applyKernelFatal(exit, undefined, false)).toBe(exit);
  });
});

describe('image lock failure', () => {
  const stderr = 'qemu-system-x86_64: -device scsi-hd,bus=scsi0.0,drive=hd0: Failed to get "write" lock\nIs another process using the image [/tmp/app.img]?\n';

  it('names the image and the fix', () => {
    const exit = mapQemuExit({ status: 1, signal: null, stderr, image: '/work/app.img' });

    expect(exit.kind).toBe('vm-failure');
    expect(exit.message).toContain('/work/app.img is in use by another QEMU process');
    expect(exit.message).toContain('Stop the other run of this image, or run a copy of it');
  });

  it('takes the image from QEMU without one given', () => {
    expect(mapQemuExit({ status: 1, signal: null, stderr }).message).toContain('/tmp/app.img is in use by another QEMU process');
  });
});

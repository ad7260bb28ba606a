import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { chooseAccelerator, normalizeArch, probeKvm, type AcceleratorInput } from './accelerator';
import { QemuError } from './errors';

const linux: AcceleratorInput = { hostPlatform: 'linux', hostArch: 'x64', guestArch: 'x86_64', kvmUsable: true };
const noAccessProblem = '/dev/kvm is not readable and writable by this user (fix: run "sudo usermod -aG kvm $USER" and log in again)';

describe('chooseAccelerator', () => {
  it('Apple silicon with x86_64 guest uses TCG', () => {
    const choice = chooseAccelerator({ hostPlatform: 'darwin', hostArch: 'arm64', guestArch: 'x86_64', kvmUsable: false });

    expect(choice.accelerator).toBe('tcg');
    expect(choice.args).toEqual(['-accel', 'tcg']);
    expect(choice.note).toBe('no hardware acceleration: host arm64, guest x86_64, so QEMU emulates the CPU (TCG, much slower than hardware acceleration)');
  });

  it('Intel Mac uses HVF', () => {
    const choice = chooseAccelerator({ hostPlatform: 'darwin', hostArch: 'x64', guestArch: 'x86_64', kvmUsable: false });

    expect(choice).toEqual({ accelerator: 'hvf', args: ['-accel', 'hvf'] });
  });

  it('Mac without Hypervisor.framework uses TCG', () => {
    const choice = chooseAccelerator({ hostPlatform: 'darwin', hostArch: 'x64', guestArch: 'x86_64', kvmUsable: false, hvfSupported: false });

    expect(choice.accelerator).toBe('tcg');
    expect(choice.note).toContain('kern.hv_support = 0');
  });

  it('Linux with usable KVM uses KVM', () => {
    expect(chooseAccelerator(linux)).toEqual({ accelerator: 'kvm', args: ['-accel', 'kvm'] });
  });

  it('Linux without KVM access uses TCG with the fix', () => {
    const choice = chooseAccelerator({ ...linux, kvmUsable: false, kvmProblem: noAccessProblem });

    expect(choice.accelerator).toBe('tcg');
    expect(choice.args).toEqual(['-accel', 'tcg']);
    expect(choice.note).toBe(`no hardware acceleration: ${noAccessProblem}, so QEMU emulates the CPU (TCG, much slower than hardware acceleration)`);
  });

  it('Linux arm64 host with x86_64 guest uses TCG', () => {
    const choice = chooseAccelerator({ ...linux, hostArch: 'arm64' });

    expect(choice.accelerator).toBe('tcg');
    expect(choice.note).toMatch(/^no hardware acceleration: host arm64, guest x86_64,/);
  });

  it('Linux arm64 host with arm64 guest uses KVM', () => {
    expect(chooseAccelerator({ ...linux, hostArch: 'arm64', guestArch: 'arm64' }).accelerator).toBe('kvm');
  });

  it('Windows host uses TCG', () => {
    const choice = chooseAccelerator({ ...linux, hostPlatform: 'win32' });

    expect(choice.accelerator).toBe('tcg');
    expect(choice.note).toContain('this host is win32');
  });

  it('forced TCG is honoured with KVM available', () => {
    expect(chooseAccelerator({ ...linux, forced: 'tcg' })).toEqual({ accelerator: 'tcg', args: ['-accel', 'tcg'] });
  });

  it('forced KVM is honoured when usable', () => {
    expect(chooseAccelerator({ ...linux, forced: 'kvm' })).toEqual({ accelerator: 'kvm', args: ['-accel', 'kvm'] });
  });

  it('forced KVM without access is an error', () => {
    const choose = () => chooseAccelerator({ ...linux, kvmUsable: false, kvmProblem: noAccessProblem, forced: 'kvm' });

    expect(choose).toThrow(QemuError);
    expect(choose).toThrow(`accelerator "kvm" was requested, but ${noAccessProblem}. Fix that, or use "auto" to fall back to TCG.`);
  });

  it('forced KVM on a Mac is an error', () => {
    const choose = () => chooseAccelerator({ hostPlatform: 'darwin', hostArch: 'x64', guestArch: 'x86_64', kvmUsable: false, forced: 'kvm' });

    expect(choose).toThrow('accelerator "kvm" was requested, but it is only available on Linux and this host is darwin. Use "auto" or "tcg".');
  });

  it('forced HVF on Apple silicon with x86_64 guest is an error', () => {
    const choose = () => chooseAccelerator({ hostPlatform: 'darwin', hostArch: 'arm64', guestArch: 'x86_64', kvmUsable: false, forced: 'hvf' });

    expect(choose).toThrow(`accelerator "hvf" was requested, but it needs a host of the guest's architecture (host arm64, guest x86_64). Use "auto" or "tcg".`);
  });
});

describe('normalizeArch', () => {
  it('maps Node and QEMU names', () => {
    expect(['x64', 'amd64', 'x86_64', 'arm64', 'aarch64', 'riscv64'].map(normalizeArch)).toEqual(['x86_64', 'x86_64', 'x86_64', 'arm64', 'arm64', 'riscv64']);
  });
});

describe('probeKvm', () => {
  it('missing device is not usable', () => {
    const probe = probeKvm('/nonexistent/kvm');

    expect(probe.usable).toBe(false);
    expect(probe.problem).toMatch(/^\/nonexistent\/kvm does not exist \(load the kvm_intel or kvm_amd kernel module/);
  });

  it('readable and writable file is usable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nx-unikernel-kvm-'));
    try {
      const device = join(dir, 'kvm');
      writeFileSync(device, '');
      chmodSync(device, 0o666);

      expect(probeKvm(device)).toEqual({ usable: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(process.getuid?.() === 0)('read-only file is not usable (skipped as root)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nx-unikernel-kvm-'));
    try {
      const device = join(dir, 'kvm');
      writeFileSync(device, '');
      chmodSync(device, 0o444);

      const probe = probeKvm(device);
      expect(probe.usable).toBe(false);
      expect(probe.problem).toContain('is not readable and writable by this user');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Chooses how QEMU executes guest code: KVM (Linux), HVF (macOS) or TCG, QEMU's
// CPU emulator. Hardware acceleration only works when the host CPU has the
// guest's architecture, so an Apple-silicon Mac runs an x86_64 guest under TCG.

import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';

import { QemuError } from './errors';

export type Accelerator = 'kvm' | 'hvf' | 'tcg';

/** An accelerator, or `auto` to pick the fastest one the host supports. */
export type AcceleratorRequest = Accelerator | 'auto';

export type GuestArch = 'x86_64' | 'arm64';

export interface AcceleratorInput {
  /** `process.platform` of the host. */
  hostPlatform: NodeJS.Platform;
  /** `process.arch` of the host (`x64`, `arm64`). QEMU's `x86_64` and `aarch64` are accepted too. */
  hostArch: string;
  guestArch: GuestArch;
  /** Whether /dev/kvm can be opened for reading and writing, from `probeKvm()`. */
  kvmUsable: boolean;
  /** The reason KVM is not usable, from `probeKvm()`. It appears in the note and in errors. */
  kvmProblem?: string;
  /** macOS `kern.hv_support`, from `probeHvf()`. Omitted means supported. */
  hvfSupported?: boolean;
  /** An accelerator the user requested. It is used, or chooseAccelerator throws when the host cannot provide it. */
  forced?: Accelerator;
}

export interface AcceleratorChoice {
  accelerator: Accelerator;
  /** QEMU arguments that select the accelerator. */
  args: string[];
  /** One line for the user when the choice is slower than they may expect. */
  note?: string;
}

export interface KvmProbe {
  usable: boolean;
  /** The reason /dev/kvm cannot be used, with the fix. Set when `usable` is false. */
  problem?: string;
}

const ACCELERATOR_ARGS: Record<Accelerator, string[]> = {
  kvm: ['-accel', 'kvm'],
  hvf: ['-accel', 'hvf'],
  tcg: ['-accel', 'tcg'],
};

const TCG_CONSEQUENCE = 'so QEMU emulates the CPU (TCG, much slower than hardware acceleration)';

/** Maps Node's and QEMU's architecture names to the guest architecture names. */
export function normalizeArch(arch: string): string {
  if (arch === 'x64' || arch === 'amd64') return 'x86_64';
  if (arch === 'aarch64') return 'arm64';
  return arch;
}

/**
 * Chooses the accelerator and its QEMU arguments. KVM needs Linux, a host of
 * the guest's architecture and an accessible /dev/kvm; HVF needs macOS and a
 * host of the guest's architecture. Everything else runs under TCG with a note.
 *
 * Throws QemuError `accelerator-unavailable` when `forced` names an accelerator
 * this host cannot use.
 */
export function chooseAccelerator(input: AcceleratorInput): AcceleratorChoice {
  if (input.forced !== undefined) return chooseForced(input, input.forced);

  const problem = hardwareProblem(input);
  if (problem !== undefined) return { accelerator: 'tcg', args: [...ACCELERATOR_ARGS.tcg], note: `no hardware acceleration: ${problem}, ${TCG_CONSEQUENCE}` };

  const accelerator = input.hostPlatform === 'darwin' ? 'hvf' : 'kvm';
  return { accelerator, args: [...ACCELERATOR_ARGS[accelerator]] };
}

function chooseForced(input: AcceleratorInput, forced: Accelerator): AcceleratorChoice {
  if (forced === 'tcg') return { accelerator: 'tcg', args: [...ACCELERATOR_ARGS.tcg] };

  const nativeAccelerators: Partial<Record<NodeJS.Platform, Accelerator>> = { darwin: 'hvf', linux: 'kvm' };
  if (nativeAccelerators[input.hostPlatform] !== forced) {
    const where = forced === 'kvm' ? 'Linux' : 'macOS';
    throw new QemuError(
      'accelerator-unavailable',
      `accelerator "${forced}" was requested, but it is only available on ${where} and this host is ${input.hostPlatform}. Use "auto" or "tcg".`,
    );
  }

  const hostArch = normalizeArch(input.hostArch);
  if (hostArch !== input.guestArch) {
    throw new QemuError(
      'accelerator-unavailable',
      `accelerator "${forced}" was requested, but it needs a host of the guest's architecture (host ${hostArch}, guest ${input.guestArch}). Use "auto" or "tcg".`,
    );
  }

  const problem = hardwareProblem(input);
  if (problem !== undefined) {
    throw new QemuError('accelerator-unavailable', `accelerator "${forced}" was requested, but ${problem}. Fix that, or use "auto" to fall back to TCG.`);
  }
  return { accelerator: forced, args: [...ACCELERATOR_ARGS[forced]] };
}

/** Returns why the host cannot accelerate this guest, or undefined when it can. */
function hardwareProblem(input: AcceleratorInput): string | undefined {
  const hostArch = normalizeArch(input.hostArch);
  if (input.hostPlatform !== 'linux' && input.hostPlatform !== 'darwin') {
    return `QEMU hardware acceleration is used only on Linux (KVM) and macOS (HVF), and this host is ${input.hostPlatform}`;
  }
  if (hostArch !== input.guestArch) return `host ${hostArch}, guest ${input.guestArch}`;

  if (input.hostPlatform === 'darwin') {
    if (input.hvfSupported === false) return 'this Mac reports kern.hv_support = 0, so Hypervisor.framework is unavailable (as inside another VM)';
    return undefined;
  }

  if (!input.kvmUsable) return input.kvmProblem ?? '/dev/kvm is not usable';
  return undefined;
}

/**
 * Tests whether this process can open /dev/kvm for reading and writing, which
 * is what QEMU needs. It checks access itself, never group membership, because
 * a mode of 0666 or an ACL grants access without the group.
 */
export function probeKvm(device = '/dev/kvm'): KvmProbe {
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return { usable: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return {
        usable: false,
        problem: `${device} does not exist (load the kvm_intel or kvm_amd kernel module, or enable nested virtualization when this host is itself a VM)`,
      };
    }
    if (code === 'EACCES' || code === 'EPERM') {
      const group = ownerGroup(device);
      const fix = group === undefined ? 'ask an administrator for read-write access to it' : `run "sudo usermod -aG ${group} $USER" and log in again`;
      return { usable: false, problem: `${device} is not readable and writable by this user (fix: ${fix})` };
    }
    return { usable: false, problem: `${device} cannot be accessed (${code ?? String(error)})` };
  }
}

/** Returns the name of the group that owns `path`, read from /etc/group. */
function ownerGroup(path: string): string | undefined {
  try {
    const gid = statSync(path).gid;
    if (gid === 0) return undefined;
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (id !== undefined && Number(id) === gid) return name;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads macOS `sysctl kern.hv_support` (1 when Hypervisor.framework works).
 * Returns undefined on other hosts or when sysctl fails.
 */
export function probeHvf(hostPlatform: NodeJS.Platform = process.platform): boolean | undefined {
  if (hostPlatform !== 'darwin') return undefined;
  // NOTE: only the decision table is tested; this sysctl call has not run on a Mac.
  try {
    return execFileSync('sysctl', ['-n', 'kern.hv_support'], { encoding: 'utf8', timeout: 5000 }).trim() === '1';
  } catch {
    return undefined;
  }
}

/** Probes this host and chooses the accelerator for `request`. */
export function detectAccelerator(request: AcceleratorRequest, guestArch: GuestArch = 'x86_64'): AcceleratorChoice {
  const kvm = process.platform === 'linux' ? probeKvm() : { usable: false };
  return chooseAccelerator({
    hostPlatform: process.platform,
    hostArch: process.arch,
    guestArch,
    kvmUsable: kvm.usable,
    kvmProblem: kvm.problem,
    hvfSupported: probeHvf(),
    forced: request === 'auto' ? undefined : request,
  });
}

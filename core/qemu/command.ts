// Builds the qemu-system-x86_64 command line that boots a Nanos image. The
// result is an argument vector for a direct exec, never a shell string, so
// paths with spaces need no quoting.
//
// The device set follows `ops run` (setConfig and addAccel in
// ops:qemu/qemu_unix.go), with these deviations:
// - Devices sit on the root bus (pcie.0) at addresses QEMU picks, instead of
//   the three pcie-root-port devices with fixed slots that OPS and the Nanos
//   Makefile (platform/pc/Makefile) add. Nanos finds its devices by probing
//   PCI, and Nanos 0.1.55 boots and reaches the network this way under QEMU 7.2.
// - `-accel kvm` instead of `-machine accel=kvm:tcg`: QEMU's silent fallback
//   would hide which accelerator runs. The runner chooses one and retries
//   under TCG itself (see vm.ts).
// - One `-cpu`: `max` under TCG, `host` under KVM and HVF, as the Nanos
//   Makefile chooses. OPS adds two and relies on the last one winning.
// - No virtio-balloon: no host component requests memory back from the guest.
// - QEMU's default MAC address instead of a random one: the runner only uses
//   user-mode networking, where each QEMU process has a private network, so
//   two VMs with the same MAC never share a link.
// - `-monitor none`: the runner never uses the QEMU monitor, and QEMU's
//   default would attach one to a virtual console.

import { extname } from 'node:path';

import type { AcceleratorChoice, Accelerator } from './accelerator';
import { QemuError } from './errors';
import { DEFAULT_BIND_ADDRESS, userNetdevValue, type PortForward } from './ports';

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

/** OPS's default guest memory (RunConfig.Memory). */
export const DEFAULT_MEMORY = '2G';

/**
 * The smallest guest memory accepted, in MiB. It was measured with Nanos
 * 0.1.55 under QEMU 7.2 (TCG) by booting examples/http-server and a static C
 * program that exits. With 1 CPU both ran at 13 MiB and failed at 12 MiB
 * ("page fill failed with (result:out of memory)", then SIGBUS in the program).
 * With 4 CPUs 13 MiB failed and 14 MiB ran. At 8 MiB and below the kernel
 * does not start at all. 16 MiB adds a little room, and larger programs need more.
 */
export const MIN_MEMORY_MIB = 16;

/**
 * The maximum number of virtual CPUs of a VM. QEMU 7.2 rejects `-smp 256` on
 * q35 without KVM ("current -smp configuration requires kernel irqchip and
 * X2APIC API support"), so the config, the CLI and the runner stop at 255.
 */
export const MAX_CPUS = 255;

export interface QemuCommandOptions {
  /** Host path of the disk image. QEMU writes to it: Nanos updates its root filesystem and klog. */
  image: string;
  accelerator: Pick<AcceleratorChoice, 'accelerator' | 'args'>;
  /** Guest memory: a number of MiB, or a size with an M or G suffix such as `512M`. Default 2G. */
  memory?: string | number;
  /** Number of virtual CPUs (`-smp`). Default 1. */
  cpus?: number;
  forwards?: readonly PortForward[];
  /** Host IPv4 address the forwarded ports listen on. Default 127.0.0.1. */
  bindAddress?: string;
  /** Whether the guest gets a virtio-net NIC on user-mode networking. Default true. */
  network?: boolean;
  /** Disk image format; derived from the file extension when omitted (`.qcow2` or raw). */
  imageFormat?: 'raw' | 'qcow2';
  /** Appended last, so they can override earlier options that QEMU lets repeat, such as `-cpu`. */
  extraArgs?: readonly string[];
  /** Default `qemu-system-x86_64`, found on PATH. */
  qemuBinary?: string;
}

export interface QemuCommand {
  file: string;
  args: string[];
}

/** Builds the QEMU command. Throws QemuError `invalid-option` naming a bad value. */
export function buildQemuCommand(options: QemuCommandOptions): QemuCommand {
  if (options.image === '') throw new QemuError('invalid-option', 'the image path is empty: pass the path of a Nanos disk image');
  const memory = formatMemory(options.memory ?? DEFAULT_MEMORY);
  const cpus = checkCpus(options.cpus ?? 1);
  const format = options.imageFormat ?? (extname(options.image).toLowerCase() === '.qcow2' ? 'qcow2' : 'raw');

  const args = ['-machine', 'q35', '-m', memory, '-smp', String(cpus), ...options.accelerator.args, '-cpu', cpuModel(options.accelerator.accelerator)];

  // The program's exit code leaves through isa-debug-exit (I/O port 0x501,
  // QEMU's default iobase, which Nanos writes in QEMU_HALT,
  // src/kernel/kvm_platform.h). -no-reboot turns a guest reset into a QEMU
  // exit instead of a boot loop.
  args.push('-device', 'isa-debug-exit', '-no-reboot');

  // The serial port is the Nanos console. It goes to QEMU's stdout, which the
  // runner pipes, and nothing else reads or writes the terminal.
  args.push('-display', 'none', '-vga', 'none', '-monitor', 'none', '-serial', 'stdio');

  args.push(
    '-drive', `if=none,id=hd0,format=${format},file=${escapeOptionValue(options.image)}`,
    '-device', 'virtio-scsi-pci,id=scsi0',
    '-device', 'scsi-hd,bus=scsi0.0,drive=hd0',
  );

  if (options.network === false) {
    args.push('-nic', 'none');
  } else {
    args.push('-netdev', userNetdevValue(options.forwards ?? [], options.bindAddress ?? DEFAULT_BIND_ADDRESS), '-device', 'virtio-net-pci,netdev=n0');
  }

  // Entropy for the guest's getrandom(), as OPS adds it.
  args.push('-device', 'virtio-rng-pci');

  args.push(...(options.extraArgs ?? []));
  return { file: options.qemuBinary ?? DEFAULT_QEMU_BINARY, args };
}

function cpuModel(accelerator: Accelerator): string {
  if (accelerator === 'tcg') return 'max';
  // HVF cannot pass RDTSCP through to the guest, so the Nanos Makefile and OPS
  // turn the feature off on Macs.
  if (accelerator === 'hvf') return 'host,-rdtscp';
  return 'host';
}

/** Doubles commas, which QEMU's option syntax reads as separators otherwise. */
function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

function formatMemory(memory: string | number): string {
  const text = String(memory).trim();
  const match = /^([1-9]\d*)([MG]?)$/i.exec(text);
  if (match === null) {
    throw new QemuError('invalid-option', `invalid memory size "${memory}": use a number of MiB or a size with an M or G suffix, such as 512M or 2G`);
  }
  const mib = Number(match[1]) * (match[2]?.toUpperCase() === 'G' ? 1024 : 1);
  if (mib < MIN_MEMORY_MIB) {
    throw new QemuError('invalid-option', `memory size "${memory}" is below the minimum of ${MIN_MEMORY_MIB}M that the Nanos kernel needs to boot: use ${MIN_MEMORY_MIB}M or more`);
  }
  return text.toUpperCase();
}

function checkCpus(cpus: number): number {
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) {
    throw new QemuError('invalid-option', `invalid CPU count ${cpus}: use a whole number from 1 to ${MAX_CPUS}`);
  }
  return cpus;
}

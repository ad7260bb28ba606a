import { describe, expect, it } from 'vitest';

import { buildQemuCommand, type QemuCommandOptions } from './command';
import { QemuError } from './errors';

const tcg = { accelerator: 'tcg' as const, args: ['-accel', 'tcg'] };
const base: QemuCommandOptions = { image: '/images/app.img', accelerator: tcg };

/** Returns the value that follows each occurrence of `flag`. */
function valuesOf(args: readonly string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1] ?? '(missing)'] : []));
}

describe('buildQemuCommand', () => {
  it('TCG command with forwards', () => {
    const command = buildQemuCommand({
      ...base,
      memory: '512M',
      cpus: 2,
      forwards: [
        { protocol: 'tcp', hostPort: 8080, guestPort: 8080 },
        { protocol: 'udp', hostPort: 5353, guestPort: 5353 },
      ],
    });

    expect(command.file).toBe('qemu-system-x86_64');
    expect(command.args).toMatchInlineSnapshot(`
      [
        "-machine",
        "q35",
        "-m",
        "512M",
        "-smp",
        "2",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-device",
        "isa-debug-exit",
        "-no-reboot",
        "-display",
        "none",
        "-vga",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-drive",
        "if=none,id=hd0,format=raw,file=/images/app.img",
        "-device",
        "virtio-scsi-pci,id=scsi0",
        "-device",
        "scsi-hd,bus=scsi0.0,drive=hd0",
        "-netdev",
        "user,id=n0,hostfwd=tcp:127.0.0.1:8080-:8080,hostfwd=udp:127.0.0.1:5353-:5353",
        "-device",
        "virtio-net-pci,netdev=n0",
        "-device",
        "virtio-rng-pci",
      ]
    `);
  });

  it('defaults to 2G and one CPU', () => {
    const { args } = buildQemuCommand(base);

    expect(valuesOf(args, '-m')).toEqual(['2G']);
    expect(valuesOf(args, '-smp')).toEqual(['1']);
    expect(valuesOf(args, '-netdev')).toEqual(['user,id=n0']);
  });

  it('KVM and HVF use the host CPU model', () => {
    const kvm = buildQemuCommand({ ...base, accelerator: { accelerator: 'kvm', args: ['-accel', 'kvm'] } }).args;
    const hvf = buildQemuCommand({ ...base, accelerator: { accelerator: 'hvf', args: ['-accel', 'hvf'] } }).args;

    expect(valuesOf(kvm, '-accel')).toEqual(['kvm']);
    expect(valuesOf(kvm, '-cpu')).toEqual(['host']);
    expect(valuesOf(hvf, '-accel')).toEqual(['hvf']);
    expect(valuesOf(hvf, '-cpu')).toEqual(['host,-rdtscp']);
  });

  it('image path stays one argument', () => {
    const { args } = buildQemuCommand({ ...base, image: '/tmp/my images/a,b.img' });

    expect(valuesOf(args, '-drive')).toEqual(['if=none,id=hd0,format=raw,file=/tmp/my images/a,,b.img']);
  });

  it('qcow2 extension selects the format', () => {
    expect(valuesOf(buildQemuCommand({ ...base, image: '/i/app.qcow2' }).args, '-drive')).toEqual(['if=none,id=hd0,format=qcow2,file=/i/app.qcow2']);
  });

  it('network false disables every NIC', () => {
    const { args } = buildQemuCommand({ ...base, network: false });

    expect(valuesOf(args, '-nic')).toEqual(['none']);
    expect(args).not.toContain('-netdev');
  });

  it('bind address and extra args apply', () => {
    const { file, args } = buildQemuCommand({
      ...base,
      bindAddress: '0.0.0.0',
      forwards: [{ protocol: 'tcp', hostPort: 8081, guestPort: 80 }],
      extraArgs: ['-cpu', 'qemu64', '-d', 'int'],
      qemuBinary: '/opt/qemu/bin/qemu-system-x86_64',
    });

    expect(file).toBe('/opt/qemu/bin/qemu-system-x86_64');
    expect(valuesOf(args, '-netdev')).toEqual(['user,id=n0,hostfwd=tcp:0.0.0.0:8081-:80']);
    expect(args.slice(-4)).toEqual(['-cpu', 'qemu64', '-d', 'int']);
  });

  it('memory accepts MiB numbers and suffixes', () => {
    expect(valuesOf(buildQemuCommand({ ...base, memory: 768 }).args, '-m')).toEqual(['768']);
    expect(valuesOf(buildQemuCommand({ ...base, memory: '1g' }).args, '-m')).toEqual(['1G']);
    expect(valuesOf(buildQemuCommand({ ...base, memory: '16M' }).args, '-m')).toEqual(['16M']);
  });

  it.each([
    [{ memory: '2GB' }, 'invalid memory size "2GB": use a number of MiB or a size with an M or G suffix, such as 512M or 2G'],
    [{ memory: 0 }, 'invalid memory size "0"'],
    [{ memory: 15 }, 'memory size "15" is below the minimum of 16M that the Nanos kernel needs to boot: use 16M or more'],
    [{ memory: '1M' }, 'memory size "1M" is below the minimum of 16M'],
    [{ cpus: 0 }, 'invalid CPU count 0: use a whole number from 1 to 255'],
    [{ cpus: 1.5 }, 'invalid CPU count 1.5'],
    [{ image: '' }, 'the image path is empty: pass the path of a Nanos disk image'],
    [{ bindAddress: '::1' }, 'invalid bind address "::1"'],
  ] as const)('rejects %j', (override, message) => {
    const build = () => buildQemuCommand({ ...base, ...override });

    expect(build).toThrow(QemuError);
    expect(build).toThrow(message);
  });
});

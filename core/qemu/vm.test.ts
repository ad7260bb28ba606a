// VM lifecycle cases that need no Nanos image: start errors, QEMU's own
// failures and stopping before QEMU starts.

import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { QemuError } from './errors';
import { LineQueue } from './line-queue';
import { runVm } from './run-vm';
import { compileRunner } from './test-support/child-runner';
import { startVm } from './vm';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
if (!hasQemu) console.warn('Skipping the QEMU start-failure tests: qemu-system-x86_64 is not installed.');

const missingImage = join(tmpdir(), `nx-unikernel-missing-${process.pid}.img`);

describe('startVm', () => {
  it('missing QEMU binary rejects exited and ready', async () => {
    const vm = startVm({ image: missingImage, accelerator: 'tcg', qemuBinary: 'qemu-system-nx-unikernel-missing', readiness: false });

    await expect(vm.exited).rejects.toMatchObject({ code: 'qemu-not-found' });
    await expect(vm.exited).rejects.toThrow('qemu-system-nx-unikernel-missing was not found on PATH: install QEMU');
    await expect(vm.ready).rejects.toMatchObject({ code: 'qemu-not-found' });
  });

  it('invalid options throw at once', () => {
    expect(() => startVm({ image: missingImage, accelerator: 'tcg', ports: ['8080:0'] })).toThrow('invalid port "8080:0": it uses port 0, outside 1-65535');
    expect(() => startVm({ image: missingImage, accelerator: 'tcg', memory: 'lots' })).toThrow(QemuError);
  });

  it('timer delays above 2^31-1 ms throw at once', () => {
    const tooLong = 2 ** 31;

    expect(() => startVm({ image: missingImage, accelerator: 'tcg', ports: ['8080'], readiness: { timeoutMs: tooLong } })).toThrow(
      'invalid readiness timeoutMs 2147483648: it is above 2147483647 ms',
    );
    expect(() => startVm({ image: missingImage, accelerator: 'tcg', stopGraceMs: tooLong })).toThrow('invalid stopGraceMs 2147483648');
    expect(() => startVm({ image: missingImage, accelerator: 'tcg', kernelFatalGraceMs: -1 })).toThrow('invalid kernelFatalGraceMs -1: use a non-negative number of ms');
  });

  it('runVm rejects a timeout above 2^31-1 ms', async () => {
    await expect(runVm({ image: missingImage, accelerator: 'tcg', timeoutMs: 2 ** 31 })).rejects.toThrow('invalid timeoutMs 2147483648: it is above 2147483647 ms');
  });

  it('config and CLI forwards appear once', async () => {
    const fromConfig = ['8080', '5353/udp'];
    const fromCli = [8080, '8080:8080/tcp', { protocol: 'udp' as const, hostPort: 5353, guestPort: 5353 }, '5353:5353/UDP'];
    const vm = startVm({
      image: missingImage,
      accelerator: 'tcg',
      qemuBinary: 'qemu-system-nx-unikernel-missing',
      checkHostPorts: false,
      ports: [...fromConfig, ...fromCli],
    });

    const args = vm.qemuCommand.args;
    const netdevs = args.filter((_, index) => args[index - 1] === '-netdev');
    expect(netdevs).toEqual(['user,id=n0,hostfwd=tcp:127.0.0.1:8080-:8080,hostfwd=udp:127.0.0.1:5353-:5353']);
    await expect(vm.exited).rejects.toMatchObject({ code: 'qemu-not-found' });
  });

  it('stop before start never runs QEMU', async () => {
    const vm = startVm({ image: missingImage, accelerator: 'tcg', qemuBinary: 'qemu-system-nx-unikernel-missing' });

    const exit = await vm.stop();

    expect(exit).toMatchObject({ kind: 'stopped', reason: 'stop() was called', qemuStatus: null });
    await expect(vm.ready).rejects.toMatchObject({ code: 'exited-before-ready' });
  });

  it('taken host port rejects before QEMU starts', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const vm = startVm({ image: missingImage, accelerator: 'tcg', qemuBinary: 'qemu-system-nx-unikernel-missing', ports: [`${port}:8080`] });

      await expect(vm.exited).rejects.toMatchObject({ code: 'port-in-use' });
      await expect(vm.ready).rejects.toThrow(`host port ${port}/tcp is already in use on 127.0.0.1`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it.skipIf(!hasQemu)('missing image is a QEMU start failure', async () => {
    const vm = startVm({ image: missingImage, accelerator: 'tcg', memory: '64M', readiness: false });
    const stderr: string[] = [];
    vm.on('stderr', (line) => stderr.push(line));

    const exit = await vm.exited;

    expect(exit).toMatchObject({ kind: 'vm-failure', qemuStatus: 1 });
    expect(exit.message).toMatch(/^QEMU failed to start: qemu-system-x86_64: -drive .*Could not open/);
    expect(stderr.join('\n')).toContain('Could not open');
    expect(vm.stderr).toContain('Could not open');
  });

  it.skipIf(!hasQemu)('runVm rejects a QEMU failure with its stderr', async () => {
    const error = await runVm({ image: missingImage, accelerator: 'tcg', memory: '64M' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(QemuError);
    expect((error as QemuError).code).toBe('vm-failure');
    expect((error as QemuError).stderr).toContain('Could not open');
    expect((error as QemuError).exit).toMatchObject({ kind: 'vm-failure', qemuStatus: 1 });
  });
});

/** Returns whether `pid` is running and not a zombie, from Linux /proc. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('QEMU after the parent exits', () => {
  // A shell script replaces QEMU. It writes its PID and then becomes a long
  // sleep, so the test needs neither QEMU nor an image.
  it.each([
    ['process.exit()', 'process.exit(0)'],
    ['an uncaught exception', "throw new Error('parent failed on purpose')"],
    // No code runs in a process killed with SIGKILL, so only the parent-death signal that setpriv sets can end QEMU.
    ['SIGKILL of the parent', "process.kill(process.pid, 'SIGKILL')"],
  ])('%s terminates QEMU', async (_, ending) => {
    const dir = await mkdtemp(join(tmpdir(), 'nx-unikernel-exit-'));
    const pidFile = join(dir, 'qemu.pid');
    let qemuPid: number | undefined;
    try {
      const fakeQemu = join(dir, 'fake-qemu');
      await writeFile(fakeQemu, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 120\n`);
      await chmod(fakeQemu, 0o755);
      const runner = await compileRunner(dir);
      const script = join(dir, 'parent.js');
      await writeFile(
        script,
        `const { existsSync } = require('node:fs');
const { startVm } = require(${JSON.stringify(runner)});
startVm({ image: 'unused.img', accelerator: 'tcg', qemuBinary: ${JSON.stringify(fakeQemu)}, readiness: false, handleSignals: false });
const timer = setInterval(() => {
  if (!existsSync(${JSON.stringify(pidFile)})) return;
  clearInterval(timer);
  ${ending};
}, 20);
`,
      );

      await promisify(execFile)(process.execPath, [script], { timeout: 20_000 }).catch(() => {});

      expect(existsSync(pidFile)).toBe(true);
      qemuPid = Number(readFileSync(pidFile, 'utf8'));
      await expect.poll(() => isRunning(qemuPid!), { timeout: 5000, interval: 50 }).toBe(false);
    } finally {
      if (qemuPid !== undefined && isRunning(qemuPid)) process.kill(qemuPid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('QEMU start through setpriv', () => {
  // A setpriv from util-linux before 2.33 rejects --pdeathsig with getopt's
  // message and status 1. That release is not installable here, so a script
  // on PATH prints its message, and a shell script replaces QEMU.
  it('setpriv without --pdeathsig falls back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nx-unikernel-setpriv-'));
    try {
      const bin = join(dir, 'bin');
      await mkdir(bin);
      await writeFile(join(bin, 'setpriv'), "#!/bin/sh\necho \"setpriv: unrecognized option '--pdeathsig'\" >&2\necho \"Try 'setpriv --help' for more information.\" >&2\nexit 1\n");
      await chmod(join(bin, 'setpriv'), 0o755);
      const fakeQemu = join(dir, 'fake-qemu');
      await writeFile(fakeQemu, '#!/bin/sh\necho "guest line"\necho "qemu warning" >&2\nexit 0\n');
      await chmod(fakeQemu, 0o755);
      const runner = await compileRunner(dir);
      const script = join(dir, 'parent.js');
      await writeFile(
        script,
        `const { startVm } = require(${JSON.stringify(runner)});
const vm = startVm({ image: 'unused.img', accelerator: 'tcg', qemuBinary: ${JSON.stringify(fakeQemu)}, readiness: false, handleSignals: false });
const seen = { serial: [], stderr: [] };
vm.on('serial', (line) => seen.serial.push(line));
vm.on('stderr', (line) => seen.stderr.push(line));
vm.exited.then((exit) => console.log(JSON.stringify({ ...seen, notes: vm.notes, kind: exit.kind })));
`,
      );

      const { stdout } = await promisify(execFile)(process.execPath, [script], {
        timeout: 20_000,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
      });
      const seen = JSON.parse(stdout) as { serial: string[]; stderr: string[]; notes: string[]; kind: string };

      expect(seen.serial).toEqual(['guest line']);
      // setpriv's own lines are not QEMU's stderr.
      expect(seen.stderr).toEqual(['qemu warning']);
      expect(seen.notes).toContain(
        "setpriv does not support --pdeathsig (setpriv: unrecognized option '--pdeathsig'), so QEMU starts without it and outlives this process if it is killed with SIGKILL",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('LineQueue', () => {
  it('buffers lines until read and then ends', async () => {
    const queue = new LineQueue();
    queue.push('a');
    queue.push('b');
    setTimeout(() => {
      queue.push('c');
      queue.end();
      queue.push('ignored');
    }, 10);

    const lines: string[] = [];
    for await (const line of queue) lines.push(line);

    expect(lines).toEqual(['a', 'b', 'c']);
  });

  it('early loop exit ends the queue', async () => {
    const queue = new LineQueue();
    queue.push('a');
    queue.push('b');

    for await (const line of queue) {
      expect(line).toBe('a');
      break;
    }

    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });
});

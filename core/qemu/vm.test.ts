// VM lifecycle cases that need no Nanos image: start errors, QEMU's own
// failures and stopping before QEMU starts.

import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

import { describe, expect, it } from 'vitest';

import { QemuError } from './errors';
import { LineQueue } from './line-queue';
import { runVm } from './run-vm';
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
    expect(() => startVm({ image: missingImage, accelerator: 'tcg', ports: ['8080:0'] })).toThrow('invalid port "8080:0": 0 is outside 1..65535');
    expect(() => startVm({ image: missingImage, accelerator: 'tcg', memory: 'lots' })).toThrow(QemuError);
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

// `nx-unikernel run`: boot an image (or build one from a program first) in
// QEMU, forward its ports, report when it serves, and exit as the program did.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import type { ResolvedUnikernelConfig } from '../config';
import type { VmExit } from '../qemu';
import type { ConfigCliOptions } from './config-options';
import { createLog, type LogLine } from './log';
import { addConfigOptions, reportFailure } from './shared-options';

interface RunOptions extends ConfigCliOptions {
  bind?: string;
  readyPath?: string;
  readyTimeout?: string;
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('boot a Nanos image in QEMU (building it first when given a program) and exit with the program\'s exit code')
    .argument('[target]', 'an image file, or an ELF program to build an image of first')
    .option('--bind <address>', 'host address the forwarded ports listen on (default 127.0.0.1)')
    .option('--ready-path <path>', 'HTTP path that must answer before the guest counts as ready, e.g. /health')
    .option('--ready-timeout <seconds>', 'how long to wait for the forwarded ports to answer');
  addConfigOptions(command);
  return command.action(async (target: string | undefined, options: RunOptions) => {
    process.exitCode = await runRun(target, options);
  });
}

async function runRun(target: string | undefined, options: RunOptions): Promise<number> {
  const log = createLog('run');
  try {
    const isImage = target !== undefined && !looksLikeElf(target);
    // Required here, not at the top, so other commands start without loading them.
    const { loadCliConfig } = require('./config-options') as typeof import('./config-options');
    const config = loadCliConfig(isImage ? undefined : target, options, log);
    const image = isImage ? path.resolve(target) : await buildTemporaryImage(config, log);
    const exit = await boot(image, config, options, log);
    return exitStatus(exit, log);
  } catch (error) {
    return reportFailure(log, error);
  }
}

function looksLikeElf(file: string): boolean {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

async function buildTemporaryImage(config: ResolvedUnikernelConfig, log: LogLine): Promise<string> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'nx-unikernel-run-'));
  const output = path.join(folder, `${path.basename(config.program?.imagePath ?? 'program')}.img`);
  const { buildImage } = require('../build') as typeof import('../build');
  await buildImage({ config, output, log });
  return output;
}

async function boot(image: string, config: ResolvedUnikernelConfig, options: RunOptions, log: LogLine): Promise<VmExit> {
  const guest = createLog('guest', process.stdout);
  const bindAddress = options.bind ?? config.bindAddress;
  const httpPath = options.readyPath ?? config.readiness?.httpPath;
  const timeoutSeconds = options.readyTimeout !== undefined ? Number(options.readyTimeout) : config.readiness?.timeoutSeconds ?? 30;
  const { startVm } = require('../qemu') as typeof import('../qemu');

  const vm = startVm({
    image,
    memory: `${Math.ceil(config.memoryBytes / (1024 * 1024))}M`,
    cpus: config.cpus,
    accelerator: config.accelerator,
    ports: config.ports,
    bindAddress,
    readiness: config.ports.some((port) => port.protocol === 'tcp')
      ? { timeoutMs: timeoutSeconds * 1000, ...(httpPath !== undefined ? { http: { path: httpPath } } : {}) }
      : false,
  });
  vm.on('serial', (line) => guest(line));
  vm.on('note', (message) => log(message));

  vm.ready.then(
    (ready) => {
      const urls = ready.ports.map((port) => `http://${bindAddress}:${port.hostPort}/ (guest ${port.guestPort}, ${port.evidence})`);
      log(`ready in ${ready.readyMs} ms under ${ready.accelerator}${urls.length > 0 ? `: ${urls.join(', ')}` : ''}`);
    },
    (error: Error) => log(`not ready: ${error.message}`),
  );
  return vm.exited;
}

function exitStatus(exit: VmExit, log: LogLine): number {
  if (exit.kind === 'program-exit') {
    log(`program exited with ${exit.exitCode}`);
    return exit.exitCode;
  }
  log(exit.kind === 'stopped' ? `stopped: ${exit.reason}` : `error: ${exit.message}`);
  return exit.kind === 'stopped' ? 130 : 2;
}

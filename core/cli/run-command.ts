// `nx-unikernel run`: boot an image (or build one from a program first) in
// QEMU, forward its ports, report when it serves, and exit as the program did.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import type { ResolvedUnikernelConfig } from '../config';
import type { Vm, VmExit } from '../qemu';
import { readPartitionTable, selectPartitions, type PartitionEntry } from '../nanos/mbr';
import { SECTOR_SIZE, TFS_MAGIC } from '../nanos/tfs-log';
import { MAX_TIMER_DELAY_SECONDS } from '../qemu/timer-limit';
import type { ConfigCliOptions } from './config-options';
import { createLog, type LogLine } from './log';
import { createRunFolder } from './run-folders';
import { runSettingsFromCommandLine, type RunSettings } from './run-settings';
import { addConfigOptions, CliInputError, reportFailure } from './shared-options';

interface RunOptions extends ConfigCliOptions {
  readyPath?: string;
  readyTimeout?: string;
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('boot a Nanos image in QEMU (building it first when given a program) and exit with the program\'s exit code')
    .argument('[target]', 'an image file, or an ELF program to build an image of first')
    .option('--bind <address>', 'host address the forwarded ports listen on (default 127.0.0.1)')
    .option('--ready-path <path>', 'HTTP path that must answer before the guest counts as ready, e.g. /health')
    .option('--ready-timeout <seconds>', 'how long to wait for the forwarded TCP ports to answer, in seconds; the VM is stopped after it (default 30)');
  addConfigOptions(command);
  return command.action(async (target: string | undefined, options: RunOptions, self: Command) => {
    process.exitCode = await runRun(target, options, self);
  });
}

/**
 * Options that only shape the image (`options` keys). A built image already
 * contains its program, arguments, environment, files and kernel, so `run`
 * with an image cannot apply them.
 */
const BUILD_ONLY_OPTIONS: ReadonlySet<string> = new Set([
  'args',
  'env',
  'file',
  'dir',
  'klib',
  'libraryPath',
  'sysroot',
  'kernelDir',
  'nanosVersion',
  'imageSize',
  'freeSpace',
]);

/** Throws CliInputError naming every build-only option given on the command line with an image. */
function rejectBuildOptions(command: Command, image: string): void {
  const givenOptions = command.options
    .filter((option) => BUILD_ONLY_OPTIONS.has(option.attributeName()) && command.getOptionValueSource(option.attributeName()) === 'cli')
    .map((option) => (option.short === undefined ? option.long : `${option.short}/${option.long}`));
  if (givenOptions.length === 0) return;

  const names = givenOptions.join(', ');
  throw new CliInputError(
    `${names} cannot change ${image}, which is an image that is already built. These options apply when run is given a program, or to nx-unikernel build: remove them, or rebuild the image with them.`,
  );
}

async function runRun(target: string | undefined, options: RunOptions, command: Command): Promise<number> {
  const log = createLog('run');
  let temporaryFolder: string | undefined;
  try {
    checkReadinessOptions(options);
    const kind = target === undefined ? 'none' : fileKind(target);
    let image: string;
    let settings: RunSettings;
    if (kind === 'image') {
      rejectBuildOptions(command, target as string);
      image = path.resolve(target as string);
      settings = (options.config === undefined ? runSettingsFromCommandLine(options) : undefined) ?? (await loadConfig(undefined, options, log));
      checkReadyPathHasPort(settings, options);
    } else {
      const config = await loadConfig(target, options, log);
      checkReadyPathHasPort(config, options);
      temporaryFolder = createRunFolder(log);
      image = await buildTemporaryImage(config, temporaryFolder, log);
      settings = config;
    }
    const outcome = await boot(image, settings, options, log);
    return exitStatus(outcome, log);
  } catch (error) {
    return reportFailure(log, error);
  } finally {
    if (temporaryFolder !== undefined) fs.rmSync(temporaryFolder, { recursive: true, force: true });
  }
}

/** Reads the config file, if any, with the command-line values laid over it. */
async function loadConfig(program: string | undefined, options: RunOptions, log: LogLine): Promise<ResolvedUnikernelConfig> {
  // Imported here, not at the top: the config schema takes Node tens of ms to load, which `run IMAGE` mostly skips.
  const { loadCliConfig } = await import('./config-options.js');
  return loadCliConfig(program, options, log);
}

/** Rejects an HTTP readiness path when no TCP port is forwarded, because the check would have nowhere to send it. */
function checkReadyPathHasPort(settings: RunSettings, options: RunOptions): void {
  if (settings.ports.some((port) => port.protocol === 'tcp')) return;
  if (options.readyPath !== undefined) {
    throw new CliInputError(`--ready-path ${options.readyPath} needs a forwarded TCP port to send its request to: forward one with -p, e.g. -p 8080`);
  }
  const httpPath = settings.readiness?.httpPath;
  if (httpPath !== undefined) {
    throw new CliInputError(`readiness.httpPath "${httpPath}" of ${settings.source} needs a forwarded TCP port to send its request to: add one to "ports" or forward one with -p, e.g. -p 8080`);
  }
}

/** Rejects --ready-timeout and --ready-path values that the readiness check cannot use. */
function checkReadinessOptions(options: RunOptions): void {
  const timeout = options.readyTimeout;
  if (timeout !== undefined && (!/^\d+(\.\d+)?$/.test(timeout.trim()) || !(Number(timeout) > 0))) {
    throw new CliInputError(`invalid --ready-timeout "${timeout}": give a positive number of seconds, e.g. --ready-timeout 30`);
  }
  if (timeout !== undefined && Number(timeout) > MAX_TIMER_DELAY_SECONDS) {
    throw new CliInputError(
      `invalid --ready-timeout "${timeout}": it is above ${MAX_TIMER_DELAY_SECONDS} seconds (about 24.8 days), the longest delay a Node.js timer supports; give a smaller number of seconds, e.g. --ready-timeout 30`,
    );
  }
  const readyPath = options.readyPath;
  if (readyPath !== undefined && !/^\/\S*$/.test(readyPath)) {
    throw new CliInputError(`invalid --ready-path "${readyPath}": give an HTTP path that starts with "/" and has no spaces, e.g. --ready-path /health`);
  }
}

/**
 * Tells an ELF program from a Nanos disk image before anything is started:
 * an image has the MBR boot signature 0x55AA at byte 510, and its root
 * filesystem partition starts with the TFS magic inside the file.
 * Other files are rejected with a clear error.
 */
function fileKind(file: string): 'elf' | 'image' {
  let head: Buffer;
  let fd: number;
  let size: number;
  try {
    const stat = fs.statSync(file);
    size = stat.size;
    if (!stat.isFile()) throw new CliInputError(`${file} is not a regular file: give an image written by nx-unikernel build, or an ELF program`);
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if (error instanceof CliInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new CliInputError(`cannot read ${file} (${code}): give an existing image or ELF program`);
  }

  try {
    head = readAt(fd, 0, SECTOR_SIZE);
    if (head.subarray(0, 4).equals(ELF_MAGIC)) return 'elf';
    const partitions = readPartitionTable(head);
    if (partitions === undefined) {
      throw new CliInputError(`${file} is neither a Linux ELF program nor a Nanos disk image (no MBR boot signature): give an image written by nx-unikernel build, or the program to build one from`);
    }
    // QEMU would boot such a disk, and then wait forever for a kernel that is
    // not there, or show the loader's disk errors as the program's output.
    checkRootFilesystem(file, fd, partitions, size);
    return 'image';
  } finally {
    fs.closeSync(fd);
  }
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * Throws CliInputError unless the root filesystem partition, chosen as the
 * image reader chooses it (selectPartitions), starts inside the file with the
 * TFS magic.
 */
function checkRootFilesystem(file: string, fd: number, partitions: readonly PartitionEntry[], size: number): void {
  if (partitions.length === 0) {
    throw new CliInputError(`${file} has an MBR boot signature but no partitions, so it is not a Nanos image: give an image written by nx-unikernel build`);
  }
  const root = selectPartitions(partitions).rootfs;
  if (root === undefined || root.firstSector === 0) {
    throw new CliInputError(`${file} has an MBR partition table without a root filesystem entry, so it is not a Nanos image: give an image written by nx-unikernel build`);
  }
  const rootOffset = root.firstSector * SECTOR_SIZE;
  if (rootOffset >= size) {
    throw new CliInputError(`${file} is truncated: its root filesystem starts at byte ${rootOffset}, past the end of the ${size}-byte file. Build the image again with nx-unikernel build`);
  }
  if (!readAt(fd, rootOffset, TFS_MAGIC.length).equals(TFS_MAGIC)) {
    throw new CliInputError(`${file} has no Nanos TFS filesystem at byte ${rootOffset}, where its root partition starts, so it is not a Nanos image or it is damaged: give an image written by nx-unikernel build`);
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const bytesRead = fs.readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** Builds the image into `folder`, which the caller removes after the run. */
async function buildTemporaryImage(config: ResolvedUnikernelConfig, folder: string, log: LogLine): Promise<string> {
  const output = path.join(folder, `${path.basename(config.program?.imagePath ?? 'program')}.img`);
  const { buildImage } = await import('../build/index.js');
  await buildImage({ config, output, log });
  return output;
}

/** The end of a run: the VM's exit, and whether the runner stopped the VM because the guest was not ready. */
interface RunOutcome {
  exit: VmExit;
  notReady: boolean;
  image: string;
  serialLog: string[];
}

async function boot(image: string, config: RunSettings, options: RunOptions, log: LogLine): Promise<RunOutcome> {
  const guest = createLog('guest', process.stdout);
  const bindAddress = options.bind ?? config.bindAddress;
  const httpPath = options.readyPath ?? config.readiness?.httpPath;
  const timeoutSeconds = options.readyTimeout !== undefined ? Number(options.readyTimeout) : config.readiness?.timeoutSeconds ?? 30;
  const { startVm } = await import('../qemu/index.js');

  // The runner probes each TCP forward at its own host address, or at the bind address (127.0.0.1 for 0.0.0.0).
  const probed = config.ports.filter((port) => port.protocol === 'tcp');
  // A URL to open: a forward that listens on every address (0.0.0.0) is reached at 127.0.0.1.
  const hostAddressOf = (hostPort: number) => {
    const address = config.ports.find((port) => port.protocol === 'tcp' && port.hostPort === hostPort)?.hostAddress ?? bindAddress;
    return address === '0.0.0.0' ? '127.0.0.1' : address;
  };

  const vm = startVm({
    image,
    memory: `${Math.ceil(config.memoryBytes / (1024 * 1024))}M`,
    cpus: config.cpus,
    accelerator: config.accelerator,
    ports: config.ports,
    bindAddress,
    readiness: probed.length > 0
      ? { guestPorts: probed.map((port) => port.guestPort), timeoutMs: timeoutSeconds * 1000, ...(httpPath !== undefined ? { http: { path: httpPath } } : {}) }
      : false,
  });
  const serialLog = collectSerialLog(vm);
  vm.on('serial', (line) => guest(line));
  vm.on('note', (message) => log(message));

  let notReady = false;
  vm.ready.then(
    (ready) => {
      if (ready.firstOutput !== undefined) {
        log(`ready in ${ready.readyMs} ms under ${ready.accelerator}: the program started (first output ${JSON.stringify(ready.firstOutput)})`);
        return;
      }
      const urls = ready.ports.map((port) => `http://${hostAddressOf(port.hostPort)}:${port.hostPort}/ (guest ${port.guestPort}, ${port.evidence})`);
      log(`ready in ${ready.readyMs} ms under ${ready.accelerator}: ${urls.join(', ')}`);
    },
    (error: Error & { code?: string }) => {
      // Only the readiness timeout is handled here: an exit before readiness
      // and a start failure are reported with the exit.
      if (error.code !== 'not-ready') return;
      notReady = true;
      log(`error: not ready, so the VM is stopped: ${error.message}${formatSerialTail(vm.serialTail)}`);
      void vm.stop({ reason: `the guest was not ready within ${timeoutSeconds} s` });
    },
  );
  const exit = await vm.exited;
  return { exit, notReady, image, serialLog };
}

const SERIAL_LOG_MAX_LINES = 10_000;

/** Keeps the guest console output, so that a kernel failure can point to it in a file. */
function collectSerialLog(vm: Vm): string[] {
  const lines: string[] = [];
  vm.on('serial', (line) => {
    lines.push(line);
    if (lines.length > SERIAL_LOG_MAX_LINES) lines.shift();
  });
  return lines;
}

/** Formats the serial lines received so far; the guest may still print more after this moment. */
function formatSerialTail(tail: readonly string[]): string {
  return tail.length === 0 ? ' (the guest had printed nothing by then)' : `\nlast serial lines:\n${tail.slice(-10).join('\n')}`;
}

/** Writes the guest console output to a file in the temp folder and returns its path. */
function writeSerialLog(image: string, lines: readonly string[]): string {
  const file = path.join(os.tmpdir(), `nx-unikernel-${path.basename(image)}-${process.pid}.serial.log`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * Logs how the run ended and returns the exit status. That is the program's
 * exit code, or 128 plus the signal number when a signal ended the program
 * in the guest. It is 130 when a signal stopped the VM, and 2 when the VM
 * failed or was not ready.
 */
function exitStatus(outcome: RunOutcome, log: LogLine): number {
  const { exit } = outcome;
  if (exit.kind === 'program-exit') {
    if (exit.killedBySignal !== undefined) {
      // As a shell reports a process that a signal ended.
      log(`${exit.message}; exit status ${128 + exit.killedBySignal}`);
      return 128 + exit.killedBySignal;
    }
    log(`program exited with ${exit.exitCode}`);
    return exit.exitCode;
  }
  if (outcome.notReady) return 2;
  if (exit.kind === 'stopped') {
    log(`stopped: ${exit.reason}`);
    return 130;
  }
  if (exit.kernelMessage !== undefined) {
    log(`error: ${exit.message}; serial log: ${writeSerialLog(outcome.image, outcome.serialLog)}`);
    return 2;
  }
  log(`error: ${exit.message}`);
  return 2;
}

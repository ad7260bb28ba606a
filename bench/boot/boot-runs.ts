// One measured boot: either `nx-unikernel run` or a bare QEMU process, each on
// a fresh copy of the image, from spawn to the first HTTP 200 on the forwarded
// port. The VM is stopped before the function returns.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import type { QemuCommand } from '../../core/qemu';
import { pollUntilOk, type PollOptions } from './http-poll';

export interface BootTiming {
  /** Spawn to the first HTTP 200 seen by the benchmark's own poller, in ms. */
  firstOkMs: number;
  /** Spawn to the first line of the guest serial console, in ms. */
  firstSerialMs: number | undefined;
  /** Tool runs only: spawn to the moment the tool printed its "ready in N ms" line, in ms. */
  readyLineMs?: number;
  /** Tool runs only: whether the tool's QEMU argument vector equals the bare command built for the same image and port. */
  sameCommand?: boolean;
  /** Poll requests given up after their timeout. */
  timeouts: number;
}

export type PollSettings = Omit<PollOptions, 'port' | 'startedAt' | 'guestNetworkUp'>;

const GUEST_PREFIX = '[nx-unikernel guest] ';
const READY_LINE = /^\[nx-unikernel run\] ready in \d+ ms/;
/** The line Nanos prints when DHCP has given it an address, such as "en1: assigned 10.0.2.15" (the pattern of core/qemu/vm.ts). */
const NETWORK_UP_LINE = /: assigned \d+\.\d+\.\d+\.\d+/;
const STOP_TIMEOUT_MS = 15_000;

/**
 * Boots `image` with `node CLI run COPY -p PORT:8080 --accel tcg`. This is
 * what the installed `nx-unikernel` bin runs, because the npm bin shim starts
 * Node on dist/bin/nx-unikernel.js.
 */
export async function measureTool(cli: string, image: string, copy: string, port: number, expected: QemuCommand, poll: PollSettings, env: NodeJS.ProcessEnv): Promise<BootTiming> {
  prepareCopy(image, copy);
  try {
    const startedAt = performance.now();
    const child = spawn(process.execPath, [cli, 'run', copy, '-p', `${port}:8080`, '--accel', 'tcg'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let firstSerialMs: number | undefined;
    let readyLineMs: number | undefined;
    let networkUp = false;
    const output: string[] = [];
    readLines(child, (line) => {
      output.push(line);
      if (firstSerialMs === undefined && line.startsWith(GUEST_PREFIX)) firstSerialMs = performance.now() - startedAt;
      if (line.startsWith(GUEST_PREFIX) && NETWORK_UP_LINE.test(line)) networkUp = true;
      if (readyLineMs === undefined && READY_LINE.test(line)) readyLineMs = performance.now() - startedAt;
    });

    try {
      const { firstOkMs, timeouts } = await pollUntilOk({ ...poll, port, startedAt, guestNetworkUp: () => networkUp });
      const sameCommand = compareCommand(child, expected);
      // The tool's ready line usually follows the first 200; give it a moment so the record is complete.
      await waitFor(() => readyLineMs !== undefined, 3000);
      return { firstOkMs, firstSerialMs, readyLineMs, sameCommand, timeouts };
    } catch (error) {
      throw new Error(`${(error as Error).message}\ntool output:\n${output.slice(-20).join('\n')}`);
    } finally {
      await stop(child, childPids(child.pid));
    }
  } finally {
    rmSync(copy, { force: true });
  }
}

/**
 * Copies the image and waits for the copy's writeback (sync(1)), so that no
 * boot shares the disk with the writeback of its own 80 MB copy. In runs
 * without it, the bare boots of the C example fell into two groups, near
 * 370 ms and near 450 ms. With it, 8 of 9 took 369 to 430 ms.
 */
function prepareCopy(image: string, copy: string): void {
  copyFileSync(image, copy);
  spawnSync('sync');
}

/** Boots `command` (built for `copy`) directly with QEMU, or through `nodeFloorCommand`. */
export async function measureBare(image: string, copy: string, command: QemuCommand, poll: PollSettings & { port: number }, env: NodeJS.ProcessEnv = process.env): Promise<BootTiming> {
  prepareCopy(image, copy);
  try {
    const startedAt = performance.now();
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let firstSerialMs: number | undefined;
    let networkUp = false;
    const output: string[] = [];
    readLines(child, (line) => {
      output.push(line);
      firstSerialMs ??= performance.now() - startedAt;
      if (NETWORK_UP_LINE.test(line)) networkUp = true;
    });

    try {
      const { firstOkMs, timeouts } = await pollUntilOk({ ...poll, startedAt, guestNetworkUp: () => networkUp });
      return { firstOkMs, firstSerialMs, timeouts };
    } catch (error) {
      throw new Error(`${(error as Error).message}\nQEMU output:\n${output.slice(-20).join('\n')}`);
    } finally {
      await stop(child, []);
    }
  } finally {
    rmSync(copy, { force: true });
  }
}

// A Node process that does nothing but start QEMU, pass SIGTERM on and exit
// with it: the least time any Node command line can add before QEMU runs.
const NODE_FLOOR_SCRIPT = `
const qemu = require('node:child_process').spawn(process.argv[1], process.argv.slice(2), { stdio: 'inherit' });
process.on('SIGTERM', () => qemu.kill('SIGTERM'));
qemu.on('exit', (code, signal) => process.exit(code ?? 1));
`;

/** Returns `command` started by a bare Node process (NODE_FLOOR_SCRIPT), for measureBare. */
export function nodeFloorCommand(command: QemuCommand): QemuCommand {
  return { ...command, file: process.execPath, args: ['-e', NODE_FLOOR_SCRIPT, command.file, ...command.args] };
}

function readLines(child: ChildProcess, onLine: (line: string) => void): void {
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', onLine);
  createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', onLine);
}

/** Compares the argument vector of the tool's QEMU child, read from /proc, with `expected`. */
function compareCommand(tool: ChildProcess, expected: QemuCommand): boolean | undefined {
  const [qemuPid] = childPids(tool.pid);
  if (qemuPid === undefined) return undefined;
  try {
    const argv = readFileSync(`/proc/${qemuPid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    return JSON.stringify(argv.slice(1)) === JSON.stringify(expected.args);
  } catch {
    return undefined;
  }
}

/** Returns the PIDs of the direct children of `pid` (Linux /proc). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Sends SIGTERM (the tool then stops its QEMU), waits for the exit, and kills
 * the process and `descendants` with SIGKILL after STOP_TIMEOUT_MS.
 */
async function stop(child: ChildProcess, descendants: readonly number[]): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
    for (const pid of descendants) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!condition() && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
}

// Benchmark: time from spawn to the first HTTP 200 on a forwarded port, for
// `nx-unikernel run IMAGE -p PORT:8080 --accel tcg` against a bare
// qemu-system-x86_64 process that boots the same image with the same command
// line, and against a Node process that only spawns that command (the node
// floor). The three kinds run in rotating order, each on a fresh copy of the
// image, and the medians and ratios are printed per example image.
//
// The bare command comes from buildQemuCommand with the values the CLI passes
// by default (2048M memory, 1 CPU, TCG, tcp PORT to guest 8080), and every
// tool run checks that its QEMU child has exactly that argument vector.
//
// Usage: node dist/bench/boot/run.js [--rounds N] [--no-node] [--cli PATH] [--keep-node-extra-ca-certs]
// --cli names another build's dist/bin/nx-unikernel.js to measure as the tool,
// for example one built from an earlier commit. Images are always built with
// this checkout's CLI.
// Needs NX_UNIKERNEL_NANOS_DIR (a Nanos release folder), qemu-system-x86_64,
// gcc and a built CLI (npm run build).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, cpus, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { buildQemuCommand, findFreePort, type QemuCommand } from '../../core/qemu';
import { measureBare, measureTool, nodeFloorCommand, type BootTiming, type PollSettings } from './boot-runs';

const REPO = resolve(__dirname, '..', '..', '..');
const BUILD_CLI = join(REPO, 'dist', 'bin', 'nx-unikernel.js');
const GUEST_PORT = 8080;
/** Memory and CPU count that `run` passes to startVm without a config (the config defaults 2G and 1). */
const CLI_MEMORY = '2048M';
const CLI_CPUS = 1;

// The 20 ms interval bounds the polling error; http-poll.ts explains the timeouts.
const POLL: PollSettings = { intervalMs: 20, stalledTimeoutMs: 500, replyTimeoutMs: 5000, maxInFlight: 3, deadlineMs: 120_000 };

interface ExampleImage {
  name: string;
  image: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '7' },
      'no-node': { type: 'boolean', default: false },
      cli: { type: 'string', default: BUILD_CLI },
      'keep-node-extra-ca-certs': { type: 'boolean', default: false },
    },
  });
  const toolCli = resolve(values.cli);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`invalid --rounds "${values.rounds}": use a whole number of at least 1`);

  const kernelDir = process.env.NX_UNIKERNEL_NANOS_DIR;
  if (!kernelDir || !existsSync(join(kernelDir, 'kernel.img'))) {
    throw new Error('NX_UNIKERNEL_NANOS_DIR is not set to a Nanos release folder with kernel.img and boot.img');
  }
  for (const cli of new Set([BUILD_CLI, toolCli])) {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: build the CLI first with npm run build`);
  }

  const work = mkdtempSync(join(tmpdir(), 'nx-unikernel-bench-boot-'));
  try {
    console.log(`bench/boot: ${rounds} rounds per image, ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${qemuVersion()}`);
    console.log(`tool: ${toolCli}`);
    console.log(`load average at start: ${formatLoad()}`);
    const env = nodeEnvironment(values['keep-node-extra-ca-certs']);
    const images = buildImages(work, kernelDir, !values['no-node']);
    for (const example of images) await compare(example, rounds, work, toolCli, env);
    console.log(`load average at end: ${formatLoad()}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds the C example (gcc) and, unless skipped, the Node example into images with the CLI. */
function buildImages(work: string, kernelDir: string, withNode: boolean): ExampleImage[] {
  const server = join(work, 'server');
  runOrThrow('gcc', ['-O2', '-o', server, join(REPO, 'examples', 'http-server', 'server.c')]);
  const images: ExampleImage[] = [];

  const cImage = join(work, 'http-server.img');
  runOrThrow(process.execPath, [BUILD_CLI, 'build', server, '--kernel-dir', kernelDir, '-o', cImage, '--args', String(GUEST_PORT)]);
  images.push({ name: 'C http-server', image: cImage });

  if (withNode) {
    const nodeImage = join(work, 'node-server.img');
    const script = join(REPO, 'examples', 'node-server', 'server.js');
    runOrThrow(process.execPath, [BUILD_CLI, 'build', '/usr/bin/node', '--kernel-dir', kernelDir, '-o', nodeImage, '--file', `${script}:/app/server.js`, '--args', '/app/server.js']);
    images.push({ name: 'Node node-server', image: nodeImage });
  }
  return images;
}

/**
 * Returns the environment of the Node processes. NODE_EXTRA_CA_CERTS makes Node read
 * and parse that certificate file before any script runs, and `run` makes no
 * TLS connection, so the variable is left out unless asked. The choice is
 * printed.
 */
function nodeEnvironment(keepExtraCaCerts: boolean): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (!keepExtraCaCerts && env['NODE_EXTRA_CA_CERTS'] !== undefined) {
    console.log(`environment: NODE_EXTRA_CA_CERTS=${env['NODE_EXTRA_CA_CERTS']} removed from the Node processes' environment (--keep-node-extra-ca-certs keeps it)`);
    delete env['NODE_EXTRA_CA_CERTS'];
  }
  return env;
}

const KINDS = ['tool', 'node', 'bare'] as const;

async function compare(example: ExampleImage, rounds: number, work: string, toolCli: string, env: NodeJS.ProcessEnv): Promise<void> {
  const timings: Record<(typeof KINDS)[number], BootTiming[]> = { tool: [], node: [], bare: [] };
  console.log(`\n${example.name} (${example.image})`);

  for (let round = 0; round < rounds; round += 1) {
    // Rotate the order, so no kind always meets a page cache or CPU state the previous one left.
    const order = KINDS.map((_, index) => KINDS[(index + round) % KINDS.length]!);
    for (const kind of order) {
      const copy = join(work, `boot-${kind}-${round}.img`);
      const port = await findFreePort();
      const command = bareCommand(copy, port);
      let timing: BootTiming;
      if (kind === 'tool') timing = await measureTool(toolCli, example.image, copy, port, command, POLL, env);
      else if (kind === 'node') timing = await measureBare(example.image, copy, nodeFloorCommand(command), { ...POLL, port }, env);
      else timing = await measureBare(example.image, copy, command, { ...POLL, port });
      timings[kind].push(timing);
      console.log(`  round ${round + 1} ${kind.padEnd(4)}: ${formatTiming(timing)}`);
    }
  }
  const { tool, node, bare } = timings;

  const toolMedian = median(tool.map((timing) => timing.firstOkMs));
  const bareMedian = median(bare.map((timing) => timing.firstOkMs));
  const serialGap = median(tool.map((timing) => timing.firstSerialMs ?? NaN)) - median(bare.map((timing) => timing.firstSerialMs ?? NaN));
  const readyLag = median(tool.map((timing) => (timing.readyLineMs ?? NaN) - timing.firstOkMs));
  const mismatches = tool.filter((timing) => timing.sameCommand !== true).length;

  console.log(`  tool median: ${toolMedian.toFixed(0)} ms to the first HTTP 200`);
  console.log(`  bare median: ${bareMedian.toFixed(0)} ms to the first HTTP 200`);
  console.log(`  ratio tool/bare: ${(toolMedian / bareMedian).toFixed(2)} (target at most 1.10)`);
  const nodeMedian = median(node.map((timing) => timing.firstOkMs));
  console.log(`  node floor median: ${nodeMedian.toFixed(0)} ms to the first HTTP 200 (a Node process that only spawns the bare command); ratio node/bare ${(nodeMedian / bareMedian).toFixed(2)}`);
  console.log(`  first serial line, median tool minus bare: ${serialGap.toFixed(0)} ms (about the time before QEMU starts)`);
  console.log(`  tool's ready line, median time after the first HTTP 200: ${readyLag.toFixed(0)} ms (readiness polling, not part of the ratio)`);
  console.log(`  tool QEMU command equal to the bare one: ${mismatches === 0 ? `yes, in all ${tool.length} runs` : `no, in ${mismatches} of ${tool.length} runs`}`);
}

function bareCommand(image: string, port: number): QemuCommand {
  return buildQemuCommand({
    image,
    accelerator: { accelerator: 'tcg', args: ['-accel', 'tcg'] },
    memory: CLI_MEMORY,
    cpus: CLI_CPUS,
    forwards: [{ protocol: 'tcp', hostPort: port, guestPort: GUEST_PORT }],
  });
}

function formatTiming(timing: BootTiming): string {
  const parts = [`first 200 at ${timing.firstOkMs.toFixed(0)} ms`, `first serial line at ${timing.firstSerialMs?.toFixed(0) ?? '?'} ms`];
  if (timing.readyLineMs !== undefined) parts.push(`tool's ready line at ${timing.readyLineMs.toFixed(0)} ms`);
  if (timing.timeouts > 0) parts.push(`${timing.timeouts} poll requests timed out`);
  if (timing.sameCommand === false) parts.push('QEMU command differs');
  return parts.join(', ');
}

function runOrThrow(file: string, args: string[]): void {
  const result = spawnSync(file, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} failed with status ${result.status}: ${result.stderr || result.error?.message}`);
}

function qemuVersion(): string {
  const result = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  return result.stdout?.split('\n')[0] ?? 'qemu-system-x86_64 not found';
}

function formatLoad(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

main().catch((error: unknown) => {
  console.error(`bench/boot: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});

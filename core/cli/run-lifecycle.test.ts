// How `nx-unikernel run` ends and what it leaves behind: a readiness timeout
// that fires while QEMU starts, SIGINT and SIGTERM, and SIGKILL of the CLI
// process. The built CLI runs in child processes on images of gcc-built
// programs, with the real Nanos kernel and QEMU under TCG. QEMU processes are
// found through /proc, so these tests run on Linux only.

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { constants } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { findFreePort } from '../qemu';
import { hasCommand, Lab } from '../resolve/test-support/lab';
import { removeStaleRunFolders } from './run-folders';
import { CLI, startRun as startBackgroundRun, type BackgroundRun } from './test-support/background-run';

const REPO = path.resolve(__dirname, '../..');
const KERNEL_DIR = process.env['NX_UNIKERNEL_NANOS_DIR'];
const skipReason = !KERNEL_DIR
  ? 'NX_UNIKERNEL_NANOS_DIR is not set (a Nanos release folder with kernel.img, boot.img and klibs/)'
  : !hasCommand('qemu-system-x86_64', ['--version'])
    ? 'qemu-system-x86_64 is not installed'
    : !fs.existsSync(CLI)
      ? 'the CLI is not built (npm run build)'
      : !fs.existsSync('/proc/self/cmdline')
        ? 'QEMU processes are found through /proc, which only Linux has'
        : undefined;
if (skipReason) console.warn(`skipping run lifecycle tests: ${skipReason}`);

const lab = Lab.create('nxu-run-lifecycle-');
afterAll(() => lab.remove());

/** Lists the QEMU processes whose arguments contain `image`, with their argument vectors, from /proc. */
function qemuProcessesOf(image: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').slice(0, -1);
    } catch {
      continue;
    }
    if (path.basename(argv[0] ?? '').startsWith('qemu-system') && argv.some((arg) => arg.includes(image))) found.push({ pid: Number(entry), argv });
  }
  return found;
}

/** Reads the parent process ID of `pid` from /proc/PID/stat. */
function parentPid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

const leftovers: string[] = [];
afterEach(() => {
  for (const image of leftovers.splice(0)) {
    for (const { pid } of qemuProcessesOf(image)) process.kill(pid, 'SIGKILL');
  }
});

function startRun(args: string[], pattern: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<BackgroundRun> {
  return startBackgroundRun(args, pattern, lab.dir, env);
}

describe('removeStaleRunFolders', () => {
  it('removes only folders of ended processes', () => {
    const tmp = lab.path('stale-tmp');
    fs.mkdirSync(tmp, { recursive: true });
    const ended = spawnSync(process.execPath, ['-e', '0']).pid;
    const names = [`nx-unikernel-run-${ended}-dead`, `nx-unikernel-run-${process.pid}-self`, 'nx-unikernel-run-1-init', 'nx-unikernel-run-oldstyle', 'other-folder'];
    for (const name of names) fs.mkdirSync(path.join(tmp, name, 'inner'), { recursive: true });
    const lines: string[] = [];

    const removed = removeStaleRunFolders((line) => lines.push(line), tmp);

    expect(removed).toEqual([path.join(tmp, `nx-unikernel-run-${ended}-dead`)]);
    expect(fs.readdirSync(tmp).sort()).toEqual(names.slice(1).sort());
    expect(lines).toEqual([`removed ${removed[0]}, the temporary folder of an earlier run (process ${ended}) that no longer runs`]);
  });
});

describe.skipIf(skipReason !== undefined)('run lifecycle', () => {
  const kernelArgs = ['--kernel-dir', KERNEL_DIR ?? ''];

  function buildServerImage(name: string): string {
    execFileSync('gcc', ['-O2', '-o', lab.path('server'), path.join(REPO, 'examples/http-server/server.c')]);
    execFileSync(process.execPath, [CLI, 'build', 'server', '-o', name, ...kernelArgs, '--args', '8080'], { cwd: lab.dir, stdio: 'pipe' });
    return lab.path(name);
  }

  it('readiness timeout during QEMU start stops QEMU', async () => {
    const image = buildServerImage('early-timeout.img');
    leftovers.push(image);
    const port = await findFreePort();

    // 1 ms expires while the runner prepares the klog area or starts QEMU,
    // before there is a QEMU process to signal.
    const run = spawnSync(process.execPath, [CLI, 'run', image, '-p', `${port}:8080`, '--accel', 'tcg', '--ready-timeout', '0.001'], {
      encoding: 'utf8',
      timeout: 60_000,
    });

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain(`error: not ready, so the VM is stopped: guest port 8080/tcp (host port ${port}) was not ready after 1 ms`);
    expect(run.stderr).toContain('(the guest had printed nothing by then)');
    expect(run.stderr).not.toContain('TimeoutOverflowWarning');
    expect(qemuProcessesOf(image)).toEqual([]);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s stops QEMU started through setpriv', async (signal, shellStatus) => {
    const image = buildServerImage(`signal-${signal}.img`);
    leftovers.push(image);
    const port = await findFreePort();
    const run = await startRun([image, '-p', `${port}:8080`, '--accel', 'tcg'], /ready in \d+ ms/);

    // setpriv execs QEMU, so the child of the CLI process is QEMU itself with its own argument vector.
    const [qemu, ...others] = qemuProcessesOf(image);
    expect(others).toEqual([]);
    expect(path.basename(qemu?.argv[0] ?? '')).toBe('qemu-system-x86_64');
    expect(parentPid(qemu?.pid ?? 0)).toBe(run.child.pid);

    run.child.kill(signal);
    const ended = await run.exited;

    // The CLI ends by its own signal after the VM stopped, which a shell shows as 128 + the signal number.
    const signalNumber = ended.signal === null ? 0 : constants.signals[ended.signal];
    const status = ended.code ?? 128 + signalNumber;
    expect(status, run.output()).toBe(shellStatus);
    expect(run.output()).not.toContain('error:');
    expect(qemuProcessesOf(image)).toEqual([]);
  });

  it('SIGKILL of run ends QEMU', async () => {
    const image = buildServerImage('orphan.img');
    leftovers.push(image);
    const port = await findFreePort();
    const run = await startRun([image, '-p', `${port}:8080`, '--accel', 'tcg'], /ready in \d+ ms/);
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    expect(qemuProcessesOf(image)).toHaveLength(1);

    run.child.kill('SIGKILL');
    await run.exited;

    await expect.poll(() => qemuProcessesOf(image), { timeout: 5000, interval: 100 }).toEqual([]);
  });

  it('next run removes the folder of a killed run', async () => {
    const tmp = lab.path('run-tmp');
    fs.mkdirSync(tmp, { recursive: true });
    const env = { ...process.env, TMPDIR: tmp };
    execFileSync('gcc', ['-O2', '-o', lab.path('server'), path.join(REPO, 'examples/http-server/server.c')]);
    lab.write('exit0.c', 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-o', lab.path('exit0'), lab.path('exit0.c')]);
    const port = await findFreePort();

    const killed = await startRun(['server', ...kernelArgs, '--args', '8080', '-p', `${port}:8080`, '--accel', 'tcg'], /ready in \d+ ms/, env);
    const folders = fs.readdirSync(tmp).filter((name) => name.startsWith('nx-unikernel-run-'));
    expect(folders).toEqual([expect.stringMatching(new RegExp(`^nx-unikernel-run-${killed.child.pid}-`))]);
    leftovers.push(path.join(tmp, folders[0] ?? ''));
    killed.child.kill('SIGKILL');
    await killed.exited;
    await expect.poll(() => qemuProcessesOf(path.join(tmp, folders[0] ?? '')), { timeout: 5000, interval: 100 }).toEqual([]);
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('nx-unikernel-run-'))).toEqual(folders);

    const next = spawnSync(process.execPath, [CLI, 'run', 'exit0', ...kernelArgs, '--accel', 'tcg'], { cwd: lab.dir, env, encoding: 'utf8', timeout: 120_000 });

    expect(next.status, next.stderr).toBe(0);
    expect(next.stderr).toContain(`removed ${path.join(tmp, folders[0] ?? '')}, the temporary folder of an earlier run (process ${killed.child.pid}) that no longer runs`);
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('nx-unikernel-run-'))).toEqual([]);
  });
});

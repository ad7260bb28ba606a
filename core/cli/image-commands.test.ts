// `build`, `run` and `inspect` as a user runs them: the built CLI in child
// processes, real programs built by gcc, the real Nanos kernel and QEMU.
// Boots need a kernel release folder in NX_UNIKERNEL_NANOS_DIR.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../qemu';
import { processesMatching } from '../qemu/test-support/nanos-boot';
import { hasCommand, Lab } from '../resolve/test-support/lab';
import { startRun as startBackgroundRun, type BackgroundRun } from './test-support/background-run';

const CLI = path.resolve(__dirname, '../../dist/bin/nx-unikernel.js');
const REPO = path.resolve(__dirname, '../..');
const KERNEL_DIR = process.env['NX_UNIKERNEL_NANOS_DIR'];
const hasQemu = hasCommand('qemu-system-x86_64', ['--version']);
const skipReason = !KERNEL_DIR
  ? 'NX_UNIKERNEL_NANOS_DIR is not set (a Nanos release folder with kernel.img, boot.img and klibs/)'
  : !hasQemu
    ? 'qemu-system-x86_64 is not installed'
    : !fs.existsSync(CLI)
      ? 'the CLI is not built (npm run build)'
      : undefined;
if (skipReason) console.warn(`skipping image boot tests: ${skipReason}`);

const lab = Lab.create('nxu-images-');
afterAll(() => lab.remove());

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: lab.dir, timeout: 180_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Runs `nx-unikernel run` in the background until `url` answers, returns the body, then stops it with SIGINT. */
async function fetchFromRun(args: string[], url: string, cwd = lab.dir): Promise<{ body: string; output: string; status: number | null }> {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  try {
    const deadline = Date.now() + 60_000;
    while (!output.includes('ready in') && Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`run exited early:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    const body = await response.text();
    child.kill('SIGINT');
    return { body, output, status: await exited };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

function startRun(args: string[], pattern: RegExp): Promise<BackgroundRun> {
  return startBackgroundRun(args, pattern, lab.dir);
}

describe.skipIf(!fs.existsSync(CLI))('run rejects invalid options', () => {
  const usage = Lab.create('nxu-run-usage-');
  afterAll(() => usage.remove());

  function runIn(dir: string, ...args: string[]): { status: number | null; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'run', ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    return { status: result.status, stderr: result.stderr };
  }

  it.each([
    [['--memory', '1K'], 'memory: "1K" is below the minimum of 16M that the Nanos kernel needs to boot: use "16M" or more'],
    [['--memory', '15M'], 'memory: "15M" is below the minimum of 16M'],
    [['--memory', '0'], 'memory: "0" is below the minimum of 16M that the Nanos kernel needs to boot: use "16M" or more'],
    [['--cpus', 'abc'], 'invalid --cpus "abc": give a whole number from 1 to 255, e.g. --cpus 2'],
    [['--cpus', '0'], 'cpus: 0 is invalid. Expected a whole number from 1 to 255'],
    [['--cpus', '9007199254740993'], 'invalid --cpus "9007199254740993": it is above 255, the maximum number of CPUs nx-unikernel gives a VM.'],
    [['--ready-timeout', '0'], 'invalid --ready-timeout "0": give a positive number of seconds, e.g. --ready-timeout 30'],
    [['--ready-timeout', 'soon'], 'invalid --ready-timeout "soon"'],
    [['--ready-timeout=-5'], 'invalid --ready-timeout "-5"'],
    [
      ['--ready-timeout', '99999999999'],
      'invalid --ready-timeout "99999999999": it is above 2147483.647 seconds (about 24.8 days), the longest delay a Node.js timer supports; give a smaller number of seconds',
    ],
    [['--ready-path', 'health'], 'invalid --ready-path "health": give an HTTP path that starts with "/" and has no spaces, e.g. --ready-path /health'],
    [['--ready-path', '/health'], '--ready-path /health needs a forwarded TCP port to send its request to: forward one with -p, e.g. -p 8080'],
    [['-c', 'missing.json'], 'missing.json: it does not exist. Give the path of a unikernel.json or an OPS config.json file.'],
    [['-c', '.'], ': it is a folder. Give the path of a unikernel.json or an OPS config.json file.'],
  ])('run %j exits 2', (args, message) => {
    usage.write('exit0.c', 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-o', usage.path('exit0'), usage.path('exit0.c')]);

    const run = runIn(usage.dir, 'exit0', ...args);

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('unikernel.json that is an array exits 2', () => {
    usage.write('exit0.c', 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-o', usage.path('exit0'), usage.path('exit0.c')]);
    usage.write('array.json', '[]');

    const run = runIn(usage.dir, 'exit0', '-c', 'array.json');

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain(`invalid config ${usage.path('array.json')}: its content is an array, but the config must be a JSON object`);
  });

  it('unikernel.json memory below minimum exits 2', () => {
    usage.write('exit0.c', 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-o', usage.path('exit0'), usage.path('exit0.c')]);
    usage.write('unikernel.json', JSON.stringify({ program: 'exit0', memory: '8M' }));

    const run = runIn(usage.dir, '-c', 'unikernel.json');

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain('memory: "8M" is below the minimum of 16M that the Nanos kernel needs to boot');
  });

  it('MBR without partitions exits 2', () => {
    // A boot signature and an empty partition table: QEMU would boot it and wait forever.
    const disk = Buffer.alloc(1024 * 1024);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    usage.write('other-disk.img', disk);

    const run = runIn(usage.dir, 'other-disk.img', '--accel', 'tcg');

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain('other-disk.img has an MBR boot signature but no partitions, so it is not a Nanos image');
  });
});

describe.skipIf(!fs.existsSync(CLI))('closed output', () => {
  it('a closed stdout pipe does not end ldd', async () => {
    // The read end is closed before the CLI writes, so every write fails with EPIPE.
    const child = spawn(process.execPath, [CLI, 'ldd', process.execPath, '--tree'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));

    expect(stderr).not.toContain('EPIPE');
    expect(status, stderr).toBe(0);
  });
});

describe.skipIf(!fs.existsSync(CLI))('build without a program', () => {
  const usage = Lab.create('nxu-build-usage-');
  afterAll(() => usage.remove());

  function buildIn(...args: string[]): { status: number | null; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'build', ...args], { encoding: 'utf8', cwd: usage.dir, timeout: 60_000 });
    return { status: result.status, stderr: result.stderr };
  }

  it('program after -a is named', () => {
    usage.write('exit0.c', 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-o', usage.path('exit0'), usage.path('exit0.c')]);

    const build = buildIn('-a', '5', './exit0');

    expect(build.status, build.stderr).toBe(2);
    expect(build.stderr).toContain('error: no program given: -a/--args takes every following word as a guest argument, so it took "5" "./exit0"');
    expect(build.stderr).toContain('"./exit0" is an existing file and looks like the program');
    expect(build.stderr).toContain('Put the program before -a (build ./server -a 5), or end the arguments with -- and put the program last (build -a 5 -- ./server).');
  });

  it('-a without any file word', () => {
    const build = buildIn('-a', '5', 'six');

    expect(build.status, build.stderr).toBe(2);
    expect(build.stderr).toContain('so it took "5" "six", and none of them is an existing file');
  });

  it('no program and no -a', () => {
    const build = buildIn('-o', 'x.img');

    expect(build.status, build.stderr).toBe(2);
    expect(build.stderr).toContain('error: no program found in command-line options: give the ELF file to run as the first argument, or set "program" in the config');
  });
});

describe.skipIf(skipReason !== undefined)('build, run and inspect on real programs', () => {
  const kernelArgs = ['--kernel-dir', KERNEL_DIR ?? ''];

  it('the example C web server answers through 127.0.0.1', async () => {
    const server = lab.path('server');
    execFileSync('gcc', ['-O2', '-o', server, path.join(REPO, 'examples/http-server/server.c')]);
    const port = await findFreePort();

    const build = cli('build', 'server', '-o', 'server.img', ...kernelArgs, '--args', String(port));
    expect(build.status, build.stderr).toBe(0);
    expect(fs.existsSync(lab.path('server.img.manifest.json'))).toBe(true);

    const run = await fetchFromRun(['server.img', '-p', String(port), '--accel', 'tcg'], `http://127.0.0.1:${port}/`);
    expect(run.body).toBe('hello from a unikernel!\n');
    expect(run.output).toContain(`listening on port ${port}`);
    expect(run.output).toMatch(/ready in \d+ ms under tcg/);
  });

  it('two builds of the same input are byte-identical', () => {
    const first = cli('build', 'server', '-o', 'again-1.img', ...kernelArgs);
    const second = cli('build', 'server', '-o', 'again-2.img', ...kernelArgs);
    expect(first.status, first.stderr).toBe(0);
    expect(second.status, second.stderr).toBe(0);
    expect(sha256(lab.path('again-1.img'))).toBe(sha256(lab.path('again-2.img')));
  });

  it('run rejects a truncated or damaged image', () => {
    const image = fs.readFileSync(lab.path('again-1.img'));
    const rootOffset = image.readUInt32LE(446 + 16 + 8) * 512;
    fs.writeFileSync(lab.path('truncated.img'), image.subarray(0, rootOffset - 512));
    const damaged = Buffer.from(image);
    damaged.fill(0, rootOffset, rootOffset + 4096);
    fs.writeFileSync(lab.path('damaged.img'), damaged);

    const truncated = cli('run', 'truncated.img', '--accel', 'tcg');
    const zeroed = cli('run', 'damaged.img', '--accel', 'tcg');

    expect(truncated.status, truncated.stderr).toBe(2);
    expect(truncated.stderr).toContain(`truncated.img is truncated: its root filesystem starts at byte ${rootOffset}, past the end of the ${rootOffset - 512}-byte file`);
    expect(zeroed.status, zeroed.stderr).toBe(2);
    expect(zeroed.stderr).toContain(`damaged.img has no Nanos TFS filesystem at byte ${rootOffset}, where its root partition starts`);
  });

  it('build rejects a FIFO as output', () => {
    const fifo = lab.path('image.fifo');
    execFileSync('mkfifo', [fifo]);

    const build = cli('build', 'server', '-o', fifo, ...kernelArgs);

    expect(build.status).toBe(2);
    expect(build.stderr).toMatch(/image\.fifo is not a regular file, and writing the image would replace it/);
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
  });

  it('SIGINT during a rebuild keeps the image', async () => {
    const big = lab.path('big.bin');
    const chunk = Buffer.alloc(1024 * 1024);
    const handle = fs.openSync(big, 'w');
    for (let index = 0; index < 120; index += 1) fs.writeSync(handle, chunk.fill(index));
    fs.closeSync(handle);
    const first = cli('build', 'server', '--file', `${big}:/big.bin`, '-o', 'interrupted.img', ...kernelArgs);
    expect(first.status, first.stderr).toBe(0);
    const before = sha256(lab.path('interrupted.img'));
    fs.writeFileSync(big, 'changed', { flag: 'r+' });

    const child = spawn(process.execPath, [CLI, 'build', 'server', '--file', `${big}:/big.bin`, '-o', 'interrupted.img', ...kernelArgs], { cwd: lab.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Interrupt once the writer has created its temporary file.
    const deadline = Date.now() + 30_000;
    while (!fs.readdirSync(lab.dir).some((name) => name.startsWith('interrupted.img.tmp-')) && child.exitCode === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill('SIGINT');

    expect(await exited, output).toBe(130);
    expect(output).toContain('SIGINT received: stopping and removing partial output');
    expect(sha256(lab.path('interrupted.img'))).toBe(before);
    expect(fs.readdirSync(lab.dir).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('inspect shows the program, the loader, libc and the manifest', () => {
    const output = cli('inspect', 'server.img');
    expect(output.status, output.stderr).toBe(0);
    expect(output.stdout).toContain('program: "/server"');
    expect(output.stdout).toContain('debug_exit: "t"');
    expect(output.stdout).toMatch(/^ {2}server \(\d+ bytes\)$/m);
    expect(output.stdout).toMatch(/^ {4}ld-linux-x86-64\.so\.2 \(\d+ bytes\)$/m);
    expect(output.stdout).toMatch(/^ {6}libc\.so\.6 \(\d+ bytes\)$/m);
  });

  it('build records the kernel folder\'s version', () => {
    lab.write('version.c', 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-o', lab.path('version'), lab.path('version.c')]);
    const releaseDir = lab.path('kernels/0.1.55');
    fs.mkdirSync(path.dirname(releaseDir), { recursive: true });
    fs.cpSync(KERNEL_DIR ?? '', releaseDir, { recursive: true });

    const build = spawnSync(process.execPath, [CLI, 'build', 'version', '-o', 'version.img', '--nanos-version', '0.1.54'], {
      encoding: 'utf8',
      cwd: lab.dir,
      env: { ...process.env, NX_UNIKERNEL_NANOS_DIR: releaseDir },
    });

    expect(build.status, build.stderr).toBe(0);
    expect(build.stderr).toContain(`kernel: Nanos 0.1.55 from ${releaseDir} (env)`);
    expect(build.stderr).toContain('warning: Nanos 0.1.54 was requested, but the release folder');
    expect(build.stderr).toContain('To boot 0.1.54, unset NX_UNIKERNEL_NANOS_DIR');
    const manifest = JSON.parse(fs.readFileSync(lab.path('version.img.manifest.json'), 'utf8')) as { kernelVersion?: string };
    expect(manifest.kernelVersion).toBe('0.1.55');
  });

  it('build names a missing interpreter', () => {
    fs.mkdirSync(lab.path('empty-root'), { recursive: true });

    const build = cli('build', 'server', '-o', 'no-loader.img', ...kernelArgs, '--sysroot', 'empty-root');

    expect(build.status, build.stderr).toBe(1);
    expect(build.stderr).toContain("the program's interpreter (PT_INTERP) /lib64/ld-linux-x86-64.so.2 is missing from the root");
    expect(build.stderr).toContain('fix: pass a root that contains /lib64/ld-linux-x86-64.so.2');
    expect(fs.existsSync(lab.path('no-loader.img'))).toBe(false);
  });

  it('run of an image rejects build options', () => {
    lab.write('extra.txt', 'extra\n');

    const run = cli('run', 'server.img', '-a', '1', '-e', 'A=1', '--file', 'extra.txt', '--library-path', '/opt/lib', '--accel', 'tcg');

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain('-a/--args, -e/--env, --file, --library-path cannot change server.img, which is an image that is already built.');
    expect(run.stderr).toContain('These options apply when run is given a program, or to nx-unikernel build');
    expect(run.stdout).toBe('');
  });

  it('-p ports add to the config ports', async () => {
    const configPort = await findFreePort();
    const cliPort = await findFreePort();
    const build = cli('build', 'server', '-o', 'ports.img', ...kernelArgs, '--args', '8080');
    expect(build.status, build.stderr).toBe(0);
    lab.write('ports.json', JSON.stringify({ ports: [`${configPort}:8080`] }));

    const run = await fetchFromRun(['ports.img', '-c', 'ports.json', '-p', `${cliPort}:8080`, '--accel', 'tcg'], `http://127.0.0.1:${configPort}/`);

    expect(run.body).toBe('hello from a unikernel!\n');
    expect(run.output).toContain(`http://127.0.0.1:${configPort}/ (guest 8080`);
    expect(run.output).toContain(`http://127.0.0.1:${cliPort}/ (guest 8080`);
  });

  it('-p conflicting with the config is rejected', () => {
    lab.write('conflict.json', JSON.stringify({ ports: ['18080:8080'] }));

    const run = cli('run', 'ports.img', '-c', 'conflict.json', '-p', '18080:81', '--accel', 'tcg');

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain(`-p "18080:81" forwards host port 18080/tcp to guest port 81, but port "18080:8080/tcp" of ${lab.path('conflict.json')} already forwards it to guest port 8080.`);
  });

  it('the machine\'s node runs a JavaScript server from the image', async () => {
    lab.copy(path.join(REPO, 'examples/node-server/server.js'), 'node-app/server.js');
    const port = await findFreePort();
    const node = fs.realpathSync(process.execPath);
    const build = cli('build', node, '-o', 'node.img', ...kernelArgs, '--file', 'node-app/server.js:/app/server.js', '--args', '/app/server.js', '--env', `PORT=${port}`);
    expect(build.status, build.stderr).toBe(0);

    const run = await fetchFromRun(['node.img', '-p', String(port), '--accel', 'tcg', '--memory', '1G'], `http://127.0.0.1:${port}/`);
    expect(run.body).toBe(`hello from node ${process.version} in a unikernel\n`);
  }, 180_000);

  it('run exits with the program\'s exit code', () => {
    lab.write('exit3.c', 'int main(void){return 3;}\n');
    execFileSync('gcc', ['-o', lab.path('exit3'), lab.path('exit3.c')]);
    const run = cli('run', 'exit3', ...kernelArgs, '--accel', 'tcg');
    expect(run.status, run.stderr).toBe(3);
    expect(run.stderr).toContain('program exited with 3');
  });

  it.each([128, 200, 255, 3])('run exits with code %i', (code) => {
    lab.write('exitn.c', '#include <stdlib.h>\nint main(int argc, char **argv){return atoi(argv[1]);}\n');
    execFileSync('gcc', ['-o', lab.path('exitn'), lab.path('exitn.c')]);

    const run = cli('run', 'exitn', ...kernelArgs, '--accel', 'tcg', '--args', String(code));

    expect(run.status, run.stderr).toBe(code);
    expect(run.stderr).toContain(`program exited with ${code}`);
  });

  it.each([
    ['SIGSEGV', 'int main(void){*(volatile int *)0 = 1; return 0;}\n', 11],
    ['SIGABRT', '#include <stdlib.h>\nint main(void){abort();}\n', 6],
  ])('run reports a program killed by %s', (name, source, signal) => {
    lab.write(`killed-${signal}.c`, source);
    execFileSync('gcc', ['-o', lab.path(`killed-${signal}`), lab.path(`killed-${signal}.c`)]);

    const run = cli('run', `killed-${signal}`, ...kernelArgs, '--accel', 'tcg');

    expect(run.status, run.stderr).toBe(128 + signal);
    expect(run.stderr).toContain(`program killed by signal ${signal} (${name}); exit status ${128 + signal}`);
  });

  it('exit code equal to a signal stays an exit', () => {
    lab.write('exitn.c', '#include <stdlib.h>\nint main(int argc, char **argv){return atoi(argv[1]);}\n');
    execFileSync('gcc', ['-o', lab.path('exitn'), lab.path('exitn.c')]);

    const run = cli('run', 'exitn', ...kernelArgs, '--accel', 'tcg', '--args', '11');

    expect(run.status, run.stderr).toBe(11);
    expect(run.stderr).toContain('program exited with 11');
  });

  it('kernel assertion ends run with an error', () => {
    lab.write('exitn.c', '#include <stdlib.h>\nint main(int argc, char **argv){return atoi(argv[1]);}\n');
    execFileSync('gcc', ['-o', lab.path('exitn'), lab.path('exitn.c')]);
    // 5000 program arguments make Nanos 0.1.55 fail an assertion, after which QEMU keeps running.
    const args = Array.from({ length: 5000 }, (_, index) => String(index));

    const run = cli('run', 'exitn', ...kernelArgs, '--accel', 'tcg', '--memory', '256M', '--args', ...args);

    expect(run.status, run.stderr).toBe(2);
    const error = /^\[nx-unikernel run\] error: the Nanos kernel stopped with a fatal error: "(assertion .+)"; serial log: (\S+)$/m.exec(run.stderr);
    expect(error, run.stderr).not.toBeNull();
    expect(error?.[1]).toContain('failed at');
    const serialLog = fs.readFileSync(error?.[2] ?? '', 'utf8');
    fs.rmSync(error?.[2] ?? '', { force: true });
    expect(serialLog).toContain(error?.[1]);
  });

  it('readiness timeout stops the VM', async () => {
    lab.write('sleeper.c', '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("sleeping\\n");fflush(stdout);sleep(600);return 0;}\n');
    execFileSync('gcc', ['-o', lab.path('sleeper'), lab.path('sleeper.c')]);
    const build = cli('build', 'sleeper', '-o', 'sleeper.img', ...kernelArgs);
    expect(build.status, build.stderr).toBe(0);
    const port = await findFreePort();

    const run = cli('run', 'sleeper.img', '-p', String(port), '--ready-timeout', '3', '--accel', 'tcg', '--memory', '256M');

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain(`error: not ready, so the VM is stopped: guest port ${port}/tcp (host port ${port}) was not ready after 3000 ms`);
    expect(run.stderr).toContain('last serial lines:');
    expect(run.stderr).toContain('sleeping');
    expect(processesMatching(lab.path('sleeper.img'))).toEqual([]);
  });

  it('address forward is probed there', async () => {
    // sleeper.img (above) prints a line and never listens, so it must time out
    // rather than count as ready on its first output.
    const port = await findFreePort();

    const run = cli('run', 'sleeper.img', '-p', `127.0.0.2:${port}:8080`, '--ready-timeout', '3', '--accel', 'tcg', '--memory', '256M');

    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).not.toMatch(/ready in \d+ ms/);
    expect(run.stderr).toContain(`error: not ready, so the VM is stopped: guest port 8080/tcp (host 127.0.0.2:${port}) was not ready after 3000 ms`);
  });

  it('second run of a busy image names the lock', async () => {
    const first = await startRun(['sleeper.img', '--accel', 'tcg', '--memory', '256M'], /ready in \d+ ms/);
    try {
      expect(first.output()).toMatch(/ready in \d+ ms under tcg: the program started \(first output "sleeping"\)/);

      const second = cli('run', 'sleeper.img', '--accel', 'tcg', '--memory', '256M');

      expect(second.status, second.stderr).toBe(2);
      expect(second.stderr).toContain(`${lab.path('sleeper.img')} is in use by another QEMU process`);
      expect(second.stderr).toContain('Stop the other run of this image, or run a copy of it');
      expect(second.stderr).not.toContain('qemu-system-x86_64: -device');
    } finally {
      first.child.kill('SIGINT');
      await first.exited;
    }
    expect(processesMatching(lab.path('sleeper.img'))).toEqual([]);
  });

  it('getaddrinfo resolves localhost in the guest', () => {
    lab.write('gai.c', [
      '#include <netdb.h>',
      '#include <stdio.h>',
      'int main(void) {',
      '  struct addrinfo *result;',
      '  int status = getaddrinfo("localhost", "80", 0, &result);',
      '  printf("getaddrinfo: %s\\n", status == 0 ? "ok" : gai_strerror(status));',
      '  return status == 0 ? 0 : 1;',
      '}',
      '',
    ].join('\n'));
    execFileSync('gcc', ['-o', lab.path('gai'), lab.path('gai.c')]);
    const run = cli('run', 'gai', ...kernelArgs, '--accel', 'tcg');
    expect(run.stdout).toContain('getaddrinfo: ok');
    expect(run.status, run.stderr).toBe(0);
  });

  it.skipIf(!hasCommand('musl-gcc', ['-v']))('static musl getaddrinfo resolves localhost in the guest', () => {
    // The exit code carries the result, because the Nanos built from source
    // here can drop all but the last buffer of musl's writev, so stdout may be blank.
    lab.write('musl-gai.c', [
      '#include <netdb.h>',
      '#include <string.h>',
      'int main(void) {',
      '  struct addrinfo hints, *result;',
      '  memset(&hints, 0, sizeof hints);',
      '  hints.ai_socktype = SOCK_STREAM;',
      '  return getaddrinfo("localhost", "80", &hints, &result) == 0 ? 0 : 4;',
      '}',
      '',
    ].join('\n'));
    execFileSync('musl-gcc', ['-static', '-o', lab.path('musl-gai'), lab.path('musl-gai.c')]);

    const run = cli('run', 'musl-gai', ...kernelArgs, '--accel', 'tcg');

    expect(run.status, run.stderr).toBe(0);
  });

  it('a program can write 1 MiB with the default free space', () => {
    lab.write('write.c', [
      '#include <stdio.h>',
      '#include <string.h>',
      '#include <unistd.h>',
      'int main(void) {',
      '  static char block[1 << 20];',
      '  memset(block, 7, sizeof block);',
      '  FILE *file = fopen("/tmp-out", "w");',
      '  if (!file) { perror("fopen"); return 1; }',
      '  size_t written = fwrite(block, 1, sizeof block, file);',
      '  if (fflush(file) != 0 || fsync(fileno(file)) != 0) { perror("fsync"); return 1; }',
      '  printf("wrote %zu bytes\\n", written);',
      '  return written == sizeof block ? 0 : 1;',
      '}',
      '',
    ].join('\n'));
    execFileSync('gcc', ['-o', lab.path('write'), lab.path('write.c')]);
    const run = cli('run', 'write', ...kernelArgs, '--accel', 'tcg');
    expect(run.stdout).toContain('wrote 1048576 bytes');
    expect(run.status, run.stderr).toBe(0);
  });

  it('an OPS config.json gives a working image', async () => {
    const port = await findFreePort();
    lab.write('ops-app/index.html', 'from ops config\n');
    lab.write('ops-app/config.json', JSON.stringify({
      Program: 'server',
      // OPS puts Program in front of Args as argv[0].
      Args: [String(port)],
      Env: { GREETING: 'hi' },
      Files: ['index.html'],
      RunConfig: { Ports: [String(port)] },
    }, null, 2));
    lab.copy(lab.path('server'), 'ops-app/server');

    const build = spawnSync(process.execPath, [CLI, 'build', '-c', 'config.json', '-o', 'ops.img', ...kernelArgs], { cwd: lab.path('ops-app'), encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const inspect = cli('inspect', 'ops-app/ops.img');
    expect(inspect.stdout).toMatch(/^ {2}index\.html \(16 bytes\)$/m);
    expect(inspect.stdout).toContain('GREETING');

    // OPS reads Files relative to the folder it runs in, so run from there too.
    const run = await fetchFromRun(['ops.img', '-c', 'config.json', '--accel', 'tcg'], `http://127.0.0.1:${port}/`, lab.path('ops-app'));
    expect(run.body).toBe('hello from a unikernel!\n');
  });
});

// End-to-end test of the Nx plugin: a fresh Nx 24 workspace in a temporary
// folder with the packed nx-unikernel tarball installed, projects in C, Go
// (static and cgo) and Node.js, and real nx commands. Steps that build or boot
// images need a Nanos release in NX_UNIKERNEL_NANOS_DIR and are reported as
// skipped without it. One workspace serves every test, because npm install
// in it takes a large share of the run time.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO_ROOT = path.resolve(__dirname, '..');
const NX_VERSION = '24.0.7';
const DEVKIT_VERSION = '24.0.0';
const E2E_TIMEOUT_MS = 600_000;

function kernelSkipReason(): string | undefined {
  const release = process.env['NX_UNIKERNEL_NANOS_DIR'];
  if (!release) return 'NX_UNIKERNEL_NANOS_DIR is not set to a Nanos release folder';
  if (!existsSync(path.join(release, 'kernel.img'))) return `${release} has no kernel.img`;
  for (const tool of ['gcc', 'go', 'qemu-system-x86_64']) {
    if (spawnSync(tool, [tool === 'go' ? 'version' : '--version']).status !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

const kernelReason = kernelSkipReason();
const withKernel = kernelReason === undefined ? '' : ` (skipped: ${kernelReason})`;

let workspace: string;
let servePort: number;
/** File name of the packed plugin inside the workspace. */
let tarball = '';

/** Returns the environment of nested nx commands: no Nx variables of an outer Nx task, no daemon, no cloud. */
function nxEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('NX_') && key !== 'NX_UNIKERNEL_NANOS_DIR') continue;
    if (key.startsWith('VITEST') || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: undefined, GOFLAGS: '-buildvcs=false', FORCE_COLOR: '0' };
}

/** Runs an nx command in the workspace and returns its output; throws with the output when it fails. */
function nx(args: string[]): string {
  const result = spawnSync(path.join(workspace, 'node_modules/.bin/nx'), args, { cwd: workspace, env: nxEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = stripAnsi(`${result.stdout}${result.stderr}`);
  if (result.status !== 0) throw new Error(`nx ${args.join(' ')} exited with ${result.status}:\n${output}`);
  return output;
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function write(file: string, content: unknown): void {
  const full = path.join(workspace, file);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
}

function readJson(file: string): Record<string, any> {
  return JSON.parse(readFileSync(path.join(workspace, file), 'utf8'));
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(path.join(workspace, file))).digest('hex');
}

/** Checks that the image the manifest describes is present and matches the recorded hash. */
function expectValidImage(image: string): void {
  const manifest = readJson(`${image}.manifest.json`);
  expect(manifest.image.sha256).toBe(sha256(image));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

const C_SERVER = readFileSync(path.join(REPO_ROOT, 'examples/http-server/server.c'), 'utf8');

const GO_SERVER = `package main

import (
	"fmt"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello from go") })
	http.ListenAndServe(":8080", nil)
}
`;

const NODE_API = `import * as http from 'node:http';
const bufferUtil = require('bufferutil') as { mask: unknown };

http
  .createServer((_request, response) => response.end(\`node \${process.version}, bufferutil \${typeof bufferUtil.mask}\\n\`))
  .listen(3000, '0.0.0.0', () => console.log('listening on 3000'));
`;

function goProject(name: string, cgo: boolean): void {
  const source = cgo ? GO_SERVER.replace('import (', '// #include <stdlib.h>\nimport "C"\n\nimport (') : GO_SERVER;
  write(`apps/${name}/main.go`, source);
  write(`apps/${name}/go.mod`, `module example.com/${name}\n\ngo 1.19\n`);
  write(`apps/${name}/project.json`, {
    name,
    targets: {
      build: {
        command: 'go build -trimpath -o dist/server .',
        options: { cwd: `apps/${name}`, env: { CGO_ENABLED: cgo ? '1' : '0' } },
        cache: true,
        inputs: ['{projectRoot}/**/*.go', '{projectRoot}/go.mod'],
        outputs: ['{projectRoot}/dist/server'],
      },
    },
  });
}

beforeAll(async () => {
  workspace = mkdtempSync(path.join(tmpdir(), 'nx-unikernel-e2e-'));
  servePort = await freePort();

  // The plugin as users get it: the packed tarball of the built package.
  tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', workspace], { cwd: REPO_ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  write('package.json', { name: 'e2e-workspace', version: '0.0.0', private: true });
  write('nx.json', { $schema: './node_modules/nx/schemas/nx-schema.json' });
  write('.gitignore', 'node_modules\ndist\n.nx\n');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', `nx@${NX_VERSION}`, `@nx/devkit@${DEVKIT_VERSION}`, `./${tarball}`, 'bufferutil@4.1.0'], {
    cwd: workspace,
    stdio: 'ignore',
    env: { ...process.env, npm_config_loglevel: 'error' },
  });

  write('apps/cserver/server.c', C_SERVER);
  write('apps/cserver/project.json', {
    name: 'cserver',
    targets: {
      build: {
        command: 'mkdir -p dist && gcc -O2 -o dist/server server.c',
        options: { cwd: 'apps/cserver' },
        cache: true,
        inputs: ['{projectRoot}/server.c'],
        outputs: ['{projectRoot}/dist/server'],
      },
    },
  });
  goProject('gostatic', false);
  goProject('gocgo', true);
  write('apps/api/package.json', { name: 'api', version: '0.0.0', private: true });
  write('apps/api/src/main.ts', NODE_API);
  write('apps/api/unikernel.json', { program: 'src/main.ts', ports: ['3000'], accelerator: 'tcg' });
}, E2E_TIMEOUT_MS);

afterAll(() => {
  if (workspace !== undefined) rmSync(workspace, { recursive: true, force: true });
});

describe('nx-unikernel in a fresh Nx workspace', () => {
  it('nx add registers the plugin once', () => {
    // The package is not on the npm registry, so `nx add` installs the tarball.
    nx(['add', `nx-unikernel@file:./${tarball}`]);
    nx(['g', 'nx-unikernel:init']);
    const plugins = readJson('nx.json')['plugins'] as unknown[];
    expect(plugins).toEqual([{ plugin: 'nx-unikernel/plugin', options: {} }]);
  });

  it('configuration writes unikernel.json', () => {
    nx(['g', 'nx-unikernel:configuration', '--project', 'cserver', '--program', 'dist/server', '--args', '8080', '--ports', `${servePort}:8080`, '--accelerator', 'tcg']);
    for (const name of ['gostatic', 'gocgo']) nx(['g', 'nx-unikernel:configuration', '--project', name, '--program', 'dist/server', '--ports', '8080', '--accelerator', 'tcg']);
    expect(readJson('apps/cserver/unikernel.json')).toMatchObject({ program: 'dist/server', args: ['8080'], ports: [`${servePort}:8080`] });
    expect(Object.keys(readJson('apps/cserver/project.json')['targets'])).toEqual(['build']);
  });

  it('show project lists the inferred targets', () => {
    const project = JSON.parse(nx(['show', 'project', 'cserver', '--json']));
    const targets = project.targets;
    expect(targets['unikernel']).toMatchObject({ executor: 'nx-unikernel:image', cache: true, dependsOn: ['build', 'unikernel-sysroot'] });
    expect(targets['unikernel'].outputs).toEqual(['{projectRoot}/dist/unikernel/cserver.img', '{projectRoot}/dist/unikernel/cserver.img.manifest.json']);
    expect(targets['unikernel-serve']).toMatchObject({ continuous: true, readyWhen: { signal: true }, dependsOn: ['unikernel'] });
    expect(targets['unikernel-serve'].metadata.description).toContain(String(servePort));
    expect(targets['unikernel'].metadata.help.example).toBeDefined();
  });

  it('show project covers package.json projects', () => {
    const project = JSON.parse(nx(['show', 'project', 'api', '--json']));
    expect(Object.keys(project.targets)).toEqual(expect.arrayContaining(['unikernel', 'unikernel-serve', 'unikernel-sysroot']));
  });

  describe.skipIf(kernelReason !== undefined)(`images and boots${withKernel}`, () => {
    const image = 'apps/cserver/dist/unikernel/cserver.img';

    it(
      'second run comes from the cache',
      () => {
        const first = nx(['run', 'cserver:unikernel']);
        expect(first).not.toContain('nx run cserver:unikernel  [local cache]');
        expectValidImage(image);
        const imageHash = sha256(image);

        const second = nx(['run', 'cserver:unikernel']);
        expect(second).toMatch(/nx run cserver:unikernel {2}\[(local cache|existing outputs match the cache, left as is)\]/);

        rmSync(path.join(workspace, 'apps/cserver/dist/unikernel'), { recursive: true });
        const restored = nx(['run', 'cserver:unikernel']);
        expect(restored).toContain('nx run cserver:unikernel  [local cache]');
        expect(sha256(image)).toBe(imageHash);
        expectValidImage(image);
      },
      E2E_TIMEOUT_MS,
    );

    it(
      'program and config changes rebuild',
      () => {
        const before = sha256(image);
        write('apps/cserver/server.c', C_SERVER.replace('hello from a unikernel!', 'hello from a unikernel?'));
        const afterProgram = nx(['run', 'cserver:unikernel']);
        expect(afterProgram).not.toContain('nx run cserver:unikernel  [local cache]');
        expect(sha256(image)).not.toBe(before);

        const config = readJson('apps/cserver/unikernel.json');
        write('apps/cserver/unikernel.json', { ...config, memory: '256M' });
        const afterConfig = nx(['run', 'cserver:unikernel']);
        expect(afterConfig).not.toContain('nx run cserver:unikernel  [local cache]');

        write('apps/cserver/server.c', C_SERVER);
        write('apps/cserver/unikernel.json', config);
        expect(nx(['run', 'cserver:unikernel'])).toContain('nx run cserver:unikernel  [local cache]');
        expect(sha256(image)).toBe(before);
      },
      E2E_TIMEOUT_MS,
    );

    it(
      'library change in the target root rebuilds',
      () => {
        // A target root with the host's libc and loader plus a library of the project's own.
        const root = 'apps/libapp/root';
        mkdirSync(path.join(workspace, root, 'lib/x86_64-linux-gnu'), { recursive: true });
        mkdirSync(path.join(workspace, root, 'lib64'), { recursive: true });
        execFileSync('cp', ['-L', '/lib/x86_64-linux-gnu/libc.so.6', path.join(workspace, root, 'lib/x86_64-linux-gnu/')]);
        execFileSync('cp', ['-L', '/lib64/ld-linux-x86-64.so.2', path.join(workspace, root, 'lib64/')]);
        const buildLibrary = (text: string) => {
          write('apps/libapp/greet.c', `const char *greeting(void) { return "${text}"; }\n`);
          execFileSync('gcc', ['-shared', '-fPIC', '-o', path.join(workspace, root, 'lib/x86_64-linux-gnu/libgreet.so'), path.join(workspace, 'apps/libapp/greet.c')]);
        };
        buildLibrary('one');
        write('apps/libapp/main.c', '#include <stdio.h>\nconst char *greeting(void);\nint main(void) { puts(greeting()); return 0; }\n');
        write('apps/libapp/project.json', {
          name: 'libapp',
          targets: {
            build: {
              command: 'mkdir -p dist && gcc -o dist/app main.c -Lroot/lib/x86_64-linux-gnu -lgreet',
              options: { cwd: 'apps/libapp' },
              cache: true,
              inputs: ['{projectRoot}/main.c'],
              outputs: ['{projectRoot}/dist/app'],
            },
          },
        });
        write('apps/libapp/unikernel.json', { program: 'dist/app', sysroot: 'root', accelerator: 'tcg' });

        nx(['run', 'libapp:unikernel']);
        expect(nx(['run', 'libapp:unikernel'])).toContain('nx run libapp:unikernel  [local cache]');
        buildLibrary('two');
        expect(nx(['run', 'libapp:unikernel'])).not.toContain('nx run libapp:unikernel  [local cache]');
        const manifest = readJson('apps/libapp/dist/unikernel/libapp.img.manifest.json');
        const library = manifest.files.find((file: { path: string }) => file.path.endsWith('libgreet.so'));
        expect(library.sha256).toBe(sha256(`${root}/lib/x86_64-linux-gnu/libgreet.so`));

        // libapp forwards no port, so an HTTP readiness path has nowhere to go.
        expect(() => nx(['run', 'libapp:unikernel-serve', '--readyPath=/health'])).toThrow(
          'the readiness path /health needs a forwarded TCP port to send its request to: add one to "ports" in',
        );
      },
      E2E_TIMEOUT_MS,
    );

    it(
      'serve answers and Ctrl-C stops QEMU',
      async () => {
        const image = 'apps/cserver/dist/unikernel/cserver.img';
        const imageHashBefore = existsSync(path.join(workspace, image)) ? sha256(image) : undefined;
        const child: ChildProcess = spawn(path.join(workspace, 'node_modules/.bin/nx'), ['run', 'cserver:unikernel-serve'], {
          cwd: workspace,
          env: nxEnv(),
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

        try {
          const deadline = Date.now() + 120_000;
          while (!output.includes('ready in') && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 250));
          expect(output).toContain(`http://127.0.0.1:${servePort}/`);
          const response = await fetch(`http://127.0.0.1:${servePort}/`);
          expect(await response.text()).toBe('hello from a unikernel!\n');
        } finally {
          // Ctrl-C in a terminal sends SIGINT to the whole foreground process group.
          process.kill(-child.pid!, 'SIGINT');
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
        }
        const qemu = spawnSync('pgrep', ['-f', path.join(workspace, 'apps/cserver/dist/unikernel/cserver.img')], { encoding: 'utf8' });
        expect(qemu.stdout.trim()).toBe('');
        expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
        // The VM boots a copy, so the cached image keeps the hash Nx recorded.
        if (imageHashBefore !== undefined) expect(sha256(image)).toBe(imageHashBefore);
      },
      E2E_TIMEOUT_MS,
    );

    it(
      'serve stops QEMU after SIGKILL of nx',
      async () => {
        const child: ChildProcess = spawn(path.join(workspace, 'node_modules/.bin/nx'), ['run', 'cserver:unikernel-serve'], {
          cwd: workspace,
          env: nxEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const bootCopies = () => spawnSync('pgrep', ['-f', 'cserver.img.boot-'], { encoding: 'utf8' }).stdout.trim();

        try {
          const deadline = Date.now() + 120_000;
          while (!output.includes('ready in') && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 250));
          expect(output).toContain('ready in');
          // SIGKILL reaches only nx itself, as a CI timeout or the OOM killer sends it.
          child.kill('SIGKILL');

          const stopDeadline = Date.now() + 20_000;
          while (bootCopies() !== '' && Date.now() < stopDeadline) await new Promise((resolve) => setTimeout(resolve, 250));
          expect(bootCopies()).toBe('');
        } finally {
          for (const pid of bootCopies().split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
        }
      },
      E2E_TIMEOUT_MS,
    );

    it(
      'run-many builds three kinds in parallel',
      () => {
        const output = nx(['run-many', '-t', 'unikernel', '-p', 'gostatic', 'gocgo', 'api', '--parallel=3']);
        expect(output).toContain('Successfully ran target unikernel for 3 projects');
        for (const name of ['gostatic', 'gocgo', 'api']) expectValidImage(`apps/${name}/dist/unikernel/${name}.img`);

        const files = (name: string) => readJson(`apps/${name}/dist/unikernel/${name}.img.manifest.json`).files.map((file: { path: string }) => file.path);
        expect(files('gostatic')).not.toContain('/lib64/ld-linux-x86-64.so.2');
        expect(files('gocgo')).toContain('/lib64/ld-linux-x86-64.so.2');
        expect(files('api')).toContain('/app/main.js');
        expect(files('api')).toContain('/app/node_modules/bufferutil/prebuilds/linux-x64/bufferutil.node');
        expect(readdirSync(path.join(workspace, 'apps/api/dist/unikernel'))).toContain('api.img');
      },
      E2E_TIMEOUT_MS,
    );
  });
});

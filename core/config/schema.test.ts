// unikernel.json: every key accepted in its documented forms and rejected
// with a message naming the key path, the value and an example.

import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError } from './errors';
import { parseUnikernelConfig } from './parse';
import { makeProjectDir, removeProjectDir } from './test-support/project';

let projectDir: string;
let file: string;

beforeAll(() => {
  projectDir = makeProjectDir();
  file = path.join(projectDir, 'unikernel.json');
});

afterAll(() => {
  removeProjectDir(projectDir);
});

const MIB = 1024 ** 2;

function parse(json: unknown) {
  return parseUnikernelConfig(json, { file });
}

/** Parses `json`, expects a ConfigError and returns its message. */
function errorOf(json: unknown): string {
  try {
    parse(json);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`expected ${JSON.stringify(json)} to be rejected`);
}

describe('parseUnikernelConfig defaults', () => {
  it('fills every default for an empty object', () => {
    const config = parse({});

    expect(config.source).toBe(file);
    expect(config.projectDir).toBe(projectDir);
    expect(config.program).toBeUndefined();
    expect(config.args).toEqual([]);
    expect(config.env).toEqual({});
    expect(config.files).toEqual([]);
    expect(config.dirs).toEqual([]);
    expect(config.mapDirs).toEqual([]);
    expect(config.klibs).toEqual([]);
    expect(config.ports).toEqual([]);
    expect(config.memoryBytes).toBe(2 * 1024 * MIB);
    expect(config.cpus).toBe(1);
    expect(config.accelerator).toBe('auto');
    expect(config.imageSizing).toEqual({ kind: 'free-space', bytes: 64 * MIB });
    expect(config.nanosVersion).toBeUndefined();
    expect(config.kernelDir).toBeUndefined();
    expect(config.klibDir).toBeUndefined();
    expect(config.sysroot).toBe('/');
    expect(config.cwd).toBeUndefined();
    expect(config.readiness).toBeUndefined();
    expect(config.bindAddress).toBe('127.0.0.1');
    expect(config.manifest).toEqual({});
  });

  it('uses baseDir for options from code', () => {
    const config = parseUnikernelConfig({ program: 'dist/app' }, { file: 'options of target app:image', baseDir: projectDir });

    expect(config.source).toBe('options of target app:image');
    expect(config.projectDir).toBe(projectDir);
    expect(config.program).toEqual({ hostPath: path.join(projectDir, 'dist/app'), imagePath: '/dist/app' });
  });

  it('names the code source in errors', () => {
    expect(() => parseUnikernelConfig({ cpus: 0 }, { file: 'options of target app:image', baseDir: projectDir })).toThrow(
      'Invalid configuration in options of target app:image: cpus: 0 is invalid.',
    );
  });
});

describe('parseUnikernelConfig valid keys', () => {
  it('accepts $schema', () => {
    expect(() => parse({ $schema: './unikernel.schema.json' })).not.toThrow();
  });

  it('resolves a relative program', () => {
    expect(parse({ program: './bin/../dist/server' }).program).toEqual({
      hostPath: path.join(projectDir, 'dist/server'),
      imagePath: '/dist/server',
    });
  });

  it('reads an absolute program inside the sysroot', () => {
    const config = parse({ program: '/usr/bin/python3', sysroot: 'root' });

    expect(config.sysroot).toBe(path.join(projectDir, 'root'));
    expect(config.program).toEqual({ hostPath: path.join(projectDir, 'root/usr/bin/python3'), imagePath: '/usr/bin/python3' });
  });

  it('keeps args and env', () => {
    const config = parse({ args: ['--port', '8080', ''], env: { NODE_ENV: 'production', EMPTY: '' } });

    expect(config.args).toEqual(['--port', '8080', '']);
    expect(config.env).toEqual({ NODE_ENV: 'production', EMPTY: '' });
  });

  it('resolves files in both forms', () => {
    const config = parse({ files: ['config.json', './etc/../a/b.txt', '/etc/hosts', { from: 'certs/ca.pem', to: '/etc/ssl/./ca.pem' }] });

    expect(config.files).toEqual([
      { hostPath: path.join(projectDir, 'config.json'), imagePath: '/config.json' },
      { hostPath: path.join(projectDir, 'a/b.txt'), imagePath: '/a/b.txt' },
      { hostPath: '/etc/hosts', imagePath: '/etc/hosts' },
      { hostPath: path.join(projectDir, 'certs/ca.pem'), imagePath: '/etc/ssl/ca.pem' },
    ]);
  });

  it('resolves dirs in both forms', () => {
    const config = parse({ dirs: ['public', { from: 'assets', to: '/app/assets' }] });

    expect(config.dirs).toEqual([
      { hostPath: path.join(projectDir, 'public'), imagePath: '/public' },
      { hostPath: path.join(projectDir, 'assets'), imagePath: '/app/assets' },
    ]);
  });

  it('splits mapDirs keys into folder and pattern', () => {
    const config = parse({ mapDirs: { 'public/*.html': '/app/public', '*.txt': '/docs/', '/srv/data/*': '/data' } });

    expect(config.mapDirs).toEqual([
      { hostDir: path.join(projectDir, 'public'), pattern: '*.html', imagePath: '/app/public' },
      { hostDir: projectDir, pattern: '*.txt', imagePath: '/docs/' },
      { hostDir: '/srv/data', pattern: '*', imagePath: '/data' },
    ]);
  });

  it('removes repeated klibs', () => {
    expect(parse({ klibs: ['tls', 'ntp', 'tls'] }).klibs).toEqual(['tls', 'ntp']);
  });

  it('parses every port form', () => {
    const config = parse({ ports: [8080, '8081', '8082/tcp', '5353/udp', '9000:80', '9001:81/udp', '0.0.0.0:9002:82'] });

    expect(config.ports).toEqual([
      { protocol: 'tcp', hostPort: 8080, guestPort: 8080 },
      { protocol: 'tcp', hostPort: 8081, guestPort: 8081 },
      { protocol: 'tcp', hostPort: 8082, guestPort: 8082 },
      { protocol: 'udp', hostPort: 5353, guestPort: 5353 },
      { protocol: 'tcp', hostPort: 9000, guestPort: 80 },
      { protocol: 'udp', hostPort: 9001, guestPort: 81 },
      { protocol: 'tcp', hostPort: 9002, guestPort: 82, hostAddress: '0.0.0.0' },
    ]);
  });

  it('keeps one forward per host port', () => {
    const config = parse({ ports: [8080, '8080/tcp', '8080', '8080/udp', '9000:80', '9001:80'] });

    expect(config.ports).toEqual([
      { protocol: 'tcp', hostPort: 8080, guestPort: 8080 },
      { protocol: 'udp', hostPort: 8080, guestPort: 8080 },
      { protocol: 'tcp', hostPort: 9000, guestPort: 80 },
      { protocol: 'tcp', hostPort: 9001, guestPort: 80 },
    ]);
  });

  it.each([
    ['512M', 512 * MIB],
    ['2G', 2048 * MIB],
    ['2g', 2048 * MIB],
    ['1536MiB', 1536 * MIB],
    ['1GB', 1024 * MIB],
    ['65536K', 64 * MIB],
    ['1T', 1024 * 1024 * MIB],
    ['268435456B', 256 * MIB],
  ])('converts memory %s to bytes', (memory, bytes) => {
    expect(parse({ memory }).memoryBytes).toBe(bytes);
  });

  it('accepts cpus and each accelerator', () => {
    expect(parse({ cpus: 4 }).cpus).toBe(4);
    for (const accelerator of ['auto', 'kvm', 'hvf', 'tcg'] as const) {
      expect(parse({ accelerator }).accelerator).toBe(accelerator);
    }
  });

  it('rounds imageSize up to a sector', () => {
    expect(parse({ imageSize: '64m' }).imageSizing).toEqual({ kind: 'total', bytes: 64 * MIB });
    expect(parse({ imageSize: '1000B' }).imageSizing).toEqual({ kind: 'total', bytes: 1024 });
  });

  it('accepts freeSpace including 0', () => {
    expect(parse({ freeSpace: '256M' }).imageSizing).toEqual({ kind: 'free-space', bytes: 256 * MIB });
    expect(parse({ freeSpace: '0' }).imageSizing).toEqual({ kind: 'free-space', bytes: 0 });
  });

  it('resolves version, kernel and klib folders', () => {
    const config = parse({ nanosVersion: '0.1.55', kernelDir: '/opt/nanos/0.1.55', klibDir: 'klibs' });

    expect(config.nanosVersion).toBe('0.1.55');
    expect(config.kernelDir).toBe('/opt/nanos/0.1.55');
    expect(config.klibDir).toBe(path.join(projectDir, 'klibs'));
  });

  it('normalizes cwd', () => {
    expect(parse({ cwd: '/app/./bin/..' }).cwd).toBe('/app');
  });

  it('fills the readiness timeout', () => {
    expect(parse({ readiness: { httpPath: '/healthz' } }).readiness).toEqual({ httpPath: '/healthz', timeoutSeconds: 30 });
    expect(parse({ readiness: { timeoutSeconds: 2.5 } }).readiness).toEqual({ httpPath: undefined, timeoutSeconds: 2.5 });
  });

  it('accepts bindAddress', () => {
    expect(parse({ bindAddress: '0.0.0.0' }).bindAddress).toBe('0.0.0.0');
  });

  it('passes manifest values through', () => {
    const manifest = { exec_wait_for_ip4_secs: '5', notrace: ['futex'], en2: { ipaddr: '10.0.2.20' } };
    expect(parse({ manifest }).manifest).toEqual(manifest);
  });
});

describe('parseUnikernelConfig invalid keys', () => {
  it.each<[string, unknown, string[]]>([
    ['root not an object', [], ['Invalid configuration in', '[] is an array', 'Expected a JSON object']],
    ['$schema', { $schema: 1 }, ['$schema: 1 is a number', 'Expected a string']],
    ['program type', { program: 42 }, ['program: 42 is a number', 'Expected a path string', 'Example: "dist/server"']],
    ['program empty', { program: '' }, ['program: "" is invalid', 'Expected a path string']],
    ['args type', { args: '--port 80' }, ['args: "--port 80" is a string', 'Expected an array of strings', 'Example: ["--port", "8080"]']],
    ['args element', { args: ['--port', 8080] }, ['args[1]: 8080 is a number', 'Expected a string (quote numbers)', 'Example: "8080"']],
    ['env value', { env: { PORT: 8080 } }, ['env.PORT: 8080 is a number', 'Expected a string value']],
    ['env name', { env: { 'A=B': 'x' } }, ['env["A=B"]: the key "A=B" is not a valid key', 'contains no = or NUL', 'Example: "NODE_ENV"']],
    ['files element', { files: [3] }, ['files[0]: 3 is a number', 'Expected a path string or a { "from": path, "to": "/image/path" } object']],
    ['files missing to', { files: [{ from: 'a' }] }, ['files[0].to: missing', 'Expected an absolute image path', 'Example: "/etc/ssl/ca.pem"']],
    ['files relative to', { files: [{ from: 'a', to: 'etc/a' }] }, ['files[0].to: "etc/a" is invalid', 'Expected an absolute image path']],
    ['files unknown key', { files: [{ from: 'a', to: '/a', mode: '0644' }] }, ['files[0].mode: unknown key', 'Known keys: from, to']],
    ['dirs element', { dirs: [{ to: '/x' }] }, ['dirs[0].from: missing', 'Expected a host folder path string']],
    ['mapDirs value', { mapDirs: { 'public/*': 'app' } }, ['mapDirs["public/*"]: "app" is invalid', 'Expected an absolute image folder']],
    ['mapDirs trailing slash', { mapDirs: { 'public/': '/app' } }, ['mapDirs["public/"]: the key "public/" ends with /', 'Example: "public/*.html"']],
    ['mapDirs folder pattern', { mapDirs: { 'src/*/lib/*.so': '/lib' } }, ['has pattern characters in its folder part "src/*/lib"']],
    ['klibs element', { klibs: ['TLS'] }, ['klibs[0]: "TLS" is invalid', 'Expected a klib name of lowercase letters, digits and _']],
    ['ports type', { ports: 8080 }, ['ports: 8080 is a number', 'Expected an array of port forwards']],
    ['ports protocol', { ports: [8080, '80/sctp'] }, ['ports[1]: "80/sctp" is invalid', 'Expected a port 1-65535', 'Example: 8080, "5353/udp", "8081:80" or "127.0.0.1:8081:80"']],
    ['ports address', { ports: ['999.0.0.1:8080:80'] }, ['ports[0]: "999.0.0.1:8080:80" has "999.0.0.1" where an IPv4 host address such as 127.0.0.1 or 0.0.0.0 belongs']],
    ['ports range', { ports: ['70000'] }, ['ports[0]: "70000" uses port 70000, outside 1-65535']],
    ['ports zero', { ports: [0] }, ['ports[0]: 0 uses port 0, outside 1-65535']],
    ['ports fraction', { ports: [80.5] }, ['ports[0]: 80.5 is not a whole number']],
    ['ports boolean', { ports: [true] }, ['ports[0]: true is a boolean']],
    [
      'ports conflict',
      { ports: ['8080:80', '8080:81'] },
      ['ports[1]: "8080:81" forwards host port 8080/tcp to guest port 81, but ports[0] ("8080:80") already forwards it to guest port 80. Keep one of them'],
    ],
    [
      'ports address conflict',
      { ports: ['8080', '127.0.0.1:8080:8080'] },
      ['ports[1]: "127.0.0.1:8080:8080" listens on host port 8080/tcp at 127.0.0.1, but ports[0] ("8080") listens on it at the bind address'],
    ],
    ['memory without unit', { memory: '512' }, ['memory: "512" is invalid', 'Expected a size with a unit', 'Example: "512M"']],
    ['memory fraction', { memory: '1.5G' }, ['memory: "1.5G" is invalid']],
    ['memory hex', { memory: '0x100M' }, ['memory: "0x100M" is invalid']],
    ['memory zero', { memory: '0' }, ['memory: "0" is below the minimum of 16M that the Nanos kernel needs to boot: use "16M" or more']],
    ['memory 1K', { memory: '1K' }, ['memory: "1K" is below the minimum of 16M that the Nanos kernel needs to boot: use "16M" or more']],
    ['memory 15M', { memory: '15M' }, ['memory: "15M" is below the minimum of 16M']],
    ['memory number', { memory: 512 }, ['memory: 512 is a number']],
    ['cpus zero', { cpus: 0 }, ['cpus: 0 is invalid', 'Expected a whole number from 1 to 255']],
    ['cpus above 255', { cpus: 256 }, ['cpus: 256 is invalid', 'Expected a whole number from 1 to 255']],
    ['cpus fraction', { cpus: 1.5 }, ['cpus: 1.5 is not a whole number']],
    ['accelerator', { accelerator: 'xen' }, ['accelerator: "xen" is invalid', 'Expected one of "auto", "kvm", "hvf" or "tcg"']],
    ['imageSize huge', { imageSize: '2T' }, ['imageSize: "2T" is 2 TiB or more']],
    ['imageSize zero', { imageSize: '0' }, ['imageSize: "0" is 0']],
    ['freeSpace small', { freeSpace: '1M' }, ['freeSpace: "1M" is not above the 1 MiB that the kernel keeps for its log']],
    ['imageSize with freeSpace', { imageSize: '64M', freeSpace: '8M' }, ['freeSpace: "8M" cannot be combined with imageSize']],
    ['nanosVersion', { nanosVersion: 'latest' }, ['nanosVersion: "latest" is invalid', 'Example: "0.1.55"']],
    ['kernelDir type', { kernelDir: true }, ['kernelDir: true is a boolean', 'Expected a folder path string']],
    ['klibDir empty', { klibDir: '' }, ['klibDir: "" is invalid']],
    ['sysroot type', { sysroot: ['/'] }, ['sysroot: ["/"] is an array']],
    ['cwd relative', { cwd: 'app' }, ['cwd: "app" is invalid', 'Expected an absolute image path', 'Example: "/app"']],
    ['readiness type', { readiness: '/healthz' }, ['readiness: "/healthz" is a string', 'Expected an object with the optional keys httpPath and timeoutSeconds']],
    ['readiness httpPath', { readiness: { httpPath: 'healthz' } }, ['readiness.httpPath: "healthz" is invalid', 'Expected a path starting with /']],
    ['readiness timeout', { readiness: { timeoutSeconds: 0 } }, ['readiness.timeoutSeconds: 0 is invalid', 'Expected a number of seconds above 0']],
    [
      'readiness timeout above the timer limit',
      { readiness: { timeoutSeconds: 99999999999 } },
      ['readiness.timeoutSeconds: 99999999999 is invalid', 'at most 2147483.647 (about 24.8 days, the longest delay a Node.js timer supports)'],
    ],
    ['readiness unknown key', { readiness: { port: 80 } }, ['readiness.port: unknown key', 'Known keys: httpPath, timeoutSeconds']],
    ['bindAddress', { bindAddress: 'localhost' }, ['bindAddress: "localhost" is invalid', 'Expected an IPv4 address']],
    ['manifest number', { manifest: { exec_wait_for_ip4_secs: 5 } }, ['manifest.exec_wait_for_ip4_secs: 5 is a number', 'quote numbers and booleans', 'Example: "5"']],
    ['manifest nested boolean', { manifest: { en2: { dhcp: true } } }, ['manifest.en2.dhcp: true is a boolean']],
    ['manifest reserved key', { manifest: { program: '/x' } }, ['manifest.program: the key "program" is written by the program option; set it there']],
    ['manifest children', { manifest: { children: {} } }, ['manifest.children: the key "children" is written by the files, dirs or mapDirs option']],
  ])('rejects %s', (_name, json, fragments) => {
    const message = errorOf(json);

    expect(message).toContain(file);
    for (const fragment of fragments) {
      expect(message).toContain(fragment);
    }
  });

  it('suggests the key for a misspelling', () => {
    const message = errorOf({ memroy: '1G' });

    expect(message).toContain('memroy: unknown key. Did you mean "memory"?');
    expect(message).toContain('Known keys: $schema, program, args');
  });

  it('suggests the key for another case', () => {
    expect(errorOf({ MapDirs: {} })).toContain('MapDirs: unknown key. Did you mean "mapDirs"?');
  });

  it('lists every problem at once', () => {
    const error = (() => {
      try {
        parse({ cpus: 0, ports: ['x'], extra: 1 });
      } catch (caught) {
        return caught as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();

    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['cpus', 'extra', 'ports[0]']);
    expect(error.message).toContain('(3 problems)');
  });
});

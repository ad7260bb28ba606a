// OPS config.json files, read unchanged: each mapped field, the OPS quirks,
// ignored fields as warnings and unknown fields as errors.

import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ConfigError } from './errors';
import { readOpsConfig } from './ops-config';
import { makeProjectDir, removeProjectDir, writeProjectFile } from './test-support/project';

const MIB = 1024 ** 2;

let projectDir: string;

beforeEach(() => {
  projectDir = makeProjectDir('nx-unikernel-ops-');
});

afterEach(() => {
  removeProjectDir(projectDir);
});

function writeConfig(json: unknown): string {
  return writeProjectFile(projectDir, 'config.json', typeof json === 'string' ? json : JSON.stringify(json, null, 2));
}

function errorOf(json: unknown): ConfigError {
  const file = writeConfig(json);
  try {
    readOpsConfig(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(json)} to be rejected`);
}

describe('readOpsConfig mapping', () => {
  it('maps the common fields exactly', () => {
    const file = writeConfig({
      Program: './server',
      Args: ['--port', '8080'],
      Env: { NODE_ENV: 'production' },
      Files: ['config/app.json'],
      Dirs: ['public'],
      MapDirs: { 'assets/*.png': '/static' },
      Klibs: ['ntp'],
      BaseVolumeSz: '64m',
      NanosVersion: '0.1.54',
      RunConfig: { Ports: ['8080', '8081-80'], UDPPorts: ['5353'], Memory: '512M', CPUs: 2 },
    });

    const { config, warnings } = readOpsConfig(file);

    expect(warnings).toEqual([]);
    expect(config.source).toBe(file);
    expect(config.program).toEqual({ hostPath: path.join(projectDir, 'server'), imagePath: '/server' });
    expect(config.args).toEqual(['--port', '8080']);
    expect(config.env).toEqual({ NODE_ENV: 'production', OPS_PORT: '8080,8081-80' });
    expect(config.files).toEqual([{ hostPath: path.join(projectDir, 'config/app.json'), imagePath: '/config/app.json' }]);
    expect(config.dirs).toEqual([{ hostPath: path.join(projectDir, 'public'), imagePath: '/public' }]);
    expect(config.mapDirs).toEqual([{ hostDir: path.join(projectDir, 'assets'), pattern: '*.png', imagePath: '/static' }]);
    expect(config.klibs).toEqual(['ntp']);
    expect(config.imageSizing).toEqual({ kind: 'total', bytes: 64 * MIB });
    expect(config.nanosVersion).toBe('0.1.54');
    expect(config.ports).toEqual([
      { protocol: 'tcp', hostPort: 8080, guestPort: 8080 },
      { protocol: 'tcp', hostPort: 8081, guestPort: 80 },
      { protocol: 'udp', hostPort: 5353, guestPort: 5353 },
    ]);
    expect(config.memoryBytes).toBe(512 * MIB);
    expect(config.cpus).toBe(2);
    expect(config.accelerator).toBe('auto');
  });

  it('matches field names ignoring case', () => {
    const { config } = readOpsConfig(writeConfig({ args: ['a'], runconfig: { ports: ['80'], memory: '1g' } }));

    expect(config.args).toEqual(['a']);
    expect(config.ports).toEqual([{ protocol: 'tcp', hostPort: 80, guestPort: 80 }]);
    expect(config.memoryBytes).toBe(1024 * MIB);
  });

  it('splits comma lists of ports', () => {
    const { config } = readOpsConfig(writeConfig({ RunConfig: { Ports: ['80,443'], UDPPorts: ['53,5353-53'] } }));

    expect(config.ports).toEqual([
      { protocol: 'tcp', hostPort: 80, guestPort: 80 },
      { protocol: 'tcp', hostPort: 443, guestPort: 443 },
      { protocol: 'udp', hostPort: 53, guestPort: 53 },
      { protocol: 'udp', hostPort: 5353, guestPort: 53 },
    ]);
  });

  it.each([
    ['2G', 2048 * MIB],
    ['512', 512 * MIB],
    ['1.5G', 1536 * MIB],
    ['65536k', 64 * MIB],
  ])('reads Memory %s as QEMU does', (memory, bytes) => {
    expect(readOpsConfig(writeConfig({ RunConfig: { Memory: memory } })).config.memoryBytes).toBe(bytes);
  });

  it.each([
    ['1000', 1024],
    ['1k', 1024],
    ['2M', 2 * MIB],
    ['1g', 1024 * MIB],
  ])('reads BaseVolumeSz %s as ops does', (size, bytes) => {
    expect(readOpsConfig(writeConfig({ BaseVolumeSz: size })).config.imageSizing).toEqual({ kind: 'total', bytes });
  });

  it('treats BaseVolumeSz 0 as unset', () => {
    expect(readOpsConfig(writeConfig({ BaseVolumeSz: '0' })).config.imageSizing.kind).toBe('free-space');
  });

  it('reads TargetRoot, absolute entries and kernel files', () => {
    const file = writeConfig({
      TargetRoot: 'rootfs',
      Program: '/usr/bin/python3',
      Files: ['/etc/ssl/cert.pem'],
      Dirs: ['/opt/app'],
      MapDirs: { '/usr/lib/python3/*': '/usr/lib/python3' },
      Kernel: '/opt/nanos/kernel.img',
      Boot: '/opt/nanos/boot.img',
      KlibDir: '/opt/nanos/klibs',
    });

    const { config, warnings } = readOpsConfig(file);

    const rootfs = path.join(projectDir, 'rootfs');
    expect(config.sysroot).toBe(rootfs);
    expect(config.program).toEqual({ hostPath: path.join(rootfs, 'usr/bin/python3'), imagePath: '/usr/bin/python3' });
    expect(config.files).toEqual([{ hostPath: path.join(rootfs, 'etc/ssl/cert.pem'), imagePath: '/etc/ssl/cert.pem' }]);
    expect(config.dirs).toEqual([{ hostPath: '/opt/app', imagePath: '/opt/app' }]);
    expect(config.mapDirs).toEqual([{ hostDir: path.join(rootfs, 'usr/lib/python3'), pattern: '*', imagePath: '/usr/lib/python3' }]);
    expect(config.kernelDir).toBe('/opt/nanos');
    expect(config.klibDir).toBe('/opt/nanos/klibs');
    expect(warnings).toEqual([
      `${file}: Files "/etc/ssl/cert.pem": ops reads absolute entries below the folder it runs in; nx-unikernel reads them inside TargetRoot rootfs.`,
    ]);
  });

  it('builds manifest keys in the order ops writes them', () => {
    const { config } = readOpsConfig(
      writeConfig({
        RebootOnExit: true,
        Debugflags: ['trace', 'debugsyscalls'],
        NoTrace: ['futex'],
        RunConfig: { IPAddress: '10.0.2.20', Gateway: '10.0.2.2' },
        ManifestPassthrough: { exec_wait_for_ip4_secs: '5', trace: 'f', firewall: { rules: [] } },
      }),
    );

    expect(config.manifest).toEqual({
      reboot_on_exit: 't',
      trace: 'f',
      debugsyscalls: 't',
      notrace: ['futex'],
      ipaddr: '10.0.2.20',
      netmask: '',
      gateway: '10.0.2.2',
      ip6addr: '',
      exec_wait_for_ip4_secs: '5',
      firewall: { rules: [] },
    });
    expect(config.klibs).toEqual(['firewall']);
  });

  it('derives the environment entries ops adds', () => {
    const { config } = readOpsConfig(
      writeConfig({ CloudConfig: { ImageName: 'web' }, Env: { RADAR_KEY: 'k', OPS_PORT: 'mine' }, RunConfig: { Ports: ['80'] } }),
    );

    expect(config.env).toEqual({ IMAGE_NAME: 'web', RADAR_KEY: 'k', RADAR_IMAGE_NAME: 'web', OPS_PORT: '80' });
    expect(config.klibs).toEqual(['tls', 'radar']);
  });
});

describe('readOpsConfig warnings', () => {
  it('lists fields with no equivalent', () => {
    const file = writeConfig({
      Description: 'demo',
      NameServers: ['1.1.1.1'],
      Mounts: { vol: '/data' },
      TFSv4: true,
      Uefi: false,
      Version: '',
      CloudConfig: { Platform: 'gcp', ImageName: 'x', Tags: [{ key: 'a', value: 'b' }] },
      RunConfig: { GdbPort: 1234, ImageName: 'out/app.img', Verbose: false },
    });

    const { warnings } = readOpsConfig(file);

    expect(warnings).toEqual([
      `${file}: ignored OPS fields with no nx-unikernel equivalent: Description, NameServers, Mounts, TFSv4, CloudConfig.Platform, CloudConfig.Tags, RunConfig.GdbPort, RunConfig.ImageName.`,
    ]);
  });

  it('warns about Accel false', () => {
    const { config, warnings } = readOpsConfig(writeConfig({ RunConfig: { Accel: false } }));

    expect(config.accelerator).toBe('auto');
    expect(warnings[0]).toContain('RunConfig.Accel is false, but ops run takes acceleration from its -d flag');
  });

  it('warns about kernel files outside one folder', () => {
    const { config, warnings } = readOpsConfig(writeConfig({ Kernel: '/a/kernel.img', Boot: '/b/boot.img' }));

    expect(config.kernelDir).toBeUndefined();
    expect(warnings[0]).toContain('Kernel "/a/kernel.img" and Boot "/b/boot.img" are not kernel.img and boot.img of one folder');
  });

  it('warns about Boot without Kernel', () => {
    const { config, warnings } = readOpsConfig(writeConfig({ Boot: 'x' }));

    expect(config.kernelDir).toBeUndefined();
    expect(warnings[0]).toContain('Boot "x" is not a file named boot.img, so it is ignored; set kernelDir in unikernel.json to a Nanos release folder instead.');
  });

  it('warns about Kernel without Boot', () => {
    const { warnings } = readOpsConfig(writeConfig({ Kernel: '/k/stage3.img' }));

    expect(warnings[0]).toContain('Kernel "/k/stage3.img" is not a file named kernel.img, so it is ignored; set kernelDir in unikernel.json to a Nanos release folder instead.');
  });

  it('clears an invalid IP address as ops does', () => {
    const { config, warnings } = readOpsConfig(writeConfig({ RunConfig: { IPAddress: '10.0.2.300' } }));

    expect(config.manifest).toEqual({});
    expect(warnings[0]).toContain('RunConfig.IPAddress "10.0.2.300" is not an IP address; ops ignores it');
  });

  it('notes NanosVersion 0.0', () => {
    const { config, warnings } = readOpsConfig(writeConfig({ NanosVersion: '0.0' }));

    expect(config.nanosVersion).toBeUndefined();
    expect(warnings[0]).toContain('NanosVersion "0.0" asks ops for the latest release');
  });
});

describe('readOpsConfig errors', () => {
  it('rejects an unknown top-level field', () => {
    const error = errorOf({ Args: [], Arguments: ['x'] });

    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.path).toBe('Arguments');
    expect(error.issues[0]?.message).toContain('unknown OPS field; ops rejects it too. Known fields here: Args, DisableArgsCopy');
  });

  it('rejects unknown nested fields', () => {
    const error = errorOf({ RunConfig: { Port: ['80'], VirtfsShares: {} }, CloudConfig: { Tags: [{ key: 'a', color: 'red' }] } });

    expect(error.issues.map((issue) => issue.path)).toEqual(['RunConfig.Port', 'RunConfig.VirtfsShares', 'CloudConfig.Tags[0].color']);
  });

  it('rejects wrong JSON types', () => {
    const error = errorOf({ Args: 'run', Env: { PORT: 80 }, RunConfig: { CPUs: '2', Ports: [8080] } });

    expect(error.issues).toEqual([
      { path: 'Args', message: '"run" has the wrong JSON type. Expected an array of strings.' },
      { path: 'Env', message: '{"PORT":80} has the wrong JSON type. Expected an object of string values.' },
      { path: 'RunConfig.CPUs', message: '"2" has the wrong JSON type. Expected a whole number.' },
      { path: 'RunConfig.Ports', message: '[8080] has the wrong JSON type. Expected an array of strings.' },
    ]);
  });

  it('rejects a negative CPU count', () => {
    const error = errorOf({ RunConfig: { CPUs: -1 } });

    expect(error.issues).toEqual([
      { path: 'RunConfig.CPUs', message: '-1 is invalid. Expected 0 (the default, 1 CPU) or a whole number from 1 to 255. Example: 2.' },
    ]);
  });

  it('rejects a port that is not a number', () => {
    const error = errorOf({ RunConfig: { UDPPorts: ['53', 'dns'] } });

    expect(error.issues).toEqual([
      {
        path: 'RunConfig.UDPPorts[1]',
        message: '"dns" is not an OPS port. Expected a port number or "HOST-GUEST", several separated by commas. Example: "8080" or "8081-80".',
      },
    ]);
  });

  it('names the OPS field of an out-of-range port', () => {
    const error = errorOf({ RunConfig: { Ports: ['80', '70000'] } });

    expect(error.issues[0]?.path).toBe('RunConfig.Ports[1]');
    expect(error.issues[0]?.message).toContain('uses port 70000, outside 1-65535');
  });

  it('rejects invalid sizes', () => {
    expect(errorOf({ BaseVolumeSz: '64 MB' }).issues[0]).toEqual({
      path: 'BaseVolumeSz',
      message: '"64 MB" is not an OPS size. Expected whole digits with an optional unit k, m or g (powers of 1024), as ops reads it. Example: "64m".',
    });
    expect(errorOf({ RunConfig: { Memory: 'lots' } }).issues[0]?.path).toBe('RunConfig.Memory');
  });

  it('rejects Memory below the boot minimum', () => {
    const issue = errorOf({ RunConfig: { Memory: '8M' } }).issues[0];

    expect(issue?.path).toBe('RunConfig.Memory');
    expect(issue?.message).toContain('below the minimum of 16M that the Nanos kernel needs to boot');
  });

  it('rejects numbers in ManifestPassthrough as ops does', () => {
    const error = errorOf({ ManifestPassthrough: { exec_wait_for_ip4_secs: 5 } });

    expect(error.issues[0]?.path).toBe('ManifestPassthrough.exec_wait_for_ip4_secs');
    expect(error.issues[0]?.message).toContain('5 is a number');
  });

  it('names the OPS field of a path escape', () => {
    const error = errorOf({ Files: ['ok.txt', '../outside.txt'] });

    expect(error.issues[0]?.path).toBe('Files[1]');
    expect(error.issues[0]?.message).toContain(`"../outside.txt" leaves the project folder ${projectDir}`);
  });

  it('reports the JSON syntax error position', () => {
    const error = errorOf('{\n  "Args": ["a"]\n  "Env": {}\n}\n');

    expect(error.message).toContain(`invalid JSON at ${path.join(projectDir, 'config.json')}:3:3: expected "," or "}" after a property value`);
  });
});

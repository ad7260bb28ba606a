// How `-p` ports combine with the ports of a unikernel.json or an OPS
// config.json: real config files in a scratch folder, read by loadCliConfig.

import { afterAll, describe, expect, it } from 'vitest';

import { formatPortForward } from '../config';
import { Lab } from '../resolve/test-support/lab';
import { type ConfigCliOptions, loadCliConfig } from './config-options';
import { CliInputError } from './shared-options';

const lab = Lab.create('nxu-cli-ports-');
afterAll(() => lab.remove());

function options(overrides: Partial<ConfigCliOptions>): ConfigCliOptions {
  return { env: {}, port: [], file: [], dir: [], klib: [], ...overrides };
}

function portsOf(config: string | undefined, ports: string[]): string[] {
  const loaded = loadCliConfig(undefined, options({ ...(config !== undefined ? { config } : {}), port: ports }), () => {});
  return loaded.ports.map(formatPortForward);
}

function errorOf(config: string | undefined, ports: string[]): Error {
  try {
    portsOf(config, ports);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected loadCliConfig to fail');
}

describe('-p with unikernel.json', () => {
  const file = lab.path('unikernel.json');
  lab.write('unikernel.json', JSON.stringify({ ports: ['8080', '5353/udp', '9000:80'] }));

  it('adds -p ports after the file ports', () => {
    expect(portsOf(file, ['9090', '127.0.0.1:9091:91'])).toEqual(['8080/tcp', '5353/udp', '9000:80/tcp', '9090/tcp', '127.0.0.1:9091:91/tcp']);
  });

  it('merges repeats of file ports', () => {
    expect(portsOf(file, ['8080', '8080/tcp', '9000:80', '5353/udp'])).toEqual(['8080/tcp', '5353/udp', '9000:80/tcp']);
  });

  it('keeps file ports without -p', () => {
    expect(portsOf(file, [])).toEqual(['8080/tcp', '5353/udp', '9000:80/tcp']);
  });

  it('rejects a host port forwarded elsewhere', () => {
    const error = errorOf(file, ['9000:81']);

    expect(error).toBeInstanceOf(CliInputError);
    expect(error.message).toBe(
      `-p "9000:81" forwards host port 9000/tcp to guest port 81, but port "9000:80/tcp" of ${file} already forwards it to guest port 80. Keep one of them, or forward another host port with HOST:GUEST.`,
    );
  });

  it('rejects a host port on another address', () => {
    const error = errorOf(file, ['0.0.0.0:8080:8080']);

    expect(error).toBeInstanceOf(CliInputError);
    expect(error.message).toContain(`-p "0.0.0.0:8080:8080" listens on host port 8080/tcp at 0.0.0.0, but port "8080/tcp" of ${file} listens on it at the bind address`);
  });
});

describe('-p with the bind address written out', () => {
  it('merges it with the default bind address', () => {
    expect(portsOf(undefined, ['18081:8080', '127.0.0.1:18081:8080'])).toEqual(['18081:8080/tcp']);
  });

  it('rejects it under another --bind', () => {
    const run = () => loadCliConfig(undefined, options({ port: ['18081:8080', '127.0.0.1:18081:8080'], bind: '0.0.0.0' }), () => {});

    expect(run).toThrow(CliInputError);
    expect(run).toThrow('-p "127.0.0.1:18081:8080" listens on host port 18081/tcp at 127.0.0.1, but -p "18081:8080" listens on it at the bind address');
  });

  it('merges it with the config\'s bindAddress', () => {
    const file = lab.path('bind-all.json');
    lab.write('bind-all.json', JSON.stringify({ ports: ['8080'], bindAddress: '0.0.0.0' }));

    expect(portsOf(file, ['0.0.0.0:8080:8080'])).toEqual(['8080/tcp']);
  });
});

describe('-p with an OPS config.json', () => {
  const file = lab.path('ops/config.json');
  lab.write('ops/config.json', JSON.stringify({ Program: 'server', RunConfig: { Ports: ['8080'], UDPPorts: ['5353'] } }));

  it('appends -p ports to RunConfig.Ports', () => {
    expect(portsOf(file, ['9090', '8080'])).toEqual(['8080/tcp', '5353/udp', '9090/tcp']);
  });

  it('rejects a conflict with RunConfig.Ports', () => {
    const error = errorOf(file, ['8080:81']);

    expect(error).toBeInstanceOf(CliInputError);
    expect(error.message).toContain(`-p "8080:81" forwards host port 8080/tcp to guest port 81, but port "8080/tcp" of ${file} already forwards it to guest port 8080.`);
  });
});

describe('-p without a config', () => {
  it('merges identical -p ports', () => {
    expect(portsOf(undefined, ['8080', '8080', '8080/tcp', '8080:8080'])).toEqual(['8080/tcp']);
  });

  it('rejects two guest ports for one host port', () => {
    const error = errorOf(undefined, ['8080:80', '8080:81']);

    expect(error).toBeInstanceOf(CliInputError);
    expect(error.message).toBe(
      '-p "8080:81" forwards host port 8080/tcp to guest port 81, but -p "8080:80" already forwards it to guest port 80. Keep one of them, or forward another host port with HOST:GUEST.',
    );
  });

  it('rejects one host port on two addresses', () => {
    const error = errorOf(undefined, ['127.0.0.1:8080:80', '0.0.0.0:8080:80']);

    expect(error.message).toContain('-p "0.0.0.0:8080:80" listens on host port 8080/tcp at 0.0.0.0, but -p "127.0.0.1:8080:80" listens on it at 127.0.0.1.');
  });

  it('allows one port number for TCP and UDP', () => {
    expect(portsOf(undefined, ['5353:53/tcp', '5353:54/udp'])).toEqual(['5353:53/tcp', '5353:54/udp']);
  });

  it('rejects an invalid -p value', () => {
    const error = errorOf(undefined, ['localhost:8080']);

    expect(error).toBeInstanceOf(CliInputError);
    expect(error.message).toBe(
      'invalid -p value "localhost:8080": it has "localhost" where a port number belongs. Write PORT, HOST:GUEST or ADDRESS:HOST:GUEST, optionally followed by /tcp or /udp (for example 8080, 8080:80, 127.0.0.1:8080:80 or 5353/udp).',
    );
  });
});

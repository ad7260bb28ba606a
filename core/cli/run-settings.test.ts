// `run IMAGE` reads its settings from the command line without the config
// schema. These tests hold it to the schema: every value it accepts, the
// schema (through loadCliConfig) accepts with the same result, and every
// value the schema rejects, it leaves to the schema.

import { describe, expect, it } from 'vitest';

import { type ConfigCliOptions, loadCliConfig } from './config-options';
import { runSettingsFromCommandLine, type RunSettings } from './run-settings';

function options(overrides: Partial<ConfigCliOptions>): ConfigCliOptions {
  return { env: {}, port: [], file: [], dir: [], klib: [], ...overrides };
}

/** Returns the settings that loadCliConfig reads, or the message of its error. */
function fromSchema(cliOptions: ConfigCliOptions): RunSettings | string {
  try {
    const { source, ports, memoryBytes, cpus, accelerator, readiness, bindAddress } = loadCliConfig(undefined, cliOptions, () => {});
    return { source, ports, memoryBytes, cpus, accelerator, readiness, bindAddress };
  } catch (error) {
    return (error as Error).message;
  }
}

const CASES: Partial<ConfigCliOptions>[] = [
  {},
  { memory: '16M' },
  { memory: '15M' },
  { memory: '16777216B' },
  { memory: '2g' },
  { memory: '64MiB' },
  { memory: '1.5G' },
  { memory: '0' },
  { memory: 'lots' },
  { memory: '' },
  { memory: '99999999999999T' },
  { cpus: '1' },
  { cpus: '4' },
  { cpus: '0' },
  { cpus: '-1' },
  { cpus: '1.5' },
  { cpus: 'abc' },
  { cpus: '' },
  { cpus: '99999999999999999999' },
  { cpus: '255' },
  { cpus: '256' },
  { accel: 'tcg' },
  { accel: 'kvm' },
  { accel: 'hvf' },
  { accel: 'auto' },
  { accel: 'TCG' },
  { accel: 'xen' },
  { port: ['8080'] },
  { port: ['18080:8080', '5353/udp'] },
  { port: ['127.0.0.1:9000:80'], bind: '0.0.0.0' },
  { port: ['8080', '8080:8080/tcp'] },
];

describe('runSettingsFromCommandLine', () => {
  it.each(CASES)('agrees with the schema for %j', (overrides) => {
    const cliOptions = options(overrides);
    const expected = fromSchema(cliOptions);

    const quick = (() => {
      try {
        return runSettingsFromCommandLine(cliOptions);
      } catch (error) {
        return (error as Error).message;
      }
    })();

    if (typeof expected === 'string') {
      // Left to the schema (undefined) or rejected with the same message (-p values).
      if (quick !== undefined) expect(quick).toBe(expected);
    } else {
      expect(quick).toEqual(expected);
    }
  });

  it('reads the defaults without any option', () => {
    expect(runSettingsFromCommandLine(options({}))).toEqual({
      source: 'command-line options',
      ports: [],
      memoryBytes: 2 * 1024 ** 3,
      cpus: 1,
      accelerator: 'auto',
      readiness: undefined,
      bindAddress: '127.0.0.1',
    });
  });

  it('leaves memory below the minimum to the schema', () => {
    expect(runSettingsFromCommandLine(options({ memory: '15M' }))).toBeUndefined();
    expect(fromSchema(options({ memory: '15M' }))).toContain('is below the minimum of 16M');
  });

  it('rejects a conflicting -p itself', () => {
    expect(() => runSettingsFromCommandLine(options({ port: ['8080:80', '8080:81'] }))).toThrow('-p "8080:81"');
  });
});

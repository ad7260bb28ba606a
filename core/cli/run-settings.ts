// The settings `run` needs to boot an image that is already built: guest
// memory, CPUs, accelerator, port forwards, bind address and readiness.
//
// `run IMAGE` without --config reads these from the command line here,
// without the config schema: loading the schema (zod) takes Node about 30 ms,
// and everything `run` does before QEMU starts delays the guest by as much.
// Values are only accepted here when the schema accepts them too, and
// run-settings.test.ts compares both. For any other value the caller falls
// back to the schema, which rejects it with its usual message.

import { DEFAULT_BIND_ADDRESS, DEFAULT_CPUS, DEFAULT_MEMORY } from '../config/field-docs';
import { checkGuestMemory } from '../config/guest-memory';
import { ACCELERATORS, type Accelerator, type ResolvedUnikernelConfig } from '../config/resolved-config';
import { parseSize } from '../config/units';
import { MAX_CPUS } from '../qemu/command';
import { addCliPorts } from './cli-ports';
import type { ConfigCliOptions } from './config-options';

export type RunSettings = Pick<ResolvedUnikernelConfig, 'source' | 'ports' | 'memoryBytes' | 'cpus' | 'accelerator' | 'readiness' | 'bindAddress'>;

/**
 * Returns the run settings given by command-line options alone, or undefined
 * when a value is one the schema must judge (and most likely reject).
 * Throws CliInputError for a bad or conflicting `-p`, as loadCliConfig does.
 */
export function runSettingsFromCommandLine(options: ConfigCliOptions): RunSettings | undefined {
  const memory = parseSize(options.memory ?? DEFAULT_MEMORY);
  if (!memory.ok || checkGuestMemory(memory.value) !== undefined) return undefined;

  const cpus = options.cpus === undefined ? DEFAULT_CPUS : Number(options.cpus);
  if (options.cpus !== undefined && (!/^\d+$/.test(options.cpus) || cpus < 1 || cpus > MAX_CPUS)) return undefined;

  const accelerator = options.accel ?? 'auto';
  if (!isAccelerator(accelerator)) return undefined;

  const settings: RunSettings = {
    source: 'command-line options',
    ports: [],
    memoryBytes: memory.value,
    cpus,
    accelerator,
    readiness: undefined,
    bindAddress: DEFAULT_BIND_ADDRESS,
  };
  return addCliPorts(settings, options.port, options.bind);
}

function isAccelerator(value: string): value is Accelerator {
  return (ACCELERATORS as readonly string[]).includes(value);
}

// The `-p` option of `build` and `run`: forwards added after the config's.

import { formatPortForward, mergeNamedPortForwards, parsePortSpec, PORT_SPEC_FORMS, type PortForward } from '../config/port-spec';
import { CliInputError } from './shared-options';

/** The part of a configuration that `-p` changes. */
export interface PortSettings {
  readonly source: string;
  readonly ports: readonly PortForward[];
  readonly bindAddress: string;
}

/**
 * Adds the `-p` forwards after the config's, as `ops run -p` appends to
 * RunConfig.Ports (MergeToConfig in ops:cmd/flags_run_local_instance.go).
 * An exact repeat forwards once, also when one entry names the bind address
 * and the other leaves it out. A host port that two entries forward
 * differently is rejected with CliInputError naming both.
 */
export function addCliPorts<T extends PortSettings>(config: T, specs: readonly string[], bind: string | undefined): T {
  if (specs.length === 0) return config;

  const fromConfig = config.ports.map((forward) => ({ forward, name: `port "${formatPortForward(forward)}" of ${config.source}` }));
  const fromCommandLine = specs.map((spec) => {
    const parsed = parsePortSpec(spec);
    if (!parsed.ok) throw new CliInputError(`invalid -p value ${JSON.stringify(spec)}: it ${parsed.reason}. Write ${PORT_SPEC_FORMS}.`);
    return { forward: parsed.value, name: `-p ${JSON.stringify(spec)}` };
  });

  const entries = [...fromConfig, ...fromCommandLine];
  // Both the config's bindAddress and --bind are known here, so an address equal to the effective one is no conflict.
  const { forwards, conflicts } = mergeNamedPortForwards(entries, bind ?? config.bindAddress);
  if (conflicts.length > 0) {
    throw new CliInputError(conflicts.map((conflict) => `${entries[conflict.index]?.name} ${conflict.reason}`).join('\n'));
  }
  return { ...config, ports: forwards };
}

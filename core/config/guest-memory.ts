// The guest memory check that the config schema and `run IMAGE`'s own reading
// of the command line share.

import { MIN_MEMORY_MIB } from '../qemu/command';

const ONE_MIB = 1024 ** 2;

/** Returns why `bytes` of guest memory cannot boot the Nanos kernel (see MIN_MEMORY_MIB), or undefined when it can. */
export function checkGuestMemory(bytes: number): string | undefined {
  if (bytes < MIN_MEMORY_MIB * ONE_MIB) {
    return `is below the minimum of ${MIN_MEMORY_MIB}M that the Nanos kernel needs to boot: use "${MIN_MEMORY_MIB}M" or more`;
  }
  return undefined;
}

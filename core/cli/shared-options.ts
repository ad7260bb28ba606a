// Options that `build` and `run` share, and the one way both report failures.

import { Command, InvalidArgumentError } from 'commander';
import type { LogLine } from './log';

export function addConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'unikernel.json, or an OPS config.json, to read options from')
    .option('-a, --args <arg...>', 'arguments passed to the program')
    .option('-e, --env <name=value>', 'environment variable of the program (repeatable)', collectEnv, {})
    .option('-p, --port <spec>', 'forward a host port to the guest: 8080, 8080:80, 127.0.0.1:8080:80 or 5353/udp (repeatable, added to the ports of --config)', collect, [])
    .option('--file <path>', 'add a file: HOST or HOST:/image/path (repeatable)', collect, [])
    .option('--dir <path>', 'add a folder recursively: HOST or HOST:/image/path (repeatable)', collect, [])
    .option('--klib <name>', 'load a Nanos kernel library, e.g. strace (repeatable)', collect, [])
    .option('--library-path <list>', 'LD_LIBRARY_PATH of the program in the image (colon-separated folders)')
    .option('--sysroot <dir>', 'root folder the libraries come from (default /)')
    .option('--kernel-dir <dir>', 'Nanos release folder with kernel.img, boot.img and klibs/')
    .option('--nanos-version <version>', 'Nanos release to use, e.g. 0.1.55')
    .option('--image-size <size>', 'total image size, e.g. 128m')
    .option('--free-space <size>', 'free space left in the image for the program to write, e.g. 64m')
    .option('--memory <size>', 'guest memory, e.g. 512M')
    .option('--cpus <count>', 'guest CPUs')
    .option('--accel <name>', 'accelerator: auto, kvm, hvf or tcg');
}

/** Invalid command-line input found by the CLI itself, such as a file that is neither a program nor an image. */
export class CliInputError extends Error {
  override readonly name = 'CliInputError';
}

// The engine's error classes, by name: checking the name keeps this module from
// loading every engine module at start-up, which the CLI's start time pays for.
const USER_ERRORS = new Set([
  'BuildError',
  'CliInputError',
  'ConfigError',
  'ConfigFileError',
  'ElfError',
  'KernelReleaseError',
  'NanosImageError',
  'QemuError',
  'ResolveError',
  'SysrootPlanError',
]);

/** Prints a known error as one clear message and returns the exit status; unknown errors are bugs and are re-thrown. */
export function reportFailure(log: LogLine, error: unknown): number {
  if (!(error instanceof Error) || !USER_ERRORS.has(error.name)) throw error;
  log(`error: ${error.message}`);
  const missingLibraries = error.name === 'BuildError' && (error as { resolution?: unknown }).resolution !== undefined;
  return missingLibraries ? 1 : 2;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function collectEnv(value: string, previous: Record<string, string>): Record<string, string> {
  const equals = value.indexOf('=');
  if (equals <= 0) throw new InvalidArgumentError(`"${value}" is not NAME=VALUE, e.g. --env PORT=8080`);
  return { ...previous, [value.slice(0, equals)]: value.slice(equals + 1) };
}

// Turns `build` and `run` command-line options plus an optional config file
// (unikernel.json or an OPS config.json) into one normalized configuration.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseJsonText, parseUnikernelConfig, readOpsConfig, type ResolvedUnikernelConfig } from '../config';
import { MAX_CPUS } from '../qemu/command';
import { addCliPorts } from './cli-ports';
import { checkProgramNotInArgs } from './program-in-args';
import { CliInputError } from './shared-options';

export interface ConfigCliOptions {
  config?: string;
  args?: string[];
  env: Record<string, string>;
  port: string[];
  file: string[];
  dir: string[];
  sysroot?: string;
  kernelDir?: string;
  nanosVersion?: string;
  imageSize?: string;
  freeSpace?: string;
  memory?: string;
  cpus?: string;
  accel?: string;
  klib: string[];
  libraryPath?: string;
  /** The run command's --bind; build has no such option. */
  bind?: string;
}

/** Reads the config file, if any, and lays the command-line values over it. The `-p` ports are added to the file's. */
export function loadCliConfig(program: string | undefined, options: ConfigCliOptions, log: (line: string) => void): ResolvedUnikernelConfig {
  const config = addCliPorts(loadConfigAndOverrides(program, options, log), options.port, options.bind);
  checkProgramNotInArgs(program, options.args, config.program);
  return config;
}

function loadConfigAndOverrides(program: string | undefined, options: ConfigCliOptions, log: (line: string) => void): ResolvedUnikernelConfig {
  if (options.config === undefined) {
    return parseUnikernelConfig(overrides(program, options, true), { file: 'command-line options', baseDir: process.cwd() });
  }

  const file = path.resolve(options.config);
  // Read once: the file may be a pipe, as in -c <(generate-config).
  const text = readConfigText(file);
  const json = parseJsonText(text, file);
  if (isOpsConfig(json)) return loadOpsConfig(file, text, program, options, log);

  const merged: Record<string, unknown> = { ...configObject(json, file), ...overrides(program, options, false) };
  return parseUnikernelConfig(merged, { file });
}

/** OPS configs use Go field names (Args, Env, RunConfig); ours use camelCase. */
function isOpsConfig(json: unknown): boolean {
  if (json === null || typeof json !== 'object') return false;
  return Object.keys(json).some((key) => /^[A-Z]/.test(key));
}

function loadOpsConfig(file: string, text: string, program: string | undefined, options: ConfigCliOptions, log: (line: string) => void): ResolvedUnikernelConfig {
  const { config, warnings } = readOpsConfig(file, text);
  for (const warning of warnings) log(`warning: ${warning}`);
  const cli = overrides(program, options, true);
  if (Object.keys(cli).length === 0) return config;

  // Command-line values are validated by the same schema, then laid over the OPS values.
  const parsed = parseUnikernelConfig(cli, { file: 'command-line options', baseDir: process.cwd() });
  return {
    ...config,
    ...(cli['program'] !== undefined ? { program: parsed.program } : {}),
    ...(cli['args'] !== undefined ? { args: parsed.args } : {}),
    env: { ...config.env, ...parsed.env },
    files: [...config.files, ...parsed.files],
    dirs: [...config.dirs, ...parsed.dirs],
    klibs: [...new Set([...config.klibs, ...parsed.klibs])],
    ...(cli['sysroot'] !== undefined ? { sysroot: parsed.sysroot } : {}),
    ...(cli['kernelDir'] !== undefined ? { kernelDir: parsed.kernelDir } : {}),
    ...(cli['nanosVersion'] !== undefined ? { nanosVersion: parsed.nanosVersion } : {}),
    ...(cli['imageSize'] !== undefined || cli['freeSpace'] !== undefined ? { imageSizing: parsed.imageSizing } : {}),
    ...(cli['memory'] !== undefined ? { memoryBytes: parsed.memoryBytes } : {}),
    ...(cli['cpus'] !== undefined ? { cpus: parsed.cpus } : {}),
    ...(cli['accelerator'] !== undefined ? { accelerator: parsed.accelerator } : {}),
  };
}

/** Returns the command-line values in unikernel.json form, leaving absent options out. addCliPorts merges `-p`. */
function overrides(program: string | undefined, options: ConfigCliOptions, relativeToCwd: boolean): Record<string, unknown> {
  const absolute = (value: string) => (relativeToCwd ? value : path.resolve(value));
  const result: Record<string, unknown> = {};
  if (program !== undefined) result['program'] = relativeToCwd ? program : path.resolve(program);
  if (options.args !== undefined) result['args'] = options.args;
  const env = options.libraryPath === undefined ? options.env : { ...options.env, LD_LIBRARY_PATH: options.libraryPath };
  if (Object.keys(env).length > 0) result['env'] = env;
  if (options.file.length > 0) result['files'] = options.file.map(splitCopy);
  if (options.dir.length > 0) result['dirs'] = options.dir.map(splitCopy);
  if (options.klib.length > 0) result['klibs'] = options.klib;
  if (options.sysroot !== undefined) result['sysroot'] = absolute(options.sysroot);
  if (options.kernelDir !== undefined) result['kernelDir'] = absolute(options.kernelDir);
  if (options.nanosVersion !== undefined) result['nanosVersion'] = options.nanosVersion;
  if (options.imageSize !== undefined) result['imageSize'] = options.imageSize;
  if (options.freeSpace !== undefined) result['freeSpace'] = options.freeSpace;
  if (options.memory !== undefined) result['memory'] = options.memory;
  if (options.cpus !== undefined) result['cpus'] = parseCpus(options.cpus);
  if (options.accel !== undefined) result['accelerator'] = options.accel;
  return result;
}

/** `host` or `host:/image/path` from the command line. */
function splitCopy(value: string): string | { from: string; to: string } {
  const separator = value.indexOf(':/');
  if (separator <= 0) return value;
  return { from: value.slice(0, separator), to: value.slice(separator + 1) };
}

/**
 * Parses --cpus here, because the schema would show Number("abc") as null and
 * a number beyond 2^53 rounded, instead of the text given.
 */
function parseCpus(text: string): number {
  if (!/^\d+$/.test(text)) {
    throw new CliInputError(`invalid --cpus ${JSON.stringify(text)}: give a whole number from 1 to ${MAX_CPUS}, e.g. --cpus 2`);
  }
  const cpus = Number(text);
  if (cpus > MAX_CPUS) {
    throw new CliInputError(`invalid --cpus ${JSON.stringify(text)}: it is above ${MAX_CPUS}, the maximum number of CPUs nx-unikernel gives a VM. Give a whole number from 1 to ${MAX_CPUS}, e.g. --cpus 2`);
  }
  return cpus;
}

/** Checks that a unikernel.json's top level is an object, so the command-line values can be laid over it. */
function configObject(json: unknown, file: string): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    const found = json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`;
    throw new CliInputError(`invalid config ${file}: its content is ${found}, but the config must be a JSON object, e.g. {"program": "dist/server"}`);
  }
  return json as Record<string, unknown>;
}

/** Reads the --config file, with CliInputError naming the file for a missing one, a folder or another read error. */
function readConfigText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    let reason = `it cannot be read (${code})`;
    if (code === 'ENOENT') reason = 'it does not exist';
    if (code === 'EISDIR') reason = 'it is a folder';
    throw new CliInputError(`invalid --config ${file}: ${reason}. Give the path of a unikernel.json or an OPS config.json file.`);
  }
}

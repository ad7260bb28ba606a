// Turns the raw options of an nx-unikernel target into one resolved
// configuration: the project's config file, with any unikernel.json keys given
// as target options laid over it and validated by the same schema.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ExecutorContext } from '@nx/devkit';

import { ConfigError, ConfigFileError, loadProjectConfig, parseJsonText, parseUnikernelConfig, UNIKERNEL_CONFIG_FILE, type ResolvedUnikernelConfig } from '../../core/config';
import { UNIKERNEL_CONFIG_KEYS } from '../../core/config/schema';
import { imageBaseName } from '../../plugin/targets';

/** Options every nx-unikernel executor accepts besides the unikernel.json keys. */
export interface CommonExecutorOptions {
  /** unikernel.json (or OPS config.json with `ops`), relative to the workspace root. Default: `unikernel.json` in the project root. */
  config?: string;
  /** Read `config` as an OPS config.json. */
  ops?: boolean;
  /** Image file, relative to the workspace root. Default: `dist/unikernel/<project folder>.img` in the project root. */
  outputPath?: string;
  /** Node.js binary for a JavaScript or TypeScript entry; a path inside the sysroot. Default: the node running Nx. */
  nodeBinary?: string;
}

export interface NormalizedOptions {
  projectName: string;
  projectRoot: string;
  /** Absolute project folder. */
  projectDir: string;
  configFile: string;
  config: ResolvedUnikernelConfig;
  /** Absolute image path. */
  image: string;
  nodeBinary: string;
  /** Lines to log, such as OPS fields that were ignored. */
  warnings: string[];
}

/** Option names that belong to the executors, not to unikernel.json. */
const EXECUTOR_KEYS = new Set(['config', 'ops', 'outputPath', 'image', 'nodeBinary', 'bind', 'readyPath', 'readyTimeout']);

/** Reads and validates the configuration of the task's project; throws ConfigError or ConfigFileError with the fix. */
export function normalizeOptions(options: CommonExecutorOptions & Record<string, unknown>, context: ExecutorContext, imageOption?: string): NormalizedOptions {
  const projectName = context.projectName;
  const project = projectName === undefined ? undefined : context.projectsConfigurations.projects[projectName];
  if (projectName === undefined || project === undefined) {
    throw new ConfigFileError('not-found', context.root, `nx-unikernel executors run for one project, but this task has none (project ${String(projectName)}); run them as a project target, e.g. nx run app:unikernel.`);
  }

  const projectRoot = project.root.replace(/\\/g, '/');
  const projectDir = path.resolve(context.root, projectRoot);
  const source = `options of target ${projectName}:${context.targetName ?? '?'}`;
  const configFile = path.resolve(context.root, options.config ?? path.join(projectRoot, UNIKERNEL_CONFIG_FILE));
  const overrides = pickConfigOverrides(options, source);

  const warnings: string[] = [];
  let config: ResolvedUnikernelConfig;
  if (options.ops) {
    const loaded = loadProjectConfig(path.dirname(configFile), { ops: path.basename(configFile) });
    warnings.push(...loaded.warnings);
    config = overlay(loaded.config, overrides, source, projectDir);
  } else {
    const text = readConfigText(configFile, projectDir);
    const fromFile = parseJsonText(text, configFile) as Record<string, unknown>;
    if (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new ConfigError(configFile, [{ path: '', message: 'the file must contain a JSON object, e.g. { "program": "dist/server" }' }]);
    }
    config = parseUnikernelConfig({ ...fromFile, ...overrides }, { file: configFile });
  }

  const defaultImage = path.join(projectRoot, 'dist', 'unikernel', `${imageBaseName(projectRoot)}.img`);
  const image = path.resolve(context.root, imageOption ?? options.outputPath ?? defaultImage);
  return {
    projectName,
    projectRoot,
    projectDir,
    configFile,
    config,
    image,
    nodeBinary: options.nodeBinary ?? process.execPath,
    warnings,
  };
}

/** Picks the unikernel.json keys from the options and rejects any other unknown key, listing the valid ones. */
export function pickConfigOverrides(options: Record<string, unknown>, source: string): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (EXECUTOR_KEYS.has(key) || value === undefined) continue;
    if (UNIKERNEL_CONFIG_KEYS.includes(key)) overrides[key] = value;
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    const valid = [...EXECUTOR_KEYS, ...UNIKERNEL_CONFIG_KEYS.filter((key) => key !== '$schema')].join(', ');
    throw new ConfigError(
      source,
      unknown.map((key) => ({ path: key, message: `is not an option of nx-unikernel; remove it or use one of: ${valid}` })),
    );
  }
  return overrides;
}

function readConfigText(file: string, projectDir: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigFileError(
        'not-found',
        file,
        `No config file ${file} for the project in ${projectDir}; create it with at least { "program": "<path of the ELF program>" } (nx g nx-unikernel:configuration does), or set the target's config option.`,
        { cause: error },
      );
    }
    throw new ConfigFileError('unreadable', file, `Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Lays option values over an OPS config; each key given replaces the file's value. */
function overlay(config: ResolvedUnikernelConfig, overrides: Record<string, unknown>, source: string, projectDir: string): ResolvedUnikernelConfig {
  if (Object.keys(overrides).length === 0) return config;
  const parsed = parseUnikernelConfig(overrides, { file: source, baseDir: projectDir });
  const keyToFields: Record<string, (keyof ResolvedUnikernelConfig)[]> = {
    program: ['program'],
    args: ['args'],
    env: ['env'],
    files: ['files'],
    dirs: ['dirs'],
    mapDirs: ['mapDirs'],
    klibs: ['klibs'],
    ports: ['ports'],
    memory: ['memoryBytes'],
    cpus: ['cpus'],
    accelerator: ['accelerator'],
    imageSize: ['imageSizing'],
    freeSpace: ['imageSizing'],
    nanosVersion: ['nanosVersion'],
    kernelDir: ['kernelDir'],
    klibDir: ['klibDir'],
    sysroot: ['sysroot'],
    cwd: ['cwd'],
    readiness: ['readiness'],
    bindAddress: ['bindAddress'],
    manifest: ['manifest'],
  };
  const result: Record<string, unknown> = { ...config };
  for (const key of Object.keys(overrides)) {
    for (const field of keyToFields[key] ?? []) result[field] = parsed[field];
  }
  return result as unknown as ResolvedUnikernelConfig;
}

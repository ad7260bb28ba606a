// The inference plugin: adds the unikernel targets to every existing project
// (one with project.json or package.json) that has a unikernel.json, or an OPS
// config.json when the `ops` option is on.
//
// It reads only small JSON files, spawns nothing and keeps results per project
// root keyed by a hash of those files and the options, because Nx runs
// createNodes before every command (https://nx.dev/docs/extending-nx/performant-project-graph-plugins).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { createNodesFromFiles, type CreateNodes, type CreateNodesContext, type CreateNodesResult } from '@nx/devkit';

import { workspaceDataDirectory } from './nx-internals';
import { normalizePluginOptions, type NormalizedPluginOptions, type UnikernelPluginOptions } from './options';
import { createUnikernelTargets } from './targets';

export const CONFIG_GLOB = '**/{unikernel.json,config.json}';

/** Bumped when the inferred targets change shape, so stale cache entries are ignored. */
const INFERENCE_CACHE_VERSION = '2';

type CachedResults = Record<string, CreateNodesResult>;

export const createNodes: CreateNodes<UnikernelPluginOptions> = [
  CONFIG_GLOB,
  async (configFiles, rawOptions, context) => {
    const options = normalizePluginOptions(rawOptions);
    const nxMajor = installedNxMajor(context.workspaceRoot);
    const cacheFile = inferenceCacheFile(context.workspaceRoot, options);
    const previous = readCache(cacheFile);
    // Only this run's entries are written back, so removed projects drop out of the file.
    const current: CachedResults = {};
    const selected = selectConfigFiles(configFiles, options, context.workspaceRoot);

    try {
      // createNodesFromFiles runs every file and raises one AggregateCreateNodesError
      // listing the failures, so one project's unreadable file does not hide the others.
      return await createNodesFromFiles((file, _options, ctx) => inferProject(file, options, ctx, nxMajor, previous, current), selected, options, context);
    } finally {
      writeCache(cacheFile, current);
    }
  },
];

/**
 * Keeps unikernel.json files, and config.json files only with the `ops` option
 * and only where no unikernel.json sits beside them.
 */
export function selectConfigFiles(configFiles: readonly string[], options: NormalizedPluginOptions, workspaceRoot: string): string[] {
  return configFiles.filter((file) => {
    const base = path.posix.basename(file);
    if (base === 'unikernel.json') return true;
    if (base !== 'config.json' || !options.ops) return false;
    return !existsSync(path.join(workspaceRoot, path.posix.dirname(file), 'unikernel.json'));
  });
}

/** Returns whether `text` is a JSON object with a string `Program`, as an OPS config.json that names what to run. */
export function namesOpsProgram(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && typeof (value as { Program?: unknown }).Program === 'string';
  } catch {
    return false;
  }
}

function inferProject(
  configFile: string,
  options: NormalizedPluginOptions,
  context: CreateNodesContext,
  nxMajor: number,
  previous: CachedResults,
  current: CachedResults,
): CreateNodesResult {
  const projectRoot = path.posix.dirname(configFile.replace(/\\/g, '/'));
  const folder = path.join(context.workspaceRoot, projectRoot);
  const projectJson = readIfExists(path.join(folder, 'project.json'));
  const packageJson = readIfExists(path.join(folder, 'package.json'));
  // Only existing projects get targets; a config file elsewhere is not a project.
  if (projectJson === undefined && packageJson === undefined) return {};

  const configText = readFileSync(path.join(context.workspaceRoot, configFile), 'utf8');
  // Many tools use a file named config.json. An OPS one that can give an image names its Program.
  if (path.posix.basename(configFile) === 'config.json' && !namesOpsProgram(configText)) return {};
  const key = hashText([INFERENCE_CACHE_VERSION, JSON.stringify(options), String(nxMajor), configFile, configText, projectJson ?? '', packageJson ?? '']);
  const cached = previous[key];
  if (cached !== undefined) {
    current[key] = cached;
    return cached;
  }

  const format = path.posix.basename(configFile) === 'unikernel.json' ? 'unikernel' : 'ops';
  const targets = createUnikernelTargets(options, {
    projectRoot,
    configFile: path.posix.basename(configFile),
    format,
    ports: readPorts(configText, format),
    nxMajor,
  });
  const result: CreateNodesResult = { projects: { [projectRoot]: { targets } } };
  current[key] = result;
  return result;
}

/** Returns the forwarded ports as written, for the serve target's description. An unreadable file gives none, and the executor reports it. */
function readPorts(configText: string, format: 'unikernel' | 'ops'): string[] {
  const config = parseObject(configText);
  if (config === undefined) return [];
  const ports = format === 'unikernel' ? config['ports'] : (config['RunConfig'] as Record<string, unknown> | undefined)?.['Ports'];
  return Array.isArray(ports) ? ports.map((port) => String(port)) : [];
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function hashText(parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return hash.digest('hex');
}

let nxMajorByRoot: Map<string, number> | undefined;

/** Major version of the installed `nx` package; 0 when it cannot be read. */
export function installedNxMajor(workspaceRoot: string): number {
  nxMajorByRoot ??= new Map();
  const known = nxMajorByRoot.get(workspaceRoot);
  if (known !== undefined) return known;
  let major = 0;
  // The workspace's own nx first; a generator running on an in-memory tree falls back to the nx running it.
  for (const paths of [[workspaceRoot], undefined]) {
    try {
      const manifest = require.resolve('nx/package.json', paths === undefined ? undefined : { paths });
      major = Number.parseInt((JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version, 10) || 0;
      break;
    } catch {
      major = 0;
    }
  }
  nxMajorByRoot.set(workspaceRoot, major);
  return major;
}

/** Returns the cache file in Nx's workspace data folder, one file per option set. */
function inferenceCacheFile(workspaceRoot: string, options: NormalizedPluginOptions): string {
  const dataDir = workspaceDataDirectory(workspaceRoot);
  return path.join(dataDir, `nx-unikernel-${hashText([JSON.stringify(options)]).slice(0, 16)}.hash`);
}

const memoryCache = new Map<string, CachedResults>();

function readCache(file: string): CachedResults {
  const inMemory = memoryCache.get(file);
  if (inMemory !== undefined) return inMemory;
  let cache: CachedResults = {};
  try {
    cache = JSON.parse(readFileSync(file, 'utf8')) as CachedResults;
  } catch {
    cache = {};
  }
  memoryCache.set(file, cache);
  return cache;
}

function writeCache(file: string, cache: CachedResults): void {
  memoryCache.set(file, cache);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(cache));
  } catch {
    // NOTE: a read-only workspace only loses the speed-up; inference itself succeeded.
  }
}

// Turns a schema-valid UnikernelConfig into a ResolvedUnikernelConfig: applies
// defaults, resolves host paths against the project folder, converts sizes to
// bytes and parses ports. Every problem is collected before one ConfigError.

import * as path from 'node:path';

import { ConfigError, type ConfigIssue, formatKeyPath, formatValue } from './errors';
import {
  DEFAULT_BIND_ADDRESS,
  DEFAULT_CPUS,
  DEFAULT_FREE_SPACE,
  DEFAULT_MEMORY,
  DEFAULT_READINESS_TIMEOUT_SECONDS,
  findFieldDoc,
} from './field-docs';
import { resolveProjectPath } from './project-paths';
import type { ImageCopy, ImageSizing, MappedDir, ResolvedUnikernelConfig } from './resolved-config';
import type { UnikernelConfig } from './schema';
import { mergeNamedPortForwards, type NamedPortForward, parsePortSpec, type PortForward } from './port-spec';
import { parseSize, roundUpToSector } from './units';

export interface ResolveContext {
  /** Configuration file, or a description for options given in code; named in errors. */
  readonly source: string;
  /** Absolute folder for relative host paths. */
  readonly projectDir: string;
  /** Names a key path in errors; readers of other formats map it to their own key names. */
  readonly describePath?: (keyPath: readonly PropertyKey[]) => string;
}

type CopyEntry = NonNullable<UnikernelConfig['files']>[number];

/** Resolves a configuration that passed the UnikernelConfig schema; throws ConfigError. */
export function resolveUnikernelConfig(config: UnikernelConfig, context: ResolveContext): ResolvedUnikernelConfig {
  const issues: ConfigIssue[] = [];
  const describePath = context.describePath ?? formatKeyPath;
  const report = (keyPath: readonly PropertyKey[], message: string): void => {
    issues.push({ path: describePath(keyPath), message });
  };

  // Host paths: relative ones against the project folder, which they may not leave.
  const hostPathAt = (keyPath: readonly PropertyKey[], written: string): string => {
    const resolved = resolveProjectPath(written, context.projectDir);
    if (!resolved.ok) {
      report(keyPath, `${formatValue(written)} ${resolved.reason}.`);
      return path.resolve(context.projectDir, written);
    }
    return resolved.value;
  };

  const sysroot = config.sysroot === undefined ? '/' : hostPathAt(['sysroot'], config.sysroot);
  const program = config.program === undefined ? undefined : resolveProgram(config.program, sysroot, hostPathAt);
  const files = (config.files ?? []).map((entry, index) => resolveCopy(entry, ['files', index], hostPathAt));
  const dirs = (config.dirs ?? []).map((entry, index) => resolveCopy(entry, ['dirs', index], hostPathAt));
  const mapDirs = resolveMapDirs(config.mapDirs ?? {}, hostPathAt, report);
  const ports = resolvePorts(config.ports ?? [], describePath, report);

  const resolved: ResolvedUnikernelConfig = {
    source: context.source,
    projectDir: context.projectDir,
    program,
    args: [...(config.args ?? [])],
    env: { ...config.env },
    files,
    dirs,
    mapDirs,
    klibs: [...new Set(config.klibs ?? [])],
    ports,
    memoryBytes: sizeInBytes(config.memory ?? DEFAULT_MEMORY),
    cpus: config.cpus ?? DEFAULT_CPUS,
    accelerator: config.accelerator ?? 'auto',
    imageSizing: resolveImageSizing(config),
    nanosVersion: config.nanosVersion,
    kernelDir: config.kernelDir === undefined ? undefined : hostPathAt(['kernelDir'], config.kernelDir),
    klibDir: config.klibDir === undefined ? undefined : hostPathAt(['klibDir'], config.klibDir),
    sysroot,
    cwd: config.cwd === undefined ? undefined : path.posix.normalize(config.cwd),
    readiness:
      config.readiness === undefined
        ? undefined
        : {
            httpPath: config.readiness.httpPath,
            timeoutSeconds: config.readiness.timeoutSeconds ?? DEFAULT_READINESS_TIMEOUT_SECONDS,
          },
    bindAddress: config.bindAddress ?? DEFAULT_BIND_ADDRESS,
    manifest: { ...config.manifest },
  };

  if (issues.length > 0) {
    throw new ConfigError(context.source, issues);
  }
  return resolved;
}

type HostPathResolver = (keyPath: readonly PropertyKey[], written: string) => string;

/**
 * Resolves the program. A relative program lands at the same relative path
 * under /, as with `ops run`, where `./bin/app` becomes `/bin/app`. An
 * absolute one is read inside the sysroot and keeps its path.
 */
function resolveProgram(written: string, sysroot: string, hostPathAt: HostPathResolver): ImageCopy {
  if (path.isAbsolute(written)) {
    return { hostPath: path.join(sysroot, written), imagePath: path.posix.normalize(written) };
  }
  return { hostPath: hostPathAt(['program'], written), imagePath: imagePathOf(written) };
}

function resolveCopy(entry: CopyEntry, keyPath: readonly PropertyKey[], hostPathAt: HostPathResolver): ImageCopy {
  if (typeof entry === 'string') {
    return { hostPath: hostPathAt(keyPath, entry), imagePath: imagePathOf(entry) };
  }
  return { hostPath: hostPathAt([...keyPath, 'from'], entry.from), imagePath: path.posix.normalize(entry.to) };
}

/** Returns the image path of a host path written in the config; relative paths go under /. */
function imagePathOf(written: string): string {
  const posixPath = written.split(path.sep).join('/');
  return path.posix.join('/', posixPath);
}

const PATTERN_CHARACTERS = /[*?[\]]/;

function resolveMapDirs(
  mapDirs: Record<string, string>,
  hostPathAt: HostPathResolver,
  report: (keyPath: readonly PropertyKey[], message: string) => void,
): MappedDir[] {
  const resolved: MappedDir[] = [];
  for (const [key, imageDir] of Object.entries(mapDirs)) {
    const slash = key.lastIndexOf('/');
    const folder = slash < 0 ? '.' : key.slice(0, slash) || '/';
    const pattern = key.slice(slash + 1);
    const doc = findFieldDoc('mapDirs{key}');
    const hint = `Expected ${doc.expected}. Example: ${doc.example}.`;

    if (pattern === '') {
      report(['mapDirs', key], `the key ${formatValue(key)} ends with /, so no file name matches it. ${hint}`);
      continue;
    }
    if (PATTERN_CHARACTERS.test(folder)) {
      report(['mapDirs', key], `the key ${formatValue(key)} has pattern characters in its folder part ${formatValue(folder)}. ${hint}`);
      continue;
    }
    resolved.push({ hostDir: hostPathAt(['mapDirs', key], folder), pattern, imagePath: path.posix.normalize(imageDir) });
  }
  return resolved;
}

/** Parses the port specs and merges repeats (see mergeNamedPortForwards), reporting each conflict at the later entry. */
function resolvePorts(
  specs: ReadonlyArray<number | string>,
  describePath: (keyPath: readonly PropertyKey[]) => string,
  report: (keyPath: readonly PropertyKey[], message: string) => void,
): PortForward[] {
  const entries: Array<NamedPortForward & { spec: number | string; index: number }> = [];
  specs.forEach((spec, index) => {
    const parsed = parsePortSpec(spec);
    if (!parsed.ok) {
      report(['ports', index], `${formatValue(spec)} ${parsed.reason}.`);
      return;
    }
    entries.push({ forward: parsed.value, name: `${describePath(['ports', index])} (${formatValue(spec)})`, spec, index });
  });

  const { forwards, conflicts } = mergeNamedPortForwards(entries);
  for (const conflict of conflicts) {
    const entry = entries[conflict.index];
    if (entry !== undefined) report(['ports', entry.index], `${formatValue(entry.spec)} ${conflict.reason}`);
  }
  return forwards;
}

function resolveImageSizing(config: UnikernelConfig): ImageSizing {
  if (config.imageSize !== undefined) {
    return { kind: 'total', bytes: roundUpToSector(sizeInBytes(config.imageSize)) };
  }
  return { kind: 'free-space', bytes: roundUpToSector(sizeInBytes(config.freeSpace ?? DEFAULT_FREE_SPACE)) };
}

/** Converts a size string that the schema already accepted. */
function sizeInBytes(text: string): number {
  const parsed = parseSize(text);
  if (!parsed.ok) {
    throw new Error(`size ${JSON.stringify(text)} passed the schema but does not parse: ${parsed.reason}`);
  }
  return parsed.value;
}

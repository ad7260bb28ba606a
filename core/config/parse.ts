// Entry point for unikernel.json content: schema check, then resolution.

import * as path from 'node:path';

import { ConfigError } from './errors';
import { resolveUnikernelConfig } from './resolve-config';
import type { ResolvedUnikernelConfig } from './resolved-config';
import { UNIKERNEL_CONFIG_KEYS, UnikernelConfig } from './schema';
import { describeIssues, type KnownKeys } from './zod-issues';

export interface ParseConfigOptions {
  /**
   * Path of the configuration file, named in errors; relative paths inside it
   * resolve against its folder. With `baseDir`, any text that names the source
   * in errors, such as "options of target app:image".
   */
  readonly file: string;
  /** Folder for relative paths when it is not the folder of `file`, e.g. the project root for options from code. */
  readonly baseDir?: string;
}

/** Keys of every strict object in the schema, by key pattern, for unknown-key messages. */
export const KNOWN_KEYS: KnownKeys = {
  '': UNIKERNEL_CONFIG_KEYS,
  'files[]': ['from', 'to'],
  'dirs[]': ['from', 'to'],
  readiness: ['httpPath', 'timeoutSeconds'],
};

/**
 * Validates a parsed unikernel.json value (or the same options from code)
 * and returns it normalized. Throws ConfigError listing every problem.
 */
export function parseUnikernelConfig(json: unknown, options: ParseConfigOptions): ResolvedUnikernelConfig {
  const source = options.baseDir === undefined ? path.resolve(options.file) : options.file;
  const projectDir = path.resolve(options.baseDir ?? path.dirname(source));

  const result = UnikernelConfig.safeParse(json);
  if (!result.success) {
    throw new ConfigError(source, describeIssues(result.error.issues, json, KNOWN_KEYS));
  }

  return resolveUnikernelConfig(result.data, { source, projectDir });
}

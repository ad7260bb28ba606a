// Finds and reads the configuration beside a project: unikernel.json, or an
// OPS config.json when the caller asks for one.

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { ConfigFileError } from './errors';
import { parseJsonText } from './json-text';
import { readOpsConfig } from './ops-config';
import { parseUnikernelConfig } from './parse';
import type { ResolvedUnikernelConfig } from './resolved-config';

export const UNIKERNEL_CONFIG_FILE = 'unikernel.json';

export const OPS_CONFIG_FILE = 'config.json';

export interface LoadProjectConfigOptions {
  /**
   * Read an OPS config.json instead of unikernel.json: `true` for
   * `config.json` in the project folder, or a path relative to it.
   */
  readonly ops?: boolean | string;
}

export interface LoadedProjectConfig {
  readonly file: string;
  readonly format: 'unikernel' | 'ops';
  readonly config: ResolvedUnikernelConfig;
  /** Notes about OPS fields that are ignored or read differently; empty for unikernel.json. */
  readonly warnings: string[];
}

/** Reads the project's configuration file; throws ConfigFileError when it is missing and ConfigError when it is invalid. */
export function loadProjectConfig(projectDir: string, options: LoadProjectConfigOptions = {}): LoadedProjectConfig {
  const folder = path.resolve(projectDir);

  if (options.ops) {
    const file = path.resolve(folder, options.ops === true ? OPS_CONFIG_FILE : options.ops);
    readText(file, `OPS config file ${file} does not exist; check the path given for it.`);
    const { config, warnings } = readOpsConfig(file);
    return { file, format: 'ops', config, warnings };
  }

  const file = path.join(folder, UNIKERNEL_CONFIG_FILE);
  const opsFile = path.join(folder, OPS_CONFIG_FILE);
  const opsHint = existsSync(opsFile) ? ` The folder has an OPS ${OPS_CONFIG_FILE}; ask for it to be read instead (the ops option).` : '';
  const text = readText(file, `No ${UNIKERNEL_CONFIG_FILE} in ${folder}; create it with at least { "program": "<path of the ELF program>" }.${opsHint}`);
  const config = parseUnikernelConfig(parseJsonText(text, file), { file });
  return { file, format: 'unikernel', config, warnings: [] };
}

/** Reads a UTF-8 file; throws ConfigFileError with `notFoundMessage` when it does not exist. */
function readText(file: string, notFoundMessage: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigFileError('not-found', file, notFoundMessage, { cause: error });
    }
    throw new ConfigFileError('unreadable', file, `Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

// Reads an existing OPS config.json without changes to it, so a project that
// already runs under `ops run -c config.json` can move over as it is. The
// field mapping and the OPS quirks it handles are described in ops-mapping.ts.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { ConfigError, formatKeyPath } from './errors';
import { parseJsonText } from './json-text';
import { decodeOpsJson, OPS_CONFIG } from './ops-fields';
import { mapOpsConfig } from './ops-mapping';
import { KNOWN_KEYS } from './parse';
import { resolveUnikernelConfig } from './resolve-config';
import type { ResolvedUnikernelConfig } from './resolved-config';
import { UnikernelConfig } from './schema';
import { describeIssues } from './zod-issues';

export interface OpsConfigResult {
  readonly config: ResolvedUnikernelConfig;
  /** Fields that are ignored or read differently from ops, one sentence each, starting with the file. */
  readonly warnings: string[];
}

/**
 * Reads OPS's config.json (or parses `text`, its content when the caller has
 * already read it) and returns it as a normalized unikernel config.
 * Relative paths resolve against the file's folder. Throws ConfigError for
 * invalid JSON, unknown or mistyped fields (which ops rejects as well) and
 * values that have no valid meaning.
 */
export function readOpsConfig(file: string, text?: string): OpsConfigResult {
  const source = path.resolve(file);
  const json = parseJsonText(text ?? readFileSync(source, 'utf8'), source);

  const decoded = decodeOpsJson(json, OPS_CONFIG);
  if (decoded.issues.length > 0) {
    throw new ConfigError(source, decoded.issues);
  }

  const mapping = mapOpsConfig(decoded.decoded, source);
  if (mapping.issues.length > 0) {
    throw new ConfigError(source, mapping.issues);
  }

  // Errors found in the mapped options name the OPS field they came from.
  const describePath = (keyPath: readonly PropertyKey[]): string => {
    for (let length = keyPath.length; length > 0; length--) {
      const origin = mapping.origins.get(formatKeyPath(keyPath.slice(0, length)));
      if (origin !== undefined) {
        return origin;
      }
    }
    return formatKeyPath(keyPath);
  };

  const checked = UnikernelConfig.safeParse(mapping.config);
  if (!checked.success) {
    throw new ConfigError(source, describeIssues(checked.error.issues, mapping.config, KNOWN_KEYS, describePath));
  }

  const config = resolveUnikernelConfig(checked.data, { source, projectDir: path.dirname(source), describePath });
  return { config, warnings: mapping.warnings };
}

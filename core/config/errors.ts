// The one error type of configuration loading. The message lists every
// problem found in the file, each with its key path, the value, the reason
// and the expected form, so one run shows everything to fix.

/** One problem in a configuration file. */
export interface ConfigIssue {
  /** Key path inside the file, such as `ports[1]` or `readiness.httpPath`; empty for the whole file. */
  readonly path: string;
  /** Value, reason, expected form and example, as one or more sentences. */
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    /** The configuration file, or a description such as `unikernel options` for settings given in code. */
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(formatIssues(file, issues), options);
  }
}

function formatIssues(file: string, issues: readonly ConfigIssue[]): string {
  if (issues.length === 1 && issues[0]) {
    return `Invalid configuration in ${file}: ${formatIssue(issues[0])}`;
  }

  const lines = issues.map((issue) => `  - ${formatIssue(issue)}`);
  return [`Invalid configuration in ${file} (${issues.length} problems):`, ...lines].join('\n');
}

function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/**
 * Formats a key path the way JavaScript would address it: `files[2].to`,
 * `env.HOME`, or `mapDirs["src/*"]` for keys that are not identifiers.
 */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') {
      text += `[${segment}]`;
    } else {
      const key = String(segment);
      const isIdentifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key);
      if (isIdentifier) {
        text += text === '' ? key : `.${key}`;
      } else {
        text += `[${JSON.stringify(key)}]`;
      }
    }
  }
  return text;
}

/** Shows a configuration value in a message: JSON text, shortened to keep the line readable. */
export function formatValue(value: unknown): string {
  if (value === undefined) {
    return 'nothing';
  }

  const text = JSON.stringify(value) ?? String(value);
  const maxLength = 80;
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

/** Returns the value at `path` inside `root`, or undefined when a segment is missing. */
export function valueAtPath(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/** A configuration file that is missing or cannot be read. The message names the path that was tried. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';

  constructor(
    readonly code: 'not-found' | 'unreadable',
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

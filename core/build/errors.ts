// The error a build stops with. Its message is written for the user and
// carries the resolver's full report when libraries are missing.

import type { ResolveResult } from '../resolve/types';
import { formatMissing } from '../resolve/format-text';

export class BuildError extends Error {
  override readonly name = 'BuildError';

  /** Present when the build stopped because libraries could not be resolved. */
  resolution?: ResolveResult;

  static fromResolution(resolution: ResolveResult): BuildError {
    const errors = resolution.diagnostics.filter((diagnostic) => diagnostic.level === 'error').map((diagnostic) => `error: ${diagnostic.message}`);
    // formatMissing starts with "error: "; the CLI adds its own prefix.
    const report = formatMissing(resolution).trimEnd().replace(/^error: /, '');
    const error = new BuildError([report, ...errors].filter((part) => part !== '').join('\n'));
    error.resolution = resolution;
    return error;
  }
}

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
    const error = new BuildError([formatMissing(resolution).trimEnd(), ...errors].filter((part) => part !== '').join('\n'));
    error.resolution = resolution;
    return error;
  }
}

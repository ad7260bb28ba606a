// Resolves host paths written in a configuration file. A relative path must
// stay inside the project folder, both as written and after following
// symlinks, so a config copied from elsewhere cannot pull in files such as
// ~/.ssh keys by accident. An absolute path is taken as the author's intent.

import { existsSync, realpathSync } from 'node:fs';
import * as path from 'node:path';

import type { ParseResult } from './units';

const ESCAPE_FIX = 'give an absolute path if this is intended';

/** Resolves `written` against `projectDir`. On failure, the reason explains how a relative path leaves the folder. */
export function resolveProjectPath(written: string, projectDir: string): ParseResult<string> {
  if (path.isAbsolute(written)) {
    return { ok: true, value: path.normalize(written) };
  }

  const resolved = path.resolve(projectDir, written);
  if (!isInside(projectDir, resolved)) {
    return { ok: false, reason: `leaves the project folder ${projectDir}; ${ESCAPE_FIX}` };
  }

  const realTarget = realpathOfExistingPart(resolved);
  const realProject = realpathOfExistingPart(projectDir);
  if (!isInside(realProject, realTarget)) {
    return {
      ok: false,
      reason: `resolves through a symlink to ${realTarget}, outside the project folder ${projectDir}; ${ESCAPE_FIX}`,
    };
  }
  return { ok: true, value: resolved };
}

function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}

/**
 * Returns the real path of the longest existing prefix of `target`, with the
 * missing rest appended. A file that does not exist yet (a build output) is
 * checked through the folders that do.
 */
function realpathOfExistingPart(target: string): string {
  let existing = target;
  const missing: string[] = [];
  while (!existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) {
      break;
    }
    missing.unshift(path.basename(existing));
    existing = parent;
  }

  // NOTE: a dangling symlink counts as missing, so where it points is not
  // checked until its target exists.
  const real = existsSync(existing) ? realpathSync(existing) : existing;
  return path.join(real, ...missing);
}

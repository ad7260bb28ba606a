// Image paths given by the user: absolute, in normal form, the form the
// image writer accepts.

import * as posix from 'node:path/posix';

import { SysrootPlanError } from './errors';

/** Returns `text` in normal form (no `.`, `..`, doubled or trailing `/`), or throws when it is not absolute. `label` names it in errors. */
export function normalizeImagePath(text: string, label: string): string {
  if (!text.startsWith('/')) {
    throw new SysrootPlanError('invalid-input', `${label}: image path ${JSON.stringify(text)} is not absolute; write it from the image root, e.g. /app.`);
  }
  if (text.includes('\0')) {
    throw new SysrootPlanError('invalid-input', `${label}: image path ${JSON.stringify(text)} contains a NUL character.`);
  }
  const normalized = posix.normalize(text);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

/** Joins a path the loader opened with the working directory when it is relative, as the kernel does. */
export function absoluteFrom(cwd: string, pathText: string): string {
  return pathText.startsWith('/') ? pathText : posix.join(cwd, pathText);
}

/** Returns the folders above an image path, from `/a` down to its parent, without `/` itself. */
export function parentFolders(imagePath: string): string[] {
  const names = imagePath.split('/').filter((name) => name !== '');
  return names.slice(0, -1).map((_, index) => `/${names.slice(0, index + 1).join('/')}`);
}

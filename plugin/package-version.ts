// The version of this package, read from its package.json. The nearest
// package.json above this file is found by walking up, because the code runs
// both compiled (dist/…) and as TypeScript source in tests.

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

let version: string | undefined;

export function packageVersion(): string {
  if (version !== undefined) return version;
  let dir = __dirname;
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'nx-unikernel' && manifest.version !== undefined) return (version = manifest.version);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`nx-unikernel: package.json not found above ${__dirname}; reinstall nx-unikernel.`);
    dir = parent;
  }
}

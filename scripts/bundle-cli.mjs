// Bundles the command line into one file, dist/bin/cli.js, which the
// package's `bin`, dist/bin/nx-unikernel.js, loads with a compile cache.
// Loading one minified file instead of a few hundred modules takes Node
// less time before `run` can start QEMU, which matters for guests that boot
// in half a second (bench/boot). The Nx executors and the plugin keep using
// the separate modules under dist/.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// The TypeScript sources, not tsc's output, so dependencies load through
// their ES module entries and esbuild can leave out their unused parts.
await build({
  entryPoints: [join(root, 'core', 'cli', 'main.ts')],
  outfile: join(root, 'dist', 'bin', 'cli.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  // Class and function names stay readable in stack traces.
  keepNames: true,
  define: { NX_UNIKERNEL_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
});

// Node 22.1 and later cache compiled code themselves (module.enableCompileCache).
// On older versions v8-compile-cache keeps V8's code cache in the temporary
// folder. Either way, later runs skip compiling the bundle.
const launcher = join(root, 'dist', 'bin', 'nx-unikernel.js');
writeFileSync(
  launcher,
  `#!/usr/bin/env node
'use strict';
const { enableCompileCache } = require('node:module');
if (typeof enableCompileCache === 'function') enableCompileCache();
else require('v8-compile-cache');
require('./cli.js');
`,
);
chmodSync(launcher, 0o755);

// Bundles the command line into dist/bin/. cli.js contains the commands and the
// QEMU runner. Each engine part that a command imports only when it runs (the
// config schema, the image builder, the image reader, the library resolver)
// gets its own file under dist/bin/lazy/. The package's `bin`,
// dist/bin/nx-unikernel.js, is a small launcher that loads cli.js.
//
// Everything `run IMAGE` does before QEMU starts delays the guest, and a
// guest can answer half a second after QEMU starts (bench/boot), so that
// path loads only cli.js (about 100 KB) rather than the whole engine (about
// 1.5 MB, mostly the zod schema and the builder). The Nx executors and the
// plugin keep using the separate modules under dist/.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist', 'bin');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The modules that the commands import with `await import(...)`, by source path, and the name of their bundle. */
const LAZY_BUNDLES = {
  'core/cli/config-options.ts': 'config-options',
  'core/build/index.ts': 'build',
  'core/nanos/index.ts': 'nanos',
  'core/resolve/resolver.ts': 'resolver',
  'core/resolve/format-text.ts': 'format-text',
};

/**
 * Leaves a dynamic import of a lazy module out of the bundle being built and
 * points it at that module's own bundle. esbuild turns the import() into a
 * require() (dynamic-import is marked unsupported below), so the bundles stay
 * CommonJS. Modules that several bundles contain are copied into each; none
 * of them keeps state that must be shared.
 */
function lazyBundles(self, outDir) {
  return {
    name: 'lazy-bundles',
    setup(builder) {
      builder.onResolve({ filter: /^\./ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        const source = relative(root, resolve(args.resolveDir, args.path)).replace(/\.js$/, '.ts');
        const name = LAZY_BUNDLES[source];
        if (name === undefined || name === self) return undefined;
        const target = join(bin, 'lazy', `${name}.js`);
        let from = relative(outDir, target);
        if (!from.startsWith('.')) from = `./${from}`;
        return { path: from, external: true };
      });
    },
  };
}

// The TypeScript sources, not tsc's output, so dependencies load through
// their ES module entries and esbuild can leave out their unused parts.
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  supported: { 'dynamic-import': false },
  minify: true,
  // Class and function names stay readable in stack traces.
  keepNames: true,
  define: { NX_UNIKERNEL_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
};

rmSync(join(bin, 'lazy'), { recursive: true, force: true });
await build({ ...common, entryPoints: [join(root, 'core', 'cli', 'main.ts')], outfile: join(bin, 'cli.js'), plugins: [lazyBundles('cli', bin)] });
for (const [source, name] of Object.entries(LAZY_BUNDLES)) {
  await build({ ...common, entryPoints: [join(root, source)], outfile: join(bin, 'lazy', `${name}.js`), plugins: [lazyBundles(name, join(bin, 'lazy'))] });
}

// Node 22.1 and later cache compiled code themselves (module.enableCompileCache).
// On older versions v8-compile-cache keeps V8's code cache in the temporary
// folder, which saves `build` about 35 ms of compiling the engine bundles.
// `run` goes without it: loading it takes about 6 ms, more than it saves on
// cli.js, and every ms before QEMU starts delays the guest.
const launcher = join(bin, 'nx-unikernel.js');
writeFileSync(
  launcher,
  `#!/usr/bin/env node
'use strict';
const { enableCompileCache } = require('node:module');
if (typeof enableCompileCache === 'function') enableCompileCache();
else if (process.argv[2] !== 'run') require('v8-compile-cache');
require('./cli.js');
`,
);
chmodSync(launcher, 0o755);

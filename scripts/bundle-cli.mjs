// Bundles the command line into one file, dist/bin/nx-unikernel.js, the
// package's `bin`. Loading one minified file instead of a few hundred
// modules takes Node less time before `run` can start QEMU, which matters
// for guests that boot in half a second (bench/boot). The Nx executors and
// the plugin keep using the separate modules under dist/.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

await build({
  // The compiled entry, so its require('../../../package.json') finds the package file.
  entryPoints: [join(root, 'dist', 'core', 'cli', 'main.js')],
  outfile: join(root, 'dist', 'bin', 'nx-unikernel.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // ES module entries let esbuild drop unused parts of dependencies, such as zod's locales.
  mainFields: ['module', 'main'],
  minify: true,
  // Class and function names stay readable in stack traces.
  keepNames: true,
  logLevel: 'warning',
});

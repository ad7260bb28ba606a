// A JavaScript or TypeScript `program` means a Node.js app. esbuild bundles
// the entry into one file, and the image runs the node binary with that file.
// Packages with native addons stay outside the bundle and are packed whole, so
// the engine finds their `.node` files and resolves the libraries they load.

import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';

import type { ImageCopy, ResolvedUnikernelConfig } from '../../core/config';
import { BuildError } from '../../core/build';
import { ConfigError } from '../../core/config';

const SCRIPT_EXTENSIONS = new Set(['.js', '.cjs', '.mjs', '.ts', '.cts', '.mts', '.jsx', '.tsx']);

/** Image folder of the bundle and of the packed addon packages. */
export const NODE_APP_DIR = '/app';

/** Returns whether the config's program is a script entry rather than an ELF program. */
export function isNodeEntry(config: ResolvedUnikernelConfig): boolean {
  return config.program !== undefined && SCRIPT_EXTENSIONS.has(path.extname(config.program.hostPath));
}

export interface NodeBundle {
  /** The configuration with node as the program and the bundle and addon packages packed. */
  config: ResolvedUnikernelConfig;
  /** Host path of the bundle. */
  bundle: string;
  /** Package names kept outside the bundle because they contain native addons. */
  addonPackages: string[];
}

/**
 * Bundles `config.program` into `bundleDir/main.js` and returns the
 * configuration that runs it with `nodeBinary`, a path inside the sysroot.
 */
export async function bundleNodeEntry(config: ResolvedUnikernelConfig, nodeBinary: string, bundleDir: string): Promise<NodeBundle> {
  const entry = config.program!.hostPath;
  const nodeInRoot = nodeBinaryInRoot(nodeBinary, config.sysroot);
  const esbuild = await import('esbuild');
  const addonPackages = new Map<string, string>();
  const bundle = path.join(bundleDir, 'main.js');

  await esbuild
    .build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    // Paths in the bundle's comments are relative to this folder, so two checkouts give the same bytes.
    absWorkingDir: config.projectDir,
    logLevel: 'silent',
    plugins: [
      {
        name: 'nx-unikernel-native-addons',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            const name = packageName(args.path);
            if (name === undefined || name.startsWith('node:')) return undefined;
            const dir = findPackageDir(name, args.resolveDir);
            if (dir === undefined || !containsNativeAddon(dir)) return undefined;
            addonPackages.set(name, dir);
            return { path: args.path, external: true };
          });
        },
      },
    ],
    })
    .catch((error: unknown) => {
      const messages = ((error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? []).map((message) =>
        message.location ? `${message.location.file}:${message.location.line}: ${message.text}` : message.text,
      );
      throw new BuildError(`esbuild could not bundle the Node.js entry ${entry}: ${messages.join('; ') || (error as Error).message}. Fix the entry or set "program" to an ELF program.`, { cause: error });
    });

  const dirs: ImageCopy[] = [];
  for (const [name, dir] of collectRuntimeDependencies(addonPackages)) {
    dirs.push({ hostPath: dir, imagePath: `${NODE_APP_DIR}/node_modules/${name}` });
  }

  const bundled: ResolvedUnikernelConfig = {
    ...config,
    program: { hostPath: path.join(config.sysroot, nodeInRoot), imagePath: nodeInRoot },
    args: [`${NODE_APP_DIR}/main.js`, ...config.args],
    files: [...config.files, { hostPath: bundle, imagePath: `${NODE_APP_DIR}/main.js` }],
    dirs: [...config.dirs, ...dirs],
    cwd: config.cwd ?? NODE_APP_DIR,
  };
  return { config: bundled, bundle, addonPackages: [...addonPackages.keys()].sort() };
}

/** Returns the node binary's real path inside the sysroot, which is where the image gets it. */
function nodeBinaryInRoot(nodeBinary: string, sysroot: string): string {
  const hostPath = sysroot === '/' ? nodeBinary : path.join(sysroot, nodeBinary);
  if (!existsSync(hostPath)) {
    throw new ConfigError('options of the nx-unikernel target', [
      { path: 'nodeBinary', message: `${JSON.stringify(nodeBinary)} was not found in the sysroot ${sysroot}; set nodeBinary to the absolute path of node inside the sysroot.` },
    ]);
  }
  const real = realpathSync(hostPath);
  return sysroot === '/' ? real : `/${path.relative(realpathSync(sysroot), real).split(path.sep).join('/')}`;
}

/** `pkg` or `@scope/pkg` from an import path such as `@scope/pkg/sub`. */
function packageName(specifier: string): string | undefined {
  const parts = specifier.split('/');
  if (specifier.startsWith('@')) return parts.length >= 2 ? `${parts[0]}/${parts[1]}` : undefined;
  return parts[0];
}

/** Finds the folder of package `name` as Node's resolution would from `fromDir`. */
function findPackageDir(name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return realpathSync(candidate);
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Returns whether a package ships a compiled `.node` file or builds one (binding.gyp). Nested node_modules are not searched. */
function containsNativeAddon(dir: string): boolean {
  if (existsSync(path.join(dir, 'binding.gyp'))) return true;
  const stack = [dir];
  while (stack.length > 0) {
    const folder = stack.pop()!;
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'node_modules') stack.push(path.join(folder, entry.name));
      else if (entry.isFile() && entry.name.endsWith('.node')) return true;
    }
  }
  return false;
}

/** Collects the addon packages plus every package their `dependencies` pull in at run time, sorted by name. */
function collectRuntimeDependencies(packages: Map<string, string>): Map<string, string> {
  const result = new Map<string, string>();
  const queue = [...packages.entries()];
  while (queue.length > 0) {
    const [name, dir] = queue.shift()!;
    if (result.has(name)) continue;
    result.set(name, dir);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      const found = findPackageDir(dependency, dir);
      if (found !== undefined) queue.push([dependency, found]);
    }
  }
  const sortedNames = [...result.keys()].sort();
  return new Map(sortedNames.map((name) => [name, result.get(name)!]));
}

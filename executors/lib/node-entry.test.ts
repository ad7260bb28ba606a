// Bundling a TypeScript entry with the real esbuild.

import { readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { parseUnikernelConfig } from '../../core/config';
import { bundleNodeEntry, isNodeEntry } from './node-entry';
import { makeWorkspace, type TempWorkspace } from './test-support/context';

let workspace: TempWorkspace;

beforeEach(() => {
  workspace = makeWorkspace('nx-unikernel-node-');
  workspace.write('apps/api/src/greeting.ts', 'export const greeting: string = "hello";\n');
  workspace.write('apps/api/src/main.ts', 'import { greeting } from "./greeting";\nimport addon from "fake-addon";\nconsole.log(greeting, addon);\n');
  workspace.write('apps/api/node_modules/fake-addon/package.json', { name: 'fake-addon', main: 'index.js', dependencies: { 'fake-loader': '1.0.0' } });
  workspace.write('apps/api/node_modules/fake-addon/index.js', 'module.exports = require("fake-loader")(__dirname);\n');
  workspace.write('apps/api/node_modules/fake-addon/prebuilds/linux-x64/addon.node', 'not really ELF');
  workspace.write('apps/api/node_modules/fake-loader/package.json', { name: 'fake-loader', main: 'index.js' });
  workspace.write('apps/api/node_modules/fake-loader/index.js', 'module.exports = (dir) => dir;\n');
});

afterEach(() => {
  workspace.remove();
});

function config(program: string) {
  return parseUnikernelConfig({ program, args: ['--flag'] }, { file: path.join(workspace.root, 'apps/api/unikernel.json') });
}

describe('bundleNodeEntry', () => {
  it('detects script entries', () => {
    expect(isNodeEntry(config('src/main.ts'))).toBe(true);
    expect(isNodeEntry(config('dist/server'))).toBe(false);
  });

  it('bundles and runs node', async () => {
    const result = await bundleNodeEntry(config('src/main.ts'), process.execPath, path.join(workspace.root, 'out'));
    expect(result.config.program?.imagePath).toBe(realpathSync(process.execPath));
    expect(result.config.args).toEqual(['/app/main.js', '--flag']);
    expect(result.config.cwd).toBe('/app');
    expect(readFileSync(result.bundle, 'utf8')).toContain('"hello"');
  });

  it('packs addon packages unbundled', async () => {
    const result = await bundleNodeEntry(config('src/main.ts'), process.execPath, path.join(workspace.root, 'out'));
    expect(result.addonPackages).toEqual(['fake-addon']);
    expect(readFileSync(result.bundle, 'utf8')).toContain('require("fake-addon")');
    expect(result.config.dirs.map((dir) => dir.imagePath)).toEqual(['/app/node_modules/fake-addon', '/app/node_modules/fake-loader']);
  });

  it('keeps host paths out of the bundle', async () => {
    const result = await bundleNodeEntry(config('src/main.ts'), process.execPath, path.join(workspace.root, 'out'));
    expect(readFileSync(result.bundle, 'utf8')).not.toContain(workspace.root);
  });

  it('names a missing node binary', async () => {
    await expect(bundleNodeEntry(config('src/main.ts'), '/no/such/node', path.join(workspace.root, 'out'))).rejects.toThrow(/nodeBinary: "\/no\/such\/node" was not found/);
  });
});

describe('bundleNodeEntry errors', () => {
  it('reports a syntax error with its line', async () => {
    workspace.write('apps/api/src/broken.ts', 'const = 1;\n');
    await expect(bundleNodeEntry(config('src/broken.ts'), process.execPath, path.join(workspace.root, 'out'))).rejects.toThrow(/esbuild could not bundle the Node.js entry .*src\/broken.ts:1: /);
  });
});

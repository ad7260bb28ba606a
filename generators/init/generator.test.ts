import { readJson, readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { initGenerator } from './generator';

let tree: Tree;

beforeEach(() => {
  tree = createTreeWithEmptyWorkspace();
});

afterEach(() => {
  delete process.env['NX_ADD_PLUGINS'];
});

function pluginEntries() {
  return (readNxJson(tree)?.plugins ?? []).filter((entry) => (typeof entry === 'string' ? entry : entry.plugin).startsWith('nx-unikernel'));
}

describe('init generator', () => {
  it('registers the plugin', async () => {
    await initGenerator(tree, { skipFormat: true });
    expect(pluginEntries()).toEqual([{ plugin: 'nx-unikernel/plugin', options: {} }]);
  });

  it('registers it once when run twice', async () => {
    await initGenerator(tree, { skipFormat: true });
    await initGenerator(tree, { skipFormat: true });
    expect(pluginEntries()).toHaveLength(1);
  });

  it('keeps a string entry', async () => {
    updateNxJson(tree, { ...readNxJson(tree), plugins: ['nx-unikernel'] });
    await initGenerator(tree, { skipFormat: true });
    expect(pluginEntries()).toEqual(['nx-unikernel']);
  });

  it('stores target names', async () => {
    await initGenerator(tree, { skipFormat: true, imageTargetName: 'image', serveTargetName: 'vm' });
    expect(pluginEntries()).toEqual([{ plugin: 'nx-unikernel/plugin', options: { imageTargetName: 'image', serveTargetName: 'vm' } }]);
  });

  it('merges names into an existing entry', async () => {
    await initGenerator(tree, { skipFormat: true, imageTargetName: 'image' });
    await initGenerator(tree, { skipFormat: true, serveTargetName: 'vm' });
    expect(pluginEntries()).toEqual([{ plugin: 'nx-unikernel/plugin', options: { imageTargetName: 'image', serveTargetName: 'vm' } }]);
  });

  it('honours NX_ADD_PLUGINS=false', async () => {
    process.env['NX_ADD_PLUGINS'] = 'false';
    await initGenerator(tree, { skipFormat: true });
    expect(pluginEntries()).toEqual([]);
  });

  it('honours useInferencePlugins false', async () => {
    updateNxJson(tree, { ...readNxJson(tree), useInferencePlugins: false });
    await initGenerator(tree, { skipFormat: true });
    expect(pluginEntries()).toEqual([]);
  });

  it('rejects duplicate target names', async () => {
    await expect(initGenerator(tree, { skipFormat: true, imageTargetName: 'x', serveTargetName: 'x' })).rejects.toThrow(/different values/);
  });

  it('adds the devDependency', async () => {
    await initGenerator(tree, { skipFormat: true });
    expect(readJson(tree, 'package.json').devDependencies['nx-unikernel']).toMatch(/^\^\d+\.\d+\.\d+/);
  });

  it('keeps an installed version', async () => {
    const manifest = readJson(tree, 'package.json');
    tree.write('package.json', JSON.stringify({ ...manifest, dependencies: { 'nx-unikernel': 'file:../x.tgz' } }));
    await initGenerator(tree, { skipFormat: true });
    const updated = readJson(tree, 'package.json');
    expect(updated.dependencies['nx-unikernel']).toBe('file:../x.tgz');
    expect(updated.devDependencies?.['nx-unikernel']).toBeUndefined();
  });
});

import { addProjectConfiguration, readJson, readNxJson, readProjectConfiguration, updateNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { beforeEach, describe, expect, it } from 'vitest';

import { initGenerator } from '../init/generator';
import { configurationGenerator } from './generator';

let tree: Tree;

beforeEach(() => {
  tree = createTreeWithEmptyWorkspace();
  addProjectConfiguration(tree, 'app', { root: 'apps/app', targets: { build: { command: 'gcc -o dist/server server.c' } } });
});

describe('configuration generator', () => {
  it('writes unikernel.json', async () => {
    await configurationGenerator(tree, { project: 'app', program: 'dist/server', args: ['8080'], ports: ['8080', 9000], skipFormat: true });
    expect(readJson(tree, 'apps/app/unikernel.json')).toEqual({
      $schema: '../../node_modules/nx-unikernel/core/config/unikernel.schema.json',
      program: 'dist/server',
      args: ['8080'],
      ports: ['8080', '9000'],
    });
  });

  it('writes no targets with inference on', async () => {
    await initGenerator(tree, { skipFormat: true, skipPackageJson: true });
    await configurationGenerator(tree, { project: 'app', program: 'dist/server', skipFormat: true });
    expect(Object.keys(readProjectConfiguration(tree, 'app').targets ?? {})).toEqual(['build']);
  });

  it('writes targets with inference off', async () => {
    await configurationGenerator(tree, { project: 'app', program: 'dist/server', skipFormat: true });
    const targets = readProjectConfiguration(tree, 'app').targets ?? {};
    expect(Object.keys(targets)).toEqual(['build', 'unikernel-sysroot', 'unikernel', 'unikernel-serve']);
    expect(targets['unikernel']!.executor).toBe('nx-unikernel:image');
    expect(targets['unikernel']!.dependsOn).toEqual(['build', 'unikernel-sysroot']);
    expect(targets['unikernel-serve']!.readyWhen).toEqual({ signal: true });
  });

  it('writes targets when useInferencePlugins is false', async () => {
    await initGenerator(tree, { skipFormat: true, skipPackageJson: true });
    updateNxJson(tree, { ...readNxJson(tree), useInferencePlugins: false });
    await configurationGenerator(tree, { project: 'app', program: 'dist/server', skipFormat: true });
    expect(readProjectConfiguration(tree, 'app').targets?.['unikernel']).toBeDefined();
  });

  it('keeps an existing unikernel.json without --program', async () => {
    tree.write('apps/app/unikernel.json', JSON.stringify({ program: 'dist/existing' }));

    await configurationGenerator(tree, { project: 'app', skipFormat: true });

    expect(readJson(tree, 'apps/app/unikernel.json')).toEqual({ program: 'dist/existing' });
    expect(readProjectConfiguration(tree, 'app').targets?.['unikernel']).toBeDefined();
  });

  it('needs --program for a new unikernel.json', async () => {
    await expect(configurationGenerator(tree, { project: 'app', skipFormat: true })).rejects.toThrow(
      'nx-unikernel: apps/app/unikernel.json does not exist yet, so --program is needed to write it, e.g. --program dist/server.',
    );
  });

  it('rejects an existing target name', async () => {
    addProjectConfiguration(tree, 'taken', { root: 'apps/taken', targets: { unikernel: { command: 'echo' } } });
    await expect(configurationGenerator(tree, { project: 'taken', program: 'dist/server', skipFormat: true })).rejects.toThrow(/already has target\(s\) unikernel/);
  });

  it('keeps an existing unikernel.json', async () => {
    tree.write('apps/app/unikernel.json', '{ "program": "bin/old" }');
    await configurationGenerator(tree, { project: 'app', program: 'dist/server', skipFormat: true });
    expect(readJson(tree, 'apps/app/unikernel.json')).toEqual({ program: 'bin/old' });
  });

  it('overwrites on request', async () => {
    tree.write('apps/app/unikernel.json', '{ "program": "bin/old" }');
    await configurationGenerator(tree, { project: 'app', program: 'dist/server', overwrite: true, skipFormat: true });
    expect(readJson(tree, 'apps/app/unikernel.json').program).toBe('dist/server');
  });

  it('rejects a program outside the project', async () => {
    await expect(configurationGenerator(tree, { project: 'app', program: '../other/server', skipFormat: true })).rejects.toThrow(/leaves the project folder/);
  });
});

describe('configuration generator on command-line values', () => {
  it('accepts single values', async () => {
    await configurationGenerator(tree, { project: 'app', program: 'dist/server', args: 8080, ports: 8080, skipFormat: true });
    expect(readJson(tree, 'apps/app/unikernel.json')).toMatchObject({ args: ['8080'], ports: ['8080'] });
  });
});

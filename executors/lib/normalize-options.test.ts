import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ConfigError, ConfigFileError } from '../../core/config';
import { normalizeOptions } from './normalize-options';
import { makeWorkspace, type TempWorkspace } from './test-support/context';

let workspace: TempWorkspace;

beforeEach(() => {
  workspace = makeWorkspace();
});

afterEach(() => {
  workspace.remove();
});

describe('normalizeOptions', () => {
  it('reads unikernel.json of the project', () => {
    workspace.write('apps/c/unikernel.json', { program: 'dist/server', ports: ['8080'] });
    const normalized = normalizeOptions({}, workspace.context('apps/c'));
    expect(normalized.config.program).toEqual({ hostPath: path.join(workspace.root, 'apps/c/dist/server'), imagePath: '/dist/server' });
    expect(normalized.config.ports.map((port) => port.guestPort)).toEqual([8080]);
    expect(normalized.image).toBe(path.join(workspace.root, 'apps/c/dist/unikernel/c.img'));
  });

  it('lays options over the file', () => {
    workspace.write('apps/c/unikernel.json', { program: 'dist/server', memory: '256M' });
    const normalized = normalizeOptions({ memory: '1G', args: ['--verbose'] }, workspace.context('apps/c'));
    expect(normalized.config.memoryBytes).toBe(1024 ** 3);
    expect(normalized.config.args).toEqual(['--verbose']);
  });

  it('resolves outputPath against the workspace', () => {
    workspace.write('apps/c/unikernel.json', { program: 'dist/server' });
    const normalized = normalizeOptions({ outputPath: 'out/c.img' }, workspace.context('apps/c'));
    expect(normalized.image).toBe(path.join(workspace.root, 'out/c.img'));
  });

  it('names an invalid option value', () => {
    workspace.write('apps/c/unikernel.json', { program: 'dist/server' });
    expect(() => normalizeOptions({ memory: 'lots' }, workspace.context('apps/c'))).toThrow(ConfigError);
    expect(() => normalizeOptions({ memory: 'lots' }, workspace.context('apps/c'))).toThrow(/memory/);
  });

  it('rejects an unknown option', () => {
    workspace.write('apps/c/unikernel.json', { program: 'dist/server' });
    expect(() => normalizeOptions({ memroy: '1G' }, workspace.context('apps/c'))).toThrow(/memroy: is not an option of nx-unikernel/);
  });

  it('names a missing config file', () => {
    expect(() => normalizeOptions({}, workspace.context('apps/none'))).toThrow(ConfigFileError);
    expect(() => normalizeOptions({}, workspace.context('apps/none'))).toThrow(/nx g nx-unikernel:configuration/);
  });

  it('reports an invalid file with its path', () => {
    const file = workspace.write('apps/c/unikernel.json', { program: 'dist/server', cpus: 0 });
    expect(() => normalizeOptions({}, workspace.context('apps/c'))).toThrow(file);
  });

  it('reads an OPS config', () => {
    workspace.write('apps/o/config.json', { Program: 'dist/server', Args: ['x'], RunConfig: { Ports: ['9000'] } });
    const normalized = normalizeOptions({ config: 'apps/o/config.json', ops: true }, workspace.context('apps/o'));
    expect(normalized.config.ports.map((port) => port.guestPort)).toEqual([9000]);
  });

  it('lays options over an OPS config', () => {
    workspace.write('apps/o/config.json', { Program: 'dist/server', RunConfig: { Memory: '256M' } });
    const normalized = normalizeOptions({ config: 'apps/o/config.json', ops: true, memory: '1G' }, workspace.context('apps/o'));
    expect(normalized.config.memoryBytes).toBe(1024 ** 3);
  });

  it('defaults nodeBinary to this node', () => {
    workspace.write('apps/c/unikernel.json', { program: 'src/main.ts' });
    expect(normalizeOptions({}, workspace.context('apps/c')).nodeBinary).toBe(process.execPath);
  });
});

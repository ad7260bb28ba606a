// createNodes against real project folders in a temporary workspace.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { CreateNodesContext, CreateNodesResult, CreateNodesResultArray } from '@nx/devkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createNodes, selectConfigFiles } from './create-nodes';
import { normalizePluginOptions } from './options';

let workspaceRoot: string;
let context: CreateNodesContext;

beforeEach(() => {
  workspaceRoot = mkdtempSync(path.join(tmpdir(), 'nx-unikernel-nodes-'));
  process.env['NX_WORKSPACE_DATA_DIRECTORY'] = path.join(workspaceRoot, '.nx', 'workspace-data');
  context = { nxJsonConfiguration: {}, workspaceRoot };
});

afterEach(() => {
  delete process.env['NX_WORKSPACE_DATA_DIRECTORY'];
  rmSync(workspaceRoot, { recursive: true, force: true });
});

function write(file: string, content: unknown): void {
  const full = path.join(workspaceRoot, file);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, typeof content === 'string' ? content : JSON.stringify(content));
}

function firstResult(results: CreateNodesResultArray): CreateNodesResult {
  const first = results[0];
  if (first === undefined) throw new Error('createNodes returned no result');
  return first[1];
}

async function infer(files: string[], options = {}) {
  return createNodes[1](files, options, context);
}

describe('createNodes', () => {
  it('adds targets to a project.json project', async () => {
    write('apps/c/project.json', { name: 'c', targets: { build: { command: 'gcc' } } });
    write('apps/c/unikernel.json', { program: 'dist/server', ports: ['8080'] });
    const results = await infer(['apps/c/unikernel.json']);
    expect(results).toHaveLength(1);
    const [source, result] = results[0]!;
    expect(source).toBe('apps/c/unikernel.json');
    const targets = result.projects?.['apps/c']?.targets ?? {};
    expect(Object.keys(targets)).toEqual(['unikernel-sysroot', 'unikernel', 'unikernel-serve']);
    expect(targets['unikernel']!.dependsOn).toEqual(['build', 'unikernel-sysroot']);
  });

  it('finds build in package.json scripts', async () => {
    write('apps/api/package.json', { name: 'api', scripts: { build: 'esbuild' } });
    write('apps/api/unikernel.json', { program: 'src/main.ts' });
    const result = firstResult(await infer(['apps/api/unikernel.json']));
    expect(result.projects?.['apps/api']?.targets?.['unikernel']?.dependsOn).toEqual(['build', 'unikernel-sysroot']);
  });

  it('ignores folders that are not projects', async () => {
    write('tools/unikernel.json', { program: 'x' });
    const result = firstResult(await infer(['tools/unikernel.json']));
    expect(result).toEqual({});
  });

  it('reads config.json only with ops', async () => {
    write('apps/o/project.json', { name: 'o' });
    write('apps/o/config.json', { Program: 'dist/server', Args: ['a'], RunConfig: { Ports: ['9000'] } });
    expect(await infer(['apps/o/config.json'])).toEqual([]);
    const result = firstResult(await infer(['apps/o/config.json'], { ops: true }));
    const targets = result.projects?.['apps/o']?.targets ?? {};
    expect(targets['unikernel']!.options).toMatchObject({ ops: true, config: '{projectRoot}/config.json' });
    expect(targets['unikernel-serve']!.metadata?.description).toContain('9000');
  });

  it('skips config.json without Program', async () => {
    write('apps/web/project.json', { name: 'web' });
    // An application's own settings file, not an OPS config.
    write('apps/web/config.json', { apiUrl: 'http://127.0.0.1', port: 3000 });

    const results = await infer(['apps/web/config.json'], { ops: true });

    expect(results.flatMap((result) => Object.keys(result[1].projects ?? {}))).toEqual([]);
  });

  it('handles several projects', async () => {
    for (const name of ['a', 'b', 'c']) {
      write(`apps/${name}/project.json`, { name });
      write(`apps/${name}/unikernel.json`, { program: 'dist/server' });
    }
    const results = await infer(['apps/a/unikernel.json', 'apps/b/unikernel.json', 'apps/c/unikernel.json']);
    expect(results.map(([file]) => file)).toEqual(['apps/a/unikernel.json', 'apps/b/unikernel.json', 'apps/c/unikernel.json']);
  });

  it('writes and reuses its cache file', async () => {
    write('apps/c/project.json', { name: 'c' });
    write('apps/c/unikernel.json', { program: 'dist/server' });
    const first = await infer(['apps/c/unikernel.json']);
    const cacheFiles = readdirSync(path.join(workspaceRoot, '.nx', 'workspace-data')).filter((name) => name.startsWith('nx-unikernel-'));
    expect(cacheFiles).toHaveLength(1);
    expect(await infer(['apps/c/unikernel.json'])).toEqual(first);
  });

  it('follows a changed config', async () => {
    write('apps/c/project.json', { name: 'c' });
    write('apps/c/unikernel.json', { program: 'dist/server', ports: ['8080'] });
    await infer(['apps/c/unikernel.json']);
    write('apps/c/unikernel.json', { program: 'dist/server', ports: ['9090'] });
    const result = firstResult(await infer(['apps/c/unikernel.json']));
    expect(result.projects?.['apps/c']?.targets?.['unikernel-serve']?.metadata?.description).toContain('9090');
  });

  it('rejects invalid plugin options', async () => {
    await expect(infer([], { imageTargetName: 'same', serveTargetName: 'same' })).rejects.toThrow(/different values/);
  });
});

describe('selectConfigFiles', () => {
  it('prefers unikernel.json over config.json', () => {
    write('apps/x/unikernel.json', {});
    write('apps/x/config.json', {});
    const selected = selectConfigFiles(['apps/x/unikernel.json', 'apps/x/config.json'], normalizePluginOptions({ ops: true }), workspaceRoot);
    expect(selected).toEqual(['apps/x/unikernel.json']);
  });
});

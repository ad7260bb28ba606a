// Host paths that leave the project folder, as written or through a symlink,
// are rejected unless written as absolute paths.

import { mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError } from './errors';
import { parseUnikernelConfig } from './parse';
import { makeProjectDir, removeProjectDir, writeProjectFile } from './test-support/project';

let root: string;
let projectDir: string;
let file: string;

beforeAll(() => {
  // root/app is the project; root/secrets is outside it.
  root = makeProjectDir();
  projectDir = path.join(root, 'app');
  file = writeProjectFile(projectDir, 'unikernel.json', '{}');
  writeProjectFile(root, 'secrets/key', 'secret');
  writeProjectFile(projectDir, 'data/inside.txt', 'inside');
  symlinkSync(path.join(root, 'secrets'), path.join(projectDir, 'linked-secrets'));
  symlinkSync('data', path.join(projectDir, 'linked-data'));
  mkdirSync(path.join(projectDir, 'public'));
});

afterAll(() => {
  removeProjectDir(root);
});

function errorOf(json: unknown): ConfigError {
  try {
    parseUnikernelConfig(json, { file });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(json)} to be rejected`);
}

describe('project path escapes', () => {
  it('rejects .. out of the project', () => {
    const error = errorOf({ files: ['a.txt', 'b.txt', '../secrets/key'] });

    expect(error.issues).toEqual([
      {
        path: 'files[2]',
        message: `"../secrets/key" leaves the project folder ${projectDir}; give an absolute path if this is intended.`,
      },
    ]);
  });

  it('rejects a symlink out of the project', () => {
    const error = errorOf({ files: ['linked-secrets/key'] });

    expect(error.issues[0]?.path).toBe('files[0]');
    expect(error.issues[0]?.message).toBe(
      `"linked-secrets/key" resolves through a symlink to ${path.join(root, 'secrets/key')}, outside the project folder ${projectDir}; give an absolute path if this is intended.`,
    );
  });

  it('checks the existing part of a missing path', () => {
    const error = errorOf({ dirs: ['linked-secrets/not-yet-built'] });

    expect(error.issues[0]?.message).toContain(`resolves through a symlink to ${path.join(root, 'secrets/not-yet-built')}`);
  });

  it('checks every host path key', () => {
    const error = errorOf({
      program: '../bin/app',
      files: [{ from: '../x', to: '/x' }],
      dirs: ['..'],
      mapDirs: { '../lib/*.so': '/lib' },
      kernelDir: '../nanos',
      klibDir: 'linked-secrets',
      sysroot: '../root',
    });

    expect(error.issues.map((issue) => issue.path)).toEqual(['sysroot', 'program', 'files[0].from', 'dirs[0]', 'mapDirs["../lib/*.so"]', 'kernelDir', 'klibDir']);
  });

  it('accepts absolute paths outside the project', () => {
    const config = parseUnikernelConfig({ files: [path.join(root, 'secrets/key')], kernelDir: path.join(root, 'nanos') }, { file });

    expect(config.files[0]?.hostPath).toBe(path.join(root, 'secrets/key'));
    expect(config.kernelDir).toBe(path.join(root, 'nanos'));
  });

  it('accepts paths and symlinks that stay inside', () => {
    const config = parseUnikernelConfig({ files: ['data/../data/inside.txt', 'linked-data/inside.txt', 'not-built-yet/app'], dirs: ['.', 'public'] }, { file });

    expect(config.files.map((entry) => entry.hostPath)).toEqual([
      path.join(projectDir, 'data/inside.txt'),
      path.join(projectDir, 'linked-data/inside.txt'),
      path.join(projectDir, 'not-built-yet/app'),
    ]);
    expect(config.dirs).toEqual([
      { hostPath: projectDir, imagePath: '/' },
      { hostPath: path.join(projectDir, 'public'), imagePath: '/public' },
    ]);
  });
});

// loadProjectConfig: finding the file, JSON syntax errors with line:column,
// and the OPS config.json on request.

import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ConfigError, ConfigFileError } from './errors';
import { findSyntaxProblem, lineAndColumn } from './json-text';
import { loadProjectConfig } from './load';
import { makeProjectDir, removeProjectDir, writeProjectFile } from './test-support/project';

let projectDir: string;

beforeEach(() => {
  projectDir = makeProjectDir('nx-unikernel-load-');
});

afterEach(() => {
  removeProjectDir(projectDir);
});

function caught(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('loadProjectConfig', () => {
  it('reads unikernel.json', () => {
    writeProjectFile(projectDir, 'unikernel.json', '\uFEFF{ "program": "dist/app", "ports": ["8080"] }');

    const loaded = loadProjectConfig(projectDir);

    expect(loaded.file).toBe(path.join(projectDir, 'unikernel.json'));
    expect(loaded.format).toBe('unikernel');
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config.program?.hostPath).toBe(path.join(projectDir, 'dist/app'));
    expect(loaded.config.ports).toEqual([{ protocol: 'tcp', hostPort: 8080, guestPort: 8080 }]);
  });

  it('reports a missing unikernel.json', () => {
    const error = caught(() => loadProjectConfig(projectDir));

    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as ConfigFileError).code).toBe('not-found');
    expect(error.message).toBe(`No unikernel.json in ${projectDir}; create it with at least { "program": "<path of the ELF program>" }.`);
  });

  it('mentions a config.json next to it', () => {
    writeProjectFile(projectDir, 'config.json', '{}');

    expect(caught(() => loadProjectConfig(projectDir)).message).toContain('The folder has an OPS config.json; ask for it to be read instead (the ops option).');
  });

  it('reads config.json on request', () => {
    writeProjectFile(projectDir, 'config.json', '{ "Args": ["-v"], "Description": "demo" }');

    const loaded = loadProjectConfig(projectDir, { ops: true });

    expect(loaded.format).toBe('ops');
    expect(loaded.config.args).toEqual(['-v']);
    expect(loaded.warnings).toHaveLength(1);
  });

  it('reads an OPS file at a given path', () => {
    writeProjectFile(projectDir, 'deploy/ops.json', '{ "Program": "app" }');

    const loaded = loadProjectConfig(projectDir, { ops: 'deploy/ops.json' });

    expect(loaded.file).toBe(path.join(projectDir, 'deploy/ops.json'));
    expect(loaded.config.program?.hostPath).toBe(path.join(projectDir, 'deploy/app'));
  });

  it('reports a missing OPS file', () => {
    const error = caught(() => loadProjectConfig(projectDir, { ops: true }));

    expect(error).toBeInstanceOf(ConfigFileError);
    expect(error.message).toBe(`OPS config file ${path.join(projectDir, 'config.json')} does not exist; check the path given for it.`);
  });

  it('reports line and column of a syntax error', () => {
    const file = writeProjectFile(projectDir, 'unikernel.json', '{\n  "program": "app",\n  "ports": [8080,]\n}\n');

    const error = caught(() => loadProjectConfig(projectDir));

    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `Invalid configuration in ${file}: invalid JSON at ${file}:3:18: trailing comma before "]". JSON allows no comments and no trailing commas.`,
    );
  });

  it('reports schema errors with the file', () => {
    const file = writeProjectFile(projectDir, 'unikernel.json', '{ "cpus": 0 }');

    expect(caught(() => loadProjectConfig(projectDir)).message).toContain(`Invalid configuration in ${file}: cpus: 0 is invalid`);
  });
});

describe('findSyntaxProblem', () => {
  it.each([
    ['{"a": }', 6, 'unexpected character "}" where a value should start'],
    ['{"a": 1,}', 8, 'trailing comma before "}"'],
    ['{"a": 1\n "b": 2}', 9, 'expected "," or "}" after a property value, found character "\\""'],
    ['{"a": "x', 6, 'unterminated string'],
    ['', 0, 'unexpected end of file where a value should start'],
    ['{"a": tru}', 6, 'unexpected character "t" where a value should start'],
    ['[1 2]', 3, 'expected "," or "]" after an array element, found character "2"'],
    ['{"a":1}}', 7, 'unexpected character "}" after the end of the JSON value'],
    ['{\n  // note\n  "a": 1\n}', 4, 'unexpected comment where a property name in double quotes should be'],
    ["{'a': 1}", 1, 'unexpected character "\'" where a property name in double quotes should be'],
    ['{"a" 1}', 5, 'expected ":" after the property name, found character "1"'],
    ['["\\x"]', 2, 'invalid escape \\x in a string'],
    ['["\\u12"]', 2, 'invalid \\u escape; it needs four hex digits'],
    ['["a\nb"]', 3, 'control character (such as a line break) inside a string; write it as an escape like \\n'],
    ['[-]', 1, 'invalid number'],
  ])('locates the error in %j', (text, offset, message) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(findSyntaxProblem(text)).toEqual({ offset, message });
  });

  it.each(['{}', '[]', '{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"]}', ' "x" '])('accepts valid JSON %j', (text) => {
    expect(findSyntaxProblem(text)).toBeUndefined();
  });

  it('converts offsets to line and column', () => {
    expect(lineAndColumn('ab\ncd\nef', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('ab\ncd\nef', 4)).toEqual({ line: 2, column: 2 });
    expect(lineAndColumn('ab\ncd\nef', 6)).toEqual({ line: 3, column: 1 });
  });
});

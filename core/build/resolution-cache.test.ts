// The resolution cache: a stored resolution is reused only while every file
// and folder the resolver read keeps its status, and the request is the same.
// Programs and libraries are built with gcc and resolved in the host's root.

import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hasCommand, Lab, RUNPATH } from '../resolve/test-support/lab';
import { resolveWithCache, type ResolutionRequest } from './resolution-cache';

const lab = Lab.create('nxu-resolution-cache-');
afterAll(() => lab.remove());

const hasGcc = hasCommand('gcc', ['--version']);

/** Files younger than this are not trusted by the cache (its racy window), so the fixtures wait it out. */
const RACY_WINDOW_MS = 2000;

describe.skipIf(!hasGcc)('resolveWithCache', () => {
  let librarySource: string;
  /** One program per test that changes files, so no test sees another's recent changes. */
  const requests = new Map<string, ResolutionRequest>();

  function requestFor(name: string): ResolutionRequest {
    return requests.get(name)!;
  }

  beforeAll(async () => {
    librarySource = lab.lib('build/libfoo.so', 'libfoo.so');
    for (const name of ['plain', 'added', 'changed']) {
      lab.copy(librarySource, `${name}/second/libfoo.so`);
      fs.mkdirSync(lab.path(`${name}/first`), { recursive: true });
      const program = lab.exe(`${name}/server`, { needs: [librarySource], flags: [`${RUNPATH}$ORIGIN/first:$ORIGIN/second`] });
      requests.set(name, { sysroot: '/', mounts: [], programHostPath: program, imagePath: program, env: {} });
    }
    await new Promise((resolve) => setTimeout(resolve, RACY_WINDOW_MS + 100));
  }, 30_000);

  it('reuses an unchanged resolution', () => {
    const request = requestFor('plain');
    const first = resolveWithCache(request, undefined);
    expect(first.reused).toBe(false);
    expect(first.entry).toBeDefined();

    const second = resolveWithCache(request, JSON.parse(JSON.stringify(first.entry)));

    expect(second.reused).toBe(true);
    expect(second.result).toEqual(first.result);
  });

  it('sees a library added to an earlier folder', () => {
    const request = requestFor('added');
    const first = resolveWithCache(request, undefined);
    expect(first.entry).toBeDefined();
    expect(first.result.libraries.find((library) => library.name === 'libfoo.so')?.path).toBe(lab.path('added/second/libfoo.so'));
    lab.copy(librarySource, 'added/first/libfoo.so');

    const second = resolveWithCache(request, first.entry);

    expect(second.reused).toBe(false);
    expect(second.result.libraries.find((library) => library.name === 'libfoo.so')?.path).toBe(lab.path('added/first/libfoo.so'));
    // The new library is younger than the racy window, so nothing is stored.
    expect(second.entry).toBeUndefined();
  });

  it('ignores temporary files in folders', () => {
    const request = requestFor('plain');
    const first = resolveWithCache(request, undefined);
    expect(first.entry).toBeDefined();
    // A temporary file written and renamed away beside the program moves its folder's times.
    lab.write('plain/server.img.tmp', 'x');
    fs.renameSync(lab.path('plain/server.img.tmp'), lab.path('build/server.img'));

    const second = resolveWithCache(request, first.entry);

    expect(second.reused).toBe(true);
  });

  it('lists again after a new name', () => {
    const request = requestFor('plain');
    const first = resolveWithCache(request, undefined);
    // A new name in a listed folder may matter (a glob in ld.so.conf lists folders), so it is resolved again.
    lab.write('plain/notes.txt', 'unrelated');

    try {
      const second = resolveWithCache(request, first.entry);

      expect(second.reused).toBe(false);
      expect(second.entry).toBeDefined();
      expect(resolveWithCache(request, second.entry).reused).toBe(true);
    } finally {
      fs.rmSync(lab.path('plain/notes.txt'));
    }
  });

  it('resolves again for another request', () => {
    const request = requestFor('plain');
    const first = resolveWithCache(request, undefined);
    expect(first.entry).toBeDefined();

    const second = resolveWithCache({ ...request, env: { LD_LIBRARY_PATH: lab.path('build') } }, first.entry);

    expect(second.reused).toBe(false);
    expect(second.result.libraries.find((library) => library.name === 'libfoo.so')?.path).toBe(lab.path('build/libfoo.so'));
  });

  it('resolves again after a library changed', () => {
    const request = requestFor('changed');
    const first = resolveWithCache(request, undefined);
    expect(first.entry).toBeDefined();
    const library = lab.path('changed/second/libfoo.so');
    const stats = fs.statSync(library);
    // Same size and mtime, as a careless copy would leave them; the ctime still moves.
    fs.writeFileSync(library, fs.readFileSync(library));
    fs.utimesSync(library, stats.atime, stats.mtime);

    expect(resolveWithCache(request, first.entry).reused).toBe(false);
  });

  it.each([
    ['no object', 'resolution'],
    ['a missing result', { key: 'k', inputs: [] }],
    ['malformed inputs', { key: 'k', inputs: [['only-one']], result: { schemaVersion: 1 } }],
  ])('ignores %s', (_, previous) => {
    expect(resolveWithCache(requestFor('plain'), previous).reused).toBe(false);
  });
});

// buildImage with its build cache: a rebuild after a change to a packed file
// must give the bytes and the manifest of a fresh build, and a damaged cache
// must only cost a full build. The program is built with gcc and resolved in
// the host's root; the kernel files are synthetic, since nothing boots here.

import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseUnikernelConfig, type ResolvedUnikernelConfig } from '../config';
import type { KernelRelease } from '../kernel';
import { writeFakeKernel } from '../nanos/test-support/fixtures';
import { hasCommand, Lab } from '../resolve/test-support/lab';
import { buildCachePath } from './build-cache';
import { buildImage } from './build-image';

const lab = Lab.create('nxu-build-');
afterAll(() => lab.remove());

const hasGcc = hasCommand('gcc', ['--version']);

describe.skipIf(!hasGcc)('buildImage with build cache', () => {
  let kernel: KernelRelease;
  let config: ResolvedUnikernelConfig;
  let script: string;

  beforeAll(async () => {
    fs.mkdirSync(lab.path('kernel'), { recursive: true });
    const fake = await writeFakeKernel(lab.path('kernel'));
    kernel = { dir: lab.path('kernel'), ...fake, uefiLoader: undefined, version: '0.0.0-test', source: 'option', download: undefined };
    const program = lab.exe('app/server');
    script = lab.write('app/script.js', 'console.log(1);\n');
    config = parseUnikernelConfig({ program, args: ['/srv/script.js'], files: [{ from: script, to: '/srv/script.js' }] }, { file: 'test', baseDir: lab.dir });
  });

  async function build(output: string, options: { useBuildCache?: boolean } = {}): Promise<string[]> {
    const lines: string[] = [];
    await buildImage({ config, output: lab.path(output), kernel, log: (line) => lines.push(line), ...options });
    return lines;
  }

  function read(output: string): Buffer {
    return fs.readFileSync(lab.path(output));
  }

  it('rebuilds to the bytes of a fresh build', async () => {
    await build('rebuild.img');
    fs.writeFileSync(script, 'console.log("a longer line than before");\n');

    const lines = await build('rebuild.img');
    await build('rebuild-fresh.img');

    expect(read('rebuild.img').equals(read('rebuild-fresh.img'))).toBe(true);
    // The libraries come from the cache. script.js changed, and the program and
    // the kernel are read again too while younger than the 2 s racy window.
    expect(lines.find((line) => line.startsWith('hashes:'))).toMatch(/^hashes: [1-3] files read, [1-9]\d* unchanged since the last build$/);
    // A clone where the filesystem has reflinks; the previous file itself elsewhere.
    expect(lines.find((line) => line.startsWith('image:'))).toMatch(/(updated a clone of|patched) the previous image: \d+ bytes written/);
  });

  it('writes the manifest of a fresh build', async () => {
    await build('manifest.img');
    fs.writeFileSync(script, 'console.log(3);\n');
    await build('manifest.img');
    await build('manifest-fresh.img');

    const rebuilt = JSON.parse(fs.readFileSync(lab.path('manifest.img.manifest.json'), 'utf8')) as unknown;
    const fresh = JSON.parse(fs.readFileSync(lab.path('manifest-fresh.img.manifest.json'), 'utf8')) as unknown;
    expect(rebuilt).toEqual(fresh);
  });

  it('ignores a damaged build cache', async () => {
    await build('damaged.img');
    const cache = buildCachePath(lab.path('damaged.img'));
    fs.writeFileSync(cache, '{"version": 1, "digests": [');

    const lines = await build('damaged.img');

    expect(lines).toContain(`build cache: ignored, because ${cache} is not valid JSON (${jsonError('{"version": 1, "digests": [')})`);
    expect(lines.find((line) => line.startsWith('hashes:'))).toMatch(/^hashes: \d+ files read, 0 unchanged since the last build$/);
    expect(JSON.parse(fs.readFileSync(cache, 'utf8'))).toMatchObject({ version: 1 });
  });

  it('ignores a cache of another version', async () => {
    await build('version.img');
    const cache = buildCachePath(lab.path('version.img'));
    fs.writeFileSync(cache, JSON.stringify({ version: 0, digests: [] }));

    const lines = await build('version.img');

    expect(lines).toContain(`build cache: ignored, because ${cache} is not a version 1 build cache`);
  });

  it('skips the cache when asked', async () => {
    await build('no-cache.img');

    const lines = await build('no-cache.img', { useBuildCache: false });

    expect(lines.find((line) => line.startsWith('hashes:'))).toMatch(/ 0 unchanged since the last build$/);
    expect(lines.find((line) => line.startsWith('image:'))).not.toMatch(/updated a clone|written in full/);
    expect(fs.existsSync(buildCachePath(lab.path('no-cache.img')))).toBe(true);
  });

  it('writes in full after the image changed', async () => {
    await build('touched.img');
    const image = lab.path('touched.img');
    const bytes = fs.readFileSync(image);
    fs.writeFileSync(image, bytes);
    fs.utimesSync(image, new Date(), new Date(Date.now() + 10_000));

    const lines = await build('touched.img');

    expect(lines.find((line) => line.startsWith('image:'))).toMatch(/written in full, because the image was modified after the last build wrote it/);
    await build('touched-fresh.img');
    expect(read('touched.img').equals(read('touched-fresh.img'))).toBe(true);
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

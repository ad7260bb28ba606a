// The JSON manifest: what it contains, a write-then-read round trip, and the
// temporary file that keeps a failed write from leaving a partial manifest.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Lab } from '../resolve/test-support/lab';
import { SysrootPlanError } from './errors';
import { buildManifest, readManifestJson, writeManifestJson } from './manifest-json';
import type { StagedFile, StagingPlan } from './types';

const lab = Lab.create('nxu-manifest-');
afterAll(() => lab.remove());

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function stagedFile(filePath: string, size: number, overrides: Partial<StagedFile> = {}): StagedFile {
  return { path: filePath, kind: 'file', size, sha256: HASH_A, mode: 0o644, source: `/host${filePath}`, role: 'library', reason: 'test', ...overrides };
}

const plan: StagingPlan = {
  entries: [],
  records: [
    stagedFile('/lib64/ld-linux-x86-64.so.2', 200, { role: 'interpreter', mode: 0o755 }),
    stagedFile('/app', 1000, { role: 'program', mode: 0o755, sha256: HASH_B }),
    stagedFile('/app-data/link', 7, { kind: 'symlink', target: 'target0', mode: 0o777, role: 'packed' }),
    stagedFile('/etc/hosts', 30, { source: 'generated', role: 'runtime-file' }),
  ],
  warnings: [],
  program: '/app',
  interpreter: '/lib64/ld-linux-x86-64.so.2',
  addons: [],
};

/** Names in `folder` that look like leftovers of an interrupted write. */
function temporaryFiles(folder: string): string[] {
  return fs.readdirSync(folder).filter((name) => name.endsWith('.tmp'));
}

describe('buildManifest', () => {
  it('sorts files by path in byte order', () => {
    const manifest = buildManifest(plan);
    expect(manifest.files.map((file) => file.path)).toEqual(['/app', '/app-data/link', '/etc/hosts', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('counts regular files in totalBytes', () => {
    expect(buildManifest(plan).totalBytes).toBe(1000 + 30 + 200);
  });

  it('takes program and interpreter from the plan', () => {
    const manifest = buildManifest(plan, { kernelVersion: '0.1.54' });
    expect(manifest).toMatchObject({ schemaVersion: 1, program: '/app', interpreter: '/lib64/ld-linux-x86-64.so.2', kernelVersion: '0.1.54' });
    expect('kernelVersion' in buildManifest(plan)).toBe(false);
  });
});

describe('writeManifestJson and readManifestJson', () => {
  it('round-trips a manifest', async () => {
    const file = lab.path('round-trip/image.manifest.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const written = await writeManifestJson(file, plan, { kernelVersion: '0.1.54' });

    expect(await readManifestJson(file)).toEqual(written);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(written);
    expect(temporaryFiles(path.dirname(file))).toEqual([]);
  });

  it('replaces an existing manifest', async () => {
    const file = lab.write('replace/image.manifest.json', 'old contents');
    await writeManifestJson(file, plan);

    expect((await readManifestJson(file)).program).toBe('/app');
  });

  it('leaves no file when the write fails', async () => {
    // A folder at the manifest path makes the final rename fail after the temporary file was written.
    const folder = lab.path('failing');
    const target = path.join(folder, 'image.manifest.json');
    fs.mkdirSync(path.join(target, 'inner'), { recursive: true });

    await expect(writeManifestJson(target, plan)).rejects.toThrow(SysrootPlanError);
    await expect(writeManifestJson(target, plan)).rejects.toThrow(`Cannot write the manifest ${target}`);
    expect(fs.readdirSync(folder)).toEqual(['image.manifest.json']);
    expect(fs.statSync(target).isDirectory()).toBe(true);
  });

  it('fails in a missing folder', async () => {
    const target = lab.path('no-such-folder/image.manifest.json');
    await expect(writeManifestJson(target, plan)).rejects.toThrow(/ENOENT/);
    expect(fs.existsSync(path.dirname(target))).toBe(false);
  });

  it('rejects another schema version', async () => {
    const file = lab.write('schema/image.manifest.json', JSON.stringify({ ...buildManifest(plan), schemaVersion: 2 }));
    const error = await readManifestJson(file).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SysrootPlanError);
    expect((error as SysrootPlanError).code).toBe('invalid-manifest');
    expect((error as SysrootPlanError).message).toContain('schemaVersion');
  });

  it('rejects text that is not JSON', async () => {
    const file = lab.write('not-json/image.manifest.json', '{"schemaVersion": 1,');
    await expect(readManifestJson(file)).rejects.toThrow(/is not valid JSON/);
  });
});

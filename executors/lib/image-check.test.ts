import { readFileSync, truncateSync, writeFileSync } from 'node:fs';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ImageCheckError, recordImageHash, verifyImage } from './image-check';
import { makeWorkspace, type TempWorkspace } from './test-support/context';

let workspace: TempWorkspace;
let image: string;

beforeEach(async () => {
  workspace = makeWorkspace('nx-unikernel-check-');
  image = workspace.write('dist/app.img', Buffer.alloc(4096, 7));
  workspace.write('dist/app.img.manifest.json', { schemaVersion: 1, program: '/app', files: [], totalBytes: 0 });
  await recordImageHash(image);
});

afterEach(() => {
  workspace.remove();
});

describe('verifyImage', () => {
  it('accepts an intact image', async () => {
    await expect(verifyImage(image, 'nx run app:unikernel')).resolves.toMatchObject({ size: 4096 });
  });

  it('keeps the manifest fields', () => {
    const manifest = JSON.parse(readFileSync(`${image}.manifest.json`, 'utf8'));
    expect(manifest.program).toBe('/app');
    expect(manifest.image.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects a missing image', async () => {
    workspace.remove();
    await expect(verifyImage(image, 'nx run app:unikernel')).rejects.toThrow(/^cached image missing\/corrupt; rebuild: the image .* does not exist/);
  });

  it('rejects a truncated image', async () => {
    truncateSync(image, 1024);
    await expect(verifyImage(image, 'nx run app:unikernel')).rejects.toThrow(/has 1024 bytes, its manifest records 4096/);
  });

  it('rejects changed bytes', async () => {
    writeFileSync(image, Buffer.alloc(4096, 8));
    await expect(verifyImage(image, 'nx run app:unikernel')).rejects.toThrow(/the SHA-256 of .* is [0-9a-f]{64}, its manifest records/);
  });

  it('rejects a manifest without a hash', async () => {
    workspace.write('dist/app.img.manifest.json', { schemaVersion: 1 });
    await expect(verifyImage(image, 'nx run app:unikernel')).rejects.toThrow(ImageCheckError);
  });

  it('names the rebuild command', async () => {
    truncateSync(image, 0);
    await expect(verifyImage(image, 'nx run app:unikernel --skip-nx-cache')).rejects.toThrow(/Run nx run app:unikernel --skip-nx-cache/);
  });
});

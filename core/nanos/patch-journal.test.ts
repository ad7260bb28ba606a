// The undo journal of a patch in place: after any mix of writes and a growth
// of the file, a rollback must give back the original bytes and size.

import { randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PatchJournal } from './patch-journal';
import { makeTempDir, removeDir } from './test-support/fixtures';

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('patch-journal');
});

afterAll(async () => {
  await removeDir(dir);
});

describe('PatchJournal', () => {
  it('rolls back writes and growth', async () => {
    const file = join(dir, 'image');
    const original = randomBytes(256 * 1024);
    await writeFile(file, original);
    const handle = await open(file, 'r+');
    try {
      const journal = PatchJournal.open(handle, original.length);
      const output = journal.output;

      await output.truncate(original.length + 8192);
      await output.write(Buffer.alloc(4096, 1), 0, 4096, 0);
      await output.write(Buffer.alloc(1000, 2), 0, 1000, 2048);
      await output.write(Buffer.alloc(9000, 3), 0, 9000, original.length - 500);
      expect((await readFile(file)).equals(original)).toBe(false);

      await journal.rollback();

      const restored = await readFile(file);
      expect(restored.length).toBe(original.length);
      expect(restored.equals(original)).toBe(true);
    } finally {
      await handle.close();
    }
  });

  it('passes other calls through', async () => {
    const file = join(dir, 'passthrough');
    await writeFile(file, Buffer.alloc(1024, 7));
    const handle = await open(file, 'r+');
    try {
      const output = PatchJournal.open(handle, 1024).output;

      expect((await output.stat()).size).toBe(1024);
    } finally {
      await handle.close();
    }
  });
});

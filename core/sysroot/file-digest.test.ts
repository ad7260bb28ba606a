// Streaming SHA-256 of host files and the per-plan cache keyed by path, size and mtime.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { Lab } from '../resolve/test-support/lab';
import { SysrootPlanError } from './errors';
import { FileDigests, sha256Of } from './file-digest';

const lab = Lab.create('nxu-digest-');
afterAll(() => lab.remove());

describe('FileDigests', () => {
  it('hashes a file larger than one stream chunk', async () => {
    // 3 MiB spans many 64 KiB read-stream chunks.
    const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
    bytes.write('tail', bytes.length - 4);
    const file = lab.write('large.bin', bytes);
    fs.chmodSync(file, 0o750);
    const digest = await new FileDigests().digest(file, 'large.bin');

    expect(digest).toEqual({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), mode: 0o750 });
  });

  it('reads a file with unchanged size and mtime once', async () => {
    const file = lab.write('once.txt', 'first');
    const mtime = new Date(1_700_000_000_000);
    fs.utimesSync(file, mtime, mtime);
    const digests = new FileDigests();
    const first = await digests.digest(file, 'once.txt');

    // Same size and mtime: the cached digest is returned, so the new bytes are not read.
    fs.writeFileSync(file, 'FIRST');
    fs.utimesSync(file, mtime, mtime);
    expect(await digests.digest(file, 'once.txt')).toEqual(first);
    expect(first.sha256).toBe(sha256Of(Buffer.from('first')));
  });

  it('reads a changed file again', async () => {
    const file = lab.write('changed.txt', 'before');
    const digests = new FileDigests();
    const before = await digests.digest(file, 'changed.txt');
    fs.writeFileSync(file, 'after!');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5_000));

    const after = await digests.digest(file, 'changed.txt');
    expect(after.sha256).toBe(sha256Of(Buffer.from('after!')));
    expect(after.sha256).not.toBe(before.sha256);
  });

  it('names the file when it is missing', async () => {
    const missing = lab.path('missing.txt');
    const error = await new FileDigests().digest(missing, '/etc/missing (test)').catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SysrootPlanError);
    expect((error as SysrootPlanError).message).toBe(`/etc/missing (test): cannot read ${missing} (ENOENT); check that the file exists and is readable.`);
  });

  it('rejects a folder', async () => {
    await expect(new FileDigests().digest(lab.dir, 'folder')).rejects.toThrow('is not a regular file');
  });
});

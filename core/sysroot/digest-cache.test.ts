// Digests kept between builds: when a stored digest is trusted, which files
// are kept for the next build, and plans that leave hashing to the writer.

import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { Resolver } from '../resolve/resolver';
import { Lab } from '../resolve/test-support/lab';
import { SysrootPlanError } from './errors';
import { FileDigests, sha256Of, type DigestRecord } from './file-digest';
import { planSysroot, planSysrootDeferred } from './plan';
import { debianRoot, HAS_DEBIAN_GLIBC, sha256File } from './test-support/debian-root';
import type { SysrootPlanInput } from './types';

const lab = Lab.create('nxu-digest-cache-');
afterAll(() => lab.remove());

// A file installed with the packages, so its mtime and ctime are older than the racy window.
const OLD_FILE = require.resolve('zod/package.json');

/** Returns a record for `file` as stored after an earlier build, with `sha256` in place of its real digest. */
function storedRecord(file: string, sha256: string): DigestRecord {
  const stats = fs.statSync(file, { bigint: true });
  return {
    path: file,
    size: Number(stats.size),
    sha256,
    dev: stats.dev.toString(),
    ino: stats.ino.toString(),
    mtimeNs: stats.mtimeNs.toString(),
    ctimeNs: stats.ctimeNs.toString(),
  };
}

const FAKE_SHA256 = 'a'.repeat(64);

describe('FileDigests with stored digests', () => {
  it('trusts a digest with unchanged stat', async () => {
    const file = lab.write('unchanged.txt', 'contents');
    const digests = new FileDigests([storedRecord(file, FAKE_SHA256)]);

    // The fake digest comes back, so the file was not read.
    expect((await digests.digest(file, 'unchanged.txt')).sha256).toBe(FAKE_SHA256);
    expect(digests.reusedFiles).toBe(1);
    expect(digests.hashedFiles).toBe(0);
  });

  it('rehashes after chmod', async () => {
    const file = lab.write('chmod.txt', 'contents');
    const stored = storedRecord(file, FAKE_SHA256);
    await new Promise((resolve) => setTimeout(resolve, 20));
    fs.chmodSync(file, 0o600);

    const digest = await new FileDigests([stored]).digest(file, 'chmod.txt');

    expect(digest.sha256).toBe(sha256Of(Buffer.from('contents')));
  });

  it('rehashes when mtime is restored', async () => {
    const file = lab.write('restored.txt', 'before');
    const { mtime } = fs.statSync(file);
    const stored = storedRecord(file, sha256Of(Buffer.from('before')));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Same size and mtime as before, as `cp -p` or `rsync -t` leave them; only ctime differs.
    fs.writeFileSync(file, 'AFTER!');
    fs.utimesSync(file, mtime, mtime);

    const digest = await new FileDigests([stored]).digest(file, 'restored.txt');

    expect(digest.sha256).toBe(sha256Of(Buffer.from('AFTER!')));
  });

  it('rehashes a file with another inode', async () => {
    const file = lab.write('replaced.txt', 'same');
    const stored = { ...storedRecord(file, FAKE_SHA256), ino: '1' };

    expect((await new FileDigests([stored]).digest(file, 'replaced.txt')).sha256).toBe(sha256Of(Buffer.from('same')));
  });

  it('keeps old files and drops racy ones', async () => {
    const fresh = lab.write('just-written.txt', 'new');
    const digests = new FileDigests();
    await digests.digest(OLD_FILE, 'old');
    await digests.digest(fresh, 'fresh');

    const records = await digests.records();

    expect(records.map((record) => record.path)).toEqual([OLD_FILE]);
    expect(records[0]).toEqual(storedRecord(OLD_FILE, sha256File(OLD_FILE)));
  });

  it('keeps trusted digests again', async () => {
    const digests = new FileDigests([storedRecord(OLD_FILE, FAKE_SHA256)]);
    await digests.digest(OLD_FILE, 'old');

    expect(await digests.records()).toEqual([storedRecord(OLD_FILE, FAKE_SHA256)]);
  });

  it('takes digests handed in after lookup', async () => {
    const digests = new FileDigests();
    const looked = await digests.lookup(OLD_FILE, 'old');
    expect(looked.sha256).toBeUndefined();
    expect(looked.size).toBe(fs.statSync(OLD_FILE).size);

    digests.supply(OLD_FILE, FAKE_SHA256);

    expect(await digests.records()).toEqual([storedRecord(OLD_FILE, FAKE_SHA256)]);
    expect((await digests.lookup(OLD_FILE, 'old')).sha256).toBe(FAKE_SHA256);
    expect(digests.hashedFiles).toBe(0);
    expect(digests.suppliedFiles).toBe(1);
  });

  it('rejects supply without lookup', () => {
    expect(() => new FileDigests().supply(OLD_FILE, FAKE_SHA256)).toThrow(/was not left unhashed by lookup/);
  });
});

describe.skipIf(!HAS_DEBIAN_GLIBC)('planSysrootDeferred', () => {
  const root = debianRoot(lab, 'deferred');
  const program = lab.exe('deferred-build/app');
  const script = lab.write('deferred-build/script.js', 'console.log(1);\n');
  const sameAsScript = lab.write('deferred-build/copy.js', 'console.log(1);\n');
  const other = lab.write('deferred-build/other.js', 'console.log(2);\n');

  function input(extra: Partial<SysrootPlanInput> = {}): SysrootPlanInput {
    const resolution = new Resolver({ sysroot: root, isaLevel: 1 }).resolve(program, {});
    return { resolution, sysroot: root, programImagePath: '/app', programHostPath: program, files: [{ from: script, to: '/srv/script.js' }], ...extra };
  }

  it('leaves unknown digests to the writer', async () => {
    const deferred = await planSysrootDeferred(input());
    const unhashed = deferred.entries.filter((entry) => entry.kind === 'file' && 'source' in entry && entry.sha256 === undefined).map((entry) => entry.path);

    expect(unhashed.sort()).toEqual(['/app', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2', '/srv/script.js']);
  });

  it('completes to the eager plan', async () => {
    const digests = new FileDigests();
    const deferred = await planSysrootDeferred(input({ digests }));
    const written = new Map<string, string>();
    for (const entry of deferred.entries) {
      if (entry.kind === 'file' && 'source' in entry && entry.sha256 === undefined) written.set(entry.path, sha256File(entry.source));
    }

    const completed = deferred.complete(written);
    const eager = await planSysroot(input());

    expect(completed.records).toEqual(eager.records);
    expect(completed.entries).toEqual(eager.entries);
    expect(digests.suppliedFiles).toBe(4);
  });

  it('rejects completion without a digest', async () => {
    const deferred = await planSysrootDeferred(input());

    expect(() => deferred.complete(new Map())).toThrow(SysrootPlanError);
    expect(() => deferred.complete(new Map())).toThrow(/No SHA-256 was given for \/app/);
  });

  it('hashes files that share a path', async () => {
    const files = [
      { from: script, to: '/srv/script.js' },
      { from: sameAsScript, to: '/srv/script.js' },
    ];
    const deferred = await planSysrootDeferred(input({ files }));

    expect(deferred.entries.find((entry) => entry.path === '/srv/script.js')).toMatchObject({ sha256: sha256File(script) });
  });

  it('rejects different files at one path', async () => {
    const files = [
      { from: script, to: '/srv/script.js' },
      { from: other, to: '/srv/script.js' },
    ];

    await expect(planSysrootDeferred(input({ files }))).rejects.toThrow(/comes from two sources with different contents/);
  });

  it('places files by how often they change', async () => {
    const deferred = await planSysrootDeferred(input());
    const groups = Object.fromEntries(deferred.entries.flatMap((entry) => (entry.kind === 'file' ? [[entry.path, entry.placementGroup]] : [])));

    expect(groups).toMatchObject({ '/lib/x86_64-linux-gnu/libc.so.6': 0, '/lib64/ld-linux-x86-64.so.2': 0, '/app': 1, '/srv/script.js': 2 });
  });
});

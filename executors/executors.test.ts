// The image and run executors on real programs: gcc builds them, the engine
// writes the images and QEMU boots them. Needs a Nanos release in
// NX_UNIKERNEL_NANOS_DIR; without it these tests are reported as skipped.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import imageExecutor from './image/executor';
import runExecutor from './run/executor';
import sysrootExecutor from './sysroot/executor';
import { makeWorkspace, type TempWorkspace } from './lib/test-support/context';

function skipReason(): string | undefined {
  const release = process.env['NX_UNIKERNEL_NANOS_DIR'];
  if (!release) return 'NX_UNIKERNEL_NANOS_DIR is not set to a Nanos release folder';
  if (!existsSync(path.join(release, 'kernel.img'))) return `${release} has no kernel.img`;
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not installed';
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) return 'qemu-system-x86_64 is not installed';
  return undefined;
}

const reason = skipReason();
const EXIT_PROGRAM = 'int main(void) { return 3; }\n';

describe.skipIf(reason !== undefined)(`executors on real images${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let workspace: TempWorkspace;

  beforeAll(() => {
    workspace = makeWorkspace('nx-unikernel-executors-');
    workspace.write('apps/exit/main.c', EXIT_PROGRAM);
    workspace.write('apps/exit/unikernel.json', { program: 'dist/exit', accelerator: 'tcg' });
    mkdirSync(path.join(workspace.root, 'apps/exit/dist'), { recursive: true });
    execFileSync('gcc', ['-O2', '-o', path.join(workspace.root, 'apps/exit/dist/exit'), path.join(workspace.root, 'apps/exit/main.c')], { stdio: 'inherit' });
  });

  afterAll(() => {
    workspace.remove();
  });

  it('builds an image with a hashed manifest', async () => {
    const result = await imageExecutor({}, workspace.context('apps/exit'));
    expect(result.success).toBe(true);
    const manifest = JSON.parse(readFileSync(path.join(workspace.root, 'apps/exit/dist/unikernel/exit.img.manifest.json'), 'utf8'));
    expect(manifest.image.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives identical images in two checkouts', async () => {
    const other = makeWorkspace('nx-unikernel-checkout-');
    try {
      cpSync(path.join(workspace.root, 'apps'), path.join(other.root, 'apps'), { recursive: true });
      rmSync(path.join(other.root, 'apps/exit/dist/unikernel'), { recursive: true, force: true });
      expect((await imageExecutor({}, other.context('apps/exit'))).success).toBe(true);
      const first = readFileSync(path.join(workspace.root, 'apps/exit/dist/unikernel/exit.img'));
      const second = readFileSync(path.join(other.root, 'apps/exit/dist/unikernel/exit.img'));
      expect(second.equals(first)).toBe(true);
    } finally {
      other.remove();
    }
  });

  it('lists the image files without host paths', async () => {
    expect((await sysrootExecutor({}, workspace.context('apps/exit', 'unikernel-sysroot'))).success).toBe(true);
    const listing = readFileSync(path.join(workspace.root, 'apps/exit/dist/unikernel/exit.sysroot.json'), 'utf8');
    expect(JSON.parse(listing).files.map((file: { path: string }) => file.path)).toContain('/lib/x86_64-linux-gnu/libc.so.6');
    expect(listing).not.toContain(workspace.root);
  });

  it('lists empty folders and klibs', async () => {
    workspace.write('apps/dirs/unikernel.json', { program: path.join(workspace.root, 'apps/exit/dist/exit'), dirs: ['static'], klibs: ['ntp'], accelerator: 'tcg' });
    workspace.write('apps/dirs/static/sub/a.txt', 'a\n');
    const context = workspace.context('apps/dirs', 'unikernel-sysroot');
    const listingFile = path.join(workspace.root, 'apps/dirs/dist/unikernel/dirs.sysroot.json');
    expect((await sysrootExecutor({}, context)).success).toBe(true);
    const before = readFileSync(listingFile, 'utf8');

    // An empty folder is an image entry too, so the listing, which keys the image's cache, must change.
    mkdirSync(path.join(workspace.root, 'apps/dirs/static/empty'));
    expect((await sysrootExecutor({}, context)).success).toBe(true);
    const after = JSON.parse(readFileSync(listingFile, 'utf8'));

    expect(after.directories).toContain('/static/empty');
    expect(readFileSync(listingFile, 'utf8')).not.toBe(before);
    expect(after.kernel.klibSha256.ntp).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fails the run on a non-zero exit code', async () => {
    const iterator = runExecutor({}, workspace.context('apps/exit', 'unikernel-serve'));
    const yielded = [];
    let step = await iterator.next();
    while (!step.done) {
      yielded.push(step.value);
      step = await iterator.next();
    }
    // Without a forwarded TCP port the VM is ready at the program's first
    // console line. This program prints none before it exits, so the
    // executor never reports ready.
    expect(yielded).toEqual([]);
    expect(step.value).toEqual({ success: false });
  });

  it('refuses a corrupt image before booting', async () => {
    const image = path.join(workspace.root, 'apps/exit/dist/unikernel/exit.img');
    const bytes = readFileSync(image);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(image, bytes);
    const iterator = runExecutor({}, workspace.context('apps/exit', 'unikernel-serve'));
    const step = await iterator.next();
    expect(step).toEqual({ done: true, value: { success: false } });
  });
});

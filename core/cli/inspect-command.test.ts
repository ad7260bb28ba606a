// `inspect` given a file that is not a Nanos image: the built CLI in a child
// process, with a gcc-built program, a qcow2 file from qemu-img and plain data.

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readImage } from '../nanos';
import { hasCommand, Lab } from '../resolve/test-support/lab';

const CLI = path.resolve(__dirname, '../../dist/bin/nx-unikernel.js');
const skipReason = !fs.existsSync(CLI) ? 'the CLI is not built (npm run build)' : !hasCommand('gcc', ['--version']) ? 'gcc is not installed' : undefined;
if (skipReason) console.warn(`skipping inspect tests: ${skipReason}`);

const lab = Lab.create('nxu-inspect-');
afterAll(() => lab.remove());

function inspect(file: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, 'inspect', file], { encoding: 'utf8', cwd: lab.dir });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(skipReason !== undefined)('inspect of a file that is not an image', () => {
  it('names an ELF program and suggests build', async () => {
    lab.write('hello.c', 'int main(void) { return 0; }\n');
    execFileSync('gcc', ['-o', lab.path('hello'), lab.path('hello.c')]);

    const result = inspect('hello');

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('hello is not a Nanos image: it is an ELF file, such as a program. Build an image of it with nx-unikernel build hello.');
    expect(result.stderr).not.toContain('TFS magic');
    expect(result.stdout).toBe('');
    await expect(readImage(lab.path('hello'))).rejects.toMatchObject({ code: 'not-an-image' });
  });

  it('names a file smaller than a sector', () => {
    lab.write('tiny.img', 'not an image\n');

    const result = inspect('tiny.img');

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('tiny.img is not a Nanos image: it is 13 bytes, smaller than one 512-byte sector.');
    expect(result.stderr).toContain('make one with nx-unikernel build PROGRAM');
  });

  it('names missing MBR signature and TFS log', () => {
    lab.write('zeros.img', new Uint8Array(64 * 1024));

    const result = inspect('zeros.img');

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('zeros.img is not a Nanos image: it has neither an MBR boot signature (55 AA at byte 510) nor a TFS log at byte 0.');
  });

  it.skipIf(!hasCommand('qemu-img', ['--version']))('names a qcow2 file', () => {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', lab.path('disk.qcow2'), '1M']);

    const result = inspect('disk.qcow2');

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('disk.qcow2 is not a raw Nanos image: it is a qcow2 file, and nx-unikernel reads raw images only. Convert it with qemu-img convert -O raw');
  });
});

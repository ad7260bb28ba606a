// Arguments whose bytes are not UTF-8, passed by bash as raw bytes to the
// built CLI, as a shell passes a file name such as `prog\xff`.

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasCommand, Lab } from '../resolve/test-support/lab';
import { shellQuoteBytes } from './non-utf8-arguments';

const CLI = path.resolve(__dirname, '../../dist/bin/nx-unikernel.js');
const skipReason = !fs.existsSync(CLI)
  ? 'the CLI is not built (npm run build)'
  : !hasCommand('gcc', ['--version'])
    ? 'gcc is not installed'
    : !fs.existsSync('/proc/self/cmdline')
      ? 'the raw argument bytes are read from /proc/self/cmdline, which only Linux has'
      : undefined;
if (skipReason) console.warn(`skipping non-UTF-8 argument tests: ${skipReason}`);

const lab = Lab.create('nxu-non-utf8-');
afterAll(() => lab.remove());

/** Runs the CLI through bash, so `$'…'` arguments reach it as raw bytes. */
function cliThroughBash(commandLine: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-c', `exec "${process.execPath}" "${CLI}" ${commandLine}`], { encoding: 'utf8', cwd: lab.dir });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(skipReason !== undefined)('non-UTF-8 arguments', () => {
  lab.write('hello.c', 'int main(void) { return 0; }\n');
  execFileSync('gcc', ['-o', lab.path('hello'), lab.path('hello.c')]);
  // The file name is the bytes "prog" 0xff, which only a Buffer path can create.
  fs.copyFileSync(lab.path('hello'), Buffer.concat([Buffer.from(`${lab.dir}/prog`), Buffer.from([0xff])]));

  it('ldd names the bytes and the fix', () => {
    const result = cliThroughBash(`ldd $'prog\\xff'`);

    expect(result.status).toBe(2);
    expect(result.stderr).toContain("the argument $'prog\\xff' is not valid UTF-8.");
    expect(result.stderr).toContain('replaces each invalid byte with U+FFFD');
    expect(result.stderr).toContain("rename the file (for example mv $'prog\\xff' new-name)");
    expect(result.stderr).not.toContain('not found');
  });

  it('build reports each such argument', () => {
    const result = cliThroughBash(`build $'prog\\xff' -a $'x\\x80y' -o out.img`);

    expect(result.status).toBe(2);
    expect(result.stderr).toContain("the argument $'prog\\xff' is not valid UTF-8.");
    expect(result.stderr).toContain("the argument $'x\\x80y' is not valid UTF-8.");
    expect(fs.existsSync(lab.path('out.img'))).toBe(false);
  });

  it('UTF-8 names still resolve', () => {
    lab.copy(lab.path('hello'), 'prög');

    const result = cliThroughBash(`ldd $'pr\\xc3\\xb6g'`);

    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('prög');
  });
});

describe('shellQuoteBytes', () => {
  it('escapes bytes outside printable ASCII', () => {
    expect(shellQuoteBytes(Buffer.from([0x70, 0xff, 0x27, 0x5c, 0x0a, 0x41]))).toBe("$'p\\xff\\x27\\x5c\\x0aA'");
  });
});

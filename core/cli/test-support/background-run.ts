// Starts the built CLI's `run` in a child process for tests that need it
// running while they connect to it or send it signals.

import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../../dist/bin/nx-unikernel.js');

export interface BackgroundRun {
  child: ReturnType<typeof spawn>;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `nx-unikernel run ARGS` in `cwd` and resolves once its standard
 * output or error matches `pattern`. Kills it and throws when it exits first
 * or prints nothing that matches within 90 s.
 */
export async function startRun(args: string[], pattern: RegExp, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<BackgroundRun> {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

  const deadline = Date.now() + 90_000;
  while (!pattern.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`run did not print ${pattern}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, output: () => output, exited };
}

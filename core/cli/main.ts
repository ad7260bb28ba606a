#!/usr/bin/env node
// The nx-unikernel command line.

import { Command, CommanderError } from 'commander';
import { buildCommand } from './build-command';
import { inspectCommand } from './inspect-command';
import { lddCommand } from './ldd-command';
import { findNonUtf8Arguments } from './non-utf8-arguments';
import { runCommand } from './run-command';

function main(): void {
  ignoreClosedOutput();
  const program = new Command('nx-unikernel')
    .description('Resolve, package and boot Linux programs as Nanos unikernel images')
    .version(readVersion())
    .addCommand(lddCommand())
    .addCommand(buildCommand())
    .addCommand(runCommand())
    .addCommand(inspectCommand());

  // Usage errors exit with 2, like rejected input, as the README documents;
  // commander's own default is 1, which means "a library is missing" here.
  for (const command of [program, ...program.commands]) {
    command.exitOverride((error: CommanderError) => {
      throw error;
    });
  }
  // An argument with bytes that are not UTF-8 reaches this process altered, so it fails before any command runs.
  const nonUtf8 = findNonUtf8Arguments(process.argv.slice(2));
  if (nonUtf8.length > 0) {
    for (const message of nonUtf8) process.stderr.write(`nx-unikernel: error: ${message}\n`);
    process.exitCode = 2;
    return;
  }

  program.parseAsync(process.argv).catch((error: unknown) => {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`nx-unikernel: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 70;
  });
}

/**
 * Keeps the command running when the reader of its output goes away, as in
 * `nx-unikernel run IMAGE | grep -m1 listening`. Node.js ignores SIGPIPE, so a
 * write to a closed pipe fails with EPIPE, and without a listener that error
 * ended the process with a stack trace. Later lines are dropped: `build`
 * still writes its image, and `run` keeps the VM until it exits or is stopped.
 */
function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
      throw error;
    });
  }
}

/** The package version, set by the bundler (scripts/bundle-cli.mjs). */
declare const NX_UNIKERNEL_VERSION: string;

function readVersion(): string {
  return NX_UNIKERNEL_VERSION;
}

main();

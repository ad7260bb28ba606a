#!/usr/bin/env node
// The nx-unikernel command line.

import { Command, CommanderError } from 'commander';
import { buildCommand } from './build-command';
import { inspectCommand } from './inspect-command';
import { lddCommand } from './ldd-command';
import { findNonUtf8Arguments } from './non-utf8-arguments';
import { runCommand } from './run-command';

function main(): void {
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

/** The package version, set by the bundler (scripts/bundle-cli.mjs). */
declare const NX_UNIKERNEL_VERSION: string;

function readVersion(): string {
  return NX_UNIKERNEL_VERSION;
}

main();

#!/usr/bin/env node
// The nx-unikernel command line.

import { Command } from 'commander';
import { lddCommand } from './ldd-command';

function main(): void {
  const program = new Command('nx-unikernel')
    .description('Resolve, package and boot Linux programs as Nanos unikernel images')
    .version(readVersion())
    .addCommand(lddCommand());
  program.parse(process.argv);
}

function readVersion(): string {
  // The compiled file sits at dist/core/cli/main.js, three levels below package.json.
  return (require('../../../package.json') as { version: string }).version;
}

main();

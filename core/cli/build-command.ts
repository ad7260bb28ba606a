// `nx-unikernel build`: make a bootable Nanos image of a Linux program.

import * as path from 'node:path';
import { Command } from 'commander';
import { addConfigOptions, reportFailure } from './shared-options';
import type { ConfigCliOptions } from './config-options';
import { runInterruptible } from './interrupt';
import { createLog } from './log';

interface BuildOptions extends ConfigCliOptions {
  output?: string;
}

export function buildCommand(): Command {
  const command = new Command('build')
    .description('build a bootable Nanos image of a Linux ELF program, with the libraries and files it needs')
    .argument('[program]', 'the ELF program (a host path); optional when the config names one')
    .option('-o, --output <file>', 'image file to write (default: <program name>.img in the current folder)');
  addConfigOptions(command);
  return command.action(async (program: string | undefined, options: BuildOptions) => {
    process.exitCode = await runBuild(program, options);
  });
}

async function runBuild(program: string | undefined, options: BuildOptions): Promise<number> {
  const log = createLog('build');
  try {
    // Imported here, not at the top, so other commands start without loading them.
    const { loadCliConfig } = await import('./config-options.js');
    const { buildImage } = await import('../build/index.js');
    const config = loadCliConfig(program, options, log);
    const output = options.output ?? `${path.basename(config.program?.imagePath ?? 'image')}.img`;
    return await runInterruptible(log, async (signal) => {
      const result = await buildImage({ config, output, log, signal });
      log(`manifest: ${result.manifestPath}`);
      return 0;
    });
  } catch (error) {
    return reportFailure(log, error);
  }
}

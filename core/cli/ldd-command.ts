// `nx-unikernel ldd`: resolve a program's libraries inside a root and print them.

import { Command, InvalidArgumentError, Option } from 'commander';
import type { IsaLevel, ResolveResult } from '../resolve/types';


interface LddOptions {
  sysroot: string;
  libraryPath?: string;
  json?: boolean;
  tree?: boolean;
  cwd?: string;
  isaLevel?: IsaLevel;
  platform?: string;
  ldconfig?: boolean;
  env: Record<string, string>;
}

export function lddCommand(): Command {
  return new Command('ldd')
    .description("list the shared libraries a Linux ELF program loads, resolved inside a root folder as its dynamic loader would, without running it")
    .argument('<program>', 'the ELF program or shared library (a host path)')
    .option('--sysroot <dir>', "root folder whose /lib, /usr/lib, /etc/ld.so.cache are the target's", '/')
    .option('--library-path <list>', 'LD_LIBRARY_PATH in the image (colon-separated folders inside the root)')
    .option('--env <name=value>', 'an environment variable of the image, e.g. LD_PRELOAD=/lib/libx.so (repeatable)', collectEnv, {})
    .option('--cwd <dir>', 'working directory inside the root, for relative paths', '/')
    .addOption(new Option('--isa-level <level>', 'x86-64 level of the guest CPU (1-4), which picks glibc-hwcaps folders; default: the host CPU').argParser(parseIsaLevel))
    .option('--platform <name>', 'value of $PLATFORM (the AT_PLATFORM of the guest CPU), default the machine name, e.g. x86_64')
    .option('--ldconfig', 'when the root has no /etc/ld.so.cache, read /etc/ld.so.conf as ldconfig would')
    .option('--json', 'print the result as JSON (schema: see README, "ldd --json")')
    .option('--tree', 'print libraries as a tree under the object that loaded each')
    .action(async (program: string, options: LddOptions) => {
      // Imported here, not at the top, so other commands start without loading them.
      const resolver = await import('../resolve/resolver.js');
      const { formatMissing, formatResolution } = await import('../resolve/format-text.js');
      process.exitCode = runLdd(program, options, { ...resolver, formatMissing, formatResolution });
    });
}

function runLdd(
  program: string,
  options: LddOptions,
  engine: Pick<typeof import('../resolve/resolver'), 'resolveProgram' | 'ResolveError' | 'ElfError'> & Pick<typeof import('../resolve/format-text'), 'formatMissing' | 'formatResolution'>,
): number {
  const { resolveProgram, ResolveError, ElfError, formatMissing, formatResolution } = engine;
  let result: ResolveResult;
  try {
    result = resolveProgram(program, {
      sysroot: options.sysroot,
      allowSharedLibrary: true,
      env: options.env,
      cwd: options.cwd ?? '/',
      ...(options.libraryPath !== undefined ? { libraryPath: options.libraryPath } : {}),
      ...(options.isaLevel !== undefined ? { isaLevel: options.isaLevel } : {}),
      ...(options.platform !== undefined ? { platform: options.platform } : {}),
      ...(options.ldconfig ? { emulateLdconfig: true } : {}),
    });
  } catch (error) {
    if (!(error instanceof ElfError || error instanceof ResolveError)) throw error;
    if (options.json) {
      const code = error instanceof ElfError ? error.code : 'invalid-input';
      process.stdout.write(`${JSON.stringify({ error: { code, message: error.message } }, null, 2)}\n`);
    }
    process.stderr.write(`nx-unikernel ldd: ${error.message}\n`);
    return 2;
  }

  if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(formatResolution(result, { tree: options.tree ?? false }));

  for (const diagnostic of result.diagnostics) {
    if (diagnostic.level !== 'info' || !options.json) process.stderr.write(`${diagnostic.level}: ${diagnostic.message}\n`);
  }
  process.stderr.write(formatMissing(result));
  return result.ok ? 0 : 1;
}

function collectEnv(value: string, previous: Record<string, string>): Record<string, string> {
  const equals = value.indexOf('=');
  if (equals <= 0) throw new InvalidArgumentError(`"${value}" is not NAME=VALUE, e.g. --env LD_PRELOAD=/lib/libx.so`);
  return { ...previous, [value.slice(0, equals)]: value.slice(equals + 1) };
}

function parseIsaLevel(value: string): IsaLevel {
  const level = Number(value.replace(/^(x86-64-)?v/, ''));
  if (level === 1 || level === 2 || level === 3 || level === 4) return level;
  throw new InvalidArgumentError(`"${value}" is not an x86-64 level: use 1, 2, 3 or 4 (or v1..v4)`);
}

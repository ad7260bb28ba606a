// Commander's variadic `-a, --args <arg...>` takes every following word up to
// the next option, so `build -a 5 ./server` passes "./server" to the guest as
// an argument and leaves the program unset. This check names that mistake.

import * as fs from 'node:fs';
import { CliInputError } from './shared-options';

/**
 * Throws CliInputError when no program is set but -a/--args collected words,
 * naming the first word that is an existing file as the likely program.
 */
export function checkProgramNotInArgs(program: string | undefined, args: readonly string[] | undefined, configProgram: unknown): void {
  if (program !== undefined || configProgram !== undefined || args === undefined || args.length === 0) return;

  const likelyProgram = args.find((word) => isFile(word));
  const quotedArgs = args.map((word) => JSON.stringify(word)).join(' ');
  const culprit = likelyProgram === undefined
    ? 'none of them is an existing file'
    : `${JSON.stringify(likelyProgram)} is an existing file and looks like the program`;
  throw new CliInputError(
    `no program given: -a/--args takes every following word as a guest argument, so it took ${quotedArgs}, and ${culprit}. ` +
      'Put the program before -a (build ./server -a 5), or end the arguments with -- and put the program last (build -a 5 -- ./server).',
  );
}

function isFile(word: string): boolean {
  try {
    return fs.statSync(word).isFile();
  } catch {
    return false;
  }
}

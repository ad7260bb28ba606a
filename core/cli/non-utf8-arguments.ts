// Command-line arguments whose bytes are not UTF-8, such as a program file
// named `prog\xff`. Node.js decodes argv as UTF-8 and replaces each invalid
// byte with U+FFFD, so the string in process.argv names another file and
// every later step would report "not found". Node's fs opens such names only
// as Buffer paths, and the resolver, the ELF reader and the image writer take
// string paths, so the CLI rejects these arguments with the bytes spelled out.

import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';

/** Reads the raw bytes of the user's arguments (process.argv without node and the script). Returns undefined where they cannot be read. */
function readRawArguments(count: number): Buffer[] | undefined {
  // NOTE: only Linux exposes the raw bytes in /proc/self/cmdline, so on other
  // systems such an argument still reaches the commands as U+FFFD text.
  let cmdline: Buffer;
  try {
    cmdline = fs.readFileSync('/proc/self/cmdline');
  } catch {
    return undefined;
  }

  const parts: Buffer[] = [];
  let start = 0;
  for (let index = cmdline.indexOf(0); index >= 0; index = cmdline.indexOf(0, start)) {
    parts.push(cmdline.subarray(start, index));
    start = index + 1;
  }
  // Node's own options (process.execArgv) come before the script, so the user's arguments are the last `count`.
  return parts.length >= count ? parts.slice(parts.length - count) : undefined;
}

/** Writes `bytes` as a bash $'…' string: printable ASCII as is, every other byte as \xHH. */
export function shellQuoteBytes(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x27 && byte !== 0x5c;
    text += printable ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `$'${text}'`;
}

/**
 * Returns one error message per argument in `userArguments` (process.argv
 * from index 2) whose raw bytes are not valid UTF-8, or none when the raw
 * bytes cannot be read or do not line up with the arguments.
 */
export function findNonUtf8Arguments(userArguments: readonly string[]): string[] {
  if (!userArguments.some((argument) => argument.includes('\uFFFD'))) return [];
  const raw = readRawArguments(userArguments.length);
  if (raw === undefined) return [];

  const messages: string[] = [];
  userArguments.forEach((argument, index) => {
    const bytes = raw[index];
    // A mismatch means the arguments do not line up with /proc/self/cmdline, so nothing is claimed.
    if (bytes === undefined || bytes.toString('utf8') !== argument || isUtf8(bytes)) return;

    const quoted = shellQuoteBytes(bytes);
    messages.push(
      `the argument ${quoted} is not valid UTF-8. Node.js decodes arguments as UTF-8 and replaces each invalid byte with U+FFFD, ` +
        `so nx-unikernel receives a different value and, because it handles file paths as strings, cannot open a file of the original name. ` +
        `If it names a file, rename the file (for example mv ${quoted} new-name) and pass the new name. Otherwise write the value in UTF-8.`,
    );
  });
  return messages;
}

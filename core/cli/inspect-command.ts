// `nx-unikernel inspect`: print what a Nanos image contains.

import * as fs from 'node:fs';
import { Command } from 'commander';
import type { ImageContents, ImageNode } from '../nanos';
import { createLog } from './log';
import { CliInputError, reportFailure } from './shared-options';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('print the file tree, the boot manifest and the sizes of a Nanos image')
    .argument('<image>', 'the image file')
    .option('--json', 'print the contents as JSON')
    .action(async (image: string, options: { json?: boolean }) => {
      try {
        const { readImage } = await import('../nanos/index.js');
        if (!fs.existsSync(image) || !fs.statSync(image).isFile()) {
          throw new CliInputError(`${image} is not an image file: give the .img that nx-unikernel build wrote`);
        }
        const contents = await readImage(image);
        process.stdout.write(options.json ? `${JSON.stringify(contents, jsonReplacer, 2)}\n` : formatImage(contents));
      } catch (error) {
        process.exitCode = reportFailure(createLog('inspect'), error);
      }
    });
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return value;
}

export function formatImage(contents: ImageContents): string {
  const lines: string[] = [];
  lines.push(`${contents.path}: ${contents.size} bytes, uuid ${contents.uuid}, label ${contents.label || '(none)'}, ${contents.freeBytes} bytes free`);
  for (const partition of contents.partitions) {
    lines.push(`  partition ${partition.index} ${partition.name}: offset ${partition.offset}, ${partition.size} bytes`);
  }

  lines.push('manifest:');
  for (const [key, value] of Object.entries(contents.manifest)) {
    if (key === 'children') continue;
    lines.push(`  ${key}: ${JSON.stringify(value, jsonReplacer)}`);
  }

  if (contents.bootfs) {
    lines.push('boot filesystem:');
    appendTree(contents.bootfs.root, lines, 1);
  }
  lines.push('root filesystem:');
  appendTree(contents.rootfs.root, lines, 1);
  for (const warning of contents.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

function appendTree(node: ImageNode, lines: string[], depth: number): void {
  if (node.kind !== 'directory') return;
  for (const child of node.children) {
    const indent = '  '.repeat(depth);
    if (child.kind === 'file') lines.push(`${indent}${child.name} (${child.size} bytes)`);
    else if (child.kind === 'symlink') lines.push(`${indent}${child.name} -> ${child.target}`);
    else if (child.kind === 'directory') {
      lines.push(`${indent}${child.name}/`);
      appendTree(child, lines, depth + 1);
    } else lines.push(`${indent}${child.name} (other)`);
  }
}

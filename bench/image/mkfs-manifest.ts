// Nanos mkfs manifest text for the entries of a staging plan, so that mkfs
// builds the same tree from the same host files as our writer. Generated
// files (the /etc files) are written to a folder first, because mkfs reads
// every file from the host. The syntax is the one tools/mkfs.c in Nanos reads:
// `(name:value ...)` tuples, `[...]` vectors and bare words.

import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ImageEntry } from '../../core/nanos';

type MkfsNode = { host: string } | { linktarget: string } | { children: Map<string, MkfsNode> };

/** Returns `text` if mkfs reads it as one bare word; throws otherwise, because this helper writes no quoted strings. */
function bare(text: string): string {
  if (text === '' || /[\s()[\]":]/.test(text)) {
    throw new Error(`${JSON.stringify(text)} needs quoting in an mkfs manifest, which this benchmark does not write; use paths without spaces, brackets, quotes or colons.`);
  }
  return text;
}

function nodeText(node: MkfsNode): string {
  if ('host' in node) return `(contents:(host:${bare(node.host)}))`;
  if ('linktarget' in node) return `(linktarget:${bare(node.linktarget)})`;
  const children = [...node.children].map(([name, child]) => `${bare(name)}:${nodeText(child)}`);
  return `(children:(${children.join(' ')}))`;
}

/**
 * Returns the manifest for `entries` plus the boot keys. Files given as
 * contents are written below `generatedFolder` at their image paths.
 */
export function mkfsManifest(entries: readonly ImageEntry[], generatedFolder: string, keys: { program: string; arguments: string[]; environment: Record<string, string>; extra: Record<string, string> }): string {
  const root: MkfsNode = { children: new Map() };
  for (const entry of entries) {
    const names = entry.path.split('/').filter((name) => name !== '');
    let folder = root;
    for (const name of names.slice(0, -1)) {
      let child = folder.children.get(name);
      if (!child) folder.children.set(name, (child = { children: new Map() }));
      if (!('children' in child)) throw new Error(`${entry.path} lies below a file or symlink`);
      folder = child;
    }

    const name = names[names.length - 1]!;
    if (entry.kind === 'directory') {
      if (!folder.children.has(name)) folder.children.set(name, { children: new Map() });
    } else if (entry.kind === 'symlink') {
      folder.children.set(name, { linktarget: entry.target });
    } else if ('contents' in entry) {
      const host = path.join(generatedFolder, entry.path);
      fs.mkdirSync(path.dirname(host), { recursive: true });
      fs.writeFileSync(host, entry.contents);
      folder.children.set(name, { host });
    } else {
      folder.children.set(name, { host: entry.source });
    }
  }

  const environment = Object.entries(keys.environment).map(([name, value]) => `${bare(name)}:${bare(value)}`);
  const extra = Object.entries(keys.extra).map(([name, value]) => `${bare(name)}:${bare(value)}`);
  const parts = [
    `children:${nodeText(root).slice('(children:'.length, -1)}`,
    `program:${bare(keys.program)}`,
    `arguments:[${keys.arguments.map(bare).join(' ')}]`,
    `environment:(${environment.join(' ')})`,
    ...extra,
  ];
  return `(${parts.join(' ')})\n`;
}

// Lists the ELF files in folders, for the ldd benchmark and the differential test.

import * as fs from 'node:fs';
import * as path from 'node:path';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Real paths of the regular files with the ELF magic in `folders`, each once, in name order. */
export function listElfFiles(folders: string[]): string[] {
  const seen = new Set<string>();
  for (const folder of folders) {
    for (const name of fs.readdirSync(folder).sort()) {
      try {
        const real = fs.realpathSync(path.join(folder, name));
        if (!seen.has(real) && fs.statSync(real).isFile() && hasElfMagic(real)) seen.add(real);
      } catch {
        // Unreadable entries and dangling links are not part of the set.
      }
    }
  }
  return [...seen];
}

function hasElfMagic(file: string): boolean {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head.equals(ELF_MAGIC);
}

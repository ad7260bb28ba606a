// OPS's MapDirs: every file below a host folder whose base name matches a
// pattern goes to the image path plus its folder relative to the host folder
// (ops lepton/image.go, addMappedFiles).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as posix from 'node:path/posix';
import picomatch from 'picomatch';
import type { ImageCopy, MappedDir } from '../config';
import { BuildError } from './errors';

export function expandMapDirs(mapDirs: readonly MappedDir[]): ImageCopy[] {
  const copies: ImageCopy[] = [];
  for (const mapping of mapDirs) {
    if (!fs.existsSync(mapping.hostDir) || !fs.statSync(mapping.hostDir).isDirectory()) {
      throw new BuildError(`mapDirs folder ${mapping.hostDir} does not exist or is not a folder: fix the key of that mapDirs entry`);
    }
    const matches = picomatch(mapping.pattern, { dot: true });
    for (const relative of walkFiles(mapping.hostDir)) {
      if (!matches(path.basename(relative))) continue;
      copies.push({
        hostPath: path.join(mapping.hostDir, relative),
        imagePath: posix.join(mapping.imagePath, relative.split(path.sep).join('/')),
      });
    }
  }
  return copies;
}

/** Relative paths of the regular files and symlinks below `folder`, in sorted order. */
function walkFiles(folder: string): string[] {
  const found: string[] = [];
  const visit = (relative: string): void => {
    const entries = fs.readdirSync(path.join(folder, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = relative === '' ? entry.name : path.join(relative, entry.name);
      if (entry.isDirectory()) visit(child);
      else found.push(child);
    }
  };
  visit('');
  return found;
}

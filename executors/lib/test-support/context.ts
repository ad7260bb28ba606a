// A hand-built ExecutorContext for one project in a real temporary workspace.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ExecutorContext } from '@nx/devkit';

export interface TempWorkspace {
  root: string;
  write(file: string, content: unknown): string;
  context(projectRoot: string, targetName?: string): ExecutorContext;
  remove(): void;
}

export function makeWorkspace(prefix = 'nx-unikernel-exec-'): TempWorkspace {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    root,
    write(file, content) {
      const full = path.join(root, file);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content));
      return full;
    },
    context(projectRoot, targetName = 'unikernel') {
      const projectName = path.basename(projectRoot);
      return {
        root,
        cwd: root,
        isVerbose: false,
        projectName,
        targetName,
        projectsConfigurations: { version: 2, projects: { [projectName]: { root: projectRoot, targets: {} } } },
        nxJsonConfiguration: {},
        projectGraph: { nodes: {}, dependencies: {} },
      } as ExecutorContext;
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

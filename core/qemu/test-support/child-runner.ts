// Compiles the runner's sources to CommonJS in a temporary folder, so a test
// can run it in a separate Node process and send that process signals.

import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import ts from 'typescript';

const SOURCE_DIR = join(__dirname, '..');

/** Writes the compiled runner to `dir/qemu/` and returns the path of its index.js. */
export async function compileRunner(dir: string): Promise<string> {
  const output = join(dir, 'qemu');
  await mkdir(output, { recursive: true });

  for (const name of await readdir(SOURCE_DIR)) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    const source = await readFile(join(SOURCE_DIR, name), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: name,
    });
    await writeFile(join(output, name.replace(/\.ts$/, '.js')), outputText);
  }
  return join(output, 'index.js');
}

/** The project's node_modules, for the NODE_PATH of child scripts that load the compiled runner. */
export const NODE_MODULES = join(SOURCE_DIR, '..', '..', 'node_modules');

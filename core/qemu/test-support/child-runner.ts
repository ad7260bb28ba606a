// Compiles the runner's sources to CommonJS in a temporary folder, so a test
// can run it in a separate Node process and send that process signals.

import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import ts from 'typescript';

const SOURCE_DIR = join(__dirname, '..');

/** Modules outside core/qemu that the runner imports, by path below core/. */
const SHARED_SOURCES = ['config/port-spec.ts'];

/** Writes the compiled runner to `dir/qemu/` (and its shared modules beside it) and returns the path of its index.js. */
export async function compileRunner(dir: string): Promise<string> {
  const output = join(dir, 'qemu');
  await mkdir(output, { recursive: true });

  for (const name of await readdir(SOURCE_DIR)) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    await compileFile(join(SOURCE_DIR, name), join(output, name.replace(/\.ts$/, '.js')));
  }
  for (const shared of SHARED_SOURCES) {
    await mkdir(join(dir, dirname(shared)), { recursive: true });
    await compileFile(join(SOURCE_DIR, '..', shared), join(dir, shared.replace(/\.ts$/, '.js')));
  }
  return join(output, 'index.js');
}

async function compileFile(sourceFile: string, outputFile: string): Promise<void> {
  const source = await readFile(sourceFile, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: basename(sourceFile),
  });
  await writeFile(outputFile, outputText);
}

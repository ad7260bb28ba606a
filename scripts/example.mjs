// Builds the bundled example C web server with gcc and resolves its libraries
// with `nx-unikernel ldd`, the first step of packing it into an image.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'http-server');
const output = join(example, 'dist', 'server');

mkdirSync(dirname(output), { recursive: true });
console.log(`example: gcc -O2 -o ${output} ${join(example, 'server.c')}`);
execFileSync('gcc', ['-O2', '-Wall', '-o', output, join(example, 'server.c')], { stdio: 'inherit' });

console.log(`example: nx-unikernel ldd --tree ${output}`);
execFileSync(process.execPath, [join(root, 'dist', 'core', 'cli', 'main.js'), 'ldd', '--tree', output], { stdio: 'inherit' });

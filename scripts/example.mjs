// The bundled example: builds the C web server in examples/http-server with
// gcc, lists its libraries, packs it into a Nanos image and shows the image.
// Boot it afterwards with the command printed at the end.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'http-server');
const cli = join(root, 'dist', 'bin', 'nx-unikernel.js');
const program = join(example, 'dist', 'server');
const image = join(example, 'dist', 'server.img');

function step(title, file, args, options = {}) {
  console.log(`\nexample: ${title}`);
  execFileSync(file, args, { stdio: 'inherit', ...options });
}

mkdirSync(dirname(program), { recursive: true });
step(`gcc -O2 -o ${program} server.c`, 'gcc', ['-O2', '-Wall', '-o', program, join(example, 'server.c')]);
step('nx-unikernel ldd --tree dist/server', process.execPath, [cli, 'ldd', '--tree', program]);
step('nx-unikernel build -c unikernel.json', process.execPath, [cli, 'build', '-c', join(example, 'unikernel.json'), '-o', image]);
step('nx-unikernel inspect dist/server.img', process.execPath, [cli, 'inspect', image]);

// The bin path, not `npx nx-unikernel`: npx does not find a package's own bin
// in a clone of that package, where it is not installed under node_modules.
console.log(`\nexample: boot it with\n  node ${cli} run ${image} -c ${join(example, 'unikernel.json')}\nand open http://127.0.0.1:8080/`);

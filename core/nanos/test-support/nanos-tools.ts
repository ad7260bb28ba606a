// Drives the real Nanos tools for the compatibility tests: builds mkfs
// manifests, runs mkfs and dump, reads the attribute order of an mkfs image
// and boots images under QEMU.

import { execFile, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';

import { readPartitionTable, selectPartitions } from '../mbr';
import { SECTOR_SIZE, readLog } from '../tfs-log';
import type { TupleOrdering } from '../tfs-writer';
import { Tuple } from '../tuple';
import { TupleDecoder } from '../tuple-encoding';

const run = promisify(execFile);

/** A node of an mkfs manifest tree: a host file, a directory, a symlink. */
export type MkfsNode = { host: string } | { children: Record<string, MkfsNode> } | { linktarget: string };

// Bare strings in the mkfs manifest syntax end at whitespace and ( ) [ ], so test values must not contain them.
function checkBare(text: string): string {
  if (text === '' || /[\s()[\]"]/.test(text)) throw new Error(`test value ${JSON.stringify(text)} needs quoting in an mkfs manifest`);
  return text;
}

function nodeText(node: MkfsNode): string {
  if ('host' in node) return `(contents:(host:${checkBare(node.host)}))`;
  if ('linktarget' in node) return `(linktarget:${checkBare(node.linktarget)})`;
  return `(children:(${Object.entries(node.children)
    .map(([name, child]) => `${checkBare(name)}:${nodeText(child)}`)
    .join(' ')}))`;
}

/** Returns mkfs manifest text for a root tree and string-valued root keys, vectors as arrays and tuples as records. */
export function mkfsManifest(children: Record<string, MkfsNode>, keys: Record<string, string | string[] | Record<string, string>>, boot?: Record<string, MkfsNode>): string {
  const parts = [`children:${nodeText({ children }).slice('(children:'.length, -1)}`];
  for (const [key, value] of Object.entries(keys)) {
    if (typeof value === 'string') parts.push(`${key}:${checkBare(value)}`);
    else if (Array.isArray(value)) parts.push(`${key}:[${value.map(checkBare).join(' ')}]`);
    else parts.push(`${key}:(${Object.entries(value).map(([name, text]) => `${checkBare(name)}:${checkBare(text)}`).join(' ')})`);
  }
  if (boot) parts.push(`boot:${nodeText({ children: boot })}`);
  return `(${parts.join(' ')})\n`;
}

export async function runMkfs(mkfs: string, args: string[], manifest: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(mkfs, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mkfs ${args.join(' ')} exited with ${code}: ${stderr}`))));
    child.stdin.end(manifest);
  });
}

/**
 * Runs `dump -t` and returns the listed paths ("/a", "/a/b", "/l -> target"),
 * sorted. dump writes the indentation unbuffered and the names through stdio,
 * so stdout must be unbuffered (stdbuf) for the two to stay in order.
 */
export async function dumpTree(dump: string, image: string): Promise<string[]> {
  const { stdout } = await run('stdbuf', ['-o0', dump, '-t', image], { maxBuffer: 16 * 1024 * 1024 });
  // eslint-disable-next-line no-control-regex
  const lines = stdout.replace(/\x1b\[\d+m/g, '').split('\n');
  const start = lines.findIndex((line) => line === '/');
  const stack: string[] = [];
  const paths: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') continue;
    let depth = 0;
    let rest = line;
    while (rest.startsWith('|   ')) {
      depth += 1;
      rest = rest.slice(4);
    }
    stack.length = depth - 1;
    const [name, target] = rest.split(' -> ');
    stack.push(name!);
    paths.push(`/${stack.join('/')}${target === undefined ? '' : ` -> ${target}`}`);
  }
  return paths.sort();
}

export async function dumpExtract(dump: string, image: string, targetDir: string): Promise<void> {
  await run(dump, ['-d', targetDir, image], { maxBuffer: 16 * 1024 * 1024 });
}

export interface FilesystemOrder {
  uuid: Uint8Array;
  ordering: Required<TupleOrdering>;
}

/**
 * Reads the attribute order of every tuple and the order in which files were
 * placed from one filesystem of an mkfs image. Nanos mkfs takes both from its
 * hash tables, so they differ between runs.
 */
async function readFilesystemOrder(imagePath: string, offset: number, sectors: number): Promise<FilesystemOrder> {
  const file = await open(imagePath, 'r');
  try {
    const log = await readLog(
      async (sector, count) => {
        const buffer = Buffer.alloc(count * SECTOR_SIZE);
        await file.read(buffer, 0, buffer.length, offset + sector * SECTOR_SIZE);
        return buffer;
      },
      sectors,
      imagePath,
    );

    const decoder = new TupleDecoder();
    const updated: Tuple[] = [];
    log.entries.forEach((entry, index) => {
      const target = decoder.decodeEntry(entry.bytes, entry.oldEncoding, `entry ${index}`);
      if (index > 0) updated.push(target);
    });
    const root = decoder.entry(1) as Tuple;

    const paths = new Map<Tuple, string>();
    const collect = (directory: Tuple, prefix: string): void => {
      const children = directory.get('children');
      if (!(children instanceof Tuple)) return;
      for (const [name, child] of children.attributes) {
        if (!(child instanceof Tuple)) continue;
        paths.set(child, `${prefix}/${name}`);
        collect(child, `${prefix}/${name}`);
      }
    };
    collect(root, '');
    const placed = [...new Set(updated.filter((tuple) => tuple.get('extents') !== undefined && paths.has(tuple)))].map((tuple) => paths.get(tuple)!);

    const tupleAt = (path: string): Tuple => {
      let tuple = root;
      for (const name of path === '' ? [] : path.split('/')) tuple = tuple.get(name) as Tuple;
      return tuple;
    };

    return {
      uuid: log.uuid,
      ordering: {
        attributeOrder: (path, names) => {
          const requestedNames = new Set(names);
          return [...tupleAt(path).attributes.keys()].filter((name) => requestedNames.has(name));
        },
        fileOrder: (filePaths) => {
          const requestedPaths = new Set(filePaths);
          const placedSet = new Set(placed);
          return [...placed.filter((path) => requestedPaths.has(path)), ...filePaths.filter((path) => !placedSet.has(path))];
        },
      },
    };
  } finally {
    await file.close();
  }
}

/** Reads the UUIDs and orders of both filesystems of an mkfs image. */
export async function readMkfsOrder(imagePath: string): Promise<{ bootfs: FilesystemOrder; rootfs: FilesystemOrder }> {
  const file = await open(imagePath, 'r');
  const sector0 = Buffer.alloc(SECTOR_SIZE);
  const { size } = await file.stat();
  await file.read(sector0, 0, SECTOR_SIZE, 0);
  await file.close();

  const { bootfs, rootfs } = selectPartitions(readPartitionTable(sector0) ?? []);
  if (!bootfs || !rootfs) throw new Error(`${imagePath} has no boot and root partitions`);
  return {
    bootfs: await readFilesystemOrder(imagePath, bootfs.firstSector * SECTOR_SIZE, bootfs.sectorCount),
    rootfs: await readFilesystemOrder(imagePath, rootfs.firstSector * SECTOR_SIZE, Math.floor(size / SECTOR_SIZE) - rootfs.firstSector),
  };
}

export interface BootResult {
  /** QEMU's exit status. With debug_exit, guest exit code c gives (c << 1) | 1. */
  status: number | null;
  output: string;
  timedOut: boolean;
}

/**
 * Boots an image under QEMU with TCG, the options the Nanos Makefile and ops
 * use for a virtio-scsi disk, and the isa-debug-exit device. Kills QEMU after
 * `timeoutMs`.
 */
export async function bootImage(image: string, timeoutMs: number): Promise<BootResult> {
  const args = [
    '-machine', 'q35', '-m', '512M', '-no-reboot', '-display', 'none', '-serial', 'stdio',
    '-device', 'isa-debug-exit',
    '-drive', `if=none,id=hd0,format=raw,file=${image}`,
    '-device', 'virtio-scsi-pci,id=scsi0', '-device', 'scsi-hd,bus=scsi0.0,drive=hd0',
    '-accel', 'tcg',
  ];

  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output, timedOut });
    });
  });
}

export async function compileStatic(source: string, output: string): Promise<void> {
  await run('gcc', ['-static', '-O2', '-o', output, source]);
}

// Documentation of every unikernel.json key, in one table: the schema copies
// `description` and `example` into the JSON schema for editors, and
// ConfigError messages quote `expected` and `example` for the key that failed.

import { MAX_CPUS, MIN_MEMORY_MIB } from '../qemu/command';
import { MAX_TIMER_DELAY_SECONDS } from '../qemu/timer-limit';

export interface FieldDoc {
  /** Effect of the key and its default, shown by editors. */
  readonly description?: string;
  /** The accepted form, completing "Expected …". */
  readonly expected: string;
  /** One valid value as JSON text. */
  readonly example: string;
}

/** Default guest RAM, the value `ops run` forces (ops:lepton/config.go). */
export const DEFAULT_MEMORY = '2G';

/** Default free space after the files; the guest can write this minus the 1 MiB the kernel keeps for its log. */
export const DEFAULT_FREE_SPACE = '64M';

export const DEFAULT_CPUS = 1;

export const DEFAULT_BIND_ADDRESS = '127.0.0.1';

export const DEFAULT_READINESS_TIMEOUT_SECONDS = 30;

const PATH_RULE =
  'A relative path is read from the folder of this file and may not leave it, through `..` or a symlink; write an absolute path to use a file elsewhere.';

/**
 * Docs keyed by key pattern: `[]` stands for any array index, `{}` for any
 * value of a map and `{key}` for a map's keys. Nested manifest values all use
 * the `manifest{}` entry.
 */
export const FIELD_DOCS: Record<string, FieldDoc> = {
  '': {
    expected: 'a JSON object of unikernel options',
    example: '{ "program": "dist/server", "ports": [8080] }',
  },
  $schema: {
    description: 'Path or URL of this JSON schema, for editors. Ignored by nx-unikernel.',
    expected: 'a string',
    example: '"./unikernel.schema.json"',
  },
  program: {
    description:
      'ELF program to run. A relative path lands at the same path under / in the image (`dist/server` becomes `/dist/server`); an absolute path is read inside `sysroot` and keeps its path. ' +
      PATH_RULE,
    expected: 'a path string',
    example: '"dist/server"',
  },
  args: {
    description: 'Arguments passed to the program after argv[0].',
    expected: 'an array of strings',
    example: '["--port", "8080"]',
  },
  'args[]': {
    expected: 'a string (quote numbers)',
    example: '"8080"',
  },
  env: {
    description: 'Environment variables of the program.',
    expected: 'an object of NAME: "value" pairs',
    example: '{ "NODE_ENV": "production" }',
  },
  'env{}': {
    expected: 'a string value (quote numbers and booleans)',
    example: '"8080"',
  },
  'env{key}': {
    expected: 'a variable name that is not empty and contains no = or NUL character',
    example: '"NODE_ENV"',
  },
  files: {
    description:
      'Host files copied into the image. A path string keeps its path in the image (relative paths land under /); `{ "from", "to" }` puts the host file `from` at the absolute image path `to`. ' +
      PATH_RULE,
    expected: 'an array of paths or { "from": path, "to": "/image/path" } objects',
    example: '["config.json", { "from": "certs/ca.pem", "to": "/etc/ssl/ca.pem" }]',
  },
  'files[]': {
    expected: 'a path string or a { "from": path, "to": "/image/path" } object',
    example: '{ "from": "certs/ca.pem", "to": "/etc/ssl/ca.pem" }',
  },
  'files[].from': {
    expected: 'a host path string',
    example: '"certs/ca.pem"',
  },
  'files[].to': {
    expected: 'an absolute image path',
    example: '"/etc/ssl/ca.pem"',
  },
  dirs: {
    description:
      'Host folders copied into the image recursively, with the same path rules as `files`. Symlinks inside them are stored as symlinks. ' + PATH_RULE,
    expected: 'an array of folder paths or { "from": path, "to": "/image/path" } objects',
    example: '["public", { "from": "assets", "to": "/app/assets" }]',
  },
  'dirs[]': {
    expected: 'a folder path string or a { "from": path, "to": "/image/path" } object',
    example: '{ "from": "assets", "to": "/app/assets" }',
  },
  'dirs[].from': {
    expected: 'a host folder path string',
    example: '"assets"',
  },
  'dirs[].to': {
    expected: 'an absolute image path',
    example: '"/app/assets"',
  },
  mapDirs: {
    description:
      'Files copied by name pattern. Each key is a host folder and a file-name pattern (`*`, `?`, `[...]`); every file or folder below that host folder whose name matches is copied to the image folder given as the value, keeping its path relative to the host folder. ' +
      PATH_RULE,
    expected: 'an object of "hostFolder/pattern": "/image/folder" pairs',
    example: '{ "public/*.html": "/app/public" }',
  },
  'mapDirs{}': {
    expected: 'an absolute image folder',
    example: '"/app/public"',
  },
  'mapDirs{key}': {
    expected: 'a host folder followed by a file-name pattern, with no pattern characters in the folder part',
    example: '"public/*.html"',
  },
  klibs: {
    description: 'Nanos kernel libraries (klibs) to load at boot, by file name in the release\'s klibs folder.',
    expected: 'an array of klib names',
    example: '["tls", "ntp"]',
  },
  'klibs[]': {
    expected: 'a klib name of lowercase letters, digits and _',
    example: '"tls"',
  },
  ports: {
    description:
      'Ports forwarded from the host to the guest by QEMU user networking. A number or "PORT" forwards the same port, "HOST:GUEST" maps a host port to a guest port, "ADDRESS:HOST:GUEST" also sets the host IPv4 address it listens on (instead of bindAddress), and a "/tcp" (the default) or "/udp" suffix selects the protocol. Ports given with -p on the command line are added to these.',
    expected: 'an array of port forwards',
    example: '[8080, "5353/udp", "8081:80"]',
  },
  'ports[]': {
    expected: 'a port 1-65535 as a number, or a string "PORT", "HOST:GUEST" or "ADDRESS:HOST:GUEST" with an optional /tcp or /udp suffix',
    example: '8080, "5353/udp", "8081:80" or "127.0.0.1:8081:80"',
  },
  memory: {
    description: `Guest RAM. Default "${DEFAULT_MEMORY}", as with ops run. At least "${MIN_MEMORY_MIB}M", the least the Nanos kernel boots a small program with.`,
    expected: 'a size with a unit: B, K, M, G or T (powers of 1024)',
    example: '"512M"',
  },
  cpus: {
    description: `Number of virtual CPUs, from 1 to ${MAX_CPUS}. Default ${DEFAULT_CPUS}.`,
    expected: `a whole number from 1 to ${MAX_CPUS}`,
    example: '2',
  },
  accelerator: {
    description:
      'Virtualization accelerator of QEMU. "auto" (the default) uses KVM or HVF when the host can run the guest with it, and TCG (software emulation) otherwise.',
    expected: 'one of "auto", "kvm", "hvf" or "tcg"',
    example: '"auto"',
  },
  imageSize: {
    description:
      'Total size of the image file, rounded up to a multiple of 512 bytes. It must hold the boot sector, the 12 MiB boot filesystem, the files and the space the guest writes; set either imageSize or freeSpace.',
    expected: 'a size with a unit: B, K, M, G or T (powers of 1024), below 2T',
    example: '"256M"',
  },
  freeSpace: {
    description: `Free space added after the files, for data the guest writes. The kernel keeps the first 1 MiB of free space for its log, so the guest can write this size minus 1 MiB. Default "${DEFAULT_FREE_SPACE}"; set either freeSpace or imageSize.`,
    expected: '0, or a size above 1M with a unit: B, K, M, G or T (powers of 1024)',
    example: '"64M"',
  },
  nanosVersion: {
    description: 'Nanos kernel release to use. Default: the release pinned by this version of nx-unikernel.',
    expected: 'a release version of three numbers',
    example: '"0.1.55"',
  },
  kernelDir: {
    description: 'Folder of a Nanos release (kernel.img, boot.img, klibs/) to use instead of a cached or downloaded one.',
    expected: 'a folder path string',
    example: '"/opt/nanos/0.1.55"',
  },
  klibDir: {
    description: 'Folder to read klibs from instead of the klibs folder of the release.',
    expected: 'a folder path string',
    example: '"/opt/nanos/0.1.55/klibs"',
  },
  sysroot: {
    description:
      'Root folder of the target system: an absolute `program` path and the program\'s shared libraries are read inside it. Default "/", the host\'s root.',
    expected: 'a folder path string',
    example: '"debian-root"',
  },
  cwd: {
    description: 'Working directory of the program in the image; it must exist in the image.',
    expected: 'an absolute image path',
    example: '"/app"',
  },
  readiness: {
    description: 'How the runner decides that the program is ready.',
    expected: 'an object with the optional keys httpPath and timeoutSeconds',
    example: '{ "httpPath": "/healthz", "timeoutSeconds": 30 }',
  },
  'readiness.httpPath': {
    description: 'HTTP path that the runner requests until it gets a response.',
    expected: 'a path starting with /',
    example: '"/healthz"',
  },
  'readiness.timeoutSeconds': {
    description: `Maximum time in seconds to wait for the program to be ready. Default ${DEFAULT_READINESS_TIMEOUT_SECONDS}.`,
    expected: `a number of seconds above 0 and at most ${MAX_TIMER_DELAY_SECONDS} (about 24.8 days, the longest delay a Node.js timer supports)`,
    example: '30',
  },
  bindAddress: {
    description: `Host IPv4 address that forwarded ports listen on. Default "${DEFAULT_BIND_ADDRESS}", so only this machine can connect; "0.0.0.0" listens on every interface.`,
    expected: 'an IPv4 address',
    example: '"127.0.0.1"',
  },
  manifest: {
    description:
      'Extra keys of the root tuple of the Nanos boot manifest, passed through unchanged. The manifest stores every scalar as a string, so values are strings, or arrays and objects of them. Keys that other options write (children, program, arguments, environment, cwd, klibs, imagesize) are rejected.',
    expected: 'an object of key: "string" pairs, where a value may also be an array or object of strings',
    example: '{ "exec_wait_for_ip4_secs": "5" }',
  },
  'manifest{}': {
    expected: 'a string, or an array or object of strings (quote numbers and booleans)',
    example: '"5"',
  },
  'manifest{key}': {
    expected: 'a key that no other option writes',
    example: '"exec_wait_for_ip4_secs"',
  },
};

/** Returns the doc of a key pattern, falling back to its parent key so every path gets a hint. */
export function findFieldDoc(pattern: string): FieldDoc {
  let current = pattern;
  while (current !== '') {
    const doc = FIELD_DOCS[current];
    if (doc) {
      return doc;
    }
    const cut = Math.max(current.lastIndexOf('.'), current.lastIndexOf('['), current.lastIndexOf('{'));
    current = cut > 0 ? current.slice(0, cut) : '';
  }
  return FIELD_DOCS[''] as FieldDoc;
}

/** Map-valued keys of unikernel.json: their keys are names chosen by the user, not options. */
const MAP_KEYS = new Set(['env', 'mapDirs', 'manifest']);

/**
 * Turns a key path into the pattern used by FIELD_DOCS: `["files", 2, "to"]`
 * becomes `files[].to`, and `["manifest", "a", 0]` becomes `manifest{}`.
 * With `forKey`, the last segment is a map key and the result ends in `{key}`.
 */
export function keyPattern(path: readonly PropertyKey[], forKey = false): string {
  const first = path[0];
  if (typeof first === 'string' && MAP_KEYS.has(first) && path.length > 1) {
    return forKey && path.length === 2 ? `${first}{key}` : `${first}{}`;
  }

  let pattern = '';
  for (const segment of path) {
    if (typeof segment === 'number') {
      pattern += '[]';
    } else {
      pattern += pattern === '' ? String(segment) : `.${String(segment)}`;
    }
  }
  return pattern;
}

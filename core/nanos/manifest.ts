// The boot manifest: the attributes of the root filesystem's root tuple other
// than `children`. The kernel reads them at boot (`startup` in Nanos's
// src/kernel/stage3.c, `build_exec_stack` in src/unix/exec.c, `fsstarted` in
// src/kernel/init.c).

import { NanosImageError } from './errors';
import { NULL_VALUE, Tuple, type TupleValue } from './tuple';

/**
 * A manifest value as Nanos's mkfs manifest syntax can express it: a string,
 * a vector `[...]` or a tuple `(...)`. Flags such as `debug_exit` are the string "t".
 */
export type ManifestValue = string | ManifestValue[] | { [key: string]: ManifestValue };

export interface BootManifest {
  /** Absolute path in the image of the program to run. It must be a file or symlink among the entries. */
  program: string;
  /** argv, element 0 included. The kernel does not prepend `program`. */
  arguments: string[];
  /**
   * envp as name to value.
   * NOTE: kernels before 0.1.55 drop a variable whose value is empty, because
   * their `decode_value` (src/runtime/tuple.c) read an empty string as "no value".
   */
  environment: Record<string, string>;
  /** Initial working directory, which must exist in the image. */
  cwd?: string;
  /** Names of kernel libraries to copy from `KernelFiles.klibDir` into the boot filesystem's /klib. Setting any adds `klibs: bootfs`. */
  klibs?: string[];
  /** Other root-tuple keys, such as `debug_exit: 't'` or `exec_wait_for_ip4_secs: '5'`. */
  extra?: Record<string, ManifestValue>;
}

// Keys that the typed fields above set, plus mkfs-only keys that the kernel never reads.
const RESERVED_KEYS: ReadonlyMap<string, string> = new Map([
  ['children', 'it holds the root directory; use image entries instead'],
  ['program', 'use the `program` field'],
  ['arguments', 'use the `arguments` field'],
  ['environment', 'use the `environment` field'],
  ['cwd', 'use the `cwd` field'],
  ['klibs', 'list kernel libraries in the `klibs` field'],
  ['boot', 'it describes the boot filesystem to Nanos mkfs; use `KernelFiles` instead'],
  ['imagesize', 'it sizes the image in Nanos mkfs only; use the `size` option instead'],
]);

function invalid(message: string): NanosImageError {
  return new NanosImageError('invalid-manifest', message);
}

function requireAbsolutePath(value: unknown, field: string): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw invalid(`manifest.${field} ${JSON.stringify(value)} is not an absolute path; give the path in the image, starting with "/".`);
  }
  if (value.includes('\0')) throw invalid(`manifest.${field} ${JSON.stringify(value)} contains a NUL character; remove it.`);
  return value;
}

function compareBytes(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

/** Returns the keys of `record` in UTF-8 byte order, so equal manifests encode to equal bytes. */
export function sortedKeys(record: object): string[] {
  return Object.keys(record).sort(compareBytes);
}

function convertValue(value: unknown, keyPath: string): TupleValue {
  if (typeof value === 'string') return value;

  if (Array.isArray(value)) return value.map((element, index) => convertValue(element, `${keyPath}[${index}]`));

  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    return new Tuple(sortedKeys(record).map((key) => [key, convertValue(record[key], `${keyPath}.${key}`)]));
  }

  throw invalid(
    `manifest.${keyPath} is ${value === null ? 'null' : typeof value}; manifest values are strings, arrays or plain objects (write flags as "t" and numbers as decimal strings).`,
  );
}

/**
 * Validates a manifest and returns the root-tuple attributes other than
 * `children`, in encoding order: `program`, `arguments`, `environment`, `cwd`,
 * `klibs`, then `extra` keys in UTF-8 byte order. Object keys are sorted the
 * same way, so the bytes depend only on the manifest's content.
 */
export function manifestAttributes(manifest: BootManifest): Array<[string, TupleValue]> {
  if (manifest === null || typeof manifest !== 'object') throw invalid('The manifest is missing; pass an object with program, arguments and environment.');

  const attributes: Array<[string, TupleValue]> = [];
  attributes.push(['program', requireAbsolutePath(manifest.program, 'program')]);

  if (!Array.isArray(manifest.arguments)) throw invalid('manifest.arguments is not an array; pass argv as an array of strings, element 0 included.');
  manifest.arguments.forEach((argument, index) => {
    if (typeof argument !== 'string') throw invalid(`manifest.arguments[${index}] is ${typeof argument}, not a string.`);
  });
  attributes.push(['arguments', [...manifest.arguments]]);

  const environment = manifest.environment;
  if (environment === null || typeof environment !== 'object' || Array.isArray(environment)) {
    throw invalid('manifest.environment is not an object; pass name-to-value pairs, or {} for none.');
  }
  const variables: Array<[string, TupleValue]> = [];
  for (const name of sortedKeys(environment)) {
    const value: unknown = environment[name];
    if (name === '' || name.includes('=')) throw invalid(`manifest.environment name ${JSON.stringify(name)} is invalid; names are non-empty and contain no "=".`);
    if (typeof value !== 'string') throw invalid(`manifest.environment.${name} is ${typeof value}, not a string.`);
    variables.push([name, value]);
  }
  attributes.push(['environment', new Tuple(variables)]);

  if (manifest.cwd !== undefined) attributes.push(['cwd', requireAbsolutePath(manifest.cwd, 'cwd')]);

  if (manifest.klibs !== undefined && manifest.klibs.length > 0) attributes.push(['klibs', 'bootfs']);

  const extra = manifest.extra ?? {};
  for (const key of sortedKeys(extra)) {
    const reason = RESERVED_KEYS.get(key);
    if (reason !== undefined) throw invalid(`manifest.extra key "${key}" is not allowed: ${reason}.`);
    if (key === '' || key.includes('\0')) throw invalid(`manifest.extra key ${JSON.stringify(key)} is not a valid attribute name.`);
    attributes.push([key, convertValue(extra[key], `extra.${key}`)]);
  }

  return attributes;
}

/**
 * Converts a decoded root-tuple value back to a manifest value. Integers
 * become decimal strings, untyped buffers UTF-8 strings and the null value an
 * empty string, because the manifest syntax has only strings. A tuple or
 * vector that contains itself (the kernel logs `..` links at run time) becomes
 * an empty string where it repeats.
 */
export function manifestValueFromTuple(value: TupleValue | undefined, enclosing: Set<object> = new Set()): ManifestValue {
  if (value === undefined || value === NULL_VALUE) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString(10);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (enclosing.has(value)) return '';

  enclosing.add(value);
  let result: ManifestValue;
  if (Array.isArray(value)) {
    result = value.map((element) => manifestValueFromTuple(element, enclosing));
  } else {
    const record: { [key: string]: ManifestValue } = {};
    for (const [key, element] of value.attributes) record[key] = manifestValueFromTuple(element, enclosing);
    result = record;
  }
  enclosing.delete(value);
  return result;
}

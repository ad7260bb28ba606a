// The schema of unikernel.json, the file beside a project that describes how
// to turn its program into a Nanos image and run it. The same options can be
// given in code. parse.ts turns a valid object into ResolvedUnikernelConfig.

import { z } from 'zod';

import { MAX_CPUS } from '../qemu/command';
import { MAX_TIMER_DELAY_SECONDS } from '../qemu/timer-limit';
import { FIELD_DOCS } from './field-docs';
import { checkGuestMemory } from './guest-memory';
import { parsePortSpec, PORT_PATTERN } from './port-spec';
import { ACCELERATORS } from './resolved-config';
import { parseSize, SIZE_PATTERN } from './units';

/** A value of the Nanos boot manifest: every scalar is a string. */
export type ManifestValue = string | ManifestValue[] | { [key: string]: ManifestValue };

/** Root-tuple keys that other options write, with the option to use instead. */
export const RESERVED_MANIFEST_KEYS: Record<string, string> = {
  children: 'files, dirs or mapDirs',
  program: 'program',
  arguments: 'args',
  environment: 'env',
  cwd: 'cwd',
  klibs: 'klibs',
  imagesize: 'imageSize',
};

/** The largest image an MBR partition table can describe: its sector counts are 32-bit. */
const MAX_IMAGE_BYTES = 2 ** 32 * 512;

const ONE_MIB = 1024 ** 2;

/** Editor metadata for a key: its description and example from FIELD_DOCS. */
function docMeta(key: string): { description?: string; examples?: unknown[] } {
  const doc = FIELD_DOCS[key];
  if (!doc?.description) {
    return {};
  }
  return { description: doc.description, examples: [JSON.parse(doc.example)] };
}

const hostPath = z.string().min(1, { abort: true });

const imagePath = z.string().regex(/^\//, { abort: true });

const copyEntry = z.union([hostPath, z.strictObject({ from: hostPath, to: imagePath })]);

/** A size string checked by `check`, which returns a reason when the byte count is not allowed. */
function sizeString(check: (bytes: number) => string | undefined) {
  return z
    .string()
    .regex(SIZE_PATTERN, { abort: true })
    .superRefine((text, context) => {
      const parsed = parseSize(text);
      const reason = parsed.ok ? check(parsed.value) : parsed.reason;
      if (reason) {
        context.addIssue({ code: 'custom', message: reason });
      }
    });
}

const portSpec = z
  .union([z.number().int(), z.string().regex(PORT_PATTERN, { abort: true })])
  .superRefine((spec, context) => {
    const parsed = parsePortSpec(spec);
    if (!parsed.ok) {
      context.addIssue({ code: 'custom', message: parsed.reason });
    }
  });

const manifestValue: z.ZodType<ManifestValue, ManifestValue> = z.lazy(() =>
  z.union([z.string(), z.array(manifestValue), z.record(z.string(), manifestValue)]),
);

const manifest = z.record(z.string(), manifestValue).superRefine((keys, context) => {
  for (const key of Object.keys(keys)) {
    const option = RESERVED_MANIFEST_KEYS[key];
    if (option) {
      context.addIssue({
        code: 'custom',
        path: [key],
        message: `is written by the ${option} option; set it there`,
        params: { isKey: true },
      });
    }
  }
});

export const UnikernelConfig = z
  .strictObject({
    $schema: z.string().optional().meta(docMeta('$schema')),
    program: hostPath.optional().meta(docMeta('program')),
    args: z.array(z.string()).optional().meta(docMeta('args')),
    env: z
      .record(z.string().regex(/^[^=\0]+$/), z.string())
      .optional()
      .meta(docMeta('env')),
    files: z.array(copyEntry).optional().meta(docMeta('files')),
    dirs: z.array(copyEntry).optional().meta(docMeta('dirs')),
    mapDirs: z.record(z.string().min(1), imagePath).optional().meta(docMeta('mapDirs')),
    klibs: z
      .array(z.string().regex(/^[a-z0-9_]+$/))
      .optional()
      .meta(docMeta('klibs')),
    ports: z.array(portSpec).optional().meta(docMeta('ports')),
    memory: sizeString(checkGuestMemory)
      .optional()
      .meta(docMeta('memory')),
    cpus: z.number().int().min(1).max(MAX_CPUS).optional().meta(docMeta('cpus')),
    accelerator: z.enum(ACCELERATORS).optional().meta(docMeta('accelerator')),
    imageSize: sizeString((bytes) => {
      if (bytes === 0) {
        return 'is 0';
      }
      return bytes >= MAX_IMAGE_BYTES ? 'is 2 TiB or more, beyond what the 32-bit sector counts of an MBR partition table can address' : undefined;
    })
      .optional()
      .meta(docMeta('imageSize')),
    freeSpace: sizeString((bytes) =>
      bytes > 0 && bytes <= ONE_MIB ? 'is not above the 1 MiB that the kernel keeps for its log, so the guest could write nothing' : undefined,
    )
      .optional()
      .meta(docMeta('freeSpace')),
    nanosVersion: z
      .string()
      .regex(/^[0-9]+\.[0-9]+\.[0-9]+$/)
      .optional()
      .meta(docMeta('nanosVersion')),
    kernelDir: hostPath.optional().meta(docMeta('kernelDir')),
    klibDir: hostPath.optional().meta(docMeta('klibDir')),
    sysroot: hostPath.optional().meta(docMeta('sysroot')),
    cwd: imagePath.optional().meta(docMeta('cwd')),
    readiness: z
      .strictObject({
        httpPath: z.string().regex(/^\//).optional().meta(docMeta('readiness.httpPath')),
        timeoutSeconds: z.number().positive().max(MAX_TIMER_DELAY_SECONDS).optional().meta(docMeta('readiness.timeoutSeconds')),
      })
      .optional()
      .meta(docMeta('readiness')),
    bindAddress: z.ipv4().optional().meta(docMeta('bindAddress')),
    manifest: manifest.optional().meta(docMeta('manifest')),
  })
  .superRefine((config, context) => {
    if (config.imageSize !== undefined && config.freeSpace !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['freeSpace'],
        message: 'cannot be combined with imageSize, which sets the total size; keep one of the two',
      });
    }
  });

/** unikernel.json as written: every key optional, sizes and ports as strings. */
export type UnikernelConfig = z.input<typeof UnikernelConfig>;

/** Top-level keys of unikernel.json, for messages that list them. */
export const UNIKERNEL_CONFIG_KEYS: readonly string[] = Object.keys(UnikernelConfig.shape);

/** Generates the JSON schema of unikernel.json (draft 2020-12), for editors and the Nx executor schema. */
export function unikernelJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(UnikernelConfig, { io: 'input' });
  return { ...schema, title: 'nx-unikernel unikernel.json' };
}

// The JSON manifest written beside an image: every file and symlink the
// image contains, with size, SHA-256, mode, source and reason. Tools and
// tests compare images through it without reading the disk format.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { z } from 'zod';

import { compareByteOrder } from '../resolve/rooted-fs';
import { SysrootPlanError } from './errors';
import type { StagedFile, StagingPlan } from './types';

/** Bumped whenever a manifest field changes meaning or is removed. */
export const MANIFEST_SCHEMA_VERSION = 1;

export interface SysrootManifest {
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  /** Image path of the program. */
  program: string;
  /** Image path of the program interpreter (PT_INTERP), absent for static programs. */
  interpreter?: string;
  /** Nanos kernel version the image boots, e.g. "0.1.54", or "unknown" when the release folder's name is not a version. */
  kernelVersion?: string;
  /** Files and symlinks sorted by path in UTF-8 byte order. */
  files: StagedFile[];
  /** Sum of the sizes of regular files, in bytes; symlinks are not counted. */
  totalBytes: number;
}

export interface ManifestOptions {
  /** Overrides the plan's program path. */
  program?: string;
  /** Overrides the plan's interpreter path. */
  interpreter?: string;
  kernelVersion?: string;
}

const stagedFileSchema = z.object({
  path: z.string().startsWith('/'),
  kind: z.enum(['file', 'symlink']),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.number().int().min(0).max(0o7777),
  source: z.string().min(1),
  role: z.enum(['program', 'interpreter', 'library', 'addon-dependency', 'loader-cache', 'runtime-file', 'packed']),
  reason: z.string(),
  target: z.string().optional(),
});

const manifestSchema = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  program: z.string().startsWith('/'),
  interpreter: z.string().optional(),
  kernelVersion: z.string().optional(),
  files: z.array(stagedFileSchema),
  totalBytes: z.number().int().nonnegative(),
});

/** Builds the manifest of a plan. */
export function buildManifest(plan: StagingPlan, options: ManifestOptions = {}): SysrootManifest {
  const files = [...plan.records].sort((left, right) => compareByteOrder(left.path, right.path));
  const interpreter = options.interpreter ?? plan.interpreter;
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    program: options.program ?? plan.program,
    ...(interpreter !== undefined ? { interpreter } : {}),
    ...(options.kernelVersion !== undefined ? { kernelVersion: options.kernelVersion } : {}),
    files,
    totalBytes: files.reduce((sum, file) => sum + (file.kind === 'file' ? file.size : 0), 0),
  };
}

/**
 * Writes the plan's manifest as JSON. The text goes to a temporary file in
 * the same folder, which is renamed over `file`, so readers see the old
 * manifest or the new one, never a partial file. It is not flushed with
 * fsync, because the image beside it is not flushed either. On ext4 an fsync
 * right after an image replaced the old one also waits until the whole image
 * has reached the disk: 100 to 150 ms for the Node image of bench/image on a
 * 2-core VM.
 */
export async function writeManifestJson(file: string, plan: StagingPlan, options: ManifestOptions = {}): Promise<SysrootManifest> {
  const manifest = buildManifest(plan, options);
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  const target = path.resolve(file);
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

  try {
    const handle = await fs.open(temporary, 'wx');
    try {
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new SysrootPlanError('read-failed', `Cannot write the manifest ${target} (${code}); check that its folder exists, is writable and that ${target} is not a folder.`, { cause: error });
  }
  return manifest;
}

/** Reads and validates a manifest written by writeManifestJson. */
export async function readManifestJson(file: string): Promise<SysrootManifest> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new SysrootPlanError('invalid-manifest', `Cannot read the manifest ${file} (${code}); build the image first.`, { cause: error });
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SysrootPlanError('invalid-manifest', `The manifest ${file} is not valid JSON (${(error as Error).message}); build the image again to rewrite it.`, { cause: error });
  }

  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new SysrootPlanError(
      'invalid-manifest',
      `The manifest ${file} does not match schema version ${MANIFEST_SCHEMA_VERSION}: ${issues.join('; ')}. Build the image again with this version of nx-unikernel.`,
    );
  }
  return stripUndefined(parsed.data);
}

/** Drops optional keys zod sets to undefined, so a read manifest deep-equals the written one. */
function stripUndefined(manifest: z.infer<typeof manifestSchema>): SysrootManifest {
  const files = manifest.files.map(({ target, ...file }) => (target !== undefined ? { ...file, target } : file));
  const { interpreter, kernelVersion, ...rest } = manifest;
  return {
    ...rest,
    ...(interpreter !== undefined ? { interpreter } : {}),
    ...(kernelVersion !== undefined ? { kernelVersion } : {}),
    files,
  };
}

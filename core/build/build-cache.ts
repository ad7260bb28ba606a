// The build cache beside an image, `<image>.build-cache.json`: the image
// writer's record of the image and the SHA-256 of each host file with the
// stat it was taken at. The next build of the same output hashes only files
// whose stat changed and updates a copy of the image instead of writing it
// whole. A missing, unreadable or outdated cache only costs a full build.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { z } from 'zod';

import { parseImageRecord, type ImageRecord } from '../nanos';
import { digestRecordSchema, type DigestRecord } from '../sysroot';

/** Bumped whenever a field changes meaning, so older caches are ignored. */
export const BUILD_CACHE_VERSION = 1;

export interface BuildCache {
  /** The record `writeImage` returned for the image beside this cache. */
  image?: ImageRecord;
  digests: DigestRecord[];
  /** The library resolution and the status of every file it read; resolution-cache.ts checks it. */
  resolution?: unknown;
}

const cacheSchema = z.object({
  version: z.literal(BUILD_CACHE_VERSION),
  image: z.unknown().optional(),
  digests: z.array(digestRecordSchema),
  resolution: z.unknown().optional(),
});

export function buildCachePath(image: string): string {
  return `${image}.build-cache.json`;
}

/** Reads the cache. `problem` says why an existing cache was ignored; a missing one is no problem. */
export async function readBuildCache(file: string): Promise<{ cache: BuildCache; problem?: string }> {
  const empty: BuildCache = { digests: [] };
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { cache: empty } : { cache: empty, problem: `${file} cannot be read (${code ?? 'error'})` };
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { cache: empty, problem: `${file} is not valid JSON (${(error as Error).message})` };
  }
  const parsed = cacheSchema.safeParse(json);
  if (!parsed.success) return { cache: empty, problem: `${file} is not a version ${BUILD_CACHE_VERSION} build cache` };

  const image = parsed.data.image === undefined ? undefined : parseImageRecord(parsed.data.image);
  if (image !== undefined && 'invalid' in image) {
    return { cache: { digests: parsed.data.digests }, problem: `the image record in ${file} is invalid (${image.invalid})` };
  }
  const resolution = parsed.data.resolution !== undefined ? { resolution: parsed.data.resolution } : {};
  return { cache: { digests: parsed.data.digests, ...resolution, ...(image !== undefined ? { image } : {}) } };
}

/**
 * Writes the cache through a temporary file renamed over `file`, so a reader
 * sees the old cache or the new one. It is not flushed to disk: after a crash
 * a lost or stale cache fails the checks of the next build, which then writes
 * the image in full.
 */
export async function writeBuildCache(file: string, cache: BuildCache): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const text = `${JSON.stringify({ version: BUILD_CACHE_VERSION, ...cache })}\n`;
  try {
    await fs.writeFile(temporary, text, { flag: 'wx' });
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

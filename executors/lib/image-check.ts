// The image's own hash, recorded in its manifest JSON by the image executor
// and checked by the run executor before booting, so a cache restore that
// lost or truncated the image fails clearly instead of starting QEMU on it.

import { readFile, stat } from 'node:fs/promises';

import { sha256File, writeJsonAtomic } from './image-files';

/** The manifest key the image hash is stored under. */
export const IMAGE_HASH_KEY = 'image';

export interface ImageHash {
  size: number;
  sha256: string;
}

export class ImageCheckError extends Error {
  override readonly name = 'ImageCheckError';
}

/** Adds `image: { size, sha256 }` to the manifest JSON beside `image`. */
export async function recordImageHash(image: string): Promise<ImageHash> {
  const manifestPath = `${image}.manifest.json`;
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  const recorded: ImageHash = { size: (await stat(image)).size, sha256: await sha256File(image) };
  // NOTE: core/build does not record the image hash yet, so the executor adds it after the build.
  await writeJsonAtomic(manifestPath, { ...manifest, [IMAGE_HASH_KEY]: recorded });
  return recorded;
}

/** Throws ImageCheckError unless `image` exists and matches the hash in its manifest JSON. */
export async function verifyImage(image: string, rebuildHint: string): Promise<ImageHash> {
  const manifestPath = `${image}.manifest.json`;
  const fail = (reason: string): never => {
    throw new ImageCheckError(`cached image missing/corrupt; rebuild: ${reason}. Run ${rebuildHint} to write it again.`);
  };

  let size: number;
  try {
    size = (await stat(image)).size;
  } catch {
    return fail(`the image ${image} does not exist`);
  }

  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    return fail(`its manifest ${manifestPath} is missing or not JSON (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }

  const recorded = manifest[IMAGE_HASH_KEY] as Partial<ImageHash> | undefined;
  if (recorded === undefined || typeof recorded.sha256 !== 'string' || typeof recorded.size !== 'number') {
    return fail(`its manifest ${manifestPath} records no image hash (was it written by another tool?)`);
  }
  if (recorded.size !== size) {
    return fail(`the image ${image} has ${size} bytes, its manifest records ${recorded.size}`);
  }
  const actual = await sha256File(image);
  if (actual !== recorded.sha256) {
    return fail(`the SHA-256 of ${image} is ${actual}, its manifest records ${recorded.sha256}`);
  }
  return { size, sha256: actual };
}

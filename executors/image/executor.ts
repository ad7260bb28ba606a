// `nx-unikernel:image`: builds the Nanos image and its manifest JSON from the
// project's config, with the same engine as `nx-unikernel build`, and records
// the image's SHA-256 in the manifest for the run executor to check.

import * as path from 'node:path';

import type { ExecutorContext } from '@nx/devkit';

import { buildImage } from '../../core/build';
import { recordImageHash } from '../lib/image-check';
import { prepareConfig } from '../lib/image-files';
import { normalizeOptions } from '../lib/normalize-options';
import { progressLog, reportFailure } from '../lib/report';
import type { ImageExecutorOptions } from './schema';

export default async function imageExecutor(options: ImageExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const log = progressLog('image');
  try {
    const normalized = normalizeOptions(options as ImageExecutorOptions & Record<string, unknown>, context);
    for (const warning of normalized.warnings) log(`warning: ${warning}`);
    const config = await prepareConfig(normalized, log);
    const result = await buildImage({ config, output: normalized.image, log });
    const hash = await recordImageHash(normalized.image);
    log(`manifest: ${path.relative(context.root, result.manifestPath)} (image sha256 ${hash.sha256})`);
    return { success: true };
  } catch (error) {
    return reportFailure(error);
  }
}

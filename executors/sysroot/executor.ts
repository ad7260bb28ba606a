// `nx-unikernel:sysroot`: writes the listing of every file that goes into the
// image, with hashes. Uncached; the image target hashes the listing.

import type { ExecutorContext } from '@nx/devkit';

import { listImageFiles, prepareConfig, writeJsonAtomic } from '../lib/image-files';
import { normalizeOptions } from '../lib/normalize-options';
import { progressLog, reportFailure } from '../lib/report';
import type { SysrootExecutorOptions } from './schema';

export default async function sysrootExecutor(options: SysrootExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const log = progressLog('sysroot');
  try {
    const normalized = normalizeOptions(options as SysrootExecutorOptions & Record<string, unknown>, context);
    for (const warning of normalized.warnings) log(`warning: ${warning}`);
    const config = await prepareConfig(normalized, log);
    const listing = await listImageFiles(config);
    const output = sysrootListingPath(normalized.image);
    await writeJsonAtomic(output, listing);
    log(`${listing.files.length} files listed for ${config.program?.imagePath}, Nanos ${listing.kernel.version ?? '(unknown version)'}: ${output}`);
    return { success: true };
  } catch (error) {
    return reportFailure(error);
  }
}

/** `dist/unikernel/app.img` → `dist/unikernel/app.sysroot.json`, the path the plugin declares as output. */
export function sysrootListingPath(image: string): string {
  return `${image.replace(/\.img$/, '')}.sysroot.json`;
}

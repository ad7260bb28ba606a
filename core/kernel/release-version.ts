// The version of a release folder given by path (kernelDir or
// NX_UNIKERNEL_NANOS_DIR), and the warning when it differs from the
// requested version. Such a folder takes precedence over a requested version,
// so its own version is what the image boots. The only source is the folder
// name: Nanos's kernel.img embeds the git commit it was built from (the
// gitversion string that Nanos's kernel.mk takes from `git rev-parse HEAD`),
// not a release number.

import { NANOS_DIR_ENV, type KernelRelease } from './resolve';

/** Value recorded as the kernel version when the release folder's name is not a version. */
export const UNKNOWN_KERNEL_VERSION = 'unknown';

/**
 * Returns a warning when `requested` is not the version of a release folder
 * given by path, or undefined when they match or the release was looked up
 * by the requested version.
 */
export function versionMismatchWarning(requested: string | undefined, release: Pick<KernelRelease, 'dir' | 'source' | 'version'>): string | undefined {
  if (requested === undefined || release.version === requested) return undefined;
  if (release.source !== 'option' && release.source !== 'env') return undefined;

  const folderSetting = release.source === 'env' ? NANOS_DIR_ENV : 'kernelDir (--kernel-dir)';
  const fix = release.source === 'env'
    ? `unset ${NANOS_DIR_ENV} or point it at a ${requested} release folder`
    : `point kernelDir at a ${requested} release folder`;
  if (release.version === undefined) {
    return `Nanos ${requested} was requested, but the release folder ${release.dir} from ${folderSetting} takes precedence, and its version is unknown because the folder name is not a version; the manifest records kernelVersion "${UNKNOWN_KERNEL_VERSION}". To boot ${requested}, ${fix}, or drop the requested version`;
  }
  return `Nanos ${requested} was requested, but the release folder ${release.dir} from ${folderSetting} takes precedence and contains Nanos ${release.version}, so the image boots ${release.version}. To boot ${requested}, ${fix}, or drop the requested version`;
}

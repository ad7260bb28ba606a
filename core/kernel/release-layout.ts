// Download URLs and folder contents of Nanos kernel releases. Sources: the
// `release` target of the Nanos Makefile and release.sh (nanovms/nanos), and
// ops:lepton/const.go and ops:lepton/image.go for the download URL.

import { KernelReleaseError } from './errors';

/** The release that this version of nx-unikernel pins; used when no version is given. */
export const DEFAULT_NANOS_VERSION = '0.1.55';

/** Folder of the official x86-64 release tarballs, one subfolder per version. */
export const RELEASE_BASE_URL = 'https://storage.googleapis.com/nanos/release';

export const KERNEL_IMAGE = 'kernel.img';

export const BOOT_IMAGE = 'boot.img';

export const KLIB_FOLDER = 'klibs';

/** The UEFI loader of x86-64 releases that are built with one. */
export const UEFI_LOADER = 'bootx64.efi';

/** Name of the kernel file in releases older than the rename to kernel.img; ops renames it on download. */
export const OLD_KERNEL_IMAGE = 'stage3.img';

/** File that nx-unikernel writes into a downloaded release folder, recording where it came from. */
export const DOWNLOAD_RECORD_FILE = '.nx-unikernel-release.json';

const VERSION_PATTERN = /^[0-9]+\.[0-9]+\.[0-9]+$/;

/** Throws KernelReleaseError unless `version` is three dot-separated numbers, which also keeps it safe in paths and URLs. */
export function checkVersion(version: string): void {
  if (!VERSION_PATTERN.test(version)) {
    throw new KernelReleaseError(
      'invalid-version',
      `Invalid Nanos version ${JSON.stringify(version)}: expected three dot-separated numbers such as "${DEFAULT_NANOS_VERSION}".`,
    );
  }
}

/** Returns the version when a folder is named like one (`~/.ops/0.1.55`), else undefined. */
export function versionFromFolderName(name: string): string | undefined {
  return VERSION_PATTERN.test(name) ? name : undefined;
}

/** URLs of the x86-64 Linux release tarball and of the MD5 file that Nanos's release.sh publishes beside it. */
export function releaseUrls(baseUrl: string, version: string): { archive: string; md5: string } {
  const folder = `${baseUrl.replace(/\/+$/, '')}/${version}`;
  return {
    archive: `${folder}/nanos-release-linux-${version}.tar.gz`,
    md5: `${folder}/nanos-release-linux-${version}.md5`,
  };
}

// The contents of an image, computed without writing it: the kernel release,
// the program's libraries in the target root, and every staged file with its
// SHA-256. The sysroot target writes this as a listing whose hash feeds the
// image target's cache key, because Nx cannot hash files outside the workspace.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

import { BuildError } from '../../core/build';
import { packedCopies, stageProgram } from '../../core/build/staging';
import type { ResolvedUnikernelConfig } from '../../core/config';
import { resolveKernelRelease, type KernelRelease } from '../../core/kernel';
import { planSysroot } from '../../core/sysroot';
import { bundleNodeEntry, isNodeEntry } from './node-entry';
import type { NormalizedOptions } from './normalize-options';

export const SYSROOT_LISTING_VERSION = 2;

export interface SysrootListing {
  schemaVersion: typeof SYSROOT_LISTING_VERSION;
  /** The kernel files, and the SHA-256 of each klib by name, since a changed klib changes the image too. */
  kernel: { version: string | null; kernelSha256: string; bootSha256: string; klibSha256: Record<string, string> };
  /**
   * Image path, kind and content hash of each staged file. Host paths are left
   * out so two checkouts give the same listing, and modes because TFS stores no
   * permission bits, so a chmod leaves the image unchanged.
   */
  files: { path: string; kind: string; sha256: string; target?: string }[];
  /** Image paths of every directory, empty ones included, because each is an entry of the image. */
  directories: string[];
  /** The resolved configuration values that shape the image besides its files. */
  boot: { args: readonly string[]; env: Readonly<Record<string, string>>; cwd: string | null; klibs: readonly string[]; imageSizing: unknown; manifest: unknown };
}

/** Returns the configuration to build: for a JavaScript or TypeScript entry, the bundled Node.js app. */
export async function prepareConfig(options: NormalizedOptions, log: (line: string) => void): Promise<ResolvedUnikernelConfig> {
  if (!isNodeEntry(options.config)) return options.config;
  const bundleDir = `${options.image.replace(/\.img$/, '')}.bundle`;
  const bundled = await bundleNodeEntry(options.config, options.nodeBinary, bundleDir);
  log(`bundled ${path.relative(options.projectDir, options.config.program!.hostPath)} with esbuild into ${bundled.bundle}; runtime ${bundled.config.program!.imagePath}`);
  if (bundled.addonPackages.length > 0) log(`packages with native addons, packed unbundled: ${bundled.addonPackages.join(', ')}`);
  return bundled.config;
}

/** Lists the image's files as buildImage would stage them, with hashes. */
export async function listImageFiles(config: ResolvedUnikernelConfig): Promise<SysrootListing> {
  const program = config.program;
  if (!program) {
    throw new BuildError(`${config.source} names no program: set "program" to the ELF file to run, e.g. "dist/server"`);
  }
  const kernel: KernelRelease = await resolveKernelRelease({
    ...(config.nanosVersion !== undefined ? { version: config.nanosVersion } : {}),
    ...(config.kernelDir !== undefined ? { kernelDir: config.kernelDir } : {}),
  });

  // The same staging steps as buildImage, without writing the image.
  const { planInput } = stageProgram(config, program, packedCopies(config));
  const plan = await planSysroot(planInput);

  return {
    schemaVersion: SYSROOT_LISTING_VERSION,
    kernel: {
      version: kernel.version ?? null,
      kernelSha256: await sha256File(kernel.kernelImg),
      bootSha256: await sha256File(kernel.bootImg),
      klibSha256: await klibDigests(kernel, config.klibs),
    },
    files: plan.records.map((record) => ({
      path: record.path,
      kind: record.kind,
      sha256: record.sha256,
      ...(record.target !== undefined ? { target: record.target } : {}),
    })),
    directories: plan.entries.flatMap((entry) => (entry.kind === 'directory' ? [entry.path] : [])),
    boot: { args: config.args, env: config.env, cwd: config.cwd ?? null, klibs: config.klibs, imageSizing: config.imageSizing, manifest: config.manifest },
  };
}

async function klibDigests(kernel: KernelRelease, klibs: readonly string[]): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  for (const klib of klibs) {
    // The image writer reports a missing klib or klibs folder, with its own message.
    if (kernel.klibDir === undefined) continue;
    digests[klib] = await sha256File(path.join(kernel.klibDir, klib)).catch(() => 'unreadable');
  }
  return digests;
}

/** Writes JSON through a temporary file and a rename, so a reader never sees half a file. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, file);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

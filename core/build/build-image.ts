// Builds a bootable Nanos image from a normalized configuration: find the
// kernel release, resolve the program's libraries inside the target root,
// plan the image's files, write the image and its JSON manifest beside it.
// A build cache beside the image lets the next build of the same output hash
// only changed files and update a copy of the image (see build-cache.ts).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResolvedUnikernelConfig } from '../config';
import { resolveKernelRelease, UNKNOWN_KERNEL_VERSION, versionMismatchWarning, type KernelRelease } from '../kernel';
import { readLockedInodes, writeImage, type BootManifest, type ImageSummary, type ImageUpdate } from '../nanos';
import type { ResolveResult } from '../resolve/types';
import { FileDigests, planSysrootDeferred, writeManifestJson, type StagingPlan } from '../sysroot';
import { buildCachePath, readBuildCache, writeBuildCache, type BuildCache } from './build-cache';
import { BuildError } from './errors';
import { packedCopies, stageProgram } from './staging';

export interface BuildImageOptions {
  config: ResolvedUnikernelConfig;
  /** Image file to write; the manifest JSON goes beside it as `<image>.manifest.json`. */
  output: string;
  /** A kernel release already found; otherwise it is found from the config. */
  kernel?: KernelRelease;
  /** Progress lines, one per step. */
  log?: (line: string) => void;
  /**
   * Read `<output>.build-cache.json` to skip hashing unchanged files and to
   * update the previous image. Default true. The cache is written either way.
   */
  useBuildCache?: boolean;
  /** Stops the build; the image writer then removes its temporary file or puts the previous image back. */
  signal?: AbortSignal;
}

export interface BuildImageResult {
  image: ImageSummary;
  manifestPath: string;
  kernel: KernelRelease;
  resolution: ResolveResult;
  plan: StagingPlan;
}

export async function buildImage(options: BuildImageOptions): Promise<BuildImageResult> {
  const { config } = options;
  const log = options.log ?? (() => {});
  const program = config.program;
  if (!program) {
    throw new BuildError(`no program found in ${config.source}: give the ELF file to run as the first argument, or set "program" in the config, e.g. "dist/server"`);
  }

  const packed = packedCopies(config);
  const output = path.resolve(options.output);
  assertOutputIsNotAnInput(output, program.hostPath, packed.files);

  // A rebuild may patch the previous image in place, after checking that no
  // process (such as a QEMU running it) holds a lock on it. The lock table
  // takes milliseconds to read, so the read overlaps the next steps.
  const lockedInodes = options.useBuildCache !== false && fs.existsSync(output) ? readLockedInodes() : undefined;

  const kernel = options.kernel ?? (await findKernel(config));
  log(`kernel: Nanos ${kernel.version ?? 'of unknown version'} from ${kernel.dir} (${kernel.source})`);
  const versionWarning = versionMismatchWarning(config.nanosVersion, kernel);
  if (versionWarning !== undefined) log(`warning: ${versionWarning}`);

  const cachePath = buildCachePath(output);
  const cache = options.useBuildCache === false ? { cache: { digests: [] } as BuildCache } : await readBuildCache(cachePath);
  if (cache.problem !== undefined) log(`build cache: ignored, because ${cache.problem}`);

  const { resolution, planInput, cacheEntry, reused } = stageProgram(config, program, packed, cache.cache.resolution);
  log(`libraries: ${resolution.libraries.length} resolved in ${config.sysroot} for ${program.imagePath}${reused ? ' (unchanged since the last build)' : ''}`);

  const digests = new FileDigests(cache.cache.digests);

  // Hashing is left to the writer, which hashes each changed file while it copies it.
  const staged = await planSysrootDeferred({ ...planInput, digests });
  for (const warning of staged.warnings) log(`warning: ${warning}`);

  fs.mkdirSync(path.dirname(output), { recursive: true });
  const previous = cache.cache.image !== undefined && fs.existsSync(output) ? { path: output, record: cache.cache.image, ...(lockedInodes ? { lockedInodes } : {}) } : undefined;
  const kernelFiles = await knownKernelDigests(kernel, config.klibs, digests);
  const image = await writeImage({
    output,
    kernel: { bootImg: kernel.bootImg, kernelImg: kernel.kernelImg, ...(kernel.klibDir ? { klibDir: kernel.klibDir } : {}), digests: kernelFiles.known },
    entries: staged.entries,
    manifest: bootManifest(config, program.imagePath),
    ...(config.imageSizing.kind === 'total' ? { size: config.imageSizing.bytes } : { freeSpace: config.imageSizing.bytes }),
    ...(previous ? { previous } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  kernelFiles.supplyWritten(image);
  const plan = staged.complete(new Map(image.record.filesystems[1].files.map((file) => [file.path, file.sha256])));
  log(`image: ${output} (${image.size} bytes, ${plan.records.length} files${describeUpdate(image.update)})`);
  log(`hashes: ${digests.hashedFiles + digests.suppliedFiles} files read, ${digests.reusedFiles} unchanged since the last build`);

  const manifestPath = `${output}.manifest.json`;
  await writeManifestJson(manifestPath, plan, { program: program.imagePath, kernelVersion: kernel.version ?? UNKNOWN_KERNEL_VERSION, ...(resolution.interpreter ? { interpreter: resolution.interpreter.path } : {}) });
  try {
    await writeBuildCache(cachePath, { image: image.record, digests: await digests.records(), ...(cacheEntry ? { resolution: cacheEntry } : {}) });
  } catch (error) {
    log(`warning: cannot write the build cache ${cachePath} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); the next build writes the image in full`);
  }
  return { image, manifestPath, kernel, resolution, plan };
}

/**
 * Looks up the digests of the kernel and klibs in the build cache, so a
 * rebuild need not hash them again, and returns a step that hands the
 * digests the writer computed for the others to the cache.
 */
async function knownKernelDigests(kernel: KernelRelease, klibs: readonly string[], digests: FileDigests): Promise<{ known: Map<string, string>; supplyWritten(image: ImageSummary): void }> {
  const files = new Map([['/kernel', kernel.kernelImg]]);
  if (kernel.klibDir !== undefined) for (const klib of klibs) files.set(`/klib/${klib}`, path.join(kernel.klibDir, klib));

  const known = new Map<string, string>();
  for (const [imagePath, hostPath] of files) {
    const digest = await digests.lookup(hostPath, `kernel file ${imagePath}`);
    if (digest.sha256 !== undefined) known.set(hostPath, digest.sha256);
  }
  return {
    known,
    supplyWritten: (image) => {
      for (const file of image.record.filesystems[0].files) {
        const hostPath = files.get(file.path);
        if (hostPath !== undefined && !known.has(hostPath)) digests.supply(hostPath, file.sha256);
      }
    },
  };
}

function describeUpdate(update: ImageUpdate): string {
  if (update.kind === 'incremental') {
    const start = update.start === 'previous-file' ? 'patched the previous image' : 'updated a clone of the previous image';
    return `; ${start}: ${update.writtenBytes} bytes written, ${update.reusedBytes} bytes of file data kept`;
  }
  return update.reason === undefined ? '' : `; written in full, because ${update.reason}`;
}

/** Rejects an output path that would overwrite the program or a packed file. */
function assertOutputIsNotAnInput(output: string, programHostPath: string, files: { from: string }[]): void {
  const inputs = [programHostPath, ...files.map((file) => file.from)];
  const clash = inputs.find((input) => path.resolve(input) === output);
  if (clash !== undefined) {
    throw new BuildError(`output ${output} is also an input of the image (${clash}); writing it would destroy that file: choose another path with -o, e.g. ${output}.img`);
  }
}

async function findKernel(config: ResolvedUnikernelConfig): Promise<KernelRelease> {
  return resolveKernelRelease({
    ...(config.nanosVersion !== undefined ? { version: config.nanosVersion } : {}),
    ...(config.kernelDir !== undefined ? { kernelDir: config.kernelDir } : {}),
  });
}

/**
 * The root tuple's boot keys. Like OPS, argv[0] is the program's path.
 * `debug_exit` makes the kernel leave through QEMU's isa-debug-exit port with
 * the program's exit code instead of an ACPI power-off that loses it (Nanos
 * src/kernel/vm_exit); users can still override it in `manifest`.
 */
function bootManifest(config: ResolvedUnikernelConfig, programImagePath: string): BootManifest {
  const klibs = [...config.klibs];
  return {
    program: programImagePath,
    arguments: [programImagePath, ...config.args],
    environment: { ...config.env },
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    ...(klibs.length > 0 ? { klibs } : {}),
    extra: { debug_exit: 't', ...config.manifest },
  };
}

// Builds a bootable Nanos image from a normalized configuration: find the
// kernel release, resolve the program's libraries inside the target root,
// plan the image's files, write the image and its JSON manifest beside it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResolvedUnikernelConfig } from '../config';
import { resolveKernelRelease, type KernelRelease } from '../kernel';
import { writeImage, type BootManifest, type ImageSummary } from '../nanos';
import { Resolver } from '../resolve/resolver';
import type { ResolveResult } from '../resolve/types';
import { packedMounts, planSysroot, writeManifestJson, type StagingPlan } from '../sysroot';
import { BuildError } from './errors';
import { expandMapDirs } from './map-dirs';

export interface BuildImageOptions {
  config: ResolvedUnikernelConfig;
  /** Image file to write; the manifest JSON goes beside it as `<image>.manifest.json`. */
  output: string;
  /** A kernel release already found; otherwise it is found from the config. */
  kernel?: KernelRelease;
  /** Progress lines, one per step. */
  log?: (line: string) => void;
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
    throw new BuildError(`${config.source} names no program: set "program" to the ELF file to run, e.g. "dist/server"`);
  }

  const kernel = options.kernel ?? (await findKernel(config));
  log(`kernel: Nanos ${kernel.version} from ${kernel.dir} (${kernel.source})`);

  // Packed files are mounted at their image paths while resolving, so a
  // program's $ORIGIN-relative RUNPATH finds libraries the project ships.
  const files = [...config.files, ...expandMapDirs(config.mapDirs)].map((copy) => ({ from: copy.hostPath, to: copy.imagePath }));
  const dirs = config.dirs.map((copy) => ({ from: copy.hostPath, to: copy.imagePath }));
  const mounts = packedMounts(files, dirs);
  const resolution = resolveLibraries(config, program, mounts);
  log(`libraries: ${resolution.libraries.length} resolved in ${config.sysroot} for ${program.imagePath}`);

  const plan = await planSysroot({
    resolution,
    sysroot: config.sysroot,
    programImagePath: program.imagePath,
    programHostPath: program.hostPath,
    files,
    dirs,
    resolutionMounts: mounts,
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    addonResolve: { env: { ...config.env } },
  });
  for (const warning of plan.warnings) log(`warning: ${warning}`);

  const output = path.resolve(options.output);
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const image = await writeImage({
    output,
    kernel: { bootImg: kernel.bootImg, kernelImg: kernel.kernelImg, ...(kernel.klibDir ? { klibDir: kernel.klibDir } : {}) },
    entries: plan.entries,
    manifest: bootManifest(config, program.imagePath),
    ...(config.imageSizing.kind === 'total' ? { size: config.imageSizing.bytes } : { freeSpace: config.imageSizing.bytes }),
  });
  log(`image: ${output} (${image.size} bytes, ${plan.records.length} files)`);

  const manifestPath = `${output}.manifest.json`;
  await writeManifestJson(manifestPath, plan, { program: program.imagePath, kernelVersion: kernel.version, ...(resolution.interpreter ? { interpreter: resolution.interpreter.path } : {}) });
  return { image, manifestPath, kernel, resolution, plan };
}

async function findKernel(config: ResolvedUnikernelConfig): Promise<KernelRelease> {
  return resolveKernelRelease({
    ...(config.nanosVersion !== undefined ? { version: config.nanosVersion } : {}),
    ...(config.kernelDir !== undefined ? { kernelDir: config.kernelDir } : {}),
  });
}

function resolveLibraries(config: ResolvedUnikernelConfig, program: { hostPath: string; imagePath: string }, mounts: ReturnType<typeof packedMounts>): ResolveResult {
  const resolver = new Resolver({ sysroot: config.sysroot, mounts });
  const resolution = resolver.resolve(program.hostPath, {
    imagePath: program.imagePath,
    env: { ...config.env },
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
  });
  if (!resolution.ok) throw BuildError.fromResolution(resolution);
  return resolution;
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

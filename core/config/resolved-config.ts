// The normalized configuration that the image builder and the runner use:
// defaults applied, sizes in bytes, host paths absolute, ports parsed.

import type { ManifestValue } from './schema';
import type { PortForward } from './port-spec';

/** The accepted accelerator values, in the schema and on the command line. */
export const ACCELERATORS = ['auto', 'kvm', 'hvf', 'tcg'] as const;

export type Accelerator = (typeof ACCELERATORS)[number];

/** A host file or folder and the absolute path it gets in the image. */
export interface ImageCopy {
  readonly hostPath: string;
  readonly imagePath: string;
}

/** A mapDirs entry: entries below `hostDir` whose name matches `pattern` go to `imagePath`. */
export interface MappedDir {
  readonly hostDir: string;
  /** File-name pattern with `*`, `?` and `[...]`, matched against base names only. */
  readonly pattern: string;
  readonly imagePath: string;
}

/** Image size: a fixed total, or the files plus free space. */
export type ImageSizing = { readonly kind: 'total'; readonly bytes: number } | { readonly kind: 'free-space'; readonly bytes: number };

export interface ResolvedUnikernelConfig {
  /** Absolute path of the configuration file, or the description given for options from code. */
  readonly source: string;
  /** Absolute folder that relative host paths are resolved against and may not leave. */
  readonly projectDir: string;
  /** Undefined when the configuration names no program; the caller must supply one. */
  readonly program: ImageCopy | undefined;
  /** Arguments after argv[0]. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly files: readonly ImageCopy[];
  readonly dirs: readonly ImageCopy[];
  readonly mapDirs: readonly MappedDir[];
  readonly klibs: readonly string[];
  /** Each (protocol, host port) at most once. */
  readonly ports: readonly PortForward[];
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly accelerator: Accelerator;
  /** Byte counts are multiples of 512. */
  readonly imageSizing: ImageSizing;
  /** Undefined means the release pinned by the kernel module. */
  readonly nanosVersion: string | undefined;
  readonly kernelDir: string | undefined;
  readonly klibDir: string | undefined;
  /** Absolute host folder; "/" for the host's own root. */
  readonly sysroot: string;
  /** Absolute image path, or undefined for the kernel's default. */
  readonly cwd: string | undefined;
  readonly readiness: { readonly httpPath: string | undefined; readonly timeoutSeconds: number } | undefined;
  readonly bindAddress: string;
  /** Extra root-tuple keys, never one of the reserved keys. */
  readonly manifest: Readonly<Record<string, ManifestValue>>;
}

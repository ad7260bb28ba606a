// Options of the nx-unikernel entry in nx.json `plugins`, and their defaults.

export interface UnikernelPluginOptions {
  /** Name of the cached target that writes the image. Default `unikernel`. */
  imageTargetName?: string;
  /** Name of the continuous target that boots the image. Default `unikernel-serve`. */
  serveTargetName?: string;
  /** Name of the uncached target that lists the files going into the image, with their hashes. Default `unikernel-sysroot`. */
  sysrootTargetName?: string;
  /** Target that produces the program; the image depends on it when the project has it. Default `build`. */
  buildTargetName?: string;
  /** Also infer targets for projects with an OPS `config.json` (and no unikernel.json). Default false. */
  ops?: boolean;
  /** Folder for the image, its manifest and the sysroot listing, relative to the project root. Default `dist/unikernel`. */
  outputDir?: string;
}

export type NormalizedPluginOptions = Required<UnikernelPluginOptions>;

export const DEFAULT_PLUGIN_OPTIONS: NormalizedPluginOptions = {
  imageTargetName: 'unikernel',
  serveTargetName: 'unikernel-serve',
  sysrootTargetName: 'unikernel-sysroot',
  buildTargetName: 'build',
  ops: false,
  outputDir: 'dist/unikernel',
};

/** Fills in defaults and rejects values that would produce a broken graph. */
export function normalizePluginOptions(options: UnikernelPluginOptions | undefined): NormalizedPluginOptions {
  const normalized: NormalizedPluginOptions = { ...DEFAULT_PLUGIN_OPTIONS };
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value !== undefined) (normalized as unknown as Record<string, unknown>)[key] = value;
  }

  const names = [normalized.imageTargetName, normalized.serveTargetName, normalized.sysrootTargetName];
  for (const name of names) {
    if (typeof name !== 'string' || name.trim() === '') {
      throw new Error(`nx-unikernel plugin option: target name ${JSON.stringify(name)} is invalid; give a non-empty string such as "unikernel" in nx.json plugins[].options.`);
    }
  }
  if (new Set(names).size !== names.length) {
    throw new Error(`nx-unikernel plugin options name two targets the same (${names.join(', ')}); give imageTargetName, serveTargetName and sysrootTargetName different values in nx.json.`);
  }
  if (normalized.outputDir.startsWith('/') || normalized.outputDir.split(/[\\/]/).includes('..')) {
    throw new Error(`nx-unikernel plugin option outputDir ${JSON.stringify(normalized.outputDir)} must stay inside the project folder; give a relative path such as "dist/unikernel".`);
  }
  normalized.outputDir = normalized.outputDir.replace(/\\/g, '/').replace(/\/+$/, '');
  return normalized;
}

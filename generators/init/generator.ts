// `nx g nx-unikernel:init`, which `nx add nx-unikernel` runs: registers the
// inference plugin in nx.json once and adds nx-unikernel to devDependencies.

import { addDependenciesToPackageJson, formatFiles, readNxJson, updateNxJson, type GeneratorCallback, type Tree } from '@nx/devkit';

import { packageVersion } from '../../plugin/package-version';
import { normalizePluginOptions, type UnikernelPluginOptions } from '../../plugin/options';
import type { InitGeneratorSchema } from './schema';

/** The name nx.json uses for the plugin; `nx-unikernel` itself is accepted as the same plugin. */
export const PLUGIN_NAME = 'nx-unikernel/plugin';
const PLUGIN_NAMES = new Set([PLUGIN_NAME, 'nx-unikernel']);

export async function initGenerator(tree: Tree, schema: InitGeneratorSchema): Promise<GeneratorCallback> {
  const tasks: GeneratorCallback[] = [];
  if (shouldAddPlugin(tree)) registerPlugin(tree, pluginOptionsFrom(schema));

  if (!schema.skipPackageJson) {
    tasks.push(addDependenciesToPackageJson(tree, {}, { 'nx-unikernel': `^${packageVersion()}` }, undefined, schema.keepExistingVersions ?? true));
  }
  if (!schema.skipFormat) await formatFiles(tree);
  return async () => {
    for (const task of tasks) await task();
  };
}

export default initGenerator;

/** Inference is on unless NX_ADD_PLUGINS=false or nx.json sets useInferencePlugins: false, as in Nx's own plugins. */
export function shouldAddPlugin(tree: Tree): boolean {
  const nxJson = readNxJson(tree);
  return process.env['NX_ADD_PLUGINS'] !== 'false' && nxJson?.useInferencePlugins !== false;
}

/** Whether nx.json already lists the plugin, by string or object entry. */
export function hasPluginRegistered(tree: Tree): boolean {
  const plugins = readNxJson(tree)?.plugins ?? [];
  return plugins.some((entry) => PLUGIN_NAMES.has(typeof entry === 'string' ? entry : entry.plugin));
}

/** Adds the plugin entry, or merges new options into the existing one; running twice changes nothing. */
function registerPlugin(tree: Tree, options: UnikernelPluginOptions): void {
  const nxJson = readNxJson(tree) ?? {};
  const plugins = nxJson.plugins ?? [];
  const index = plugins.findIndex((entry) => PLUGIN_NAMES.has(typeof entry === 'string' ? entry : entry.plugin));

  if (index < 0) {
    plugins.push({ plugin: PLUGIN_NAME, options: { ...options } });
  } else if (Object.keys(options).length > 0) {
    const existing = plugins[index]!;
    const entry = typeof existing === 'string' ? { plugin: existing } : existing;
    plugins[index] = { ...entry, options: { ...((entry.options as object | undefined) ?? {}), ...options } };
  } else {
    return;
  }
  nxJson.plugins = plugins;
  updateNxJson(tree, nxJson);
}

/** The plugin options given to the generator, validated; defaults are left out of nx.json. */
function pluginOptionsFrom(schema: InitGeneratorSchema): UnikernelPluginOptions {
  const options: UnikernelPluginOptions = {
    ...(schema.imageTargetName !== undefined ? { imageTargetName: schema.imageTargetName } : {}),
    ...(schema.serveTargetName !== undefined ? { serveTargetName: schema.serveTargetName } : {}),
    ...(schema.sysrootTargetName !== undefined ? { sysrootTargetName: schema.sysrootTargetName } : {}),
    ...(schema.buildTargetName !== undefined ? { buildTargetName: schema.buildTargetName } : {}),
    ...(schema.ops !== undefined ? { ops: schema.ops } : {}),
  };
  normalizePluginOptions(options);
  return options;
}


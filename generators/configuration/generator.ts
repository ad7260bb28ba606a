// `nx g nx-unikernel:configuration --project app --program dist/server`:
// writes the project's unikernel.json. With the inference plugin registered
// the targets come from it; otherwise explicit targets go into project.json.

import * as path from 'node:path';

import { formatFiles, joinPathFragments, offsetFromRoot, readNxJson, readProjectConfiguration, updateProjectConfiguration, writeJson, logger, type Tree } from '@nx/devkit';

import { UNIKERNEL_CONFIG_FILE } from '../../core/config';
import { installedNxMajor } from '../../plugin/create-nodes';
import { normalizePluginOptions, type UnikernelPluginOptions } from '../../plugin/options';
import { createUnikernelTargets } from '../../plugin/targets';
import { hasPluginRegistered } from '../init/generator';
import type { ConfigurationGeneratorSchema } from './schema';

export async function configurationGenerator(tree: Tree, schema: ConfigurationGeneratorSchema): Promise<void> {
  const project = readProjectConfiguration(tree, schema.project);
  const projectRoot = project.root.replace(/\\/g, '/');
  const configPath = joinPathFragments(projectRoot, UNIKERNEL_CONFIG_FILE);

  if (tree.exists(configPath) && !schema.overwrite) {
    logger.info(`nx-unikernel: ${configPath} exists and was left unchanged (pass --overwrite with --program to replace it).`);
  } else if (schema.program === undefined) {
    throw new Error(`nx-unikernel: ${configPath} does not exist yet, so --program is needed to write it, e.g. --program dist/server.`);
  } else {
    writeJson(tree, configPath, unikernelJson(schema, schema.program, projectRoot));
  }

  const inference = hasPluginRegistered(tree) && readNxJson(tree)?.useInferencePlugins !== false;
  if (!inference) addExplicitTargets(tree, schema.project, projectRoot);
  if (!schema.skipFormat) await formatFiles(tree);
}

export default configurationGenerator;

function unikernelJson(schema: ConfigurationGeneratorSchema, programOption: string, projectRoot: string): Record<string, unknown> {
  const program = programOption.replace(/\\/g, '/');
  if (program.startsWith('..')) {
    throw new Error(`--program ${JSON.stringify(schema.program)} leaves the project folder ${projectRoot}; give a path inside it (e.g. dist/server) or an absolute path.`);
  }
  const ports = asList(schema.ports);
  const args = asList(schema.args);
  return {
    $schema: joinPathFragments(offsetFromRoot(projectRoot), 'node_modules/nx-unikernel/core/config/unikernel.schema.json'),
    program,
    ...(args.length > 0 ? { args } : {}),
    ...(ports.length > 0 ? { ports } : {}),
    ...(schema.accelerator !== undefined ? { accelerator: schema.accelerator } : {}),
  };
}

/** Nx's option parser passes one command-line value as a scalar (a number for `--ports 8080`), several as an array. */
function asList(value: readonly (string | number)[] | string | number | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** Writes the targets inference would add, refusing to replace a target the project already has. */
function addExplicitTargets(tree: Tree, projectName: string, projectRoot: string): void {
  const project = readProjectConfiguration(tree, projectName);
  const options = normalizePluginOptions(pluginOptionsOf(tree));
  const targets = createUnikernelTargets(options, {
    projectRoot,
    configFile: UNIKERNEL_CONFIG_FILE,
    format: 'unikernel',
    ports: [],
    nxMajor: installedNxMajor(tree.root),
  });

  const taken = Object.keys(targets).filter((name) => project.targets?.[name] !== undefined);
  if (taken.length > 0) {
    throw new Error(
      `Project ${projectName} already has target(s) ${taken.join(', ')}; remove them from ${path.posix.join(projectRoot, 'project.json')} or register the plugin (nx g nx-unikernel:init) to use inferred targets.`,
    );
  }
  project.targets = { ...project.targets, ...targets };
  updateProjectConfiguration(tree, projectName, project);
}

/** Options of a registered plugin entry that inference has turned off, so explicit targets get the same names. */
function pluginOptionsOf(tree: Tree): UnikernelPluginOptions {
  const entry = (readNxJson(tree)?.plugins ?? []).find((plugin) => typeof plugin !== 'string' && plugin.plugin.startsWith('nx-unikernel'));
  return typeof entry === 'object' ? ((entry.options as UnikernelPluginOptions | undefined) ?? {}) : {};
}

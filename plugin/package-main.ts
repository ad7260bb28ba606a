// The package's main entry (`nx-unikernel`): the framework-free engine API
// plus the inference plugin, so nx.json may name either `nx-unikernel` or
// `nx-unikernel/plugin`. The plugin module loads @nx/devkit only when Nx calls
// it, so programs that use the engine without Nx installed can still require this.

import type { CreateNodes } from '@nx/devkit';

import type { UnikernelPluginOptions } from './options';

export * from '../core/index';

const CONFIG_GLOB = '**/{unikernel.json,config.json}';

export const createNodes: CreateNodes<UnikernelPluginOptions> = [
  CONFIG_GLOB,
  (files, options, context) => (require('./create-nodes') as typeof import('./create-nodes')).createNodes[1](files, options, context),
];

/** @deprecated Use createNodes; Nx 22 and newer call createNodes with the same batch signature. */
export const createNodesV2 = createNodes;

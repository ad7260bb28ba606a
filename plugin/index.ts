// `nx-unikernel/plugin`: the entry nx.json `plugins` names.

import { createNodes } from './create-nodes';

export { createNodes };

/**
 * Alias of createNodes for Nx 21 and older configs that import it by this name.
 * @deprecated Use createNodes; Nx 22 and newer call createNodes with the same batch signature.
 */
export const createNodesV2 = createNodes;

export type { UnikernelPluginOptions } from './options';

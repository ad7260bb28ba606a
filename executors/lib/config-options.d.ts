// The unikernel.json keys every executor accepts as options, as written in the file.

import type { UnikernelConfig } from '../../core/config';

export interface CommonTargetOptions extends Omit<UnikernelConfig, '$schema'> {
  /** unikernel.json (or an OPS config.json with `ops`), relative to the workspace root. */
  config?: string;
  /** Read `config` as an OPS config.json. */
  ops?: boolean;
  /** Node.js binary for a JavaScript or TypeScript program, inside the sysroot. */
  nodeBinary?: string;
}

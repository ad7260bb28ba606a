import type { CommonTargetOptions } from '../lib/config-options';

export interface SysrootExecutorOptions extends CommonTargetOptions {
  /** Image path the listing is named after, relative to the workspace root. */
  outputPath?: string;
}

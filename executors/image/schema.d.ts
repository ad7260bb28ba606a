import type { CommonTargetOptions } from '../lib/config-options';

export interface ImageExecutorOptions extends CommonTargetOptions {
  /** Image file to write, relative to the workspace root. */
  outputPath?: string;
}

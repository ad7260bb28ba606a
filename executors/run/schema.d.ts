import type { CommonTargetOptions } from '../lib/config-options';

export interface RunExecutorOptions extends CommonTargetOptions {
  /** Image to boot, relative to the workspace root. */
  image?: string;
  /** Host address the forwarded ports listen on. */
  bind?: string;
  /** HTTP path that must answer before the guest counts as ready. */
  readyPath?: string;
  /** Seconds to wait for the forwarded ports to answer. */
  readyTimeout?: number;
}

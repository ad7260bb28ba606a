// The error every staging failure raises, with a code for callers and tests.

export type SysrootPlanErrorCode =
  | 'invalid-input'
  | 'missing-library'
  | 'addon-dependency-missing'
  | 'duplicate-path'
  | 'case-collision'
  | 'path-conflict'
  | 'read-failed'
  | 'invalid-manifest';

export class SysrootPlanError extends Error {
  override readonly name = 'SysrootPlanError';

  constructor(
    readonly code: SysrootPlanErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// Failure reporting shared by the executors. A known failure becomes one logged
// message and `{ success: false }`. Anything else is a bug, so it is re-thrown with its stack.

import { logger } from '@nx/devkit';

import { BuildError } from '../../core/build';
import { ConfigError, ConfigFileError } from '../../core/config';
import { ElfError } from '../../core/elf/errors';
import { KernelReleaseError } from '../../core/kernel';
import { NanosImageError } from '../../core/nanos';
import { QemuError } from '../../core/qemu';
import { ResolveError } from '../../core/resolve/resolver';
import { SysrootPlanError } from '../../core/sysroot';
import { ImageCheckError } from './image-check';

const KNOWN_ERRORS = [BuildError, ConfigError, ConfigFileError, ElfError, KernelReleaseError, NanosImageError, QemuError, ResolveError, SysrootPlanError, ImageCheckError];

export function reportFailure(error: unknown): { success: false } {
  if (!KNOWN_ERRORS.some((type) => error instanceof type)) throw error;
  logger.error(`nx-unikernel: ${(error as Error).message}`);
  return { success: false };
}

/** A log function for engine progress lines. */
export function progressLog(source: string): (line: string) => void {
  return (line) => logger.info(`[nx-unikernel ${source}] ${line}`);
}

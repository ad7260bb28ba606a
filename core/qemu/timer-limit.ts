// The maximum delay that setTimeout accepts. Node.js replaces a delay above
// 2147483647 ms (2^31 - 1, about 24.8 days) with 1 ms and prints a
// TimeoutOverflowWarning (Node.js docs, timers: setTimeout), so a larger
// timeout would fire at once instead of never.

import { QemuError } from './errors';

export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The maximum timeout in seconds that fits a Node.js timer once converted to ms. */
export const MAX_TIMER_DELAY_SECONDS = MAX_TIMER_DELAY_MS / 1000;

/**
 * Returns `ms` when it is a usable timer delay: finite, above 0 (or equal to 0
 * with `allowZero`) and at most MAX_TIMER_DELAY_MS. Throws QemuError
 * `invalid-option` that names `name` otherwise.
 */
export function checkTimerDelay(name: string, ms: number, { allowZero = false } = {}): number {
  if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && !allowZero)) {
    throw new QemuError('invalid-option', `invalid ${name} ${ms}: use a ${allowZero ? 'non-negative' : 'positive'} number of ms`);
  }
  if (ms > MAX_TIMER_DELAY_MS) {
    throw new QemuError(
      'invalid-option',
      `invalid ${name} ${ms}: it is above ${MAX_TIMER_DELAY_MS} ms (about 24.8 days), the longest delay a Node.js timer supports; use a smaller number of ms`,
    );
  }
  return ms;
}

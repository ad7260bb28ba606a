// Stops a long command step cleanly on SIGINT or SIGTERM. The step gets an
// AbortSignal, and the image writer removes its temporary file or puts the
// previous image back. The command then exits as a shell reports a signal,
// with 128 plus its number.

import { constants } from 'node:os';
import type { LogLine } from './log';

/** Runs `task` with a signal that aborts on SIGINT or SIGTERM; returns its exit status, or 128 + the signal number when it stopped for one. */
export async function runInterruptible(log: LogLine, task: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== undefined) return;
    received = signal;
    log(`${signal} received: stopping and removing partial output`);
    controller.abort(new DOMException(`stopped by ${signal}`, 'AbortError'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await task(controller.signal);
  } catch (error) {
    if (received !== undefined && controller.signal.aborted) return 128 + constants.signals[received];
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

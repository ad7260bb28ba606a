// Polls http://127.0.0.1:PORT/ from the benchmark process until a request
// returns status 200, independently of the tool's own readiness check.
//
// QEMU user-mode networking accepts a forwarded connection at once. While the
// guest network is down, such a connection stays silent for seconds
// (core/qemu/readiness.ts describes the measurements), and many of them slow
// the boot itself. With a new request every 20 ms and up to 100 open for 2 s
// each, the C example started listening 0.6 to 0.9 s later than with up to 30
// open for 0.5 s (three TCG boots each). So until the guest prints that its
// network is up, one request at a time is open and it is given up after
// `stalledTimeoutMs`. After that line, a new request starts every `intervalMs`
// while fewer than `maxInFlight` are open, and each waits up to
// `replyTimeoutMs`, because the first reply of the Node example took 250 ms to
// 2 s under TCG on a loaded 2-core machine.

import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface PollOptions {
  port: number;
  /** `performance.now()` at the spawn that the result is measured from. */
  startedAt: number;
  /** Returns whether the guest serial console has shown that the guest network is up. */
  guestNetworkUp: () => boolean;
  /** Time between the starts of two requests, in ms. */
  intervalMs: number;
  /** Maximum time of a request started before the guest network was up, in ms. */
  stalledTimeoutMs: number;
  /** Maximum time of a request started after that, in ms. */
  replyTimeoutMs: number;
  /** Maximum number of open requests once the guest network is up. */
  maxInFlight: number;
  /** Maximum total wait, in ms, before the promise rejects. */
  deadlineMs: number;
}

export interface PollResult {
  /** Time from `startedAt` to the status line of the first 200 response, in ms. */
  firstOkMs: number;
  /** Number of requests started, the successful one included. */
  requests: number;
  /** Number of requests given up after their timeout. */
  timeouts: number;
}

/** Resolves when a GET / returns 200; rejects after `deadlineMs`. */
export function pollUntilOk(options: PollOptions): Promise<PollResult> {
  return new Promise((resolve, reject) => {
    const open = new Set<{ destroy(): void }>();
    let requests = 0;
    let timeouts = 0;
    let done = false;

    const finish = (outcome: PollResult | Error): void => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(deadline);
      for (const pending of open) pending.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };

    const send = (): void => {
      const networkUp = options.guestNetworkUp();
      if (done || open.size >= (networkUp ? options.maxInFlight : 1)) return;
      requests += 1;
      const timeout = networkUp ? options.replyTimeoutMs : options.stalledTimeoutMs;
      const pending = request({ host: '127.0.0.1', port: options.port, path: '/', agent: false, timeout }, (response) => {
        const at = performance.now();
        response.resume();
        if (response.statusCode === 200) finish({ firstOkMs: at - options.startedAt, requests, timeouts });
      });
      open.add(pending);
      pending.on('timeout', () => {
        timeouts += 1;
        pending.destroy();
      });
      // Refused and reset requests are expected while the VM boots.
      pending.on('error', () => {});
      pending.on('close', () => open.delete(pending));
      pending.end();
    };

    const ticker = setInterval(send, options.intervalMs);
    const deadline = setTimeout(() => finish(new Error(`no HTTP 200 from 127.0.0.1:${options.port} within ${options.deadlineMs} ms after ${requests} requests`)), options.deadlineMs);
    send();
  });
}

// Waits until the guest serves its forwarded TCP ports.
//
// With QEMU user-mode networking, the host end of a forwarded port is QEMU's
// own socket. QEMU accepts a connection at once and only then connects to the
// guest, so a successful connect proves nothing. Measured with Nanos 0.1.55
// under QEMU 7.2 (TCG):
// - guest network not up yet: the connection opens and stays silent. It was
//   still unanswered 1.5 s later, after the app had started listening;
// - guest up, nothing accepts on 10.0.2.15:PORT (the app has not started, or
//   it listens on 127.0.0.1 only): the connection opens and is closed without
//   a byte 0.1 to 5.2 ms later. That is from about 150 tries on the C and Node
//   examples, most of them while the Node guest was starting and its CPU busy;
// - the app accepts: the connection stays open until the app replies or closes.
//
// So a port is ready when a reply arrives: an HTTP status line (with `http`) or
// any byte (plain TCP). A plain TCP connection that stays open and silent for
// `silentAfterMs` also counts, but only when the guest network was already up
// when it opened: either `guestNetworkUp()` returned true, or the guest had
// already reset an earlier connection. Attempts opened before that are given
// up after `silentAfterMs`, and up to three attempts per port overlap, so a
// stalled one does not delay the next.

import { QemuError } from './errors';
import { probePort, type ProbeOutcome } from './port-probe';
import { checkTimerDelay } from './timer-limit';

export interface ReadinessTarget {
  guestPort: number;
  hostPort: number;
  /** Host address to connect to for this port. Default: the `host` option. */
  host?: string;
}

export interface HttpCheck {
  /** Request path, starting with "/". */
  path: string;
  /** Guest port that serves HTTP. Default: the first target. */
  guestPort?: number;
  /** Statuses that count as ready. Default: any status. */
  expectStatus?: readonly number[];
}

export interface ReadinessOptions {
  /** Host address to connect to. Default 127.0.0.1. */
  host?: string;
  http?: HttpCheck;
  /** Maximum wait for all ports, in ms. Default 60000. */
  timeoutMs?: number;
  /** First pause between attempts on a port, in ms; it grows by half each time up to `maxIntervalMs`. Default 100. */
  intervalMs?: number;
  /**
   * Maximum pause between attempts, in ms. Default 250: a probe of a local
   * forward costs little, and a longer pause delays the ready report of a
   * guest that boots in under a second.
   */
  maxIntervalMs?: number;
  /** Maximum wait for a reply within one attempt, in ms (HTTP). Default 5000. */
  attemptTimeoutMs?: number;
  /**
   * How long a plain TCP connection must stay open and silent to count as
   * accepted, in ms. Default 200, about 40 times the longest wait measured
   * for QEMU to close a connection the guest refused (see the top of this file). A
   * longer wait delays the ready report and, for a server that handles one
   * connection at a time, holds up its first client.
   */
  silentAfterMs?: number;
  /**
   * Returns whether the guest network is up (the VM runner watches the serial
   * console for Nanos's "en1: assigned" line). Omit it only when the ports are
   * not QEMU user-mode forwards; then the network counts as up.
   */
  guestNetworkUp?: () => boolean;
  /** Called once per port when the guest keeps resetting connections for `hintAfterMs`. */
  onHint?: (hint: string) => void;
  /** Time of resets before `onHint` runs, in ms. Default 10000. */
  hintAfterMs?: number;
  /** Aborts the wait, for example when the VM exits; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface PortReadiness {
  guestPort: number;
  hostPort: number;
  /** The evidence of readiness: `HTTP 200`, `data` or `accepted`. */
  evidence: string;
  /** Time from the start of the wait, in ms. */
  readyMs: number;
}

export interface ReadinessResult {
  /** Time until the last port was ready, in ms. */
  readyMs: number;
  ports: PortReadiness[];
}

const MAX_ATTEMPTS_IN_FLIGHT = 3;

/** The reason behind the hint, for messages and tests. */
export const LOOPBACK_BIND_HINT =
  'The guest app may be bound to 127.0.0.1; bind 0.0.0.0, because QEMU user networking delivers forwarded connections to the guest address 10.0.2.15.';

/**
 * Waits until every target port serves. Rejects with QemuError `not-ready`
 * after `timeoutMs`, with one line per port that describes the last outcome,
 * and the 127.0.0.1 hint when the guest kept resetting connections.
 */
export async function waitForPorts(targets: readonly ReadinessTarget[], options: ReadinessOptions = {}): Promise<ReadinessResult> {
  const settings = resolveSettings(targets, options);
  const started = Date.now();
  const waiters = targets.map((target) => new PortWaiter(target, settings, started));

  let deadline: NodeJS.Timeout | undefined;
  let removeAbortListener = (): void => {};

  try {
    const all = Promise.all(waiters.map((waiter) => waiter.ready));
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(timeoutError(waiters, settings.timeoutMs)), settings.timeoutMs);
    });
    const aborted = new Promise<never>((_, reject) => {
      const signal = options.signal;
      if (signal === undefined) return;
      const onAbort = (): void => reject(signal.reason ?? new Error('readiness wait aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      removeAbortListener = () => signal.removeEventListener('abort', onAbort);
    });

    for (const waiter of waiters) waiter.start();
    const ports = await Promise.race([all, timedOut, aborted]);
    return { readyMs: Math.max(0, ...ports.map((port) => port.readyMs)), ports };
  } finally {
    clearTimeout(deadline);
    removeAbortListener();
    for (const waiter of waiters) waiter.stop();
  }
}

interface Settings {
  host: string;
  http?: HttpCheck & { guestPort: number };
  timeoutMs: number;
  intervalMs: number;
  maxIntervalMs: number;
  attemptTimeoutMs: number;
  silentAfterMs: number;
  hintAfterMs: number;
  guestNetworkUp: () => boolean;
  onHint?: (hint: string) => void;
  signal?: AbortSignal;
}

type Delays = Pick<Settings, 'timeoutMs' | 'intervalMs' | 'maxIntervalMs' | 'attemptTimeoutMs' | 'silentAfterMs' | 'hintAfterMs'>;

/**
 * Returns the delays of `options` with their defaults filled in. Throws
 * QemuError `invalid-option` for a delay that is not positive or does not fit
 * a Node.js timer (see timer-limit.ts), so a caller can check them before it
 * starts anything.
 */
export function checkReadinessDelays(options: ReadinessOptions): Delays {
  const delay = (name: string, value: number | undefined, fallback: number): number => checkTimerDelay(`readiness ${name}`, value ?? fallback);
  return {
    timeoutMs: delay('timeoutMs', options.timeoutMs, 60_000),
    intervalMs: delay('intervalMs', options.intervalMs, 100),
    maxIntervalMs: delay('maxIntervalMs', options.maxIntervalMs, 250),
    attemptTimeoutMs: delay('attemptTimeoutMs', options.attemptTimeoutMs, 5000),
    silentAfterMs: delay('silentAfterMs', options.silentAfterMs, 200),
    hintAfterMs: delay('hintAfterMs', options.hintAfterMs, 10_000),
  };
}

function resolveSettings(targets: readonly ReadinessTarget[], options: ReadinessOptions): Settings {
  const http = options.http;
  let httpCheck: Settings['http'];
  if (http !== undefined) {
    if (!/^\/[^\s]*$/.test(http.path)) throw new QemuError('invalid-option', `invalid readiness path "${http.path}": it must start with "/" and contain no spaces`);
    const guestPort = http.guestPort ?? targets[0]?.guestPort;
    if (guestPort === undefined || !targets.some((target) => target.guestPort === guestPort)) {
      throw new QemuError('invalid-option', `the HTTP readiness check names guest port ${guestPort ?? '(none)'}, which is not a forwarded TCP port: forward it with -p`);
    }
    httpCheck = { ...http, guestPort };
  }

  return {
    host: options.host ?? '127.0.0.1',
    http: httpCheck,
    ...checkReadinessDelays(options),
    guestNetworkUp: options.guestNetworkUp ?? (() => true),
    onHint: options.onHint,
    signal: options.signal,
  };
}

/** Polls one port until it serves or `stop()` is called. */
class PortWaiter {
  readonly ready: Promise<PortReadiness>;
  lastOutcome: ProbeOutcome | undefined;
  private resolveReady!: (readiness: PortReadiness) => void;
  private readonly aborter = new AbortController();
  private readonly http: Settings['http'];
  private timer: NodeJS.Timeout | undefined;
  private interval: number;
  private inFlight = 0;
  private done = false;
  private guestResetSeen = false;
  private firstResetAt: number | undefined;
  private hinted = false;
  private readyAt: number | undefined;

  constructor(
    readonly target: ReadinessTarget,
    private readonly settings: Settings,
    private readonly started: number,
  ) {
    this.interval = settings.intervalMs;
    this.http = settings.http?.guestPort === target.guestPort ? settings.http : undefined;
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  get isReady(): boolean {
    return this.readyAt !== undefined;
  }

  /** The readiness request, such as `GET /health`, or undefined for plain TCP. */
  get httpRequest(): string | undefined {
    return this.http === undefined ? undefined : `GET ${this.http.path}`;
  }

  get expectedStatuses(): string {
    return this.http?.expectStatus?.join(' or ') ?? 'any status';
  }

  start(): void {
    this.launch();
  }

  stop(): void {
    this.done = true;
    clearTimeout(this.timer);
    this.aborter.abort();
  }

  private launch(): void {
    if (this.done) return;
    if (this.inFlight < MAX_ATTEMPTS_IN_FLIGHT) void this.attempt();
    this.timer = setTimeout(() => this.launch(), this.interval);
    this.interval = Math.min(this.interval * 1.5, this.settings.maxIntervalMs);
  }

  private async attempt(): Promise<void> {
    this.inFlight += 1;
    const networkWasUp = this.guestResetSeen || this.settings.guestNetworkUp();
    // A connection opened before the guest network was up stalls (see the top
    // of this file), so only later ones get the full wait for an HTTP reply.
    const replyWaitMs = this.http !== undefined && networkWasUp ? this.settings.attemptTimeoutMs : this.settings.silentAfterMs;
    const outcome = await probePort({
      host: this.target.host ?? this.settings.host,
      port: this.target.hostPort,
      httpPath: this.http?.path,
      silentAfterMs: replyWaitMs,
      signal: this.aborter.signal,
    });
    this.inFlight -= 1;
    if (this.done) return;
    this.record(outcome, networkWasUp);
  }

  private record(outcome: ProbeOutcome, networkWasUp: boolean): void {
    // A silent connection opened before the network came up proves nothing, so
    // it must not replace a more telling outcome such as a reset.
    const provesNothing = outcome.kind === 'silent' && !networkWasUp;
    if (!provesNothing || this.lastOutcome === undefined) this.lastOutcome = outcome;

    const evidence = this.evidence(outcome, networkWasUp);
    if (evidence !== undefined) {
      this.readyAt = Date.now();
      this.stop();
      this.resolveReady({ ...this.target, evidence, readyMs: this.readyAt - this.started });
      return;
    }

    if (outcome.kind === 'closed') {
      this.guestResetSeen = true;
      this.firstResetAt ??= Date.now();
      if (!this.hinted && Date.now() - this.firstResetAt >= this.settings.hintAfterMs) {
        this.hinted = true;
        this.settings.onHint?.(`guest port ${this.target.guestPort}: connections are reset or closed without a reply. ${LOOPBACK_BIND_HINT}`);
      }
    } else if (outcome.kind !== 'silent') {
      this.firstResetAt = undefined;
    }
  }

  private evidence(outcome: ProbeOutcome, networkWasUp: boolean): string | undefined {
    if (outcome.kind === 'http') {
      const expected = this.http?.expectStatus;
      return expected === undefined || expected.includes(outcome.status) ? `HTTP ${outcome.status}` : undefined;
    }
    if (outcome.kind === 'data') return 'data';
    if (outcome.kind === 'silent' && this.http === undefined && networkWasUp) return 'accepted';
    return undefined;
  }
}

function timeoutError(waiters: readonly PortWaiter[], timeoutMs: number): QemuError {
  const lines = waiters.filter((waiter) => !waiter.isReady).map((waiter) => describeWaiter(waiter, timeoutMs));
  return new QemuError('not-ready', lines.join('\n'));
}

function describeWaiter(waiter: PortWaiter, timeoutMs: number): string {
  const { guestPort, hostPort, host } = waiter.target;
  // A forward with a host address of its own names it, since it is not the usual one.
  const hostSide = host === undefined ? `host port ${hostPort}` : `host ${host}:${hostPort}`;
  const head = `guest port ${guestPort}/tcp (${hostSide}) was not ready after ${timeoutMs} ms`;
  const request = waiter.httpRequest;
  const outcome = waiter.lastOutcome;

  switch (outcome?.kind) {
    case undefined:
      return `${head}: no connection attempt finished.`;
    case 'closed':
      return `${head}: the guest reset or closed connections without a reply. ${LOOPBACK_BIND_HINT} Also check that the app listens on port ${guestPort}.`;
    case 'refused':
      return `${head}: nothing accepted connections on host port ${hostPort}, so QEMU is not forwarding it.`;
    case 'silent':
      return (
        `${head}: QEMU accepted connections but the guest never replied${request === undefined ? '' : ` to ${request}`}. ` +
        'The guest network may not be up (Nanos prints "en1: assigned 10.0.2.15" when it is), or the app accepts connections without replying.'
      );
    case 'http':
      return `${head}: ${request} returned HTTP ${outcome.status}, expected ${waiter.expectedStatuses}.`;
    case 'not-http':
      return `${head}: the reply to ${request} is not HTTP (it starts with ${JSON.stringify(outcome.start)}).`;
    case 'error':
      return `${head}: the last connection failed with ${outcome.message}.`;
    case 'data':
      return `${head}: the last attempt received data.`;
  }
}

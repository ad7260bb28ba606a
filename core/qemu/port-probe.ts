// One connection attempt to a forwarded port, classified by what the far end
// did. readiness.ts explains why "the connection opened" is not enough.

import { Socket } from 'node:net';

export type ProbeOutcome =
  /** Nothing listens on the host port: QEMU has not started or does not forward it. */
  | { kind: 'refused' }
  /** The connection opened, then was reset or closed before a byte arrived. */
  | { kind: 'closed' }
  /** The connection opened and stayed open without a byte until the attempt ended. */
  | { kind: 'silent' }
  /** Plain TCP: the server sent data. */
  | { kind: 'data' }
  | { kind: 'http'; status: number }
  /** The reply did not start with an HTTP status line. */
  | { kind: 'not-http'; start: string }
  | { kind: 'error'; message: string };

export interface ProbeOptions {
  host: string;
  port: number;
  /** Sends `GET path` and waits for the status line; without it, waits for data or `silentAfterMs`. */
  httpPath?: string;
  /** How long an open connection may stay silent before the attempt ends as `silent`, in ms. */
  silentAfterMs: number;
  signal?: AbortSignal;
}

/** Opens one connection and reports what happened. Never rejects. */
export function probePort(options: ProbeOptions): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let received = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;

    const finish = (outcome: ProbeOutcome): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ kind: 'error', message: 'aborted' });
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    // Connecting to a local forward is immediate; this only bounds odd bind addresses.
    timer = setTimeout(() => finish({ kind: 'error', message: `connecting timed out after ${options.silentAfterMs} ms` }), options.silentAfterMs);

    // A reset or close before any byte means nothing in the guest accepted the connection.
    const endedOutcome = (): ProbeOutcome => (received.length === 0 ? { kind: 'closed' } : parseStatusLine(received, true)!);

    socket.on('connect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish({ kind: 'silent' }), options.silentAfterMs);
      if (options.httpPath !== undefined) {
        socket.write(`GET ${options.httpPath} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nUser-Agent: nx-unikernel\r\nConnection: close\r\n\r\n`);
      }
    });

    socket.on('data', (chunk: Buffer) => {
      if (options.httpPath === undefined) return finish({ kind: 'data' });
      received = Buffer.concat([received, chunk]);
      const outcome = parseStatusLine(received, false);
      if (outcome !== undefined) finish(outcome);
    });

    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') return finish({ kind: 'refused' });
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return finish(endedOutcome());
      finish({ kind: 'error', message: `${error.code ?? ''} ${error.message}`.trim() });
    });

    socket.on('end', () => finish(endedOutcome()));
    socket.on('close', () => finish(endedOutcome()));

    socket.connect(options.port, options.host);
  });
}

/**
 * Parses `HTTP/1.x NNN` from the start of a reply. Returns undefined while the
 * first line is incomplete, unless the connection has ended.
 */
function parseStatusLine(received: Buffer, ended: boolean): ProbeOutcome | undefined {
  const text = received.subarray(0, 256).toString('latin1');
  const match = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(text);
  if (match !== null) return { kind: 'http', status: Number(match[1]) };

  const lineEnded = text.includes('\n');
  const cannotBeHttp = !'HTTP/'.startsWith(text.slice(0, 5));
  if (ended || lineEnded || cannotBeHttp || text.length >= 16) return { kind: 'not-http', start: text.split('\n')[0]!.slice(0, 40) };
  return undefined;
}

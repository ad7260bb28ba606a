// Readiness against real loopback servers that behave as QEMU's forwarded
// ports do in each guest state: reset without a reply, silent, or serving.

import { createServer, type Server, type Socket } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { QemuError } from './errors';
import { findFreePort } from './ports';
import { LOOPBACK_BIND_HINT, waitForPorts, type ReadinessOptions } from './readiness';

type Behaviour = (socket: Socket, connection: number) => void;

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Listens on a free loopback port; `behaviour` handles each connection (counted from 1). */
async function serve(behaviour: Behaviour, port?: number, host = '127.0.0.1'): Promise<number> {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    sockets.push(socket);
    socket.on('error', () => {});
    behaviour(socket, connections);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ port: port ?? 0, host }, resolve));
  return (server.address() as { port: number }).port;
}

const reply = (status: number): Behaviour => (socket) => socket.once('data', () => socket.end(`HTTP/1.1 ${status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
const reset: Behaviour = (socket) => socket.resetAndDestroy();
const closeQuietly: Behaviour = (socket) => socket.end();
const silent: Behaviour = (socket) => socket.resume();

const FAST: ReadinessOptions = { intervalMs: 20, maxIntervalMs: 50, silentAfterMs: 200, attemptTimeoutMs: 500 };

async function notReady(promise: Promise<unknown>): Promise<QemuError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(QemuError);
  expect((error as QemuError).code).toBe('not-ready');
  return error as QemuError;
}

describe('waitForPorts', () => {
  it('HTTP server is ready', async () => {
    const port = await serve(reply(200));

    const result = await waitForPorts([{ guestPort: 8080, hostPort: port }], { ...FAST, http: { path: '/' }, timeoutMs: 5000 });

    expect(result.ports).toEqual([{ guestPort: 8080, hostPort: port, evidence: 'HTTP 200', readyMs: expect.any(Number) }]);
    expect(result.readyMs).toBeLessThan(2000);
  });

  it('target host overrides the host option', async () => {
    // Linux routes all of 127.0.0.0/8 to loopback, so nothing listens on this port at 127.0.0.1.
    const port = await serve(reply(200), undefined, '127.0.0.2');

    const result = await waitForPorts([{ guestPort: 8080, hostPort: port, host: '127.0.0.2' }], { ...FAST, host: '127.0.0.1', http: { path: '/' }, timeoutMs: 5000 });
    const error = await notReady(waitForPorts([{ guestPort: 8081, hostPort: port }], { ...FAST, host: '127.0.0.1', http: { path: '/' }, timeoutMs: 400 }));
    const named = await notReady(waitForPorts([{ guestPort: 8082, hostPort: port, host: '127.0.0.3' }], { ...FAST, timeoutMs: 400 }));

    expect(result.ports[0]?.evidence).toBe('HTTP 200');
    expect(error.message).toContain(`guest port 8081/tcp (host port ${port}) was not ready`);
    expect(named.message).toContain(`guest port 8082/tcp (host 127.0.0.3:${port}) was not ready`);
  });

  it('any HTTP status counts by default', async () => {
    const port = await serve(reply(404));

    const result = await waitForPorts([{ guestPort: 80, hostPort: port }], { ...FAST, http: { path: '/missing' }, timeoutMs: 5000 });

    expect(result.ports[0]?.evidence).toBe('HTTP 404');
  });

  it('waits for the expected status', async () => {
    const port = await serve((socket, connection) => reply(connection < 4 ? 503 : 200)(socket, connection));

    const result = await waitForPorts([{ guestPort: 80, hostPort: port }], { ...FAST, http: { path: '/health', expectStatus: [200, 204] }, timeoutMs: 5000 });

    expect(result.ports[0]?.evidence).toBe('HTTP 200');
  });

  it('wrong status times out naming it', async () => {
    const port = await serve(reply(503));

    const error = await notReady(waitForPorts([{ guestPort: 80, hostPort: port }], { ...FAST, http: { path: '/health', expectStatus: [200] }, timeoutMs: 600 }));

    expect(error.message).toBe(`guest port 80/tcp (host port ${port}) was not ready after 600 ms: GET /health returned HTTP 503, expected 200.`);
  });

  it('server that starts late is found', async () => {
    const port = await findFreePort();
    setTimeout(() => void serve(reply(200), port), 300);

    const result = await waitForPorts([{ guestPort: 8080, hostPort: port }], { ...FAST, http: { path: '/' }, timeoutMs: 5000 });

    expect(result.ports[0]?.readyMs).toBeGreaterThanOrEqual(250);
  });

  it('resets give the 127.0.0.1 hint', async () => {
    const port = await serve(reset);
    const hints: string[] = [];

    const error = await notReady(waitForPorts([{ guestPort: 8080, hostPort: port }], { ...FAST, http: { path: '/' }, timeoutMs: 800, hintAfterMs: 300, onHint: (hint) => hints.push(hint) }));

    expect(error.message).toBe(
      `guest port 8080/tcp (host port ${port}) was not ready after 800 ms: the guest reset or closed connections without a reply. ${LOOPBACK_BIND_HINT} Also check that the app listens on port 8080.`,
    );
    expect(error.message).toContain('guest app may be bound to 127.0.0.1; bind 0.0.0.0');
    expect(hints).toEqual([`guest port 8080: connections are reset or closed without a reply. ${LOOPBACK_BIND_HINT}`]);
  });

  it('empty replies give the hint in TCP mode', async () => {
    const port = await serve(closeQuietly);

    const error = await notReady(waitForPorts([{ guestPort: 9000, hostPort: port }], { ...FAST, timeoutMs: 600 }));

    expect(error.message).toContain(LOOPBACK_BIND_HINT);
  });

  it('silent connection counts once the network is up', async () => {
    const port = await serve(silent);

    const result = await waitForPorts([{ guestPort: 5432, hostPort: port }], { ...FAST, timeoutMs: 5000, guestNetworkUp: () => true });

    expect(result.ports[0]?.evidence).toBe('accepted');
  });

  it('silent connection before network up is not ready', async () => {
    const port = await serve(silent);

    const error = await notReady(waitForPorts([{ guestPort: 5432, hostPort: port }], { ...FAST, timeoutMs: 800, guestNetworkUp: () => false }));

    expect(error.message).toBe(
      `guest port 5432/tcp (host port ${port}) was not ready after 800 ms: QEMU accepted connections but the guest never replied. ` +
        'The guest network may not be up (Nanos prints "en1: assigned 10.0.2.15" when it is), or the app accepts connections without replying.',
    );
  });

  it('a reset proves the network is up', async () => {
    const port = await serve((socket, connection) => (connection <= 2 ? reset(socket, connection) : silent(socket, connection)));

    const result = await waitForPorts([{ guestPort: 5432, hostPort: port }], { ...FAST, timeoutMs: 5000, guestNetworkUp: () => false });

    expect(result.ports[0]?.evidence).toBe('accepted');
  });

  it('banner counts as data before network up', async () => {
    const port = await serve((socket) => socket.write('220 ready\r\n'));

    const result = await waitForPorts([{ guestPort: 25, hostPort: port }], { ...FAST, timeoutMs: 5000, guestNetworkUp: () => false });

    expect(result.ports[0]?.evidence).toBe('data');
  });

  it('silent HTTP server times out', async () => {
    const port = await serve(silent);

    const error = await notReady(waitForPorts([{ guestPort: 8080, hostPort: port }], { ...FAST, http: { path: '/' }, timeoutMs: 900 }));

    expect(error.message).toContain('QEMU accepted connections but the guest never replied to GET /.');
  });

  it('non-HTTP reply is reported', async () => {
    const port = await serve((socket) => socket.once('data', () => socket.end('SSH-2.0-OpenSSH\r\n')));

    const error = await notReady(waitForPorts([{ guestPort: 22, hostPort: port }], { ...FAST, http: { path: '/' }, timeoutMs: 600 }));

    expect(error.message).toContain('the reply to GET / is not HTTP (it starts with "SSH-2.0-OpenSSH\\r").');
  });

  it('closed host port is reported', async () => {
    const port = await findFreePort();

    const error = await notReady(waitForPorts([{ guestPort: 8080, hostPort: port }], { ...FAST, timeoutMs: 400 }));

    expect(error.message).toBe(`guest port 8080/tcp (host port ${port}) was not ready after 400 ms: nothing accepted connections on host port ${port}, so QEMU is not forwarding it.`);
  });

  it('HTTP check applies to its port only', async () => {
    const web = await serve(reply(200));
    const database = await serve(silent);

    const result = await waitForPorts(
      [
        { guestPort: 5432, hostPort: database },
        { guestPort: 8080, hostPort: web },
      ],
      { ...FAST, http: { path: '/', guestPort: 8080 }, timeoutMs: 5000 },
    );

    expect(result.ports.map((port) => port.evidence)).toEqual(['accepted', 'HTTP 200']);
  });

  it('timeout lists only ports not ready', async () => {
    const web = await serve(reply(200));
    const closed = await findFreePort();

    const error = await notReady(
      waitForPorts(
        [
          { guestPort: 8080, hostPort: web },
          { guestPort: 9090, hostPort: closed },
        ],
        { ...FAST, http: { path: '/' }, timeoutMs: 500 },
      ),
    );

    expect(error.message.split('\n')).toHaveLength(1);
    expect(error.message).toMatch(/^guest port 9090\/tcp/);
  });

  it('abort signal ends the wait', async () => {
    const port = await findFreePort();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('VM exited')), 100);

    await expect(waitForPorts([{ guestPort: 80, hostPort: port }], { ...FAST, timeoutMs: 5000, signal: controller.signal })).rejects.toThrow('VM exited');
  });

  it.each([
    [{ http: { path: 'health' } }, 'invalid readiness path "health": it must start with "/" and contain no spaces'],
    [{ http: { path: '/', guestPort: 81 } }, 'the HTTP readiness check names guest port 81, which is not a forwarded TCP port: forward it with -p'],
    [{ timeoutMs: 0 }, 'invalid readiness timeoutMs 0: use a positive number of ms'],
    [{ timeoutMs: 2 ** 31 }, 'invalid readiness timeoutMs 2147483648: it is above 2147483647 ms (about 24.8 days), the longest delay a Node.js timer supports'],
    [{ intervalMs: 99999999999000 }, 'invalid readiness intervalMs 99999999999000: it is above 2147483647 ms'],
  ] as const)('rejects %j', async (options, message) => {
    const wait = waitForPorts([{ guestPort: 80, hostPort: 1 }], options);

    await expect(wait).rejects.toThrow(QemuError);
    await expect(wait).rejects.toThrow(message);
  });
});

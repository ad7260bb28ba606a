import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { parsePortSpec as parseConfigPortSpec } from '../config/port-spec';
import { QemuError } from './errors';
import { assertHostPortsFree, findFreePort, formatPortForward, mergePortForwards, parsePortSpec, userNetdevValue, type PortInput } from './ports';

describe('parsePortSpec', () => {
  it.each([
    ['8080', { protocol: 'tcp', hostPort: 8080, guestPort: 8080 }],
    ['8080/tcp', { protocol: 'tcp', hostPort: 8080, guestPort: 8080 }],
    ['5353/udp', { protocol: 'udp', hostPort: 5353, guestPort: 5353 }],
    ['8081:80', { protocol: 'tcp', hostPort: 8081, guestPort: 80 }],
    ['8081:80/udp', { protocol: 'udp', hostPort: 8081, guestPort: 80 }],
    ['5353/UDP', { protocol: 'udp', hostPort: 5353, guestPort: 5353 }],
    ['1:65535', { protocol: 'tcp', hostPort: 1, guestPort: 65535 }],
    ['127.0.0.1:8081:80', { protocol: 'tcp', hostPort: 8081, guestPort: 80, hostAddress: '127.0.0.1' }],
    ['0.0.0.0:5353:53/udp', { protocol: 'udp', hostPort: 5353, guestPort: 53, hostAddress: '0.0.0.0' }],
    [9090, { protocol: 'tcp', hostPort: 9090, guestPort: 9090 }],
    [{ protocol: 'udp', hostPort: 7, guestPort: 9 }, { protocol: 'udp', hostPort: 7, guestPort: 9 }],
  ] as const)('parses %j', (input, expected) => {
    expect(parsePortSpec(input)).toEqual(expected);
  });

  it.each([
    ['70000', 'invalid port "70000": it uses port 70000, outside 1-65535.'],
    ['0', 'invalid port "0": it uses port 0, outside 1-65535.'],
    ['8081:0', 'invalid port "8081:0": it uses port 0, outside 1-65535.'],
    ['http', 'invalid port "http": it has "http" where a port number belongs.'],
    ['8080/sctp', 'invalid port "8080/sctp": it has the protocol "sctp", which is neither tcp nor udp.'],
    ['1:2:3', 'invalid port "1:2:3": it has "1" where an IPv4 host address such as 127.0.0.1 or 0.0.0.0 belongs.'],
    ['localhost:8080:80', 'invalid port "localhost:8080:80": it has "localhost" where an IPv4 host address'],
    ['1.2.3.4:1:2:3', 'invalid port "1.2.3.4:1:2:3": it has 4 colon-separated parts, but ADDRESS:HOST:GUEST has at most 3.'],
    [' 8080', 'invalid port " 8080": it has " 8080" where a port number belongs.'],
    ['', 'invalid port "": it is empty.'],
    [80.5, 'invalid port 80.5: it uses port 80.5, outside 1-65535.'],
    [{ protocol: 'sctp', hostPort: 1, guestPort: 1 }, 'it has the protocol "sctp", which is neither tcp nor udp.'],
  ] as const)('rejects %j', (input, message) => {
    const parse = () => parsePortSpec(input as PortInput);

    expect(parse).toThrow(QemuError);
    expect(parse).toThrow(message);
    expect(parse).toThrow('Write PORT, HOST:GUEST or ADDRESS:HOST:GUEST, optionally followed by /tcp or /udp (for example 8080, 8080:80, 127.0.0.1:8080:80 or 5353/udp).');
  });

  it.each(['8080', '8081:80/udp', '127.0.0.1:8081:80', '5353/UDP', '1:2:3', '', '70000'])('config parser agrees on %j', (input) => {
    const fromConfig = parseConfigPortSpec(input);
    const fromRunner = (() => {
      try {
        return { ok: true, value: parsePortSpec(input) };
      } catch (error) {
        return { ok: false, message: (error as Error).message };
      }
    })();

    expect(fromRunner.ok).toBe(fromConfig.ok);
    if (fromConfig.ok) expect(fromRunner.value).toEqual(fromConfig.value);
    else expect(fromRunner.message).toContain(fromConfig.reason);
  });
});

describe('mergePortForwards', () => {
  it('config and CLI 8080 forward once', () => {
    const forwards = mergePortForwards([8080], ['8080']);

    expect(forwards).toEqual([{ protocol: 'tcp', hostPort: 8080, guestPort: 8080 }]);
    expect(userNetdevValue(forwards)).toMatchInlineSnapshot(`"user,id=n0,hostfwd=tcp:127.0.0.1:8080-:8080"`);
  });

  it('keeps order, protocols and mappings', () => {
    const forwards = mergePortForwards([8080, '5353/udp'], ['8081:80', '8080/tcp', '5353/tcp']);

    expect(forwards.map(formatPortForward)).toEqual(['8080/tcp', '5353/udp', '8081:80/tcp', '5353/tcp']);
    expect(userNetdevValue(forwards)).toMatchInlineSnapshot(
      `"user,id=n0,hostfwd=tcp:127.0.0.1:8080-:8080,hostfwd=udp:127.0.0.1:5353-:5353,hostfwd=tcp:127.0.0.1:8081-:80,hostfwd=tcp:127.0.0.1:5353-:5353"`,
    );
  });

  it('one host port to two guest ports is an error', () => {
    const merge = () => mergePortForwards(['8080:80'], ['8080:81']);

    expect(merge).toThrow(QemuError);
    expect(merge).toThrow(
      'port "8080:81" forwards host port 8080/tcp to guest port 81, but port "8080:80" already forwards it to guest port 80. Keep one of them, or forward another host port with HOST:GUEST.',
    );
  });

  it('one host port on two addresses is an error', () => {
    const merge = () => mergePortForwards(['8080'], ['0.0.0.0:8080:8080']);

    expect(merge).toThrow(QemuError);
    expect(merge).toThrow(
      'port "0.0.0.0:8080:8080" listens on host port 8080/tcp at 0.0.0.0, but port "8080" listens on it at the bind address (--bind or bindAddress, 127.0.0.1 by default).',
    );
  });

  it('identical forwards with an address merge', () => {
    const forwards = mergePortForwards(['127.0.0.1:8080:80', 8081], ['127.0.0.1:8080:80/tcp', '8081:8081']);

    expect(forwards.map(formatPortForward)).toEqual(['127.0.0.1:8080:80/tcp', '8081/tcp']);
  });

  it('same host port on TCP and UDP is no conflict', () => {
    expect(mergePortForwards(['5353:53/tcp'], ['5353:54/udp']).map(formatPortForward)).toEqual(['5353:53/tcp', '5353:54/udp']);
  });

  it('missing lists merge to nothing', () => {
    expect(mergePortForwards(undefined, [])).toEqual([]);
  });
});

describe('userNetdevValue', () => {
  it('uses the bind address', () => {
    expect(userNetdevValue([{ protocol: 'udp', hostPort: 5353, guestPort: 53 }], '0.0.0.0')).toBe('user,id=n0,hostfwd=udp:0.0.0.0:5353-:53');
  });

  it('prefers the forward\'s own address', () => {
    const forwards = [parsePortSpec('0.0.0.0:8080:80'), parsePortSpec('8081')];

    expect(userNetdevValue(forwards, '127.0.0.1')).toBe('user,id=n0,hostfwd=tcp:0.0.0.0:8080-:80,hostfwd=tcp:127.0.0.1:8081-:8081');
  });

  it('without forwards has no hostfwd', () => {
    expect(userNetdevValue([])).toBe('user,id=n0');
  });

  it('rejects a non-IPv4 bind address', () => {
    expect(() => userNetdevValue([], 'localhost')).toThrow('invalid bind address "localhost": QEMU host forwarding needs an IPv4 address such as 127.0.0.1 or 0.0.0.0');
  });
});

describe('assertHostPortsFree', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function holdTcp(host: string): Promise<number> {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host }, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    return (server.address() as { port: number }).port;
  }

  async function holdUdp(): Promise<number> {
    const socket: UdpSocket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
    cleanups.push(() => new Promise((resolve) => socket.close(() => resolve())));
    return socket.address().port;
  }

  it('free ports pass', async () => {
    const tcp = await findFreePort('tcp');
    const udp = await findFreePort('udp');

    await expect(
      assertHostPortsFree([
        { protocol: 'tcp', hostPort: tcp, guestPort: 80 },
        { protocol: 'udp', hostPort: udp, guestPort: 53 },
      ]),
    ).resolves.toBeUndefined();
  });

  it('TCP listener makes the port busy', async () => {
    const port = await holdTcp('127.0.0.1');

    const check = assertHostPortsFree([{ protocol: 'tcp', hostPort: port, guestPort: 8080 }]);

    await expect(check).rejects.toMatchObject({ code: 'port-in-use' });
    await expect(check).rejects.toThrow(`host port ${port}/tcp is already in use on 127.0.0.1: stop the other process or choose another port with -p HOST:GUEST`);
  });

  it('listener on 0.0.0.0 also blocks 127.0.0.1', async () => {
    const port = await holdTcp('0.0.0.0');

    await expect(assertHostPortsFree([{ protocol: 'tcp', hostPort: port, guestPort: 8080 }])).rejects.toMatchObject({ code: 'port-in-use' });
  });

  it('UDP socket makes the port busy', async () => {
    const port = await holdUdp();

    const check = assertHostPortsFree([{ protocol: 'udp', hostPort: port, guestPort: 5353 }]);

    await expect(check).rejects.toThrow(`host port ${port}/udp is already in use on 127.0.0.1`);
  });

  it('busy TCP port leaves UDP free', async () => {
    const port = await holdTcp('127.0.0.1');

    await expect(assertHostPortsFree([{ protocol: 'udp', hostPort: port, guestPort: 5353 }])).resolves.toBeUndefined();
  });

  it('lists every busy port', async () => {
    const first = await holdTcp('127.0.0.1');
    const second = await holdTcp('127.0.0.1');

    const check = assertHostPortsFree([
      { protocol: 'tcp', hostPort: first, guestPort: 1 },
      { protocol: 'tcp', hostPort: second, guestPort: 2 },
    ]);

    await expect(check).rejects.toThrow(
      `host port ${first}/tcp is already in use on 127.0.0.1: stop the other process or choose another port with -p HOST:GUEST\nhost port ${second}/tcp is already in use`,
    );
  });

  it('released port can be checked again', async () => {
    const port = await findFreePort();
    const forward = { protocol: 'tcp' as const, hostPort: port, guestPort: 80 };

    await assertHostPortsFree([forward]);
    await expect(assertHostPortsFree([forward])).resolves.toBeUndefined();
  });

  it('checks a forward on its own address', async () => {
    const port = await holdTcp('127.0.0.1');

    const check = assertHostPortsFree([parsePortSpec(`127.0.0.1:${port}:80`)], '0.0.0.0');

    await expect(check).rejects.toThrow(`host port ${port}/tcp is already in use on 127.0.0.1`);
  });

  it('address of another host is unavailable', async () => {
    const check = assertHostPortsFree([{ protocol: 'tcp', hostPort: 8080, guestPort: 8080 }], '192.0.2.1');

    await expect(check).rejects.toMatchObject({ code: 'port-unavailable' });
    await expect(check).rejects.toThrow('host port 8080/tcp cannot be bound because 192.0.2.1 is not an address of this host');
  });
});

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { QemuError } from './errors';
import { assertHostPortsFree, findFreePort, formatPortForward, mergePortForwards, parsePortSpec, userNetdevValue } from './ports';

describe('parsePortSpec', () => {
  it.each([
    ['8080', { protocol: 'tcp', hostPort: 8080, guestPort: 8080 }],
    ['8080/tcp', { protocol: 'tcp', hostPort: 8080, guestPort: 8080 }],
    ['5353/udp', { protocol: 'udp', hostPort: 5353, guestPort: 5353 }],
    ['5353/UDP', { protocol: 'udp', hostPort: 5353, guestPort: 5353 }],
    ['8081:80', { protocol: 'tcp', hostPort: 8081, guestPort: 80 }],
    ['8081:80/udp', { protocol: 'udp', hostPort: 8081, guestPort: 80 }],
    [' 1:65535 ', { protocol: 'tcp', hostPort: 1, guestPort: 65535 }],
    [9090, { protocol: 'tcp', hostPort: 9090, guestPort: 9090 }],
    [{ protocol: 'udp', hostPort: 7, guestPort: 9 }, { protocol: 'udp', hostPort: 7, guestPort: 9 }],
  ] as const)('parses %j', (input, expected) => {
    expect(parsePortSpec(input)).toEqual(expected);
  });

  it.each([
    ['70000', 'invalid port "70000": 70000 is outside 1..65535'],
    ['0', 'invalid port "0": 0 is outside 1..65535'],
    ['8081:0', 'invalid port "8081:0": 0 is outside 1..65535'],
    ['http', 'invalid port "http": "http" is not a port number. Write PORT or HOST:GUEST'],
    ['8080/sctp', 'invalid port "8080/sctp": protocol "sctp" is not tcp or udp'],
    ['1:2:3', 'invalid port "1:2:3": write PORT or HOST:GUEST'],
    ['', 'invalid port "": "" is not a port number'],
    [80.5, 'invalid port "80.5": 80.5 is outside 1..65535'],
  ] as const)('rejects %j', (input, message) => {
    expect(() => parsePortSpec(input)).toThrow(QemuError);
    expect(() => parsePortSpec(input)).toThrow(message);
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
    expect(merge).toThrow('host port 8080/tcp is forwarded to two guest ports, 80 and 81: keep one of them or choose another host port with -p HOST:GUEST');
  });

  it('missing lists merge to nothing', () => {
    expect(mergePortForwards(undefined, [])).toEqual([]);
  });
});

describe('userNetdevValue', () => {
  it('uses the bind address', () => {
    expect(userNetdevValue([{ protocol: 'udp', hostPort: 5353, guestPort: 53 }], '0.0.0.0')).toBe('user,id=n0,hostfwd=udp:0.0.0.0:5353-:53');
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

  it('address of another host is unavailable', async () => {
    const check = assertHostPortsFree([{ protocol: 'tcp', hostPort: 8080, guestPort: 8080 }], '192.0.2.1');

    await expect(check).rejects.toMatchObject({ code: 'port-unavailable' });
    await expect(check).rejects.toThrow('host port 8080/tcp cannot be bound because 192.0.2.1 is not an address of this host');
  });
});

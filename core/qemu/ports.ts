// Port forwards from the host into the guest through QEMU user-mode networking
// ("slirp"). This file turns `-p` style specs into forwards, merges the lists
// from the config and the command line, and builds the `-netdev user` value.
// It also checks that the host ports are free before QEMU starts.

import { createSocket } from 'node:dgram';
import { createServer, isIPv4 } from 'node:net';

// The parser lives with the configuration so that unikernel.json, OPS
// config.json, `-p` and this runner accept the same forms with one set of
// messages. port-spec.ts imports nothing but node:net.
import { checkPortForward, mergeNamedPortForwards, parsePortSpec as parsePortText, PORT_SPEC_FORMS, type PortForward, type PortProtocol } from '../config/port-spec';
import { QemuError } from './errors';

export { formatPortForward, type PortForward, type PortProtocol } from '../config/port-spec';

/** A port as users write it: `8080`, `8081:80`, `127.0.0.1:8081:80`, `5353/udp`, a number, or a parsed forward. */
export type PortInput = string | number | PortForward;

export const DEFAULT_BIND_ADDRESS = '127.0.0.1';

/** Parses one port spec. Throws QemuError `invalid-port` naming the value, the reason and the accepted forms. */
export function parsePortSpec(input: PortInput): PortForward {
  const parsed = typeof input === 'object' ? checkPortForward(input) : parsePortText(input);
  if (!parsed.ok) {
    throw new QemuError('invalid-port', `invalid port ${JSON.stringify(input)}: it ${parsed.reason}. Write ${PORT_SPEC_FORMS}.`);
  }
  return parsed.value;
}

/**
 * Merges port lists in order (config first, then the command line) and drops
 * exact repeats, so `ports: [8080]` in the config plus `-p 8080` forwards
 * once. QEMU rejects a second rule for the same host port, so one host port
 * and protocol forwarded two ways throws QemuError `duplicate-port`.
 */
export function mergePortForwards(...lists: ReadonlyArray<readonly PortInput[] | undefined>): PortForward[] {
  const entries = lists.flatMap((list) => list ?? []).map((input) => ({ forward: parsePortSpec(input), name: `port ${JSON.stringify(input)}` }));
  const { forwards, conflicts } = mergeNamedPortForwards(entries);
  const [first] = conflicts;
  if (first !== undefined) {
    throw new QemuError('duplicate-port', `${entries[first.index]?.name} ${first.reason}`);
  }
  return forwards;
}

/**
 * Returns the `-netdev` value for user-mode networking with one `hostfwd` per
 * forward, in QEMU's `hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`
 * syntax (QEMU manual, "-netdev user"). The host address is the forward's own
 * one, or `bindAddress`. The guest address stays empty, which QEMU reads as
 * the first DHCP address, 10.0.2.15.
 */
export function userNetdevValue(forwards: readonly PortForward[], bindAddress = DEFAULT_BIND_ADDRESS, id = 'n0'): string {
  checkBindAddress(bindAddress);
  const rules = forwards.map((forward) => `hostfwd=${forward.protocol}:${forward.hostAddress ?? bindAddress}:${forward.hostPort}-:${forward.guestPort}`);
  return ['user', `id=${id}`, ...rules].join(',');
}

/** Throws QemuError `invalid-option` unless `address` is an IPv4 address. */
export function checkBindAddress(address: string): void {
  // NOTE: QEMU 7.2's hostfwd takes IPv4 host addresses only, so IPv6 is rejected here even though newer QEMU may accept it.
  if (!isIPv4(address)) {
    throw new QemuError('invalid-option', `invalid bind address "${address}": QEMU host forwarding needs an IPv4 address such as 127.0.0.1 or 0.0.0.0`);
  }
}

/**
 * Binds every host port of `forwards` on its host address (or `bindAddress`)
 * and releases it again, so a taken port fails here with a clear message
 * instead of QEMU's "Could not set up host forwarding rule". Throws QemuError `port-in-use` or
 * `port-unavailable` listing every port that failed.
 *
 * NOTE: another process can still take a port between this check and QEMU's start.
 */
export async function assertHostPortsFree(forwards: readonly PortForward[], bindAddress = DEFAULT_BIND_ADDRESS): Promise<void> {
  checkBindAddress(bindAddress);
  const failures: { code: 'port-in-use' | 'port-unavailable'; message: string }[] = [];

  for (const forward of forwards) {
    const address = forward.hostAddress ?? bindAddress;
    try {
      await bindAndRelease(forward.protocol, forward.hostPort, address);
    } catch (error) {
      failures.push(describeBindFailure(forward, address, error));
    }
  }

  const [first] = failures;
  if (first === undefined) return;
  throw new QemuError(failures.every((failure) => failure.code === 'port-in-use') ? 'port-in-use' : first.code, failures.map((failure) => failure.message).join('\n'));
}

function describeBindFailure(forward: PortForward, bindAddress: string, error: unknown): { code: 'port-in-use' | 'port-unavailable'; message: string } {
  const port = `host port ${forward.hostPort}/${forward.protocol}`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return { code: 'port-in-use', message: `${port} is already in use on ${bindAddress}: stop the other process or choose another port with -p HOST:GUEST` };
  }
  if (code === 'EACCES') {
    return {
      code: 'port-unavailable',
      message: `${port} cannot be bound on ${bindAddress} (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE, so choose a higher host port with -p HOST:GUEST`,
    };
  }
  if (code === 'EADDRNOTAVAIL') {
    return { code: 'port-unavailable', message: `${port} cannot be bound because ${bindAddress} is not an address of this host: use 127.0.0.1 or 0.0.0.0` };
  }
  return { code: 'port-unavailable', message: `${port} cannot be bound on ${bindAddress}: ${(error as Error).message}` };
}

async function bindAndRelease(protocol: PortProtocol, port: number, address: string): Promise<void> {
  if (protocol === 'tcp') {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: address, exclusive: true }, resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return;
  }

  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port, address, exclusive: true }, resolve);
    });
  } finally {
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** Returns a host port that was free a moment ago, chosen by the operating system. */
export async function findFreePort(protocol: PortProtocol = 'tcp', address = DEFAULT_BIND_ADDRESS): Promise<number> {
  if (protocol === 'tcp') {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: address, exclusive: true }, resolve);
    });
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: 0, address }, resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

// Port forwards from the host into the guest through QEMU user-mode networking
// ("slirp"). This file parses `-p` style specs, merges the lists from the
// config and the command line, and builds the `-netdev user` value. It also
// checks that the host ports are free before QEMU starts.

import { createSocket } from 'node:dgram';
import { createServer, isIPv4 } from 'node:net';

import { QemuError } from './errors';

export type PortProtocol = 'tcp' | 'udp';

export interface PortForward {
  protocol: PortProtocol;
  hostPort: number;
  guestPort: number;
}

/** A port as users write it: `8080`, `8080/tcp`, `5353/udp`, `8081:80`, `8081:80/udp`, a number, or a parsed forward. */
export type PortInput = string | number | PortForward;

export const DEFAULT_BIND_ADDRESS = '127.0.0.1';

const SPEC_FORMAT = 'write PORT or HOST:GUEST, optionally followed by /tcp or /udp (for example 8080, 8081:80, 5353/udp)';

/** Parses one port spec. Throws QemuError `invalid-port` naming the value. */
export function parsePortSpec(input: PortInput): PortForward {
  if (typeof input === 'object') {
    const spec = JSON.stringify(input);
    if (input.protocol !== 'tcp' && input.protocol !== 'udp') throw new QemuError('invalid-port', `invalid port ${spec}: protocol "${input.protocol}" is not tcp or udp`);
    return { protocol: input.protocol, hostPort: checkPort(input.hostPort, spec), guestPort: checkPort(input.guestPort, spec) };
  }
  if (typeof input === 'number') {
    const port = checkPort(input, String(input));
    return { protocol: 'tcp', hostPort: port, guestPort: port };
  }

  const spec = input.trim();
  const match = /^(?:([^:/]*):)?([^:/]*)(?:\/(.*))?$/.exec(spec);
  if (match === null) throw new QemuError('invalid-port', `invalid port "${input}": ${SPEC_FORMAT}`);

  const [, hostText, guestText = '', protocolText] = match;
  const protocol = (protocolText ?? 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw new QemuError('invalid-port', `invalid port "${input}": protocol "${protocolText}" is not tcp or udp`);
  }

  const guestPort = parsePortNumber(guestText, input);
  const hostPort = hostText === undefined ? guestPort : parsePortNumber(hostText, input);
  return { protocol, hostPort, guestPort };
}

function parsePortNumber(text: string, spec: string | number): number {
  if (!/^\d+$/.test(text)) throw new QemuError('invalid-port', `invalid port "${spec}": "${text}" is not a port number. ${capitalize(SPEC_FORMAT)}.`);
  return checkPort(Number(text), String(spec));
}

function checkPort(port: number, spec: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new QemuError('invalid-port', `invalid port "${spec}": ${port} is outside 1..65535`);
  }
  return port;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatPortForward(forward: PortForward): string {
  const ports = forward.hostPort === forward.guestPort ? `${forward.hostPort}` : `${forward.hostPort}:${forward.guestPort}`;
  return `${ports}/${forward.protocol}`;
}

/**
 * Merges port lists in order (config first, then the command line) and drops
 * repeats, so `ports: [8080]` in the config plus `-p 8080` forwards once.
 * QEMU rejects a second rule for the same host port, so one host port and
 * protocol mapped to two guest ports throws QemuError `duplicate-port`.
 */
export function mergePortForwards(...lists: ReadonlyArray<readonly PortInput[] | undefined>): PortForward[] {
  const merged: PortForward[] = [];
  for (const list of lists) {
    for (const input of list ?? []) {
      const forward = parsePortSpec(input);
      const existing = merged.find((other) => other.protocol === forward.protocol && other.hostPort === forward.hostPort);
      if (existing === undefined) {
        merged.push(forward);
        continue;
      }
      if (existing.guestPort !== forward.guestPort) {
        throw new QemuError(
          'duplicate-port',
          `host port ${forward.hostPort}/${forward.protocol} is forwarded to two guest ports, ${existing.guestPort} and ${forward.guestPort}: keep one of them or choose another host port with -p HOST:GUEST`,
        );
      }
    }
  }
  return merged;
}

/**
 * Returns the `-netdev` value for user-mode networking with one `hostfwd` per
 * forward, in QEMU's `hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`
 * syntax (QEMU manual, "-netdev user"). The guest address stays empty, which
 * QEMU reads as the first DHCP address, 10.0.2.15.
 */
export function userNetdevValue(forwards: readonly PortForward[], bindAddress = DEFAULT_BIND_ADDRESS, id = 'n0'): string {
  checkBindAddress(bindAddress);
  const rules = forwards.map((forward) => `hostfwd=${forward.protocol}:${bindAddress}:${forward.hostPort}-:${forward.guestPort}`);
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
 * Binds every host port of `forwards` on `bindAddress` and releases it again,
 * so a taken port fails here with a clear message instead of QEMU's "Could not
 * set up host forwarding rule". Throws QemuError `port-in-use` or
 * `port-unavailable` listing every port that failed.
 *
 * NOTE: another process can still take a port between this check and QEMU's start.
 */
export async function assertHostPortsFree(forwards: readonly PortForward[], bindAddress = DEFAULT_BIND_ADDRESS): Promise<void> {
  checkBindAddress(bindAddress);
  const failures: { code: 'port-in-use' | 'port-unavailable'; message: string }[] = [];

  for (const forward of forwards) {
    try {
      await bindAndRelease(forward.protocol, forward.hostPort, bindAddress);
    } catch (error) {
      failures.push(describeBindFailure(forward, bindAddress, error));
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

// The one parser of port-forward specs, shared by unikernel.json, the OPS
// config reader, the `-p` option and the QEMU runner, and the merge rule for
// several lists of them.

import { isIPv4 } from 'node:net';

import type { ParseResult } from './units';

export type PortProtocol = 'tcp' | 'udp';

/** One QEMU user-network port forward (hostfwd): host port to guest port. */
export interface PortForward {
  readonly protocol: PortProtocol;
  readonly hostPort: number;
  readonly guestPort: number;
  /** IPv4 address the host port listens on; absent means the run's bind address (127.0.0.1 by default). */
  readonly hostAddress?: string;
}

/**
 * Port strings: `PORT`, `HOST:GUEST` or `ADDRESS:HOST:GUEST`, each optionally
 * followed by `/tcp` or `/udp` in any case (TCP when omitted): `"8080"`, `"8081:80"`,
 * `"127.0.0.1:8080:80"`, `"5353/udp"`. parsePortSpec gives the precise
 * reason for a string that fails.
 */
export const PORT_PATTERN = /^(?:(?:([0-9]{1,3}(?:\.[0-9]{1,3}){3}):)?([0-9]+):)?([0-9]+)(?:\/([Tt][Cc][Pp]|[Uu][Dd][Pp]))?$/;

/** The accepted forms, for error messages that tell the user what to write. */
export const PORT_SPEC_FORMS =
  'PORT, HOST:GUEST or ADDRESS:HOST:GUEST, optionally followed by /tcp or /udp (for example 8080, 8080:80, 127.0.0.1:8080:80 or 5353/udp)';

const MAX_PORT = 65535;

/**
 * Parses a port number or port string (see PORT_PATTERN). On failure the
 * reason is a predicate that follows the value, such as `uses port 70000,
 * outside 1-65535`.
 */
export function parsePortSpec(spec: number | string): ParseResult<PortForward> {
  if (typeof spec === 'number') {
    return checkPortForward({ protocol: 'tcp', hostPort: spec, guestPort: spec });
  }
  if (spec === '') {
    return { ok: false, reason: 'is empty' };
  }

  const slash = spec.indexOf('/');
  const portsText = slash < 0 ? spec : spec.slice(0, slash);
  const protocolText = slash < 0 ? 'tcp' : spec.slice(slash + 1);
  const protocol = protocolText.toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') {
    return { ok: false, reason: `has the protocol ${JSON.stringify(protocolText)}, which is neither tcp nor udp` };
  }

  const parts = portsText.split(':');
  if (parts.length > 3) {
    return { ok: false, reason: `has ${parts.length} colon-separated parts, but ADDRESS:HOST:GUEST has at most 3` };
  }

  const guestText = parts[parts.length - 1] ?? '';
  const hostText = parts.length >= 2 ? (parts[parts.length - 2] ?? '') : guestText;
  const addressText = parts.length === 3 ? parts[0] : undefined;
  for (const text of [hostText, guestText]) {
    if (!/^[0-9]+$/.test(text)) {
      return { ok: false, reason: `has ${JSON.stringify(text)} where a port number belongs` };
    }
  }
  if (addressText !== undefined && !isIPv4(addressText)) {
    return { ok: false, reason: `has ${JSON.stringify(addressText)} where an IPv4 host address such as 127.0.0.1 or 0.0.0.0 belongs` };
  }

  const forward = { protocol, hostPort: Number(hostText), guestPort: Number(guestText) } as const;
  return checkPortForward(addressText === undefined ? forward : { ...forward, hostAddress: addressText });
}

/** Checks a forward built in code: both ports in 1-65535, protocol tcp or udp, an IPv4 host address. */
export function checkPortForward(forward: PortForward): ParseResult<PortForward> {
  if (forward.protocol !== 'tcp' && forward.protocol !== 'udp') {
    return { ok: false, reason: `has the protocol ${JSON.stringify(forward.protocol)}, which is neither tcp nor udp` };
  }
  for (const port of [forward.hostPort, forward.guestPort]) {
    if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
      return { ok: false, reason: `uses port ${port}, outside 1-${MAX_PORT}` };
    }
  }
  if (forward.hostAddress !== undefined && !isIPv4(forward.hostAddress)) {
    return { ok: false, reason: `has ${JSON.stringify(forward.hostAddress)} where an IPv4 host address such as 127.0.0.1 or 0.0.0.0 belongs` };
  }

  const { protocol, hostPort, guestPort, hostAddress } = forward;
  return { ok: true, value: hostAddress === undefined ? { protocol, hostPort, guestPort } : { protocol, hostPort, guestPort, hostAddress } };
}

/** Formats a forward in the unikernel.json syntax, e.g. `8081:80/tcp` or `127.0.0.1:8081:80/tcp`. */
export function formatPortForward(forward: PortForward): string {
  const sameHostPort = forward.hostPort === forward.guestPort && forward.hostAddress === undefined;
  const ports = sameHostPort ? `${forward.guestPort}` : `${forward.hostPort}:${forward.guestPort}`;
  const address = forward.hostAddress === undefined ? '' : `${forward.hostAddress}:`;
  return `${address}${ports}/${forward.protocol}`;
}

/** A parsed forward with the words that name it in messages, e.g. `-p "8080:81"` or `ports[0] ("8080:80")`. */
export interface NamedPortForward {
  readonly forward: PortForward;
  readonly name: string;
}

/**
 * A forward that clashes with an earlier one. `reason` is a predicate that
 * follows the later entry's name and names the earlier entry.
 */
export interface PortConflict {
  readonly index: number;
  readonly reason: string;
}

/**
 * Merges forwards in order. An exact repeat is dropped, so `8080` in a config
 * and `-p 8080` forward once. QEMU fails to start when one host port and
 * protocol has two hostfwd rules, so a repeat that differs in guest port or
 * host address is returned as a conflict instead of a forward. When the
 * caller knows the run's `bindAddress`, a forward without an address listens
 * there, so `8080` and `127.0.0.1:8080:8080` count as a repeat under 127.0.0.1.
 */
export function mergeNamedPortForwards(
  entries: readonly NamedPortForward[],
  bindAddress?: string,
): { forwards: PortForward[]; conflicts: PortConflict[] } {
  const earlierByHostPort = new Map<string, NamedPortForward>();
  const forwards: PortForward[] = [];
  const conflicts: PortConflict[] = [];

  entries.forEach((entry, index) => {
    const { forward } = entry;
    const hostKey = `${forward.hostPort}/${forward.protocol}`;
    const earlier = earlierByHostPort.get(hostKey);
    if (earlier === undefined) {
      earlierByHostPort.set(hostKey, entry);
      forwards.push(forward);
      return;
    }

    const fix = 'Keep one of them, or forward another host port with HOST:GUEST.';
    if (earlier.forward.guestPort !== forward.guestPort) {
      const reason = `forwards host port ${hostKey} to guest port ${forward.guestPort}, but ${earlier.name} already forwards it to guest port ${earlier.forward.guestPort}. ${fix}`;
      conflicts.push({ index, reason });
    } else if ((earlier.forward.hostAddress ?? bindAddress) !== (forward.hostAddress ?? bindAddress)) {
      const reason = `listens on host port ${hostKey} at ${describeAddress(forward)}, but ${earlier.name} listens on it at ${describeAddress(earlier.forward)}. ${fix}`;
      conflicts.push({ index, reason });
    }
  });
  return { forwards, conflicts };
}

function describeAddress(forward: PortForward): string {
  return forward.hostAddress ?? 'the bind address (--bind or bindAddress, 127.0.0.1 by default)';
}

// Boots a UDP echo server in Nanos and reaches it from the host through a
// `HOST:5353/udp` forward, the case where forwarding only TCP left a guest
// UDP server unreachable. The image comes from the project's writer
// (writeImage), so only NX_UNIKERNEL_NANOS_DIR, qemu-system-x86_64 and gcc
// are needed; the test is skipped with the reason otherwise.

import { createSocket } from 'node:dgram';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { findFreePort } from './ports';
import { bootCopy, compileFixture, findNanosRelease, makeTempDir, processesMatching, removeDir, writeProgramImage, type NanosRelease } from './test-support/nanos-boot';
import { startVm } from './vm';

const found = findNanosRelease();
const skipReason = typeof found === 'string' ? found : undefined;
if (skipReason !== undefined) console.warn(`Skipping the UDP forwarding boot test: ${skipReason}.`);
const release = found as NanosRelease;

const GUEST_PORT = 5353;
// Under TCG the guest network came up about 0.5 s after QEMU started (Nanos
// 0.1.55, QEMU 7.2), so this only bounds a slow or loaded host.
const ECHO_DEADLINE_MS = 30_000;
const RESEND_INTERVAL_MS = 250;

/**
 * Sends `message` to 127.0.0.1:`port` every RESEND_INTERVAL_MS until a reply
 * arrives, because QEMU drops datagrams while the guest network is down.
 * Rejects after `deadlineMs`.
 */
async function udpRoundTrip(port: number, message: string, deadlineMs: number): Promise<{ reply: string; sent: number }> {
  const socket = createSocket('udp4');
  let sent = 0;
  let resend: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  try {
    return await new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.on('message', (reply) => resolve({ reply: reply.toString('utf8'), sent }));
      const send = (): void => {
        sent += 1;
        socket.send(message, port, '127.0.0.1');
      };
      resend = setInterval(send, RESEND_INTERVAL_MS);
      deadline = setTimeout(() => reject(new Error(`no UDP reply from 127.0.0.1:${port} within ${deadlineMs} ms after ${sent} datagrams`)), deadlineMs);
      send();
    });
  } finally {
    clearInterval(resend);
    clearTimeout(deadline);
    socket.close();
  }
}

/** Returns how often `rule` occurs among the comma-separated options of a `-netdev` value. */
function countOption(netdev: string, rule: string): number {
  return netdev.split(',').filter((option) => option === rule).length;
}

describe.skipIf(skipReason !== undefined)('UDP forwarding into a Nanos guest', () => {
  let dir: string;
  let echoImage: string;

  beforeAll(async () => {
    dir = await makeTempDir();
    const server = await compileFixture('udp-echo', dir);
    echoImage = await writeProgramImage(release, server, [String(GUEST_PORT)], join(dir, 'udp-echo.img'));
  });

  afterAll(async () => {
    if (dir !== undefined) await removeDir(dir);
  });

  it('UDP echo round trip', async () => {
    const image = await bootCopy(echoImage);
    const hostPort = await findFreePort('udp');
    const forward = `${hostPort}:${GUEST_PORT}/udp`;
    // The same forward from the config and from the command line, in two spellings.
    const fromConfig = [forward];
    const fromCli = [{ protocol: 'udp' as const, hostPort, guestPort: GUEST_PORT }];
    const vm = startVm({ image, accelerator: 'tcg', memory: '256M', cpus: 1, ports: [...fromConfig, ...fromCli] });

    try {
      const netdev = vm.qemuCommand.args[vm.qemuCommand.args.indexOf('-netdev') + 1] ?? '';
      expect(countOption(netdev, `hostfwd=udp:127.0.0.1:${hostPort}-:${GUEST_PORT}`)).toBe(1);
      expect(netdev.match(/hostfwd=/g)).toHaveLength(1);

      const started = Date.now();
      const { reply, sent } = await udpRoundTrip(hostPort, 'ping from the host', ECHO_DEADLINE_MS);

      expect(reply).toBe('echo: ping from the host');
      expect(vm.serialTail).toContain(`udp-echo listening on 0.0.0.0:${GUEST_PORT}`);
      console.info(`UDP echo under TCG: first reply ${Date.now() - started} ms after start, ${sent} datagrams sent`);

      const second = await udpRoundTrip(hostPort, 'second datagram', 5000);
      expect(second).toEqual({ reply: 'echo: second datagram', sent: 1 });
    } finally {
      await vm.stop({ graceMs: 1000 });
    }
    expect(processesMatching(image)).toEqual([]);
  });
});

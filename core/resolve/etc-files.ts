// Configuration files that name lookups read at run time. The tool writes its
// own small versions instead of copying the build root's. The root's
// resolv.conf often names a loopback stub resolver (systemd-resolved's
// 127.0.0.53) that does not exist in the guest. Its passwd lists users the
// guest does not have. Users who need other contents add their own files.

import type { ExtraFile } from './types';

/**
 * QEMU's user-mode network answers DNS at 10.0.2.3 (QEMU's slirp defaults), the
 * resolver Nanos guests reach when run with `-netdev user`.
 */
export const GUEST_DNS_SERVER = '10.0.2.3';

const NSSWITCH_CONF = [
  'passwd: files',
  'group: files',
  'shadow: files',
  'gshadow: files',
  'hosts: files dns',
  'networks: files',
  'protocols: files',
  'services: files',
  'ethers: files',
  'rpc: files',
  'netgroup: files',
  '',
].join('\n');

const HOSTS = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ''].join('\n');

// Nanos runs the program as uid 0 and gid 0.
const PASSWD = 'root:x:0:0:root:/:/sbin/nologin\n';
const GROUP = 'root:x:0:\n';
const RESOLV_CONF = `nameserver ${GUEST_DNS_SERVER}\n`;

/** Generates the /etc files a program that resolves names or users needs, each with the reason given. */
export function nameLookupFiles(reason: string, databases: Iterable<string>): ExtraFile[] {
  const list = new Set(databases);
  const files: ExtraFile[] = [
    generated('/etc/nsswitch.conf', NSSWITCH_CONF, `${reason}: NSS reads it to choose the services for each database`),
    generated('/etc/passwd', PASSWD, `${reason}: user lookups read it, and the guest runs as root (uid 0)`),
    generated('/etc/group', GROUP, `${reason}: group lookups read it`),
    generated('/etc/hosts', HOSTS, `${reason}: the "files" service answers localhost from it`),
  ];
  if (list.has('hosts') || list.has('networks') || list.size === 0) {
    files.push(generated('/etc/resolv.conf', RESOLV_CONF, `${reason}: the "dns" service reads it; ${GUEST_DNS_SERVER} is QEMU's user-network resolver`));
  }
  return files;
}

/**
 * Generates /etc/hosts and /etc/resolv.conf for a C library whose resolver
 * reads them directly, without NSS, as musl's does. The contents are the ones
 * glibc programs get.
 */
export function resolverFiles(reason: string): ExtraFile[] {
  return [
    generated('/etc/hosts', HOSTS, `${reason}; its resolver answers localhost from this file, without NSS`),
    generated('/etc/resolv.conf', RESOLV_CONF, `${reason}; its resolver sends DNS queries to the name server listed here, ${GUEST_DNS_SERVER} (QEMU's user-network resolver)`),
  ];
}

function generated(path: string, contents: string, reason: string): ExtraFile {
  return { path, source: { kind: 'generated', contents }, reason };
}

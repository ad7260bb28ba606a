// Go programs built with the host's go toolchain: detection through the Go
// build id note and the build info blob, version and CGO_ENABLED, and the
// link kind of each build mode.

import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readElfFile } from './read-elf';
import { buildGo, copyWithoutSectionHeaders, hasCommand, makeTempDir, removeTempDir, run } from './test-support';

const hasGo = hasCommand('go', ['version']);

const PURE_GO = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n';
const NET_GO = [
  'package main',
  '',
  'import (',
  '\t"fmt"',
  '\t"net"',
  ')',
  '',
  'func main() {',
  '\taddresses, err := net.LookupHost("localhost")',
  '\tfmt.Println(addresses, err)',
  '}',
  '',
].join('\n');

let dir: string;
let goVersion: string;
const programs = { pure: '', noCgo: '', cgoNet: '', pie: '' };

describe.skipIf(!hasGo)('Go programs', () => {
  beforeAll(() => {
    dir = makeTempDir();
    goVersion = run('go', ['env', 'GOVERSION']).trim();
    programs.pure = buildGo({ dir: path.join(dir, 'pure'), source: PURE_GO, out: path.join(dir, 'pure.bin'), env: { CGO_ENABLED: '1' } });
    programs.noCgo = buildGo({ dir: path.join(dir, 'nocgo'), source: NET_GO, out: path.join(dir, 'nocgo.bin'), env: { CGO_ENABLED: '0' } });
    programs.cgoNet = buildGo({ dir: path.join(dir, 'cgo'), source: NET_GO, out: path.join(dir, 'cgo.bin'), env: { CGO_ENABLED: '1' } });
    programs.pie = buildGo({ dir: path.join(dir, 'pie'), source: PURE_GO, out: path.join(dir, 'pie.bin'), env: { CGO_ENABLED: '1' }, flags: ['-buildmode=pie'] });
  });

  afterAll(() => {
    removeTempDir(dir);
  });

  it('pure Go is static', () => {
    const info = readElfFile(programs.pure, { symbols: true });

    expect(info.notes.goBuildId).toMatch(/\S+/);
    expect(info.interpreter).toBeUndefined();
    expect(info.classification).toEqual({ kind: 'static', libc: 'none', pie: false, go: { version: goVersion, cgo: true } });
    expect(info.imports).toEqual([]);
  });

  it('CGO_ENABLED=0 with net is static', () => {
    const info = readElfFile(programs.noCgo);

    expect(info.classification).toEqual({ kind: 'static', libc: 'none', pie: false, go: { version: goVersion, cgo: false } });
  });

  it('cgo with net is dynamic', () => {
    const info = readElfFile(programs.cgoNet, { symbols: true });

    expect(info.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(info.dynamic?.needed).toContain('libc.so.6');
    expect(info.imports?.map((symbol) => symbol.name)).toContain('getaddrinfo');
    expect(info.classification).toEqual({ kind: 'dynamic', libc: 'glibc', pie: false, go: { version: goVersion, cgo: true } });
  });

  it('-buildmode=pie needs only the loader', () => {
    const info = readElfFile(programs.pie);

    expect(info.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(info.dynamic?.needed).toEqual([]);
    expect(info.classification).toMatchObject({ kind: 'dynamic', libc: 'glibc', pie: true, go: { version: goVersion } });
  });

  it('build info found without section headers', () => {
    for (const program of [programs.cgoNet, programs.pie]) {
      const copy = `${program}-no-sections`;
      copyWithoutSectionHeaders(program, copy);
      const info = readElfFile(copy);

      expect(info.header.shnum, program).toBe(0);
      expect(info.classification.go, program).toEqual(readElfFile(program).classification.go);
    }
  });
});

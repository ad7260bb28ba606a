// What ldd cannot see (NSS, the unwinder, dlopen), static and Go programs, and
// musl's own search rules, on programs built at test time.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveProgram } from './resolver';
import type { ResolveResult } from './types';
import { hasCommand, Lab, RPATH, RUNPATH } from './test-support/lab';

const lab = Lab.create();
const E = lab.dir;
afterAll(() => lab.remove());

const hasMusl = hasCommand('musl-gcc', ['-v']);
const hasGo = hasCommand('go', ['version']);

function extraPaths(result: ResolveResult): string[] {
  return result.extraFiles.map((file) => file.path).sort();
}

function generatedContents(result: ResolveResult, path: string): string | undefined {
  const file = result.extraFiles.find((entry) => entry.path === path);
  return file?.source.kind === 'generated' ? file.source.contents : undefined;
}

describe('run-time needs of glibc programs', () => {
  it('getaddrinfo adds the NSS /etc files and no module on glibc 2.36', () => {
    const program = lab.exe('gai', {
      source: '#include <netdb.h>\nint main(void){struct addrinfo *r; return getaddrinfo("localhost", "80", 0, &r);}\n',
    });
    const result = resolveProgram(program, { isaLevel: 1 });
    expect(result.libc).toEqual({ flavour: 'glibc', version: '2.36' });
    expect(extraPaths(result)).toEqual(['/etc/group', '/etc/hosts', '/etc/nsswitch.conf', '/etc/passwd', '/etc/resolv.conf']);
    expect(generatedContents(result, '/etc/nsswitch.conf')).toContain('hosts: files dns');
    expect(generatedContents(result, '/etc/hosts')).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(generatedContents(result, '/etc/resolv.conf')).toBe('nameserver 10.0.2.3\n');
    expect(result.extraFiles.every((file) => file.reason.includes('getaddrinfo'))).toBe(true);
    expect(result.libraries.some((library) => library.name.startsWith('libnss_'))).toBe(false);
  });

  it('pthread_cancel adds libgcc_s.so.1 as a run-time library', () => {
    const program = lab.exe('cancel', {
      source: '#include <pthread.h>\nint main(void){return pthread_cancel(pthread_self());}\n',
      flags: ['-pthread'],
    });
    const result = resolveProgram(program, { isaLevel: 1 });
    const unwinder = result.libraries.find((library) => library.name === 'libgcc_s.so.1');
    expect(unwinder?.path).toBe('/lib/x86_64-linux-gnu/libgcc_s.so.1');
    expect(unwinder?.runtime?.reason).toContain('pthread_cancel');
    expect(unwinder?.neededBy).toEqual(['/lib/x86_64-linux-gnu/libc.so.6']);
  });

  it('dlopen and iconv_open are reported', () => {
    const program = lab.exe('plugins', {
      source: '#include <dlfcn.h>\n#include <iconv.h>\nint main(void){iconv_open("UTF-16","ISO-8859-15"); return dlopen("libplugin.so", RTLD_NOW) == 0;}\n',
    });
    const messages = resolveProgram(program, { isaLevel: 1 }).diagnostics.map((diagnostic) => diagnostic.message).join('\n');
    expect(messages).toContain('dlopen is imported');
    expect(messages).toContain('gconv modules');
  });

  it('a root with glibc 2.31 gets libnss_files, libnss_dns and libresolv from the same root', () => {
    const root = lab.path('glibc231');
    // A stand-in libc.so.6 whose version definitions stop at GLIBC_2.31, as Debian 11's do.
    lab.write('glibc231/build/libc.map', [
      'GLIBC_2.2.5 { global: getaddrinfo; local: *; };',
      'GLIBC_2.17 { global: f17; } GLIBC_2.2.5;',
      'GLIBC_2.28 { global: f28; } GLIBC_2.17;',
      'GLIBC_2.30 { global: f30; } GLIBC_2.28;',
      'GLIBC_2.31 { global: f31; } GLIBC_2.30;',
      '',
    ].join('\n'));
    const libc = lab.lib('glibc231/lib/x86_64-linux-gnu/libc.so.6', 'libc.so.6', {
      source: 'int getaddrinfo(void){return 0;} int f17(void){return 0;} int f28(void){return 0;} int f30(void){return 0;} int f31(void){return 0;}\n',
      flags: [`-Wl,--version-script=${root}/build/libc.map`, '-nostdlib'],
    });
    for (const module of ['libnss_files.so.2', 'libnss_dns.so.2', 'libresolv.so.2']) {
      lab.lib(`glibc231/lib/x86_64-linux-gnu/${module}`, module, { flags: ['-nostdlib'] });
    }
    lab.copy('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'glibc231/lib64/ld-linux-x86-64.so.2');
    // Linked against the stand-in, so it needs getaddrinfo@GLIBC_2.2.5 and nothing newer.
    const program = lab.exe('glibc231/app/gai', {
      source: 'int getaddrinfo(void); void _start(void){ getaddrinfo(); for (;;) {} }\n',
      needs: [libc],
      flags: ['-nostdlib', '-nostartfiles'],
    });

    const old = resolveProgram(program, { sysroot: root, isaLevel: 1 });
    expect(old.libc.version).toBe('2.31');
    const runtimeLibraries = old.libraries.filter((library) => library.runtime).map((library) => library.path);
    expect(runtimeLibraries).toEqual([
      '/lib/x86_64-linux-gnu/libnss_files.so.2',
      '/lib/x86_64-linux-gnu/libnss_dns.so.2',
      '/lib/x86_64-linux-gnu/libresolv.so.2',
    ]);
    expect(extraPaths(old)).toContain('/etc/resolv.conf');

    const current = resolveProgram(program, { isaLevel: 1 });
    expect(current.libraries.filter((library) => library.runtime)).toEqual([]);
    expect(extraPaths(current)).toEqual(extraPaths(old));
  });
});

describe('static programs', () => {
  it('static, static-pie and PIE are told apart', () => {
    const source = '#include <stdio.h>\nint main(void){puts("hi"); return 0;}\n';
    const staticProgram = resolveProgram(lab.exe('h_static', { source, flags: ['-static'] }));
    const staticPie = resolveProgram(lab.exe('h_spie', { source, flags: ['-static-pie'] }));
    const pie = resolveProgram(lab.exe('h_pie', { source }), { isaLevel: 1 });

    expect(staticProgram.classification.kind).toBe('static');
    expect(staticProgram.libraries).toEqual([]);
    expect(staticProgram.ok).toBe(true);
    expect(staticPie.classification.kind).toBe('static-pie');
    expect(staticPie.interpreter).toBeUndefined();
    expect(staticPie.libraries).toEqual([]);
    expect(pie.classification.kind).toBe('dynamic');
    expect(pie.interpreter?.path).toBe('/lib64/ld-linux-x86-64.so.2');
  });

  it('a static glibc program using NSS gets the /etc files and a warning', () => {
    const program = lab.exe('gai-static', {
      source: '#include <netdb.h>\n#include <pwd.h>\nint main(void){struct addrinfo *r; getpwnam("root"); return getaddrinfo("localhost", "80", 0, &r);}\n',
      flags: ['-static'],
    });
    const result = resolveProgram(program);
    expect(result.classification).toMatchObject({ kind: 'static', libc: 'glibc' });
    expect(extraPaths(result)).toEqual(['/etc/group', '/etc/hosts', '/etc/nsswitch.conf', '/etc/passwd', '/etc/resolv.conf']);
    expect(result.diagnostics.some((diagnostic) => diagnostic.level === 'warning' && diagnostic.message.includes('static glibc'))).toBe(true);
  });

  it.skipIf(!hasMusl)('a static musl program needs nothing', () => {
    const program = lab.exe('musl-static', { compiler: 'musl-gcc', flags: ['-static'] });
    const result = resolveProgram(program);
    expect(result.classification).toMatchObject({ kind: 'static', libc: 'musl' });
    expect(result.extraFiles).toEqual([]);
  });
});

describe.skipIf(!hasMusl)('musl programs that resolve host names', () => {
  const getaddrinfoSource = '#include <netdb.h>\n#include <string.h>\nint main(void){struct addrinfo hints, *r; memset(&hints, 0, sizeof hints); return getaddrinfo("localhost", "80", &hints, &r) == 0 ? 0 : 4;}\n';
  const resolverPaths = ['/etc/hosts', '/etc/resolv.conf'];

  it('dynamic getaddrinfo gets hosts and resolv.conf', () => {
    const result = resolveProgram(lab.exe('musl-gai', { compiler: 'musl-gcc', source: getaddrinfoSource }));
    expect(result.classification).toMatchObject({ kind: 'dynamic', libc: 'musl' });
    expect(extraPaths(result)).toEqual(resolverPaths);
    expect(generatedContents(result, '/etc/hosts')).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(generatedContents(result, '/etc/resolv.conf')).toBe('nameserver 10.0.2.3\n');
    for (const file of result.extraFiles) expect(file.reason).toContain('getaddrinfo');
  });

  it('dynamic gethostbyname and res_query count as resolver use', () => {
    const byName = lab.exe('musl-ghbn', { compiler: 'musl-gcc', source: '#include <netdb.h>\nint main(void){return gethostbyname("localhost") == 0;}\n' });
    const query = lab.exe('musl-resq', {
      compiler: 'musl-gcc',
      source: '#include <resolv.h>\nint main(void){unsigned char answer[512]; return res_query("localhost", 1, 1, answer, sizeof answer) < 0;}\n',
    });
    expect(extraPaths(resolveProgram(byName))).toEqual(resolverPaths);
    expect(extraPaths(resolveProgram(query))).toEqual(resolverPaths);
  });

  it('static getaddrinfo is musl and gets hosts and resolv.conf', () => {
    const result = resolveProgram(lab.exe('musl-gai-static', { compiler: 'musl-gcc', source: getaddrinfoSource, flags: ['-static'] }));
    expect(result.classification).toMatchObject({ kind: 'static', libc: 'musl' });
    expect(extraPaths(result)).toEqual(resolverPaths);
    expect(result.extraFiles[0]?.reason).toContain('static musl program');
  });

  it('stripped static getaddrinfo is unknown but gets the files', () => {
    const result = resolveProgram(lab.exe('musl-gai-stripped', { compiler: 'musl-gcc', source: getaddrinfoSource, flags: ['-static', '-s'] }));
    expect(result.classification).toMatchObject({ kind: 'static', libc: 'unknown' });
    expect(extraPaths(result)).toEqual(resolverPaths);
    expect(result.extraFiles[0]?.reason).toContain('C library unknown');
  });
});

describe.skipIf(!hasGo)('Go programs', () => {
  const goBuild = (name: string, source: string, env: Record<string, string>, flags: string[] = []): string => {
    const folder = lab.path(`go-${name}`);
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(`${folder}/main.go`, source);
    fs.writeFileSync(`${folder}/go.mod`, `module example.com/${name}\n\ngo 1.19\n`);
    execFileSync('go', ['build', ...flags, '-o', `${folder}/app`, '.'], {
      cwd: folder,
      env: { ...process.env, GOCACHE: lab.path('.gocache'), GOPATH: lab.path('.gopath'), GOFLAGS: '-mod=mod', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return `${folder}/app`;
  };
  const netUser = 'package main\nimport ("fmt"; "net"; "os/user")\nfunc main(){ u, _ := user.Current(); a, _ := net.LookupHost("localhost"); fmt.Println(u, a) }\n';

  it('CGO_ENABLED=0 is static and gets the /etc files', () => {
    const result = resolveProgram(goBuild('static', netUser, { CGO_ENABLED: '0' }));
    expect(result.classification.kind).toBe('static');
    expect(result.classification.go?.cgo).toBe(false);
    expect(extraPaths(result)).toContain('/etc/passwd');
    expect(extraPaths(result)).toContain('/etc/hosts');
  });

  it('cgo with net and os/user is a dynamic glibc program with NSS needs', () => {
    const result = resolveProgram(goBuild('cgo', netUser, { CGO_ENABLED: '1' }), { isaLevel: 1 });
    expect(result.classification).toMatchObject({ kind: 'dynamic', libc: 'glibc' });
    expect(result.classification.go?.cgo).toBe(true);
    expect(result.libraries.map((library) => library.name)).toContain('libc.so.6');
    expect(extraPaths(result)).toContain('/etc/nsswitch.conf');
    expect(result.ok).toBe(true);
  });

  it('-buildmode=pie without cgo needs only the loader', () => {
    const result = resolveProgram(goBuild('pie', 'package main\nfunc main(){}\n', { CGO_ENABLED: '0' }, ['-buildmode=pie']), { isaLevel: 1 });
    expect(result.classification.kind).toBe('dynamic');
    expect(result.libraries).toEqual([]);
    expect(result.ok).toBe(true);
  });
});

describe.skipIf(!hasMusl)('musl programs', () => {
  const muslLib = (relative: string, soname: string, flags: string[] = []) => lab.lib(relative, soname, { compiler: 'musl-gcc', flags });

  it('LD_LIBRARY_PATH beats RPATH and RUNPATH; libc.so is the loader', () => {
    muslLib('mL1/libw.so', 'libw.so');
    muslLib('mL2/libw.so', 'libw.so');
    const withRpath = lab.exe('musl-rp', { compiler: 'musl-gcc', needs: [`${E}/mL1/libw.so`], flags: [`${RPATH}${E}/mL1`] });
    const withRunpath = lab.exe('musl-run', { compiler: 'musl-gcc', needs: [`${E}/mL1/libw.so`], flags: [`${RUNPATH}${E}/mL1`] });

    const plain = resolveProgram(withRpath);
    expect(plain.classification.libc).toBe('musl');
    expect(plain.interpreter?.path).toBe('/lib/ld-musl-x86_64.so.1');
    expect(plain.libraries.find((library) => library.name === 'libw.so')?.path).toBe(`${E}/mL1/libw.so`);
    // musl resolves libc.so to the loader itself, so it is no separate library.
    expect(plain.libraries.map((library) => library.name)).toEqual(['libw.so']);
    expect(plain.missing).toEqual([]);

    for (const program of [withRpath, withRunpath]) {
      const result = resolveProgram(program, { libraryPath: `${E}/mL2` });
      expect(result.libraries.find((library) => library.name === 'libw.so')?.path).toBe(`${E}/mL2/libw.so`);
    }
  });

  it('RUNPATH is inherited, and a list with $LIB is ignored whole', () => {
    muslLib('mleaf/libleaf.so', 'libleaf.so');
    muslLib('mmid/libmid.so', 'libmid.so', [`${E}/mleaf/libleaf.so`]);
    const program = lab.exe('musl-f05', { compiler: 'musl-gcc', needs: [`${E}/mmid/libmid.so`], flags: [`${RUNPATH}${E}/mmid:${E}/mleaf`] });
    expect(resolveProgram(program).libraries.find((library) => library.name === 'libleaf.so')?.path).toBe(`${E}/mleaf/libleaf.so`);

    const poisoned = lab.exe('musl-lib', { compiler: 'musl-gcc', needs: [`${E}/mmid/libmid.so`], flags: [`${RUNPATH}${E}/mmid:${E}/mleaf:/x/$LIB`] });
    const result = resolveProgram(poisoned);
    expect(result.missing.map((entry) => entry.name)).toEqual(['libmid.so']);
    expect(result.diagnostics.some((diagnostic) => diagnostic.message.includes('musl ignores'))).toBe(true);
  });

  it('musl does not reuse a library by soname', () => {
    muslLib('md1/libA1.so', 'libA1.so');
    muslLib('md2/libB1.so', 'libB1.so');
    const program = lab.exe('musl-f16', { compiler: 'musl-gcc', needs: [`${E}/md1/libA1.so`, `${E}/md2/libB1.so`], flags: [`${RUNPATH}${E}/md1:${E}/md2`] });
    muslLib('md1/libA1.so', 'libB1.so');
    const paths = resolveProgram(program).libraries.map((library) => library.path);
    expect(paths).toEqual([`${E}/md1/libA1.so`, `${E}/md2/libB1.so`]);
  });

  it('the system path comes from /etc/ld-musl-x86_64.path', () => {
    const text = fs.existsSync('/etc/ld-musl-x86_64.path') ? fs.readFileSync('/etc/ld-musl-x86_64.path', 'utf8') : '';
    const program = lab.exe('musl-missing', { compiler: 'musl-gcc', needs: [`${E}/mL1/libw.so`] });
    const searched = resolveProgram(program).missing[0]?.searched.filter((entry) => entry.phase === 'musl-path').map((entry) => entry.folder);
    const expected = text === '' ? ['/lib', '/usr/local/lib', '/usr/lib'] : text.split(/[:\n]/).filter((folder) => folder !== '');
    expect(searched).toEqual(expected);
  });
});

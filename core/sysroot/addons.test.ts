// Shared objects inside packed folders (Node.js addons, vendored .so files):
// their DT_NEEDED libraries are found with their own DT_RUNPATH and $ORIGIN
// at their image path, and a missing one fails the plan.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Resolver } from '../resolve/resolver';
import { Lab, RUNPATH } from '../resolve/test-support/lab';
import { hasCommand } from '../resolve/test-support/sysroot-fixtures';
import { SysrootPlanError } from './errors';
import { packedMounts } from './packed-files';
import { planSysroot } from './plan';
import { debianRoot, HAS_DEBIAN_GLIBC, sha256File } from './test-support/debian-root';
import type { PackedPath, StagingPlan } from './types';
import { planError } from './test-support/plan-error';

const lab = Lab.create('nxu-addons-');
afterAll(() => lab.remove());

const HAS_ZLIB = fs.existsSync('/usr/include/zlib.h') && fs.existsSync('/usr/lib/x86_64-linux-gnu/libz.so');
const CAN_BUILD_ADDON = HAS_DEBIAN_GLIBC && HAS_ZLIB && hasCommand('g++');

// A C-ABI function is enough: Node.js loads any ELF shared object with dlopen.
const ADDON_SOURCE = `#include <zlib.h>
extern "C" int foo_answer(void);
extern "C" const char *addon_zlib_version(void) { return foo_answer() == 42 ? zlibVersion() : "?"; }
`;
const LIBFOO_SOURCE = 'int foo_answer(void) { return 42; }\n';
/** Libraries g++ links into every C++ shared object, copied from the host into the roots. */
const CXX_RUNTIME = ['libstdc++.so.6', 'libm.so.6', 'libgcc_s.so.1'];

/** Builds a root with glibc, the C++ runtime and zlib, like a Debian 12 image with zlib1g installed. */
function addonRoot(name: string): string {
  const root = debianRoot(lab, name, CXX_RUNTIME);
  lab.copy('/usr/lib/x86_64-linux-gnu/libz.so.1', `${name}/usr/lib/x86_64-linux-gnu/libz.so.1`);
  return root;
}

/** Builds a project folder whose build/addon.node needs libz and the vendored libfoo (through $ORIGIN/../vendor/lib). */
function addonProject(name: string): string {
  const libfoo = lab.lib(`${name}/vendor/lib/libfoo.so`, 'libfoo.so', { source: LIBFOO_SOURCE });
  lab.lib(`${name}/build/addon.node`, undefined, {
    compiler: 'g++',
    source: ADDON_SOURCE,
    needs: [libfoo],
    flags: ['-lz', `${RUNPATH}$ORIGIN/../vendor/lib`],
  });
  lab.write(`${name}/index.js`, "console.log(require('./build/addon.node'));\n");
  return lab.path(name);
}

async function planWithProject(root: string, program: string, dirs: PackedPath[], files: PackedPath[] = []): Promise<StagingPlan> {
  const resolution = new Resolver({ sysroot: root, isaLevel: 1 }).resolve(program);
  return planSysroot({ resolution, sysroot: root, programImagePath: '/server', programHostPath: program, dirs, files, addonResolve: { isaLevel: 1 } });
}

describe.skipIf(!CAN_BUILD_ADDON)('planSysroot with a native addon', () => {
  const root = addonRoot('root');
  const program = lab.exe('server-build/server', { source: '#include <dlfcn.h>\nint main(void) { return dlopen("x", RTLD_NOW) == 0; }\n' });

  it('adds the libraries an addon needs', async () => {
    const project = addonProject('project');
    const plan = await planWithProject(root, program, [{ from: project, to: '/app' }]);

    const libz = plan.records.find((record) => record.path === '/lib/x86_64-linux-gnu/libz.so.1');
    expect(libz?.role).toBe('addon-dependency');
    expect(libz?.reason).toContain('addon dependency: /app/build/addon.node → libz.so.1');
    expect(libz?.sha256).toBe(sha256File(`${root}/usr/lib/x86_64-linux-gnu/libz.so.1`));

    const libstdcxx = plan.records.find((record) => record.path === '/lib/x86_64-linux-gnu/libstdc++.so.6');
    expect(libstdcxx?.reason).toContain('/app/build/addon.node → libstdc++.so.6');
  });

  it('finds a vendored library through $ORIGIN inside /app', async () => {
    const project = addonProject('project-origin');
    const plan = await planWithProject(root, program, [{ from: project, to: '/app' }]);

    const addon = plan.addons.find((entry) => entry.path === '/app/build/addon.node');
    expect(addon?.libraries).toContainEqual({ name: 'libfoo.so', path: '/app/build/../vendor/lib/libfoo.so' });

    const libfoo = plan.records.find((record) => record.path === '/app/vendor/lib/libfoo.so');
    expect(libfoo?.source).toBe(`${project}/vendor/lib/libfoo.so`);
    expect(libfoo?.role).toBe('addon-dependency');
    expect(libfoo?.reason).toContain('found by DT_RUNPATH of /app/build/addon.node');
    expect(plan.records.filter((record) => record.path.endsWith('libfoo.so'))).toHaveLength(1);
  });

  it('keeps the packed files of the project', async () => {
    const project = addonProject('project-files');
    const plan = await planWithProject(root, program, [{ from: project, to: '/app' }]);

    expect(plan.records.find((record) => record.path === '/app/index.js')?.role).toBe('packed');
    expect(plan.records.find((record) => record.path === '/app/build/addon.node')?.source).toBe(`${project}/build/addon.node`);
  });

  it('fails when a vendored library is missing', async () => {
    const project = addonProject('project-missing');
    fs.rmSync(path.join(project, 'vendor/lib/libfoo.so'));
    const error = await planError(planWithProject(root, program, [{ from: project, to: '/app' }]));

    expect(error.code).toBe('addon-dependency-missing');
    expect(error.message).toContain('The packed shared object /app/build/addon.node needs libfoo.so: not found');
    expect(error.message).toContain('DT_RUNPATH of /app/build/addon.node: /app/build/../vendor/lib');
  });

  it('fails when the root lacks a library', async () => {
    const rootWithoutZlib = debianRoot(lab, 'root-without-zlib', CXX_RUNTIME);
    const project = addonProject('project-no-zlib');
    const error = await planError(planWithProject(rootWithoutZlib, program, [{ from: project, to: '/app' }]));

    expect(error.code).toBe('addon-dependency-missing');
    expect(error.message).toContain('/app/build/addon.node needs libz.so.1');
    expect(error.message).toContain('system folders: /lib/x86_64-linux-gnu');
  });

  it('scans files given one by one', async () => {
    const project = addonProject('project-single');
    const files = [
      { from: path.join(project, 'build/addon.node'), to: '/opt/addon.node' },
      { from: path.join(project, 'vendor/lib/libfoo.so'), to: '/opt/libfoo.so' },
    ];
    // RUNPATH $ORIGIN/../vendor/lib points at /vendor/lib, so libfoo is not found there.
    const error = await planError(planWithProject(root, program, [], files));

    expect(error.message).toContain('/opt/addon.node needs libfoo.so');
  });

  it('skips objects for another C library', async () => {
    const project = lab.path('project-musl');
    const fakeMuslLibc = lab.lib('musl-build/libc.musl-x86_64.so.1', 'libc.musl-x86_64.so.1');
    lab.lib('project-musl/prebuilds/linux-x64-musl/addon.node', undefined, { needs: [fakeMuslLibc] });
    lab.write('project-musl/prebuilds/readme.node', 'not an ELF file');
    const plan = await planWithProject(root, program, [{ from: project, to: '/app' }]);

    expect(plan.addons).toEqual([]);
    expect(plan.warnings.join('\n')).toContain('Skipped 1 packed shared objects that a x86_64 glibc program cannot load: /app/prebuilds/linux-x64-musl/addon.node (built for musl)');
  });

  it('resolves a packed program with the same mounts', async () => {
    // The program itself sits in the project and finds libfoo through $ORIGIN/lib.
    const project = lab.path('project-program');
    const libfoo = lab.lib('project-program/lib/libfoo.so', 'libfoo.so', { source: LIBFOO_SOURCE });
    const packedProgram = lab.exe('project-program/bin/server', { needs: [libfoo], flags: [`${RUNPATH}$ORIGIN/../lib`] });
    const dirs = [{ from: project, to: '/app' }];
    const mounts = packedMounts([], dirs);
    const resolution = new Resolver({ sysroot: root, isaLevel: 1, mounts }).resolve(packedProgram);

    expect(resolution.program.realPath).toBe('/app/bin/server');
    const plan = await planSysroot({ resolution, resolutionMounts: mounts, sysroot: root, programImagePath: '/app/bin/server', programHostPath: packedProgram, dirs });
    expect(plan.records.find((record) => record.path === '/app/lib/libfoo.so')).toMatchObject({ role: 'library', source: libfoo });
    expect(plan.records.find((record) => record.path === '/app/bin/server')?.role).toBe('program');
    expect(plan.warnings).toEqual([]);
  });
});

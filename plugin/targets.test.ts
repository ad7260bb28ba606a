import { describe, expect, it } from 'vitest';

import { normalizePluginOptions } from './options';
import { createUnikernelTargets, imageBaseName, type ProjectFacts } from './targets';

const facts: ProjectFacts = {
  projectRoot: 'apps/api',
  configFile: 'unikernel.json',
  format: 'unikernel',
  ports: ['8080'],
  nxMajor: 24,
};

describe('createUnikernelTargets', () => {
  it('adds sysroot, image and serve targets', () => {
    const targets = createUnikernelTargets(normalizePluginOptions({}), facts);
    expect(Object.keys(targets)).toEqual(['unikernel-sysroot', 'unikernel', 'unikernel-serve']);
  });

  it('caches the image with its inputs and outputs', () => {
    const image = createUnikernelTargets(normalizePluginOptions({}), facts)['unikernel']!;
    expect(image.cache).toBe(true);
    expect(image.dependsOn).toEqual(['build', 'unikernel-sysroot']);
    expect(image.inputs).toContain('{projectRoot}/unikernel.json');
    expect(image.inputs).toContainEqual({ dependentTasksOutputFiles: '**/*.sysroot.json' });
    expect(image.inputs).toContainEqual({ externalDependencies: ['nx-unikernel'] });
    expect(image.outputs).toEqual(['{projectRoot}/dist/unikernel/api.img', '{projectRoot}/dist/unikernel/api.img.manifest.json']);
  });

  it('never caches the sysroot listing', () => {
    const sysroot = createUnikernelTargets(normalizePluginOptions({}), facts)['unikernel-sysroot']!;
    expect(sysroot.cache).toBe(false);
    expect(sysroot.dependsOn).toEqual(['build']);
    expect(sysroot.outputs).toEqual(['{projectRoot}/dist/unikernel/api.sysroot.json']);
  });

  it('makes serve continuous and uncached', () => {
    const serve = createUnikernelTargets(normalizePluginOptions({}), facts)['unikernel-serve']!;
    expect(serve.continuous).toBe(true);
    expect(serve.cache).toBe(false);
    expect(serve.dependsOn).toEqual(['unikernel']);
    expect(serve.readyWhen).toEqual({ signal: true });
    expect(serve.metadata?.description).toContain('8080');
  });

  it('omits readyWhen before Nx 24', () => {
    const serve = createUnikernelTargets(normalizePluginOptions({}), { ...facts, nxMajor: 23 })['unikernel-serve']!;
    expect(serve.readyWhen).toBeUndefined();
  });

  it('depends on build in any case', () => {
    const targets = createUnikernelTargets(normalizePluginOptions({}), facts);
    // Nx skips the entry when the project has no build target, and finds one another plugin infers.
    expect(targets['unikernel']!.dependsOn).toEqual(['build', 'unikernel-sysroot']);
    expect(targets['unikernel-sysroot']!.dependsOn).toEqual(['build']);
  });

  it('uses configured names and folder', () => {
    const options = normalizePluginOptions({ imageTargetName: 'image', serveTargetName: 'vm', sysrootTargetName: 'files', buildTargetName: 'compile', outputDir: 'out/img/' });
    const targets = createUnikernelTargets(options, facts);
    expect(Object.keys(targets)).toEqual(['files', 'image', 'vm']);
    expect(targets['image']!.dependsOn).toEqual(['compile', 'files']);
    expect(targets['vm']!.dependsOn).toEqual(['image']);
    expect(targets['image']!.outputs).toContain('{projectRoot}/out/img/api.img');
  });

  it('passes ops to the executors', () => {
    const targets = createUnikernelTargets(normalizePluginOptions({ ops: true }), { ...facts, configFile: 'config.json', format: 'ops' });
    expect(targets['unikernel']!.options).toEqual({ config: '{projectRoot}/config.json', ops: true, outputPath: '{projectRoot}/dist/unikernel/api.img' });
  });

  it('gives every target metadata', () => {
    for (const target of Object.values(createUnikernelTargets(normalizePluginOptions({}), facts))) {
      expect(target.metadata?.technologies).toEqual(['nanos', 'qemu']);
      expect(target.metadata?.description).toBeTruthy();
      expect(target.metadata?.help?.example).toBeTruthy();
    }
  });

  it('writes forward slashes only', () => {
    const text = JSON.stringify(createUnikernelTargets(normalizePluginOptions({}), facts));
    expect(text).not.toContain('\\\\');
  });
});

describe('imageBaseName', () => {
  it('uses the last folder', () => {
    expect(imageBaseName('apps/api')).toBe('api');
  });

  it('names the root project app', () => {
    expect(imageBaseName('.')).toBe('app');
  });

  it('replaces unsafe characters', () => {
    expect(imageBaseName('apps/a b')).toBe('a_b');
  });
});

describe('normalizePluginOptions', () => {
  it('rejects duplicate target names', () => {
    expect(() => normalizePluginOptions({ imageTargetName: 'x', serveTargetName: 'x' })).toThrow(/different values/);
  });

  it('rejects an empty target name', () => {
    expect(() => normalizePluginOptions({ imageTargetName: '' })).toThrow(/non-empty string/);
  });

  it('rejects an outputDir outside the project', () => {
    expect(() => normalizePluginOptions({ outputDir: '../dist' })).toThrow(/inside the project folder/);
  });
});

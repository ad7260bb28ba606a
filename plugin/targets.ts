// Target inference as a pure function: from the plugin options and what
// createNodes found in a project folder to the targets Nx adds to it.

import type { TargetConfiguration } from '@nx/devkit';

import type { NormalizedPluginOptions } from './options';

/** Facts about one project that createNodes reads from disk. */
export interface ProjectFacts {
  /** Project root relative to the workspace root, with forward slashes; `.` for the root project. */
  projectRoot: string;
  /** Configuration file name inside the project root, e.g. `unikernel.json`. */
  configFile: string;
  /** `unikernel` for unikernel.json, `ops` for an OPS config.json. */
  format: 'unikernel' | 'ops';
  /** Guest ports forwarded by the config, as written, for the serve target's description. */
  ports: string[];
  /** Major version of the installed Nx; `readyWhen` exists from 24 on. */
  nxMajor: number;
}

/** Image, manifest and sysroot listing paths for a project, with `{projectRoot}` tokens and forward slashes. */
export interface ImagePaths {
  image: string;
  manifest: string;
  sysrootListing: string;
}

/** Returns the `{projectRoot}`-relative output paths, named after the project folder. */
export function imagePaths(projectRoot: string, outputDir: string): ImagePaths {
  const name = imageBaseName(projectRoot);
  const folder = `{projectRoot}/${outputDir}`;
  return {
    image: `${folder}/${name}.img`,
    manifest: `${folder}/${name}.img.manifest.json`,
    sysrootListing: `${folder}/${name}.sysroot.json`,
  };
}

/** File-name-safe base name of the image: the last folder of the project root, or `app` for the workspace root. */
export function imageBaseName(projectRoot: string): string {
  const last = projectRoot.split('/').filter((part) => part !== '' && part !== '.').pop();
  return (last ?? 'app').replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Builds the sysroot, image and serve targets of one project. */
export function createUnikernelTargets(options: NormalizedPluginOptions, facts: ProjectFacts): Record<string, TargetConfiguration> {
  const paths = imagePaths(facts.projectRoot, options.outputDir);
  const configInput = `{projectRoot}/${facts.configFile}`;
  const configOptions = facts.format === 'ops' ? { config: configInput, ops: true } : { config: configInput };
  const technologies = ['nanos', 'qemu'];

  const sysroot: TargetConfiguration = {
    executor: 'nx-unikernel:sysroot',
    options: { ...configOptions, outputPath: paths.image },
    // Never cached: it must read the target root on every run, because
    // library files outside the workspace are invisible to Nx's file hashing.
    cache: false,
    // Nx skips a dependsOn entry naming a target the project lacks
    // (processTasksForSingleProject checks projectHasTarget), so this also
    // waits for a build target that another plugin infers.
    dependsOn: [options.buildTargetName],
    outputs: [paths.sysrootListing],
    metadata: {
      technologies,
      description: 'List every file that goes into the image (program, libraries from the target root, packed files, kernel) with its SHA-256, so the image target rebuilds when any of them changes.',
      help: {
        command: 'npx nx-unikernel ldd --help',
        example: { options: { config: configInput } },
      },
    },
  };

  const image: TargetConfiguration = {
    executor: 'nx-unikernel:image',
    options: { ...configOptions, outputPath: paths.image },
    cache: true,
    dependsOn: [options.buildTargetName, options.sysrootTargetName],
    inputs: [
      configInput,
      { dependentTasksOutputFiles: '**/*.sysroot.json' },
      { externalDependencies: ['nx-unikernel'] },
      { env: 'NX_UNIKERNEL_NANOS_DIR' },
    ],
    outputs: [paths.image, paths.manifest],
    metadata: {
      technologies,
      description: `Build the Nanos image ${paths.image} and its manifest from ${facts.configFile}.`,
      help: {
        command: 'npx nx-unikernel build --help',
        example: { options: { outputPath: paths.image, memory: '512M', args: ['--port', '8080'] } },
      },
    },
  };

  const forwarded = facts.ports.length > 0 ? ` and forward ports ${facts.ports.join(', ')} to 127.0.0.1` : '';
  const serve: TargetConfiguration = {
    executor: 'nx-unikernel:run',
    options: { ...configOptions, image: paths.image },
    continuous: true,
    cache: false,
    dependsOn: [options.imageTargetName],
    metadata: {
      technologies,
      description: `Boot the image in QEMU${forwarded}; runs until stopped.`,
      help: {
        command: 'npx nx-unikernel run --help',
        example: { options: { readyPath: '/health', readyTimeout: 60 } },
      },
    },
  };
  if (facts.nxMajor >= 24) serve.readyWhen = { signal: true };

  return {
    [options.sysrootTargetName]: sysroot,
    [options.imageTargetName]: image,
    [options.serveTargetName]: serve,
  };
}

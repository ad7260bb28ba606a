// Maps a decoded OPS config.json onto unikernel.json options. Field meanings
// follow nanovms/ops: ops:lepton/image.go (BuildManifest,
// setManifestFromConfig), ops:cmd/flags_build_image.go, ops:fs/mkfs.go and
// ops:qemu/qemu_components.go.
//
// How OPS quirks map:
// - Args: ops puts the Program string as typed (`./app`) in front of Args as
//   argv[0]. Args maps to `args`, the arguments after argv[0]; the image
//   builder chooses argv[0].
// - Files, Dirs and a relative Program: ops reads them relative to the folder
//   it runs in, and even reads absolute Files entries below that folder.
//   Here relative entries are read from the config file's folder (the same
//   when ops runs there), and absolute ones from TargetRoot or the host root,
//   with a warning.
// - RunConfig.Ports "A-B": ops forwards host port A to guest port B; it is
//   not a range in the config file.
// - NanosVersion and RunConfig.Accel: `ops run` overrides both from its own
//   flags and ~/.ops/latest.txt. NanosVersion is honoured here; Accel only
//   produces a warning when false.
// - Fixed environment entries that ops adds to every image (USER, PWD,
//   OPS_VERSION, NANOS_VERSION, NANOS_ARCH) are left to the image builder.

import { isIP } from 'node:net';
import * as path from 'node:path';

import { MAX_CPUS } from '../qemu/command';
import { type ConfigIssue, formatKeyPath, formatValue } from './errors';
import { type DecodedStruct, type GoType, isZeroValue, OPS_CONFIG } from './ops-fields';
import type { ManifestValue, UnikernelConfig } from './schema';

export interface OpsMapping {
  /** The options in unikernel.json form; paths are still relative to the config folder. */
  readonly config: UnikernelConfig;
  /** OPS key path of each option, keyed by the option's formatted key path, for error messages. */
  readonly origins: ReadonlyMap<string, string>;
  readonly warnings: string[];
  readonly issues: ConfigIssue[];
}

/** OPS fields that map to options; every other field set to a non-zero value is listed as ignored. */
const MAPPED_FIELDS = new Set([
  'Args',
  'Env',
  'Files',
  'Dirs',
  'MapDirs',
  'Klibs',
  'KlibDir',
  'BaseVolumeSz',
  'NanosVersion',
  'TargetRoot',
  'Program',
  'ManifestPassthrough',
  'Debugflags',
  'NoTrace',
  'RebootOnExit',
  'Kernel',
  'Boot',
  'RunConfig.Ports',
  'RunConfig.UDPPorts',
  'RunConfig.Memory',
  'RunConfig.CPUs',
  'RunConfig.Accel',
  'RunConfig.IPAddress',
  'RunConfig.IPv6Address',
  'RunConfig.NetMask',
  'RunConfig.Gateway',
  'CloudConfig.ImageName',
]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Maps the decoded fields of `file`; the result still has to pass the UnikernelConfig schema. */
export function mapOpsConfig(ops: DecodedStruct, file: string): OpsMapping {
  const run = (ops['RunConfig'] ?? {}) as DecodedStruct;
  const cloud = (ops['CloudConfig'] ?? {}) as DecodedStruct;
  const config: Mutable<UnikernelConfig> = {};
  const origins = new Map<string, string>();
  const warnings: string[] = [];
  const issues: ConfigIssue[] = [];
  const setOrigin = (keyPath: readonly PropertyKey[], opsPath: string): void => {
    origins.set(formatKeyPath(keyPath), opsPath);
  };

  const targetRoot = stringField(ops, 'TargetRoot');
  if (targetRoot) {
    config.sysroot = targetRoot;
    setOrigin(['sysroot'], 'TargetRoot');
  }

  const program = stringField(ops, 'Program');
  if (program) {
    config.program = program;
    setOrigin(['program'], 'Program');
  }

  const args = ops['Args'] as string[] | undefined;
  if (args?.length) {
    config.args = args;
    setOrigin(['args'], 'Args');
  }

  mapFiles(ops, targetRoot, config, setOrigin, warnings);
  mapDirectories(ops, targetRoot, config, setOrigin);
  mapKernelFiles(ops, config, setOrigin, warnings);

  const klibs = new Set((ops['Klibs'] as string[] | undefined) ?? []);
  const klibDir = stringField(ops, 'KlibDir');
  if (klibDir) {
    config.klibDir = klibDir;
    setOrigin(['klibDir'], 'KlibDir');
  }

  const baseVolumeSize = stringField(ops, 'BaseVolumeSz');
  if (baseVolumeSize) {
    const size = convertOpsImageSize(baseVolumeSize);
    if (size === undefined) {
      issues.push({
        path: 'BaseVolumeSz',
        message: `${formatValue(baseVolumeSize)} is not an OPS size. Expected whole digits with an optional unit k, m or g (powers of 1024), as ops reads it. Example: "64m".`,
      });
    } else if (size !== '0B') {
      config.imageSize = size;
      setOrigin(['imageSize'], 'BaseVolumeSz');
    }
  }

  const nanosVersion = stringField(ops, 'NanosVersion');
  if (nanosVersion === '0.0') {
    warnings.push(`NanosVersion "0.0" asks ops for the latest release; nx-unikernel uses its pinned release instead.`);
  } else if (nanosVersion) {
    config.nanosVersion = nanosVersion;
    setOrigin(['nanosVersion'], 'NanosVersion');
  }

  const env = mapEnvironment(ops, run, cloud, klibs, setOrigin);
  if (Object.keys(env).length > 0) {
    config.env = env;
  }

  const ports = mapPorts(run, setOrigin, issues);
  if (ports.length > 0) {
    config.ports = ports;
  }

  const memory = stringField(run, 'Memory');
  if (memory) {
    const converted = convertQemuMemory(memory);
    if (converted === undefined) {
      issues.push({
        path: 'RunConfig.Memory',
        message: `${formatValue(memory)} is not a QEMU memory size. Expected a number of MiB, or a number with a unit K, M, G or T. Example: "2G".`,
      });
    } else {
      config.memory = converted;
      setOrigin(['memory'], 'RunConfig.Memory');
    }
  }

  const cpus = run['CPUs'] as number | undefined;
  // 0 is Go's zero value, which OPS reads as "not set"; a negative count has no meaning.
  if (cpus !== undefined && cpus < 0) {
    issues.push({ path: 'RunConfig.CPUs', message: `${cpus} is invalid. Expected 0 (the default, 1 CPU) or a whole number from 1 to ${MAX_CPUS}. Example: 2.` });
  }
  if (cpus !== undefined && cpus > 0) {
    config.cpus = cpus;
    setOrigin(['cpus'], 'RunConfig.CPUs');
  }

  if (run['Accel'] === false) {
    warnings.push(`RunConfig.Accel is false, but ops run takes acceleration from its -d flag instead; set "accelerator": "tcg" in unikernel.json to force emulation.`);
  }

  const manifest = mapManifest(ops, run, klibs, setOrigin, warnings);
  if (Object.keys(manifest).length > 0) {
    config.manifest = manifest;
  }

  if (klibs.size > 0) {
    config.klibs = [...klibs];
    setOrigin(['klibs'], 'Klibs');
  }

  const ignored = listIgnoredFields(ops);
  if (ignored.length > 0) {
    warnings.push(`ignored OPS fields with no nx-unikernel equivalent: ${ignored.join(', ')}.`);
  }

  return { config, origins, warnings: warnings.map((warning) => `${file}: ${warning}`), issues };
}

function stringField(struct: DecodedStruct, field: string): string | undefined {
  const value = struct[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

type SetOrigin = (keyPath: readonly PropertyKey[], opsPath: string) => void;

function mapFiles(ops: DecodedStruct, targetRoot: string | undefined, config: Mutable<UnikernelConfig>, setOrigin: SetOrigin, warnings: string[]): void {
  const files = (ops['Files'] as string[] | undefined) ?? [];
  if (files.length === 0) {
    return;
  }

  const absoluteEntries = files.filter((entry) => path.isAbsolute(entry));
  config.files = files.map((entry, index) => {
    setOrigin(['files', index], `Files[${index}]`);
    return path.isAbsolute(entry) && targetRoot ? { from: path.join(targetRoot, entry), to: entry } : entry;
  });

  if (absoluteEntries.length > 0) {
    const readFrom = targetRoot ? `inside TargetRoot ${targetRoot}` : 'at the same host path';
    const entries = absoluteEntries.map((entry) => JSON.stringify(entry)).join(', ');
    warnings.push(`Files ${entries}: ops reads absolute entries below the folder it runs in; nx-unikernel reads them ${readFrom}.`);
  }
}

/** Dirs keep their strings; MapDirs keys that are absolute are read inside TargetRoot, as ops does. */
function mapDirectories(ops: DecodedStruct, targetRoot: string | undefined, config: Mutable<UnikernelConfig>, setOrigin: SetOrigin): void {
  const dirs = (ops['Dirs'] as string[] | undefined) ?? [];
  if (dirs.length > 0) {
    config.dirs = dirs;
    dirs.forEach((_, index) => setOrigin(['dirs', index], `Dirs[${index}]`));
  }

  const mapDirs = (ops['MapDirs'] as Record<string, string> | undefined) ?? {};
  const mapped: Record<string, string> = {};
  for (const [key, imageDir] of Object.entries(mapDirs)) {
    const hostKey = path.isAbsolute(key) && targetRoot ? path.join(targetRoot, key) : key;
    mapped[hostKey] = imageDir;
    setOrigin(['mapDirs', hostKey], `MapDirs[${JSON.stringify(key)}]`);
  }
  if (Object.keys(mapped).length > 0) {
    config.mapDirs = mapped;
  }
}

/** Kernel and Boot map to kernelDir only when they are kernel.img and boot.img of one release folder. */
function mapKernelFiles(ops: DecodedStruct, config: Mutable<UnikernelConfig>, setOrigin: SetOrigin, warnings: string[]): void {
  const kernel = stringField(ops, 'Kernel');
  const boot = stringField(ops, 'Boot');
  if (!kernel && !boot) {
    return;
  }

  const folder = path.dirname(kernel ?? boot ?? '');
  const kernelFits = kernel === undefined || path.basename(kernel) === 'kernel.img';
  const bootFits = boot === undefined || path.normalize(boot) === path.join(folder, 'boot.img');
  if (kernelFits && bootFits) {
    config.kernelDir = folder;
    setOrigin(['kernelDir'], kernel ? 'Kernel' : 'Boot');
    return;
  }
  const fix = 'set kernelDir in unikernel.json to a Nanos release folder instead.';
  if (kernel === undefined || boot === undefined) {
    const [field, value, file] = kernel === undefined ? ['Boot', boot, 'boot.img'] : ['Kernel', kernel, 'kernel.img'];
    warnings.push(`${field} ${formatValue(value)} is not a file named ${file}, so it is ignored; ${fix}`);
    return;
  }
  warnings.push(`Kernel ${formatValue(kernel)} and Boot ${formatValue(boot)} are not kernel.img and boot.img of one folder, so they are ignored; ${fix}`);
}

/**
 * Env plus the entries ops derives: IMAGE_NAME from CloudConfig.ImageName
 * (Env wins), RADAR_IMAGE_NAME and the tls and radar klibs when Env has
 * RADAR_KEY, and OPS_PORT, which ops writes after Env.
 */
function mapEnvironment(ops: DecodedStruct, run: DecodedStruct, cloud: DecodedStruct, klibs: Set<string>, setOrigin: SetOrigin): Record<string, string> {
  const env: Record<string, string> = {};
  const imageName = stringField(cloud, 'ImageName');
  if (imageName) {
    env['IMAGE_NAME'] = imageName;
    setOrigin(['env', 'IMAGE_NAME'], 'CloudConfig.ImageName');
  }

  const opsEnv = (ops['Env'] as Record<string, string> | undefined) ?? {};
  for (const [name, value] of Object.entries(opsEnv)) {
    env[name] = value;
    setOrigin(['env', name], `Env.${name}`);
  }

  if ('RADAR_KEY' in opsEnv) {
    klibs.add('tls');
    klibs.add('radar');
    env['RADAR_IMAGE_NAME'] ??= imageName ?? '';
  }

  const ports = (run['Ports'] as string[] | undefined) ?? [];
  if (ports.length > 0) {
    env['OPS_PORT'] = ports.join(',');
    setOrigin(['env', 'OPS_PORT'], 'RunConfig.Ports');
  }
  return env;
}

/**
 * Converts RunConfig.Ports and UDPPorts. Each string may contain a comma
 * list, the form of the -p flag. "A-B" forwards host port A to guest port B,
 * because that is what ops:qemu/qemu_components.go writes into hostfwd.
 */
function mapPorts(run: DecodedStruct, setOrigin: SetOrigin, issues: ConfigIssue[]): string[] {
  const specs: string[] = [];
  const fields: Array<['Ports' | 'UDPPorts', 'tcp' | 'udp']> = [
    ['Ports', 'tcp'],
    ['UDPPorts', 'udp'],
  ];

  for (const [field, protocol] of fields) {
    const entries = (run[field] as string[] | undefined) ?? [];
    entries.forEach((entry, index) => {
      const opsPath = `RunConfig.${field}[${index}]`;
      for (const part of entry.split(',')) {
        const match = /^([0-9]+)(?:-([0-9]+))?$/.exec(part.trim());
        if (!match) {
          issues.push({
            path: opsPath,
            message: `${formatValue(entry)} is not an OPS port. Expected a port number or "HOST-GUEST", several separated by commas. Example: "8080" or "8081-80".`,
          });
          break;
        }
        const [, hostPort, guestPort] = match;
        setOrigin(['ports', specs.length], opsPath);
        specs.push(`${hostPort}:${guestPort ?? hostPort}/${protocol}`);
      }
    });
  }
  return specs;
}

/**
 * Root-tuple keys in the order ops writes them, so later ones win as in ops:
 * Debugflags and RebootOnExit as "t", NoTrace, the network keys, and last
 * ManifestPassthrough. A "firewall" key also loads the firewall klib.
 */
function mapManifest(
  ops: DecodedStruct,
  run: DecodedStruct,
  klibs: Set<string>,
  setOrigin: SetOrigin,
  warnings: string[],
): Record<string, ManifestValue> {
  const manifest: Record<string, ManifestValue> = {};
  const set = (key: string, value: ManifestValue, opsPath: string): void => {
    manifest[key] = value;
    setOrigin(['manifest', key], opsPath);
  };

  if (ops['RebootOnExit'] === true) {
    set('reboot_on_exit', 't', 'RebootOnExit');
  }
  ((ops['Debugflags'] as string[] | undefined) ?? []).forEach((flag, index) => set(flag, 't', `Debugflags[${index}]`));
  const noTrace = (ops['NoTrace'] as string[] | undefined) ?? [];
  if (noTrace.length > 0) {
    set('notrace', noTrace, 'NoTrace');
  }

  mapNetworkKeys(run, set, warnings);

  const passthrough = (ops['ManifestPassthrough'] as Record<string, unknown> | undefined) ?? {};
  for (const [key, value] of Object.entries(passthrough)) {
    set(key, value as ManifestValue, `ManifestPassthrough.${key}`);
  }
  if ('firewall' in passthrough) {
    klibs.add('firewall');
  }
  return manifest;
}

/**
 * With RunConfig.IPAddress or IPv6Address set, ops writes all four address
 * keys, empty ones included. An IPAddress, Gateway or NetMask that is not an
 * IP address is cleared first, as ops:cmd/flags_config.go does, and warned about.
 */
function mapNetworkKeys(run: DecodedStruct, set: (key: string, value: ManifestValue, opsPath: string) => void, warnings: string[]): void {
  const addresses: Record<string, string> = {};
  for (const field of ['IPAddress', 'Gateway', 'NetMask']) {
    const value = stringField(run, field) ?? '';
    if (value !== '' && isIP(value) === 0) {
      warnings.push(`RunConfig.${field} ${JSON.stringify(value)} is not an IP address; ops ignores it, and so does nx-unikernel.`);
      addresses[field] = '';
    } else {
      addresses[field] = value;
    }
  }
  const ipv6 = stringField(run, 'IPv6Address') ?? '';

  if (addresses['IPAddress'] === '' && ipv6 === '') {
    return;
  }
  set('ipaddr', addresses['IPAddress'] ?? '', 'RunConfig.IPAddress');
  set('netmask', addresses['NetMask'] ?? '', 'RunConfig.NetMask');
  set('gateway', addresses['Gateway'] ?? '', 'RunConfig.Gateway');
  set('ip6addr', ipv6, 'RunConfig.IPv6Address');
}

/** BaseVolumeSz as ops:fs/mkfs.go reads it: digits, then an optional k, m or g (any case). */
function convertOpsImageSize(text: string): string | undefined {
  const match = /^([0-9]+)([kKmMgG])?$/.exec(text);
  if (!match) {
    return undefined;
  }
  const [, digits, unit] = match;
  return Number(digits) === 0 ? '0B' : `${digits}${unit ?? 'B'}`;
}

const QEMU_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * RunConfig.Memory is passed to QEMU's -m, where a number without a unit
 * means MiB and a fraction such as "1.5G" is allowed. Returns a size string
 * in bytes, or undefined when QEMU would not accept it either.
 */
function convertQemuMemory(text: string): string | undefined {
  const match = /^([0-9]+(?:\.[0-9]+)?)([bBkKmMgGtT])?$/.exec(text);
  if (!match) {
    return undefined;
  }
  const [, number, unit] = match;
  const bytes = Number(number) * (QEMU_UNITS[(unit ?? 'm').toLowerCase()] ?? 1);
  return Number.isSafeInteger(bytes) && bytes > 0 ? `${bytes}B` : undefined;
}

/** Lists set fields that map to nothing, with their OPS paths, e.g. `RunConfig.GdbPort`. */
function listIgnoredFields(ops: DecodedStruct): string[] {
  const ignored: string[] = [];
  const visit = (struct: DecodedStruct, fields: Readonly<Record<string, GoType>>, prefix: string): void => {
    for (const [field, value] of Object.entries(struct)) {
      const fieldPath = prefix === '' ? field : `${prefix}.${field}`;
      const type = fields[field];
      if (type === undefined || MAPPED_FIELDS.has(fieldPath) || isZeroValue(value, type)) {
        continue;
      }
      const isMappedStruct = field === 'RunConfig' || field === 'CloudConfig';
      if (isMappedStruct && typeof type === 'object' && 'struct' in type) {
        visit(value as DecodedStruct, type.struct, fieldPath);
      } else {
        ignored.push(fieldPath);
      }
    }
  };
  visit(ops, OPS_CONFIG, '');
  return ignored;
}

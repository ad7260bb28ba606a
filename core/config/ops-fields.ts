// The fields of OPS's config.json with their Go types, from the Config,
// RunConfig, ProviderConfig, CloudVolume, Tag, TagAttribute and Nic structs
// in ops:types/config.go (nanovms/ops master, May 2026). OPS decodes the file
// with encoding/json and DisallowUnknownFields (ops:cmd/flags_config.go), so
// decodeOpsJson mirrors that decoder: keys match field names ignoring case,
// an unknown key is an error, and a value of the wrong JSON type is an error.

import { type ConfigIssue, formatValue } from './errors';

/** A Go field type, as far as JSON decoding can tell them apart. */
export type GoType =
  | 'string'
  | 'bool'
  | 'int'
  | 'string[]'
  | 'map[string]string'
  | 'map[string]any'
  | { readonly struct: GoStruct }
  | { readonly structArray: GoStruct };

/** Field name (the JSON key, which is the Go name unless a json tag renames it) to type. */
export type GoStruct = Readonly<Record<string, GoType>>;

const TAG_ATTRIBUTE: GoStruct = {
  image_label: 'bool',
  instance_label: 'bool',
  instance_network: 'bool',
  instance_metadata: 'bool',
};

const TAG: GoStruct = { key: 'string', value: 'string', attribute: { struct: TAG_ATTRIBUTE } };

const CLOUD_VOLUME: GoStruct = { name: 'string', iops: 'int', size: 'int', throughput: 'int', typeof: 'string' };

const PROVIDER_CONFIG: GoStruct = {
  BucketName: 'string',
  BucketNamespace: 'string',
  ConfidentialVM: 'bool',
  DedicatedHostID: 'string',
  DomainName: 'string',
  StaticIP: 'string',
  EnableIPv6: 'bool',
  Flavor: 'string',
  ImageType: 'string',
  ImageName: 'string',
  InstanceProfile: 'string',
  KMS: 'string',
  Platform: 'string',
  ProjectID: 'string',
  RootVolume: { struct: CLOUD_VOLUME },
  SecurityGroup: 'string',
  SkipImportVerify: 'bool',
  Spot: 'bool',
  Subnet: 'string',
  Tags: { structArray: TAG },
  UserData: 'string',
  VPC: 'string',
  Zone: 'string',
};

const NIC: GoStruct = { IPAddress: 'string', IPv6Address: 'string', NetMask: 'string', Gateway: 'string', BridgeName: 'string' };

// RunConfig.VirtfsShares carries json:"-", so OPS rejects it like any unknown key.
const RUN_CONFIG: GoStruct = {
  Accel: 'bool',
  AtExit: 'string',
  Bridged: 'bool',
  BridgeIPAddress: 'string',
  BridgeName: 'string',
  CanIPForward: 'bool',
  CPUs: 'int',
  GPUs: 'int',
  GPUType: 'string',
  Debug: 'bool',
  Gateway: 'string',
  GdbPort: 'int',
  ImageName: 'string',
  InstanceGroup: 'string',
  InstanceName: 'string',
  IPAddress: 'string',
  IPv6Address: 'string',
  Kernel: 'string',
  Memory: 'string',
  Mgmt: 'string',
  Vga: 'bool',
  Mounts: 'string[]',
  AttachVolumeOnInstanceCreate: 'bool',
  NetMask: 'string',
  Nics: { structArray: NIC },
  Background: 'bool',
  BackgroundDetach: 'bool',
  Ports: 'string[]',
  QMP: 'bool',
  ShowDebug: 'bool',
  ShowErrors: 'bool',
  ShowWarnings: 'bool',
  JSON: 'bool',
  TapName: 'string',
  UDPPorts: 'string[]',
  Verbose: 'bool',
  VolumeSizeInGb: 'int',
  ThreadsPerCore: 'int',
};

export const OPS_CONFIG: GoStruct = {
  Args: 'string[]',
  DisableArgsCopy: 'bool',
  BaseVolumeSz: 'string',
  Boot: 'string',
  UefiBoot: 'string',
  Uefi: 'bool',
  BuildDir: 'string',
  CloudConfig: { struct: PROVIDER_CONFIG },
  TargetConfig: 'map[string]string',
  Debugflags: 'string[]',
  Dirs: 'string[]',
  Env: 'map[string]string',
  Files: 'string[]',
  Force: 'bool',
  home: 'string',
  Kernel: 'string',
  KlibDir: 'string',
  Klibs: 'string[]',
  MapDirs: 'map[string]string',
  Mounts: 'map[string]string',
  NameServers: 'string[]',
  NanosVersion: 'string',
  NightlyBuild: 'bool',
  NoTrace: 'string[]',
  ManifestPassthrough: 'map[string]any',
  Program: 'string',
  ProgramPath: 'string',
  RebootOnExit: 'bool',
  RunConfig: { struct: RUN_CONFIG },
  LocalFilesParentDirectory: 'string',
  TargetRoot: 'string',
  TFSv4: 'bool',
  Version: 'string',
  Language: 'string',
  Description: 'string',
  VolumesDir: 'string',
  PackageBaseURL: 'string',
  PackageManifestURL: 'string',
};

/** A decoded JSON object with every key renamed to its Go field name; nested structs are decoded too. */
export type DecodedStruct = Record<string, unknown>;

/**
 * Decodes `value` as encoding/json would decode it into `struct`. Returns the
 * object with canonical field names and every problem found, with OPS key
 * paths such as `RunConfig.Ports[1]`.
 */
export function decodeOpsJson(value: unknown, struct: GoStruct, keyPath = ''): { decoded: DecodedStruct; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const decoded = decodeStruct(value, struct, keyPath, issues);
  return { decoded, issues };
}

function decodeStruct(value: unknown, struct: GoStruct, keyPath: string, issues: ConfigIssue[]): DecodedStruct {
  const decoded: DecodedStruct = {};
  if (value === null) {
    return decoded;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.push({ path: keyPath, message: `${formatValue(value)} is not a JSON object. Expected an object of OPS fields.` });
    return decoded;
  }

  const fieldNames = Object.keys(struct);
  for (const [key, fieldValue] of Object.entries(value)) {
    const field = matchField(key, fieldNames);
    const fieldPath = keyPath === '' ? (field ?? key) : `${keyPath}.${field ?? key}`;
    const type = field === undefined ? undefined : struct[field];
    if (field === undefined || type === undefined) {
      issues.push({
        path: fieldPath,
        message: `unknown OPS field; ops rejects it too. Known fields here: ${fieldNames.join(', ')}.`,
      });
      continue;
    }

    // Like encoding/json, a later key that matches the same field replaces the earlier value.
    decoded[field] = decodeValue(fieldValue, type, fieldPath, issues);
  }
  return decoded;
}

/**
 * encoding/json prefers an exact key match and otherwise accepts a match that
 * ignores case. NOTE: Go also folds the Kelvin sign and the long s to k and s;
 * this ASCII comparison does not.
 */
function matchField(key: string, fieldNames: readonly string[]): string | undefined {
  if (fieldNames.includes(key)) {
    return key;
  }
  const lowerKey = key.toLowerCase();
  return fieldNames.find((name) => name.toLowerCase() === lowerKey);
}

const GO_TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  bool: 'true or false',
  int: 'a whole number',
  'string[]': 'an array of strings',
  'map[string]string': 'an object of string values',
  'map[string]any': 'an object',
};

function decodeValue(value: unknown, type: GoType, keyPath: string, issues: ConfigIssue[]): unknown {
  // A JSON null leaves the Go field at its zero value.
  if (value === null) {
    return undefined;
  }

  if (typeof type === 'object') {
    if ('struct' in type) {
      return decodeStruct(value, type.struct, keyPath, issues);
    }
    if (!Array.isArray(value)) {
      issues.push({ path: keyPath, message: `${formatValue(value)} is not an array. Expected an array of objects.` });
      return undefined;
    }
    return value.map((element, index) => decodeStruct(element, type.structArray, `${keyPath}[${index}]`, issues));
  }

  const mismatch = (): undefined => {
    issues.push({ path: keyPath, message: `${formatValue(value)} has the wrong JSON type. Expected ${GO_TYPE_NAMES[type] ?? type}.` });
    return undefined;
  };

  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : mismatch();
    case 'bool':
      return typeof value === 'boolean' ? value : mismatch();
    case 'int':
      return Number.isInteger(value) ? value : mismatch();
    case 'string[]':
      return Array.isArray(value) && value.every(isStringOrNull) ? value.map((element) => element ?? '') : mismatch();
    case 'map[string]string':
      return isPlainObject(value) && Object.values(value).every(isStringOrNull) ? mapValues(value, (element) => element ?? '') : mismatch();
    case 'map[string]any':
      return isPlainObject(value) ? value : mismatch();
  }
}

/** Go decodes a null element of a string array or map as the empty string. */
function isStringOrNull(value: unknown): value is string | null {
  return typeof value === 'string' || value === null;
}

function mapValues<T, U>(record: Record<string, T>, convert: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, convert(value)]));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Tells whether a decoded field has its Go zero value, which OPS cannot
 * tell apart from an absent field. A struct is zero when all its fields are.
 */
export function isZeroValue(value: unknown, type: GoType): boolean {
  if (value === undefined || value === '' || value === false || value === 0) {
    return true;
  }
  if (typeof type === 'object' && 'struct' in type && isPlainObject(value)) {
    return Object.entries(value).every(([field, fieldValue]) => {
      const fieldType = type.struct[field];
      return fieldType !== undefined && isZeroValue(fieldValue, fieldType);
    });
  }
  if (Array.isArray(value)) {
    return value.length === 0;
  }
  return isPlainObject(value) && Object.keys(value).length === 0;
}

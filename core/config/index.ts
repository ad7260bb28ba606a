// Public API of the configuration module.

export { ConfigError, ConfigFileError, type ConfigIssue } from './errors';
export { DEFAULT_BIND_ADDRESS, DEFAULT_CPUS, DEFAULT_FREE_SPACE, DEFAULT_MEMORY, DEFAULT_READINESS_TIMEOUT_SECONDS } from './field-docs';
export { parseJsonText } from './json-text';
export { loadProjectConfig, OPS_CONFIG_FILE, UNIKERNEL_CONFIG_FILE, type LoadedProjectConfig, type LoadProjectConfigOptions } from './load';
export { readOpsConfig, type OpsConfigResult } from './ops-config';
export { parseUnikernelConfig, type ParseConfigOptions } from './parse';
export type { Accelerator, ImageCopy, ImageSizing, MappedDir, ResolvedUnikernelConfig } from './resolved-config';
export { RESERVED_MANIFEST_KEYS, UnikernelConfig, unikernelJsonSchema, type ManifestValue } from './schema';
export { formatPortForward, mergeNamedPortForwards, parsePortSpec, PORT_SPEC_FORMS, type NamedPortForward, type PortForward, type PortProtocol } from './port-spec';
export { parseSize } from './units';

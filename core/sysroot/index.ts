// Staging of an image's files: the plan (image path → source, with reasons)
// built from a resolution and the user's configured files, and its JSON manifest.

export { planSysroot, planSysrootDeferred, type DeferredStagingPlan } from './plan';
export { packedMounts } from './packed-files';
export { resolvePackedSharedObjects, type AddonResolution, type AddonScanInput, type PackedFile } from './addons';
export { buildManifest, readManifestJson, writeManifestJson, MANIFEST_SCHEMA_VERSION, type ManifestOptions, type SysrootManifest } from './manifest-json';
export { SysrootPlanError, type SysrootPlanErrorCode } from './errors';
export { FileDigests, digestRecordSchema, type DigestRecord, type FileDigest, type UnhashedFile } from './file-digest';
export type { AddonResolveOptions, ImageEntry, PackedPath, StagedFile, StagedRole, StagingPlan, SysrootPlanInput } from './types';

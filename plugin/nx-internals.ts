// The one place that reads an unstable Nx API (`@nx/devkit/internal`). Nx 23
// moved these helpers there from deep imports, so a future move breaks only
// this file, and each use has a fallback.

import * as path from 'node:path';

/**
 * Returns Nx's workspace data folder, where first-party plugins keep their
 * inference caches. Falls back to `NX_WORKSPACE_DATA_DIRECTORY` or
 * `.nx/workspace-data`, the Nx 24 default for a workspace with nx.json.
 */
export function workspaceDataDirectory(workspaceRoot: string): string {
  try {
    const internal = require('@nx/devkit/internal') as { workspaceDataDirectory?: unknown };
    if (typeof internal.workspaceDataDirectory === 'string' && process.env['NX_WORKSPACE_DATA_DIRECTORY'] === undefined) return internal.workspaceDataDirectory;
  } catch {
    // Fall through to the documented default below.
  }
  return process.env['NX_WORKSPACE_DATA_DIRECTORY'] ?? path.join(workspaceRoot, '.nx', 'workspace-data');
}

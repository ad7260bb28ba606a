// Symbol version requirements, checked after every object is loaded, as
// glibc's elf/dl-version.c does: each DT_VERNEED version must be defined
// (DT_VERDEF) by the loaded object that the needed file name matches.

import type { LoadSession } from './load-session';

export function checkVersionNeeds(session: LoadSession): void {
  for (const object of session.objects) {
    for (const need of object.elf.versionNeeds ?? []) {
      const provider = session.objects.find((candidate) => candidate.names.has(need.file) || candidate.soname === need.file);
      // A file that is not loaded was already reported as missing.
      if (!provider) continue;

      const defined = provider.elf.versionDefinitions;
      if (!defined || defined.length === 0) {
        session.diagnostics.push({
          level: 'warning',
          message: `${provider.displayPath}: no version information available (required by ${object.displayPath})`,
        });
        continue;
      }

      const definedSet = new Set(defined);
      for (const version of need.versions) {
        if (definedSet.has(version.name) || version.weak) continue;
        session.missing.push({
          name: need.file,
          chain: [object.displayPath],
          kind: 'version',
          reason: `version \`${version.name}' not found in ${provider.displayPath} (required by ${object.displayPath})`,
          searched: [],
          rejected: [],
          suggestions: [
            `use a root whose ${need.file} provides ${version.name} (the program was built against a newer library than the root has), or rebuild the program against this root`,
          ],
        });
      }
    }
  }
}

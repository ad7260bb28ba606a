// unikernel.schema.json is generated from the zod schema and committed, so
// editors and the Nx executor schema can point at it. This test fails when
// the file is stale; run it with UPDATE_SCHEMA=1 to rewrite the file.

import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { unikernelJsonSchema } from './schema';

const SCHEMA_FILE = path.join(__dirname, 'unikernel.schema.json');

describe('unikernel.schema.json', () => {
  const generated = `${JSON.stringify(unikernelJsonSchema(), null, 2)}\n`;

  if (process.env['UPDATE_SCHEMA'] === '1') {
    writeFileSync(SCHEMA_FILE, generated);
  }

  it('matches the zod schema', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');

    expect(committed, 'stale: run UPDATE_SCHEMA=1 npx vitest run core/config/schema-file.test.ts').toBe(generated);
  });

  it('rejects unknown keys and documents defaults', () => {
    const schema = unikernelJsonSchema() as { additionalProperties: unknown; properties: Record<string, { description?: string }> };

    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties['memory']?.description).toContain('Default "2G"');
    expect(schema.properties['freeSpace']?.description).toContain('Default "64M"');
  });
});

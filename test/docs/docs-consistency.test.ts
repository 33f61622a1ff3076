// The README and docs must stay true to the code: every environment variable a service reads is
// in the README's table, and every field of the resource model is in docs/farm-model.md.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ALL_ENV_SCHEMAS as SERVICE_ENV_SCHEMAS } from '@switchyard/config';
import { signalsEnvSchema } from '@switchyard/signals';
import { hardeningEnvSchema } from '@switchyard/api';

// Every environment schema in the system, the signal sources' included.
const ALL_ENV_SCHEMAS = {
  ...SERVICE_ENV_SCHEMAS,
  signals: signalsEnvSchema,
  apiHardening: hardeningEnvSchema,
};
import { RESOURCE_SCHEMAS } from '@switchyard/domain';

const readme = readFileSync('README.md', 'utf8');
const farmDoc = readFileSync('docs/farm-model.md', 'utf8');

/** Every dotted field path below `spec` in a resource's JSON Schema. */
function specFields(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', cycles: 'ref' }) as Record<
    string,
    unknown
  >;
  const defs = (json.$defs ?? {}) as Record<string, Record<string, unknown>>;
  const out = new Set<string>();
  const seenRefs = new Set<string>();
  const walk = (node: Record<string, unknown> | undefined, path: string, depth: number) => {
    if (!node || depth > 8) return;
    if (typeof node.$ref === 'string') {
      // A recursive type (the power tree) is documented once, at its first occurrence.
      if (seenRefs.has(node.$ref)) return;
      seenRefs.add(node.$ref);
      return walk(
        defs[node.$ref.split('/').pop() as string] ?? (node.$ref === '#' ? json : undefined),
        path,
        depth + 1,
      );
    }
    if (node.type === 'array' && node.items)
      return walk(node.items as Record<string, unknown>, `${path}[]`, depth + 1);
    const props = node.properties as Record<string, Record<string, unknown>> | undefined;
    if (!props) return;
    for (const [k, v] of Object.entries(props)) {
      const p = path ? `${path}.${k}` : k;
      const inner = v.type === 'array' ? (v.items as Record<string, unknown>) : v;
      // Leaves (scalars, maps, arrays of scalars) must be documented; objects are containers.
      if (!inner?.properties && !inner?.$ref) out.add(p);
      walk(v, p, depth + 1);
    }
  };
  walk((json.properties as Record<string, Record<string, unknown>>).spec ?? {}, 'spec', 0);
  return [...out];
}

describe('README configuration table', () => {
  const documented = new Set([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
  for (const [service, schema] of Object.entries(ALL_ENV_SCHEMAS)) {
    it(`lists every variable of the ${service} environment`, () => {
      const missing = Object.keys(schema.shape).filter((v) => !documented.has(v));
      expect(missing).toEqual([]);
    });
  }
  it('documents no variable that no schema reads', () => {
    const known = new Set(Object.values(ALL_ENV_SCHEMAS).flatMap((s) => Object.keys(s.shape)));
    expect([...documented].filter((v) => !known.has(v as string))).toEqual([]);
  });
});

describe('docs/farm-model.md', () => {
  for (const [kind, schema] of Object.entries(RESOURCE_SCHEMAS)) {
    it(`mentions every spec field of ${kind}`, () => {
      const fields = specFields(schema);
      expect(fields.length).toBeGreaterThan(3);
      // Every field appears with its full path, in backticks.
      const missing = fields.filter((f) => !farmDoc.includes(`\`${f}\``) && !farmDoc.includes(`\`${f}[]\``));
      expect(missing).toEqual([]);
    });
  }
});

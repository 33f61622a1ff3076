import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import {
  re2Problem,
  structuralProblems,
  StructuralSchemaError,
  toStructuralSchema,
  type JsonSchema,
  type StructuralSchema,
} from './crd-schema.ts';

const fromZod = (schema: z.ZodType, target: 'openapi-3.0' | 'draft-2020-12' = 'openapi-3.0') =>
  toStructuralSchema(z.toJSONSchema(schema, { io: 'input', target }) as JsonSchema);

/** The error a conversion throws, for matching its path and message. */
function failure(run: () => unknown): StructuralSchemaError {
  try {
    run();
  } catch (e) {
    if (e instanceof StructuralSchemaError) return e;
    throw e;
  }
  throw new Error('the conversion did not fail');
}

interface Tree {
  name: string;
  children?: Tree[] | undefined;
}
const tree: z.ZodType<Tree> = z.lazy(() =>
  z.strictObject({ name: z.string().max(8), children: z.array(tree).max(4).optional() }),
);

/** How many levels of `children` a converted tree schema allows before the list must be empty. */
function levels(s: StructuralSchema): number {
  const children = s.properties?.children;
  if (!children || children.maxItems === 0) return 0;
  return 1 + levels(children.items!);
}

describe('toStructuralSchema', () => {
  it('unrolls a recursive schema to the depth asked, with no $ref left, and an empty list below', () => {
    const json = z.toJSONSchema(z.strictObject({ root: tree }), { io: 'input', target: 'openapi-3.0' });
    expect(JSON.stringify(json)).toContain('$ref');
    for (const depth of [1, 3, 7]) {
      const s = toStructuralSchema(json as JsonSchema, { maxRecursion: depth });
      expect(JSON.stringify(s)).not.toContain('$ref');
      expect(levels(s.properties!.root!)).toBe(depth - 1);
      expect(structuralProblems(s)).toEqual([]);
    }
    const cut = toStructuralSchema(json as JsonSchema, { maxRecursion: 2 }).properties!.root!.properties!
      .children!.items!.properties!.children!;
    expect(cut).toEqual({ type: 'array', maxItems: 0, items: { type: 'object' } });
  });

  it('writes exclusive bounds in the boolean form, keeping the stricter of two', () => {
    const s = fromZod(
      z.strictObject({ a: z.number().positive().max(10), b: z.number().lt(5) }),
      'draft-2020-12',
    );
    expect(s.properties!.a).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 10 });
    expect(s.properties!.b).toEqual({ type: 'number', maximum: 5, exclusiveMaximum: true });
    const both = toStructuralSchema({ type: 'number', minimum: 3, exclusiveMinimum: 1 });
    expect(both).toEqual({ type: 'number', minimum: 3 });
    const exclusiveWins = toStructuralSchema({ type: 'number', minimum: 1, exclusiveMinimum: 1 });
    expect(exclusiveWins).toEqual({ type: 'number', minimum: 1, exclusiveMinimum: true });
  });

  it.each([
    ['the openapi-3.0 target', 'openapi-3.0' as const],
    ['draft 2020-12 (anyOf with null)', 'draft-2020-12' as const],
  ])('turns a nullable field into nullable: true, from %s', (_, target) => {
    const s = fromZod(z.strictObject({ a: z.string().max(3).nullable(), b: tree.nullable() }), target);
    expect(s.properties!.a).toEqual({ type: 'string', nullable: true, maxLength: 3 });
    expect(s.properties!.b).toMatchObject({ type: 'object', nullable: true });
    expect(toStructuralSchema({ type: ['integer', 'null'] })).toEqual({ type: 'integer', nullable: true });
    expect(structuralProblems(s)).toEqual([]);
  });

  it('merges a union of literals into one enum, and const into enum', () => {
    const s = fromZod(
      z.strictObject({ u: z.union([z.literal('a'), z.literal('b'), z.enum(['c', 'a'])]), l: z.literal(3) }),
      'draft-2020-12',
    );
    expect(s.properties!.u).toEqual({ type: 'string', enum: ['a', 'b', 'c'] });
    expect(s.properties!.l).toEqual({ type: 'number', enum: [3] });
    expect(failure(() => toStructuralSchema({ anyOf: [{ const: 'a' }, { const: 1 }] })).message).toMatch(
      /mixes string and integer/,
    );
  });

  it('marks integer-or-string as x-kubernetes-int-or-string', () => {
    const s = fromZod(z.strictObject({ port: z.union([z.number().int(), z.string()]) }));
    expect(s.properties!.port).toEqual({ 'x-kubernetes-int-or-string': true });
    expect(structuralProblems(s)).toEqual([]);
  });

  it('refuses a union of shapes, naming where it is', () => {
    const e = failure(() =>
      fromZod(
        z.strictObject({
          spec: z.strictObject({ x: z.union([z.string(), z.strictObject({ a: z.number() })]) }),
        }),
      ),
    );
    expect(e.path).toBe('.spec.x');
    expect(e.message).toMatch(/union of string \| object has no structural form/);
  });

  it('keeps unknown content only where the schema says anything goes', () => {
    const s = fromZod(
      z.strictObject({
        any: z.unknown(),
        loose: z.looseObject({ a: z.string() }),
        map: z.record(z.string(), z.unknown()),
        labels: z.record(z.string().max(9), z.string().max(3)),
      }),
    );
    expect(s.properties!.any).toEqual({ 'x-kubernetes-preserve-unknown-fields': true });
    expect(s.properties!.loose).toMatchObject({
      'x-kubernetes-preserve-unknown-fields': true,
      type: 'object',
    });
    expect(s.properties!.map).toEqual({
      type: 'object',
      additionalProperties: { 'x-kubernetes-preserve-unknown-fields': true },
    });
    expect(s.properties!.labels).toEqual({
      type: 'object',
      additionalProperties: { type: 'string', maxLength: 3 },
    });
    // A strict object's additionalProperties: false is left to pruning.
    expect(s).not.toHaveProperty('additionalProperties');
    expect(structuralProblems(s)).toEqual([]);
  });

  it('turns unique scalar lists into list-type sets and refuses unique objects', () => {
    expect(toStructuralSchema({ type: 'array', uniqueItems: true, items: { type: 'string' } })).toEqual({
      type: 'array',
      items: { type: 'string' },
      'x-kubernetes-list-type': 'set',
    });
    const e = failure(() =>
      toStructuralSchema({ type: 'array', uniqueItems: true, items: { type: 'object', properties: {} } }),
    );
    expect(e.message).toMatch(/unique items must be scalars/);
  });

  it('makes defaulted fields optional with their default (io: input), and drops defaults inside junctors', () => {
    const s = fromZod(z.strictObject({ a: z.number().int().min(0).default(4), b: z.string().max(2) }));
    expect(s.required).toEqual(['b']);
    expect(s.properties!.a).toEqual({
      type: 'integer',
      default: 4,
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
    });
    const j = toStructuralSchema({
      type: 'object',
      properties: { a: { type: 'integer' } },
      anyOf: [{ properties: { a: { type: 'integer', minimum: 2, default: 3, description: 'x' } } }],
    });
    expect(j.anyOf).toEqual([{ properties: { a: { minimum: 2 } } }]);
    expect(structuralProblems(j)).toEqual([]);
  });

  it('keeps value-only oneOf and x-kubernetes-* metadata from zod', () => {
    const s = fromZod(
      z
        .strictObject({ a: z.number().optional(), b: z.string().optional() })
        .meta({ oneOf: [{ required: ['a'] }, { required: ['b'] }], 'x-kubernetes-map-type': 'atomic' }),
    );
    expect(s.oneOf).toEqual([{ required: ['a'] }, { required: ['b'] }]);
    expect(s['x-kubernetes-map-type']).toBe('atomic');
    expect(structuralProblems(s)).toEqual([]);
  });

  it('leaves the date-time format to the API server instead of zod’s long pattern', () => {
    const s = fromZod(z.strictObject({ at: z.iso.datetime({ offset: true }) }));
    expect(s.properties!.at).toEqual({ type: 'string', format: 'date-time' });
  });

  it('refuses patterns Go cannot compile, keywords it cannot express, and tuples', () => {
    expect(failure(() => fromZod(z.strictObject({ a: z.string().regex(/^(?!x)a$/) }))).message).toMatch(
      /lookaround/,
    );
    expect(failure(() => toStructuralSchema({ type: 'object', if: {}, then: {} })).message).toMatch(/"if"/);
    const tuple = z.strictObject({ t: z.tuple([z.string(), z.number()]) });
    expect(failure(() => fromZod(tuple, 'draft-2020-12')).message).toMatch(/^\.t: a tuple/);
    expect(failure(() => fromZod(tuple)).path).toBe('.t[]');
    const both = {
      type: 'object',
      properties: { i: { allOf: [{ type: 'string' }, { type: 'string', maxLength: 3 }] } },
    };
    expect(failure(() => toStructuralSchema(both)).message).toMatch(/^\.i: an intersection/);
    expect(failure(() => toStructuralSchema({ anyOf: [{ type: 'null' }] })).message).toMatch(/only be null/);
    expect(
      failure(() => toStructuralSchema({ type: 'object', properties: { n: { type: 'null' } } })).path,
    ).toBe('.n');
  });

  it('refuses a node without a type outside junctors', () => {
    const e = failure(() => toStructuralSchema({ type: 'object', properties: { a: { minimum: 1 } } }));
    expect(e.path).toBe('.a');
  });
});

describe('re2Problem', () => {
  it.each([
    ['^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', undefined],
    ['^(?:[A-Za-z0-9-]+)\\/x$', undefined],
    ['^\\x21$', undefined],
    ['^a(?=b)', 'lookaround'],
    ['^(?<!a)b', 'lookaround'],
    ['^(a)\\1$', 'a backreference'],
    ['^a++$', 'an atomic group or possessive quantifier'],
    ['^a{2000}$', 'a repeat count above 1000'],
    ['^(a$', expect.stringMatching(/^not a valid regular expression/)],
  ])('%s', (pattern, why) => {
    expect(re2Problem(pattern)).toEqual(why);
  });
});

describe('structuralProblems', () => {
  it.each<[string, StructuralSchema, string]>([
    ['a node without a type', { type: 'object', properties: { a: {} } }, '.a: no type'],
    [
      'a $ref',
      { type: 'object', properties: { a: { $ref: '#/x' } as StructuralSchema } },
      '"$ref" is not allowed',
    ],
    [
      'additionalProperties: false',
      { type: 'object', additionalProperties: false } as unknown as StructuralSchema,
      'additionalProperties must be a schema',
    ],
    [
      'properties beside additionalProperties',
      { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } },
      'properties and additionalProperties together',
    ],
    ['an array without items', { type: 'array' }, 'an array without items'],
    [
      'a numeric exclusive bound',
      { type: 'number', exclusiveMinimum: 0 } as unknown as StructuralSchema,
      'boolean',
    ],
    [
      'a type inside a junctor',
      { type: 'object', properties: { a: { type: 'string' } }, oneOf: [{ type: 'object' }] },
      'inside a junctor',
    ],
    [
      'a junctor naming an unknown property',
      {
        type: 'object',
        properties: { a: { type: 'string' } },
        anyOf: [{ properties: { b: { minLength: 1 } } }],
      },
      'names "b"',
    ],
    [
      'a list-map key that is not required',
      {
        type: 'array',
        items: { type: 'object', properties: { type: { type: 'string' } } },
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      },
      'neither required nor defaulted',
    ],
    [
      'a set of objects',
      { type: 'array', items: { type: 'object' }, 'x-kubernetes-list-type': 'set' },
      'a list-type set of non-scalars',
    ],
    ['a lookahead pattern', { type: 'string', pattern: '^(?=a)' }, 'lookaround'],
  ])('finds %s', (_, schema, problem) => {
    const problems = structuralProblems(schema);
    expect(problems.some((p) => p.includes(problem))).toBe(true);
  });

  it('accepts preserve-unknown and int-or-string nodes without a type', () => {
    expect(
      structuralProblems({
        type: 'object',
        properties: {
          free: { 'x-kubernetes-preserve-unknown-fields': true },
          port: { 'x-kubernetes-int-or-string': true },
        },
      }),
    ).toEqual([]);
  });
});

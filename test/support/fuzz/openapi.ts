// The served OpenAPI document as the fuzz test reads it: its operations, their parameters and
// bodies with `$ref`s resolved, and a small, conservative JSON Schema check used to make sure a
// generated request is invalid: `validates()` answers false only when the value breaks the
// schema for certain (a string too long in both UTF-16 units and code points, a number out of
// range, a wrong type, a missing required or an unknown field, …); what it cannot judge
// (formats, uniqueItems) it lets pass.

export type Schema = Record<string, unknown>;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  method: string;
  /** The OpenAPI path, `{id}` style. */
  path: string;
  operationId: string;
  /** Roles allowed (x-roles); empty for public operations. */
  roles: string[];
  isPublic: boolean;
  parameters: Parameter[];
  /** The JSON body's schema, if the operation takes one. */
  body?: Schema;
  bodyRequired: boolean;
}

interface RawOperation {
  operationId?: string;
  security?: unknown[];
  'x-roles'?: string[];
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
}

export interface Spec {
  paths: Record<string, Record<string, RawOperation>>;
  components?: { schemas?: Record<string, Schema>; parameters?: Record<string, Parameter> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Resolves `$ref`s to the document's components, at every depth (cycles left as they are). */
export function resolveRefs(spec: Spec, value: unknown, seen: string[] = []): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveRefs(spec, v, seen));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if (typeof o.$ref === 'string') {
    const ref = o.$ref;
    if (seen.includes(ref)) return {};
    const m = /^#\/components\/(schemas|parameters)\/(.+)$/.exec(ref);
    const target = m
      ? (spec.components?.[m[1] as 'schemas' | 'parameters'] as Record<string, unknown>)?.[m[2]!]
      : undefined;
    if (target === undefined) throw new Error(`unresolved $ref ${ref}`);
    return resolveRefs(spec, target, [...seen, ref]);
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveRefs(spec, v, seen)]));
}

export function operationsOf(spec: Spec): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const op = resolveRefs(spec, raw) as RawOperation;
      const json = op.requestBody?.content?.['application/json'];
      out.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId ?? `${method} ${path}`,
        roles: op['x-roles'] ?? [],
        isPublic: Array.isArray(op.security) && op.security.length === 0,
        parameters: (op.parameters ?? []) as Parameter[],
        ...(json?.schema ? { body: json.schema } : {}),
        bodyRequired: op.requestBody?.required === true,
      });
    }
  }
  return out;
}

const codePoints = (s: string) => [...s].length;

export function typesOf(schema: Schema): string[] | undefined {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t as string[];
  return undefined;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeOk(types: string[], v: unknown): boolean {
  const t = jsonType(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return false;
  return types.some((want) => want === t || (want === 'number' && t === 'integer'));
}

function stringOk(s: Schema, v: string): boolean {
  if (typeof s.maxLength === 'number' && Math.min(v.length, codePoints(v)) > s.maxLength) return false;
  if (typeof s.minLength === 'number' && Math.max(v.length, codePoints(v)) < s.minLength) return false;
  if (typeof s.pattern === 'string') {
    try {
      if (!new RegExp(s.pattern, 'u').test(v) && !new RegExp(s.pattern).test(v)) return false;
    } catch {
      // a pattern this check cannot compile: no verdict
    }
  }
  return true;
}

function numberOk(s: Schema, v: number): boolean {
  if (typeof s.maximum === 'number' && v > s.maximum) return false;
  if (typeof s.minimum === 'number' && v < s.minimum) return false;
  if (typeof s.exclusiveMaximum === 'number' && v >= s.exclusiveMaximum) return false;
  if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum) return false;
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf))
    return false;
  return true;
}

function objectOk(s: Schema, v: Record<string, unknown>, depth: number): boolean {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  for (const r of (s.required ?? []) as string[]) if (!Object.hasOwn(v, r)) return false;
  const patterns = Object.entries((s.patternProperties ?? {}) as Record<string, Schema>);
  for (const key of Object.keys(v)) {
    const value = v[key];
    if (Object.hasOwn(props, key)) {
      if (!validates(props[key]!, value, depth + 1)) return false;
      continue;
    }
    const matching = patterns.filter(([p]) => new RegExp(p).test(key));
    if (matching.length > 0) {
      if (!matching.every(([, ps]) => validates(ps, value, depth + 1))) return false;
      continue;
    }
    if (s.additionalProperties === false) return false;
    if (
      typeof s.additionalProperties === 'object' &&
      !validates(s.additionalProperties as Schema, value, depth + 1)
    )
      return false;
  }
  return true;
}

function arrayOk(s: Schema, v: unknown[], depth: number): boolean {
  if (typeof s.maxItems === 'number' && v.length > s.maxItems) return false;
  if (typeof s.minItems === 'number' && v.length < s.minItems) return false;
  if (s.items && typeof s.items === 'object' && !Array.isArray(s.items))
    return v.every((x) => validates(s.items as Schema, x, depth + 1));
  return true;
}

/** Equality of JSON values, to a depth (deeper than that counts as different). */
function sameJson(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > 20 || a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) &&
      sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], depth + 1),
  );
}

/** Nesting deeper than this is not judged (no schema here goes that deep). */
const MAX_DEPTH = 64;

/** False only when `value` certainly breaks `schema`; see the header. */
export function validates(schema: Schema, value: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH) return true;
  if ('const' in schema && !sameJson(schema.const, value)) return false;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => sameJson(e, value))) return false;
  for (const k of ['anyOf', 'oneOf'] as const) {
    const branches = schema[k] as Schema[] | undefined;
    if (branches && !branches.some((b) => validates(b, value, depth))) return false;
  }
  const all = schema.allOf as Schema[] | undefined;
  if (all && !all.every((b) => validates(b, value, depth))) return false;
  const types = typesOf(schema);
  if (types && !typeOk(types, value)) return false;
  if (typeof value === 'string') return stringOk(schema, value);
  if (typeof value === 'number') return numberOk(schema, value);
  if (Array.isArray(value)) return arrayOk(schema, value, depth);
  if (value !== null && typeof value === 'object')
    return objectOk(schema, value as Record<string, unknown>, depth);
  return true;
}

/** The JSON types a schema admits, or undefined when it does not say (any type). */
export function admittedTypes(schema: Schema): Set<string> | undefined {
  if ('const' in schema) return new Set([jsonType(schema.const)]);
  if (Array.isArray(schema.enum)) return new Set(schema.enum.map(jsonType));
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (branches) {
    const out = new Set<string>();
    for (const b of branches) {
      const t = admittedTypes(b);
      if (!t) return undefined;
      for (const x of t) out.add(x);
    }
    return out;
  }
  const types = typesOf(schema);
  if (!types) return undefined;
  const out = new Set(types);
  if (out.has('number')) out.add('integer');
  return out;
}

// JSON Schema (as z.toJSONSchema writes it) to a Kubernetes *structural* OpenAPI v3 schema, and a
// check that a schema is structural. The API server refuses a CustomResourceDefinition whose
// schema has $ref, a node without a type, a union of shapes, `additionalProperties: false` next
// to properties, `uniqueItems`, or a pattern Go's regexp (RE2) cannot compile; it prunes unknown
// fields instead of refusing them. So the conversion resolves what it can (references unrolled
// to a bounded depth, unions of literals merged into one enum, null branches into `nullable`,
// `const` into `enum`, unique scalar lists into list-type sets, numeric exclusive bounds into the
// boolean form) and throws, naming the path, on anything it cannot express.

/** A JSON Schema node as z.toJSONSchema (draft 2020-12 or the openapi-3.0 target) writes it. */
export type JsonSchema = { [key: string]: unknown };

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** apiextensions.k8s.io/v1 JSONSchemaProps: the subset a structural schema uses. */
export interface StructuralSchema {
  description?: string;
  title?: string;
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean';
  format?: string;
  nullable?: boolean;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  exclusiveMinimum?: boolean;
  maximum?: number;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: StructuralSchema;
  minProperties?: number;
  maxProperties?: number;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  allOf?: StructuralSchema[];
  anyOf?: StructuralSchema[];
  oneOf?: StructuralSchema[];
  not?: StructuralSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: CelRule[];
}

export interface StructuralOptions {
  /**
   * How many times one definition may be expanded inside itself. A recursive schema (the power
   * tree) is unrolled this many levels; below the last level its list may only be empty.
   */
  maxRecursion?: number;
}

export class StructuralSchemaError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path || '(root)'}: ${message}`);
    this.name = 'StructuralSchemaError';
    this.path = path;
  }
}

/** Formats the API server knows (k8s.io/kube-openapi strfmt); others are dropped. */
const KUBE_FORMATS = new Set([
  'bsonobjectid',
  'uri',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'cidr',
  'mac',
  'uuid',
  'uuid3',
  'uuid4',
  'uuid5',
  'isbn',
  'isbn10',
  'isbn13',
  'creditcard',
  'ssn',
  'hexcolor',
  'rgbcolor',
  'byte',
  'password',
  'date',
  'duration',
  'datetime',
  'date-time',
  'int32',
  'int64',
  'float',
  'double',
]);
const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean']);
const TYPES = new Set([...SCALAR_TYPES, 'object', 'array']);
/** Keys that say nothing the API server checks, or that a structural schema cannot carry. */
const DROPPED = new Set([
  '$schema',
  '$id',
  'id',
  '$comment',
  'definitions',
  '$defs',
  'examples',
  'propertyNames',
  'contentEncoding',
  'contentMediaType',
  'readOnly',
  'writeOnly',
  'deprecated',
]);
/** Copied as they are (after checks below). */
const PLAIN = [
  'description',
  'title',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'multipleOf',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
] as const;
const JUNCTORS = ['allOf', 'anyOf', 'oneOf'] as const;
/** Keys convertNode reads itself. */
const HANDLED = new Set<string>([
  'type',
  'const',
  'enum',
  'default',
  'nullable',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'items',
  'prefixItems',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'x-kubernetes-int-or-string',
  ...JUNCTORS,
  'not',
]);
/** What may not appear inside allOf/anyOf/oneOf/not of a structural schema. */
const NOT_IN_JUNCTORS = ['type', 'description', 'default', 'additionalProperties', 'nullable'] as const;
/** Order of keys in the output, for a stable, readable file. */
const KEY_ORDER: Array<keyof StructuralSchema> = [
  'description',
  'title',
  'type',
  'format',
  'nullable',
  'enum',
  'default',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'items',
  'minProperties',
  'maxProperties',
  'properties',
  'required',
  'additionalProperties',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
];

/** Returned where a recursive definition is cut off. */
const CUT = Symbol('recursion limit');
type Converted = StructuralSchema | typeof CUT;

interface Context {
  root: JsonSchema;
  maxRecursion: number;
  /** References being expanded, outermost first. */
  stack: string[];
  /** Inside allOf/anyOf/oneOf/not: value validations only. */
  inJunctor: boolean;
}

/**
 * Converts a JSON Schema from z.toJSONSchema (either target; use `io: 'input'` so defaulted
 * fields are optional) into a structural schema. Pure; throws StructuralSchemaError on what
 * Kubernetes cannot express.
 */
export function toStructuralSchema(schema: JsonSchema, options: StructuralOptions = {}): StructuralSchema {
  const ctx: Context = {
    root: schema,
    maxRecursion: options.maxRecursion ?? 16,
    stack: [],
    inJunctor: false,
  };
  const out = convert(schema, '', ctx);
  if (out === CUT) throw new StructuralSchemaError('', 'the root is a recursion cut');
  return out;
}

function convert(node: unknown, path: string, ctx: Context): Converted {
  if (node === true || (isObject(node) && Object.keys(node).length === 0))
    return { 'x-kubernetes-preserve-unknown-fields': true };
  if (!isObject(node)) throw new StructuralSchemaError(path, `not a schema: ${JSON.stringify(node)}`);
  if (typeof node.$ref === 'string') return convertRef(node, path, ctx);
  const merged = mergeUnion(node, path, ctx);
  if (merged) return merged;
  return convertNode(node, path, ctx);
}

function convertRef(node: JsonSchema, path: string, ctx: Context): Converted {
  const ref = node.$ref as string;
  const depth = ctx.stack.filter((r) => r === ref).length;
  if (depth >= ctx.maxRecursion) return CUT;
  const target = resolveRef(ctx.root, ref, path);
  const { $ref: _ref, ...siblings } = node;
  ctx.stack.push(ref);
  try {
    return convert({ ...target, ...siblings }, path, ctx);
  } finally {
    ctx.stack.pop();
  }
}

function resolveRef(root: JsonSchema, ref: string, path: string): JsonSchema {
  if (ref === '#') return root;
  const m = /^#\/(definitions|\$defs)\/(.+)$/.exec(ref);
  const defs = m ? root[m[1]!] : undefined;
  const target = m && isObject(defs) ? defs[decodeURIComponent(m[2]!)] : undefined;
  if (!isObject(target)) throw new StructuralSchemaError(path, `unresolved reference ${ref}`);
  return target;
}

/**
 * anyOf/oneOf with branches that carry a type (a zod union): a union with null becomes
 * `nullable`, a union of string (or number) literals one enum, integer|string
 * `x-kubernetes-int-or-string`. Anything else has no structural form. Branches without a type
 * are value validations and stay as they are (convertNode).
 */
function mergeUnion(node: JsonSchema, path: string, ctx: Context): Converted | undefined {
  const single = singleAllOf(node, path);
  if (single) return convert(single, path, ctx);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = node[key];
    if (!Array.isArray(branches) || !branches.some(carriesType)) continue;
    const { [key]: _branches, ...rest } = node;
    const nonNull = branches.filter((b) => !(isObject(b) && b.type === 'null'));
    const nullable = nonNull.length < branches.length;
    let merged: JsonSchema;
    if (nonNull.length === 0) throw new StructuralSchemaError(path, 'a node that can only be null');
    else if (nonNull.length === 1) merged = { ...rest, ...(nonNull[0] as JsonSchema) };
    else if (nonNull.every(isLiteral)) merged = { ...rest, ...literalEnum(nonNull as JsonSchema[], path) };
    else if (isIntOrString(nonNull)) return withCommon(rest, { 'x-kubernetes-int-or-string': true }, ctx);
    else
      throw new StructuralSchemaError(path, `a union of ${describeBranches(nonNull)} has no structural form`);
    const out = convert(merged, path, ctx);
    if (out !== CUT && nullable) out.nullable = true;
    return out === CUT ? out : order(out);
  }
  return undefined;
}

/** A branch that says what type a value is, as opposed to a value-only validation. */
function carriesType(b: unknown): boolean {
  return isObject(b) && ('type' in b || '$ref' in b || isLiteral(b));
}

/**
 * zod writes a modifier on a reference (`.nullable()` of a lazy schema) as `allOf` with the one
 * reference beside it: the node is that branch with the modifier.
 */
function singleAllOf(node: JsonSchema, path: string): JsonSchema | undefined {
  const list = node.allOf;
  if (!Array.isArray(list) || !list.some(carriesType)) return undefined;
  if (list.length !== 1 || !isObject(list[0]))
    throw new StructuralSchemaError(path, 'an intersection of typed schemas has no structural form');
  const { allOf: _allOf, ...rest } = node;
  return { ...rest, ...list[0] };
}

function isLiteral(b: unknown): boolean {
  return isObject(b) && ('const' in b || (Array.isArray(b.enum) && b.enum.length > 0));
}

function literalEnum(branches: JsonSchema[], path: string): JsonSchema {
  const values = branches.flatMap((b) => ('const' in b ? [b.const] : (b.enum as unknown[])));
  const types = new Set(values.map(jsonType));
  if (types.has('integer') && types.has('number')) types.delete('integer');
  if (types.size !== 1) throw new StructuralSchemaError(path, `an enum mixes ${[...types].join(' and ')}`);
  return { type: [...types][0], enum: [...new Set(values)] };
}

function isIntOrString(branches: unknown[]): boolean {
  const types = branches.map((b) => (isObject(b) ? b.type : undefined)).sort();
  return types.length === 2 && types[0] === 'integer' && types[1] === 'string';
}

function describeBranches(branches: unknown[]): string {
  return branches.map((b) => (isObject(b) ? String(b.type ?? b.$ref ?? 'untyped') : typeof b)).join(' | ');
}

/** A node with only the keys that apply to any type (description, default, ...) plus `extra`. */
function withCommon(rest: JsonSchema, extra: StructuralSchema, ctx: Context): StructuralSchema {
  const out: StructuralSchema = { ...extra };
  if (typeof rest.description === 'string') out.description = rest.description;
  if ('default' in rest && !ctx.inJunctor) out.default = rest.default;
  return order(out);
}

function convertNode(node: JsonSchema, path: string, ctx: Context): Converted {
  const out: StructuralSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key) || value === undefined) continue;
    if (!HANDLED.has(key) && !(PLAIN as readonly string[]).includes(key))
      throw new StructuralSchemaError(path, `"${key}" has no structural form`);
  }
  for (const key of PLAIN) if (node[key] !== undefined) (out as Record<string, unknown>)[key] = node[key];
  const type = typeOf(node, path, out);
  if (type) out.type = type;
  if (type === undefined && !ctx.inJunctor && !out['x-kubernetes-preserve-unknown-fields'])
    throw new StructuralSchemaError(path, 'a node without a type');
  valueChecks(node, out, path);
  if ('default' in node && !ctx.inJunctor) out.default = node.default;
  if (type === 'array') {
    const cut = convertItems(node, out, path, ctx);
    if (cut) return order(out);
  }
  if (
    type === 'object' ||
    (type === undefined && (isObject(node.properties) || Array.isArray(node.required)))
  )
    convertObject(node, out, path, ctx);
  for (const key of JUNCTORS) {
    const list = node[key];
    if (Array.isArray(list)) out[key] = list.map((b, i) => junctor(b, `${path}.${key}[${i}]`, ctx));
  }
  if (node.not !== undefined) out.not = junctor(node.not, `${path}.not`, ctx);
  if (ctx.inJunctor) for (const key of NOT_IN_JUNCTORS) delete out[key];
  return order(out);
}

/** `type` from `type` (a name or [name, "null"]), or from `const`/`enum` values. */
function typeOf(node: JsonSchema, path: string, out: StructuralSchema): StructuralSchema['type'] {
  let type = node.type;
  if (Array.isArray(type)) {
    const names = type.filter((t) => t !== 'null');
    if (names.length < type.length) out.nullable = true;
    if (names.length !== 1) throw new StructuralSchemaError(path, `more than one type: ${type.join(', ')}`);
    type = names[0];
  }
  if (node.nullable === true) out.nullable = true;
  if (type === undefined && 'const' in node) type = jsonType(node.const);
  if (type === undefined && Array.isArray(node.enum) && node.enum.length > 0) type = jsonType(node.enum[0]);
  if (type === 'null') throw new StructuralSchemaError(path, 'a node that can only be null');
  if (type !== undefined && !TYPES.has(type as string))
    throw new StructuralSchemaError(path, `unknown type ${JSON.stringify(type)}`);
  if (node['x-kubernetes-int-or-string'] === true) {
    out['x-kubernetes-int-or-string'] = true;
    return undefined;
  }
  return type as StructuralSchema['type'];
}

function valueChecks(node: JsonSchema, out: StructuralSchema, path: string): void {
  if ('const' in node) out.enum = [node.const];
  else if (Array.isArray(node.enum)) out.enum = node.enum.filter((v) => !(v === null && out.nullable));
  if (typeof node.format === 'string' && KUBE_FORMATS.has(node.format)) out.format = node.format;
  // The date-time format is checked by the API server; zod's long pattern for it adds nothing.
  if (typeof node.pattern === 'string' && out.format !== 'date-time') {
    const why = re2Problem(node.pattern);
    if (why)
      throw new StructuralSchemaError(path, `pattern ${node.pattern} cannot run in Go's regexp: ${why}`);
    out.pattern = node.pattern;
  }
  bound(node, out, 'minimum', 'exclusiveMinimum', (a, b) => a > b);
  bound(node, out, 'maximum', 'exclusiveMaximum', (a, b) => a < b);
}

/**
 * Draft 2020-12 writes an exclusive bound as a number (`exclusiveMinimum: 0`), OpenAPI 3.0 and
 * Kubernetes as a flag beside `minimum`. Keep whichever of the two is stricter.
 */
function bound(
  node: JsonSchema,
  out: StructuralSchema,
  key: 'minimum' | 'maximum',
  exclusiveKey: 'exclusiveMinimum' | 'exclusiveMaximum',
  stricter: (a: number, b: number) => boolean,
): void {
  const inclusive = typeof node[key] === 'number' ? (node[key] as number) : undefined;
  const exclusive = node[exclusiveKey];
  if (typeof exclusive === 'number') {
    if (inclusive !== undefined && stricter(inclusive, exclusive)) out[key] = inclusive;
    else {
      out[key] = exclusive;
      out[exclusiveKey] = true;
    }
    return;
  }
  if (inclusive !== undefined) out[key] = inclusive;
  if (exclusive === true && inclusive !== undefined) out[exclusiveKey] = true;
}

/** Returns true when the items were a recursion cut (the list may then only be empty). */
function convertItems(node: JsonSchema, out: StructuralSchema, path: string, ctx: Context): boolean {
  if (node.prefixItems !== undefined || Array.isArray(node.items))
    throw new StructuralSchemaError(path, 'a tuple has no structural form');
  const items = node.items === undefined ? {} : convert(node.items, `${path}[]`, ctx);
  if (items === CUT) {
    out.maxItems = 0;
    out.items = { type: 'object' };
    return true;
  }
  out.items = items;
  if (node.uniqueItems === true) {
    if (!items.type || !SCALAR_TYPES.has(items.type))
      throw new StructuralSchemaError(path, 'unique items must be scalars (a list-type set)');
    out['x-kubernetes-list-type'] = 'set';
  }
  return false;
}

function convertObject(node: JsonSchema, out: StructuralSchema, path: string, ctx: Context): void {
  const props = isObject(node.properties) ? node.properties : {};
  const extra = node.additionalProperties;
  const hasProps = Object.keys(props).length > 0;
  if (hasProps) {
    out.properties = {};
    for (const [name, child] of Object.entries(props)) {
      const converted = convert(child, join(path, name), ctx);
      if (converted === CUT) {
        const target =
          isObject(child) && typeof child.$ref === 'string' ? resolveRef(ctx.root, child.$ref, path) : {};
        if (target.type === 'object') out.properties[name] = { type: 'object', maxProperties: 0 };
        continue;
      }
      out.properties[name] = converted;
    }
    if (ctx.inJunctor) for (const p of Object.values(out.properties)) stripForJunctor(p);
  }
  if (Array.isArray(node.required)) {
    const known = ctx.inJunctor || !hasProps ? undefined : new Set(Object.keys(out.properties ?? {}));
    const required = (node.required as string[]).filter((r) => !known || known.has(r));
    if (required.length > 0) out.required = required;
  }
  // Closed objects are the norm: the API server prunes unknown fields (and refuses them under
  // strict field validation), so `false` is dropped; it may not stand beside properties anyway.
  if (extra === undefined || extra === false) return;
  if (extra === true || (isObject(extra) && Object.keys(extra).length === 0)) {
    if (hasProps) out['x-kubernetes-preserve-unknown-fields'] = true;
    else out.additionalProperties = { 'x-kubernetes-preserve-unknown-fields': true };
    return;
  }
  if (hasProps)
    throw new StructuralSchemaError(path, 'properties and an additionalProperties schema together');
  const converted = convert(extra, `${path}.*`, ctx);
  if (converted === CUT) throw new StructuralSchemaError(path, 'a recursive map value');
  out.additionalProperties = converted;
}

function junctor(branch: unknown, path: string, ctx: Context): StructuralSchema {
  const out = convert(branch, path, { ...ctx, inJunctor: true });
  if (out === CUT) throw new StructuralSchemaError(path, 'a recursion cut inside a junctor');
  stripForJunctor(out);
  return out;
}

function stripForJunctor(s: StructuralSchema): void {
  for (const key of NOT_IN_JUNCTORS) delete s[key];
  for (const p of Object.values(s.properties ?? {})) stripForJunctor(p);
  if (s.items) stripForJunctor(s.items);
}

/**
 * Why Go's regexp (RE2) cannot compile a pattern, or undefined. RE2 has no lookaround, no
 * backreferences, no possessive or atomic groups, and no repeat count above 1000.
 */
export function re2Problem(pattern: string): string | undefined {
  if (/\(\?<?[=!]/.test(pattern)) return 'lookaround';
  if (/\\[1-9]|\\k</.test(pattern)) return 'a backreference';
  if (/\(\?>|[*+?}]\+/.test(pattern)) return 'an atomic group or possessive quantifier';
  for (const m of pattern.matchAll(/\{(\d+)(?:,(\d*))?\}/g)) {
    if (Number(m[1]) > 1000 || Number(m[2] || 0) > 1000) return 'a repeat count above 1000';
  }
  try {
    new RegExp(pattern, 'u');
  } catch (e) {
    return `not a valid regular expression (${(e as Error).message})`;
  }
  return undefined;
}

// ---------------------------------------------------------------- structural check

/**
 * What makes a schema non-structural, as the API server would refuse it; [] when it is
 * structural. `path` names the node (`.spec.items[].name`).
 */
export function structuralProblems(schema: StructuralSchema, path = ''): string[] {
  const out: string[] = [];
  walk(schema, path || '(root)', false, out);
  return out;
}

function walk(s: StructuralSchema, path: string, inJunctor: boolean, out: string[]): void {
  nodeProblems(s, path, inJunctor, out);
  listTypeProblems(s, path, out);
  for (const [name, p] of Object.entries(s.properties ?? {})) walk(p, join(path, name), inJunctor, out);
  if (s.items) walk(s.items, `${path}[]`, inJunctor, out);
  if (s.additionalProperties) walk(s.additionalProperties, `${path}.*`, inJunctor, out);
  for (const key of JUNCTORS) s[key]?.forEach((b, i) => walk(b, `${path}.${key}[${i}]`, true, out));
  if (s.not) walk(s.not, `${path}.not`, true, out);
  if (!inJunctor) junctorPropertiesProblems(s, path, out);
}

/** The problems of one node, without its children. */
function nodeProblems(s: StructuralSchema, path: string, inJunctor: boolean, out: string[]): void {
  const raw = s as Record<string, unknown>;
  for (const key of ['$ref', 'definitions', '$defs', 'const', 'prefixItems', 'uniqueItems', 'propertyNames'])
    if (key in raw) out.push(`${path}: "${key}" is not allowed`);
  const preserve =
    s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-int-or-string'] === true;
  if (!inJunctor && !s.type && !preserve) out.push(`${path}: no type`);
  if (s.type !== undefined && !TYPES.has(s.type)) out.push(`${path}: type ${JSON.stringify(s.type)}`);
  if (inJunctor)
    for (const key of NOT_IN_JUNCTORS) if (key in raw) out.push(`${path}: "${key}" inside a junctor`);
  for (const key of ['exclusiveMinimum', 'exclusiveMaximum'] as const)
    if (key in raw && typeof raw[key] !== 'boolean') out.push(`${path}: ${key} must be a boolean`);
  if ('additionalProperties' in raw && typeof raw.additionalProperties !== 'object')
    out.push(`${path}: additionalProperties must be a schema`);
  if (s.properties && s.additionalProperties)
    out.push(`${path}: properties and additionalProperties together`);
  if (s.type === 'array' && !s.items && !inJunctor) out.push(`${path}: an array without items`);
  const why = s.pattern === undefined ? undefined : re2Problem(s.pattern);
  if (why) out.push(`${path}: pattern: ${why}`);
  if (s.required && s.properties && !inJunctor) {
    for (const r of s.required)
      if (!(r in s.properties)) out.push(`${path}: required "${r}" is not a property`);
  }
}

function listTypeProblems(s: StructuralSchema, path: string, out: string[]): void {
  const listType = s['x-kubernetes-list-type'];
  if (listType === undefined) return;
  if (s.type !== 'array') out.push(`${path}: x-kubernetes-list-type on a ${s.type ?? 'untyped'} node`);
  if (listType === 'set' && !SCALAR_TYPES.has(s.items?.type ?? ''))
    out.push(`${path}: a list-type set of non-scalars`);
  if (listType === 'map') {
    const keys = s['x-kubernetes-list-map-keys'] ?? [];
    if (keys.length === 0 || s.items?.type !== 'object')
      out.push(`${path}: a list-type map needs object items and keys`);
    for (const k of keys) {
      const prop = s.items?.properties?.[k];
      if (!prop || !SCALAR_TYPES.has(prop.type ?? ''))
        out.push(`${path}: map key "${k}" is not a scalar property`);
      else if (!s.items?.required?.includes(k) && prop.default === undefined)
        out.push(`${path}: map key "${k}" is neither required nor defaulted`);
    }
  }
}

/** A property a junctor names must be specified beside it, in the structural part. */
function junctorPropertiesProblems(s: StructuralSchema, path: string, out: string[]): void {
  const branches = [...JUNCTORS.flatMap((k) => s[k] ?? []), ...(s.not ? [s.not] : [])];
  for (const b of branches) {
    for (const name of Object.keys(b.properties ?? {}))
      if (!s.properties?.[name]) out.push(`${path}: a junctor names "${name}", which is not a property`);
  }
}

// ---------------------------------------------------------------- helpers

function isObject(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function join(path: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

function order(s: StructuralSchema): StructuralSchema {
  const out: Record<string, unknown> = {};
  for (const key of KEY_ORDER) if (s[key] !== undefined) out[key] = s[key];
  return out as StructuralSchema;
}

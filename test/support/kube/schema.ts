// What the API server does with a custom resource's body against the CRD's structural
// openAPIV3Schema, in its order: prune fields the schema does not declare (unless
// x-kubernetes-preserve-unknown-fields), fill in defaults, then validate types, required
// fields, enums, bounds, lengths and patterns. Every failure is a cause of one 422 Invalid.
// metadata is never pruned; only the name restrictions the schema gives are checked.
// x-kubernetes-validations (CEL rules) and `format` are not checked.
import { isObject, type JsonObject } from './objects.ts';
import type { StatusCause } from './status.ts';

export interface JSONSchemaProps {
  type?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: boolean | JSONSchemaProps;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [key: string]: unknown;
}

const ROOT_KEEP = new Set(['apiVersion', 'kind', 'metadata']);

/** Drops undeclared fields in place and fills defaults. */
export function pruneAndDefault(value: unknown, schema: JSONSchemaProps | undefined, root = false): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    for (const item of value) pruneAndDefault(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  const props = schema.properties;
  const extra = schema.additionalProperties;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const key of Object.keys(value)) {
    if (root && ROOT_KEEP.has(key)) continue;
    const sub = props?.[key] ?? (isObject(extra) ? (extra as JSONSchemaProps) : undefined);
    if (sub) pruneAndDefault(value[key], sub);
    else if (!preserve && extra !== true) delete value[key];
  }
  for (const [key, sub] of Object.entries(props ?? {})) {
    if (value[key] === undefined && sub.default !== undefined) value[key] = structuredClone(sub.default);
  }
}

type Causes = StatusCause[];

const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v));

function typeOk(v: unknown, s: JSONSchemaProps): boolean {
  if (s['x-kubernetes-int-or-string']) return typeof v === 'string' || Number.isInteger(v);
  switch (s.type) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

function checkNumber(v: number, s: JSONSchemaProps, path: string, out: Causes): void {
  const bad = (m: string) =>
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: ${v}: ${path} in body ${m}`,
    });
  if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum))
    bad(`should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`);
  if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum))
    bad(`should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`);
  if (s.multipleOf !== undefined && Math.abs(v / s.multipleOf - Math.round(v / s.multipleOf)) > 1e-9)
    bad(`should be a multiple of ${s.multipleOf}`);
}

function checkString(v: string, s: JSONSchemaProps, path: string, out: Causes): void {
  if (s.minLength !== undefined && v.length < s.minLength)
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: "${v}": ${path} in body should be at least ${s.minLength} chars long`,
    });
  if (s.maxLength !== undefined && v.length > s.maxLength)
    out.push({
      reason: 'FieldValueTooLong',
      field: path,
      message: `Too long: may not be more than ${s.maxLength} bytes`,
    });
  if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v))
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: "${v}": ${path} in body should match '${s.pattern}'`,
    });
}

function checkArray(v: unknown[], s: JSONSchemaProps, path: string, out: Causes): void {
  if (s.minItems !== undefined && v.length < s.minItems)
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: ${v.length}: ${path} in body should have at least ${s.minItems} items`,
    });
  if (s.maxItems !== undefined && v.length > s.maxItems)
    out.push({
      reason: 'FieldValueTooMany',
      field: path,
      message: `Too many: ${v.length}: must have at most ${s.maxItems} items`,
    });
  if (s.uniqueItems && new Set(v.map((x) => JSON.stringify(x))).size !== v.length)
    out.push({ reason: 'FieldValueDuplicate', field: path, message: 'Duplicate value' });
  if (s.items) v.forEach((item, i) => validate(item, s.items, `${path}[${i}]`, out));
}

function checkObject(v: JsonObject, s: JSONSchemaProps, path: string, out: Causes, root: boolean): void {
  const at = (k: string) => (path ? `${path}.${k}` : k);
  for (const key of s.required ?? []) {
    if (v[key] === undefined)
      out.push({ reason: 'FieldValueRequired', field: at(key), message: 'Required value' });
  }
  const n = Object.keys(v).length;
  if (s.minProperties !== undefined && n < s.minProperties)
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `should have at least ${s.minProperties} properties`,
    });
  if (s.maxProperties !== undefined && n > s.maxProperties)
    out.push({
      reason: 'FieldValueTooMany',
      field: path,
      message: `should have at most ${s.maxProperties} properties`,
    });
  for (const [key, child] of Object.entries(v)) {
    if (root && ROOT_KEEP.has(key)) continue;
    const sub =
      s.properties?.[key] ??
      (isObject(s.additionalProperties) ? (s.additionalProperties as JSONSchemaProps) : undefined);
    validate(child, sub, at(key), out);
  }
}

function checkCombinators(v: unknown, s: JSONSchemaProps, path: string, out: Causes): void {
  const passes = (sub: JSONSchemaProps) => {
    const inner: Causes = [];
    validate(v, sub, path, inner);
    return inner.length === 0;
  };
  for (const sub of s.allOf ?? []) validate(v, sub, path, out);
  if (s.anyOf && !s.anyOf.some(passes))
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: ${show(v)}: must validate at least one schema (anyOf)`,
    });
  if (s.oneOf && s.oneOf.filter(passes).length !== 1)
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: ${show(v)}: must validate one and only one schema (oneOf)`,
    });
  if (s.not && passes(s.not))
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: ${show(v)}: must not validate the schema (not)`,
    });
}

export function validate(
  v: unknown,
  s: JSONSchemaProps | undefined,
  path: string,
  out: Causes,
  root = false,
): void {
  if (!s || v === undefined) return;
  if (v === null) {
    if (!s.nullable && s.type)
      out.push({
        reason: 'FieldValueInvalid',
        field: path,
        message: `Invalid value: "null": ${path} in body must be of type ${s.type}: "null"`,
      });
    return;
  }
  if (!typeOk(v, s)) {
    const actual = Array.isArray(v)
      ? 'array'
      : typeof v === 'number' && !Number.isInteger(v)
        ? 'number'
        : typeof v;
    out.push({
      reason: 'FieldValueInvalid',
      field: path,
      message: `Invalid value: ${show(v)}: ${path} in body must be of type ${s['x-kubernetes-int-or-string'] ? 'integer or string' : s.type}: "${actual}"`,
    });
    return;
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v)))
    out.push({
      reason: 'FieldValueNotSupported',
      field: path,
      message: `Unsupported value: ${show(v)}: supported values: ${s.enum.map(show).join(', ')}`,
    });
  if (typeof v === 'number') checkNumber(v, s, path, out);
  if (typeof v === 'string') checkString(v, s, path, out);
  if (Array.isArray(v)) checkArray(v, s, path, out);
  if (isObject(v)) checkObject(v, s, path, out, root);
  checkCombinators(v, s, path, out);
}

/** Prunes, defaults and validates a custom resource in place; returns the causes of failure. */
export function admitCustomResource(obj: JsonObject, schema: JSONSchemaProps | undefined): Causes {
  if (!schema) return [];
  pruneAndDefault(obj, schema, true);
  const out: Causes = [];
  validate(obj, schema, '', out, true);
  // metadata is never pruned, but a schema may restrict the name.
  const meta = schema.properties?.metadata?.properties;
  const metadata = isObject(obj.metadata) ? obj.metadata : {};
  for (const field of ['name', 'generateName'])
    validate(metadata[field], meta?.[field], `metadata.${field}`, out);
  return out;
}

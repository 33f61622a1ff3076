// Malformed requests for the fuzz test, derived from the OpenAPI document's operations, plus
// hand-written nasties. Every request to an operation that writes is made invalid for certain
// (checked against the operation's own schemas, or refused at parsing or authentication), so no
// generated request may legitimately change anything; reads may come out valid.
import { randomUUID } from 'node:crypto';
import type { Rng } from './prng.ts';
import { admittedTypes, validates, type Operation, type Parameter, type Schema } from './openapi.ts';
import {
  deepArray,
  deepObject,
  DupObject,
  NASTY_NUMBERS,
  NASTY_STRINGS,
  NUMBERS_AS_STRINGS,
  RawJson,
  setOwn,
  validValue,
  writeJson,
  wrongTypeValue,
} from './values.ts';

export interface FuzzKeys {
  /** A valid token per role. */
  byRole: Record<string, string>;
  /** Tokens that must be refused: a wrong secret, a revoked key, … */
  refused: string[];
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** What was generated, for failure reports. */
  label: string;
  /** Certainly refused before anything is written (always true for writes). */
  invalid: boolean;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const isWrite = (method: string) => WRITE_METHODS.has(method.toUpperCase());

export const BODY_LIMIT_BYTES = 1024 * 1024;

// ---------------------------------------------------------------- authorization

/** Authorization headers that no route may accept. */
export function badAuthorizations(keys: FuzzKeys): string[] {
  const some = Object.values(keys.byRole)[0] ?? 'sy_aaaaaaaaaaaa.x';
  const [prefix = 'sy_aaaaaaaaaaaa'] = some.split('.');
  return [
    '',
    'Bearer',
    'Bearer ',
    'Bearer  ',
    `Bearer ${'A'.repeat(600)}`,
    `Bearer ${prefix}`,
    `Bearer ${prefix}.`,
    `Bearer ${prefix}.${'A'.repeat(43)}`,
    `Bearer ${prefix}.${'A'.repeat(4000)}`,
    `Bearer sy_zzzzzzzzzzzz.${'B'.repeat(43)}`,
    'Bearer sy_!!!!!!!!!!!!.????',
    `Bearer ${some} extra`,
    `Bearer\t${some}`,
    `Basic ${Buffer.from('operator:secret').toString('base64')}`,
    `Token ${some}`,
    `${some}`,
    'Bearer ﷽',
    'Bearer 🔑🔑🔑',
    'Bearer \u202esy_aaaaaaaaaaaa.x',
    `Bearer ${some.toUpperCase()}`,
    ...keys.refused.map((t) => `Bearer ${t}`),
  ];
}

// ---------------------------------------------------------------- body mutations

type Path = Array<string | number>;
interface Slot {
  path: Path;
  schema: Schema;
  required: boolean;
}

/** The branch of an anyOf/oneOf the value is an instance of (or the schema itself). */
function branchFor(schema: Schema, value: unknown): Schema {
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (!branches) return schema;
  return branches.find((b) => validates(b, value)) ?? branches.find((b) => b.type !== 'null') ?? schema;
}

/** Every field of a (valid) value with its schema, down to a few levels. */
function slotsOf(schema: Schema, value: unknown, path: Path = [], out: Slot[] = []): Slot[] {
  if (path.length > 4) return out;
  const s = branchFor(schema, value);
  if (Array.isArray(value) && s.items && typeof s.items === 'object') {
    value.forEach((v, i) => {
      out.push({ path: [...path, i], schema: s.items as Schema, required: false });
      slotsOf(s.items as Schema, v, [...path, i], out);
    });
  } else if (value !== null && typeof value === 'object') {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const required = new Set((s.required ?? []) as string[]);
    for (const [k, ps] of Object.entries(props)) {
      out.push({ path: [...path, k], schema: ps, required: required.has(k) });
      if (Object.hasOwn(value, k)) slotsOf(ps, (value as Record<string, unknown>)[k], [...path, k], out);
    }
  }
  return out;
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> | undefined {
  let at: unknown = root;
  for (const p of path.slice(0, -1)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[p];
  }
  return at !== null && typeof at === 'object' ? (at as Record<string | number, unknown>) : undefined;
}

function setAt(root: unknown, path: Path, value: unknown): boolean {
  const parent = parentOf(root, path);
  const last = path[path.length - 1];
  if (!parent || last === undefined) return false;
  if (Array.isArray(parent)) parent[last as number] = value;
  else setOwn(parent as Record<string, unknown>, String(last), value);
  return true;
}

function deleteAt(root: unknown, path: Path): boolean {
  const parent = parentOf(root, path);
  const last = path[path.length - 1];
  if (!parent || last === undefined || Array.isArray(parent)) return false;
  return delete parent[last];
}

/** A value just outside a field's bounds, or undefined if it has none. */
function outOfRange(s: Schema, rng: Rng): unknown {
  const b = branchFor(s, undefined);
  const options: Array<() => unknown> = [];
  const num = (x: number) => () => new RawJson(String(x));
  if (typeof b.maximum === 'number') options.push(num(b.maximum + 1), num(b.maximum * 10 + 1), num(1e308));
  if (typeof b.minimum === 'number') options.push(num(b.minimum - 1), num(-1e308), num(b.minimum - 0.5));
  if (typeof b.exclusiveMinimum === 'number') options.push(num(b.exclusiveMinimum));
  if (typeof b.exclusiveMaximum === 'number') options.push(num(b.exclusiveMaximum));
  if (b.type === 'integer') options.push(num(1.5), () => new RawJson('2.000001'));
  if (typeof b.maxLength === 'number') {
    const n = b.maxLength;
    options.push(
      () => 'x'.repeat(n + 1),
      () => 'x'.repeat(Math.min(n * 10 + 1, 200_000)),
      () => '🔥'.repeat(n + 1),
    );
  }
  if (typeof b.minLength === 'number' && b.minLength > 0) options.push(() => '');
  if (Array.isArray(b.enum))
    options.push(
      () => `${String(rng.pick(b.enum as unknown[]))}\u0000`,
      () => 'not-a-value',
    );
  if (typeof b.maxItems === 'number') {
    const n = b.maxItems;
    options.push(() => Array.from({ length: n + 1 }, () => validValue((b.items ?? {}) as Schema, rng)));
  }
  if (typeof b.minItems === 'number' && b.minItems > 0) options.push(() => []);
  return options.length ? rng.pick(options)() : undefined;
}

const FORBIDDEN_FIELDS = [
  'zzUnknown',
  'brokerId',
  'id',
  'role',
  'tenant',
  'prototype',
  'isAdmin',
  'createdAt',
];

type BodyMutation = (
  base: unknown,
  schema: Schema,
  rng: Rng,
) => { value: unknown; label: string } | undefined;

const pickSlot = (slots: Slot[], rng: Rng, filter: (s: Slot) => boolean) => {
  const fit = slots.filter(filter);
  return fit.length ? rng.pick(fit) : undefined;
};

const BODY_MUTATIONS: Record<string, BodyMutation> = {
  'drop-required': (base, schema, rng) => {
    const slot = pickSlot(slotsOf(schema, base), rng, (s) => s.required);
    if (!slot || !deleteAt(base, slot.path)) return undefined;
    return { value: base, label: `without required ${slot.path.join('.')}` };
  },
  'wrong-type': (base, schema, rng) => {
    const slot = pickSlot(slotsOf(schema, base), rng, () => true);
    if (!slot) return undefined;
    const v = wrongTypeValue(admittedTypes(slot.schema), rng);
    if (v === undefined || !setAt(base, slot.path, v)) return undefined;
    return { value: base, label: `${slot.path.join('.')} of a wrong type` };
  },
  'out-of-range': (base, schema, rng) => {
    const slot = pickSlot(slotsOf(schema, base), rng, (s) => outOfRange(s.schema, rng) !== undefined);
    if (!slot) return undefined;
    const v = outOfRange(slot.schema, rng);
    if (v === undefined || !setAt(base, slot.path, v)) return undefined;
    return { value: base, label: `${slot.path.join('.')} out of range` };
  },
  'number-nasty': (base, schema, rng) => {
    const slots = slotsOf(schema, base);
    const slot =
      pickSlot(slots, rng, (s) => admittedTypes(s.schema)?.has('number') ?? false) ??
      pickSlot(slots, rng, () => true);
    if (!slot) return undefined;
    const v = rng.chance(0.5) ? new RawJson(rng.pick(NASTY_NUMBERS)) : rng.pick(NUMBERS_AS_STRINGS);
    if (!setAt(base, slot.path, v)) return undefined;
    return {
      value: base,
      label: `${slot.path.join('.')} = ${v instanceof RawJson ? v.text : JSON.stringify(v)}`,
    };
  },
  'string-nasty': (base, schema, rng) => {
    const slot = pickSlot(slotsOf(schema, base), rng, () => true);
    if (!slot) return undefined;
    const v = rng.pick(NASTY_STRINGS);
    if (!setAt(base, slot.path, v)) return undefined;
    return { value: base, label: `${slot.path.join('.')} = nasty string (${v.length} chars)` };
  },
  'extra-field': (base, schema, rng) => {
    const objects = slotsOf(schema, base).filter((s) => {
      const v = parentOf(base, [...s.path, 'x']);
      return v !== undefined && !Array.isArray(v);
    });
    const field = rng.pick(FORBIDDEN_FIELDS);
    const target = objects.length && rng.chance(0.3) ? rng.pick(objects).path : [];
    const at = target.length ? parentOf(base, [...target, field]) : base;
    if (!at || typeof at !== 'object' || Array.isArray(at)) return undefined;
    setOwn(at as Record<string, unknown>, field, rng.pick<unknown>([randomUUID(), 1, true, 'operator', {}]));
    return { value: base, label: `extra field ${[...target, field].join('.')}` };
  },
  'proto-poison': (base, schema, rng) => {
    const poison = rng.pick<unknown>([
      JSON.parse('{"__proto__":{"polluted":"yes"}}'),
      JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}'),
      JSON.parse('{"a":[{"__proto__":{"polluted":"yes"}}]}'),
    ]);
    const slot = pickSlot(slotsOf(schema, base), rng, () => true);
    const into = rng.chance(0.5) || !slot ? base : parentOf(base, slot.path);
    if (!into || typeof into !== 'object' || Array.isArray(into))
      return { value: poison, label: 'poisoned body' };
    for (const k of Object.keys(poison as object))
      setOwn(into as Record<string, unknown>, k, (poison as Record<string, unknown>)[k]);
    return { value: base, label: 'prototype-poisoning keys' };
  },
  'deep-nesting': (base, schema, rng) => {
    const deep = rng.chance(0.5) ? deepArray() : deepObject();
    const slot = pickSlot(slotsOf(schema, base), rng, () => true);
    if (!slot || rng.chance(0.3)) return { value: deep, label: '10,000 levels of nesting as the body' };
    setAt(base, slot.path, deep);
    return { value: base, label: `${slot.path.join('.')} nested 10,000 levels` };
  },
  'array-for-object': (base, schema, rng) => {
    const slot = pickSlot(slotsOf(schema, base), rng, (s) => admittedTypes(s.schema)?.has('object') === true);
    if (!slot || rng.chance(0.5)) return { value: [base], label: 'an array for the body' };
    const parent = parentOf(base, slot.path);
    const last = slot.path[slot.path.length - 1]!;
    setAt(base, slot.path, [parent?.[last]]);
    return { value: base, label: `${slot.path.join('.')} as an array` };
  },
  'body-replace': (_base, _schema, rng) => {
    const v = rng.pick<unknown>([null, 0, -1, 'body', true, [], '', new RawJson('1e309'), [[[]]]]);
    return { value: v, label: `body ${writeJson(v)}` };
  },
  'duplicate-keys': (base, schema, rng) => {
    if (base === null || typeof base !== 'object' || Array.isArray(base)) return undefined;
    const entries = Object.entries(base);
    const slot = pickSlot(slotsOf(schema, base), rng, (s) => s.path.length === 1);
    const key = slot ? String(slot.path[0]) : 'zzUnknown';
    const bad = wrongTypeValue(slot ? admittedTypes(slot.schema) : undefined, rng) ?? null;
    // The last occurrence is the one a JSON parser keeps: the invalid one goes last.
    return { value: new DupObject([...entries, [key, bad]]), label: `duplicate key ${key}` };
  },
};

const INVALID_JSON: Array<(text: string) => string> = [
  (t) => t.slice(0, Math.max(1, Math.floor(t.length / 2))),
  (t) => `${t},`,
  (t) => t.replace(/"/g, "'"),
  (t) => `// comment\n${t}`,
  () => '{"a": NaN}',
  () => '{"a": Infinity}',
  () => '{"a": undefined}',
  () => '{a: 1}',
  () => '{"a": 1,}',
  () => '{"a": "\\x41"}',
  () => '{"a": "\u0000"}',
  () => '{"a": 01}',
  () => '[',
  () => '{',
  () => '"',
  () => 'nul',
  () => '\u0000',
  () => '{"a":"\\ud800"',
];

// ---------------------------------------------------------------- parameters

function paramValue(p: Parameter, rng: Rng): string {
  const v = validValue(p.schema ?? { type: 'string' }, rng);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function nastyParamValue(p: Parameter, rng: Rng): string {
  const s = p.schema ?? {};
  const oor = outOfRange(s, rng);
  const choices: string[] = [
    rng.pick(NASTY_STRINGS).slice(0, 5000),
    rng.pick(NUMBERS_AS_STRINGS),
    rng.pick(NASTY_NUMBERS),
    randomUUID(),
    'x'.repeat(rng.pick([37, 101, 257, 5000])),
    '',
  ];
  if (oor !== undefined)
    choices.push(oor instanceof RawJson ? oor.text : typeof oor === 'string' ? oor : JSON.stringify(oor));
  return rng.pick(choices);
}

/** A path segment nothing should match, encoded or raw. */
const NASTY_SEGMENTS = [
  'not-an-id',
  '..',
  '%2e%2e',
  '%2F',
  '%00',
  '%E0%A4%A',
  '%',
  '%ff%fe',
  '-1',
  '0',
  '1e309',
  'NaN',
  "'%20OR%201=1--",
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
  '%F0%9F%94%A5',
  '%E2%80%AE',
  'x'.repeat(150),
  '__proto__',
  'constructor',
];

/** Percent-encoding; a lone surrogate goes as its (invalid UTF-8) WTF-8 bytes, as a sloppy client would send it. */
const enc = (s: string) =>
  s.replace(/[\s\S]/gu, (ch) => {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff)
      return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    return encodeURIComponent(ch);
  });

function queryString(op: Operation, rng: Rng, nasty: boolean): string {
  const parts: string[] = [];
  for (const p of op.parameters.filter((x) => x.in === 'query')) {
    if (!nasty && !p.required && rng.chance(0.5)) continue;
    const v = nasty && rng.chance(0.6) ? nastyParamValue(p, rng) : paramValue(p, rng);
    parts.push(`${enc(p.name)}=${enc(v)}`);
    if (nasty && rng.chance(0.1)) parts.push(`${enc(p.name)}=${enc(paramValue(p, rng))}`);
  }
  if (nasty && rng.chance(0.3)) {
    parts.push(
      rng.pick([
        '__proto__[polluted]=1',
        'constructor[prototype][polluted]=1',
        '__proto__.polluted=1',
        'a[]=1&a[]=2',
        'a[b][c][d][e]=1',
        '%ZZ=%ZZ',
        '%=%',
        '&&&',
        '=',
        ';;',
        `zz=${'y'.repeat(10_000)}`,
        'limit=1&limit=2&limit=3',
        `${'k'.repeat(3000)}=1`,
        'q=%F0%9F%94%A5%E2%80%AE',
      ]),
    );
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

// ---------------------------------------------------------------- requests for an operation

export interface OperationRequestOptions {
  keys: FuzzKeys;
  allRoles: readonly string[];
}

interface Draft {
  method: string;
  pathValues: Record<string, string>;
  pathInvalid: boolean;
  query: string;
  headers: Record<string, string>;
  headerInvalid: boolean;
  payload?: string | Buffer;
  bodyInvalid: boolean;
  authInvalid: boolean;
  labels: string[];
}

function chooseAuth(
  op: Operation,
  d: Draft,
  rng: Rng,
  opts: OperationRequestOptions,
  forceBad: boolean,
): void {
  if (op.isPublic) {
    if (rng.chance(0.1)) d.headers.authorization = rng.pick(badAuthorizations(opts.keys));
    return;
  }
  const wrongRoles = opts.allRoles.filter((r) => !op.roles.includes(r));
  if (forceBad || rng.chance(0.1)) {
    if (wrongRoles.length && rng.chance(0.3)) {
      const role = rng.pick(wrongRoles);
      d.headers.authorization = `Bearer ${opts.keys.byRole[role]}`;
      d.labels.push(`as ${role} (not allowed)`);
    } else {
      const bad = rng.pick(badAuthorizations(opts.keys));
      if (bad === '') delete d.headers.authorization;
      else d.headers.authorization = bad;
      d.labels.push('with a bad Authorization');
    }
    d.authInvalid = true;
    return;
  }
  const role = op.roles.length ? rng.pick(op.roles) : rng.pick(opts.allRoles);
  d.headers.authorization = `Bearer ${opts.keys.byRole[role]}`;
}

function choosePath(op: Operation, d: Draft, rng: Rng): void {
  for (const p of op.parameters.filter((x) => x.in === 'path')) {
    if (rng.chance(0.5)) {
      const raw = rng.pick(NASTY_SEGMENTS);
      d.pathValues[p.name] = raw;
      let decoded: string | undefined;
      try {
        decoded = decodeURIComponent(raw);
      } catch {
        decoded = undefined;
      }
      if (decoded === undefined || (p.schema && !validates(p.schema, decoded))) d.pathInvalid = true;
      d.labels.push(`${p.name}=${raw.slice(0, 40)}`);
    } else {
      d.pathValues[p.name] = enc(paramValue(p, rng));
    }
  }
}

function chooseHeaders(op: Operation, d: Draft, rng: Rng): void {
  for (const p of op.parameters.filter((x) => x.in === 'header')) {
    const name = p.name.toLowerCase();
    if (rng.chance(0.3)) {
      const options = [
        undefined,
        '',
        ' ',
        'x'.repeat(rng.pick([256, 300, 1000, 8000])),
        ' leading-space',
        'trailing-space ',
        'tab\there',
        'ünïcödé',
        '🔑',
        '\u0000',
        '\u202ertl',
      ];
      const v = rng.pick(options);
      if (v === undefined) delete d.headers[name];
      else d.headers[name] = v;
      if (p.schema && (v === undefined ? p.required === true : !validates(p.schema, v)))
        d.headerInvalid = true;
      d.labels.push(`${name}: ${v === undefined ? '(none)' : JSON.stringify(v.slice(0, 30))}`);
    } else {
      d.headers[name] = name === 'idempotency-key' ? `fuzz-${randomUUID()}` : paramValue(p, rng);
    }
  }
}

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/xml',
  'application/octet-stream',
  'application/problem+json',
  'application/merge-patch+json',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json, text/plain',
  'APPLICATION/JSON',
  'application/jsonp',
  'json',
  '*/*',
  '',
  'application/json; boundary=";"',
];

function chooseBody(op: Operation, d: Draft, rng: Rng): void {
  const schema = op.body;
  if (!schema) {
    if (isWrite(op.method) && rng.chance(0.2)) {
      d.headers['content-type'] = 'application/json';
      d.payload = writeJson(rng.pick<unknown>([{ zzUnknown: 1 }, deepArray(), [1, 2]]));
      d.labels.push('a body where none is taken');
    }
    return;
  }
  d.headers['content-type'] = 'application/json';
  const roll = rng.next();
  if (roll < 0.02) {
    d.payload = Buffer.alloc(BODY_LIMIT_BYTES + rng.int(1, 64 * 1024), 0x20);
    d.bodyInvalid = true;
    d.labels.push(`a body of ${d.payload.length} bytes`);
    return;
  }
  const base = validValue(schema, rng);
  const clone = base === undefined ? undefined : (JSON.parse(JSON.stringify(base)) as unknown);
  if (roll < 0.08) {
    d.payload = rng.pick(INVALID_JSON)(JSON.stringify(clone ?? {}));
    d.bodyInvalid = true;
    d.labels.push('invalid JSON');
    return;
  }
  const names = Object.keys(BODY_MUTATIONS);
  let value: unknown = clone;
  for (let i = 0, n = rng.int(1, 3); i < n; i++) {
    const r = BODY_MUTATIONS[rng.pick(names)]!(value, schema, rng);
    if (r) {
      value = r.value;
      d.labels.push(r.label);
    }
  }
  const text = writeJson(value);
  d.bodyInvalid = certainlyInvalidBody(schema, text);
  // A byte-order mark changes nothing (JSON parsers drop it): whatever the text was, it stays.
  d.payload = rng.chance(0.03) ? `\ufeff${text}` : text;
  if (rng.chance(0.1)) {
    const ct = rng.pick(CONTENT_TYPES);
    if (ct === '') delete d.headers['content-type'];
    else d.headers['content-type'] = ct;
    d.labels.push(`content-type ${JSON.stringify(ct)}`);
  }
}

/** True when a JSON text breaks the schema (or cannot be parsed, or poisons) for certain. */
export function certainlyInvalidBody(schema: Schema, text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return true;
  }
  if (/"__proto__"\s*:/.test(text) || /"constructor"\s*:\s*\{[^{}]*"prototype"/.test(text)) return true;
  return !validates(schema, parsed);
}

function render(op: Operation, d: Draft): FuzzRequest {
  const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => d.pathValues[name] ?? 'x');
  return {
    method: d.method,
    url: `${path}${d.query}`,
    headers: d.headers,
    ...(d.payload !== undefined ? { payload: d.payload } : {}),
    label: `${op.operationId}: ${d.labels.join('; ') || 'plain'}`,
    invalid: d.pathInvalid || d.headerInvalid || d.bodyInvalid || d.authInvalid,
  };
}

/**
 * One malformed request to an operation. Writes are re-drawn until they are invalid for certain,
 * and after a few tries sent with a refused key instead.
 */
export function operationRequest(op: Operation, rng: Rng, opts: OperationRequestOptions): FuzzRequest {
  const write = isWrite(op.method);
  for (let attempt = 0; ; attempt++) {
    const d: Draft = {
      method: op.method,
      pathValues: {},
      pathInvalid: false,
      query: '',
      headers: {},
      headerInvalid: false,
      bodyInvalid: false,
      authInvalid: false,
      labels: [],
    };
    chooseAuth(op, d, rng, opts, write && attempt >= 5);
    choosePath(op, d, rng);
    chooseHeaders(op, d, rng);
    d.query = queryString(op, rng, !write || rng.chance(0.3));
    chooseBody(op, d, rng);
    if (!write && rng.chance(0.05)) d.method = 'HEAD';
    const r = render(op, d);
    if (!write || r.invalid) return r;
    if (attempt > 10) throw new Error(`cannot make an invalid request for ${op.operationId}`);
  }
}

// ---------------------------------------------------------------- hand-written nasties

const STRANGE_PATHS = [
  '/api/v2/farm',
  '/api/v1',
  '/api/v1/',
  '/api//v1//farm',
  '/API/V1/FARM',
  '/api/v1/farm/',
  '/api/v1/farm%00',
  '/api/v1/farm;jsessionid=1',
  '/api/v1/../../etc/passwd',
  '/api/v1/%2e%2e/%2e%2e/etc/passwd',
  '/api/v1/..%2f..%2fetc%2fpasswd',
  `/api/v1/${'x'.repeat(5000)}`,
  `/${'a/'.repeat(500)}`,
  '/%',
  '/%E0%A4%A',
  '/%F0%9F%94%A5',
  '/\u202e',
  '//',
  '/docs/../openapi.json',
  '/openapi.json/..',
  '/healthz/../api/v1/keys',
  '/api/v1/keys/%2e%2e',
  '/api/v1/keys/..;/',
  '/admin',
  '/admin/queues/../../api/v1/keys',
  '/.env',
  '/api/v1/farm?',
  '/api/v1/farm#fragment',
];

const STRANGE_METHODS = [
  'PROPFIND',
  'TRACE',
  'OPTIONS',
  'PATCH',
  'PUT',
  'SEARCH',
  'LOCK',
  'MKCOL',
  'PURGE',
  'COPY',
  'MOVE',
];

/** A hand-written nasty, anywhere in the API. */
export function nastyRequest(ops: Operation[], rng: Rng, keys: FuzzKeys): FuzzRequest {
  const anyKey = `Bearer ${rng.pick(Object.values(keys.byRole))}`;
  const op = rng.pick(ops);
  const concretePath = op.path.replace(/\{[^}]+\}/g, () => randomUUID());
  const routed = new Set(ops.filter((o) => o.path === op.path).map((o) => o.method));
  const kinds: Array<() => FuzzRequest> = [
    () => ({
      method: rng.pick(['GET', 'POST', 'DELETE', 'HEAD']),
      url: rng.pick(STRANGE_PATHS),
      headers: rng.chance(0.5) ? { authorization: anyKey } : ({} as Record<string, string>),
      label: 'strange path',
      invalid: true,
    }),
    () => ({
      method: rng.pick(STRANGE_METHODS.filter((m) => !routed.has(m))),
      url: concretePath,
      headers: { authorization: anyKey, 'content-type': 'application/json' },
      payload: '{"zzUnknown":1}',
      label: 'unrouted method',
      invalid: true,
    }),
    () => ({
      method: isWrite(op.method) ? op.method : 'POST',
      url: concretePath,
      headers: {
        authorization: anyKey,
        'content-type': rng.pick(['application/json', 'text/plain', 'application/octet-stream']),
      },
      payload: Buffer.alloc(BODY_LIMIT_BYTES + rng.int(1, 1024 * 1024), 0x7b),
      label: 'a body over 1 MiB',
      invalid: true,
    }),
    () => ({
      method: isWrite(op.method) ? op.method : 'POST',
      url: concretePath,
      headers: { authorization: rng.pick(badAuthorizations(keys)) },
      label: 'garbage Authorization',
      invalid: true,
    }),
    () => ({
      method: 'GET',
      url: concretePath,
      headers: {
        authorization: anyKey,
        'content-type': 'application/json',
        'x-request-id': rng.pick(['', 'x'.repeat(5000), '\u202e', '../../', '{"a":1}']),
        accept: rng.pick(['application/xml', '*/*;q=0', 'text/html', '']),
        'accept-encoding': rng.pick(['gzip;q=2', 'br, deflate, *', 'identity;q=0']),
      },
      payload: writeJson(deepObject()),
      label: 'a GET with a body and odd headers',
      invalid: true,
    }),
    () => ({
      method: isWrite(op.method) ? op.method : 'POST',
      url: concretePath,
      headers: {
        authorization: anyKey,
        'content-type': 'application/json',
        'content-encoding': rng.pick(['gzip', 'br', 'x-unknown']),
      },
      // gzip's magic bytes, then garbage: not JSON, however it is read
      payload: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x7b, 0x22]),
      label: 'a body claimed compressed',
      invalid: true,
    }),
  ];
  return rng.pick(kinds)();
}

// Values for the fuzz test: a plausible valid instance of a schema (the base a mutation breaks),
// hostile values of every kind, and a JSON writer that can say what JSON.stringify cannot
// (1e309, duplicate keys, 10,000 levels of nesting, a `__proto__` key).
import { randomUUID } from 'node:crypto';
import type { Rng } from './prng.ts';
import { typesOf, type Schema } from './openapi.ts';

/** JSON text put into a document as is. */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** An object written with these entries in this order, duplicates included. */
export class DupObject {
  readonly entries: Array<[string, unknown]>;
  constructor(entries: Array<[string, unknown]>) {
    this.entries = entries;
  }
}

/** Sets a field, `__proto__` included, as an own property. */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

export function writeJson(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof DupObject)
    return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${writeJson(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(writeJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${writeJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  if (v === undefined) return 'null';
  return JSON.stringify(v);
}

export const DEEP_LEVELS = 10_000;
export const deepArray = (levels = DEEP_LEVELS) => new RawJson(`${'['.repeat(levels)}${']'.repeat(levels)}`);
export const deepObject = (levels = DEEP_LEVELS) =>
  new RawJson(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);

/** Strings no input should trip over. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u202eevil\u202c',
  'مرحبا بالعالم',
  'שלום',
  '🔥💥🚀',
  '👨‍👩‍👧‍👦',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\u200b\u200c\u200d\ufeff',
  'Ω≈ç√∫˜µ≤≥÷',
  'İıŞş',
  'e\u0301\u0301\u0301\u0301',
  '\r\n\t\v\f\b',
  "' OR '1'='1' --",
  '"; DROP TABLE brokers; --',
  '../../../../etc/passwd',
  '%00%2e%2e%2f',
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '\\',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-0',
  '0x1F',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'x'.repeat(70_000),
];

/** Numbers out of every range, as JSON text. */
export const NASTY_NUMBERS: readonly string[] = [
  '1e309',
  '-1e309',
  '1e308',
  '-1e308',
  '9007199254740993',
  '-9007199254740993',
  '1e21',
  '-1',
  '-2147483649',
  '4294967296',
  '0.5',
  '1.0000000000000002',
  '-0.0000001',
  '123456789012345678901234567890',
];

/** Strings that are numbers only to a careless parser. */
export const NUMBERS_AS_STRINGS: readonly string[] = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '0x10',
  '1_000',
  ' 5',
  '5 ',
  '',
  '١٢٣',
];

const ISO = '2026-07-01T17:00:00Z';

function validString(s: Schema, rng: Rng): string {
  const examples = s.examples as unknown[] | undefined;
  if (examples?.length && typeof examples[0] === 'string') return examples[0];
  if (s.format === 'date-time' || (typeof s.pattern === 'string' && s.pattern.includes('\\d{4}-\\d{2}')))
    return ISO;
  if (s.format === 'uuid' || (typeof s.pattern === 'string' && s.pattern.includes('{8}-')))
    return randomUUID();
  if (s.format === 'uri' || s.format === 'url') return 'https://broker.example/hook';
  const min = typeof s.minLength === 'number' ? s.minLength : 1;
  const max = typeof s.maxLength === 'number' ? s.maxLength : min + 8;
  return 'a'.repeat(Math.max(1, Math.min(max, min + rng.int(0, 4))));
}

function validNumber(s: Schema, integer: boolean): number {
  const lo =
    typeof s.minimum === 'number'
      ? s.minimum
      : typeof s.exclusiveMinimum === 'number'
        ? s.exclusiveMinimum + (integer ? 1 : 0.5)
        : undefined;
  const hi =
    typeof s.maximum === 'number'
      ? s.maximum
      : typeof s.exclusiveMaximum === 'number'
        ? s.exclusiveMaximum - (integer ? 1 : 0.5)
        : undefined;
  const v = lo !== undefined ? lo : hi !== undefined ? Math.min(1, hi) : 1;
  return integer ? Math.ceil(v) : v;
}

/** A plausible valid instance of a schema (best effort: a mutation makes it invalid anyway). */
export function validValue(s: Schema, rng: Rng, depth = 0): unknown {
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return rng.pick(s.enum);
  const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (branches?.length) {
    const nonNull = branches.filter((b) => b.type !== 'null');
    return validValue(rng.pick(nonNull.length ? nonNull : branches), rng, depth);
  }
  const types = typesOf(s) ?? (s.properties ? ['object'] : ['string']);
  const type = types.find((t) => t !== 'null') ?? 'null';
  switch (type) {
    case 'string':
      return validString(s, rng);
    case 'integer':
    case 'number':
      return validNumber(s, type === 'integer');
    case 'boolean':
      return rng.chance(0.5);
    case 'array': {
      const n = typeof s.minItems === 'number' ? Math.max(1, s.minItems) : 1;
      const items = (s.items ?? {}) as Schema;
      return depth > 6 ? [] : Array.from({ length: n }, () => validValue(items, rng, depth + 1));
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = new Set((s.required ?? []) as string[]);
      for (const [k, ps] of Object.entries(props)) {
        if (depth > 6 && !required.has(k)) continue;
        if (required.has(k) || rng.chance(0.6)) setOwn(out, k, validValue(ps, rng, depth + 1));
      }
      return out;
    }
    default:
      return null;
  }
}

/** A value of a JSON type other than the ones given (undefined: every type is allowed). */
export function wrongTypeValue(admitted: Set<string> | undefined, rng: Rng): unknown {
  const candidates: Array<[string, () => unknown]> = [
    [
      'string',
      () => rng.pick(['1', 'true', 'null', '', 'x'.repeat(rng.int(1, 50)), rng.pick(NASTY_STRINGS)]),
    ],
    ['integer', () => new RawJson(rng.pick(['0', '1', '-1', '1e309', '9007199254740993']))],
    ['number', () => new RawJson(rng.pick(['0.5', '-1e308', '1e309']))],
    ['boolean', () => rng.chance(0.5)],
    ['null', () => null],
    ['array', () => rng.pick<unknown>([[], [1, 2, 3], [null], deepArray(rng.int(2, 50)), deepArray()])],
    ['object', () => rng.pick<unknown>([{}, { a: 1 }, deepObject(rng.int(2, 50)), deepObject()])],
  ];
  const allowed = (t: string) =>
    admitted === undefined || admitted.has(t) || (t === 'integer' && admitted.has('number'));
  const open = candidates.filter(([t]) => !allowed(t));
  if (open.length === 0) return undefined;
  return rng.pick(open)[1]();
}

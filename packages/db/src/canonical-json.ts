// Canonical JSON: one byte-exact text per JSON value, so equal content hashes equally.
// Object keys are sorted by UTF-16 code units (as RFC 8785 does), there is no whitespace,
// numbers and strings are written as JSON.stringify writes them, and object members whose
// value is undefined are left out (as JSON.stringify does). Values JSON cannot represent
// faithfully (NaN, Infinity, bigint, functions, symbols, undefined at the top or in arrays)
// are rejected instead of being silently turned into null.
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return write(value, '$', new Set());
}

/** Lowercase hex sha256 of the canonical JSON of `value`. */
export function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}

function write(value: unknown, at: string, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value))
        throw new TypeError(`canonicalJson: ${at} is ${value}, which JSON cannot represent`);
      return JSON.stringify(value); // also writes -0 as 0
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: ${at} is a ${typeof value}, which JSON cannot represent`);
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write(toJSON.call(value), at, seen);
  if (seen.has(value)) throw new TypeError(`canonicalJson: ${at} is a circular reference`);
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((v, i) => write(v, `${at}[${i}]`, seen)).join(',')}]`;
    }
    const record = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const v = record[key];
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(key)}:${write(v, `${at}.${key}`, seen)}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(value);
  }
}

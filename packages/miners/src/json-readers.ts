// Readers for untrusted JSON from miner web and TCP APIs (Braiins REST, Whatsminer API v3),
// built on the RPC field readers. Each returns null for anything that is not the expected kind
// or is out of its plausible range, so a firmware bug or a hostile reply becomes a missing
// value, never a wrong one.
import { isObject, num as rpcNum } from './rpc/fields.ts';

export { isObject };
export type Json = unknown;

/** Walks a path of keys; null when any step is missing or not an object. */
export function at(v: Json, ...path: string[]): Json {
  let cur: Json = v;
  for (const k of path) {
    if (!isObject(cur) || !Object.hasOwn(cur, k)) return null;
    cur = cur[k];
  }
  return cur ?? null;
}

/** A finite number (or a numeric string) within [min, max]; else null. */
export function num(v: Json, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number | null {
  const n = rpcNum(v);
  return n !== null && n >= min && n <= max ? n : null;
}

/** A string of at most maxLen characters, trimmed; control characters removed. */
export function str(v: Json, maxLen = 256): string | null {
  if (typeof v !== 'string') return null;
  // eslint-disable-next-line no-control-regex
  const s = v.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return s === '' ? null : s.slice(0, maxLen);
}

export function bool(v: Json): boolean | null {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1) return true;
  if (v === 'false' || v === 0) return false;
  return null;
}

/** An array, cut to at most maxItems entries; else an empty array. */
export function arr(v: Json, maxItems = 64): Json[] {
  return Array.isArray(v) ? v.slice(0, maxItems) : [];
}

/** Plausible ranges for normalized telemetry: values outside are treated as missing. */
export const RANGE = {
  hashrateThs: [0, 10_000],
  powerW: [0, 30_000],
  tempC: [-40, 200],
  fanRpm: [0, 30_000],
  jth: [0, 1_000],
  uptimeS: [0, 20 * 365 * 86_400],
  chips: [0, 10_000],
} as const satisfies Record<string, readonly [number, number]>;

export function inRange(v: Json, range: readonly [number, number]): number | null {
  return num(v, range[0], range[1]);
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A MAC address as AA:BB:CC:DD:EE:FF, or null when it is not one. */
export function normalizeMac(mac: string | null): string | null {
  if (!mac) return null;
  const m = mac.trim().toUpperCase();
  return /^[0-9A-F]{2}([:-][0-9A-F]{2}){5}$/.test(m) ? m.replace(/-/g, ':') : null;
}

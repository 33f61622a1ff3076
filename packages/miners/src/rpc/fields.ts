// Readers for cgminer-style reply fields. Firmwares disagree on spelling ("GHS 5s", "GHS_5s",
// "MHS 5s"), make typos ("Tenperature"), double a printf percent ("Pool Stale%%"), send numbers
// as strings ("1234.5") and pack several sensors into one string ("52-52-68-68"). These readers
// accept all of those and return null for anything they cannot read; they never throw.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = Record<string, unknown>;

/** STATUS letters: S success, I info, W warning, E error, F fatal. */
export type RpcStatusLetter = 'S' | 'I' | 'W' | 'E' | 'F';

export interface RpcStatus {
  status: RpcStatusLetter | null;
  code: number | null;
  msg: string | null;
  description: string | null;
  when: number | null;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A bounded, trimmed string, or null. */
export function str(v: unknown, maxLength = 256): string | null {
  if (typeof v === 'string') {
    const s = v.trim();
    return s.length === 0 ? null : s.slice(0, maxLength);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** A finite number from a number or a numeric string ("1234.5", " 12 "); null otherwise. */
export function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s.length === 0 || s.length > 40) return null;
    // Only plain decimal notation: no hex, no "Infinity".
    if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** A number within [min, max], or null. */
export function numIn(v: unknown, min: number, max: number): number | null {
  const n = num(v);
  return n !== null && n >= min && n <= max ? n : null;
}

/** A boolean from true/false, "true"/"false", "Y"/"N", 1/0. */
export function bool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true' || s === 'y' || s === 'yes' || s === '1') return true;
    if (s === 'false' || s === 'n' || s === 'no' || s === '0') return false;
  }
  return null;
}

const KEY_TYPOS: Record<string, string> = {
  tenperature: 'temperature',
  temprature: 'temperature',
};

/**
 * The canonical form of a field name: lower case, without spaces, underscores or hyphens,
 * a doubled percent made single, known typos corrected. "GHS 5s", "GHS_5s" and "ghs5s" agree.
 */
const canonicalCache = new Map<string, string>();

export function canonicalKey(key: string): string {
  const hit = canonicalCache.get(key);
  if (hit !== undefined) return hit;
  const k = canonicalKeyUncached(key);
  // Bounded: firmware field names are a small set; a hostile reply cannot grow it forever.
  if (canonicalCache.size < 4096) canonicalCache.set(key, k);
  return k;
}

function canonicalKeyUncached(key: string): string {
  const k = key
    .toLowerCase()
    .replace(/[\s_-]+/g, '')
    .replace(/%+/g, '%');
  return KEY_TYPOS[k] ?? k;
}

/**
 * The value of the first of `names` present in `obj`: exact spellings first, then any key
 * whose canonical form matches. Own properties only.
 */
export function field(obj: unknown, ...names: string[]): unknown {
  if (!isObject(obj)) return undefined;
  for (const name of names) {
    if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  }
  const index = canonicalIndex(obj);
  for (const name of names) {
    const key = index.get(canonicalKey(name));
    if (key !== undefined) return obj[key];
  }
  return undefined;
}

/** Keys considered when matching by canonical name; a reply object with more is hostile. */
const MAX_INDEXED_KEYS = 4096;
const canonicalIndexes = new WeakMap<object, Map<string, string>>();

/** Canonical name → first key with that canonical form, built once per object. */
function canonicalIndex(obj: JsonObject): Map<string, string> {
  let index = canonicalIndexes.get(obj);
  if (index === undefined) {
    index = new Map();
    let count = 0;
    for (const key of Object.keys(obj)) {
      if (++count > MAX_INDEXED_KEYS) break;
      if (key.length > 128) continue;
      const c = canonicalKey(key);
      if (!index.has(c)) index.set(c, key);
    }
    canonicalIndexes.set(obj, index);
  }
  return index;
}

/** Numbers packed in a string: "52-52-68-68", "52 52 68 68", "52,52". Empty when none. */
export function numberList(v: unknown, maxItems = 32): number[] {
  if (typeof v === 'number') return Number.isFinite(v) ? [v] : [];
  if (Array.isArray(v)) {
    return v
      .slice(0, maxItems)
      .map(num)
      .filter((x): x is number => x !== null);
  }
  if (typeof v !== 'string' || v.length > 1024) return [];
  const out: number[] = [];
  for (const part of v.split(/[\s,;/-]+/)) {
    if (out.length >= maxItems) break;
    const x = num(part);
    if (x !== null) out.push(x);
  }
  return out;
}

const UNIT_TO_THS: Record<string, number> = {
  h: 1e-12,
  kh: 1e-9,
  mh: 1e-6,
  gh: 1e-3,
  th: 1,
  ph: 1e3,
  eh: 1e6,
};

/** Converts a hashrate in `unit` ("GH", "MH/s", "ths", ...) to TH/s; null for unknown units. */
export function toThs(value: number | null, unit: string): number | null {
  if (value === null) return null;
  const u = unit
    .trim()
    .toLowerCase()
    .replace(/\/s$|s$/, '');
  const f = UNIT_TO_THS[u];
  return f === undefined ? null : value * f;
}

/** Largest plausible hashrate of one miner (TH/s); anything above is a reply error. */
export const MAX_PLAUSIBLE_THS = 5000;

function rateField(obj: unknown, window: '5s' | 'av'): number | null {
  // Highest unit first so "THS 5s" wins over a stale "MHS 5s" when both are present.
  const units: Array<[string, string]> = [
    ['THS', 'th'],
    ['GHS', 'gh'],
    ['MHS', 'mh'],
    ['KHS', 'kh'],
  ];
  for (const [prefix, unit] of units) {
    const v = num(field(obj, `${prefix} ${window}`, `${prefix}_${window}`, `${prefix}${window}`));
    if (v !== null) {
      const ths = toThs(v, unit);
      return ths !== null && ths >= 0 && ths <= MAX_PLAUSIBLE_THS ? ths : null;
    }
  }
  return null;
}

/** Short-window hashrate ("GHS 5s", "GHS_5s", "MHS 5s", "THS 5s"; numbers or strings) in TH/s. */
export function hashrate5sThs(obj: unknown): number | null {
  return rateField(obj, '5s');
}

/** Average hashrate since start ("GHS av", "MHS av", ...) in TH/s. */
export function hashrateAvgThs(obj: unknown): number | null {
  return rateField(obj, 'av');
}

/**
 * Indices n (1-based as the firmware numbers them) for which `prefix + n` is a key of obj,
 * e.g. chain_rate1..chain_rate3 → [1, 2, 3]. At most `max` indices, ascending.
 */
export function indexedKeys(obj: unknown, prefixes: readonly string[], max = 32): number[] {
  if (!isObject(obj)) return [];
  const found = new Set<number>();
  for (const key of Object.keys(obj)) {
    for (const prefix of prefixes) {
      if (key.length > prefix.length && key.length <= prefix.length + 3 && key.startsWith(prefix)) {
        const rest = key.slice(prefix.length);
        if (/^\d{1,3}$/.test(rest)) found.add(Number(rest));
      }
    }
    if (found.size >= max) break;
  }
  return [...found].sort((a, b) => a - b);
}

/** Per-board hashrate from `chain_rate<n>` (string or number) in the stats' `rate_unit` (default GH). */
export function chainRateThs(stats: unknown, index: number): number | null {
  const unit = str(field(stats, 'rate_unit')) ?? 'GH';
  const ths = toThs(num(field(stats, `chain_rate${index}`)), unit);
  return ths !== null && ths >= 0 && ths <= MAX_PLAUSIBLE_THS ? ths : null;
}

/** Plausible temperature in °C, or null (sensors report 0 or -64 when absent). */
export function temperature(v: unknown): number | null {
  const t = num(v);
  return t !== null && t > -40 && t < 200 && t !== 0 ? t : null;
}

/** The hottest of the plausible sensors in a "a-b-c-d" string or a number; null when none. */
export function maxTemperature(v: unknown): number | null {
  const temps = numberList(v)
    .map(temperature)
    .filter((t): t is number => t !== null);
  return temps.length === 0 ? null : Math.max(...temps);
}

function statusLetter(v: unknown): RpcStatusLetter | null {
  const s = typeof v === 'string' ? v.trim().toUpperCase() : '';
  return s === 'S' || s === 'I' || s === 'W' || s === 'E' || s === 'F' ? s : null;
}

/**
 * The STATUS of a reply, in the list form (`"STATUS":[{"STATUS":"S","Code":11,...}]`) or
 * Whatsminer's string form (`"STATUS":"S","Code":131,"Msg":...` at the top level). Null when
 * the reply has no recognisable STATUS.
 */
export function parseStatus(reply: unknown): RpcStatus | null {
  if (!isObject(reply)) return null;
  const raw = reply.STATUS;
  let src: JsonObject | null = null;
  let letter: RpcStatusLetter | null = null;
  if (Array.isArray(raw)) {
    const first: unknown = raw[0];
    if (!isObject(first)) return null;
    src = first;
    letter = statusLetter(first.STATUS);
  } else if (typeof raw === 'string') {
    src = reply;
    letter = statusLetter(raw);
  } else if (isObject(raw)) {
    src = raw;
    letter = statusLetter(raw.STATUS);
  }
  if (src === null) return null;
  const msg = src.Msg ?? src.msg;
  return {
    status: letter,
    code: num(src.Code ?? src.code),
    msg:
      typeof msg === 'string' ? msg.slice(0, 256) : isObject(msg) ? JSON.stringify(msg).slice(0, 256) : null,
    description: str(src.Description ?? src.description),
    when: num(src.When ?? src.when),
  };
}

/** True for S, I and W; false for E and F and an unknown letter. */
export function statusOk(status: RpcStatus | null): boolean {
  return status !== null && (status.status === 'S' || status.status === 'I' || status.status === 'W');
}

/** The objects of a reply section (`SUMMARY`, `STATS`, ...); non-objects are skipped. */
export function sectionEntries(reply: unknown, name: string, maxEntries = 64): JsonObject[] {
  const v = field(reply, name);
  if (!Array.isArray(v)) return isObject(v) ? [v] : [];
  return v.slice(0, maxEntries).filter(isObject);
}

// Lenient JSON for miner replies. Real firmware sends broken JSON (PROTOCOLS.md): bmminer's
// `}{` without a comma and `[,{`, btminer's trailing `,}` and raw newlines inside strings,
// Avalon's bare `inf`/`nan`, and trailing NULs or garbage after the reply. This module repairs
// exactly those forms in one linear pass, then hands the result to JSON.parse, so everything
// else is still validated strictly. It never throws anything but MinerError('malformed').
import { MinerError } from '../driver.ts';

export interface LenientJsonOptions {
  /** Host named in the MinerError, when there is one. */
  host?: string;
  /** Longest text accepted, in UTF-16 code units (default 8 Mi). */
  maxLength?: number;
  /** Deepest nesting of objects and arrays accepted (default 64). */
  maxDepth?: number;
}

export const LENIENT_JSON_DEFAULT_MAX_LENGTH = 8 * 1024 * 1024;
export const LENIENT_JSON_DEFAULT_MAX_DEPTH = 64;

/** Words that stand for a non-finite number; they become null. */
const NON_FINITE = new Set([
  'inf',
  '+inf',
  '-inf',
  'infinity',
  '+infinity',
  '-infinity',
  'nan',
  '+nan',
  '-nan',
]);

const ESCAPABLE = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

type Prev = 'start' | 'open' | 'comma' | 'colon' | 'value';

class Malformed extends Error {}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

function isWordChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 43 || // +
    code === 45 || // -
    code === 46 || // .
    code === 95 // _
  );
}

function isNumberChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || code === 43 || code === 45 || code === 46 || code === 69 || code === 101
  );
}

/** A bare word outside strings, as JSON text. */
function bareWord(word: string): string {
  const lower = word.toLowerCase();
  if (lower === 'true' || lower === 'false' || lower === 'null') return lower;
  if (NON_FINITE.has(lower)) return 'null';
  for (let i = 0; i < word.length; i++) {
    if (!isNumberChar(word.charCodeAt(i))) throw new Malformed(`unexpected word "${word.slice(0, 20)}"`);
  }
  const n = Number(word);
  if (!Number.isFinite(n)) throw new Malformed(`bad number "${word.slice(0, 20)}"`);
  return String(n);
}

function controlEscape(code: number): string {
  if (code === 10) return '\\n';
  if (code === 13) return '\\r';
  if (code === 9) return '\\t';
  if (code === 8) return '\\b';
  if (code === 12) return '\\f';
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One pass over the text; each method consumes one token. */
class Repairer {
  private readonly text: string;
  private readonly maxDepth: number;
  private readonly out: string[] = [];
  private readonly stack: string[] = [];
  private prev: Prev = 'start';
  private lastComma = -1;
  private i = 0;
  /** Set once the top-level value is complete; the rest of the text is ignored. */
  private done = false;

  constructor(text: string, maxDepth: number) {
    this.text = text;
    this.maxDepth = maxDepth;
  }

  run(): string {
    const { text } = this;
    // Leading whitespace, byte-order marks and NULs.
    while (this.i < text.length) {
      const c = text.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xfeff || c === 0) this.i++;
      else break;
    }
    while (!this.done && this.i < text.length) this.token();
    if (this.prev === 'start') throw new Malformed('empty reply');
    if (this.stack.length > 0) throw new Malformed('truncated: unclosed object or array');
    return this.out.join('');
  }

  private token(): void {
    const ch = this.text[this.i] as string;
    const code = this.text.charCodeAt(this.i);
    if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) this.i++;
    else if (code === 0)
      this.done = true; // NUL ends a reply
    else if (ch === '"') this.string();
    else if (ch === '{' || ch === '[') this.open(ch);
    else if (ch === '}' || ch === ']') this.close(ch);
    else if (ch === ',') this.comma();
    else if (ch === ':') this.colon();
    else if (isWordChar(code)) this.word();
    else if (this.stack.length === 0 && this.prev === 'start') throw new Malformed('not JSON');
    else throw new Malformed(`unexpected character 0x${code.toString(16).padStart(2, '0')}`);
  }

  /** Before a value: `}{`, `] [`, `"a" "b"` lack a comma; insert it. */
  private beginValue(): void {
    if (this.prev === 'value') this.out.push(',');
  }

  /** After a value: at depth 0 the reply is complete. */
  private endValue(): void {
    this.prev = 'value';
    if (this.stack.length === 0) this.done = true;
  }

  private string(): void {
    const { text, out } = this;
    this.beginValue();
    out.push('"');
    this.i++;
    while (this.i < text.length) {
      const s = text[this.i] as string;
      const sc = text.charCodeAt(this.i);
      if (s === '"') {
        out.push('"');
        this.i++;
        this.endValue();
        return;
      }
      if (s === '\\') this.escape();
      else if (sc === 0)
        break; // NUL inside a string: the reply was cut
      else {
        out.push(sc < 0x20 ? controlEscape(sc) : s);
        this.i++;
      }
    }
    throw new Malformed('unterminated string');
  }

  private escape(): void {
    const { text, out, i } = this;
    const next = text[i + 1];
    if (next === undefined) throw new Malformed('unterminated string');
    if (ESCAPABLE.has(next)) {
      out.push('\\', next);
      this.i += 2;
    } else if (
      next === 'u' &&
      isHex(text[i + 2]) &&
      isHex(text[i + 3]) &&
      isHex(text[i + 4]) &&
      isHex(text[i + 5])
    ) {
      out.push(text.slice(i, i + 6));
      this.i += 6;
    } else {
      // A lone backslash: keep it as a literal backslash.
      out.push('\\\\');
      this.i++;
    }
  }

  private open(ch: string): void {
    this.beginValue();
    this.stack.push(ch);
    if (this.stack.length > this.maxDepth) throw new Malformed(`nested deeper than ${this.maxDepth}`);
    this.out.push(ch);
    this.prev = 'open';
    this.i++;
  }

  private close(ch: string): void {
    const open = this.stack.pop();
    if (open === undefined) throw new Malformed(`unexpected "${ch}"`);
    if ((open === '{') !== (ch === '}')) throw new Malformed(`"${open}" closed by "${ch}"`);
    if (this.prev === 'comma') this.out[this.lastComma] = ''; // trailing `,}` / `,]`
    this.out.push(ch);
    this.i++;
    this.endValue();
  }

  private comma(): void {
    // `[,{`, `{,"a"`, `,,`: a comma with nothing before it is dropped.
    if (this.prev === 'value') {
      this.lastComma = this.out.length;
      this.out.push(',');
      this.prev = 'comma';
    }
    this.i++;
  }

  private colon(): void {
    if (this.prev !== 'value') throw new Malformed('unexpected ":"');
    this.out.push(':');
    this.prev = 'colon';
    this.i++;
  }

  private word(): void {
    const { text } = this;
    let j = this.i;
    while (j < text.length && isWordChar(text.charCodeAt(j))) j++;
    const word = text.slice(this.i, j);
    this.beginValue();
    this.out.push(bareWord(word));
    this.i = j;
    this.endValue();
  }
}

/**
 * Rewrites the known broken forms into strict JSON text. Stops after the first complete
 * top-level value (what follows, a NUL or garbage, is dropped). Linear in the input length.
 */
export function repairJson(text: string, maxDepth = LENIENT_JSON_DEFAULT_MAX_DEPTH): string {
  return new Repairer(text, maxDepth).run();
}

const NOT_STRICT = Symbol('not strict JSON');

/** JSON.parse of the text without its trailing NULs, if it is strict JSON within maxDepth. */
function strictParse(text: string, maxDepth: number): unknown {
  let end = text.length;
  while (end > 0) {
    const c = text.charCodeAt(end - 1);
    if (c === 0 || c === 10 || c === 13 || c === 32 || c === 9) end--;
    else break;
  }
  const first = text.charCodeAt(0);
  if (first !== 123 /* { */ && first !== 91 /* [ */) return NOT_STRICT;
  let value: unknown;
  try {
    value = JSON.parse(end === text.length ? text : text.slice(0, end));
  } catch {
    return NOT_STRICT;
  }
  return depthWithin(value, maxDepth) ? value : NOT_STRICT;
}

/** Iterative depth check, so a hostile, deeply nested reply cannot overflow the stack. */
function depthWithin(root: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > maxDepth) return false;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
    }
  }
  return true;
}

/**
 * Parses a miner's reply text leniently (see repairJson) and strictly validates the result.
 * Throws MinerError('malformed') and nothing else.
 */
export function parseLenientJson(text: string, options: LenientJsonOptions = {}): unknown {
  const host = options.host ?? '';
  const maxLength = options.maxLength ?? LENIENT_JSON_DEFAULT_MAX_LENGTH;
  try {
    if (typeof text !== 'string') throw new Malformed('not text');
    if (text.length > maxLength) throw new Malformed(`longer than ${maxLength} characters`);
    const maxDepth = options.maxDepth ?? LENIENT_JSON_DEFAULT_MAX_DEPTH;
    // Fast path: most replies are valid JSON once the NUL terminator is gone, and the native
    // parser is an order of magnitude cheaper than the repairing tokenizer.
    const strict = strictParse(text, maxDepth);
    if (strict !== NOT_STRICT) return strict;
    const repaired = repairJson(text, maxDepth);
    return JSON.parse(repaired) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new MinerError('malformed', host, `malformed reply: ${reason.slice(0, 200)}`, { cause: err });
  }
}

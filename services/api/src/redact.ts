// What the API's logs may never hold: API keys (the Authorization header, and a token pasted
// anywhere else: a url, an error message), cookies, Idempotency-Key values, and any field named
// like a secret (token, secret, password, …) at any depth of a logged body, query or header set.
//
// The process logger (packages/telemetry) redacts a fixed list of paths; the API logs through a
// child of it (apiLogger) that adds serializers for the objects fastify and the routes log (req,
// err, body, query, params, headers) and more redaction paths. Fastify keeps a logger
// instance's own serializers over its defaults, so these apply to every request log line.
import type { Logger } from '@switchyard/telemetry';
import { REDACT_PATHS } from '@switchyard/telemetry';
import { pino } from 'pino';

export const REDACTED = '[redacted]';

/** A field whose value is a secret, by its name (case-insensitive, `-` and `_` ignored). */
const SECRET_KEY =
  /^(authorization|proxyauthorization|cookie|setcookie|token|accesstoken|refreshtoken|idtoken|apitoken|apikey|xapikey|secret|clientsecret|secrethash|webhooksecret|signingsecret|password|passphrase|passwd|idempotencykey|xidempotencykey|privatekey|credentials|key)$/;

const normalize = (key: string) => key.toLowerCase().replace(/[-_]/g, '');

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(normalize(key));
}

/** An API key token (`sy_<12 base32>.<43 base64url>`) or a bearer credential in free text. */
const TOKEN_IN_TEXT = /sy_[a-z2-7]{12}\.[A-Za-z0-9_-]{16,}|\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
/** `password=…`, `"token": "…"` and the like in free text (an error message, a url). */
const SECRET_PAIR_IN_TEXT =
  /(["']?)([A-Za-z_-]*(?:password|passwd|passphrase|secret|token|api[-_]?key|authorization|cookie|idempotency[-_]?key)[A-Za-z_-]*)\1(\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s&,;}"']+)/gi;

/** Free text with every API key, bearer credential and secret-named value in it replaced. */
export function scrubText(text: string): string {
  return text
    .replace(TOKEN_IN_TEXT, (m) =>
      /^(bearer|basic)/i.test(m) ? `${m.split(/\s+/)[0]} ${REDACTED}` : REDACTED,
    )
    .replace(SECRET_PAIR_IN_TEXT, (_m, q: string, name: string, sep: string, value: string) => {
      const quote = value[0] === '"' || value[0] === "'" ? value[0] : '';
      return `${q}${name}${q}${sep}${quote}${REDACTED}${quote}`;
    });
}

/** A url with the values of secret-named query parameters and any token in it replaced. */
export function redactUrlForLog(url: string): string {
  let out = url;
  const q = out.indexOf('?');
  if (q >= 0) {
    const query = out
      .slice(q + 1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        const name = eq >= 0 ? pair.slice(0, eq) : pair;
        let decoded = name;
        try {
          decoded = decodeURIComponent(name);
        } catch {
          // a malformed escape: judged by its raw name
        }
        return eq >= 0 && isSecretKey(decoded.replace(/\[.*$/, '')) ? `${name}=${REDACTED}` : pair;
      })
      .join('&');
    out = `${out.slice(0, q)}?${query}`;
  }
  return out.includes('sy_') || /bearer|basic/i.test(out) ? scrubText(out) : out;
}

const MAX_DEPTH = 8;
const MAX_KEYS = 200;
const MAX_STRING = 2000;

/**
 * A copy of a value fit to log: secret-named fields replaced at any depth, tokens scrubbed from
 * strings, and bounded (deep nesting, long arrays and long strings cut) so that a hostile body
 * cannot make a log line huge.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    const s = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
    return scrubText(s);
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_KEYS).map((v) => redactValue(v, depth + 1));
    if (value.length > MAX_KEYS) items.push(`[${value.length - MAX_KEYS} more]`);
    return items;
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const key of Object.keys(value)) {
    if (n++ >= MAX_KEYS) {
      out['[more]'] = `${Object.keys(value).length - MAX_KEYS} more keys`;
      break;
    }
    const v = (value as Record<string, unknown>)[key];
    // defineProperty: a key named __proto__ stays a plain field of the copy.
    Object.defineProperty(out, key, {
      value: isSecretKey(key) ? REDACTED : redactValue(v, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return out;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
  routeOptions?: { url?: string };
}

/** fastify's request serializer, with the url redacted. Headers are never logged. */
function reqSerializer(req: LoggedRequest) {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrlForLog(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** pino's error serializer, with tokens scrubbed from the message and stack. */
function errSerializer(err: unknown) {
  const e = pino.stdSerializers.err(err as Error) as unknown;
  if (!e || typeof e !== 'object') return e;
  const out = redactValue(e, 0) as Record<string, unknown>;
  return out;
}

/** Redaction paths on top of the telemetry logger's: headers that carry secrets. */
export const API_REDACT_PATHS = [
  ...REDACT_PATHS,
  'req.headers.cookie',
  'req.headers["set-cookie"]',
  'req.headers["proxy-authorization"]',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["idempotency-key"]',
  'headers["proxy-authorization"]',
  'idempotencyKey',
  '*.idempotencyKey',
  'cookie',
  '*.cookie',
  'authorization',
  '*.authorization',
];

export const API_LOG_SERIALIZERS = {
  req: reqSerializer,
  err: errSerializer,
  error: errSerializer,
  body: (v: unknown) => redactValue(v),
  query: (v: unknown) => redactValue(v),
  params: (v: unknown) => redactValue(v),
  headers: (v: unknown) => redactValue(v),
};

/** The API's logger: a child of the process logger with the serializers and paths above. */
export function apiLogger(logger: Logger): Logger {
  return logger.child(
    {},
    { serializers: API_LOG_SERIALIZERS, redact: { paths: API_REDACT_PATHS, censor: REDACTED } },
  );
}

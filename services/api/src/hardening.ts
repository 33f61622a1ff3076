// The API's defences, for every route present and future (registerHardening runs before any
// route is registered, and works through hooks, onRoute and fastify options):
//
//   - load shedding (under-pressure.ts) and rate limits per API key in Redis (rate-limit.ts);
//   - body limits: 1 MiB for the app (app.ts), DEFAULT_ROUTE_BODY_LIMIT for a route that does
//     not set its own `bodyLimit`;
//   - strict JSON: application/json is the only body a route parses; anything else is 415;
//     nesting deeper than MAX_JSON_DEPTH is refused (400) before it is parsed, so no validator
//     or serializer ever recurses through a hostile document;
//   - prototype poisoning: a body with __proto__ or constructor.prototype is refused (400);
//   - NUL characters (U+0000), which no field takes and PostgreSQL cannot store, are refused
//     (400, a validation problem naming the field) in the url and in the body;
//   - time limits: the handler timeout here, the connection and request timeouts in app.ts, the
//     header timeout on the server (hardenServer);
//   - every error a problem document: fastify's framework errors, client errors written on the
//     raw socket, the 503s of a closing server, and any 4xx or 5xx a route sends some other way;
//   - logs without secrets (redact.ts, through the logger app.ts gives fastify).
//
// docs/api.md ("Hardening") lists the limits and the environment variables that set them.
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { envBool, parseEnv, type Env } from '@switchyard/config';
import { HttpProblem, PROBLEM_CONTENT_TYPE, sendProblem, type Problem } from './problem.ts';
import { DEFAULT_RATE_LIMITS, registerRateLimit, type RateLimitConfig } from './rate-limit.ts';
import {
  DEFAULT_LOAD_SHEDDING,
  defaultMaxHeapUsedBytes,
  registerLoadShedding,
  type LoadSheddingConfig,
} from './under-pressure.ts';

export { connectRateLimitRedis, DEFAULT_RATE_LIMITS, type RateLimitConfig } from './rate-limit.ts';
export { DEFAULT_LOAD_SHEDDING, type LoadSheddingConfig } from './under-pressure.ts';

const TYPE_BASE = 'https://switchyard.io/problems/';

/** Routes that are never limited nor shed: the health probes and Prometheus' scrapes. */
export const EXEMPT_ROUTES: readonly string[] = ['/healthz', '/readyz', '/metrics'];
/** A route's body limit unless it sets `bodyLimit` itself (at most the app's 1 MiB). */
export const DEFAULT_ROUTE_BODY_LIMIT = 256 * 1024;
/** Arrays and objects in a JSON body nest at most this deep. */
export const MAX_JSON_DEPTH = 32;
/** A handler that has not answered after this long is answered 503 for it. */
export const HANDLER_TIMEOUT_MS = 15_000;
/** Time allowed to receive a request's headers (slow-header clients are cut off). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Headers per request, at most (Node's default is 2,000). */
export const MAX_HEADERS_COUNT = 100;

const exempt = (req: FastifyRequest) => {
  const url = req.routeOptions.url;
  return url !== undefined && EXEMPT_ROUTES.includes(url);
};

function problemText(status: number, slug: string, detail?: string): string {
  const p: Problem = {
    type: `${TYPE_BASE}${slug}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail ? { detail } : {}),
  };
  return JSON.stringify(p);
}

/**
 * Errors the HTTP parser finds before fastify sees a request (malformed request line or
 * headers, headers too large, a request not received in time), answered on the raw socket.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, slug, detail] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request-timeout', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers-too-large', 'the request headers are too large']
        : [400, 'bad-request', 'the request is not valid HTTP'];
  const body = problemText(status, slug, detail);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** True when a JSON text nests arrays and objects deeper than `max` (strings are skipped). */
export function jsonTooDeep(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) {
      depth--;
    }
  }
  return false;
}

const pointer = (path: string, key: string | number) =>
  `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** The JSON pointer of a NUL character in a parsed JSON value (a string or a key), or null. */
function nulAt(v: unknown, path = '', depth = 0): string | null {
  if (typeof v === 'string') return v.includes('\u0000') ? path : null;
  if (v === null || typeof v !== 'object' || depth > MAX_JSON_DEPTH) return null;
  const entries: Array<[string | number, unknown]> = Array.isArray(v)
    ? v.map((x, i) => [i, x])
    : Object.entries(v as Record<string, unknown>);
  for (const [k, x] of entries) {
    if (typeof k === 'string' && k.includes('\u0000')) return pointer(path, k);
    const found = nulAt(x, pointer(path, k), depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/** The url's query parameter holding an escaped NUL (`%00`), as a pointer, or '' (the path). */
function nulInUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return '';
  const pair = url
    .slice(q + 1)
    .split('&')
    .find((p) => p.includes('%00') || p.includes('\u0000'));
  const name = pair?.split('=')[0] ?? '';
  return name.includes('%00') || name === '' ? '' : `/${name}`;
}

const MESSAGE_NUL = 'must not contain a NUL character (U+0000)';
const nulProblem = (path: string) =>
  new HttpProblem(400, 'validation', 'Request is invalid', `${path || 'the url'} ${MESSAGE_NUL}`, {
    errors: [{ path, message: MESSAGE_NUL }],
  });

/** The JSON body parser: fastify's own (poisoning refused), behind the depth and NUL checks. */
function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: app.initialConfig.bodyLimit },
    (req, body, done) => {
      if (jsonTooDeep(body as string, MAX_JSON_DEPTH)) {
        done(
          new HttpProblem(
            400,
            'json-too-deep',
            'Body nested too deeply',
            `arrays and objects may nest at most ${MAX_JSON_DEPTH} levels`,
          ),
          undefined,
        );
        return;
      }
      if (!(body as string).includes('\\u0000')) return parse(req, body as string, done);
      parse(req, body as string, (err, value) => {
        const at = err ? null : nulAt(value);
        if (at !== null) return done(nulProblem(at), undefined);
        done(err, value);
      });
    },
  );
}

/** A url fastify's router cannot take (bad escape, over-long parameter). */
function frameworkErrors(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
  return sendProblem(reply, {
    type: `${TYPE_BASE}${status === 414 ? 'uri-too-long' : 'bad-url'}`,
    title: STATUS_CODES[status] ?? 'Bad Request',
    status,
    detail: status === 414 ? 'a path parameter is too long' : 'the url is not valid',
    instance: req.url,
  });
}

/** Fastify options of the hardened app; app.ts spreads them into its own. */
export const HARDENED_FASTIFY_OPTIONS = {
  onProtoPoisoning: 'error',
  onConstructorPoisoning: 'error',
  handlerTimeout: HANDLER_TIMEOUT_MS,
  // A closing server answers with registerHardening's problem document, not fastify's own body.
  return503OnClosing: false,
  clientErrorHandler,
  frameworkErrors,
} as const satisfies FastifyServerOptions;

/** Server limits fastify has no option for; call before listen. */
export function hardenServer(server: Server): void {
  const requestTimeout = server.requestTimeout > 0 ? server.requestTimeout : Number.POSITIVE_INFINITY;
  server.headersTimeout = Math.min(HEADERS_TIMEOUT_MS, requestTimeout);
  server.maxHeadersCount = MAX_HEADERS_COUNT;
  // An idle keep-alive connection must outlive a load balancer's (60 s) so the balancer, not the
  // server, closes it; fastify's default (72 s) does. Never below the header timeout.
  if (server.keepAliveTimeout < server.headersTimeout) server.keepAliveTimeout = server.headersTimeout;
}

export interface HardeningOptions {
  /** Rate limits in Redis; omitted or false: none (tests, scripts/openapi). */
  rateLimit?: (RateLimitConfig & { redis: Redis; namespace?: string }) | false | undefined;
  /** Load shedding; omitted or false: none. */
  loadShedding?: LoadSheddingConfig | false | undefined;
}

/**
 * Every 4xx or 5xx leaves as a problem document: an answer some plugin or route sent another way
 * is replaced by one with its status (a 4xx keeps its message as the detail; a 5xx never does).
 */
function problemOnly(
  req: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (e: null, p: unknown) => void,
) {
  const status = reply.statusCode;
  if (status < 400) return done(null, payload);
  if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
  const type = reply.getHeader('content-type');
  if (typeof type === 'string' && type.startsWith(PROBLEM_CONTENT_TYPE)) return done(null, payload);
  let detail: string | undefined;
  if (status < 500 && typeof payload === 'string') {
    try {
      const m = (JSON.parse(payload) as { message?: unknown }).message;
      if (typeof m === 'string') detail = m.slice(0, 500);
    } catch {
      // not JSON: no detail
    }
  }
  // A stream that is not sent is closed.
  if (payload && typeof (payload as { destroy?: unknown }).destroy === 'function')
    (payload as { destroy: () => void }).destroy();
  reply.type(PROBLEM_CONTENT_TYPE);
  const p: Problem = {
    type: `${TYPE_BASE}${status >= 500 ? 'internal' : 'client-error'}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail ? { detail } : {}),
    instance: req.url,
    ...(status >= 500 ? { requestId: req.id } : {}),
  };
  done(null, JSON.stringify(p));
}

/**
 * Adds the defences to the app. Call it first, before the auth hook and before any route: its
 * shedding and address limits run before a key is checked, and its onRoute hooks see every route.
 */
export async function registerHardening(app: FastifyInstance, opts: HardeningOptions = {}): Promise<void> {
  // A closing server turns new requests away (and closes their connections).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (req, reply, done) => {
    if (req.url.includes('%00') || req.url.includes('\u0000')) return done(nulProblem(nulInUrl(req.url)));
    if (!closing) return done();
    reply.header('connection', 'close').header('retry-after', '5');
    sendProblem(reply, {
      type: `${TYPE_BASE}shutting-down`,
      title: 'Service Unavailable',
      status: 503,
      detail: 'the server is shutting down; try again',
      instance: req.url,
    });
  });
  if (opts.loadShedding) await registerLoadShedding(app, opts.loadShedding, exempt);
  if (opts.rateLimit) await registerRateLimit(app, { ...opts.rateLimit, exempt });

  // JSON only: without the text/plain parser, any body but application/json is a 415.
  app.removeContentTypeParser('text/plain');
  registerJsonParser(app);
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= DEFAULT_ROUTE_BODY_LIMIT;
  });
  app.addHook('onSend', problemOnly);
}

const mb = (n: number) => n * 1024 * 1024;

/** The environment variables that set the limits (docs/api.md, "Hardening"). */
export const hardeningEnvSchema = z.object({
  /** Rate limits on (default) or off. */
  API_RATE_LIMIT: envBool(true),
  API_RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** Requests per window for a key of any role but operator. */
  API_RATE_LIMIT_PER_KEY: z.coerce.number().int().min(1).max(1e9).default(DEFAULT_RATE_LIMITS.perKey),
  API_RATE_LIMIT_OPERATOR: z.coerce.number().int().min(1).max(1e9).default(DEFAULT_RATE_LIMITS.operator),
  /** Requests per window for a client address without a valid key. */
  API_RATE_LIMIT_ANONYMOUS: z.coerce.number().int().min(1).max(1e9).default(DEFAULT_RATE_LIMITS.anonymous),
  /** Mean event-loop delay that starts load shedding, ms; 0 turns the check off. */
  API_SHED_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /** Heap used that starts load shedding, MiB; unset: 90 % of the heap limit; 0: off. */
  API_SHED_HEAP_USED_MB: z.coerce.number().int().min(0).max(1_000_000).optional(),
  /** Resident set size that starts load shedding, MiB; 0 (default): off. */
  API_SHED_RSS_MB: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export interface HardeningConfig {
  rateLimit: RateLimitConfig | false;
  loadShedding: LoadSheddingConfig;
}

/** The limits from the environment; throws ConfigError naming a bad variable. */
export function hardeningConfigFromEnv(env: Env): HardeningConfig {
  const e = parseEnv(hardeningEnvSchema, env);
  return {
    rateLimit: e.API_RATE_LIMIT
      ? {
          windowMs: e.API_RATE_LIMIT_WINDOW_SECONDS * 1000,
          perKey: e.API_RATE_LIMIT_PER_KEY,
          operator: e.API_RATE_LIMIT_OPERATOR,
          anonymous: e.API_RATE_LIMIT_ANONYMOUS,
        }
      : false,
    loadShedding: {
      ...DEFAULT_LOAD_SHEDDING,
      maxEventLoopDelayMs: e.API_SHED_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes:
        e.API_SHED_HEAP_USED_MB === undefined ? defaultMaxHeapUsedBytes() : mb(e.API_SHED_HEAP_USED_MB),
      maxRssBytes: mb(e.API_SHED_RSS_MB),
    },
  };
}

// Rate limits per API key, counted in Redis (@fastify/rate-limit's Redis store: one INCR with a
// PEXPIRE per request and window, so every API process shares the counts).
//
//   - A request made with a verified key counts against that key (`key:<prefix>`): operator
//     keys get `operator` requests per window, every other role `perKey`.
//   - A request without a key counts against its client address (`ip:<address>`, `anonymous`
//     per window).
//   - A request whose key was refused (401), or that came with a key to no route, counts
//     against its address too, in a bucket of its own (`auth:<address>`, `anonymous` per
//     window). Once that is used up, the address's requests with a key are refused before the
//     key is looked up (by each API process from the first refused attempt it sees), so keys
//     cannot be guessed, nor the key table hammered, faster than that.
//   - The health probes are never limited.
//
// A refused request answers 429 with a problem document, Retry-After, and the RateLimit-Limit,
// -Remaining, -Reset and -Policy headers, which every counted answer carries.
//
// Redis down or slow means no limits, never an error: the limiter fails open, and says so in a
// warning at most every 30 s. Its Redis connection must fail fast (connectRateLimitRedis).
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { redisOptions } from '@switchyard/queue';
import { sendProblem } from './problem.ts';

export interface RateLimitConfig {
  /** The window the counts are kept for, ms. */
  windowMs: number;
  /** Requests per window for a key of any role but operator. */
  perKey: number;
  /** Requests per window for an operator key. */
  operator: number;
  /** Requests per window for a client address without a verified key. */
  anonymous: number;
}

export interface RateLimitOptions extends RateLimitConfig {
  /** Where the counts live; see connectRateLimitRedis. */
  redis: Redis;
  /** Prefix of the counters' Redis keys. */
  namespace?: string;
  /** Requests that are never limited (the health probes). */
  exempt: (req: FastifyRequest) => boolean;
}

export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  windowMs: 60_000,
  perKey: 1200,
  operator: 6000,
  anonymous: 300,
};
export const RATE_LIMIT_NAMESPACE = 'switchyard:rate-limit:';
/** A Redis command for the limiter that takes longer than this fails, and the request passes. */
export const RATE_LIMIT_REDIS_TIMEOUT_MS = 250;
const WARN_EVERY_MS = 30_000;
const MAX_BLOCKED = 10_000;
const BEARER = /^\s*bearer\s+\S/i;

/**
 * A Redis connection for the limiter that fails fast: no offline queue, one try per command, a
 * short command timeout. It reconnects by itself after an outage.
 */
export async function connectRateLimitRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    ...redisOptions('check'),
    maxRetriesPerRequest: 0,
    commandTimeout: RATE_LIMIT_REDIS_TIMEOUT_MS,
    connectionName: 'switchyard-api-rate-limit',
  });
  // Failures surface as failed commands (and the limiter's warning), not as 'error' events.
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

interface Verdict {
  max: number;
  remaining: number;
  resetSeconds: number;
  exceeded: boolean;
}

type Limiter = (req: FastifyRequest, opts?: { increment?: boolean }) => Promise<Verdict | null>;

function hasBearer(header: string | undefined): boolean {
  return typeof header === 'string' && BEARER.test(header);
}

function setHeaders(reply: FastifyReply, v: Verdict, windowSeconds: number): void {
  reply.header('ratelimit-limit', v.max);
  reply.header('ratelimit-remaining', v.remaining);
  reply.header('ratelimit-reset', v.resetSeconds);
  reply.header('ratelimit-policy', `${v.max};w=${windowSeconds}`);
}

function tooMany(
  req: FastifyRequest,
  reply: FastifyReply,
  v: Verdict,
  windowSeconds: number,
  who: string,
): FastifyReply {
  setHeaders(reply, v, windowSeconds);
  reply.header('retry-after', v.resetSeconds);
  return sendProblem(reply, {
    type: 'https://switchyard.io/problems/rate-limited',
    title: 'Too many requests',
    status: 429,
    detail: `${who} may make ${v.max} requests per ${windowSeconds} s; try again in ${v.resetSeconds} s`,
    instance: req.url,
    retryAfterSeconds: v.resetSeconds,
  });
}

/** Adds the limiter's hooks. Call before the auth hook is added and before any route. */
export async function registerRateLimit(app: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  const windowMs = Math.max(1000, Math.trunc(opts.windowMs));
  const windowSeconds = Math.round(windowMs / 1000);
  await app.register(fastifyRateLimit, {
    global: false,
    redis: opts.redis,
    nameSpace: opts.namespace ?? RATE_LIMIT_NAMESPACE,
    skipOnError: false,
  });

  let failingSince: number | null = null;
  let lastWarning = 0;
  let skipped = 0;
  const failedOpen = (err: unknown) => {
    const now = Date.now();
    skipped += 1;
    failingSince ??= now;
    if (now - lastWarning < WARN_EVERY_MS) return;
    lastWarning = now;
    app.log.warn(
      { err, skipped, failingSinceMs: now - failingSince },
      'rate limiter unavailable (Redis): requests pass without limits until it answers again',
    );
    skipped = 0;
  };
  const recovered = () => {
    if (failingSince === null) return;
    app.log.info({ downMs: Date.now() - failingSince }, 'rate limiter available again');
    failingSince = null;
    lastWarning = 0;
  };

  const limiter = (create: ReturnType<FastifyInstance['createRateLimit']>): Limiter => {
    return async (req, callOpts) => {
      try {
        const r = await create(req, callOpts);
        recovered();
        if (r.isAllowed) return null;
        return {
          max: r.max,
          remaining: r.remaining,
          resetSeconds: Math.max(1, r.ttlInSeconds || Math.ceil(windowMs / 1000)),
          exceeded: r.isExceeded,
        };
      } catch (err) {
        failedOpen(err);
        return null;
      }
    };
  };

  const anonymous = Math.max(1, Math.trunc(opts.anonymous));
  const byAddress = limiter(
    app.createRateLimit({ keyGenerator: (req) => `ip:${req.ip}`, max: anonymous, timeWindow: windowMs }),
  );
  const refusedByAddress = limiter(
    app.createRateLimit({ keyGenerator: (req) => `auth:${req.ip}`, max: anonymous, timeWindow: windowMs }),
  );
  const perKey = Math.max(1, Math.trunc(opts.perKey));
  const operator = Math.max(1, Math.trunc(opts.operator));
  const byKey = limiter(
    app.createRateLimit({
      keyGenerator: (req) => `key:${req.principal?.prefix ?? req.ip}`,
      max: (req) => (req.principal?.role === 'operator' ? operator : perKey),
      timeWindow: windowMs,
    }),
  );

  // Addresses that have used up their budget of refused keys, learned from the counts below, so
  // that a request with a key costs no Redis round trip before the auth hook.
  const blocked = new Map<string, { until: number; max: number }>();
  const block = (ip: string, v: Verdict) => {
    blocked.delete(ip);
    blocked.set(ip, { until: Date.now() + v.resetSeconds * 1000, max: v.max });
    if (blocked.size > MAX_BLOCKED) blocked.delete(blocked.keys().next().value as string);
  };
  const blockedVerdict = (ip: string): Verdict | null => {
    const b = blocked.get(ip);
    if (!b) return null;
    const left = b.until - Date.now();
    if (left <= 0) {
      blocked.delete(ip);
      return null;
    }
    return { max: b.max, remaining: 0, resetSeconds: Math.ceil(left / 1000), exceeded: true };
  };

  // Before the auth hook: requests without a key count against their address; requests with
  // one are turned away here only if their address has used up its refused-key budget.
  app.addHook('onRequest', async (req, reply) => {
    if (opts.exempt(req)) return;
    if (hasBearer(req.headers.authorization)) {
      const known = blockedVerdict(req.ip);
      if (known) return tooMany(req, reply, known, windowSeconds, 'a client whose API keys were refused');
      return;
    }
    const v = await byAddress(req);
    if (!v) return;
    if (v.exceeded) return tooMany(req, reply, v, windowSeconds, 'a client without an API key');
    setHeaders(reply, v, windowSeconds);
  });

  // After the auth hook (route-level hooks run after the app's): the verified key's own count.
  const keyHook = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.principal;
    if (!p) return;
    const v = await byKey(req);
    if (!v) return;
    if (v.exceeded) return tooMany(req, reply, v, windowSeconds, `API key ${p.prefix}`);
    setHeaders(reply, v, windowSeconds);
  };
  app.addHook('onRoute', (route) => {
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [keyHook] : [existing, keyHook].flat();
  });

  // A request that came with a key but was not let through on one (a refused key, no such
  // route) counts against its address once it is answered.
  app.addHook('onResponse', (req, _reply, done) => {
    if (req.principal === null && !opts.exempt(req) && hasBearer(req.headers.authorization)) {
      const ip = req.ip;
      void refusedByAddress(req).then((v) => {
        if (v?.exceeded) block(ip, v);
      });
    }
    done();
  });
}

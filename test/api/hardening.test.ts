// The API's defences (services/api/src/hardening.ts), against PostgreSQL and a real Redis through
// app.inject and one real socket: rate limits per key and per address in Redis (and failing open
// when Redis is gone), load shedding, body limits, strict JSON, prototype poisoning, problem
// documents for every error, the closing server, the server's time limits, and logs that hold
// no secret.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Redis } from 'ioredis';
import { parseFarmYaml } from '@switchyard/domain';
import { BrokerRepository, type Database } from '@switchyard/db';
import { ConfigError } from '@switchyard/config';
import { createLogger, type Logger } from '@switchyard/telemetry';
import {
  buildApp,
  connectRateLimitRedis,
  DEFAULT_LOAD_SHEDDING,
  DEFAULT_RATE_LIMITS,
  DEFAULT_ROUTE_BODY_LIMIT,
  hardeningConfigFromEnv,
  redactUrlForLog,
  redactValue,
  type HardeningOptions,
} from '@switchyard/api';
import { HANDLER_TIMEOUT_MS, hardenServer, HEADERS_TIMEOUT_MS } from '../../services/api/src/hardening.ts';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';
import { requireRedisUrl, startPrivateRedis, type PrivateRedis } from '../support/redis.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const getFarm = () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() });
const PROBLEM = 'application/problem+json';
const silent = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger whose lines are kept, parsed, for the test to read. */
function capturedLogger(level = 'trace'): { logger: Logger; text: () => string; lines: () => object[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  return {
    logger: createLogger({ level, destination: out }),
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as object),
  };
}

function expectProblem(r: LightMyRequestResponse, status: number): Record<string, unknown> {
  expect(r.statusCode).toBe(status);
  expect(r.headers['content-type']).toContain(PROBLEM);
  const body = r.json<Record<string, unknown>>();
  expect(body).toMatchObject({
    status,
    type: expect.stringMatching(/^https:\/\/switchyard\.io\/problems\//),
  });
  expect(typeof body.title).toBe('string');
  return body;
}

describe('API hardening', () => {
  let m: MigratedDatabase;
  let db: Database;
  const keys = {} as Record<'operator' | 'viewer' | 'viewer2' | 'compute', TestKey>;
  const apps: FastifyInstance[] = [];
  const build = async (hardening?: HardeningOptions, logger: Logger = silent) => {
    const app = await buildApp({ logger, readiness: [], db, getFarm, ...(hardening ? { hardening } : {}) });
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    m = await openMigratedDatabase('pg');
    db = m.handle.db;
    const compute = await new BrokerRepository(db).create({ name: 'compute-h', kind: 'compute' });
    keys.operator = await issueTestKey(db, 'operator');
    keys.viewer = await issueTestKey(db, 'viewer');
    keys.viewer2 = await issueTestKey(db, 'viewer');
    keys.compute = await issueTestKey(db, 'compute-broker', compute.id);
  });
  afterAll(async () => {
    for (const a of apps) await a.close().catch(() => undefined);
    await m?.cleanup();
  });

  describe('rate limits in Redis', () => {
    let redis: Redis;
    let app: FastifyInstance;
    const namespace = `test:rate-limit:${randomUUID()}:`;
    beforeAll(async () => {
      redis = await connectRateLimitRedis(requireRedisUrl());
      app = await build({
        rateLimit: { windowMs: 60_000, perKey: 3, operator: 5, anonymous: 4, redis, namespace },
      });
    });
    afterAll(async () => {
      const left = await redis.keys(`${namespace}*`);
      if (left.length > 0) await redis.del(...left);
      redis.disconnect();
    });

    it('counts each key on its own, with RateLimit headers, and answers 429 past the limit', async () => {
      const get = (k: TestKey) => app.inject({ method: 'GET', url: '/api/v1/farm', headers: k.headers });
      for (let i = 0; i < 3; i++) {
        const r = await get(keys.viewer);
        expect(r.statusCode).toBe(200);
        expect(r.headers['ratelimit-limit']).toBe('3');
        expect(r.headers['ratelimit-remaining']).toBe(String(2 - i));
        expect(r.headers['ratelimit-policy']).toBe('3;w=60');
        expect(Number(r.headers['ratelimit-reset'])).toBeGreaterThan(0);
      }
      const refused = await get(keys.viewer);
      const body = expectProblem(refused, 429);
      expect(body.type).toBe('https://switchyard.io/problems/rate-limited');
      expect(body.detail).toContain(keys.viewer.prefix);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      // Another key of the same role, from the same address, has its own count.
      expect((await get(keys.viewer2)).statusCode).toBe(200);
      // The count lives in Redis, under the key's prefix.
      const stored = await redis.keys(`${namespace}*key:${keys.viewer.prefix}`);
      expect(stored).toHaveLength(1);
      expect(Number(await redis.get(stored[0]!))).toBe(4);
    });

    it('gives operator keys their own, higher limit', async () => {
      for (let i = 0; i < 5; i++) {
        const r = await app.inject({ method: 'GET', url: '/api/v1/farm', headers: keys.operator.headers });
        expect(r.statusCode).toBe(200);
        expect(r.headers['ratelimit-limit']).toBe('5');
      }
      const r = await app.inject({ method: 'GET', url: '/api/v1/farm', headers: keys.operator.headers });
      expectProblem(r, 429);
    });

    it('limits requests without a key by address, and never the health probes', async () => {
      const from = { remoteAddress: '10.9.8.7' };
      for (let i = 0; i < 4; i++) {
        const r = await app.inject({ method: 'GET', url: '/openapi.json', ...from });
        expect(r.statusCode).toBe(200);
        expect(r.headers['ratelimit-remaining']).toBe(String(3 - i));
      }
      expectProblem(await app.inject({ method: 'GET', url: '/api/v1/farm', ...from }), 429);
      for (let i = 0; i < 10; i++) {
        expect((await app.inject({ method: 'GET', url: '/healthz', ...from })).statusCode).toBe(200);
        expect((await app.inject({ method: 'GET', url: '/readyz', ...from })).statusCode).toBe(200);
      }
      // Another address is not affected.
      const other = await app.inject({ method: 'GET', url: '/openapi.json', remoteAddress: '10.9.8.6' });
      expect(other.statusCode).toBe(200);
    });

    it('counts refused keys against the address, and then turns its keys away before checking them', async () => {
      const from = { remoteAddress: '10.1.2.3' };
      const bad = { authorization: `Bearer ${keys.compute.prefix}.${'A'.repeat(43)}` };
      for (let i = 0; i < 4; i++) {
        const r = await app.inject({ method: 'GET', url: '/api/v1/farm', headers: bad, ...from });
        expectProblem(r, 401);
      }
      // The fifth refusal uses up the budget (counted once answered) ...
      expectProblem(await app.inject({ method: 'GET', url: '/api/v1/farm', headers: bad, ...from }), 401);
      await sleep(50);
      // ... after which keys from that address are refused unread, even a good one, until the window ends.
      const r = await app.inject({
        method: 'GET',
        url: '/api/v1/farm',
        headers: keys.compute.headers,
        ...from,
      });
      expectProblem(r, 429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      // A request without a key from there is counted on its own budget.
      expectProblem(await app.inject({ method: 'GET', url: '/api/v1/farm', ...from }), 401);
    });

    it('fails open, with a warning, when Redis is gone; and counts again when it is back', async () => {
      const priv: PrivateRedis = await startPrivateRedis();
      const limiterRedis = await connectRateLimitRedis(priv.url);
      const logs = capturedLogger('warn');
      try {
        const guarded = await build(
          { rateLimit: { windowMs: 60_000, perKey: 2, operator: 2, anonymous: 2, redis: limiterRedis } },
          logs.logger,
        );
        const get = () =>
          guarded.inject({ method: 'GET', url: '/api/v1/farm', headers: keys.viewer2.headers });
        expect((await get()).headers['ratelimit-remaining']).toBe('1');
        await priv.kill();
        for (let i = 0; i < 5; i++) {
          const r = await get();
          expect(r.statusCode).toBe(200);
          expect(r.headers['ratelimit-limit']).toBeUndefined();
        }
        const warnings = logs.lines().filter((l) => (l as { level: number }).level === 40);
        expect(warnings).toHaveLength(1);
        expect(JSON.stringify(warnings[0])).toContain('rate limiter unavailable');
        // Without a key too: still no 500.
        expectProblem(await guarded.inject({ method: 'GET', url: '/api/v1/farm' }), 401);

        await priv.start();
        const deadline = Date.now() + 10_000;
        let r = await get();
        while (r.headers['ratelimit-limit'] === undefined && Date.now() < deadline) {
          await sleep(100);
          r = await get();
        }
        expect(r.statusCode).toBe(200);
        expect(r.headers['ratelimit-limit']).toBe('2');
      } finally {
        limiterRedis.disconnect();
        await priv.stop();
      }
    });
  });

  describe('load shedding', () => {
    it('answers 503 with Retry-After while the heap is over its threshold, but never the probes', async () => {
      const app = await build({
        loadShedding: {
          ...DEFAULT_LOAD_SHEDDING,
          maxEventLoopDelayMs: 0,
          maxHeapUsedBytes: 1,
          sampleIntervalMs: 10,
          retryAfterSeconds: 7,
        },
      });
      await app.ready();
      await sleep(60);
      const r = await app.inject({ method: 'GET', url: '/api/v1/farm', headers: keys.viewer.headers });
      const body = expectProblem(r, 503);
      expect(body.type).toBe('https://switchyard.io/problems/overloaded');
      expect(r.headers['retry-after']).toBe('7');
      expectProblem(await app.inject({ method: 'POST', url: '/api/v1/keys', payload: {} }), 503);
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    });

    it('sheds while the event loop is held up, and stops once it runs freely again', async () => {
      const app = await build({
        loadShedding: {
          ...DEFAULT_LOAD_SHEDDING,
          maxEventLoopDelayMs: 50,
          maxHeapUsedBytes: 0,
          sampleIntervalMs: 100,
          retryAfterSeconds: 3,
        },
      });
      await app.ready();
      const get = () => app.inject({ method: 'GET', url: '/api/v1/farm', headers: keys.operator.headers });
      // The limits of the operator key do not apply here: this app has none.
      expect((await get()).statusCode).toBe(200);
      // Hold the loop for 150 ms at a time, again and again: every tick is late by that much.
      const hog = setInterval(() => {
        const until = performance.now() + 150;
        while (performance.now() < until) {
          // busy
        }
      }, 1);
      try {
        await sleep(600);
        const r = await get();
        expectProblem(r, 503);
        expect(r.headers['retry-after']).toBe('3');
        expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      } finally {
        clearInterval(hog);
      }
      await sleep(500);
      expect((await get()).statusCode).toBe(200);
    });
  });

  describe('requests', () => {
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await build();
      // Routes that misbehave, under the public /docs prefix: a 4xx and a 5xx sent as plain JSON
      // or text, not as problem documents.
      app.get('/docs/teapot', async (_req, reply) => reply.code(418).send({ message: 'short and stout' }));
      app.get('/docs/plain-error', async (_req, reply) =>
        reply.code(502).type('text/plain').send('upstream db at 10.0.0.5 said: password mismatch'),
      );
      // A handler that never answers in time (the app's limit is HANDLER_TIMEOUT_MS; this route's 50 ms).
      app.get('/docs/stuck', { handlerTimeout: 50 }, async () => {
        await sleep(500);
        return { late: true };
      });
    });
    const post = (url: string, payload: string | object, contentType = 'application/json') =>
      app.inject({
        method: 'POST',
        url,
        headers: { ...keys.operator.headers, 'content-type': contentType },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });

    it('takes JSON bodies only: any other content type is 415', async () => {
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/octet-stream',
        'application/problem+json',
      ]) {
        const body = expectProblem(await post('/api/v1/brokers', '{"name":"x","kind":"energy"}', type), 415);
        expect(body.type).toBe('https://switchyard.io/problems/ctp-invalid-media-type');
      }
      expect(await new BrokerRepository(db).list()).toHaveLength(1);
    });

    it('answers invalid JSON, an empty body and a non-object body with 400', async () => {
      expectProblem(await post('/api/v1/brokers', '{"name": "x",'), 400);
      expectProblem(await post('/api/v1/brokers', ''), 400);
      expectProblem(await post('/api/v1/brokers', '[1,2,3]'), 400);
      expectProblem(await post('/api/v1/brokers', '"just a string"'), 400);
    });

    it('refuses prototype poisoning with 400 and leaves Object.prototype alone', async () => {
      for (const payload of [
        '{"name":"p","kind":"energy","__proto__":{"polluted":true}}',
        '{"name":"p","kind":"energy","constructor":{"prototype":{"polluted":true}}}',
        '{"a":[{"b":{"__proto__":{"polluted":true}}}]}',
      ]) {
        expectProblem(await post('/api/v1/brokers', payload), 400);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(await new BrokerRepository(db).list()).toHaveLength(1);
    });

    it('refuses bodies nested deeper than 32 levels before parsing them', async () => {
      const deep = (n: number) => `{"name":"d","kind":"energy","x":${'['.repeat(n)}${']'.repeat(n)}}`;
      const body = expectProblem(await post('/api/v1/brokers', deep(10_000)), 400);
      expect(body.type).toBe('https://switchyard.io/problems/json-too-deep');
      expectProblem(await post('/api/v1/brokers', deep(32)), 400);
      // Up to the limit the body is parsed and validated: here the unknown field is refused.
      const shallow = expectProblem(await post('/api/v1/brokers', deep(31)), 400);
      expect(shallow.type).toBe('https://switchyard.io/problems/validation');
      // Brackets inside strings do not count.
      const r = await post('/api/v1/brokers', { name: `b${'['.repeat(40)}`, kind: 'energy' });
      expect(expectProblem(r, 400).type).toBe('https://switchyard.io/problems/validation');
    });

    it('refuses NUL characters in the url and in the body', async () => {
      const h = keys.operator.headers;
      for (const [url, path] of [
        ['/api/v1/audit?limit=5&actor=a%00b', '/actor'],
        ['/api/v1/keys/%00', ''],
        ['/api/v1/dispatches?site=%00', '/site'],
      ] as const) {
        const body = expectProblem(await app.inject({ method: 'GET', url, headers: h }), 400);
        expect(body).toMatchObject({ type: 'https://switchyard.io/problems/validation', errors: [{ path }] });
      }
      for (const [payload, path] of [
        ['{"name":"a\\u0000b","kind":"energy"}', '/name'],
        ['{"name":"ab","kind":"energy","x\\u0000":1}', '/x\u0000'],
        ['{"a":[1,{"b/c":"\\u0000"}]}', '/a/1/b~1c'],
      ] as const) {
        const body = expectProblem(await post('/api/v1/brokers', payload), 400);
        expect(body).toMatchObject({ type: 'https://switchyard.io/problems/validation', errors: [{ path }] });
      }
      // An escaped backslash followed by u0000 is no NUL: the body is parsed and validated.
      const r = await post('/api/v1/brokers', '{"name":"a\\\\u0000b","kind":"energy","zz":1}');
      expect(expectProblem(r, 400).type).toBe('https://switchyard.io/problems/validation');
    });

    it('limits bodies: a route takes 256 KiB unless it says otherwise, the app 1 MiB', async () => {
      expect(DEFAULT_ROUTE_BODY_LIMIT).toBe(256 * 1024);
      const label = 'x'.repeat(DEFAULT_ROUTE_BODY_LIMIT);
      const body = expectProblem(await post('/api/v1/keys', { role: 'viewer', label }), 413);
      expect(body.type).toBe('https://switchyard.io/problems/ctp-body-too-large');
      expectProblem(await post('/api/v1/keys', { role: 'viewer', label: label.repeat(5) }), 413);
      // Just under the limit, the body is read and validated (label is at most 100 characters).
      expectProblem(await post('/api/v1/keys', { role: 'viewer', label: label.slice(0, 200_000) }), 400);
    });

    it('answers bad urls, over-long parameters and unknown methods with problem documents', async () => {
      const h = keys.operator.headers;
      expectProblem(await app.inject({ method: 'GET', url: '/api/v1/dispatches/%E0%A4%A', headers: h }), 400);
      expectProblem(
        await app.inject({ method: 'GET', url: `/api/v1/dispatches/${'a'.repeat(150)}`, headers: h }),
        414,
      );
      expectProblem(await app.inject({ method: 'PATCH', url: '/api/v1/farm', headers: h }), 404);
      expectProblem(await app.inject({ method: 'GET', url: '/api/v1/nothing', headers: h }), 404);
    });

    it('turns a 4xx or 5xx sent some other way into a problem document, without a 5xx detail', async () => {
      const teapot = expectProblem(await app.inject({ method: 'GET', url: '/docs/teapot' }), 418);
      expect(teapot.detail).toBe('short and stout');
      const r = await app.inject({ method: 'GET', url: '/docs/plain-error' });
      const body = expectProblem(r, 502);
      expect(r.body).not.toContain('password');
      expect(r.body).not.toContain('10.0.0.5');
      expect(typeof body.requestId).toBe('string');
    });

    it('answers a handler that does not finish in time with 503 and Retry-After', async () => {
      expect(HANDLER_TIMEOUT_MS).toBe(15_000);
      const r = await app.inject({ method: 'GET', url: '/docs/stuck' });
      expectProblem(r, 503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.body).not.toContain('late');
    });

    it('answers requests that reach a closing server with 503 and Connection: close', async () => {
      const closing = await build();
      // A request that still arrives while close() runs (as on a keep-alive connection).
      let status = 0;
      let headers: Headers | undefined;
      let text = '';
      closing.addHook('preClose', async () => {
        const r = await fetch(`${url}/api/v1/farm`, { headers: keys.viewer.headers });
        status = r.status;
        headers = r.headers;
        text = await r.text();
      });
      const url = await closing.listen({ port: 0, host: '127.0.0.1' });
      await closing.close();
      expect(status).toBe(503);
      expect(headers?.get('content-type')).toContain(PROBLEM);
      expect(headers?.get('connection')).toBe('close');
      expect(headers?.get('retry-after')).toBe('5');
      expect(JSON.parse(text)).toMatchObject({
        status: 503,
        type: 'https://switchyard.io/problems/shutting-down',
      });
    });
  });

  describe('the server', () => {
    it('answers malformed HTTP with a problem document on the socket, and bounds header time', async () => {
      const app = await build();
      hardenServer(app.server);
      expect(app.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
      expect(app.server.headersTimeout).toBeLessThanOrEqual(app.server.requestTimeout);
      expect(app.server.requestTimeout).toBe(30_000);
      expect(app.server.keepAliveTimeout).toBe(72_000);
      expect(app.server.maxHeadersCount).toBe(100);
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as { port: number }).port;
      const answer = await new Promise<string>((resolve, reject) => {
        let text = '';
        const s = connect({ host: '127.0.0.1', port }, () =>
          s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'),
        );
        s.on('data', (d: Buffer) => (text += d.toString()));
        s.on('close', () => resolve(text));
        s.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(answer).toContain(`Content-Type: ${PROBLEM}`);
      const json = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      expect(json).toMatchObject({ status: 400, type: 'https://switchyard.io/problems/bad-request' });
    });
  });

  describe('logs', () => {
    it('never hold a token, cookie, Idempotency-Key or secret-named field of a request', async () => {
      const logs = capturedLogger('trace');
      const app = await build(undefined, logs.logger);
      const token = keys.operator.token;
      const secret = token.split('.')[1]!;
      const idem = `idem-${randomUUID()}`;
      const cookie = `session=${randomUUID()}`;
      const password = `pw-${randomUUID()}`;
      const headers = { ...keys.operator.headers, cookie, 'idempotency-key': idem, 'x-api-key': token };
      const body = {
        password,
        nested: { token, apiKey: token, list: [{ secret: password }] },
        note: `key ${token}`,
      };
      // A careless route logs everything it has, then fails with the token in the message.
      app.get('/docs/careless-get', async (req) => {
        req.log.info(
          { body: req.body, headers: req.headers, query: req.query },
          'what a careless route logs',
        );
        throw new Error(`could not use ${req.headers.authorization} for ${JSON.stringify(req.query)}`);
      });
      const r = await app.inject({
        method: 'GET',
        url: `/docs/careless-get?token=${token}&password=${password}&q=${encodeURIComponent(`Bearer ${token}`)}`,
        headers,
      });
      expect(expectProblem(r, 500).detail).not.toContain('could not use');
      await app.inject({ method: 'POST', url: `/api/v1/keys?secret=${password}`, headers, payload: body });
      await app.inject({ method: 'GET', url: `/api/v1/keys/${token}`, headers });
      await app.inject({ method: 'GET', url: '/api/v1/farm', headers });
      app.log.info({ body, headers, req: { headers } }, 'objects logged straight');
      await sleep(20);
      const text = logs.text();
      expect(text).toContain('what a careless route logs');
      expect(text).toContain('could not use');
      expect(text).toContain('objects logged straight');
      expect(text).toContain('[redacted]');
      for (const leak of [secret, idem, cookie, password]) expect(text).not.toContain(leak);
    });

    it('redacts urls and values by field name at any depth, bounded', () => {
      expect(redactUrlForLog('/a?token=abc&x=1&Client_Secret=s&api-key=k')).toBe(
        '/a?token=[redacted]&x=1&Client_Secret=[redacted]&api-key=[redacted]',
      );
      expect(redactUrlForLog('/a/sy_abcdefghijkl.0123456789abcdefghijklmnopq')).toBe('/a/[redacted]');
      const deep: Record<string, unknown> = {};
      let at = deep;
      for (let i = 0; i < 50; i++) at = at.next = { password: 'x' } as Record<string, unknown>;
      const out = JSON.stringify(redactValue({ deep, many: Array.from({ length: 500 }, (_, i) => i) }));
      expect(out).not.toContain('"x"');
      expect(out).toContain('[nested too deep]');
      expect(out).toContain('[300 more]');
      const proto = redactValue(JSON.parse('{"__proto__":{"token":"t"}}')) as object;
      expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
      expect(JSON.stringify(proto)).toBe('{"__proto__":{"token":"[redacted]"}}');
    });
  });

  describe('configuration', () => {
    it('reads limits from the environment with sane defaults', () => {
      const d = hardeningConfigFromEnv({});
      expect(d.rateLimit).toEqual(DEFAULT_RATE_LIMITS);
      expect(d.loadShedding.maxEventLoopDelayMs).toBe(1000);
      expect(d.loadShedding.maxHeapUsedBytes).toBeGreaterThan(100 * 1024 * 1024);
      const c = hardeningConfigFromEnv({
        API_RATE_LIMIT_WINDOW_SECONDS: '10',
        API_RATE_LIMIT_PER_KEY: '50',
        API_RATE_LIMIT_OPERATOR: '500',
        API_RATE_LIMIT_ANONYMOUS: '5',
        API_SHED_EVENT_LOOP_DELAY_MS: '0',
        API_SHED_HEAP_USED_MB: '512',
      });
      expect(c.rateLimit).toEqual({ windowMs: 10_000, perKey: 50, operator: 500, anonymous: 5 });
      expect(c.loadShedding).toMatchObject({ maxEventLoopDelayMs: 0, maxHeapUsedBytes: 512 * 1024 * 1024 });
      expect(hardeningConfigFromEnv({ API_RATE_LIMIT: 'false' }).rateLimit).toBe(false);
      expect(() => hardeningConfigFromEnv({ API_RATE_LIMIT_PER_KEY: '0' })).toThrow(ConfigError);
      expect(() => hardeningConfigFromEnv({ API_RATE_LIMIT_PER_KEY: 'lots' })).toThrow(
        /API_RATE_LIMIT_PER_KEY/,
      );
    });
  });
});

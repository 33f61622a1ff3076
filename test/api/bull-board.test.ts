// bull-board at /admin/queues against real Redis queues and a real database: every route it
// registers — page, assets, API calls — is refused without a key (401) and to every role but
// operator (403); an operator gets in with the bearer header or with the session cookie that
// POST /admin/session sets; the board changes nothing (read-only); none of it is in the OpenAPI
// document.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { parseFarmYaml } from '@switchyard/domain';
import { ApiKeyRepository, AuditRepository, BrokerRepository, type Database } from '@switchyard/db';
import { connectRedis, createQueues, type JobQueues } from '@switchyard/queue';
import { createLogger } from '@switchyard/telemetry';
import { ADMIN_COOKIE, buildApp, registeredRouteKeys } from '@switchyard/api';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { requireRedisUrl } from '../support/redis.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';
import { uniquePrefix } from '../queue/support.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const PROBLEM = 'application/problem+json';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

describe('bull-board at /admin/queues', () => {
  let m: MigratedDatabase;
  let db: Database;
  let redis: Redis;
  let queues: JobQueues;
  let app: FastifyInstance;
  let routes: Array<[Method, string]>;
  const keys = {} as Record<'operator' | 'viewer' | 'energy' | 'compute' | 'revoked', TestKey>;
  const prefix = uniquePrefix();

  const get = (url: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url, headers });
  const signIn = (payload: string, contentType: string, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/admin/session',
      headers: { 'content-type': contentType, ...headers },
      payload,
    });
  const cookieOf = (r: LightMyRequestResponse) => {
    const set = String(r.headers['set-cookie'] ?? '');
    return { header: set, value: new RegExp(`^${ADMIN_COOKIE}=([^;]*)`).exec(set)?.[1] };
  };

  beforeAll(async () => {
    m = await openMigratedDatabase('pglite');
    db = m.handle.db;
    const brokers = new BrokerRepository(db);
    keys.operator = await issueTestKey(db, 'operator');
    keys.viewer = await issueTestKey(db, 'viewer');
    keys.energy = await issueTestKey(
      db,
      'energy-broker',
      (await brokers.create({ name: 'qse', kind: 'energy' })).id,
    );
    keys.compute = await issueTestKey(
      db,
      'compute-broker',
      (await brokers.create({ name: 'gpu', kind: 'compute' })).id,
    );
    keys.revoked = await issueTestKey(db, 'operator');
    await new ApiKeyRepository(db).revoke(keys.revoked.id);
    redis = await connectRedis(requireRedisUrl(), 'producer');
    queues = createQueues(redis, { prefix });
    await queues.queues.device.add('device.batch', { probe: true }, { jobId: 'probe-1' });
    app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [],
      db,
      getFarm: () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() }),
      admin: { queues: Object.values(queues.queues), redis, prefix },
    });
    await app.ready();
    routes = registeredRouteKeys(app)
      .filter((k) => k.split(' ')[1]!.startsWith('/admin/queues'))
      .map((k) => {
        const [method, url] = k.split(' ') as [Method, string];
        // Real names, so an operator's call reaches the board's own checks.
        const path = url
          .replace(':queueName', 'device')
          .replace(':jobId', 'probe-1')
          .replace(/:[A-Za-z]+/g, 'x');
        return [method, path.replace('*', 'index.html')];
      });
  });
  afterAll(async () => {
    await app?.close();
    await queues?.queues.device.obliterate({ force: true }).catch(() => undefined);
    await queues?.close();
    await redis?.quit();
    await m?.cleanup();
  });

  it('registers the page, its assets and its API under /admin/queues', () => {
    const urls = routes.map(([method, url]) => `${method} ${url}`);
    expect(urls).toEqual(expect.arrayContaining(['GET /admin/queues', 'GET /admin/queues/api/queues']));
    expect(urls.some((u) => u.startsWith('GET /admin/queues/static/'))).toBe(true);
    expect(routes.filter(([method]) => method !== 'GET').length).toBeGreaterThan(10);
  });

  it('refuses every route without a key, with a revoked one, and to every role but operator', async () => {
    const failures: string[] = [];
    for (const [method, url] of routes) {
      for (const [who, headers, status] of [
        ['no key', {}, 401],
        ['revoked', keys.revoked.headers, 401],
        ['basic auth', { authorization: 'Basic b3BlcmF0b3I6c2VjcmV0' }, 401],
        ['a garbage cookie', { cookie: `${ADMIN_COOKIE}=${'A'.repeat(43)}` }, 401],
        ['viewer', keys.viewer.headers, 403],
        ['energy-broker', keys.energy.headers, 403],
        ['compute-broker', keys.compute.headers, 403],
      ] as const) {
        const r = await app.inject({ method, url, headers: headers as Record<string, string> });
        if (r.statusCode !== status || !String(r.headers['content-type']).includes(PROBLEM))
          failures.push(`${method} ${url} as ${who}: ${r.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('lets an operator in with the bearer header, and changes nothing from the board', async () => {
    const failures: string[] = [];
    for (const [method, url] of routes) {
      const r = await app.inject({
        method,
        url,
        headers: keys.operator.headers,
        payload: method === 'GET' ? undefined : {},
      });
      if ([401, 403].includes(r.statusCode) || r.statusCode >= 500)
        failures.push(`${method} ${url}: ${r.statusCode}`);
    }
    expect(failures).toEqual([]);
    const page = await get('/admin/queues', keys.operator.headers);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('Switchyard queues');
    const api = await get('/admin/queues/api/queues', keys.operator.headers);
    expect(api.statusCode).toBe(200);
    expect(JSON.stringify(api.json())).toContain('device');
    // Read-only: the calls above (pause, clean, retry, obliterate, ...) left the queue as it was.
    expect(await queues.queues.device.isPaused()).toBe(false);
    expect(await queues.queues.device.getJob('probe-1')).toBeDefined();
    const write = await app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/device/pause',
      headers: keys.operator.headers,
    });
    expect(write.statusCode).toBe(405);
  });

  it('signs an operator in with a cookie: HttpOnly, SameSite=Strict, Path=/admin, 30 minutes', async () => {
    const form = await signIn(
      `key=${encodeURIComponent(keys.operator.token)}`,
      'application/x-www-form-urlencoded',
    );
    expect(form.statusCode).toBe(303);
    expect(form.headers.location).toBe('/admin/queues/');
    const { header, value } = cookieOf(form);
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(header).toBe(`${ADMIN_COOKIE}=${value}; Path=/admin; Max-Age=1800; HttpOnly; SameSite=Strict`);
    const cookie = { cookie: `theme=dark; ${ADMIN_COOKIE}=${value}` };
    expect((await get('/admin/queues', cookie)).statusCode).toBe(200);
    expect((await get('/admin/queues/api/queues', cookie)).statusCode).toBe(200);
    const page = await get('/admin/queues', cookie);
    const asset = `/admin/queues/${/static\/[^"']+\.js/.exec(page.body)![0]}`;
    expect((await get(asset, cookie)).statusCode).toBe(200);
    expect((await get(asset)).statusCode).toBe(401);
    // The cookie is good for the board only.
    expect((await get('/api/v1/farm', cookie)).statusCode).toBe(401);
    const audit = await new AuditRepository(db).list({ action: 'admin.session.open' });
    expect(audit.items[0]).toMatchObject({ actor: keys.operator.prefix, target: `key:${keys.operator.id}` });

    // JSON body or bearer header; Secure when the request came over https.
    const json = await signIn(JSON.stringify({ key: keys.operator.token }), 'application/json', {
      'x-forwarded-proto': 'https',
    });
    expect(json.statusCode).toBe(201);
    expect(json.json()).toMatchObject({ expiresAt: expect.any(String), board: '/admin/queues/' });
    expect(cookieOf(json).header).toMatch(/; Secure$/);
    const bearer = await app.inject({
      method: 'POST',
      url: '/admin/session',
      headers: keys.operator.headers,
    });
    expect(bearer.statusCode).toBe(201);

    // Signing out ends the session at once.
    const out = await app.inject({ method: 'DELETE', url: '/admin/session', headers: cookie });
    expect(out.statusCode).toBe(204);
    expect(cookieOf(out).header).toContain('Max-Age=0');
    expect((await get('/admin/queues', cookie)).statusCode).toBe(401);
    expect((await new AuditRepository(db).list({ action: 'admin.session.close' })).items).toHaveLength(1);
  });

  it('opens no session for a viewer, a broker or a bad key, and ends one whose key is revoked', async () => {
    for (const [key, status] of [
      [keys.viewer.token, 403],
      [keys.energy.token, 403],
      [keys.revoked.token, 401],
      [`${keys.operator.token.slice(0, -1)}x`, 401],
      ['', 401],
    ] as const) {
      const r = await signIn(JSON.stringify({ key }), 'application/json');
      expect([key.slice(0, 6), r.statusCode]).toEqual([key.slice(0, 6), status]);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    expect((await signIn('{}', 'application/json')).statusCode).toBe(401);
    expect((await signIn(`key=${'x'.repeat(5000)}`, 'application/x-www-form-urlencoded')).statusCode).toBe(
      413,
    );

    const k = await issueTestKey(db, 'operator');
    const r = await signIn(JSON.stringify({ key: k.token }), 'application/json');
    const cookie = { cookie: `${ADMIN_COOKIE}=${cookieOf(r).value!}` };
    expect((await get('/admin/queues/api/queues', cookie)).statusCode).toBe(200);
    await new ApiKeyRepository(db).revoke(k.id);
    expect((await get('/admin/queues/api/queues', cookie)).statusCode).toBe(401);
  });

  it('serves a sign-in form, and keeps every admin route out of the OpenAPI document', async () => {
    const login = await get('/admin/login');
    expect(login.statusCode).toBe(200);
    expect(login.body).toContain('action="/admin/session"');
    const doc = app.swagger() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
    expect(Object.keys(doc.paths)).toContain('/api/v1/status');
  });
});

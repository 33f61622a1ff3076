// Authentication and authorization against PostgreSQL, through app.inject: every route of the
// access table × every role, without a key and with a revoked one; energy brokers confined to
// their own dispatches; keys issued, rotated and revoked through the operator routes; audit.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { parseFarmYaml } from '@switchyard/domain';
import {
  API_KEY_ROLES,
  ApiKeyRepository,
  AuditRepository,
  BrokerRepository,
  type ApiKeyRole,
  type BrokerRecord,
  type Database,
} from '@switchyard/db';
import { createLogger, REDACT_PATHS } from '@switchyard/telemetry';
import { ACCESS, accessRule, buildApp, registeredRouteKeys, TOKEN_NOTICE } from '@switchyard/api';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const getFarm = () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() });
const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';
const PROBLEM = 'application/problem+json';

type Who = ApiKeyRole | 'no key' | 'revoked key' | 'basic auth';

interface KeyJson {
  id: string;
  prefix: string;
  role: string;
  brokerId: string | null;
  label: string | null;
  active: boolean;
  revokedAt: string | null;
}

describe('API authentication and roles', () => {
  let m: MigratedDatabase;
  let db: Database;
  let app: FastifyInstance;
  let energyA: BrokerRecord;
  let energyB: BrokerRecord;
  let compute: BrokerRecord;
  const keys = {} as Record<ApiKeyRole | 'revoked' | 'energyB', TestKey>;

  const headersOf = (who: Who): Record<string, string> => {
    if (who === 'no key') return {};
    if (who === 'basic auth') return { authorization: 'Basic b3BlcmF0b3I6c2VjcmV0' };
    return keys[who === 'revoked key' ? 'revoked' : who].headers;
  };
  const send = (
    key: TestKey,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: object,
  ): Promise<LightMyRequestResponse> =>
    app.inject({ method, url, headers: key.headers, ...(payload ? { payload } : {}) });

  beforeAll(async () => {
    m = await openMigratedDatabase('pg');
    db = m.handle.db;
    const brokers = new BrokerRepository(db);
    energyA = await brokers.create({ name: 'energy-a', kind: 'energy' });
    energyB = await brokers.create({ name: 'energy-b', kind: 'energy' });
    compute = await brokers.create({ name: 'compute-c', kind: 'compute' });
    keys.operator = await issueTestKey(db, 'operator');
    keys.viewer = await issueTestKey(db, 'viewer');
    keys['compute-broker'] = await issueTestKey(db, 'compute-broker', compute.id);
    keys['energy-broker'] = await issueTestKey(db, 'energy-broker', energyA.id);
    keys.energyB = await issueTestKey(db, 'energy-broker', energyB.id);
    keys.revoked = await issueTestKey(db, 'operator');
    await new ApiKeyRepository(db).revoke(keys.revoked.id);
    app = await buildApp({ logger: createLogger({ level: 'silent' }), readiness: [], db, getFarm });
  });
  afterAll(async () => {
    await app?.close();
    await m?.cleanup();
  });

  it('has an access rule for every registered route, and a route for every rule', () => {
    const routes = registeredRouteKeys(app);
    expect(routes.length).toBeGreaterThan(10);
    const unmapped = routes.filter((r) => {
      const [method, url] = r.split(' ') as [string, string];
      return accessRule(method, url).kind === 'unmapped';
    });
    expect(unmapped).toEqual([]);
    expect(Object.keys(ACCESS).filter((r) => !routes.includes(r))).toEqual([]);
  });

  describe('role matrix', () => {
    const whos: Who[] = [...API_KEY_ROLES, 'no key', 'revoked key', 'basic auth'];
    const cases = Object.entries(ACCESS).flatMap(([route, allowed]) =>
      whos.map((who) => [route, who, (allowed as readonly string[]).includes(who)] as const),
    );
    it.each(cases)('%s as %s (allowed: %s)', async (route, who, allowed) => {
      const [method, path] = route.split(' ') as ['GET' | 'POST' | 'PUT' | 'DELETE', string];
      // Bodies are empty (a PUT's carries an unknown field) so an allowed write fails validation
      // (or finds no such id) and changes nothing.
      const r = await app.inject({
        method,
        url: path.replace(':id', SAMPLE_ID),
        headers: headersOf(who),
        ...(method === 'POST' ? { payload: {} } : method === 'PUT' ? { payload: { unknownField: 1 } } : {}),
      });
      if (allowed) {
        expect([401, 403]).not.toContain(r.statusCode);
        expect(r.statusCode).toBeLessThan(500);
        return;
      }
      expect(r.headers['content-type']).toContain(PROBLEM);
      if (who === 'no key' || who === 'basic auth') {
        expect(r.statusCode).toBe(401);
        expect(r.headers['www-authenticate']).toBe('Bearer realm="switchyard"');
      } else if (who === 'revoked key') {
        expect(r.statusCode).toBe(401);
        expect(r.headers['www-authenticate']).toBe('Bearer realm="switchyard", error="invalid_token"');
      } else {
        expect(r.statusCode).toBe(403);
        expect(r.json()).toMatchObject({
          type: 'https://switchyard.io/problems/forbidden',
          detail: `role ${who} may not ${route}`,
        });
      }
    });
  });

  it('lets anyone reach the probes, and answers an unknown route 404 without a key', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const r = await app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
    expect(r.statusCode).toBe(404);
  });

  it('refuses a route that has no access rule to every key (fail closed)', async () => {
    const extra = await buildApp({ logger: createLogger({ level: 'silent' }), readiness: [], db, getFarm });
    try {
      extra.get('/api/v1/unlisted', async () => ({ secret: true }));
      for (const k of [keys.operator, keys.viewer]) {
        const r = await extra.inject({ method: 'GET', url: '/api/v1/unlisted', headers: k.headers });
        expect(r.statusCode).toBe(403);
        expect(r.json()).toMatchObject({ detail: 'no access rule covers this route' });
      }
      expect(registeredRouteKeys(extra)).toContain('GET /api/v1/unlisted');
    } finally {
      await extra.close();
    }
  });

  it('refuses malformed, unknown and tampered keys with 401', async () => {
    const t = keys.operator.token;
    for (const authorization of [
      'Bearer',
      'Bearer ',
      `Bearer ${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`,
      `Bearer sy_aaaaaaaaaaaa.${t.split('.')[1]}`,
      `Bearer ${t} extra`,
      `Bearer ${'x'.repeat(600)}`,
      t,
    ]) {
      const r = await app.inject({ method: 'GET', url: '/api/v1/farm', headers: { authorization } });
      expect(r.statusCode).toBe(401);
    }
    const lower = await app.inject({
      method: 'GET',
      url: '/api/v1/farm',
      headers: { authorization: `bearer ${t}` },
    });
    expect(lower.statusCode).toBe(200);
  });

  it('records when a key was last used', async () => {
    const k = await issueTestKey(db, 'viewer');
    const repo = new ApiKeyRepository(db);
    expect((await repo.get(k.id))?.lastUsedAt).toBeNull();
    expect((await send(k, 'GET', '/api/v1/farm')).statusCode).toBe(200);
    const deadline = Date.now() + 5000;
    while (!(await repo.get(k.id))?.lastUsedAt && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect((await repo.get(k.id))?.lastUsedAt).toBeInstanceOf(Date);
  });

  describe('grid dispatches per energy broker', () => {
    const cap = { capKw: 20_000, durationSeconds: 600 };

    it('keeps each broker to its own dispatches; operators and viewers see all', async () => {
      const a = await send(keys['energy-broker'], 'POST', '/api/v1/dispatches', cap);
      expect(a.statusCode).toBe(201);
      const mine = a.json() as { id: string; brokerId: string | null };
      expect(mine.brokerId).toBe(energyA.id);
      const op = (await send(keys.operator, 'POST', '/api/v1/dispatches', cap)).json() as {
        id: string;
        brokerId: null;
      };
      expect(op.brokerId).toBeNull();

      // Another broker: as if the dispatch did not exist.
      const b = keys.energyB;
      expect((await send(b, 'GET', `/api/v1/dispatches/${mine.id}`)).statusCode).toBe(404);
      expect((await send(b, 'DELETE', `/api/v1/dispatches/${mine.id}`)).statusCode).toBe(404);
      expect((await send(b, 'GET', `/api/v1/dispatches/${op.id}`)).statusCode).toBe(404);
      const bList = (await send(b, 'GET', '/api/v1/dispatches')).json() as { items: Array<{ id: string }> };
      expect(bList.items).toEqual([]);

      const aList = (await send(keys['energy-broker'], 'GET', '/api/v1/dispatches')).json() as {
        items: Array<{ id: string }>;
      };
      expect(aList.items.map((d) => d.id)).toEqual([mine.id]);
      for (const k of [keys.operator, keys.viewer]) {
        expect((await send(k, 'GET', `/api/v1/dispatches/${mine.id}`)).json()).toMatchObject({
          brokerId: energyA.id,
        });
        const all = (await send(k, 'GET', '/api/v1/dispatches')).json() as { items: Array<{ id: string }> };
        expect(all.items.map((d) => d.id)).toEqual(expect.arrayContaining([mine.id, op.id]));
      }

      const cancelled = await send(keys['energy-broker'], 'DELETE', `/api/v1/dispatches/${mine.id}`);
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json()).toMatchObject({ state: 'cancelled' });

      const audit = await new AuditRepository(db).list({ target: `dispatch:${mine.id}` });
      expect(audit.items.map((e) => [e.action, e.actor, e.brokerId])).toEqual([
        ['dispatch.cancel', keys['energy-broker'].prefix, energyA.id],
        ['dispatch.create', keys['energy-broker'].prefix, energyA.id],
      ]);
    });

    it('never takes the broker from the body', async () => {
      for (const field of ['brokerId', 'broker_id', 'state']) {
        const r = await send(keys['energy-broker'], 'POST', '/api/v1/dispatches', {
          ...cap,
          [field]: energyB.id,
        });
        expect(r.statusCode).toBe(400);
        expect((r.json() as { errors: Array<{ path: string }> }).errors[0]?.path).toBe(`/${field}`);
      }
    });
  });

  describe('operator routes for brokers and keys', () => {
    it('creates and lists brokers, refusing duplicates, bad names and extra fields', async () => {
      const op = keys.operator;
      const r = await send(op, 'POST', '/api/v1/brokers', { name: 'qse-west', kind: 'energy' });
      expect(r.statusCode).toBe(201);
      expect(r.json()).toMatchObject({ name: 'qse-west', kind: 'energy', disabledAt: null });
      expect(
        (await send(op, 'POST', '/api/v1/brokers', { name: 'qse-west', kind: 'energy' })).statusCode,
      ).toBe(409);
      for (const body of [
        { name: 'QSE West', kind: 'energy' },
        { name: 'x'.repeat(64), kind: 'energy' },
        { name: 'ok-name', kind: 'oil' },
        { name: 'ok-name', kind: 'energy', id: SAMPLE_ID },
      ]) {
        const bad = await send(op, 'POST', '/api/v1/brokers', body);
        expect(bad.statusCode).toBe(400);
        expect(bad.headers['content-type']).toContain(PROBLEM);
      }
      const list = (await send(op, 'GET', '/api/v1/brokers')).json() as { items: Array<{ name: string }> };
      expect(list.items.map((b) => b.name)).toEqual(['compute-c', 'energy-a', 'energy-b', 'qse-west']);
    });

    it('issues a key whose token is shown once and works at once', async () => {
      const op = keys.operator;
      const r = await send(op, 'POST', '/api/v1/keys', {
        role: 'energy-broker',
        brokerId: energyA.id,
        label: 'dispatch desk',
      });
      expect(r.statusCode).toBe(201);
      expect(r.headers['cache-control']).toBe('no-store');
      const body = r.json() as { key: KeyJson; token: string; notice: string };
      expect(body.notice).toBe(TOKEN_NOTICE);
      expect(body.key).toMatchObject({
        role: 'energy-broker',
        brokerId: energyA.id,
        label: 'dispatch desk',
        active: true,
      });
      expect(body.token.startsWith(`${body.key.prefix}.`)).toBe(true);
      const headers = { authorization: `Bearer ${body.token}` };
      expect((await app.inject({ method: 'GET', url: '/api/v1/dispatches', headers })).statusCode).toBe(200);

      const listed = await send(op, 'GET', `/api/v1/keys?brokerId=${energyA.id}`);
      const text = listed.body;
      expect(text).not.toContain(body.token.split('.')[1]);
      expect(text).not.toMatch(/secretHash|secret_hash|token/);
      expect((listed.json() as { items: KeyJson[] }).items.map((k) => k.id)).toContain(body.key.id);

      const audit = await send(op, 'GET', '/api/v1/audit?action=key.create&limit=1');
      expect(audit.json()).toMatchObject({
        items: [
          {
            action: 'key.create',
            actor: op.prefix,
            keyId: op.id,
            role: 'operator',
            target: `key:${body.key.id}`,
            detail: { prefix: body.key.prefix, role: 'energy-broker', brokerId: energyA.id },
          },
        ],
      });
      expect(audit.body).not.toContain(body.token.split('.')[1]);
    });

    it.each([
      [{ role: 'energy-broker' }, 'a key with role energy-broker needs a broker'],
      [{ role: 'operator', brokerId: SAMPLE_ID }, 'acts for no broker'],
      [{ role: 'compute-broker', brokerId: SAMPLE_ID }, `no broker ${SAMPLE_ID}`],
      [{ role: 'root' }, 'role'],
      [{ role: 'viewer', label: 'x'.repeat(101) }, 'label'],
      [{ role: 'viewer', expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ role: 'viewer', expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt must be a time in the future'],
      [{ role: 'viewer', secretHash: 'ab'.repeat(32) }, '/secretHash'],
      [{ role: 'viewer', revokedAt: null }, '/revokedAt'],
    ])('refuses key %j with a 400 problem', async (payload, message) => {
      const before = (await new ApiKeyRepository(db).list()).length;
      const r = await send(keys.operator, 'POST', '/api/v1/keys', payload);
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toContain(PROBLEM);
      expect(JSON.stringify(r.json())).toContain(message);
      expect((await new ApiKeyRepository(db).list()).length).toBe(before);
    });

    it('refuses a broker key for a broker of the other kind', async () => {
      const r = await send(keys.operator, 'POST', '/api/v1/keys', {
        role: 'energy-broker',
        brokerId: compute.id,
      });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'BROKER_MISMATCH' });
    });

    it('rotates a key: the new token works, the old one stops at once', async () => {
      const op = keys.operator;
      const old = await issueTestKey(db, 'viewer');
      expect((await send(old, 'GET', '/api/v1/farm')).statusCode).toBe(200); // now cached
      const r = await send(op, 'POST', `/api/v1/keys/${old.id}/rotate`);
      expect(r.statusCode).toBe(201);
      const body = r.json() as { key: KeyJson; token: string; previous: KeyJson };
      expect(body.key).toMatchObject({ role: 'viewer', label: 'test', active: true });
      expect(body.previous).toMatchObject({ id: old.id, active: false });
      expect(body.previous.revokedAt).not.toBeNull();
      expect((await send(old, 'GET', '/api/v1/farm')).statusCode).toBe(401);
      const fresh = { headers: { authorization: `Bearer ${body.token}` } } as TestKey;
      expect((await send(fresh, 'GET', '/api/v1/farm')).statusCode).toBe(200);
      const again = await send(op, 'POST', `/api/v1/keys/${old.id}/rotate`, {});
      expect(again.statusCode).toBe(409);
      expect((await send(op, 'POST', `/api/v1/keys/${SAMPLE_ID}/rotate`)).statusCode).toBe(404);
      expect((await send(op, 'POST', '/api/v1/keys/not-a-uuid/rotate')).statusCode).toBe(400);
    });

    it('revokes a key at once; revoking again changes nothing', async () => {
      const op = keys.operator;
      const k = await issueTestKey(db, 'energy-broker', energyB.id);
      expect((await send(k, 'GET', '/api/v1/dispatches')).statusCode).toBe(200);
      const r = await send(op, 'DELETE', `/api/v1/keys/${k.id}`);
      expect(r.statusCode).toBe(200);
      const revoked = r.json() as KeyJson;
      expect(revoked).toMatchObject({ id: k.id, active: false });
      expect((await send(k, 'GET', '/api/v1/dispatches')).statusCode).toBe(401);
      const again = await send(op, 'DELETE', `/api/v1/keys/${k.id}`);
      expect((again.json() as KeyJson).revokedAt).toBe(revoked.revokedAt);
      expect((await send(op, 'DELETE', `/api/v1/keys/${SAMPLE_ID}`)).statusCode).toBe(404);
      const audit = await new AuditRepository(db).list({ target: `key:${k.id}` });
      expect(audit.items.map((e) => e.action)).toEqual(['key.revoke']);
    });

    it('pages the audit log with a cursor', async () => {
      const op = keys.operator;
      const first = (await send(op, 'GET', '/api/v1/audit?limit=2')).json() as {
        items: Array<{ id: string }>;
        nextCursor: string;
      };
      expect(first.items).toHaveLength(2);
      const second = (await send(op, 'GET', `/api/v1/audit?limit=2&cursor=${first.nextCursor}`)).json() as {
        items: Array<{ id: string }>;
      };
      expect(Number(second.items[0]!.id)).toBeLessThan(Number(first.items[1]!.id));
      for (const q of ['limit=0', 'limit=501', 'cursor=abc', 'actor=' + 'x'.repeat(201)])
        expect((await send(op, 'GET', `/api/v1/audit?${q}`)).statusCode).toBe(400);
    });
  });

  it('gives the operator routes the roles docs/operator-api.md documents', () => {
    const readers = ['operator', 'viewer'];
    const documented: Record<string, readonly string[]> = {
      'GET /api/v1/plans/:id': readers,
      'GET /api/v1/status': readers,
      'GET /api/v1/policy': readers,
      'PUT /api/v1/policy': ['operator'],
      'GET /api/v1/policy/versions': readers,
      'POST /api/v1/overrides': ['operator'],
      'GET /api/v1/overrides': readers,
      'GET /api/v1/overrides/:id': readers,
      'DELETE /api/v1/overrides/:id': ['operator'],
      'GET /api/v1/actions': readers,
      'GET /api/v1/signals': readers,
      'POST /api/v1/prices': ['operator', 'energy-broker'],
    };
    expect(Object.fromEntries(Object.keys(documented).map((r) => [r, ACCESS[r]]))).toEqual(documented);
    // bull-board: every method and path under /admin/queues, operators only, session cookie taken.
    for (const [method, url] of [
      ['GET', '/admin/queues'],
      ['GET', '/admin/queues/static/*'],
      ['PUT', '/admin/queues/api/queues/:queueName/pause'],
    ])
      expect(accessRule(method!, url!)).toEqual({ kind: 'roles', roles: ['operator'], session: true });
    expect(accessRule('GET', '/admin/queuesx').kind).toBe('unmapped');
  });

  describe('webhooks per compute broker', () => {
    it('keeps each compute broker to its own webhooks; operators act on all; viewers on none', async () => {
      const other = await new BrokerRepository(db).create({ name: 'compute-d', kind: 'compute' });
      const otherKey = await issueTestKey(db, 'compute-broker', other.id);
      const r = await send(keys['compute-broker'], 'POST', '/api/v1/webhooks', {
        url: 'https://compute-c.example/hooks',
      });
      expect(r.statusCode).toBe(201);
      const { webhook, secret } = r.json() as { webhook: { id: string; brokerId: string }; secret: string };
      expect(webhook.brokerId).toBe(compute.id);
      expect(secret).toMatch(/^whsec_/);

      const routes = [
        ['GET', `/api/v1/webhooks/${webhook.id}`],
        ['POST', `/api/v1/webhooks/${webhook.id}/test`],
        ['DELETE', `/api/v1/webhooks/${webhook.id}`],
      ] as const;
      for (const [method, url] of routes) expect((await send(otherKey, method, url)).statusCode).toBe(404);
      for (const [method, url] of routes) expect((await send(keys.viewer, method, url)).statusCode).toBe(403);
      const listed = (await send(otherKey, 'GET', '/api/v1/webhooks')).json() as { items: unknown[] };
      expect(listed.items).toEqual([]);

      expect((await send(keys.operator, 'GET', `/api/v1/webhooks/${webhook.id}`)).statusCode).toBe(200);
      expect((await send(keys.operator, 'DELETE', `/api/v1/webhooks/${webhook.id}`)).statusCode).toBe(200);
      const audit = await new AuditRepository(db).list({ target: `webhook:${webhook.id}` });
      expect(audit.items.map((e) => [e.action, e.actor])).toEqual([
        ['webhook.delete', keys.operator.prefix],
        ['webhook.create', keys['compute-broker'].prefix],
      ]);
    });
  });

  describe('compute orders per compute broker', () => {
    const ORDER_ROLES: Record<string, readonly ApiKeyRole[]> = {
      'GET /api/v1/capacity': ['operator', 'viewer', 'compute-broker'],
      'POST /api/v1/quotes': ['compute-broker'],
      'POST /api/v1/orders': ['compute-broker'],
      'GET /api/v1/orders': ['operator', 'viewer', 'compute-broker'],
      'GET /api/v1/orders/:id': ['operator', 'viewer', 'compute-broker'],
      'DELETE /api/v1/orders/:id': ['operator', 'compute-broker'],
      'GET /api/v1/orders/:id/usage': ['operator', 'viewer', 'compute-broker'],
    };

    it('admits the documented roles on every compute-broker route', () => {
      for (const [route, roles] of Object.entries(ORDER_ROLES))
        expect([route, ACCESS[route]]).toEqual([route, roles]);
      const routes = registeredRouteKeys(app);
      for (const route of Object.keys(ORDER_ROLES)) expect(routes).toContain(route);
    });

    it('keeps each compute broker to its own orders; viewers read all; operators cancel any', async () => {
      const other = await new BrokerRepository(db).create({ name: 'compute-e', kind: 'compute' });
      const otherKey = await issueTestKey(db, 'compute-broker', other.id);
      const bid = {
        gpuModels: ['H100-SXM-80GB'],
        gpuCount: 8,
        durationSeconds: 3600,
        tier: 'interruptible',
        maxUsdPerGpuHour: 1.5,
        image: 'ghcr.io/acme/app:1',
      };
      const r = await app.inject({
        method: 'POST',
        url: '/api/v1/orders',
        headers: { ...keys['compute-broker'].headers, 'idempotency-key': 'auth-matrix-1' },
        payload: { ...bid },
      });
      expect(r.statusCode).toBe(201);
      const order = r.json() as { id: string; brokerId: string };
      expect(order.brokerId).toBe(compute.id);

      const routes = [
        ['GET', `/api/v1/orders/${order.id}`],
        ['GET', `/api/v1/orders/${order.id}/usage`],
        ['DELETE', `/api/v1/orders/${order.id}`],
      ] as const;
      for (const [method, url] of routes) expect((await send(otherKey, method, url)).statusCode).toBe(404);
      for (const [method, url] of routes)
        expect((await send(keys['energy-broker'], method, url)).statusCode).toBe(403);
      expect((await send(keys.viewer, 'GET', `/api/v1/orders/${order.id}`)).statusCode).toBe(200);
      expect((await send(keys.viewer, 'DELETE', `/api/v1/orders/${order.id}`)).statusCode).toBe(403);
      const listed = (await send(otherKey, 'GET', '/api/v1/orders')).json() as { items: unknown[] };
      expect(listed.items).toEqual([]);
      // An operator's key acts for no broker: it places no orders.
      expect((await send(keys.operator, 'POST', '/api/v1/orders', bid)).statusCode).toBe(403);

      const cancelled = await send(keys.operator, 'DELETE', `/api/v1/orders/${order.id}`);
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json()).toMatchObject({ state: 'cancelled' });
      const audit = await new AuditRepository(db).list({ target: `order:${order.id}` });
      expect(audit.items.map((e) => [e.action, e.actor])).toEqual([
        ['order.cancel', keys.operator.prefix],
        ['order.create', keys['compute-broker'].prefix],
      ]);
    });
  });

  it('never logs the Authorization header', async () => {
    expect(REDACT_PATHS).toContain('req.headers.authorization');
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const logger = createLogger({ level: 'debug', destination: out });
    const logged = await buildApp({ logger, readiness: [], db, getFarm });
    try {
      const token = keys.viewer.token;
      await logged.inject({ method: 'GET', url: '/api/v1/farm', headers: keys.viewer.headers });
      await logged.inject({ method: 'GET', url: '/api/v1/keys', headers: keys.viewer.headers });
      logger.info({ req: { headers: { authorization: `Bearer ${token}` } } }, 'a request with its headers');
      await new Promise((r) => setImmediate(r));
      expect(text).toContain('a request with its headers');
      expect(text).toContain('[redacted]');
      expect(text).not.toContain(token.split('.')[1]);
    } finally {
      await logged.close();
    }
  });
});

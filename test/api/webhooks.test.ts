// The webhook routes against PostgreSQL and a real Redis, through app.inject: a compute broker
// registers a webhook (the secret shown once), lists, reads and deletes its own only; operators
// act on all and name the broker of a new one; every input is bounded and closed; every write is
// audited; and a test ping goes through the queue and a real worker to a real receiver that
// verifies its signature with the secret from the registration.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { parseFarmYaml } from '@switchyard/domain';
import {
  AuditRepository,
  BrokerRepository,
  MAX_WEBHOOK_DESCRIPTION_LENGTH,
  MAX_WEBHOOKS_PER_BROKER,
  WebhookRepository,
  queryRows,
  sql,
  type BrokerRecord,
  type Database,
} from '@switchyard/db';
import { createWebhookDeliverHandler, createWebhookOutbox } from '@switchyard/brokers';
import { createQueues, startWorkers, type JobQueues, type RunningWorkers } from '@switchyard/queue';
import { createLogger } from '@switchyard/telemetry';
import { buildApp } from '@switchyard/api';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';
import { requireRedisUrl } from '../support/redis.ts';
import { dropPrefix, producer, recordingHandlers, uniquePrefix } from '../queue/support.ts';
import { startReceiver, type Receiver } from '../brokers/receiver.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const getFarm = () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() });
const logger = createLogger({ level: 'silent' });
const PROBLEM = 'application/problem+json';
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

interface WebhookJson {
  id: string;
  brokerId: string;
  url: string;
  events: string[];
  description: string | null;
  createdAt: string;
  deletedAt: string | null;
}
interface DeliveryJson {
  id: string;
  eventId: string;
  event: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
}

describe('webhook routes', () => {
  let m: MigratedDatabase;
  let db: Database;
  let redis: Redis;
  let queues: JobQueues;
  let workers: RunningWorkers;
  let app: FastifyInstance;
  let receiver: Receiver;
  const prefix = uniquePrefix();
  let a: BrokerRecord;
  let b: BrokerRecord;
  let energy: BrokerRecord;
  const keys = {} as Record<'op' | 'a' | 'b' | 'viewer' | 'energy', TestKey>;

  const send = (
    key: TestKey,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: unknown,
    to: FastifyInstance = app,
  ): Promise<LightMyRequestResponse> =>
    to.inject({
      method,
      url: `/api/v1${url}`,
      headers: key.headers,
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
  const register = async (key: TestKey, body: object, query = '') => {
    const r = await send(key, 'POST', `/webhooks${query}`, body);
    expect(r.statusCode).toBe(201);
    return r.json() as { webhook: WebhookJson; secret: string; notice: string };
  };
  const countRows = async () =>
    (await queryRows<{ n: number }>(db, sql`select count(*)::int as n from webhooks`))[0]!.n;

  beforeAll(async () => {
    m = await openMigratedDatabase('pg');
    db = m.handle.db;
    const brokers = new BrokerRepository(db);
    a = await brokers.create({ name: 'compute-a', kind: 'compute' });
    b = await brokers.create({ name: 'compute-b', kind: 'compute' });
    energy = await brokers.create({ name: 'energy-e', kind: 'energy' });
    keys.op = await issueTestKey(db, 'operator');
    keys.viewer = await issueTestKey(db, 'viewer');
    keys.a = await issueTestKey(db, 'compute-broker', a.id);
    keys.b = await issueTestKey(db, 'compute-broker', b.id);
    keys.energy = await issueTestKey(db, 'energy-broker', energy.id);
    redis = await producer();
    queues = createQueues(redis, { prefix });
    workers = await startWorkers({
      connection: requireRedisUrl(),
      handlers: {
        ...recordingHandlers(),
        'webhook.deliver': createWebhookDeliverHandler({ db, targets: { allowLoopback: true } }),
      },
      queues: ['webhook'],
      prefix,
      handleSignals: false,
    });
    receiver = await startReceiver();
    app = await buildApp({
      logger,
      readiness: [],
      db,
      getFarm,
      webhookOutbox: createWebhookOutbox(db, queues),
      webhookTargets: { allowLoopback: true },
    });
  });
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
    await workers?.close({ force: true });
    await queues?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
    await m?.cleanup();
  });

  describe('registering', () => {
    it('returns the webhook and its secret once, and never again', async () => {
      const r = await send(keys.a, 'POST', '/webhooks', {
        url: 'https://broker-a.example/hooks?token=abc',
        description: 'order feed',
      });
      expect(r.statusCode).toBe(201);
      expect(r.headers['cache-control']).toBe('no-store');
      const body = r.json() as { webhook: WebhookJson; secret: string; notice: string };
      expect(r.headers.location).toBe(`/api/v1/webhooks/${body.webhook.id}`);
      expect(body.secret).toMatch(SECRET);
      expect(Buffer.from(body.secret.slice(6), 'base64')).toHaveLength(32);
      expect(body.notice).toMatch(/cannot be shown again/);
      expect(body.webhook).toMatchObject({
        brokerId: a.id,
        url: 'https://broker-a.example/hooks?token=abc',
        events: ['order.state', 'order.preemption-notice'],
        description: 'order feed',
        deletedAt: null,
      });

      const list = await send(keys.a, 'GET', '/webhooks');
      const one = await send(keys.a, 'GET', `/webhooks/${body.webhook.id}`);
      const opList = await send(keys.op, 'GET', '/webhooks');
      for (const res of [list, one, opList]) {
        expect(res.statusCode).toBe(200);
        expect(res.body).not.toContain(body.secret.slice(6));
        expect(res.body).not.toMatch(/whsec_|"secret"/);
      }
      expect((list.json() as { items: WebhookJson[] }).items.map((w) => w.id)).toContain(body.webhook.id);
      expect(one.json()).toMatchObject({ id: body.webhook.id, deliveries: [] });

      const audit = await new AuditRepository(db).list({ target: `webhook:${body.webhook.id}` });
      expect(audit.items).toHaveLength(1);
      expect(audit.items[0]).toMatchObject({
        action: 'webhook.create',
        actor: keys.a.prefix,
        brokerId: a.id,
        detail: { brokerId: a.id, url: 'https://broker-a.example/hooks', events: body.webhook.events },
      });
      expect(JSON.stringify(audit.items)).not.toMatch(/token=abc|whsec_/);
    });

    it('keeps the events asked for, in a fixed order', async () => {
      const one = await register(keys.a, {
        url: 'https://a.example/1',
        events: ['order.preemption-notice'],
        description: 'Préemptions — équipe de nuit ✓',
      });
      expect(one.webhook).toMatchObject({
        events: ['order.preemption-notice'],
        description: 'Préemptions — équipe de nuit ✓',
      });
      const both = await register(keys.a, {
        url: 'https://a.example/2',
        events: ['order.preemption-notice', 'order.state'],
      });
      expect(both.webhook.events).toEqual(['order.state', 'order.preemption-notice']);
    });

    it.each([
      ['/url', {}],
      ['/url', { url: 'http://broker.example/hooks' }],
      ['/url', { url: 'ftp://broker.example/hooks' }],
      ['/url', { url: 'https://user:pw@broker.example/' }],
      ['/url', { url: 'https://broker.example/#frag' }],
      ['/url', { url: 'https://10.1.2.3/hooks' }],
      ['/url', { url: 'https://169.254.169.254/latest/meta-data' }],
      ['/url', { url: 'not a url' }],
      ['/url', { url: `https://broker.example/${'x'.repeat(2030)}` }],
      ['/url', { url: 42 }],
      ['/events', { url: 'https://broker.example/', events: [] }],
      ['/events/0', { url: 'https://broker.example/', events: ['order.created'] }],
      ['/events', { url: 'https://broker.example/', events: ['order.state', 'order.state'] }],
      ['/events', { url: 'https://broker.example/', events: 'order.state' }],
      ['/description', { url: 'https://broker.example/', description: '' }],
      ['/description', { url: 'https://broker.example/', description: 'nul\u0000here' }],
      ['/description', { url: 'https://broker.example/', description: 'line\nbreak' }],
      ['/url', { url: 'https://broker.example/a\u0000b' }],
      ['/url', { url: 'https://broker.example/a b' }],
      ['/url', { url: 'https://bücher.example/' }],
      [
        '/description',
        { url: 'https://broker.example/', description: 'd'.repeat(MAX_WEBHOOK_DESCRIPTION_LENGTH + 1) },
      ],
      ['/brokerId', { url: 'https://broker.example/', brokerId: MISSING_ID }],
      ['/secret', { url: 'https://broker.example/', secret: 'whsec_AAAA' }],
      ['/deletedAt', { url: 'https://broker.example/', deletedAt: null }],
    ])('refuses a bad %s (case %#) with a 400 problem and stores nothing', async (path, payload) => {
      const before = await countRows();
      const r = await send(keys.a, 'POST', '/webhooks', payload);
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toContain(PROBLEM);
      expect((r.json() as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toContain(path);
      expect(await countRows()).toBe(before);
    });

    it('refuses a body that is not a JSON object', async () => {
      for (const payload of ['[]', '"https://broker.example/"', 'null'])
        expect(
          (
            await app.inject({
              method: 'POST',
              url: '/api/v1/webhooks',
              headers: { ...keys.a.headers, 'content-type': 'application/json' },
              payload,
            })
          ).statusCode,
        ).toBe(400);
    });

    it('refuses loopback URLs unless the server allows them', async () => {
      const strict = await buildApp({ logger, readiness: [], db, getFarm });
      try {
        const r = await send(keys.a, 'POST', '/webhooks', { url: 'http://127.0.0.1:9/hooks' }, strict);
        expect(r.statusCode).toBe(400);
        expect(r.json()).toMatchObject({
          errors: [{ path: '/url', message: expect.stringMatching(/loopback/) }],
        });
        const ok = await send(keys.a, 'POST', '/webhooks', { url: 'http://127.0.0.1:9/hooks' });
        expect(ok.statusCode).toBe(201);
        // Without an outbox, a test ping cannot be sent.
        const id = (ok.json() as { webhook: WebhookJson }).webhook.id;
        const ping = await send(keys.a, 'POST', `/webhooks/${id}/test`, undefined, strict);
        expect(ping.statusCode).toBe(503);
        expect(ping.json()).toMatchObject({ type: 'https://switchyard.io/problems/webhooks-unavailable' });
      } finally {
        await strict.close();
      }
    });

    it('lets operators register for a compute broker named in the query, and only so', async () => {
      const r = await register(keys.op, { url: 'https://broker-b.example/hooks' }, `?brokerId=${b.id}`);
      expect(r.webhook.brokerId).toBe(b.id);
      const cases: Array<[string, number, string]> = [
        ['', 400, 'is required of operators'],
        [`?brokerId=${MISSING_ID}`, 400, `no broker ${MISSING_ID}`],
        [`?brokerId=${energy.id}`, 400, 'energy broker'],
        ['?brokerId=nope', 400, '/brokerId'],
      ];
      for (const [query, status, text] of cases) {
        const res = await send(keys.op, 'POST', `/webhooks${query}`, { url: 'https://x.example/' });
        expect(res.statusCode).toBe(status);
        expect(res.body).toContain(text);
      }
      // A broker's key registers for its own broker: it may not name one, not even its own.
      for (const id of [b.id, a.id]) {
        const res = await send(keys.a, 'POST', `/webhooks?brokerId=${id}`, { url: 'https://x.example/' });
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ errors: [{ path: '/brokerId' }] });
      }
    });

    it('refuses a disabled broker and a broker with the most webhooks (409)', async () => {
      const brokers = new BrokerRepository(db);
      const full = await brokers.create({ name: 'compute-full', kind: 'compute' });
      const repo = new WebhookRepository(db);
      for (let i = 0; i < MAX_WEBHOOKS_PER_BROKER; i++)
        await repo.create({ brokerId: full.id, url: `https://full.example/${i}` });
      const fullKey = await issueTestKey(db, 'compute-broker', full.id);
      const r = await send(fullKey, 'POST', '/webhooks', { url: 'https://full.example/one-more' });
      expect(r.statusCode).toBe(409);
      expect(r.json()).toMatchObject({ type: 'https://switchyard.io/problems/too-many-webhooks' });
      // Deleting one makes room.
      const [first] = await repo.list({ brokerId: full.id });
      expect((await send(fullKey, 'DELETE', `/webhooks/${first!.id}`)).statusCode).toBe(200);
      expect(
        (await send(fullKey, 'POST', '/webhooks', { url: 'https://full.example/one-more' })).statusCode,
      ).toBe(201);

      const off = await brokers.create({ name: 'compute-off', kind: 'compute' });
      await db.execute(sql`update brokers set disabled_at = now() where id = ${off.id}`);
      const d = await send(keys.op, 'POST', `/webhooks?brokerId=${off.id}`, { url: 'https://off.example/' });
      expect(d.statusCode).toBe(409);
      expect(d.json()).toMatchObject({ type: 'https://switchyard.io/problems/broker-disabled' });
    });
  });

  describe('tenants', () => {
    it("answers another broker's webhook 404, as if it did not exist, and lists only one's own", async () => {
      const mine = (await register(keys.a, { url: 'https://broker-a.example/mine' })).webhook;
      const theirs = (await register(keys.b, { url: 'https://broker-b.example/theirs' })).webhook;

      for (const [method, url] of [
        ['GET', `/webhooks/${mine.id}`],
        ['DELETE', `/webhooks/${mine.id}`],
        ['POST', `/webhooks/${mine.id}/test`],
      ] as const) {
        const r = await send(keys.b, method, url);
        expect(r.statusCode).toBe(404);
        expect(r.json()).toMatchObject({ type: 'https://switchyard.io/problems/not-found' });
        // Same answer as for a webhook that does not exist at all.
        const none = await send(keys.b, method, url.replace(mine.id, MISSING_ID));
        expect(none.statusCode).toBe(404);
      }
      expect((await send(keys.a, 'GET', `/webhooks/${mine.id}`)).json()).toMatchObject({ deletedAt: null });

      const bList = (await send(keys.b, 'GET', '/webhooks')).json() as { items: WebhookJson[] };
      expect(bList.items.every((w) => w.brokerId === b.id)).toBe(true);
      expect(bList.items.map((w) => w.id)).toContain(theirs.id);
      const peek = (await send(keys.b, 'GET', `/webhooks?brokerId=${a.id}`)).json() as {
        items: WebhookJson[];
      };
      expect(peek.items).toEqual([]);

      // Operators see and act on every broker's webhooks, and filter by broker.
      const all = (await send(keys.op, 'GET', '/webhooks?limit=500')).json() as { items: WebhookJson[] };
      expect(all.items.map((w) => w.id)).toEqual(expect.arrayContaining([mine.id, theirs.id]));
      const onlyA = (await send(keys.op, 'GET', `/webhooks?brokerId=${a.id}&limit=500`)).json() as {
        items: WebhookJson[];
      };
      expect(new Set(onlyA.items.map((w) => w.brokerId))).toEqual(new Set([a.id]));
      expect((await send(keys.op, 'GET', `/webhooks/${theirs.id}`)).statusCode).toBe(200);
    });

    it('refuses viewers and energy brokers on every webhook route', async () => {
      for (const key of [keys.viewer, keys.energy]) {
        for (const [method, url] of [
          ['GET', '/webhooks'],
          ['POST', '/webhooks'],
          ['GET', `/webhooks/${MISSING_ID}`],
          ['DELETE', `/webhooks/${MISSING_ID}`],
          ['POST', `/webhooks/${MISSING_ID}/test`],
        ] as const)
          expect((await send(key, method, url, method === 'POST' ? {} : undefined)).statusCode).toBe(403);
      }
    });

    it('bounds the query strings', async () => {
      for (const q of ['limit=0', 'limit=501', 'limit=x', 'deleted=maybe', 'brokerId=x', 'other=1'])
        expect((await send(keys.op, 'GET', `/webhooks?${q}`)).statusCode).toBe(400);
      const w = (await register(keys.a, { url: 'https://broker-a.example/q' })).webhook;
      for (const q of ['deliveries=0', 'deliveries=101', 'x=1'])
        expect((await send(keys.a, 'GET', `/webhooks/${w.id}?${q}`)).statusCode).toBe(400);
      expect((await send(keys.a, 'GET', '/webhooks/not-a-uuid')).statusCode).toBe(400);
    });
  });

  describe('deleting', () => {
    it('soft-deletes once, keeps the webhook readable, and hides it from the default list', async () => {
      const w = (await register(keys.a, { url: 'https://broker-a.example/gone' })).webhook;
      const r = await send(keys.a, 'DELETE', `/webhooks/${w.id}`);
      expect(r.statusCode).toBe(200);
      const deleted = r.json() as WebhookJson;
      expect(deleted.deletedAt).not.toBeNull();
      const again = await send(keys.a, 'DELETE', `/webhooks/${w.id}`);
      expect((again.json() as WebhookJson).deletedAt).toBe(deleted.deletedAt);
      expect((await send(keys.a, 'GET', `/webhooks/${w.id}`)).json()).toMatchObject({
        deletedAt: deleted.deletedAt,
      });

      const live = (await send(keys.a, 'GET', '/webhooks')).json() as { items: WebhookJson[] };
      expect(live.items.map((x) => x.id)).not.toContain(w.id);
      const withDeleted = (await send(keys.a, 'GET', '/webhooks?deleted=true')).json() as {
        items: WebhookJson[];
      };
      expect(withDeleted.items.map((x) => x.id)).toContain(w.id);

      const ping = await send(keys.a, 'POST', `/webhooks/${w.id}/test`);
      expect(ping.statusCode).toBe(409);
      const audit = await new AuditRepository(db).list({ target: `webhook:${w.id}` });
      expect(audit.items.map((e) => e.action)).toEqual(['webhook.delete', 'webhook.create']);
    });
  });

  describe('test pings', () => {
    it('delivers a signed ping to the receiver, verified with the secret from registration', async () => {
      const created = await register(keys.a, { url: receiver.url, events: ['order.preemption-notice'] });
      receiver.secret = created.secret;
      const r = await send(keys.a, 'POST', `/webhooks/${created.webhook.id}/test`);
      expect(r.statusCode).toBe(202);
      const { delivery, enqueued } = r.json() as { delivery: DeliveryJson; enqueued: boolean };
      expect(enqueued).toBe(true);
      expect(delivery).toMatchObject({ event: 'order.preemption-notice', state: 'pending', attempts: 0 });
      expect(delivery.eventId).toMatch(/^test_/);

      const [got] = await receiver.waitFor(1);
      expect(got!.verification?.ok).toBe(true);
      expect(got!.headers['webhook-id']).toBe(delivery.id);
      expect(got!.body).toMatchObject({
        id: delivery.eventId,
        event: 'order.preemption-notice',
        data: { test: true },
      });

      // The delivery shows up, delivered, with the webhook.
      const deadline = Date.now() + 10_000;
      let shown: DeliveryJson | undefined;
      while (Date.now() < deadline) {
        const one = (await send(keys.a, 'GET', `/webhooks/${created.webhook.id}?deliveries=5`)).json() as {
          deliveries: DeliveryJson[];
        };
        shown = one.deliveries.find((d) => d.id === delivery.id);
        if (shown?.state === 'delivered') break;
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(shown).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 200, lastError: null });

      const audit = await new AuditRepository(db).list({ target: `webhook:${created.webhook.id}` });
      expect(audit.items[0]).toMatchObject({
        action: 'webhook.test',
        detail: { event: 'order.preemption-notice', deliveryId: delivery.id },
      });
    });

    it('pings only with an event the webhook subscribes to, and takes no other field', async () => {
      const w = (await register(keys.a, { url: 'https://broker-a.example/p', events: ['order.state'] }))
        .webhook;
      const wrong = await send(keys.a, 'POST', `/webhooks/${w.id}/test`, {
        event: 'order.preemption-notice',
      });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json()).toMatchObject({ errors: [{ path: '/event' }] });
      for (const body of [{ event: 'order.created' }, { url: 'https://elsewhere.example/' }, [1]])
        expect((await send(keys.a, 'POST', `/webhooks/${w.id}/test`, body)).statusCode).toBe(400);
    });
  });
});

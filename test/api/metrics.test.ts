// GET /metrics on the API: public, in the text format, request durations labelled by route
// pattern (never the raw path), orders by state and tier and order transitions counted in
// PostgreSQL, and queue depths read from Redis — all checked against what the test put there.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { parseFarmYaml } from '@switchyard/domain';
import { BrokerRepository, OrderRepository, type Database } from '@switchyard/db';
import { connectRedis, createQueues, type JobQueues } from '@switchyard/queue';
import { createLogger, createMetricsRegistry } from '@switchyard/telemetry';
import { buildApp } from '@switchyard/api';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';
import { placeBid } from '../support/orders.ts';
import { requireRedisUrl } from '../support/redis.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;

/** One sample's value from an exposition, by name and exact label set. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (got === want) return Number(m[3]);
  }
  return undefined;
}

describe('API /metrics', () => {
  let m: MigratedDatabase;
  let db: Database;
  let app: FastifyInstance;
  let redis: Redis;
  let queues: JobQueues;
  let broker: string;
  let key: TestKey;
  const prefix = `{sy-metrics-${process.pid}}`;

  beforeAll(async () => {
    m = await openMigratedDatabase('pg');
    db = m.handle.db;
    redis = await connectRedis(requireRedisUrl(), 'check');
    queues = createQueues(redis, { prefix });
    broker = (await new BrokerRepository(db).create({ name: 'compute-m', kind: 'compute' })).id;
    key = await issueTestKey(db, 'compute-broker', broker);
    app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [],
      db,
      getFarm: () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() }),
      metrics: createMetricsRegistry(),
      admin: { queues: Object.values(queues.queues), redis, prefix },
    });
  });
  afterAll(async () => {
    await app?.close();
    for (const q of Object.values(queues?.queues ?? {}))
      await q.obliterate({ force: true }).catch(() => undefined);
    await queues?.close();
    redis?.disconnect();
    await m?.cleanup();
  });

  const scrape = async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    return r.body;
  };

  it('needs no key and includes the process metrics', async () => {
    const text = await scrape();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toContain('# TYPE switchyard_http_request_duration_seconds histogram');
  });

  it('labels request durations by route pattern and status, never by the raw path', async () => {
    const order = await placeBid(db, broker, 'metrics-1');
    for (let i = 0; i < 3; i++) {
      const r = await app.inject({ method: 'GET', url: `/api/v1/orders/${order.id}`, headers: key.headers });
      expect(r.statusCode).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/api/v1/orders/nope' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/no/such/path' })).statusCode).toBe(404);
    const text = await scrape();
    const count = (route: string, status: string) =>
      sample(text, 'switchyard_http_request_duration_seconds_count', { method: 'GET', route, status });
    expect(count('/api/v1/orders/:id', '200')).toBe(3);
    expect(count('/api/v1/orders/:id', '401')).toBe(1);
    expect(count('unmatched', '404')).toBe(1);
    expect(text).not.toContain(order.id);
    expect(text).not.toContain('/no/such/path');
  });

  it('counts orders by state and tier, and transitions, as the database holds them', async () => {
    const repo = new OrderRepository(db);
    const a = await placeBid(db, broker, 'metrics-2', { tier: 'interruptible' });
    await placeBid(db, broker, 'metrics-3', { tier: 'interruptible' });
    await repo.transition(a.id, ['pending'], 'cancelled', 'test');
    const rows = await repo.countByStateAndTier();
    const text = await scrape();
    for (const r of rows)
      expect(sample(text, 'switchyard_orders', { state: r.state, tier: r.tier })).toBe(r.count);
    expect(sample(text, 'switchyard_orders', { state: 'pending', tier: 'interruptible' })).toBe(1);
    expect(sample(text, 'switchyard_orders', { state: 'cancelled', tier: 'interruptible' })).toBe(1);
    // Every known state and tier is there, at zero when no order has it.
    expect(sample(text, 'switchyard_orders', { state: 'preempted', tier: 'reserved' })).toBe(0);
    expect(sample(text, 'switchyard_order_transitions_total', { to: 'cancelled' })).toBe(1);
    expect(sample(text, 'switchyard_order_transitions_total', { to: 'pending' })).toBe(3);
  });

  it('reports queue depths from Redis', async () => {
    await queues.queues.webhook.add('webhook.deliver', { deliveryId: 'x' }, { delay: 60_000 });
    await queues.queues.webhook.add('webhook.deliver', { deliveryId: 'y' }, { delay: 60_000 });
    const text = await scrape();
    expect(sample(text, 'switchyard_queue_jobs', { queue: 'webhook', state: 'delayed' })).toBe(2);
    expect(sample(text, 'switchyard_queue_jobs', { queue: 'device', state: 'waiting' })).toBe(0);
  });
});

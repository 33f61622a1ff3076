// The compute-broker routes against PostgreSQL: capacity and reference prices, quotes, orders from
// a quote or as a bid with an Idempotency-Key (also under concurrent requests over real HTTP),
// tenant isolation, cancellation, usage checked by hand, and paging over more than 200 orders.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { readFileSync } from 'node:fs';
import { parseFarmYaml } from '@switchyard/domain';
import {
  AuditRepository,
  BrokerRepository,
  OrderRepository,
  queryRows,
  QuoteRepository,
  sql,
  type Database,
} from '@switchyard/db';
import type { BrokerEvent } from '@switchyard/brokers';
import { createLogger } from '@switchyard/telemetry';
import { buildApp } from '@switchyard/api';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const getFarm = () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() });
const PROBLEM = 'application/problem+json';
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

interface OrderJson {
  id: string;
  brokerId: string;
  state: string;
  tier: string;
  gpuModels: string[];
  gpuCount: number;
  minVramGiB: number;
  maxUsdPerGpuHour: number;
  priceUsdPerGpuHour: number | null;
  durationSeconds: number | null;
  endBy: string | null;
  notice: { preemptible: boolean; noticeSeconds: number };
  image: string;
  args: string[];
  pool: string | null;
  quoteId: string | null;
  idempotencyKey: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  events?: Array<{
    id: number;
    eventId: string;
    at: string;
    from: string | null;
    to: string;
    reason: string;
  }>;
}
interface QuoteJson {
  id: string;
  tier: string;
  gpuModel: string;
  pool: string;
  gpuCount: number;
  nodes: number;
  priceUsdPerGpuHour: number;
  priceSource: string;
  totalEstimateUsd: number;
  durationSeconds: number | null;
  endBy: string | null;
  notice: { preemptible: boolean; noticeSeconds: number };
  createdAt: string;
  validUntil: string;
}
interface ModelJson {
  gpuModel: string;
  vramGiB: number;
  totalGpus: number;
  freeGpus: number;
  largestOrderGpus: number;
  forecast: Array<{ horizonSeconds: number; at: string; freeGpus: number; freeNodes: number }>;
  prices: Record<string, number>;
  priceSource: string;
  marketUsdPerGpuHour: number | null;
  pools: Array<{ name: string; freeGpus: number; floorUsdPerGpuHour: number }>;
}

const BID = {
  gpuModels: ['H100-SXM-80GB'],
  gpuCount: 8,
  durationSeconds: 3600,
  tier: 'on-demand',
  maxUsdPerGpuHour: 2.35,
  image: 'ghcr.io/acme/vllm-server:0.6.3',
  args: ['--model', 'llama-3-70b'],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('compute-broker routes', () => {
  let m: MigratedDatabase;
  let db: Database;
  let app: FastifyInstance;
  let repo: OrderRepository;
  let brokerA: string;
  let brokerB: string;
  const keys = {} as Record<'a' | 'b' | 'operator' | 'viewer', TestKey>;
  const events: BrokerEvent[] = [];
  let keyN = 0;

  const send = (
    key: TestKey,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: object,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> =>
    app.inject({ method, url, headers: { ...key.headers, ...headers }, ...(payload ? { payload } : {}) });
  const place = (key: TestKey, body: object, idem = `k-${++keyN}`) =>
    send(key, 'POST', '/api/v1/orders', body, { 'idempotency-key': idem });
  const placed = async (key: TestKey = keys.a, body: object = BID) => {
    const r = await place(key, body);
    expect(r.statusCode).toBe(201);
    return r.json() as OrderJson;
  };
  const count = async (table: string) =>
    Number((await queryRows<{ n: unknown }>(db, sql.raw(`select count(*) as n from ${table}`)))[0]!.n);
  const problem = (r: LightMyRequestResponse, status: number, type?: string) => {
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toContain(PROBLEM);
    if (type) expect(r.json()).toMatchObject({ type: `https://switchyard.io/problems/${type}` });
    return r.json() as { detail?: string; errors?: Array<{ path: string; message: string }> };
  };

  beforeAll(async () => {
    m = await openMigratedDatabase('pg');
    db = m.handle.db;
    repo = new OrderRepository(db);
    const brokers = new BrokerRepository(db);
    brokerA = (await brokers.create({ name: 'compute-a', kind: 'compute' })).id;
    brokerB = (await brokers.create({ name: 'compute-b', kind: 'compute' })).id;
    keys.a = await issueTestKey(db, 'compute-broker', brokerA);
    keys.b = await issueTestKey(db, 'compute-broker', brokerB);
    keys.operator = await issueTestKey(db, 'operator');
    keys.viewer = await issueTestKey(db, 'viewer');
    app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [],
      db,
      getFarm,
      brokerEvents: async (e) => void events.push(e),
    });
  });
  afterAll(async () => {
    await app?.close();
    await m?.cleanup();
  });

  describe('GET /capacity', () => {
    it('lists each GPU model with its GPUs, free now and forecast, priced from the floor without signals', async () => {
      const r = await send(keys.a, 'GET', '/api/v1/capacity');
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toContain('application/json');
      const body = r.json() as { generatedAt: string; energy: unknown[]; models: ModelJson[] };
      // No energy signal: the site's price cap, 5,000 USD/MWh.
      expect(body.energy).toEqual([{ site: 'west-1', usdPerMwh: 5000, source: 'worst-case' }]);
      expect(body.models.map((x) => x.gpuModel)).toEqual(['H100-SXM-80GB', 'H200-SXM-141GB']);
      const [h100, h200] = body.models;
      expect(h100).toMatchObject({
        vramGiB: 80,
        totalGpus: 256,
        freeGpus: 256,
        largestOrderGpus: 256,
        priceSource: 'floor',
        marketUsdPerGpuHour: null,
        // 10.2 kW × 1.08 / 8 GPUs × 5 USD/kWh = 6.885; × 1.15 = 7.9178; reserved × 1.25 = 9.8973.
        prices: { 'on-demand': 7.9178, reserved: 9.8973, interruptible: 7.9178 },
      });
      expect(h100!.forecast.map((f) => [f.horizonSeconds, f.freeGpus])).toEqual([
        [3600, 256],
        [21_600, 256],
        [86_400, 256],
      ]);
      expect(h200).toMatchObject({ vramGiB: 141, totalGpus: 192, freeGpus: 192 });
      for (const k of [keys.operator, keys.viewer])
        expect((await send(k, 'GET', '/api/v1/capacity')).statusCode).toBe(200);
    });

    it('serves the same figures for a second, then counts held GPUs and fresh prices', async () => {
      const first = (await send(keys.a, 'GET', '/api/v1/capacity')).json() as { generatedAt: string };
      const again = (await send(keys.b, 'GET', '/api/v1/capacity')).json() as { generatedAt: string };
      expect(again.generatedAt).toBe(first.generatedAt);

      // 12 GPUs running in h100-a hold 2 whole nodes for 2 h; 8 admitted in h200-b until +10 h.
      const running = await placed(keys.a, { ...BID, gpuCount: 12, durationSeconds: 7200 });
      await repo.transition(running.id, ['pending'], 'admitted', 'in', { pool: 'h100-a' });
      await repo.transition(running.id, ['admitted'], 'running', 'serving');
      const admitted = await placed(keys.a, {
        ...BID,
        gpuModels: ['H200-SXM-141GB'],
        durationSeconds: undefined,
        endBy: new Date(Date.now() + 10 * 3600_000).toISOString(),
      });
      await repo.transition(admitted.id, ['pending'], 'admitted', 'in', { pool: 'h200-b' });
      // A pending bid holds nothing.
      await placed(keys.b);
      const now = new Date();
      const reading = (signal: string, value: number, subject?: string) =>
        queryRows(
          db,
          sql`insert into signal_readings (observed_at, source, signal, value, unit, detail)
              values (${new Date(now.getTime() - 60_000).toISOString()}::timestamptz, 'test', ${signal}, ${value}, 'x',
                ${JSON.stringify({ status: 'accepted', ...(subject ? { subject } : {}) })}::jsonb) returning id`,
        );
      await reading('energy_usd_per_mwh', 40);
      await reading('gpu_usd_per_gpu_hour', 2.4, 'H100-SXM-80GB');
      await sleep(1100);

      const body = (await send(keys.a, 'GET', '/api/v1/capacity')).json() as {
        energy: unknown[];
        models: ModelJson[];
      };
      expect(body.energy).toEqual([{ site: 'west-1', usdPerMwh: 40, source: 'signal' }]);
      const [h100, h200] = body.models;
      expect(h100).toMatchObject({
        freeGpus: 240,
        priceSource: 'market',
        marketUsdPerGpuHour: 2.4,
        // on-demand 2.4; reserved 2.4 × 1.25 = 3; interruptible 2.4 × (0.6 + 0.2 × 120/3600) = 1.456.
        prices: { 'on-demand': 2.4, reserved: 3, interruptible: 1.456 },
      });
      // The running order ends within 2 h: free again at +6 h.
      expect(h100!.forecast.map((f) => f.freeGpus)).toEqual([240, 256, 256]);
      // h200: floor max(0.2 payout, 10.6 × 1.08 / 8 × 0.04 = 0.05724) × 1.15 = 0.23.
      expect(h200).toMatchObject({
        freeGpus: 184,
        priceSource: 'floor',
        prices: { 'on-demand': 0.23, reserved: 0.2875, interruptible: 0.23 },
      });
      expect(h200!.forecast.map((f) => f.freeGpus)).toEqual([184, 184, 192]);
    });
  });

  describe('POST /quotes', () => {
    const QUOTE = {
      gpuModels: ['H200-SXM-141GB', 'H100-SXM-80GB'],
      gpuCount: 16,
      durationSeconds: 7200,
      tier: 'reserved',
      maxUsdPerGpuHour: 5,
    };

    it('quotes the cheapest pool that fits, valid for 60 s, and stores the quote with its audit entry', async () => {
      const r = await send(keys.a, 'POST', '/api/v1/quotes', QUOTE);
      expect(r.statusCode).toBe(201);
      const q = r.json() as QuoteJson;
      // h200-b is priced at its floor (0.23), below h100's market price: reserved 0.2875.
      expect(q).toMatchObject({
        tier: 'reserved',
        gpuModel: 'H200-SXM-141GB',
        pool: 'h200-b',
        gpuCount: 16,
        nodes: 2,
        priceUsdPerGpuHour: 0.2875,
        priceSource: 'floor',
        // 0.2875 × 16 × 2 h = 9.2.
        totalEstimateUsd: 9.2,
        durationSeconds: 7200,
        endBy: null,
        notice: { preemptible: false, noticeSeconds: 3600 },
      });
      expect(Date.parse(q.validUntil) - Date.parse(q.createdAt)).toBe(60_000);
      const stored = await new QuoteRepository(db).get(q.id, brokerA);
      expect(stored).toMatchObject({ pool: 'h200-b', priceUsdPerGpuHour: '0.2875', orderId: null });
      const audit = await new AuditRepository(db).list({ target: `quote:${q.id}` });
      expect(audit.items.map((e) => [e.action, e.actor])).toEqual([['quote.create', keys.a.prefix]]);
    });

    it('prices the tiers and estimates an end-by from now', async () => {
      const h100 = { ...QUOTE, gpuModels: ['H100-SXM-80GB'], gpuCount: 8 };
      const on = (
        await send(keys.a, 'POST', '/api/v1/quotes', { ...h100, tier: 'on-demand' })
      ).json() as QuoteJson;
      expect(on).toMatchObject({
        pool: 'h100-a',
        priceUsdPerGpuHour: 2.4,
        priceSource: 'market',
        notice: { preemptible: true, noticeSeconds: 900 },
      });
      const cheap = (
        await send(keys.a, 'POST', '/api/v1/quotes', { ...h100, tier: 'interruptible', noticeSeconds: 1800 })
      ).json() as QuoteJson;
      // 2.4 × (0.6 + 0.2 × 0.5) = 1.68.
      expect(cheap).toMatchObject({
        priceUsdPerGpuHour: 1.68,
        notice: { preemptible: true, noticeSeconds: 1800 },
      });
      const endBy = new Date(Date.now() + 3 * 3600_000 + 5000).toISOString();
      const r = await send(keys.a, 'POST', '/api/v1/quotes', {
        ...h100,
        tier: 'on-demand',
        durationSeconds: undefined,
        endBy,
      });
      expect(r.statusCode).toBe(201);
      const byEnd = r.json() as QuoteJson;
      expect(byEnd).toMatchObject({ durationSeconds: null, endBy: new Date(endBy).toISOString() });
      // 2.4 × 8 × about 3 h.
      expect(byEnd.totalEstimateUsd).toBeGreaterThan(57.6);
      expect(byEnd.totalEstimateUsd).toBeLessThan(57.7);
    });

    it.each([
      [{ gpuModels: ['A100-40GB'] }, 'no-pool-fits', 'no GPU pool has A100-40GB'],
      [
        { gpuModels: ['H100-SXM-80GB'], minVramGiB: 96 },
        'no-pool-fits',
        'has 96 GiB per GPU (the most is 80 GiB)',
      ],
      [{ gpuModels: ['H100-SXM-80GB'], gpuCount: 300 }, 'no-pool-fits', 'has 300 GPUs (the largest has 256)'],
      [
        { gpuModels: ['H100-SXM-80GB'], gpuCount: 256 },
        'no-capacity',
        'h100-a has 30 of 32 nodes of 8 GPUs free',
      ],
      [
        { gpuModels: ['H100-SXM-80GB'], maxUsdPerGpuHour: 2.9999 },
        'over-max-price',
        'the reserved price of H100-SXM-80GB in h100-a is 3.0000 USD per GPU-hour, above maxUsdPerGpuHour 2.9999',
      ],
    ])('refuses %j with a 409 that says why', async (change, type, detail) => {
      const before = await count('quotes');
      const r = await send(keys.a, 'POST', '/api/v1/quotes', { ...QUOTE, ...change });
      expect(problem(r, 409, type).detail).toContain(detail);
      expect(await count('quotes')).toBe(before);
    });

    it.each([
      [{ brokerId: UNKNOWN }, '/brokerId'],
      [{ price: 1 }, '/price'],
      [{ durationSeconds: undefined }, '/durationSeconds'],
      [{ endBy: new Date(Date.now() + 3600_000).toISOString() }, '/durationSeconds'],
      [{ durationSeconds: undefined, endBy: new Date(Date.now() + 30_000).toISOString() }, '/endBy'],
      [{ durationSeconds: undefined, endBy: '2026-13-01T00:00:00Z' }, '/endBy'],
      [{ durationSeconds: undefined, endBy: '2099-02-30T00:00:00Z' }, '/endBy'],
      [{ durationSeconds: undefined, endBy: '2099-01-01T24:00:00Z' }, '/endBy'],
      [{ durationSeconds: undefined, endBy: 'tomorrow' }, '/endBy'],
      [{ durationSeconds: 59 }, '/durationSeconds'],
      [{ durationSeconds: 90 * 86_400 + 1 }, '/durationSeconds'],
      [{ durationSeconds: 3600.5 }, '/durationSeconds'],
      [{ gpuCount: 0 }, '/gpuCount'],
      [{ gpuCount: 4097 }, '/gpuCount'],
      [{ gpuCount: '8' }, '/gpuCount'],
      [{ maxUsdPerGpuHour: -1 }, '/maxUsdPerGpuHour'],
      [{ maxUsdPerGpuHour: 10_001 }, '/maxUsdPerGpuHour'],
      [{ noticeSeconds: 86_401 }, '/noticeSeconds'],
      [{ tier: 'on-demand', noticeSeconds: 30 }, '/noticeSeconds'],
      [{ tier: 'spot' }, '/tier'],
      [{ gpuModels: [] }, '/gpuModels'],
      [{ gpuModels: ['H100-SXM-80GB', 'H100-SXM-80GB'] }, '/gpuModels'],
      [{ gpuModels: ['x'.repeat(65)] }, '/gpuModels/0'],
      [{ minVramGiB: 1025 }, '/minVramGiB'],
    ])('refuses %j with a 400 naming the field', async (change, path) => {
      const before = await count('quotes');
      const r = await send(keys.a, 'POST', '/api/v1/quotes', { ...QUOTE, ...change });
      const p = problem(r, 400, 'validation');
      expect(p.errors?.map((e) => e.path)).toContain(path);
      expect(await count('quotes')).toBe(before);
    });
  });

  describe('POST /orders', () => {
    it('places a bid: 201 with its Location, pending at its maximum price, with its first event and audit entry', async () => {
      events.length = 0;
      const r = await place(keys.a, BID, 'first-bid');
      expect(r.statusCode).toBe(201);
      const o = r.json() as OrderJson;
      expect(r.headers.location).toBe(`/api/v1/orders/${o.id}`);
      expect(o).toMatchObject({
        brokerId: brokerA,
        state: 'pending',
        tier: 'on-demand',
        gpuModels: ['H100-SXM-80GB'],
        gpuCount: 8,
        minVramGiB: 0,
        maxUsdPerGpuHour: 2.35,
        priceUsdPerGpuHour: 2.35,
        durationSeconds: 3600,
        endBy: null,
        notice: { preemptible: true, noticeSeconds: 900 },
        image: BID.image,
        args: BID.args,
        pool: null,
        quoteId: null,
        idempotencyKey: 'first-bid',
        startedAt: null,
        endedAt: null,
      });
      const got = await send(keys.a, 'GET', r.headers.location as string);
      expect(got.statusCode).toBe(200);
      const detail = got.json() as OrderJson;
      expect(detail.events).toEqual([
        {
          id: expect.any(Number),
          eventId: expect.any(String),
          at: o.createdAt,
          from: null,
          to: 'pending',
          reason: 'placed as a bid',
        },
      ]);
      expect(detail.events![0]!.eventId).toBe(`order:${o.id}:${detail.events![0]!.id}`);
      expect(events).toEqual([
        {
          eventId: detail.events![0]!.eventId,
          brokerId: brokerA,
          event: 'order.state',
          at: new Date(o.createdAt),
          payload: expect.objectContaining({ orderId: o.id, from: null, to: 'pending' }),
        },
      ]);
      const audit = await new AuditRepository(db).list({ target: `order:${o.id}` });
      expect(audit.items.map((e) => [e.action, e.actor, e.brokerId])).toEqual([
        ['order.create', keys.a.prefix, brokerA],
      ]);
    });

    it('needs an Idempotency-Key of 1 to 255 printable characters', async () => {
      const before = await count('orders');
      const none = await send(keys.a, 'POST', '/api/v1/orders', BID);
      expect(problem(none, 400, 'validation').errors).toEqual([
        { path: '/idempotency-key', message: 'header is required: a key unique to this order' },
      ]);
      for (const key of ['x'.repeat(256), 'tab\there', 'é-key'])
        expect((await place(keys.a, BID, key)).statusCode).toBe(400);
      expect((await place(keys.a, BID, 'x'.repeat(255))).statusCode).toBe(201);
      expect(await count('orders')).toBe(before + 1);
    });

    it('answers the same key and body with the same order, and another body with 422', async () => {
      const first = await place(keys.a, BID, 'retry-me');
      expect(first.statusCode).toBe(201);
      const id = (first.json() as OrderJson).id;
      const before = { orders: await count('orders'), events: await count('order_events') };
      // The same body with its fields in another order is the same body.
      const reordered = Object.fromEntries(Object.entries(BID).reverse());
      const again = await place(keys.a, reordered, 'retry-me');
      expect(again.statusCode).toBe(200);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.headers.location).toBeUndefined();
      expect(again.json()).toEqual(first.json());
      const other = await place(keys.a, { ...BID, gpuCount: 16 }, 'retry-me');
      expect(problem(other, 422, 'idempotency-key-reused').detail).toContain(id);
      // Keys belong to the broker: another broker's same key is another order.
      expect((await place(keys.b, BID, 'retry-me')).statusCode).toBe(201);
      expect(await count('orders')).toBe(before.orders + 1);
      expect(await count('order_events')).toBe(before.events + 1);
    });

    it('creates one order for 30 concurrent requests with the same key, over real HTTP', async () => {
      const served = await buildApp({
        logger: createLogger({ level: 'silent' }),
        readiness: [],
        db,
        getFarm,
      });
      const url = await served.listen({ port: 0, host: '127.0.0.1' });
      try {
        const before = {
          orders: await count('orders'),
          events: await count('order_events'),
          audit: await count('audit_log'),
        };
        const body = JSON.stringify({ ...BID, gpuCount: 24 });
        const answers = await Promise.all(
          Array.from({ length: 30 }, () =>
            fetch(`${url}/api/v1/orders`, {
              method: 'POST',
              headers: {
                ...keys.a.headers,
                'content-type': 'application/json',
                'idempotency-key': 'stampede',
              },
              body,
            }).then(async (r) => ({
              status: r.status,
              replayed: r.headers.get('idempotent-replayed'),
              id: ((await r.json()) as OrderJson).id,
            })),
          ),
        );
        expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
        expect(answers.filter((a) => a.status === 200 && a.replayed === 'true')).toHaveLength(29);
        expect(new Set(answers.map((a) => a.id)).size).toBe(1);
        expect(await count('orders')).toBe(before.orders + 1);
        expect(await count('order_events')).toBe(before.events + 1);
        expect(await count('audit_log')).toBe(before.audit + 1);
      } finally {
        await served.close();
      }
    });

    it('places an order from a quote at the quoted price and takes the quote', async () => {
      const q = (
        await send(keys.a, 'POST', '/api/v1/quotes', {
          gpuModels: ['H100-SXM-80GB'],
          gpuCount: 4,
          durationSeconds: 1800,
          tier: 'on-demand',
          maxUsdPerGpuHour: 3,
          minVramGiB: 64,
        })
      ).json() as QuoteJson;
      events.length = 0;
      const r = await place(keys.a, {
        quoteId: q.id,
        image: 'registry.example.com:5000/team/app@sha256:' + 'a'.repeat(64),
      });
      expect(r.statusCode).toBe(201);
      expect(r.json()).toMatchObject({
        state: 'pending',
        tier: 'on-demand',
        gpuModels: ['H100-SXM-80GB'],
        gpuCount: 4,
        minVramGiB: 64,
        maxUsdPerGpuHour: 3,
        priceUsdPerGpuHour: 2.4,
        durationSeconds: 1800,
        pool: 'h100-a',
        quoteId: q.id,
        args: [],
      });
      expect(events).toHaveLength(1);
      expect((await new QuoteRepository(db).get(q.id))?.orderId).toBe((r.json() as OrderJson).id);
      // Taken: a second order may not use it.
      expect(
        problem(await place(keys.a, { quoteId: q.id, image: 'app:1' }), 409, 'quote-used').detail,
      ).toContain(q.id);
    });

    it("refuses another broker's quote (404), an expired one and an unknown one, writing nothing", async () => {
      const q = (
        await send(keys.a, 'POST', '/api/v1/quotes', {
          gpuModels: ['H100-SXM-80GB'],
          gpuCount: 1,
          durationSeconds: 600,
          tier: 'interruptible',
          maxUsdPerGpuHour: 3,
        })
      ).json() as QuoteJson;
      const before = await count('orders');
      problem(await place(keys.b, { quoteId: q.id, image: 'app:1' }), 404, 'quote-not-found');
      problem(await place(keys.a, { quoteId: UNKNOWN, image: 'app:1' }), 404, 'quote-not-found');
      const old = await new QuoteRepository(db).create({
        brokerId: brokerA,
        validUntil: new Date(Date.now() - 1000),
        tier: 'on-demand',
        gpuModel: 'H100-SXM-80GB',
        pool: 'h100-a',
        gpuCount: 1,
        priceUsdPerGpuHour: '2.4000',
        noticeSeconds: 900,
        durationSeconds: 600,
        endBy: null,
        request: {},
      });
      problem(await place(keys.a, { quoteId: old.id, image: 'app:1' }), 409, 'quote-expired');
      expect(await count('orders')).toBe(before);
      expect((await new QuoteRepository(db).get(q.id))?.orderId).toBeNull();
    });

    it('refuses a bid no pool could ever serve', async () => {
      const r = await place(keys.a, { ...BID, gpuModels: ['H100-SXM-80GB'], minVramGiB: 100 });
      expect(problem(r, 409, 'no-pool-fits').detail).toContain('100 GiB per GPU');
    });

    it.each([
      [{ quoteId: UNKNOWN, image: 'app:1', gpuCount: 8 }, '/gpuCount'],
      [{ ...BID, gpuCount: undefined }, '/gpuCount'],
      [{ ...BID, tier: undefined }, '/tier'],
      [{ ...BID, maxUsdPerGpuHour: undefined }, '/maxUsdPerGpuHour'],
      [{ ...BID, image: undefined }, '/image'],
      [{ ...BID, image: 'Ghcr.io/Acme/App:1' }, '/image'],
      [{ ...BID, image: 'app name:1' }, '/image'],
      [{ ...BID, image: `app:${'x'.repeat(600)}` }, '/image'],
      [{ ...BID, args: Array.from({ length: 65 }, () => 'x') }, '/args'],
      [{ ...BID, args: ['x'.repeat(1025)] }, '/args/0'],
      [{ ...BID, args: [1] }, '/args/0'],
      [{ ...BID, brokerId: UNKNOWN }, '/brokerId'],
      [{ ...BID, state: 'running' }, '/state'],
      [{ ...BID, priceUsdPerGpuHour: 0.01 }, '/priceUsdPerGpuHour'],
      [{ ...BID, durationSeconds: 1e12 }, '/durationSeconds'],
      [{ ...BID, quoteId: 'not-a-uuid' }, '/quoteId'],
    ])('refuses %j with a 400 naming the field, writing nothing', async (body, path) => {
      const before = await count('orders');
      const p = problem(await place(keys.a, body), 400, 'validation');
      expect(p.errors?.map((e) => e.path)).toContain(path);
      expect(await count('orders')).toBe(before);
    });
  });

  describe('tenants', () => {
    it("answers another broker's order 404 everywhere, and lists only the caller's own", async () => {
      const mine = await placed(keys.a);
      for (const [method, url] of [
        ['GET', `/api/v1/orders/${mine.id}`],
        ['GET', `/api/v1/orders/${mine.id}/usage`],
        ['DELETE', `/api/v1/orders/${mine.id}`],
      ] as const)
        problem(await send(keys.b, method, url), 404, 'not-found');
      const bList = (await send(keys.b, 'GET', '/api/v1/orders?limit=200')).json() as { items: OrderJson[] };
      expect(bList.items.length).toBeGreaterThan(0);
      expect(bList.items.every((o) => o.brokerId === brokerB)).toBe(true);
      for (const k of [keys.operator, keys.viewer]) {
        expect((await send(k, 'GET', `/api/v1/orders/${mine.id}`)).statusCode).toBe(200);
        expect((await send(k, 'GET', `/api/v1/orders/${mine.id}/usage`)).statusCode).toBe(200);
        const all = (await send(k, 'GET', '/api/v1/orders?limit=200')).json() as { items: OrderJson[] };
        expect(new Set(all.items.map((o) => o.brokerId))).toEqual(new Set([brokerA, brokerB]));
      }
      expect((await send(keys.a, 'GET', `/api/v1/orders/${mine.id}`)).statusCode).toBe(200);
      // Unknown and malformed ids: 404 too.
      problem(await send(keys.a, 'GET', `/api/v1/orders/${UNKNOWN}`), 404);
      problem(await send(keys.a, 'GET', '/api/v1/orders/not-a-uuid'), 404);
    });
  });

  describe('DELETE /orders/{id}', () => {
    it('cancels a pending order at once, with its event, audit entry and broker event; a second cancel is 409', async () => {
      const o = await placed(keys.a);
      events.length = 0;
      const r = await send(keys.a, 'DELETE', `/api/v1/orders/${o.id}`);
      expect(r.statusCode).toBe(200);
      const c = r.json() as OrderJson;
      expect(c).toMatchObject({ id: o.id, state: 'cancelled', startedAt: null });
      expect(c.endedAt).not.toBeNull();
      expect(c.events!.map((e) => [e.from, e.to])).toEqual([
        [null, 'pending'],
        ['pending', 'cancelled'],
      ]);
      expect(c.events![1]!.reason).toBe(`cancelled by compute-broker ${keys.a.prefix}`);
      expect(events).toMatchObject([
        {
          eventId: c.events![1]!.eventId,
          event: 'order.state',
          payload: { from: 'pending', to: 'cancelled' },
        },
      ]);
      const audit = await new AuditRepository(db).list({ target: `order:${o.id}` });
      expect(audit.items.map((e) => e.action)).toEqual(['order.cancel', 'order.create']);
      expect(
        problem(await send(keys.a, 'DELETE', `/api/v1/orders/${o.id}`), 409, 'order-ended').detail,
      ).toContain('cancelled');
    });

    it('cancels a running order, ending it now; an operator may cancel any order', async () => {
      const o = await placed(keys.b);
      await repo.transition(o.id, ['pending'], 'admitted', 'in', { pool: 'h100-a' });
      await repo.transition(o.id, ['admitted'], 'running', 'serving');
      const r = await send(keys.operator, 'DELETE', `/api/v1/orders/${o.id}`);
      expect(r.statusCode).toBe(200);
      const c = r.json() as OrderJson;
      expect(c).toMatchObject({ state: 'cancelled', pool: 'h100-a' });
      expect(Date.parse(c.endedAt!)).toBeGreaterThanOrEqual(Date.parse(c.startedAt!));
      expect(c.events!.at(-1)).toMatchObject({
        from: 'running',
        to: 'cancelled',
        reason: `cancelled by operator ${keys.operator.prefix}`,
      });
    });

    it('refuses to cancel a completed order', async () => {
      const o = await placed(keys.a);
      await repo.transition(o.id, ['pending'], 'admitted', 'in', { pool: 'h100-a' });
      await repo.transition(o.id, ['admitted'], 'running', 'serving');
      await repo.transition(o.id, ['running'], 'completed', 'ran its term');
      const before = await count('order_events');
      problem(await send(keys.a, 'DELETE', `/api/v1/orders/${o.id}`), 409, 'order-ended');
      expect(await count('order_events')).toBe(before);
    });
  });

  describe('GET /orders/{id}/usage', () => {
    it('bills the time spent running and preempting, checked by hand', async () => {
      const o = await placed(keys.a, { ...BID, gpuCount: 4 });
      const t0 = Date.parse(o.createdAt);
      const at = (minutes: number) => ({ at: new Date(t0 + minutes * 60_000) });
      await repo.transition(o.id, ['pending'], 'admitted', 'in', { pool: 'h100-a', ...at(1) });
      await repo.transition(o.id, ['admitted'], 'running', 'serving', at(2));
      await repo.announcePreemption(o.id, new Date(t0 + 97 * 60_000), 'grid dispatch', at(92));
      await repo.transition(o.id, ['preempting'], 'preempted', 'notice over', at(97));
      const r = await send(keys.a, 'GET', `/api/v1/orders/${o.id}/usage`);
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({
        orderId: o.id,
        state: 'preempted',
        currency: 'USD',
        gpuCount: 4,
        priceUsdPerGpuHour: 2.35,
        // 95 min; 4 GPUs × 95/60 h = 6.3333 GPU-hours.
        seconds: 5700,
        gpuHours: 6.3333,
        // 14.1 + 0.7833.
        chargeUsd: 14.8833,
        ongoing: false,
        intervals: [
          // 90 min × 4 GPUs = 6 GPU-hours × 2.35 = 14.1.
          {
            state: 'running',
            startedAt: at(2).at.toISOString(),
            endedAt: at(92).at.toISOString(),
            ongoing: false,
            seconds: 5400,
            gpuHours: 6,
            chargeUsd: 14.1,
          },
          // 5 min × 4 GPUs = 0.3333 GPU-hours × 2.35 = 0.78333 → 0.7833.
          {
            state: 'preempting',
            startedAt: at(92).at.toISOString(),
            endedAt: at(97).at.toISOString(),
            ongoing: false,
            seconds: 300,
            gpuHours: 0.3333,
            chargeUsd: 0.7833,
          },
        ],
      });
    });

    it('counts a running order up to now, and nothing for one that never ran', async () => {
      const o = await placed(keys.a, { ...BID, gpuCount: 2 });
      await repo.transition(o.id, ['pending'], 'admitted', 'in', { pool: 'h100-a' });
      await repo.transition(o.id, ['admitted'], 'running', 'serving', {
        at: new Date(Date.now() - 30 * 60_000),
      });
      const u = (await send(keys.a, 'GET', `/api/v1/orders/${o.id}/usage`)).json() as {
        ongoing: boolean;
        chargeUsd: number;
        gpuHours: number;
        asOf: string;
        intervals: Array<{ endedAt: string }>;
      };
      expect(u.ongoing).toBe(true);
      expect(u.intervals[0]!.endedAt).toBe(u.asOf);
      // At least 30 min × 2 GPUs = 1 GPU-hour × 2.35.
      expect(u.gpuHours).toBeGreaterThanOrEqual(1);
      expect(u.chargeUsd).toBeGreaterThanOrEqual(2.35);
      expect(u.chargeUsd).toBeLessThan(2.4);
      const idle = await placed(keys.a);
      expect((await send(keys.a, 'GET', `/api/v1/orders/${idle.id}/usage`)).json()).toMatchObject({
        seconds: 0,
        gpuHours: 0,
        chargeUsd: 0,
        intervals: [],
        ongoing: false,
      });
    });
  });

  describe('GET /orders', () => {
    let broker: string;
    let key: TestKey;
    const ids: string[] = [];

    beforeAll(async () => {
      broker = (await new BrokerRepository(db).create({ name: 'compute-pages', kind: 'compute' })).id;
      key = await issueTestKey(db, 'compute-broker', broker);
      const base = Date.now() - 3600_000;
      for (let i = 0; i < 230; i++) {
        const r = await repo.create({
          brokerId: broker,
          idempotencyKey: `page-${i}`,
          requestHash: `h-${i}`,
          image: 'app:1',
          args: [],
          // Four orders per millisecond: ties broken by id.
          at: new Date(base + Math.floor(i / 4)),
          bid: {
            tier: i % 2 ? 'interruptible' : 'reserved',
            gpuModels: i % 5 ? ['H100-SXM-80GB'] : ['H200-SXM-141GB'],
            gpuCount: 1,
            minVramGib: 0,
            maxUsdPerGpuHour: '1.0000',
            durationSeconds: 600,
            endBy: null,
            noticeSeconds: 0,
          },
        });
        if (r.outcome === 'created') ids.push(r.order.id);
      }
      await repo.transition(ids[7]!, ['pending'], 'cancelled', 'x');
    });

    const walk = async (query: string, limit: number) => {
      const seen: string[] = [];
      let next: string | null = null;
      let pages = 0;
      do {
        const r = await send(
          key,
          'GET',
          `/api/v1/orders?limit=${limit}${query}${next ? `&cursor=${next}` : ''}`,
        );
        expect(r.statusCode).toBe(200);
        const body = r.json() as { items: OrderJson[]; nextCursor: string | null };
        expect(body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...body.items.map((o) => o.id));
        next = body.nextCursor;
        pages++;
      } while (next);
      return { seen, pages };
    };

    it('pages through more than 200 orders newest first, without gaps or duplicates', async () => {
      for (const limit of [200, 50, 7]) {
        const { seen, pages } = await walk('', limit);
        expect(pages).toBe(Math.ceil(230 / limit));
        expect(seen).toHaveLength(230);
        expect(new Set(seen)).toEqual(new Set(ids));
      }
      const first = (await send(key, 'GET', '/api/v1/orders')).json() as {
        items: OrderJson[];
        nextCursor: string;
      };
      expect(first.items).toHaveLength(50);
      const created = first.items.map((o) => Date.parse(o.createdAt));
      expect([...created].sort((a, b) => b - a)).toEqual(created);
    });

    it('filters by state, tier, GPU model and creation time', async () => {
      expect((await walk('&state=cancelled', 50)).seen).toEqual([ids[7]]);
      expect((await walk('&tier=interruptible', 50)).seen).toHaveLength(115);
      expect((await walk('&gpuModel=H200-SXM-141GB', 50)).seen).toHaveLength(46);
      expect((await walk('&tier=reserved&gpuModel=H200-SXM-141GB&state=pending', 50)).seen).toHaveLength(23);
      const r = (await send(key, 'GET', '/api/v1/orders?limit=200')).json() as { items: OrderJson[] };
      const mid = r.items[100]!.createdAt;
      const after = (await walk(`&createdAfter=${encodeURIComponent(mid)}`, 50)).seen;
      const before = (await walk(`&createdBefore=${encodeURIComponent(mid)}`, 50)).seen;
      expect(after.length + before.length).toBe(230);
      expect(new Set([...after, ...before]).size).toBe(230);
    });

    it.each([
      ['limit=0', '/limit'],
      ['limit=201', '/limit'],
      ['limit=abc', '/limit'],
      ['cursor=abc', '/cursor'],
      ['cursor=' + 'A'.repeat(201), '/cursor'],
      ['state=asleep', '/state'],
      ['tier=spot', '/tier'],
      ['createdAfter=yesterday', '/createdAfter'],
      ['createdBefore=2026-02-30T00:00:00Z', '/createdBefore'],
      ['brokerId=' + UNKNOWN, '/brokerId'],
    ])('refuses ?%s with a 400 naming it', async (q, path) => {
      const p = problem(await send(key, 'GET', `/api/v1/orders?${q}`), 400, 'validation');
      expect(p.errors?.map((e) => e.path)).toContain(path);
    });
  });
});

// POST /prices against a real database (PGlite and PostgreSQL): an energy broker's price curve is
// stored as signal readings under its broker and audited, and the controller's signal hub uses it
// through StoredPriceSource — the newest push covering an instant counts then. Every bad point is
// named in a 400 problem, and a refused curve writes nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { readFileSync } from 'node:fs';
import { parseEnv } from '@switchyard/config';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import {
  AuditRepository,
  BrokerRepository,
  queryRows,
  sql,
  type BrokerRecord,
  type Database,
  type DatabaseDriver,
} from '@switchyard/db';
import {
  buildSignalHub,
  MAX_PUSHED_POINTS,
  signalsConfig,
  signalsEnvSchema,
  StoredPriceSource,
  type SignalReading,
} from '@switchyard/signals';
import { createLogger } from '@switchyard/telemetry';
import { buildApp } from '@switchyard/api';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm: Farm = parsed.farm;
const SITE = farm.sites[0]!.metadata.name;
const HOUR = 3_600_000;

type Json = Record<string, unknown>;

/** Points every `stepMs` from `start`, one per price. */
const curve = (start: number, prices: number[], stepMs = HOUR) =>
  prices.map((usdPerMWh, i) => ({ at: new Date(start + i * stepMs).toISOString(), usdPerMWh }));

describe.each<DatabaseDriver>(['pglite', 'pg'])('POST /prices on %s', (driver) => {
  let m: MigratedDatabase;
  let db: Database;
  let app: FastifyInstance;
  let broker: BrokerRecord;
  let energy: TestKey;
  let operator: TestKey;
  const t0 = Date.now();

  const push = (body: unknown, key: TestKey = energy): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/api/v1/prices', headers: key.headers, payload: body as object });
  const rowCount = async () =>
    (await queryRows<{ n: number }>(db, sql`select count(*)::int as n from signal_readings`))[0]!.n;
  const fetchAt = async (now: Date): Promise<SignalReading[]> =>
    new StoredPriceSource({ db, site: SITE }).fetch({ now, signal: new AbortController().signal });

  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
    db = m.handle.db;
    broker = await new BrokerRepository(db).create({ name: 'gridco', kind: 'energy' });
    energy = await issueTestKey(db, 'energy-broker', broker.id);
    operator = await issueTestKey(db, 'operator');
    app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [],
      db,
      getFarm: () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await m?.cleanup();
  });

  it("stores an energy broker's curve under its broker, audits it, and answers the price holding now", async () => {
    const start = t0 - 10 * 60_000;
    const r = await push({ site: SITE, kind: 'energy', points: curve(start, [31.5, 45, -12.25]) });
    expect(r.statusCode).toBe(201);
    const body = r.json() as Json & { pushId: string };
    expect(body).toEqual({
      pushId: expect.any(String),
      site: SITE,
      signal: 'energy_usd_per_mwh',
      source: 'broker:gridco',
      brokerId: broker.id,
      points: 3,
      from: new Date(start).toISOString(),
      to: new Date(start + 2 * HOUR).toISOString(),
      validUntil: new Date(start + 3 * HOUR).toISOString(),
      receivedAt: expect.any(String),
      current: {
        at: new Date(start).toISOString(),
        usdPerMWh: 31.5,
        validUntil: new Date(start + HOUR).toISOString(),
      },
    });
    const rows = await queryRows<{ source: string; signal: string; value: number; detail: Json }>(
      db,
      sql`select source, signal, value, detail from signal_readings order by observed_at`,
    );
    expect(rows.map((x) => [x.source, x.signal, x.value])).toEqual([
      ['broker:gridco', 'energy_usd_per_mwh', 31.5],
      ['broker:gridco', 'energy_usd_per_mwh', 45],
      ['broker:gridco', 'energy_usd_per_mwh', -12.25],
    ]);
    expect(rows[0]!.detail).toMatchObject({
      status: 'pushed',
      data: { pushId: body.pushId, site: SITE, brokerId: broker.id, by: energy.prefix },
    });
    const audit = await new AuditRepository(db).list({ target: `prices:${body.pushId}` });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({
      action: 'prices.push',
      actor: energy.prefix,
      role: 'energy-broker',
      brokerId: broker.id,
      detail: { site: SITE, source: 'broker:gridco', brokerId: broker.id, points: 3 },
    });
  });

  it('is a signal source: the hub uses the point holding now, and later points follow', async () => {
    const [now] = await fetchAt(new Date(t0));
    expect(now).toMatchObject({
      signal: 'energy_usd_per_mwh',
      value: 31.5,
      unit: 'USD/MWh',
      source: 'broker:gridco',
      observedAt: new Date(t0 - 10 * 60_000),
      validUntil: new Date(t0 + 50 * 60_000),
    });
    expect((now!.detail as { next: unknown[] }).next).toEqual([
      { at: new Date(t0 + 50 * 60_000).toISOString(), usdPerMwh: 45 },
      { at: new Date(t0 + 110 * 60_000).toISOString(), usdPerMwh: -12.25 },
    ]);
    expect((await fetchAt(new Date(t0 + HOUR)))[0]).toMatchObject({ value: 45 });
    // Past the last point's step: nothing covers the instant, so the source says nothing.
    expect(await fetchAt(new Date(t0 + 4 * HOUR))).toEqual([]);
    // Curves pushed for another site are not this site's.
    expect(
      await new StoredPriceSource({ db, site: 'east-9' }).fetch({
        now: new Date(t0),
        signal: new AbortController().signal,
      }),
    ).toEqual([]);

    // Wired into a hub as the controller builds it (no network source enabled).
    const config = signalsConfig(
      parseEnv(signalsEnvSchema, { SIGNAL_MEMPOOL_ENABLED: 'false', SIGNAL_COINGECKO_ENABLED: 'false' }),
    );
    const { hub } = buildSignalHub(config, { storedPrices: { db, site: SITE }, clock: () => new Date(t0) });
    try {
      await hub.refresh();
      expect(hub.current(new Date(t0)).energy_usd_per_mwh).toMatchObject({
        value: 31.5,
        source: 'broker:gridco',
        stale: false,
        assumeWorst: false,
      });
    } finally {
      await hub.close();
    }
  });

  it('lets a newer push replace the older curve where it overlaps, and keeps the rest', async () => {
    const r = await push({ points: curve(t0 + 30 * 60_000, [80, 82], 15 * 60_000) }, operator);
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ source: `operator:${operator.prefix}`, brokerId: null, current: null });
    // Inside the correction's span (each point holds for its 15-minute step) it counts...
    expect((await fetchAt(new Date(t0 + 35 * 60_000)))[0]).toMatchObject({
      value: 80,
      source: `operator:${operator.prefix}`,
    });
    expect((await fetchAt(new Date(t0 + 50 * 60_000)))[0]).toMatchObject({ value: 82 });
    // ...before and after it the broker's curve still does.
    expect((await fetchAt(new Date(t0 + 20 * 60_000)))[0]).toMatchObject({ value: 31.5 });
    expect((await fetchAt(new Date(t0 + 61 * 60_000)))[0]).toMatchObject({
      value: 45,
      source: 'broker:gridco',
    });
    const audit = await new AuditRepository(db).list({ action: 'prices.push' });
    expect(audit.items[0]).toMatchObject({
      actor: operator.prefix,
      role: 'operator',
      detail: { brokerId: null },
    });
  });

  it('shows the pushed price in GET /signals with its age', async () => {
    const r = await app.inject({
      method: 'GET',
      url: '/api/v1/signals?signal=energy_usd_per_mwh',
      headers: operator.headers,
    });
    const items = (r.json() as { items: Json[] }).items;
    expect(items.find((x) => x.source === 'broker:gridco')).toMatchObject({
      status: 'pushed',
      value: 31.5,
      stale: false,
      ageSeconds: 0,
    });
  });

  it(`takes a week of 5-minute points (${MAX_PUSHED_POINTS}) in one push`, async () => {
    const prices = Array.from({ length: MAX_PUSHED_POINTS }, (_, i) => 20 + (i % 288) / 10);
    const r = await push({ points: curve(t0 + 86_400_000, prices, 5 * 60_000) });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ points: MAX_PUSHED_POINTS });
  });

  it.each<[string, (start: number) => unknown, string]>([
    ['no points', () => ({ points: [] }), '/points'],
    [
      'too many points',
      (s) => ({
        points: curve(
          s,
          Array.from({ length: MAX_PUSHED_POINTS + 1 }, () => 30),
          60_000,
        ),
      }),
      '/points',
    ],
    [
      'times going back',
      (s) => ({ points: [...curve(s, [30, 31]), ...curve(s + 30 * 60_000, [32])] }),
      '/points/2/at',
    ],
    ['a repeated time', (s) => ({ points: [...curve(s, [30]), ...curve(s, [31])] }), '/points/1/at'],
    ['a point three days old', (s) => ({ points: curve(s - 3 * 86_400_000, [30]) }), '/points/0/at'],
    ['a point a month ahead', (s) => ({ points: curve(s + 30 * 86_400_000, [30]) }), '/points/0/at'],
    ['an absurd price', (s) => ({ points: curve(s, [30, 60_000]) }), '/points/1/usdPerMWh'],
    [
      'a price as a string',
      (s) => ({ points: [{ at: new Date(s).toISOString(), usdPerMWh: '30' }] }),
      '/points/0/usdPerMWh',
    ],
    [
      'a time without an offset',
      () => ({ points: [{ at: '2026-07-01T17:00:00', usdPerMWh: 30 }] }),
      '/points/0/at',
    ],
    [
      'an impossible date',
      (s) => ({
        points: [{ at: `${new Date(s).toISOString().slice(0, 4)}-02-31T17:00:00Z`, usdPerMWh: 30 }],
      }),
      '/points/0/at',
    ],
    [
      'hour 24',
      (s) => ({ points: [{ at: `${new Date(s).toISOString().slice(0, 10)}T24:00:00Z`, usdPerMWh: 30 }] }),
      '/points/0/at',
    ],
    ['an unknown site', (s) => ({ site: 'east-9', points: curve(s, [30]) }), '/site'],
    ['another kind', (s) => ({ kind: 'gas', points: curve(s, [30]) }), '/kind'],
    [
      'a broker in the body',
      (s) => ({ brokerId: '00000000-0000-4000-8000-000000000000', points: curve(s, [30]) }),
      '/brokerId',
    ],
    [
      'an extra point field',
      (s) => ({ points: [{ at: new Date(s).toISOString(), usdPerMWh: 30, source: 'x' }] }),
      '/points/0/source',
    ],
  ])('refuses %s naming the field, and writes nothing', async (_name, body, path) => {
    const before = await rowCount();
    const audits = (await new AuditRepository(db).list({ action: 'prices.push', limit: 500 })).items.length;
    const r = await push(body(Date.now()));
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    const paths = ((r.json() as { errors?: Array<{ path: string }> }).errors ?? []).map((e) => e.path);
    expect(paths).toContain(path);
    expect(await rowCount()).toBe(before);
    expect((await new AuditRepository(db).list({ action: 'prices.push', limit: 500 })).items).toHaveLength(
      audits,
    );
  });

  it('refuses compute brokers and viewers', async () => {
    const compute = await new BrokerRepository(db).create({ name: 'gpu-buyer', kind: 'compute' });
    for (const key of [
      await issueTestKey(db, 'compute-broker', compute.id),
      await issueTestKey(db, 'viewer'),
    ]) {
      const r = await push({ points: curve(Date.now(), [30]) }, key);
      expect(r.statusCode).toBe(403);
    }
  });
});

// The operator's grid-dispatch routes against PGlite and a real Redis: a dispatch is stored, then
// announced on the control-event channel; curtail-by is counted from the metered load; every bad
// field is named in a 400 problem.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import {
  DispatchRepository,
  migrateDatabase,
  ObservationRepository,
  openDatabase,
  type DatabaseHandle,
} from '@switchyard/db';
import {
  connectRedis,
  publishControlEvent,
  subscribeControlEvents,
  type ControlEvent,
  type ControlEventSubscription,
} from '@switchyard/queue';
import { createLogger } from '@switchyard/telemetry';
import { buildApp, type AppDeps } from '@switchyard/api';
import { requireRedisUrl } from '../support/redis.ts';
import { issueTestKey } from '../support/api-keys.ts';
import { uniquePrefix } from '../queue/support.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm: Farm = parsed.farm;
const site = farm.sites[0]!;
const SITE = site.metadata.name;

const logger = createLogger({ level: 'silent' });
const view = (f: Farm) => () => ({ farm: f, snapshotId: 1, source: 'test', loadedAt: new Date() });

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface DispatchJson {
  id: string;
  site: string;
  kind: string;
  kw: number;
  capKw: number;
  baselineKw: number | null;
  state: string;
  startsAt: string;
  endsAt: string;
  durationSeconds: number;
  notified?: boolean;
  performance: { capKw: number; samples?: unknown[]; totalSamples: number };
}

describe('dispatch routes', () => {
  let db: DatabaseHandle;
  let redis: Redis;
  let app: FastifyInstance;
  let sub: ControlEventSubscription;
  const events: ControlEvent[] = [];
  const prefix = uniquePrefix();
  let headers: { authorization: string };

  const build = (deps: Partial<AppDeps> = {}) =>
    buildApp({ logger, readiness: [], db: db.db, getFarm: view(farm), ...deps });
  const post = (payload: unknown, a = app) =>
    a.inject({ method: 'POST', url: '/api/v1/dispatches', headers, payload: payload as object });

  beforeAll(async () => {
    db = await openDatabase({});
    await migrateDatabase(db);
    headers = (await issueTestKey(db.db, 'operator')).headers;
    redis = await connectRedis(requireRedisUrl(), 'producer');
    sub = await subscribeControlEvents(requireRedisUrl(), (e) => void events.push(e), { prefix });
    app = await build({ publishEvent: (e) => publishControlEvent(redis, e, { prefix }) });
  });
  afterAll(async () => {
    await app.close();
    await sub.close();
    await redis.quit();
    await db.close();
  });
  beforeEach(() => {
    events.length = 0;
  });

  it('stores a cap, answers 201 with its Location, and tells the controller', async () => {
    const startsAt = new Date(Date.now() - 1000).toISOString();
    const r = await post({ capKw: 30_000, durationSeconds: 900, startsAt });
    expect(r.statusCode).toBe(201);
    const body = r.json() as DispatchJson;
    expect(r.headers.location).toBe(`/api/v1/dispatches/${body.id}`);
    expect(body).toMatchObject({
      site: SITE,
      kind: 'cap',
      kw: 30_000,
      capKw: 30_000,
      baselineKw: null,
      state: 'received',
      startsAt,
      durationSeconds: 900,
      notified: true,
    });
    expect(Date.parse(body.endsAt) - Date.parse(body.startsAt)).toBe(900_000);
    await until(() => events.some((e) => e.type === 'grid-dispatch' && e.id === body.id));
    expect(events.find((e) => e.type === 'grid-dispatch' && e.id === body.id)).toEqual({
      type: 'grid-dispatch',
      id: body.id,
      site: SITE,
      at: expect.any(String),
      change: 'created',
    });

    const got = await app.inject({ headers, method: 'GET', url: r.headers.location as string });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({
      id: body.id,
      performance: { capKw: 30_000, samples: [], totalSamples: 0 },
    });
    expect(await new DispatchRepository(db.db).active(SITE, new Date())).toContainEqual(
      expect.objectContaining({ id: body.id, capKw: 30_000 }),
    );
  });

  it('starts now when startsAt is left out', async () => {
    const before = Date.now();
    const r = await post({ capKw: 1000, durationSeconds: 60 });
    expect(r.statusCode).toBe(201);
    const t = Date.parse((r.json() as DispatchJson).startsAt);
    expect(t).toBeGreaterThanOrEqual(before - 5);
    expect(t).toBeLessThanOrEqual(Date.now() + 5);
  });

  it('counts a curtail-by from the metered site load, and refuses one without a baseline', async () => {
    const none = await post({ curtailByKw: 5000, durationSeconds: 600 });
    expect(none.statusCode).toBe(409);
    expect(none.headers['content-type']).toContain('application/problem+json');
    expect(none.json()).toMatchObject({
      type: 'https://switchyard.io/problems/no-baseline',
      title: 'No baseline',
    });

    const obs = new ObservationRepository(db.db);
    const row = (fleet: string, powerKw: number) => ({
      site: SITE,
      fleet,
      byState: { hashing: 1 },
      hashrateThs: 1,
      powerKw,
      powerSource: 'measured',
      maxChipTempC: null,
      degraded: 0,
    });
    // A stale reading does not count; only each fleet's latest fresh one does.
    await obs.appendFleetObservations(new Date(Date.now() - 3_600_000), [row('stale-fleet', 99_999)]);
    await obs.appendFleetObservations(new Date(Date.now() - 20_000), [row('f-a', 1), row('f-b', 1)]);
    await obs.appendFleetObservations(new Date(Date.now() - 10_000), [
      row('f-a', 20_000),
      row('f-b', 10_000),
    ]);
    const r = await post({ curtailByKw: 5000, durationSeconds: 600 });
    expect(r.statusCode).toBe(201);
    const body = r.json() as DispatchJson;
    const baseline = 30_000 * site.spec.pue;
    expect(body.kind).toBe('curtail-by');
    expect(body.baselineKw).toBeCloseTo(baseline);
    expect(body.capKw).toBeCloseTo(baseline - 5000);
    await until(() => events.some((e) => e.type === 'grid-dispatch' && e.id === body.id));
  });

  it.each([
    [{ durationSeconds: 600 }, 'capKw'],
    [{ capKw: 10, curtailByKw: 10, durationSeconds: 600 }, 'capKw'],
    [{ capKw: 0, durationSeconds: 600 }, 'capKw'],
    [{ capKw: -5, durationSeconds: 600 }, 'capKw'],
    [{ capKw: 10_000_001, durationSeconds: 600 }, 'capKw'],
    [{ capKw: '100', durationSeconds: 600 }, 'capKw'],
    [{ curtailByKw: -1, durationSeconds: 600 }, 'curtailByKw'],
    [{ curtailByKw: 'Infinity', durationSeconds: 600 }, 'curtailByKw'],
    [{ capKw: 100 }, 'durationSeconds'],
    [{ capKw: 100, durationSeconds: 59 }, 'durationSeconds'],
    [{ capKw: 100, durationSeconds: 86_401 }, 'durationSeconds'],
    [{ capKw: 100, durationSeconds: 90.5 }, 'durationSeconds'],
    [{ capKw: 100, durationSeconds: '600' }, 'durationSeconds'],
    [{ capKw: 100, durationSeconds: 600, startsAt: '2026-07-01T17:00:00' }, 'startsAt'],
    [{ capKw: 100, durationSeconds: 600, startsAt: 'soon' }, 'startsAt'],
    [{ capKw: 100, durationSeconds: 600, startsAt: '2020-01-01T00:00:00Z' }, 'startsAt'],
    [{ capKw: 100, durationSeconds: 600, site: 'east-9' }, 'site'],
    [{ capKw: 100, durationSeconds: 600, site: 7 }, 'site'],
    [{ capKw: 100, durationSeconds: 600, capkw: 1 }, 'capkw'],
    [[{ capKw: 100, durationSeconds: 600 }], 'body'],
  ])('rejects %j with a 400 problem naming %s, storing nothing', async (payload, field) => {
    const count = async () => (await new DispatchRepository(db.db).list({ limit: 500 })).length;
    const before = await count();
    const r = await post(payload);
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    const problem = r.json() as { type: string; detail: string; errors: Array<{ path: string }> };
    expect(problem.type).toBe('https://switchyard.io/problems/validation');
    expect(problem.errors[0]?.path).toBe(`/${field}`);
    expect(problem.detail).toContain(field);
    expect(await count()).toBe(before);
  });

  it('needs a site when the farm has several', async () => {
    const twoSites: Farm = {
      ...farm,
      sites: [site, { ...site, metadata: { ...site.metadata, name: 'east-1' } }],
    };
    const a = await build({ getFarm: view(twoSites) });
    try {
      const r = await post({ capKw: 100, durationSeconds: 600 }, a);
      expect(r.statusCode).toBe(400);
      expect((r.json() as { detail: string }).detail).toMatch(/site is required: the farm has 2 sites/);
      const ok = await post({ capKw: 100, durationSeconds: 600, site: 'east-1' }, a);
      expect(ok.statusCode).toBe(201);
      expect((ok.json() as DispatchJson).site).toBe('east-1');
    } finally {
      await a.close();
    }
  });

  it('still stores the dispatch when the event cannot be published', async () => {
    const failing = await build({ publishEvent: () => Promise.reject(new Error('Redis is away')) });
    const silent = await build();
    try {
      const r = await post({ capKw: 100, durationSeconds: 600 }, failing);
      expect(r.statusCode).toBe(201);
      expect((r.json() as DispatchJson).notified).toBe(false);
      const s = await post({ capKw: 100, durationSeconds: 600 }, silent);
      expect((s.json() as DispatchJson).notified).toBe(false);
      const id = (r.json() as DispatchJson).id;
      expect((await app.inject({ headers, method: 'GET', url: `/api/v1/dispatches/${id}` })).statusCode).toBe(
        200,
      );
    } finally {
      await failing.close();
      await silent.close();
    }
  });

  it('lists dispatches, newest first, and the ones in force with ?active=true', async () => {
    const now = Date.now();
    const current = (await post({ capKw: 111, durationSeconds: 3600 })).json() as DispatchJson;
    const later = (
      await post({ capKw: 222, durationSeconds: 3600, startsAt: new Date(now + 3_600_000).toISOString() })
    ).json() as DispatchJson;
    const all = await app.inject({ headers, method: 'GET', url: '/api/v1/dispatches?limit=2' });
    expect(all.statusCode).toBe(200);
    const items = (all.json() as { items: DispatchJson[] }).items;
    expect(items.map((i) => i.id)).toEqual([later.id, current.id]);
    // Lists carry the performance summary without its samples.
    expect(items[0]?.performance).not.toHaveProperty('samples');
    expect(items[0]?.performance.totalSamples).toBe(0);

    const active = await app.inject({
      headers,
      method: 'GET',
      url: `/api/v1/dispatches?active=true&site=${SITE}`,
    });
    const ids = (active.json() as { items: DispatchJson[] }).items.map((i) => i.id);
    expect(ids).toContain(current.id);
    expect(ids).not.toContain(later.id);

    // Page by page with the cursor, every dispatch once.
    const total = (await new DispatchRepository(db.db).list({ limit: 500 })).length;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (
        await app.inject({
          headers,
          method: 'GET',
          url: `/api/v1/dispatches?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        })
      ).json() as { items: DispatchJson[]; nextCursor: string | null };
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor !== null && seen.length < 1000);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(seen.slice(0, 2)).toEqual([later.id, current.id]);

    for (const q of ['limit=0', 'limit=x', 'active=yes', 'site=nowhere', 'before=yesterday', 'cursor=12']) {
      const bad = await app.inject({ headers, method: 'GET', url: `/api/v1/dispatches?${q}` });
      expect(bad.statusCode).toBe(400);
      expect((bad.json() as { errors: Array<{ path: string }> }).errors[0]?.path).toBe(`/${q.split('=')[0]}`);
    }
  });

  it('shows one dispatch with its performance, and 404s an unknown one', async () => {
    const created = (await post({ capKw: 500, durationSeconds: 600 })).json() as DispatchJson;
    await new DispatchRepository(db.db).recordPerformance(created.id, { at: new Date(), siteKw: 480 });
    const r = await app.inject({ headers, method: 'GET', url: `/api/v1/dispatches/${created.id}` });
    expect(r.json()).toMatchObject({
      performance: { capKw: 500, totalSamples: 1, compliantSamples: 1, compliance: 1, maxKw: 480 },
    });
    expect((r.json() as DispatchJson).performance.samples).toHaveLength(1);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      const missing = await app.inject({ headers, method: 'GET', url: `/api/v1/dispatches/${id}` });
      expect(missing.statusCode).toBe(404);
      expect(missing.headers['content-type']).toContain('application/problem+json');
      expect(missing.json()).toMatchObject({ status: 404, detail: `no dispatch ${id}` });
    }
  });

  it('cancels a dispatch and tells the controller; cancelling again changes nothing', async () => {
    const created = (await post({ capKw: 700, durationSeconds: 600 })).json() as DispatchJson;
    const about = (change: string) =>
      events.filter((e) => e.type === 'grid-dispatch' && e.id === created.id && e.change === change);
    await until(() => about('created').length === 1);
    const r = await app.inject({ headers, method: 'DELETE', url: `/api/v1/dispatches/${created.id}` });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ id: created.id, state: 'cancelled', notified: true });
    await until(() => about('cancelled').length === 1);
    expect(await new DispatchRepository(db.db).active(SITE, new Date())).not.toContainEqual(
      expect.objectContaining({ id: created.id }),
    );

    const again = await app.inject({ headers, method: 'DELETE', url: `/api/v1/dispatches/${created.id}` });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ state: 'cancelled', notified: false });

    const missing = await app.inject({
      headers,
      method: 'DELETE',
      url: '/api/v1/dispatches/00000000-0000-4000-8000-000000000000',
    });
    expect(missing.statusCode).toBe(404);

    const done = (await post({ capKw: 700, durationSeconds: 600 })).json() as DispatchJson;
    await new DispatchRepository(db.db).finish(done.id);
    const late = await app.inject({ headers, method: 'DELETE', url: `/api/v1/dispatches/${done.id}` });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ type: 'https://switchyard.io/problems/dispatch-completed' });
  });
});

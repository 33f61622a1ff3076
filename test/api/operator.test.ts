// The operator routes against a real database (PGlite and PostgreSQL) and a real Redis: the farm
// at a glance, the allocation policy and its versions, overrides, plans with their actions, and
// signal readings. Every write is audited and announced on the control-event channel; every bad
// field is named in a 400 problem.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  allocationPolicySpecSchema,
  fleetProfiles,
  parseFarmYaml,
  planGreedy,
  type Farm,
  type Plan,
} from '@switchyard/domain';
import { planInput } from '@switchyard/domain/testing';
import {
  actions,
  AuditRepository,
  ObservationRepository,
  OverrideRepository,
  PlanRepository,
  PolicyRepository,
  type Database,
  type DatabaseDriver,
} from '@switchyard/db';
import {
  connectRedis,
  publishControlEvent,
  subscribeControlEvents,
  type ControlEvent,
  type ControlEventSubscription,
} from '@switchyard/queue';
import { SignalRepository } from '@switchyard/signals';
import { createLogger } from '@switchyard/telemetry';
import { buildApp } from '@switchyard/api';
import { PolicySpecBody } from '../../services/api/src/schemas/operator.ts';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { requireRedisUrl } from '../support/redis.ts';
import { issueTestKey, type TestKey } from '../support/api-keys.ts';
import { uniquePrefix } from '../queue/support.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm: Farm = parsed.farm;
const SITE = farm.sites[0]!.metadata.name;
const FLEET = farm.fleets[0]!;
const FLEET2 = farm.fleets[1]!;
const POOL = farm.pools[0]!;
const PROFILES = fleetProfiles(FLEET).map((p) => p.name);
const MISSING = '00000000-0000-4000-8000-000000000000';

type Json = Record<string, unknown>;
interface Problem {
  type: string;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A stored plan with the parts the status reads: fleets, pools, loads, prices, economics. */
function fakePlan(at: number, netUsdPerHour: number) {
  const profile = PROFILES[0]!;
  return {
    site: SITE,
    at,
    solver: 'greedy' as const,
    prices: { energyUsdPerMwh: 31.5, hashpriceUsdPerThDay: 0.052, gpuUsdPerGpuHour: 2.4 },
    fleets: {
      [FLEET.metadata.name]: {
        target: { asleep: 40, byProfile: { [profile]: 600 } },
        expectedKw: 1900,
        hashrateThs: 66_000,
      },
      [FLEET2.metadata.name]: { target: { asleep: 640, byProfile: {} }, expectedKw: 19.2, hashrateThs: 0 },
    },
    pools: {
      [POOL.metadata.name]: {
        target: { serving: 20, hashing: 8, idle: 4 },
        unavailable: 0,
        expectedKw: 277.6,
      },
    },
    loads: { site: { itKw: 2196.8, facilityKw: 2372.5, capKw: 47_500, rampCapKw: 50_000, currentKw: 2300 } },
    economics: {
      hashingUsdPerHour: 140,
      inferenceUsdPerHour: 380,
      gpuHashingUsdPerHour: 11,
      energyUsdPerHour: 75,
      wearUsdPerHour: 1,
      netUsdPerHour,
    },
    warnings: ['energy price is 20 min old'],
    changes: [
      {
        targetKind: 'fleet' as const,
        target: FLEET2.metadata.name,
        change: 'sleep 640',
        reason: 'energy above breakeven',
      },
      {
        targetKind: 'pool' as const,
        target: POOL.metadata.name,
        change: 'serve 20',
        reason: 'orders admitted',
      },
    ],
  };
}

describe.each<DatabaseDriver>(['pglite', 'pg'])('operator routes on %s', (driver) => {
  let m: MigratedDatabase;
  let db: Database;
  let redis: Redis;
  let sub: ControlEventSubscription;
  let app: FastifyInstance;
  let operator: TestKey;
  let viewer: TestKey;
  const events: ControlEvent[] = [];
  const prefix = uniquePrefix();

  const call = (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: unknown,
    key: TestKey = operator,
  ): Promise<LightMyRequestResponse> =>
    app.inject({
      method,
      url,
      headers: key.headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const problem = (r: LightMyRequestResponse) => r.json() as Problem;
  const errorPaths = (r: LightMyRequestResponse) => [
    ...new Set((problem(r).errors ?? []).map((e) => e.path)),
  ];

  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
    db = m.handle.db;
    operator = await issueTestKey(db, 'operator');
    viewer = await issueTestKey(db, 'viewer');
    redis = await connectRedis(requireRedisUrl(), 'producer');
    sub = await subscribeControlEvents(requireRedisUrl(), (e) => void events.push(e), { prefix });
    app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [],
      db,
      getFarm: () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() }),
      publishEvent: (e) => publishControlEvent(redis, e, { prefix }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await sub?.close();
    await redis?.quit();
    await m?.cleanup();
  });
  beforeEach(() => {
    events.length = 0;
  });

  describe('GET /status', () => {
    it('answers for an empty farm: no plan, no observations, no signals', async () => {
      const r = await call('GET', '/api/v1/status', undefined, viewer);
      expect(r.statusCode).toBe(200);
      const s = r.json() as Json & { fleets: Json[]; pools: Json[] };
      expect(s).toMatchObject({
        site: { name: SITE, interconnectKw: 50_000, pue: 1.08, marketNode: 'HB_WEST' },
        sites: [SITE],
        plan: null,
        power: { planned: null, observed: { asicKw: 0, fleets: 0, oldestObservationAt: null } },
        dispatches: [],
        overrides: { inForce: 0, upcoming: 0, items: [] },
        signals: [],
      });
      expect(s.fleets).toHaveLength(farm.fleets.length);
      expect(s.fleets[0]).toEqual({
        name: FLEET.metadata.name,
        model: FLEET.spec.model,
        miners: 640,
        planned: null,
        observed: null,
      });
      expect(s.pools.map((p) => p.name)).toEqual(farm.pools.map((p) => p.metadata.name));
    });

    it('shows the latest plan, power by use, miners by state, nodes by mode, dispatches, overrides and signal ages', async () => {
      const plans = new PlanRepository(db);
      const now = Date.now();
      await plans.save({ plan: fakePlan(now - 600_000, 100), epoch: 3, inputs: {} });
      const latestId = await plans.save({ plan: fakePlan(now - 60_000, 455.25), epoch: 4, inputs: {} });
      const observedAt = new Date(now - 30_000);
      await new ObservationRepository(db).appendFleetObservations(observedAt, [
        {
          site: SITE,
          fleet: FLEET.metadata.name,
          byState: { hashing: 598, sleeping: 40, offline: 2 },
          hashrateThs: 65_000,
          powerKw: 1880,
          powerSource: 'measured',
          maxChipTempC: 71,
          degraded: 1,
        },
      ]);
      // An observation older than an hour is left out.
      await new ObservationRepository(db).appendFleetObservations(new Date(now - 2 * 3_600_000), [
        {
          site: SITE,
          fleet: FLEET2.metadata.name,
          byState: { hashing: 640 },
          hashrateThs: 60_000,
          powerKw: 2000,
          powerSource: 'measured',
          maxChipTempC: null,
          degraded: 0,
        },
      ]);
      const signals = new SignalRepository(db);
      await signals.append([
        {
          signal: 'btc_usd',
          value: 64_000,
          unit: 'USD/BTC',
          source: 'coingecko',
          observedAt: new Date(now - 20 * 60_000),
          fetchedAt: new Date(now - 20 * 60_000),
        },
        {
          signal: 'btc_usd',
          value: 63_900,
          unit: 'USD/BTC',
          source: 'mempool.space',
          observedAt: new Date(now - 25 * 60_000),
          fetchedAt: new Date(now - 25 * 60_000),
        },
        {
          signal: 'energy_usd_per_mwh',
          value: 31.5,
          unit: 'USD/MWh',
          source: 'ercot-rt',
          observedAt: new Date(now - 4 * 60_000),
          fetchedAt: new Date(now - 60_000),
          validUntil: new Date(now + 60_000),
        },
      ]);
      const dispatch = await call('POST', '/api/v1/dispatches', { capKw: 30_000, durationSeconds: 900 });
      expect(dispatch.statusCode).toBe(201);
      const pin = await call('POST', '/api/v1/overrides', {
        targetKind: 'fleet',
        target: FLEET.metadata.name,
        mode: 'asleep',
        durationSeconds: 3600,
        reason: 'PDU maintenance',
      });
      expect(pin.statusCode).toBe(201);

      const r = await call('GET', `/api/v1/status?site=${SITE}`, undefined, viewer);
      expect(r.statusCode).toBe(200);
      const s = r.json() as Json & { fleets: Json[]; pools: Json[]; signals: Json[]; plan: Json };
      expect(s.plan).toMatchObject({
        id: latestId,
        epoch: 4,
        solver: 'greedy',
        status: 'planned',
        changes: 2,
        warnings: ['energy price is 20 min old'],
        expectedUsdPerHour: 455.25,
        economics: { netUsdPerHour: 455.25, inferenceUsdPerHour: 380 },
        prices: { energyUsdPerMwh: 31.5, gpuUsdPerGpuHour: 2.4 },
      });
      // Counted from when the plan was stored.
      expect(s.plan.ageSeconds).toBeGreaterThanOrEqual(0);
      expect(s.plan.ageSeconds).toBeLessThan(60);
      const gpu = POOL.spec.nodePowerKw;
      expect(s.power).toEqual({
        planned: {
          itKw: 2196.8,
          facilityKw: 2372.5,
          capKw: 47_500,
          currentKw: 2300,
          asicKw: 1919.2,
          gpuKw: 277.6,
          gpuByMode: { serving: 20 * gpu.serving, hashing: 8 * gpu.hashing, idle: 4 * gpu.idle },
        },
        observed: { asicKw: 1880, fleets: 1, oldestObservationAt: observedAt.toISOString() },
      });
      expect(s.fleets[0]).toEqual({
        name: FLEET.metadata.name,
        model: FLEET.spec.model,
        miners: 640,
        planned: { asleep: 40, byProfile: { [PROFILES[0]!]: 600 }, expectedKw: 1900 },
        observed: {
          at: observedAt.toISOString(),
          byState: { hashing: 598, sleeping: 40, offline: 2 },
          powerKw: 1880,
          hashrateThs: 65_000,
        },
      });
      expect(s.fleets[1]).toMatchObject({ planned: { asleep: 640 }, observed: null });
      expect(s.pools[0]).toEqual({
        name: POOL.metadata.name,
        gpuModel: POOL.spec.gpuModel,
        nodes: POOL.spec.nodes,
        planned: { serving: 20, hashing: 8, idle: 4, unavailable: 0, expectedKw: 277.6 },
      });
      expect(s.pools[1]).toMatchObject({ planned: null });
      expect(s.dispatches).toEqual([
        expect.objectContaining({
          id: (dispatch.json() as Json).id,
          kind: 'cap',
          capKw: 30_000,
          brokerId: null,
        }),
      ]);
      expect(s.overrides).toMatchObject({
        inForce: 1,
        upcoming: 0,
        items: [
          { id: (pin.json() as Json).id, target: FLEET.metadata.name, mode: 'asleep', state: 'in-force' },
        ],
      });
      const bySignal = Object.fromEntries(s.signals.map((x) => [x.signal as string, x]));
      expect(Object.keys(bySignal).sort()).toEqual(['btc_usd', 'energy_usd_per_mwh']);
      // The newest reading of each signal; BTC's soft limit is 10 minutes, energy's counts from validUntil.
      expect(bySignal.btc_usd).toMatchObject({
        source: 'coingecko',
        value: 64_000,
        stale: true,
        status: 'accepted',
      });
      expect(bySignal.btc_usd!.ageSeconds).toBeGreaterThanOrEqual(20 * 60 - 1);
      expect(bySignal.energy_usd_per_mwh).toMatchObject({ source: 'ercot-rt', ageSeconds: 0, stale: false });

      // Cancelled again, so the override tests below start clean.
      expect(
        (await call('DELETE', `/api/v1/overrides/${(pin.json() as Json).id as string}`)).statusCode,
      ).toBe(200);
    });

    it('names an unknown site', async () => {
      const r = await call('GET', '/api/v1/status?site=east-9');
      expect(r.statusCode).toBe(400);
      expect(errorPaths(r)).toEqual(['/site']);
      expect((await call('GET', '/api/v1/status?extra=1')).statusCode).toBe(400);
    });
  });

  it('reads a plan the greedy planner made', async () => {
    const plan: Plan = planGreedy(planInput(farm).energy(400).build());
    await new PlanRepository<Plan>(db).save({ plan, epoch: 5, inputs: {} });
    const s = (await call('GET', '/api/v1/status')).json() as {
      plan: Json;
      power: { planned: Json };
      fleets: Array<{ name: string; planned: Json | null }>;
      pools: Array<{ name: string; planned: Json | null }>;
    };
    expect(s.plan).toMatchObject({
      epoch: 5,
      changes: plan.changes.length,
      expectedUsdPerHour: plan.economics.netUsdPerHour,
      prices: { energyUsdPerMwh: plan.prices.energyUsdPerMwh },
    });
    expect(s.power.planned).toMatchObject({
      itKw: plan.loads.site.itKw,
      facilityKw: plan.loads.site.facilityKw,
    });
    for (const f of s.fleets) {
      const p = plan.fleets[f.name]!;
      expect(f.planned).toEqual({
        asleep: p.target.asleep,
        byProfile: p.target.byProfile,
        expectedKw: p.expectedKw,
      });
    }
    for (const pool of s.pools) {
      const p = plan.pools[pool.name]!;
      expect(pool.planned).toEqual({ ...p.target, unavailable: p.unavailable, expectedKw: p.expectedKw });
    }
  });

  describe('allocation policy', () => {
    const fileSpec = farm.policies[0]!.spec;

    it("mirrors the farm model: the body schema has the domain schema's fields and bounds", () => {
      const domain = z.toJSONSchema(allocationPolicySpecSchema, { io: 'input' }) as {
        properties: Record<string, Json>;
      };
      const api = PolicySpecBody as unknown as { properties: Record<string, Json> };
      expect(Object.keys(api.properties).sort()).toEqual(Object.keys(domain.properties).sort());
      for (const [field, d] of Object.entries(domain.properties)) {
        const a = api.properties[field]!;
        for (const bound of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'])
          expect([field, bound, a[bound]]).toEqual([field, bound, d[bound]]);
        if (d.type === 'integer') expect([field, a.type]).toEqual([field, 'integer']);
      }
    });

    it("answers the farm file's policy until one is set", async () => {
      const r = await call('GET', '/api/v1/policy', undefined, viewer);
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({
        site: SITE,
        name: farm.policies[0]!.metadata.name,
        source: 'farm-file',
        version: null,
        updatedAt: null,
        updatedBy: null,
        spec: fileSpec,
      });
      const none = await call('GET', '/api/v1/policy/versions');
      expect(none.json()).toEqual({ items: [], nextCursor: null });
    });

    it('stores a new version, audits it, tells the controller, and answers it from then on', async () => {
      const body = { ...fileSpec, safetyMarginPct: 8, reserveKw: 1500 };
      const r = await call('PUT', '/api/v1/policy', body);
      expect(r.statusCode).toBe(200);
      const put = r.json() as Json & { version: number };
      expect(put).toMatchObject({
        site: SITE,
        source: 'api',
        updatedBy: operator.prefix,
        spec: { ...fileSpec, safetyMarginPct: 8, reserveKw: 1500 },
        notified: true,
      });
      await until(() => events.some((e) => e.type === 'inventory'));
      expect(events.find((e) => e.type === 'inventory')).toEqual({
        type: 'inventory',
        at: expect.any(String),
      });
      const got = (await call('GET', '/api/v1/policy', undefined, viewer)).json() as Json;
      expect(got).toMatchObject({
        source: 'api',
        version: put.version,
        spec: { safetyMarginPct: 8, reserveKw: 1500 },
      });
      const audit = await new AuditRepository(db).list({ target: `policy:${SITE}` });
      expect(audit.items).toHaveLength(1);
      expect(audit.items[0]).toMatchObject({
        action: 'policy.update',
        actor: operator.prefix,
        detail: { version: put.version, previousVersion: null, spec: { safetyMarginPct: 8 } },
      });

      // A PUT replaces the whole spec: a field left out takes its default, not its current value.
      const second = await call('PUT', '/api/v1/policy', { site: SITE, safetyMarginPct: 6 });
      expect(second.statusCode).toBe(200);
      expect((second.json() as { spec: Json }).spec).toEqual(
        allocationPolicySpecSchema.parse({ site: SITE, safetyMarginPct: 6 }),
      );

      const versions = (await call('GET', '/api/v1/policy/versions?limit=1', undefined, viewer)).json() as {
        items: Array<{ version: number; spec: Json; createdBy: string }>;
        nextCursor: string;
      };
      expect(versions.items).toHaveLength(1);
      expect(versions.items[0]!.spec.safetyMarginPct).toBe(6);
      const older = (
        await call('GET', `/api/v1/policy/versions?limit=1&cursor=${versions.nextCursor}`)
      ).json() as {
        items: Array<{ version: number; spec: Json }>;
        nextCursor: string | null;
      };
      expect(older.items.map((v) => v.version)).toEqual([put.version]);
      expect(older.nextCursor).toBeNull();
    });

    it.each([
      [{ safetyMarginPct: 80 }, '/safetyMarginPct', 'Too big'],
      [{ intervalSeconds: 12.5 }, '/intervalSeconds', 'int'],
      [{ rampKwPerMin: 0 }, '/rampKwPerMin', 'Too small'],
      [{ poolFeePct: '2' }, '/poolFeePct', 'expected number'],
      [{ reserveKw: null }, '/reserveKw', 'expected number'],
      [{ rampKwPerMinute: 100 }, '/rampKwPerMinute', 'not a field'],
      [{ site: 'east-9' }, '/site', 'must be a site of the farm'],
      [{ site: 'Bad Name' }, '/site', 'must be a site of the farm'],
    ])('refuses %j naming the field, and stores nothing', async (body, path, message) => {
      const before = await new PolicyRepository(db).list(SITE);
      const r = await call('PUT', '/api/v1/policy', body);
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(errorPaths(r)).toContain(path);
      expect(JSON.stringify(problem(r).errors)).toContain(message);
      expect((await new PolicyRepository(db).list(SITE)).items).toHaveLength(before.items.length);
    });

    it('refuses a body that is not an object', async () => {
      const r = await app.inject({
        method: 'PUT',
        url: '/api/v1/policy',
        headers: { ...operator.headers, 'content-type': 'application/json' },
        payload: '[1,2]',
      });
      expect(r.statusCode).toBe(400);
    });
  });

  describe('overrides', () => {
    const post = (body: Json, key?: TestKey) => call('POST', '/api/v1/overrides', body, key);
    const fleetPin = {
      targetKind: 'fleet',
      target: FLEET2.metadata.name,
      mode: PROFILES[0]!,
      durationSeconds: 7200,
      reason: 'firmware trial',
    };

    it('pins a fleet: 201 with its Location, audited, announced; one overlapping it is refused', async () => {
      const r = await post(fleetPin);
      expect(r.statusCode).toBe(201);
      const o = r.json() as Json & { id: string; startsAt: string; endsAt: string };
      expect(r.headers.location).toBe(`/api/v1/overrides/${o.id}`);
      expect(o).toMatchObject({
        site: SITE,
        targetKind: 'fleet',
        target: FLEET2.metadata.name,
        mode: PROFILES[0],
        reason: 'firmware trial',
        createdBy: operator.prefix,
        cancelledAt: null,
        state: 'in-force',
        notified: true,
      });
      expect(Date.parse(o.endsAt) - Date.parse(o.startsAt)).toBe(7_200_000);
      await until(() => events.some((e) => e.type === 'override'));
      expect(events.find((e) => e.type === 'override')).toEqual({
        type: 'override',
        site: SITE,
        targetKind: 'fleet',
        target: FLEET2.metadata.name,
        at: expect.any(String),
      });
      const audit = await new AuditRepository(db).list({ target: `override:${o.id}` });
      expect(audit.items.map((a) => [a.action, a.actor])).toEqual([['override.create', operator.prefix]]);
      expect(audit.items[0]!.detail).toMatchObject({ mode: PROFILES[0], reason: 'firmware trial' });

      const got = await call('GET', r.headers.location as string, undefined, viewer);
      expect(got.json()).toMatchObject({ id: o.id, state: 'in-force' });
      // The planner's shape, for the controller.
      expect(await new OverrideRepository(db).active(SITE, new Date())).toContainEqual(
        expect.objectContaining({ id: o.id, kind: 'fleet', name: FLEET2.metadata.name, mode: PROFILES[0] }),
      );

      const clash = await post({
        ...fleetPin,
        mode: 'asleep',
        startsAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      expect(clash.statusCode).toBe(409);
      expect(clash.json()).toMatchObject({
        type: 'https://switchyard.io/problems/override-conflict',
        conflictingOverride: o.id,
      });

      // Cancelled: it stops applying, is audited and announced; cancelling again changes nothing.
      events.length = 0;
      const del = await call('DELETE', `/api/v1/overrides/${o.id}`);
      expect(del.statusCode).toBe(200);
      expect(del.json()).toMatchObject({ id: o.id, state: 'cancelled', notified: true });
      await until(() => events.some((e) => e.type === 'override'));
      const again = await call('DELETE', `/api/v1/overrides/${o.id}`);
      expect(again.json()).toMatchObject({
        state: 'cancelled',
        notified: false,
        cancelledAt: (del.json() as Json).cancelledAt,
      });
      const trail = await new AuditRepository(db).list({ target: `override:${o.id}` });
      expect(trail.items.map((a) => a.action)).toEqual(['override.cancel', 'override.create']);
      expect(await new OverrideRepository(db).active(SITE, new Date())).not.toContainEqual(
        expect.objectContaining({ id: o.id }),
      );
      // Now the window is free again.
      const after = await post({ ...fleetPin, mode: 'asleep' });
      expect(after.statusCode).toBe(201);
      await call('DELETE', `/api/v1/overrides/${(after.json() as Json).id as string}`);
    });

    it('pins a pool to a mode it can take, from a later start, until a given end', async () => {
      const startsAt = new Date(Date.now() + 86_400_000);
      const endsAt = new Date(startsAt.getTime() + 4 * 3_600_000);
      const r = await post({
        targetKind: 'pool',
        target: POOL.metadata.name,
        mode: 'serving',
        startsAt: startsAt.toISOString(),
        endsAt: endsAt.toISOString(),
        reason: 'reserved training run',
      });
      expect(r.statusCode).toBe(201);
      expect(r.json()).toMatchObject({
        state: 'scheduled',
        startsAt: startsAt.toISOString(),
        endsAt: endsAt.toISOString(),
      });
      const status = (await call('GET', '/api/v1/status')).json() as { overrides: Json };
      expect(status.overrides).toMatchObject({ inForce: 0, upcoming: 1 });
    });

    it('lists open overrides by default, every one with all=true, a page at a time', async () => {
      const open = (await call('GET', '/api/v1/overrides', undefined, viewer)).json() as { items: Json[] };
      expect(open.items.map((o) => o.state)).toEqual(['scheduled']);
      const all = (await call('GET', '/api/v1/overrides?all=true')).json() as {
        items: Json[];
        nextCursor: null;
      };
      expect(all.items.length).toBeGreaterThanOrEqual(4);
      expect(all.nextCursor).toBeNull();
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = (
          await call('GET', `/api/v1/overrides?all=true&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        ).json() as {
          items: Array<{ id: string }>;
          nextCursor: string | null;
        };
        seen.push(...page.items.map((o) => o.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(all.items.map((o) => o.id));
      expect((await call('GET', `/api/v1/overrides?site=${SITE}&all=true`)).json()).toMatchObject({
        items: all.items,
      });
      expect(
        ((await call('GET', '/api/v1/overrides?site=east-9&all=true')).json() as { items: Json[] }).items,
      ).toEqual([]);
    });

    it.each([
      [{ target: 'no-such-fleet' }, '/target'],
      [{ targetKind: 'pool', target: POOL.metadata.name }, '/mode'],
      [{ mode: 'turbo-max' }, '/mode'],
      [{ targetKind: 'rack' }, '/targetKind'],
      [{ durationSeconds: 8 * 86_400 }, '/durationSeconds'],
      [{ durationSeconds: 30 }, '/durationSeconds'],
      [{ durationSeconds: '3600' }, '/durationSeconds'],
      [{ durationSeconds: null }, '/endsAt'],
      [{ endsAt: new Date(Date.now() + 3_600_000).toISOString() }, '/endsAt'],
      [{ durationSeconds: null, endsAt: new Date(Date.now() + 8 * 86_400_000).toISOString() }, '/endsAt'],
      [{ startsAt: new Date(Date.now() - 3_600_000).toISOString() }, '/startsAt'],
      [{ startsAt: new Date(Date.now() + 40 * 86_400_000).toISOString() }, '/startsAt'],
      [{ startsAt: 'tomorrow' }, '/startsAt'],
      [
        { durationSeconds: null, endsAt: `${new Date().toISOString().slice(0, 4)}-02-30T12:00:00Z` },
        '/endsAt',
      ],
      [{ reason: '' }, '/reason'],
      [{ reason: 'x'.repeat(501) }, '/reason'],
      [{ createdBy: 'someone-else' }, '/createdBy'],
      [{ site: SITE }, '/site'],
    ])('refuses %j naming the field, and stores nothing', async (change, path) => {
      const before = (await new OverrideRepository(db).list({ limit: 500 })).items.length;
      const r = await post({ ...fleetPin, ...change });
      expect(r.statusCode).toBe(400);
      expect(errorPaths(r)).toContain(path);
      expect((await new OverrideRepository(db).list({ limit: 500 })).items).toHaveLength(before);
    });

    it('refuses hashing for a pool whose hashing is disabled', async () => {
      const noHashing: Farm = {
        ...farm,
        pools: farm.pools.map((p) => ({ ...p, spec: { ...p.spec, hashing: { enabled: false } } })),
      };
      const other = await buildApp({
        logger: createLogger({ level: 'silent' }),
        readiness: [],
        db,
        getFarm: () => ({ farm: noHashing, snapshotId: 1, source: 'test', loadedAt: new Date() }),
      });
      try {
        const r = await other.inject({
          method: 'POST',
          url: '/api/v1/overrides',
          headers: operator.headers,
          payload: {
            targetKind: 'pool',
            target: POOL.metadata.name,
            mode: 'hashing',
            durationSeconds: 600,
            reason: 'test',
          },
        });
        expect(r.statusCode).toBe(400);
        expect(problem(r).detail).toBe(`mode must be one of idle, serving for pool ${POOL.metadata.name}`);
      } finally {
        await other.close();
      }
    });

    it('answers 404 for an unknown override and 400 for a malformed id', async () => {
      expect((await call('GET', `/api/v1/overrides/${MISSING}`)).statusCode).toBe(404);
      expect((await call('DELETE', `/api/v1/overrides/${MISSING}`)).statusCode).toBe(404);
      const bad = await call('DELETE', '/api/v1/overrides/not-a-uuid');
      expect(bad.statusCode).toBe(400);
      expect(errorPaths(bad)).toEqual(['/id']);
      expect((await call('GET', '/api/v1/overrides?cursor=nope')).statusCode).toBe(400);
    });
  });

  describe('plans and actions', () => {
    let planA: string;
    let planB: string;
    const actionIds: string[] = [];

    beforeAll(async () => {
      const plans = new PlanRepository(db);
      planA = await plans.save({ plan: fakePlan(Date.now() - 300_000, 10), epoch: 7, inputs: {} });
      planB = await plans.save({ plan: fakePlan(Date.now(), 20), epoch: 7, inputs: {} });
      const rows = [
        {
          planId: planA,
          step: 0,
          phase: 'shed' as const,
          target: FLEET2.metadata.name,
          state: 'succeeded' as const,
        },
        {
          planId: planA,
          step: 1,
          phase: 'confirm' as const,
          target: FLEET2.metadata.name,
          state: 'succeeded' as const,
        },
        {
          planId: planA,
          step: 2,
          phase: 'add' as const,
          target: FLEET.metadata.name,
          state: 'failed' as const,
          error: '12 miners did not answer',
        },
        {
          planId: planB,
          step: 0,
          phase: 'shed' as const,
          target: FLEET.metadata.name,
          state: 'dispatched' as const,
        },
        {
          planId: planB,
          step: 1,
          phase: 'add' as const,
          target: POOL.metadata.name,
          state: 'pending' as const,
          targetKind: 'pool' as const,
        },
      ];
      // Explicit creation times, a second apart: the clock of an embedded database can
      // give several rows inserted in one millisecond the same timestamp.
      const base = Date.now() - 60_000;
      for (const [i, row] of rows.entries()) {
        const [inserted] = await db
          .insert(actions)
          .values({
            createdAt: new Date(base + i * 1000),
            targetKind: 'fleet',
            command: 'device.batch',
            payload: { hosts: 12 },
            epoch: 7,
            attempts: row.state === 'failed' ? 3 : 1,
            ...row,
          })
          .returning({ id: actions.id });
        actionIds.push(inserted!.id);
      }
    });

    it('answers one plan with every change and its reason', async () => {
      const r = await call('GET', `/api/v1/plans/${planA}`, undefined, viewer);
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({
        id: planA,
        site: SITE,
        epoch: 7,
        solver: 'greedy',
        status: 'planned',
        economics: { netUsdPerHour: 10 },
        warnings: ['energy price is 20 min old'],
        changes: [
          {
            seq: 0,
            targetKind: 'fleet',
            target: FLEET2.metadata.name,
            change: 'sleep 640',
            reason: 'energy above breakeven',
          },
          {
            seq: 1,
            targetKind: 'pool',
            target: POOL.metadata.name,
            change: 'serve 20',
            reason: 'orders admitted',
          },
        ],
        intervalStart: expect.any(String),
      });
      expect((await call('GET', `/api/v1/plans/${MISSING}`)).statusCode).toBe(404);
      const bad = await call('GET', '/api/v1/plans/12');
      expect(bad.statusCode).toBe(400);
      expect(errorPaths(bad)).toEqual(['/id']);
      // The latest plan still answers at its own url.
      expect(((await call('GET', '/api/v1/plans/latest')).json() as Json).id).toBe(planB);
    });

    it('lists actions with their outcomes, filtered by plan, state and target', async () => {
      const ofA = (await call('GET', `/api/v1/actions?plan=${planA}`, undefined, viewer)).json() as {
        items: Array<Json & { step: number }>;
      };
      expect(ofA.items.map((a) => a.step).sort()).toEqual([0, 1, 2]);
      const failed = (await call('GET', '/api/v1/actions?state=failed')).json() as { items: Json[] };
      expect(failed.items).toEqual([
        {
          id: actionIds[2],
          planId: planA,
          step: 2,
          phase: 'add',
          targetKind: 'fleet',
          target: FLEET.metadata.name,
          command: 'device.batch',
          payload: { hosts: 12 },
          state: 'failed',
          attempts: 3,
          epoch: 7,
          jobId: null,
          error: '12 miners did not answer',
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
        },
      ]);
      const onFleet = (
        await call('GET', `/api/v1/actions?targetKind=fleet&target=${FLEET.metadata.name}`)
      ).json() as {
        items: Json[];
      };
      expect(onFleet.items.map((a) => a.id).sort()).toEqual([actionIds[2], actionIds[3]].sort());
      const none = (await call('GET', `/api/v1/actions?plan=${MISSING}`)).json() as {
        items: Json[];
        nextCursor: null;
      };
      expect(none).toEqual({ items: [], nextCursor: null });
    });

    it('pages through every action once, newest first', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r = await call('GET', `/api/v1/actions?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        const page = r.json() as { items: Array<{ id: string; planId: string }>; nextCursor: string | null };
        seen.push(...page.items.map((a) => a.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(5);
      expect(seen.sort()).toEqual([...actionIds].sort());
      // planB's actions were created after planA's.
      const first = (await call('GET', '/api/v1/actions?limit=2')).json() as {
        items: Array<{ planId: string }>;
      };
      expect(first.items.map((a) => a.planId)).toEqual([planB, planB]);
      expect((await call('GET', `/api/v1/actions?cursor=${MISSING}`)).json()).toEqual({
        items: [],
        nextCursor: null,
      });
    });

    it.each([
      ['state=done', '/state'],
      ['plan=abc', '/plan'],
      ['limit=0', '/limit'],
      ['limit=501', '/limit'],
      [`target=${'x'.repeat(254)}`, '/target'],
      ['targetKind=rack', '/targetKind'],
      ['cursor=12', '/cursor'],
    ])('refuses ?%s naming it', async (query, path) => {
      const r = await call('GET', `/api/v1/actions?${query}`);
      expect(r.statusCode).toBe(400);
      expect(errorPaths(r)).toContain(path);
    });
  });

  describe('GET /signals', () => {
    it('answers the latest reading of every source, signal and subject, with its age and staleness', async () => {
      const now = Date.now();
      const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
      const signals = new SignalRepository(db);
      await signals.append([
        {
          signal: 'gpu_usd_per_gpu_hour',
          subject: 'H100-SXM-80GB',
          value: 2.1,
          unit: 'USD/GPU/h',
          source: 'vast.ai',
          observedAt: at(30),
          fetchedAt: at(30),
        },
        {
          signal: 'gpu_usd_per_gpu_hour',
          subject: 'H100-SXM-80GB',
          value: 2.2,
          unit: 'USD/GPU/h',
          source: 'vast.ai',
          observedAt: at(10),
          fetchedAt: at(10),
        },
        {
          signal: 'gpu_usd_per_gpu_hour',
          subject: 'H200-SXM-141GB',
          value: 3.1,
          unit: 'USD/GPU/h',
          source: 'vast.ai',
          observedAt: at(10),
          fetchedAt: at(10),
        },
        {
          signal: 'difficulty',
          value: 1.2e14,
          unit: '1',
          source: 'mempool.space',
          observedAt: at(600),
          fetchedAt: at(5),
          status: 'rejected',
          reason: 'outside the band',
        },
        // A reading from the future (a later point of a curve) is not the latest yet.
        {
          signal: 'energy_usd_per_mwh',
          value: 99,
          unit: 'USD/MWh',
          source: 'ercot-rt',
          observedAt: new Date(now + 3_600_000),
          fetchedAt: at(0),
        },
      ]);
      const r = await call('GET', '/api/v1/signals', undefined, viewer);
      expect(r.statusCode).toBe(200);
      const body = r.json() as { at: string; items: Array<Json> };
      const key = (x: Json) =>
        `${x.signal as string}|${(x.subject as string | null) ?? ''}|${x.source as string}`;
      const items = Object.fromEntries(body.items.map((x) => [key(x), x]));
      expect(items['gpu_usd_per_gpu_hour|H100-SXM-80GB|vast.ai']).toMatchObject({
        value: 2.2,
        stale: false,
        staleAfterSeconds: 6 * 3600,
      });
      expect(items['gpu_usd_per_gpu_hour|H200-SXM-141GB|vast.ai']).toMatchObject({
        value: 3.1,
        subject: 'H200-SXM-141GB',
      });
      expect(items['difficulty||mempool.space']).toMatchObject({
        status: 'rejected',
        stale: true,
        validUntil: null,
      });
      expect(items['difficulty||mempool.space']!.ageSeconds).toBeGreaterThanOrEqual(600 * 60 - 1);
      expect(items['energy_usd_per_mwh||ercot-rt']).toMatchObject({
        value: 31.5,
        validUntil: expect.any(String),
      });
      expect(items['btc_usd||coingecko']).toMatchObject({ value: 64_000, stale: true });
      expect(items['btc_usd||mempool.space']).toMatchObject({ value: 63_900 });

      const gpu = (await call('GET', '/api/v1/signals?signal=gpu_usd_per_gpu_hour')).json() as {
        items: Json[];
      };
      expect(gpu.items.map((x) => x.subject)).toEqual(['H100-SXM-80GB', 'H200-SXM-141GB']);
      const one = (await call('GET', '/api/v1/signals?source=coingecko')).json() as { items: Json[] };
      expect(one.items.map((x) => x.signal)).toEqual(['btc_usd']);
      const recent = (await call('GET', '/api/v1/signals?sinceHours=1')).json() as { items: Json[] };
      expect(recent.items.map(key)).not.toContain('difficulty||mempool.space');
      for (const q of ['signal=oil', 'sinceHours=0', 'sinceHours=5000', `source=${'s'.repeat(201)}`]) {
        const bad = await call('GET', `/api/v1/signals?${q}`);
        expect(bad.statusCode).toBe(400);
        expect(errorPaths(bad)).toContain(`/${q.split('=')[0]!}`);
      }
    });
  });
});

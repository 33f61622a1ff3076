// Grid dispatches on PostgreSQL and PGlite: caps resolved at creation, the planner's view of the
// active ones, state changes, and the performance record under concurrent writers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  addPerformanceSample,
  DispatchRepository,
  emptyPerformance,
  queryRows,
  type DispatchPerformance,
} from '@switchyard/db';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';

const T0 = new Date('2026-07-01T17:00:00Z');
const min = (n: number) => new Date(T0.getTime() + n * 60_000);

describe('addPerformanceSample', () => {
  it('summarises samples against the cap and integrates the energy above it', () => {
    let p = emptyPerformance(100);
    p = addPerformanceSample(p, { at: min(0), siteKw: 160 });
    p = addPerformanceSample(p, { at: min(30), siteKw: 100 });
    p = addPerformanceSample(p, { at: min(60), siteKw: 40 });
    expect(p.totalSamples).toBe(3);
    expect(p.compliantSamples).toBe(2);
    expect(p.compliance).toBeCloseTo(2 / 3);
    expect(p.maxKw).toBe(160);
    expect(p.meanKw).toBeCloseTo(100);
    expect(p.firstCompliantAt).toBe(min(30).toISOString());
    // 60 kW over the cap held for half an hour.
    expect(p.energyOverCapKwh).toBeCloseTo(30);
    expect(p.samples).toEqual([
      { at: min(0).toISOString(), kw: 160 },
      { at: min(30).toISOString(), kw: 100 },
      { at: min(60).toISOString(), kw: 40 },
    ]);
    expect(p.lastSample).toEqual({ at: min(60).toISOString(), kw: 40 });
  });

  it('counts a late sample without integrating it, and files it in time order', () => {
    let p = emptyPerformance(100);
    p = addPerformanceSample(p, { at: min(0), siteKw: 200 });
    p = addPerformanceSample(p, { at: min(60), siteKw: 90 });
    p = addPerformanceSample(p, { at: min(30), siteKw: 50 });
    expect(p.totalSamples).toBe(3);
    expect(p.energyOverCapKwh).toBeCloseTo(100);
    expect(p.firstCompliantAt).toBe(min(30).toISOString());
    expect(p.samples.map((s) => s.kw)).toEqual([200, 50, 90]);
    expect(p.lastSample?.kw).toBe(90);
  });

  it('keeps at most the bound, thinned evenly, while the statistics count every sample', () => {
    let p: DispatchPerformance = emptyPerformance(10);
    for (let i = 0; i < 1000; i++) p = addPerformanceSample(p, { at: min(i), siteKw: i % 20 }, 100);
    expect(p.totalSamples).toBe(1000);
    expect(p.samples.length).toBeLessThanOrEqual(100);
    expect(p.samples.length).toBeGreaterThanOrEqual(50);
    // Evenly spaced: every sampleStride-th sample, from the first.
    const gaps = new Set(p.samples.slice(1).map((s, i) => Date.parse(s.at) - Date.parse(p.samples[i]!.at)));
    expect([...gaps]).toEqual([p.sampleStride * 60_000]);
    expect(p.samples[0]?.at).toBe(min(0).toISOString());
    expect(p.lastSample?.at).toBe(min(999).toISOString());
    expect(p.maxKw).toBe(19);
    expect(p.compliance).toBeCloseTo(11 / 20);
  });
});

describe.each(['pglite', 'pg'] as const)('DispatchRepository on %s', (driver) => {
  let m: MigratedDatabase;
  let repo: DispatchRepository;
  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
    repo = new DispatchRepository(m.handle.db);
  });
  afterAll(() => m?.cleanup());

  it('stores a cap dispatch as received and reads it back', async () => {
    const d = await repo.create({
      site: 'west-1',
      kind: 'cap',
      kw: 30_000,
      startsAt: T0,
      durationSeconds: 3600,
    });
    expect(d.state).toBe('received');
    expect(d.capKw).toBe(30_000);
    expect(d.baselineKw).toBeNull();
    expect(d.brokerId).toBeNull();
    expect(d.endsAt.toISOString()).toBe('2026-07-01T18:00:00.000Z');
    expect(d.performance).toEqual(emptyPerformance(30_000));
    expect(await repo.get(d.id)).toEqual(d);
    expect(await repo.get('not-a-uuid')).toBeUndefined();
    expect(await repo.get('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('resolves a curtail-by against its baseline, and needs one', async () => {
    const d = await repo.create({
      site: 'west-1',
      kind: 'curtail-by',
      kw: 12_000,
      baselineKw: 45_000,
      startsAt: T0,
      durationSeconds: 900,
    });
    expect(d.capKw).toBe(33_000);
    expect(d.baselineKw).toBe(45_000);
    expect((await repo.get(d.id))?.performance.baselineKw).toBe(45_000);
    const all = await repo.create({
      site: 'west-1',
      kind: 'curtail-by',
      kw: 50_000,
      baselineKw: 45_000,
      startsAt: T0,
      durationSeconds: 900,
    });
    expect(all.capKw).toBe(0);
    await expect(
      repo.create({ site: 'west-1', kind: 'curtail-by', kw: 1, startsAt: T0, durationSeconds: 60 }),
    ).rejects.toThrow(/baselineKw/);
    await expect(
      repo.create({ site: 'west-1', kind: 'cap', kw: Number.NaN, startsAt: T0, durationSeconds: 60 }),
    ).rejects.toThrow(/kw/);
    await expect(
      repo.create({ site: 'west-1', kind: 'cap', kw: 1, startsAt: T0, durationSeconds: 0 }),
    ).rejects.toThrow(/durationSeconds/);
  });

  it("lists the planner's active dispatches, with a horizon for the ones about to start", async () => {
    const site = `active-${driver}`;
    const now = min(0);
    const running = await repo.create({
      site,
      kind: 'cap',
      kw: 500,
      startsAt: min(-10),
      durationSeconds: 1800,
    });
    const soon = await repo.create({ site, kind: 'cap', kw: 400, startsAt: min(5), durationSeconds: 600 });
    await repo.create({ site, kind: 'cap', kw: 300, startsAt: min(-60), durationSeconds: 600 }); // over
    const cancelled = await repo.create({
      site,
      kind: 'cap',
      kw: 200,
      startsAt: min(-1),
      durationSeconds: 600,
    });
    await repo.cancel(cancelled.id);
    await repo.create({ site: 'other', kind: 'cap', kw: 100, startsAt: min(-1), durationSeconds: 600 });

    expect(await repo.active(site, now)).toEqual([
      { id: running.id, site, capKw: 500, startsAt: min(-10).getTime(), endsAt: min(20).getTime() },
    ]);
    expect((await repo.active(site, now, { horizonMs: 10 * 60_000 })).map((d) => d.id)).toEqual([
      running.id,
      soon.id,
    ]);
    // The window is half open: a dispatch no longer binds at its end.
    expect(await repo.active(site, min(20))).toEqual([]);
    expect((await repo.list({ site, activeAt: now })).map((d) => d.id)).toEqual([running.id]);
    const listed = await repo.list({ site });
    expect(listed).toHaveLength(4);
    expect(listed.map((d) => d.receivedAt.getTime())).toEqual(
      listed.map((d) => d.receivedAt.getTime()).sort((a, b) => b - a),
    );
    expect(await repo.list({ site, limit: 1 })).toHaveLength(1);
    const last = listed[listed.length - 1]!;
    expect(await repo.list({ site, before: last.receivedAt })).toEqual([]);
  });

  it('pages through every dispatch once, newest first, even dispatches received at the same instant', async () => {
    const site = 'paging-site';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await repo.create({ site, kind: 'cap', kw: 100 + i, startsAt: T0, durationSeconds: 60 })).id);
    await queryRows(
      m.handle.db,
      `update grid_dispatches set received_at = '2026-07-01T17:00:00.123456Z' where id in ('${ids[1]}', '${ids[2]}', '${ids[3]}')`,
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await repo.page({ site, limit: 2, ...(cursor !== undefined && { cursor }) });
      seen.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect((await repo.list({ site, limit: 500 })).map((d) => d.id)).toEqual(seen);
    expect(await repo.page({ site, cursor: '00000000-0000-4000-8000-000000000000' })).toEqual({
      items: [],
      nextCursor: null,
    });
  });

  it('moves through its states and never leaves a terminal one', async () => {
    const d = await repo.create({ site: 'west-1', kind: 'cap', kw: 1000, startsAt: T0, durationSeconds: 60 });
    const acked = await repo.acknowledge(d.id, 950);
    expect(acked?.state).toBe('acknowledged');
    expect(acked?.expectedKw).toBe(950);
    expect(acked?.acknowledgedAt).toBeInstanceOf(Date);
    expect((await repo.setState(d.id, 'active'))?.state).toBe('active');
    const again = await repo.acknowledge(d.id, 900);
    expect(again?.state).toBe('active');
    expect(again?.expectedKw).toBe(900);
    expect(again?.acknowledgedAt).toEqual(acked?.acknowledgedAt);
    expect((await repo.finish(d.id))?.state).toBe('completed');
    expect((await repo.cancel(d.id))?.state).toBe('completed');
    expect((await repo.setState(d.id, 'active'))?.state).toBe('completed');
    expect(await repo.cancel('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    await expect(repo.setState(d.id, 'paused' as never)).rejects.toThrow(/unknown dispatch state/);
  });

  it('records performance from concurrent writers without losing a sample', async () => {
    const d = await repo.create({
      site: 'west-1',
      kind: 'cap',
      kw: 100,
      startsAt: T0,
      durationSeconds: 3600,
    });
    const kws = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 150 : 80));
    const results = await Promise.all(
      kws.map((kw, i) => repo.recordPerformance(d.id, { at: new Date(T0.getTime() + i * 5000), siteKw: kw })),
    );
    expect(results.every((r) => r !== undefined)).toBe(true);
    const p = (await repo.get(d.id))!.performance;
    expect(p.totalSamples).toBe(40);
    expect(p.compliantSamples).toBe(30);
    expect(p.compliance).toBeCloseTo(0.75);
    expect(p.maxKw).toBe(150);
    expect(p.meanKw).toBeCloseTo(97.5);
    expect(p.samples).toHaveLength(40);
    expect(p.samples.map((s) => s.at)).toEqual([...p.samples.map((s) => s.at)].sort());
    expect(p.capKw).toBe(100);
    // The stored document is the JSON of the type, in the column.
    const [raw] = await queryRows<{ n: number }>(
      m.handle.db,
      `select (performance->>'totalSamples')::int as n from grid_dispatches where id = '${d.id}'`,
    );
    expect(raw?.n).toBe(40);

    await repo.finish(d.id);
    expect(await repo.recordPerformance(d.id, { at: T0, siteKw: 1 })).toBeUndefined();
    expect((await repo.get(d.id))!.performance.totalSamples).toBe(40);
    await expect(repo.recordPerformance(d.id, { at: T0, siteKw: Number.POSITIVE_INFINITY })).rejects.toThrow(
      /siteKw/,
    );
  });

  it('bounds the stored samples', async () => {
    const small = new DispatchRepository(m.handle.db, { maxSamples: 8 });
    const d = await small.create({
      site: 'west-1',
      kind: 'cap',
      kw: 10,
      startsAt: T0,
      durationSeconds: 3600,
    });
    for (let i = 0; i < 50; i++) await small.recordPerformance(d.id, { at: min(i), siteKw: 5 });
    const p = (await small.get(d.id))!.performance;
    expect(p.totalSamples).toBe(50);
    expect(p.samples.length).toBeLessThanOrEqual(8);
    expect(p.compliance).toBe(1);
    expect(p.firstCompliantAt).toBe(min(0).toISOString());
    expect(p.lastSample?.at).toBe(min(49).toISOString());
  });
});

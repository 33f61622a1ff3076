// Plans round-trip through PostgreSQL and PGlite with every change and its reason.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseFarmYaml, planGreedy, type Plan } from '@switchyard/domain';
import { planInput } from '@switchyard/domain/testing';
import { PlanRepository, queryRows } from '@switchyard/db';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;

describe.each(['pglite', 'pg'] as const)('PlanRepository on %s', (driver) => {
  let m: MigratedDatabase;
  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
  });
  afterAll(() => m?.cleanup());

  it('stores a plan with every change and reason, and reads it back unchanged', async () => {
    const plan: Plan = planGreedy(planInput(farm).energy(250).build());
    expect(plan.changes.length).toBeGreaterThan(0);
    const repo = new PlanRepository<Plan>(m.handle.db);
    const id = await repo.save({ plan, epoch: 7, inputs: { energyUsdPerMwh: 250 } });
    const back = await repo.get(id);
    expect(back?.epoch).toBe(7);
    expect(back?.solver).toBe('greedy');
    expect(back?.status).toBe('planned');
    expect(back?.plan).toEqual(JSON.parse(JSON.stringify(plan)));
    expect(back?.changes.map((c) => c.reason)).toEqual(plan.changes.map((c) => c.reason));
    expect((await repo.latest(plan.site))?.id).toBe(id);
    await repo.setStatus(id, 'dispatched');
    expect((await repo.get(id))?.status).toBe('dispatched');
    expect((await repo.list(plan.site)).items.map((p) => p.id)).toContain(id);
  });

  it('pages through every plan of a site once, newest first, even plans stored at the same instant', async () => {
    const repo = new PlanRepository<Plan>(m.handle.db);
    const plan: Plan = planGreedy(planInput(farm).energy(300).build());
    const site = 'paging-site';
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await repo.save({ plan: { ...plan, site }, epoch: i, inputs: {} }));
    // Three of them share one creation time, to the microsecond.
    await queryRows(
      m.handle.db,
      `update plans set created_at = '2026-07-01T17:00:00.123456Z' where id in ('${ids[2]}', '${ids[3]}', '${ids[4]}')`,
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await repo.list(site, { limit: 2, ...(cursor !== undefined && { cursor }) });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined && pages < 10);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(ids));
    const all = (await repo.list(site, { limit: 500 })).items;
    expect(all.map((p) => p.id)).toEqual(seen);
    const times = all.map((p) => p.createdAt.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // An unknown or malformed cursor reads as the end of the list.
    expect(await repo.list(site, { cursor: '00000000-0000-4000-8000-000000000000' })).toEqual({
      items: [],
      nextCursor: null,
    });
    expect(await repo.list(site, { cursor: 'nope' })).toEqual({ items: [], nextCursor: null });
  });

  it('writes nothing when a change cannot be stored', async () => {
    const repo = new PlanRepository(m.handle.db);
    const before = await queryRows<{ n: number }>(m.handle.db, 'select count(*)::int as n from plans');
    const bad = {
      site: 'west-1',
      at: Date.now(),
      solver: 'greedy' as const,
      economics: {},
      changes: [{ targetKind: 'rack' as never, target: 'x', change: 'y', reason: 'z' }],
    };
    await expect(repo.save({ plan: bad, epoch: 1, inputs: {} })).rejects.toThrow();
    const after = await queryRows<{ n: number }>(m.handle.db, 'select count(*)::int as n from plans');
    expect(after[0]?.n).toBe(before[0]?.n);
  });
});

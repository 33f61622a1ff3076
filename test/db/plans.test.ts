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
    expect((await repo.list(plan.site)).map((p) => p.id)).toContain(id);
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

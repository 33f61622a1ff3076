// Integration tests for the HiGHS adapter: real HiGHS in a real worker thread.
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { checkPlan, plan, type MipModel } from '@switchyard/domain';
import { farmBuilder, planInput, syntheticPlanInput } from '@switchyard/domain/testing';
import { HighsSolver, SolverClosedError } from './highs-solver.ts';

/** max 30 chairs + 50 tables, carpentry c + 2t ≤ 40, finishing 2c + t ≤ 50, integers → 1100. */
const workshop: MipModel = {
  sense: 'maximize',
  offset: 0,
  colNames: ['chairs', 'tables'],
  colCost: [30, 50],
  colLower: [0, 0],
  colUpper: [Infinity, Infinity],
  integer: [true, true],
  rowNames: ['carpentry', 'finishing'],
  rowLower: [-Infinity, -Infinity],
  rowUpper: [40, 50],
  rowStarts: [0, 2, 4],
  rowIndices: [0, 1, 0, 1],
  rowValues: [1, 2, 2, 1],
};

const solvers: HighsSolver[] = [];
const make = (o: ConstructorParameters<typeof HighsSolver>[0] = {}) => {
  const s = new HighsSolver(o);
  solvers.push(s);
  return s;
};
afterAll(async () => {
  await Promise.all(solvers.map((s) => s.close()));
});

describe('HighsSolver', () => {
  it('solves a MIP in a worker thread', async () => {
    const s = make();
    const r = await s.solve(workshop, { timeLimitMs: 5000 });
    expect(r.status).toBe('optimal');
    expect(r.objective).toBeCloseTo(1100, 6);
    expect(r.values).toEqual([20, 10]);
  });

  it('runs one solve at a time and answers each in order', async () => {
    const s = make();
    const rs = await Promise.all(
      [1, 2, 3].map((k) => s.solve({ ...workshop, colCost: [30 * k, 50 * k] }, { timeLimitMs: 5000 })),
    );
    expect(rs.map((r) => Math.round(r.objective ?? 0))).toEqual([1100, 2200, 3300]);
    expect(s.stats.solves).toBe(3);
  });

  it('plans the example-sized farm with the MILP', async () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 2000 })
      .node('pdu-1', { limitKw: 300 })
      .fleet('a', { model: 'S19j Pro', count: 60, feed: 'pdu-1' })
      .fleet('b', { model: 'S21', count: 60, feed: 'pdu-1' })
      .pool('h100', { nodes: 4, feed: 'root' })
      .build();
    const input = planInput(farm)
      .energy(55)
      .order({ id: 'o1', gpuCount: 16 })
      .order({ id: 'o2', gpuCount: 8, tier: 'reserved' })
      .build();
    const p = await plan(input, make());
    expect(p.solver).toBe('milp');
    expect(checkPlan(input, p)).toEqual([]);
  });

  it('respects a time limit on a big model and the plan falls back to greedy', async () => {
    const s = make();
    await s.start();
    const input = syntheticPlanInput({ miners: 100_000, seed: 7 });
    const t0 = performance.now();
    const p = await plan(input, s, { timeLimitMs: 50 });
    const ms = performance.now() - t0;
    expect(p.solver).toBe('greedy');
    expect(p.fallbackReason).toMatch(/^MILP hit its 50 ms time limit/);
    expect(ms).toBeLessThan(1500);
    expect(checkPlan(input, p)).toEqual([]);
  });

  it('kills a solve that overruns its time limit on the wall clock and starts a fresh worker', async () => {
    const s = make({
      workerPath: path.join(import.meta.dirname, 'testing', 'hanging-worker.ts'),
      killGraceMs: 100,
    });
    const t0 = performance.now();
    const r = await s.solve(workshop, { timeLimitMs: 50 });
    expect(r.status).toBe('time-limit');
    expect(r.message).toMatch(/^killed after \d+ ms$/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(s.stats.kills).toBe(1);
  });

  it('recovers after a forced abort mid-solve', async () => {
    const s = make();
    await s.start();
    const big = syntheticPlanInput({ miners: 100_000, seed: 3 });
    const pending = plan(big, s, { timeLimitMs: 10_000 });
    // Abort once the model is with the worker: building it takes 100 ms or more on a busy machine,
    // and an abort before that finds nothing to abort.
    for (let i = 0; i < 2000 && s.stats.solves === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(s.stats.solves).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    await s.abortCurrent();
    const aborted = await pending;
    expect(aborted.solver).toBe('greedy');
    expect(aborted.fallbackReason).toBe('MILP solver failed: aborted');
    const r = await s.solve(workshop, { timeLimitMs: 5000 });
    expect(r.status).toBe('optimal');
    expect(s.stats.workersStarted).toBe(2);
  });

  it('replaces the HiGHS instance after an error and solves the next model', async () => {
    const s = make();
    const bad = await s.solve({ ...workshop, colCost: [Number.NaN, 50] }, { timeLimitMs: 5000 });
    expect(bad.status).toBe('error');
    expect(bad.message).toMatch(/colCost/);
    const good = await s.solve(workshop, { timeLimitMs: 5000 });
    expect(good.objective).toBeCloseTo(1100, 6);
  });

  it('closes cleanly, twice, and refuses work afterwards', async () => {
    const s = make();
    const queued = [s.solve(workshop, { timeLimitMs: 5000 }), s.solve(workshop, { timeLimitMs: 5000 })];
    const closing = s.close();
    await expect(queued[1]).rejects.toBeInstanceOf(SolverClosedError);
    await closing;
    await s.close();
    const first = await queued[0];
    expect(first?.status).toBe('error');
    await expect(s.solve(workshop, { timeLimitMs: 10 })).rejects.toBeInstanceOf(SolverClosedError);
  });
});

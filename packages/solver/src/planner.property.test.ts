// Properties of the planner with the real MILP solver over random farms: every plan passes
// checkPlan, the MILP never scores below the greedy plan, and the same input gives the same plan.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkPlan, plan, planGreedy, type Plan } from '@switchyard/domain';
import { randomPlanInput } from '@switchyard/domain/testing';
import { HighsSolver } from './highs-solver.ts';

const RUNS = Number(process.env.PLANNER_PROPERTY_RUNS ?? 150);
const seeds = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const sizes = fc.record({
  maxFleets: fc.integer({ min: 1, max: 12 }),
  maxOrders: fc.integer({ min: 0, max: 30 }),
  maxPools: fc.integer({ min: 0, max: 4 }),
});
const stable = (p: Plan) => ({ ...p, stats: { ...p.stats, solveMs: 0 } });

let solver: HighsSolver;
beforeAll(async () => {
  solver = new HighsSolver();
  await solver.start();
});
afterAll(() => solver.close());

describe('planner with the MILP', () => {
  it('every plan satisfies checkPlan and scores at least the greedy plan', async () => {
    let milp = 0;
    await fc.assert(
      fc.asyncProperty(seeds, sizes, fc.boolean(), async (seed, size, integerMinerCounts) => {
        const input = randomPlanInput(seed, size);
        // Both ways of treating miner counts: integer, and continuous rounded down then filled.
        const p = await plan(input, solver, { timeLimitMs: 5000, integerMinerCounts });
        expect(checkPlan(input, p)).toEqual([]);
        const g = planGreedy(input);
        expect(p.objective.score).toBeGreaterThanOrEqual(
          g.objective.score - 1e-6 * Math.max(1, Math.abs(g.objective.score)),
        );
        if (p.solver === 'milp') milp++;
      }),
      { numRuns: RUNS },
    );
    // The MILP, not the fallback, should produce nearly every plan.
    expect(milp).toBeGreaterThanOrEqual(Math.floor(RUNS * 0.9));
  });

  it('gives the same plan for the same input', async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const input = randomPlanInput(seed);
        const a = await plan(input, solver, { timeLimitMs: 5000 });
        const b = await plan(input, solver, { timeLimitMs: 5000 });
        expect(stable(b)).toEqual(stable(a));
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});

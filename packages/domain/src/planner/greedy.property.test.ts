// Properties of the greedy planner over random farms (random trees, fleets, pools, orders,
// partial and stale observations, signals, dispatches, previous plans, pins).
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkPlan } from './check.ts';
import { planGreedy } from './plan.ts';
import { buildView } from './view.ts';
import { greedyDecision } from './greedy.ts';
import { buildMilp } from './milp.ts';
import { scoreDecision } from './decision.ts';
import { randomPlanInput } from './testing/random-input.ts';
import { stable } from './testing/assertions.ts';
import { evaluateModel } from './testing/model-eval.ts';
import type { PlanInput } from './types.ts';

const seeds = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const RUNS = Number(process.env.PLANNER_PROPERTY_RUNS ?? 300);

describe('greedy planner properties', () => {
  it('every plan satisfies checkPlan', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const input = randomPlanInput(seed);
        const p = planGreedy(input);
        expect(checkPlan(input, p)).toEqual([]);
        expect(p.warnings.filter((w) => w.startsWith('internal check'))).toEqual([]);
        expect(p.changes.every((c) => c.reason.length > 0)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('the greedy decision is a feasible MILP start whose objective is its score', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const view = buildView(randomPlanInput(seed));
        const g = greedyDecision(view);
        const { model } = buildMilp(view, g);
        const r = evaluateModel(model, model.start ?? []);
        expect(r.broken).toEqual([]);
        const score = scoreDecision(view, g).score;
        expect(Math.abs(r.objective - score)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(score)));
      }),
      { numRuns: RUNS },
    );
  });

  it('the same input in any order gives the same plan', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const a = randomPlanInput(seed);
        const b: PlanInput = {
          ...a,
          farm: { ...a.farm, fleets: [...a.farm.fleets].reverse(), pools: [...a.farm.pools].reverse() },
          orders: [...a.orders].reverse(),
          overrides: [...(a.overrides ?? [])].reverse(),
        };
        expect(stable(planGreedy(b))).toEqual(stable(planGreedy(a)));
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});

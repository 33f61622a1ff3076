// Shared assertions for planner tests: every plan a test looks at must also pass checkPlan.
import { expect } from '@jest/globals';
import { checkPlan } from '../check.ts';
import { planGreedy } from '../plan.ts';
import type { Plan, PlanInput } from '../types.ts';

export function greedyOk(input: PlanInput): Plan {
  const plan = planGreedy(input);
  expect(checkPlan(input, plan)).toEqual([]);
  expect(plan.warnings.filter((w) => w.startsWith('internal check'))).toEqual([]);
  return plan;
}

export function changesFor(plan: Plan, target: string): string[] {
  return plan.changes.filter((c) => c.target === target).map((c) => `${c.change} — ${c.reason}`);
}

/** Plan without its timing, for equality across runs. */
export function stable(plan: Plan): Omit<Plan, 'stats'> & { stats: Omit<Plan['stats'], 'solveMs'> } {
  const { solveMs: _ms, ...stats } = plan.stats;
  return { ...plan, stats };
}

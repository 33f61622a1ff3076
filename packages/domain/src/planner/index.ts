// The planner: a pure function of a snapshot (PlanInput) to a Plan. See docs/planner.md.
export * from './types.ts';
export { plan, planGreedy, DEFAULT_TIME_LIMIT_MS, AUTO_INTEGER_STEPS, type PlanOptions } from './plan.ts';
export { checkPlan } from './check.ts';
export { PlannerInputError } from './view.ts';
export { buildView } from './view.ts';
export { buildMilp, decodeMilp, type MilpLayout, type MilpOptions } from './milp.ts';
export { mipModelToLp } from './milp-lp.ts';
export { greedyDecision } from './greedy.ts';
export { baselineDecision, scoreDecision, type Decision, type ScoreBreakdown } from './decision.ts';
export {
  DEFAULT_STALENESS,
  PENALTY,
  DEFAULT_PRICE_CAP_USD_PER_MWH,
  WORST_CASE_AMBIENT_C,
} from './planner-constants.ts';
export type { PlanView } from './view-types.ts';

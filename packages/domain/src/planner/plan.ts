// The planner's entry point. Always computes the greedy plan (fast, always feasible); with a
// MipSolver it also solves the MILP seeded with it, and uses the MILP's plan only when it solved
// to optimality, decodes inside every bound, scores at least as well as the greedy plan and
// passes checkPlan. Otherwise the greedy plan is returned with the reason.
import { buildView } from './view.ts';
import { greedyDecision, polish } from './greedy.ts';
import { buildMilp, decisionWithinBounds, decodeMilp } from './milp.ts';
import { scoreDecision, type Decision } from './decision.ts';
import { buildPlan, type BuildMeta } from './plan-builder.ts';
import { checkView } from './check.ts';
import { num } from './format.ts';
import type { MipSolution, MipSolver, Plan, PlanInput } from './types.ts';
import type { PlanView } from './view-types.ts';

export interface PlanOptions {
  /** Solver time limit; past it the greedy plan is used. Default 1000 ms. */
  timeLimitMs?: number;
  /**
   * Integer miner counts in the MILP (see MilpOptions). "auto" (default): integer while the
   * model has at most AUTO_INTEGER_STEPS fleet × profile-step counts, continuous and rounded
   * above that, where one miner is noise and branching on counts costs seconds.
   */
  integerMinerCounts?: boolean | 'auto';
  /** Monotonic milliseconds, for Plan.stats.solveMs only (default performance.now). */
  clock?: () => number;
}

export const AUTO_INTEGER_STEPS = 300;

export const DEFAULT_TIME_LIMIT_MS = 1000;

const defaultClock = () => performance.now();

function finish(view: PlanView, d: Decision, meta: BuildMeta): Plan {
  const plan = buildPlan(view, d, meta);
  // The greedy plan is feasible by construction; if the checker disagrees, say so loudly.
  if (meta.solver === 'greedy')
    for (const v of checkView(view, plan))
      plan.warnings.push(`internal check: ${v.kind} ${v.target}: ${v.message}`);
  return plan;
}

/** The greedy plan alone (synchronous). */
export function planGreedy(input: PlanInput, clock: () => number = defaultClock): Plan {
  const t0 = clock();
  const view = buildView(input);
  const d = greedyDecision(view);
  return finish(view, d, {
    solver: 'greedy',
    fallbackReason: undefined,
    solveMs: clock() - t0,
    columns: 0,
    rows: 0,
    mipGap: null,
  });
}

function failure(sol: MipSolution, timeLimitMs: number): string | null {
  switch (sol.status) {
    case 'optimal':
      return sol.values ? null : 'MILP solver returned no values';
    case 'time-limit':
      return `MILP hit its ${num(timeLimitMs)} ms time limit${sol.mipGap !== null && Number.isFinite(sol.mipGap) ? ` (gap ${num(sol.mipGap * 100, 2)}%)` : ''}`;
    case 'infeasible':
      return 'MILP solver reported the model infeasible';
    case 'unbounded':
      return 'MILP solver reported the model unbounded';
    default:
      return `MILP solver failed: ${sol.message ?? 'unknown error'}`;
  }
}

export async function plan(input: PlanInput, solver?: MipSolver, opts: PlanOptions = {}): Promise<Plan> {
  const clock = opts.clock ?? defaultClock;
  const t0 = clock();
  const view = buildView(input);
  const greedy = greedyDecision(view);
  const timeLimitMs = opts.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  const fallback = (reason: string, columns = 0, rows = 0) =>
    finish(view, greedy, {
      solver: 'greedy',
      fallbackReason: reason,
      solveMs: clock() - t0,
      columns,
      rows,
      mipGap: null,
    });
  if (!solver) return fallback('no MILP solver configured');

  const steps = view.fleets.reduce((a, f) => a + f.K, 0);
  const mode = opts.integerMinerCounts ?? 'auto';
  const integerMinerCounts = mode === 'auto' ? steps <= AUTO_INTEGER_STEPS : mode;
  const { model, layout } = buildMilp(view, greedy, { integerMinerCounts });
  const size = [model.colNames.length, model.rowNames.length] as const;
  let sol: MipSolution;
  try {
    sol = await solver.solve(model, { timeLimitMs });
  } catch (e) {
    return fallback(`MILP solver failed: ${(e as Error).message}`, ...size);
  }
  const failed = failure(sol, timeLimitMs);
  if (failed) return fallback(failed, ...size);

  const d = polish(view, decodeMilp(view, layout, sol));
  const outside = decisionWithinBounds(view, d);
  if (outside) return fallback(`MILP solution rejected: ${outside}`, ...size);
  const milpScore = scoreDecision(view, d).score;
  const greedyScore = scoreDecision(view, greedy).score;
  if (milpScore < greedyScore - 1e-6 * Math.max(1, Math.abs(greedyScore)))
    return fallback(
      `MILP solution scored ${num(milpScore, 2)} below the greedy ${num(greedyScore, 2)}`,
      ...size,
    );
  const result = buildPlan(view, d, {
    solver: 'milp',
    solveMs: clock() - t0,
    columns: size[0],
    rows: size[1],
    mipGap: sol.mipGap,
  });
  const violations = checkView(view, result);
  if (violations.length > 0) {
    const v = violations[0];
    return fallback(
      `MILP plan failed the check (${violations.length}): ${v?.kind} ${v?.target}: ${v?.message}`,
      ...size,
    );
  }
  return result;
}

// MipModel (the domain's structured model) → HiGHS's ModelData, and a HiGHS run → MipSolution.
// Runs inside the worker; kept apart so it can be unit-tested in-process too.
import type { Highs, ModelData } from 'highs';
import type { MipModel, MipSolution, MipStatus } from '@switchyard/domain';

export interface SolveOptions {
  timeLimitMs: number;
  /** Relative MIP gap at which HiGHS stops (default 1e-4). */
  mipRelGap?: number | undefined;
}

export function toModelData(highs: Highs, m: MipModel): ModelData {
  const numCols = m.colNames.length;
  const numRows = m.rowNames.length;
  return {
    numCols,
    numRows,
    sense: highs.constants.objectiveSense.maximize,
    offset: m.offset,
    colCost: Float64Array.from(m.colCost),
    colLower: Float64Array.from(m.colLower),
    colUpper: Float64Array.from(m.colUpper),
    rowLower: Float64Array.from(m.rowLower),
    rowUpper: Float64Array.from(m.rowUpper),
    matrix: {
      format: 'csr',
      numRows,
      numCols,
      starts: Int32Array.from(m.rowStarts),
      indices: Int32Array.from(m.rowIndices),
      values: Float64Array.from(m.rowValues),
    },
    integrality: Int32Array.from(m.integer, (i) =>
      i ? highs.constants.variableType.integer : highs.constants.variableType.continuous,
    ),
  };
}

/**
 * Measured on the planner's models (bench/planner.ts, 100k miners, 1,000 orders): the root
 * feasibility-jump and reduced-cost heuristics and presolve at restarts cost ~120 ms and never
 * improved on the greedy start, which the planner always supplies. Halves the solve time.
 */
const PLANNER_TUNING = {
  mip_heuristic_run_feasibility_jump: false,
  mip_heuristic_run_root_reduced_cost: false,
  mip_root_presolve_only: true,
} as const;

function statusOf(highs: Highs, code: number): MipStatus {
  const s = highs.constants.modelStatus;
  if (code === s.optimal) return 'optimal';
  if (code === s.timeLimit || code === s.interrupted || code === s.iterationLimit || code === s.solutionLimit)
    return 'time-limit';
  if (code === s.infeasible) return 'infeasible';
  if (code === s.unbounded || code === s.unboundedOrInfeasible) return 'unbounded';
  return 'error';
}

/** One solve on a fresh native model (disposed before returning). Throws on native errors. */
export function solveWith(highs: Highs, m: MipModel, opts: SolveOptions): MipSolution {
  const t0 = performance.now();
  const model = highs.createModel(toModelData(highs, m));
  try {
    model.options.set({
      output_flag: false,
      time_limit: Math.max(0.001, opts.timeLimitMs / 1000),
      mip_rel_gap: opts.mipRelGap ?? 1e-4,
      random_seed: 0,
      ...PLANNER_TUNING,
    });
    if (m.start && m.start.length === m.colNames.length)
      model.setSolution({ colValue: Float64Array.from(m.start) });
    const run = model.run();
    const status = statusOf(highs, run.modelStatus);
    const feasible =
      Number(model.info.get('primal_solution_status')) === highs.constants.solutionStatus.feasible;
    const gap = m.integer.some(Boolean) ? Number(model.info.get('mip_gap')) : 0;
    return {
      status,
      objective: feasible ? model.getObjectiveValue() : null,
      values: feasible ? Array.from(model.getSolution().colValue) : null,
      mipGap: Number.isFinite(gap) ? gap : null,
      solveMs: performance.now() - t0,
      message: status === 'error' ? `HiGHS model status ${run.modelStatus}` : undefined,
    };
  } finally {
    model.dispose();
  }
}

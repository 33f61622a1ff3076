// The HiGHS adapter for the planner's MipSolver port.
export { HighsSolver, SolverClosedError, highsWorkerPath, type HighsSolverOptions } from './highs-solver.ts';
export { solveWith, toModelData, type SolveOptions } from './highs-model.ts';

// The plan.phase handler: runs once every child of the phase has finished (BullMQ flows) and
// reports what happened, so the controller can decide on the next phase from one record.
import type { JobHandler } from './worker-harness.ts';

export interface PhaseSummary {
  planId: string;
  stepId: string;
  phase: 'shed' | 'confirm' | 'add';
  /** Children that completed (dropped ones included). */
  completed: number;
  /** Children a worker dropped because their epoch was stale. */
  dropped: number;
  /** Children that failed for good, by job key, with the reason. */
  failed: Record<string, string>;
  status: 'done' | 'partial';
}

export function createPlanPhaseHandler(): JobHandler<'plan.phase'> {
  return async (p, ctx) => {
    const values = await ctx.job.getChildrenValues<unknown>();
    const failed = await ctx.job.getIgnoredChildrenFailures();
    const dropped = Object.values(values).filter(
      (v) => typeof v === 'object' && v !== null && (v as { status?: unknown }).status === 'dropped',
    ).length;
    return {
      planId: p.planId,
      stepId: p.stepId,
      phase: p.phase,
      completed: Object.keys(values).length,
      dropped,
      failed,
      status: Object.keys(failed).length === 0 && dropped === 0 ? 'done' : 'partial',
    } satisfies PhaseSummary;
  };
}

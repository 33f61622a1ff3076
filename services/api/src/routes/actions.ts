// The actions that carry plans out, with their outcomes (read-only): newest first, filtered by
// plan, state and target, a page at a time.
import type { FastifyPluginAsync } from 'fastify';
import { PlanRepository, type ActionRecord } from '@switchyard/db';
import { useTypeBox } from '../schemas/common.ts';
import { listActionsSchema } from '../schemas/operator.ts';
import type { OperatorRouteOptions } from './operator-support.ts';

export function actionJson(a: ActionRecord) {
  return {
    id: a.id,
    planId: a.planId,
    step: a.step,
    phase: a.phase,
    targetKind: a.targetKind,
    target: a.target,
    command: a.command,
    payload: a.payload,
    state: a.state,
    attempts: a.attempts,
    epoch: a.epoch,
    jobId: a.jobId,
    error: a.error,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

export const actionRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const plans = new PlanRepository(opts.db);

  app.get('/actions', { schema: listActionsSchema }, async (req) => {
    const q = req.query;
    const page = await plans.listActions({
      ...(q.plan !== undefined && { planId: q.plan }),
      ...(q.state !== undefined && { state: q.state }),
      ...(q.targetKind !== undefined && { targetKind: q.targetKind }),
      ...(q.target !== undefined && { target: q.target }),
      limit: q.limit ?? 50,
      ...(q.cursor !== undefined && { cursor: q.cursor }),
    });
    return { items: page.items.map(actionJson), nextCursor: page.nextCursor };
  });
};

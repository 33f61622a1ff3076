// The operator routes (docs/operator-api.md): the farm at a glance, the allocation policy,
// overrides, actions, signal readings, and the price curves energy brokers push. access.ts says
// who may call each.
import type { FastifyPluginAsync } from 'fastify';
import { actionRoutes } from './actions.ts';
import type { OperatorRouteOptions } from './operator-support.ts';
import { overrideRoutes } from './overrides.ts';
import { policyRoutes } from './policy.ts';
import { priceRoutes } from './prices.ts';
import { signalRoutes } from './signals.ts';
import { statusRoutes } from './status.ts';

export type { OperatorRouteOptions } from './operator-support.ts';

export const operatorRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (app, opts) => {
  // Not `opts` itself: it carries this plugin's prefix, which the routes below already have.
  const o: OperatorRouteOptions = {
    db: opts.db,
    getFarm: opts.getFarm,
    publishEvent: opts.publishEvent,
    now: opts.now,
  };
  for (const routes of [statusRoutes, policyRoutes, overrideRoutes, actionRoutes, signalRoutes, priceRoutes])
    await app.register(routes, o);
};

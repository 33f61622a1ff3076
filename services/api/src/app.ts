// The API as a fastify plugin, apart from the server that listens (server.ts), so tests can
// build it and call it with app.inject against real dependencies.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@switchyard/telemetry';
import { errorHandler, notFoundHandler } from './problem.ts';
import { healthRoutes, type ReadinessCheck } from './routes/health.ts';
import { farmRoutes, type FarmView } from './routes/farm.ts';
import { planRoutes } from './routes/plans.ts';
import { dispatchRoutes } from './routes/dispatches.ts';
import { keyRoutes } from './routes/keys.ts';
import { registerAuth } from './auth.ts';
import { registerOpenApi } from './openapi.ts';
import type { Database } from '@switchyard/db';
import type { ControlEvent } from '@switchyard/queue';

export interface AppDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  getFarm: () => FarmView;
  /**
   * The database, for the plan, dispatch and key routes and for checking API keys; omitted in
   * tests that do not need them (every route but the public ones then answers 401).
   */
  db?: Database;
  /**
   * Publishes a control event to the controller (Redis pub/sub); without it the controller
   * sees new and cancelled dispatches on its next interval.
   */
  publishEvent?: (event: ControlEvent) => Promise<unknown>;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the app's generic logger type default.
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Before any route: every route is checked against access.ts, and refused if it has no rule.
  const auth = registerAuth(app, { db: deps.db });
  // Before any route too: the OpenAPI document lists only the routes registered after it.
  await registerOpenApi(app);
  await app.register(healthRoutes, { checks: deps.readiness });
  await app.register(farmRoutes, { prefix: '/api/v1', getFarm: deps.getFarm });
  if (deps.db) {
    const defaultSite = deps.getFarm().farm.sites[0]?.metadata.name ?? 'site';
    await app.register(planRoutes, { prefix: '/api/v1', db: deps.db, defaultSite });
    await app.register(dispatchRoutes, {
      prefix: '/api/v1',
      db: deps.db,
      getFarm: deps.getFarm,
      publishEvent: deps.publishEvent,
    });
    await app.register(keyRoutes, { prefix: '/api/v1', db: deps.db, forgetKey: (p) => auth.forget(p) });
  }
  return app;
}

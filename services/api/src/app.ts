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
import { operatorRoutes } from './routes/operator.ts';
import { AdminSessions, registerAdmin, type AdminDeps } from './bull-board.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { orderRoutes } from './routes/orders.ts';
import { registerAuth } from './auth.ts';
import { registerOpenApi } from './openapi.ts';
import { HARDENED_FASTIFY_OPTIONS, registerHardening, type HardeningOptions } from './hardening.ts';
import { apiLogger } from './redact.ts';
import { registerMetrics } from './metrics.ts';
import { createMetricsRegistry, type Registry } from '@switchyard/telemetry';
import type { Database } from '@switchyard/db';
import type { ControlEvent } from '@switchyard/queue';
import type { BrokerEventSink, WebhookOutbox, WebhookTargetPolicy } from '@switchyard/brokers';

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
  /**
   * Rate limits (Redis) and load shedding (hardening.ts); without them, none (tests). The other
   * defences are always on.
   */
  hardening?: HardeningOptions;
  /**
   * Records and enqueues webhook deliveries (createWebhookOutbox); without it the webhook routes
   * still register, list and delete, and test pings answer 503.
   */
  webhookOutbox?: WebhookOutbox;
  /** Which URLs webhooks may have (docs/webhooks.md); default: https to public hosts only. */
  webhookTargets?: WebhookTargetPolicy;
  /**
   * Told of every order change the order routes make, after it commits (e.g. the webhook
   * outbox); without it brokers are not told of them.
   */
  brokerEvents?: BrokerEventSink;
  /**
   * BullMQ's queues for bull-board at /admin/queues (operators only), and the Redis that keeps
   * the admin sessions (bull-board.ts); needs db. Without it there is no /admin.
   */
  admin?: AdminDeps;
  /**
   * The process's metrics registry, served at /metrics with the API's own metrics added
   * (metrics.ts); the queues' depths are read from `admin`'s queues. Default: a registry of the
   * API's metrics alone.
   */
  metrics?: Registry;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the app's generic logger type default.
    // The API's child logger redacts secrets from what fastify and the routes log (redact.ts).
    loggerInstance: apiLogger(deps.logger) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    ...HARDENED_FASTIFY_OPTIONS,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // First: load shedding and rate limits run before a key is checked, and apply to every route.
  await registerHardening(app, deps.hardening);
  // Before any route: every route is checked against access.ts, and refused if it has no rule.
  const adminSessions = deps.admin && deps.db ? new AdminSessions(deps.admin, deps.db) : undefined;
  const auth = registerAuth(app, { db: deps.db, sessions: adminSessions });
  // Before any route too: the OpenAPI document lists only the routes registered after it.
  await registerOpenApi(app);
  registerMetrics(app, {
    registry: deps.metrics ?? createMetricsRegistry({ defaultMetrics: false }),
    db: deps.db,
    queues: deps.admin?.queues,
  });
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
    await app.register(operatorRoutes, {
      prefix: '/api/v1',
      db: deps.db,
      getFarm: deps.getFarm,
      publishEvent: deps.publishEvent,
    });
    if (deps.admin && adminSessions)
      await registerAdmin(app, { db: deps.db, deps: deps.admin, sessions: adminSessions, verifier: auth });
    await app.register(orderRoutes, {
      prefix: '/api/v1',
      db: deps.db,
      getFarm: deps.getFarm,
      brokerEvents: deps.brokerEvents,
    });
    await app.register(webhookRoutes, {
      prefix: '/api/v1',
      db: deps.db,
      outbox: deps.webhookOutbox,
      targets: deps.webhookTargets,
    });
  }
  return app;
}

// The API's metrics and the /metrics route. Request durations by method, route pattern and
// status (never the raw URL, so ids do not become series); orders by state and tier and order
// transitions, counted in the database at scrape time; BullMQ's queue depths by queue and state.
// /metrics is public like the probes: it is meant for the cluster's Prometheus, and the chart's
// NetworkPolicy decides who reaches it.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OrderRepository, ORDER_STATES, ORDER_TIERS, type Database } from '@switchyard/db';
import { DURATION_BUCKETS_S, metricsIn, type Registry } from '@switchyard/telemetry';

/** What the queue-depth gauge reads of a BullMQ queue. */
export interface CountedQueue {
  name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

export interface ApiMetricsOptions {
  registry: Registry;
  db?: Database | undefined;
  queues?: readonly CountedQueue[] | undefined;
}

/** The job states the queue-depth gauge reports. */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
] as const;

const metricsSchema = {
  operationId: 'getMetrics',
  summary: 'Prometheus metrics of this process',
  description:
    'The text exposition format (version 0.0.4). Every metric is listed with its labels in docs/metrics.md.',
  tags: ['health'],
  security: [],
  produces: ['text/plain'],
  response: { 200: Type.String({ description: 'Metrics in the Prometheus text format.' }) },
};

export function registerMetrics(app: FastifyInstance, o: ApiMetricsOptions): void {
  const m = metricsIn(o.registry);
  const duration = m.histogram({
    name: 'switchyard_http_request_duration_seconds',
    help: 'API request duration by method, route pattern (unmatched for unknown paths) and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: DURATION_BUCKETS_S,
  });
  const orders = o.db ? new OrderRepository(o.db) : undefined;
  if (orders) {
    m.gauge({
      name: 'switchyard_orders',
      help: 'Inference orders by state and tier, over every broker',
      labelNames: ['state', 'tier'],
      async collect() {
        const rows = await orders.countByStateAndTier();
        this.reset();
        for (const state of ORDER_STATES) for (const tier of ORDER_TIERS) this.set({ state, tier }, 0);
        for (const r of rows) this.set({ state: r.state, tier: r.tier }, r.count);
      },
    });
    m.counter({
      name: 'switchyard_order_transitions_total',
      help: 'Order state changes by the state entered (preempting counts preemption notices), over every broker',
      labelNames: ['to'],
      async collect() {
        const rows = await orders.countTransitions();
        this.reset();
        for (const to of ORDER_STATES) this.inc({ to }, 0);
        for (const r of rows) this.inc({ to: r.toState }, r.count);
      },
    });
  }
  const queues = o.queues ?? [];
  if (queues.length)
    m.gauge({
      name: 'switchyard_queue_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'],
      async collect() {
        const counts = await Promise.all(queues.map((q) => q.getJobCounts(...QUEUE_STATES)));
        this.reset();
        queues.forEach((q, i) => {
          for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[i]?.[state] ?? 0);
        });
      },
    });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', { logLevel: 'warn', schema: metricsSchema }, async (_req, reply) => {
    const body = await o.registry.metrics();
    return reply.header('content-type', o.registry.contentType).send(body);
  });
}

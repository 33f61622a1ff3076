// Prometheus metrics: one registry per process, with Node's process metrics, and a small HTTP
// server for the processes that have no API server of their own (controller, worker). Each
// component defines its metrics in its own module against the registry it is given; labels stay
// low in cardinality (site, power-tree node, fleet, pool, queue, route), never a miner or order.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** A registry with the default process and Node.js metrics (unless `defaultMetrics: false`). */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // Gauges named like counters, which `promtool check metrics` rejects; each is the sum of the
    // labelled gauge of the same name without `_total` (nodejs_active_handles{type}, ...).
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  }
  return registry;
}

type GaugeConfig<L extends string> = Omit<ConstructorParameters<typeof Gauge<L>>[0], 'registers'>;
type CounterConfig<L extends string> = Omit<ConstructorParameters<typeof Counter<L>>[0], 'registers'>;
type HistogramConfig<L extends string> = Omit<ConstructorParameters<typeof Histogram<L>>[0], 'registers'>;

/**
 * Makes metrics in `registry`, replacing one of the same name: a component started again in the
 * same process (the controller when the farm's resources change) takes its metrics over.
 */
export function metricsIn(registry: Registry) {
  return {
    gauge<L extends string>(c: GaugeConfig<L>): Gauge<L> {
      registry.removeSingleMetric(c.name);
      return new Gauge<L>({ ...c, registers: [registry] });
    },
    counter<L extends string>(c: CounterConfig<L>): Counter<L> {
      registry.removeSingleMetric(c.name);
      return new Counter<L>({ ...c, registers: [registry] });
    },
    histogram<L extends string>(c: HistogramConfig<L>): Histogram<L> {
      registry.removeSingleMetric(c.name);
      return new Histogram<L>({ ...c, registers: [registry] });
    },
  };
}

/** Seconds buckets for durations from a millisecond to a few minutes. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface MetricsServer {
  /** `http://host:port/metrics` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` in the text exposition format; everything else is 404. */
export async function serveMetrics(
  registry: Registry,
  opts: { port: number; host?: string },
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
    );
  });
  const host = opts.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Keeps a label value's cardinality bounded: free text (an error's reason) becomes a short
 * class, digits and addresses folded away, and past `max` distinct values a series is `other`.
 */
export class LabelLimiter {
  readonly #seen = new Set<string>();
  readonly #max: number;
  constructor(max = 20) {
    this.#max = max;
  }
  value(raw: string): string {
    const v =
      raw
        .toLowerCase()
        .replace(/\b\d+(\.\d+){3}(:\d+)?\b/g, 'addr')
        .replace(/\d+(\.\d+)?/g, 'n')
        .replace(/[^a-z_ :/-]+/g, ' ')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(0, 48) || 'unknown';
    if (this.#seen.has(v)) return v;
    if (this.#seen.size >= this.#max) return 'other';
    this.#seen.add(v);
    return v;
  }
}

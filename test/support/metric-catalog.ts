// Every metric Switchyard's components define, read from a registry in which each component's
// metrics module is created (nothing is collected): the catalogue docs/metrics.md must list.
import Fastify from 'fastify';
import type { Database } from '@switchyard/db';
import { loadFarm as loadFarmFile } from '@switchyard/simulator';
import { createMetricsRegistry, type Registry } from '@switchyard/telemetry';
import { createControllerMetrics } from '@switchyard/controller';
import { createWorkerMetrics } from '@switchyard/worker';
import { registerMetrics } from '../../services/api/src/metrics.ts';

export interface CatalogEntry {
  name: string;
  type: string;
  labels: string[];
  help: string;
}

/** Default metrics prom-client adds to every registry (process and Node.js runtime). */
export const DEFAULT_METRIC_PREFIXES = ['process_', 'nodejs_'];

export async function allComponentsRegistry(): Promise<Registry> {
  const registry = createMetricsRegistry();
  const farm = await loadFarmFile('examples/farm.yaml');
  createControllerMetrics(registry, {
    farm,
    site: farm.sites[0]?.metadata.name ?? 'site',
    lease: { isLeader: () => false, epoch: () => null },
  });
  createWorkerMetrics(registry);
  const app = Fastify();
  registerMetrics(app, {
    registry,
    // Only constructed, never queried: collect() is not called here.
    db: {} as Database,
    queues: [{ name: 'device', getJobCounts: async () => ({}) }],
  });
  await app.close();
  return registry;
}

export async function metricCatalog(): Promise<CatalogEntry[]> {
  const registry = await allComponentsRegistry();
  return registry
    .getMetricsAsArray()
    .map((m) => {
      const x = m as unknown as { name: string; type: string; help: string; labelNames?: string[] };
      return { name: x.name, type: x.type, labels: [...(x.labelNames ?? [])], help: x.help };
    })
    .filter((m) => !DEFAULT_METRIC_PREFIXES.some((p) => m.name.startsWith(p)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

// The validated farm inventory, as loaded at start and stored in the database.
import type { FastifyPluginAsync } from 'fastify';
import { endpointCount, farmResources, type Farm } from '@switchyard/domain';

export interface FarmView {
  farm: Farm;
  snapshotId: number | string;
  source: string;
  loadedAt: Date;
}

export function farmSummary(farm: Farm) {
  return {
    sites: farm.sites.length,
    fleets: farm.fleets.length,
    miners: farm.fleets.reduce((n, f) => n + endpointCount(f.spec), 0),
    gpuPools: farm.pools.length,
    gpuNodes: farm.pools.reduce((n, p) => n + p.spec.nodes, 0),
    gpus: farm.pools.reduce((n, p) => n + p.spec.nodes * p.spec.gpusPerNode, 0),
    policies: farm.policies.length,
  };
}

export const farmRoutes: FastifyPluginAsync<{ getFarm: () => FarmView }> = async (app, opts) => {
  app.get('/farm', async () => {
    const view = opts.getFarm();
    return {
      snapshotId: String(view.snapshotId),
      source: view.source,
      loadedAt: view.loadedAt.toISOString(),
      summary: farmSummary(view.farm),
      resources: farmResources(view.farm),
    };
  });
};

// The validated farm inventory, as loaded at start and stored in the database.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { API_VERSION, endpointCount, farmResources, RESOURCE_KINDS, type Farm } from '@switchyard/domain';
import { DateTime, StringEnum, useTypeBox } from '../schemas/common.ts';

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

const count = (description: string) => Type.Integer({ minimum: 0, description });

/** A resource as in the farm file; its spec is described in docs/farm-model.md. */
const Resource = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: StringEnum(RESOURCE_KINDS),
  metadata: Type.Object({
    name: Type.String(),
    namespace: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  }),
  spec: Type.Object({}, { additionalProperties: true, description: "The kind's spec (docs/farm-model.md)." }),
  status: Type.Optional(Type.Unknown()),
});

const farmSchema = {
  operationId: 'getFarm',
  summary: 'The validated farm inventory',
  description: 'The farm file loaded at start, as stored in the database: every resource and a summary.',
  tags: ['farm'],
  response: {
    200: Type.Object({
      snapshotId: Type.String({ description: 'The stored inventory snapshot.' }),
      source: Type.String({ description: 'Where the inventory came from, e.g. file:examples/farm.yaml.' }),
      loadedAt: DateTime(),
      summary: Type.Object({
        sites: count('Sites.'),
        fleets: count('Miner fleets.'),
        miners: count('Miners in every fleet.'),
        gpuPools: count('GPU pools.'),
        gpuNodes: count('GPU nodes in every pool.'),
        gpus: count('GPUs in every pool.'),
        policies: count('Allocation policies.'),
      }),
      resources: Type.Array(Resource),
    }),
  },
};

export const farmRoutes: FastifyPluginAsync<{ getFarm: () => FarmView }> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  app.get('/farm', { schema: farmSchema }, async () => {
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

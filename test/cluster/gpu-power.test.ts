// GPU power from dcgm-exporter through Prometheus' HTTP API (a real HTTP server answering as
// Prometheus does), in the Kubernetes driver's node listing: a node with a sample draws its GPUs'
// watts plus its pool's idle figure; dcgm's "unsupported" value, a missing node or a failed query
// fall back to the pool's figure for the node's mode.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_GPU_POWER_QUERY,
  KubernetesClusterDriver,
  MODE_LABEL,
  PrometheusGpuPower,
} from '@switchyard/cluster';
import { gpuFarm } from '../support/kube/gpu-farm.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { gpuNode } from '../support/kube/fixtures.ts';

let api: FakeApiServer;
let prom: Server;
let promUrl: string;
const queries: string[] = [];
let answer: { status: number; body: unknown } = { status: 200, body: {} };

beforeAll(async () => {
  api = await startFakeApiServer();
  api.seed(gpuNode('gpu-1', { 'switchyard.io/pool': 'hpool', [MODE_LABEL]: 'serving' }));
  api.seed(gpuNode('gpu-2', { 'switchyard.io/pool': 'hpool', [MODE_LABEL]: 'serving' }));
  api.seed(gpuNode('gpu-3', { 'switchyard.io/pool': 'hpool', [MODE_LABEL]: 'hashing' }));
  prom = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    queries.push(`${u.pathname}?${u.searchParams.get('query')}`);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((r) => prom.listen(0, '127.0.0.1', r));
  promUrl = `http://127.0.0.1:${(prom.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await api?.close();
  await new Promise((r) => prom?.close(r));
});

const vector = (samples: Array<[string, string]>) => ({
  status: 'success',
  data: {
    resultType: 'vector',
    result: samples.map(([Hostname, w]) => ({ metric: { Hostname }, value: [1_765_000_000, w] })),
  },
});

it('uses measured GPU power where there is a usable sample, and the estimate elsewhere', async () => {
  const errors: string[] = [];
  const driver = new KubernetesClusterDriver({
    kubeConfig: api.kubeConfig(),
    farm: gpuFarm(),
    gpuPower: new PrometheusGpuPower({ url: promUrl, onError: (m) => errors.push(m) }),
  });
  answer = {
    status: 200,
    body: vector([
      ['gpu-1', '5600'],
      ['gpu-2', '9223372036854775794'],
    ]),
  };
  const nodes = await driver.listNodes('hpool');
  expect(nodes.map((n) => [n.node, n.powerKw])).toEqual([
    ['gpu-1', 7.2], // 5.6 kW of GPUs + the pool's 1.6 kW idle figure
    ['gpu-2', 10.2], // dcgm's "unsupported": the serving estimate
    ['gpu-3', 8.4], // no sample: the hashing estimate
  ]);
  expect(queries.at(-1)).toBe(`/api/v1/query?${DEFAULT_GPU_POWER_QUERY}`);
  expect(errors).toEqual([]);

  // A failing Prometheus: estimates for every node, and a reason.
  answer = { status: 503, body: { status: 'error' } };
  expect((await driver.listNodes('hpool')).map((n) => n.powerKw)).toEqual([10.2, 10.2, 8.4]);
  answer = { status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [] } } };
  expect((await driver.listNodes('hpool')).map((n) => n.powerKw)).toEqual([10.2, 10.2, 8.4]);
  expect(errors).toEqual([expect.stringMatching(/HTTP 503/), expect.stringMatching(/not an instant vector/)]);
});

// The controller in cluster mode, end to end against the fake API server with the real client:
// the farm is read from switchyard.io custom resources, leadership is a Lease, GPU nodes move by
// label and taint, an admitted order's node is taken from hashing to serving and its Job is
// created when it runs; status is written back to the resources; when the order completes its
// Job is deleted and the node goes back to hashing.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import {
  KubeLeaderLease,
  KubernetesClusterDriver,
  MODE_LABEL,
  ORDER_LABEL,
  hashingDaemonSetName,
  orderJobName,
} from '@switchyard/cluster';
import { BrokerRepository, OrderRepository } from '@switchyard/db';
import { startClusterController, type RunningClusterController } from '@switchyard/controller';
import type { SignalHub } from '@switchyard/signals';
import { startWorkerService, type RunningWorkerService } from '@switchyard/worker';
import { dropPrefix, producer, uniquePrefix } from '../queue/support.ts';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { requireRedisUrl } from '../support/redis.ts';
import { placeBid } from '../support/orders.ts';
import { fixedPriceHub } from '../support/fixed-hub.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { chartCrds, gpuNode } from '../support/kube/fixtures.ts';
import { GPU_FARM_YAML, gpuFarm } from '../support/kube/gpu-farm.ts';
import type { KubeObject } from '../support/kube/objects.ts';

let server: FakeApiServer;
let m: MigratedDatabase;
let hub: SignalHub;
let cc: RunningClusterController | undefined;
let worker: RunningWorkerService | undefined;
const prefix = uniquePrefix();
const farm = gpuFarm();

beforeAll(async () => {
  server = await startFakeApiServer({ crds: chartCrds(process.cwd()) });
  for (const d of parseAllDocuments(GPU_FARM_YAML)) server.seed(d.toJS() as KubeObject);
  for (const name of ['h-node-1', 'h-node-2'])
    server.seed(gpuNode(name, { 'switchyard.io/pool': 'hpool', [MODE_LABEL]: 'hashing' }));
  m = await openMigratedDatabase('pg');
  hub = await fixedPriceHub(40);
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await cc?.close();
  await hub?.close();
  await m?.cleanup();
  await server?.close();
  const redis = await producer();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const modes = () =>
  ['h-node-1', 'h-node-2'].map((n) => server.find('v1', 'Node', n)!.metadata.labels?.[MODE_LABEL]).sort();

it('plans the farm read from custom resources, runs an order as a Job, writes status, and gives the node back', async () => {
  const db = m.handle.db;
  const broker = await new BrokerRepository(db).create({ name: 'cc-broker', kind: 'compute' });
  const orders = new OrderRepository(db);
  const placed = await placeBid(
    db,
    broker.id,
    'cc-1',
    { durationSeconds: 4, noticeSeconds: 60 },
    { args: ['--model', 'small'] },
  );
  const id = placed.id;
  const warnings: string[] = [];
  cc = await startClusterController({
    kubeConfig: server.kubeConfig(),
    namespace: 'default',
    redisUrl: requireRedisUrl(),
    db: m.handle,
    signals: hub,
    intervalMs: 60_000,
    prefix,
    autoStart: false,
    greedy: true,
    confirmTimeoutMs: 15_000,
    leaseTtlMs: 5000,
    transitionSeconds: 1,
    onWarning: (w) => warnings.push(w),
  });
  // The farm from the resources is the farm file's.
  expect(cc.farm).toEqual(farm);
  // The hashing pool's GPU-hashing DaemonSet is in place; the pool without hashing has none.
  expect(server.list('apps/v1', 'DaemonSet', 'default').map((d) => d.metadata.name)).toEqual([
    hashingDaemonSetName('hpool'),
  ]);
  worker = await startWorkerService({
    redisUrl: requireRedisUrl(),
    farm: cc.farm,
    prefix,
    db: m.handle,
    lease: new KubeLeaderLease({ kubeConfig: server.kubeConfig(), namespace: 'default' }),
    clusterDriver: new KubernetesClusterDriver({ kubeConfig: server.kubeConfig(), farm: cc.farm }),
    handleSignals: false,
  });
  const cycle = async () => {
    await cc!.controller.refresh();
    await cc!.controller.trigger('manual');
  };

  // Admitted; its node is shed to idle, then (settled) taken to serving; then it runs.
  await cycle();
  expect((await orders.get(id))?.state).toBe('admitted');
  await sleep(1200);
  await cycle();
  expect(modes()).toEqual(['hashing', 'serving']);
  await cycle();
  expect((await orders.get(id))?.state).toBe('running');
  const job = server.find('batch/v1', 'Job', orderJobName(id), 'default');
  expect(job?.metadata.labels?.[ORDER_LABEL]).toBe(id);

  // Status written back: the pool's nodes by mode, the site's last plan.
  await cc.writeStatus();
  const pool = server.find('switchyard.io/v1alpha1', 'GpuPool', 'hpool');
  expect((pool?.status as { nodes: Record<string, number> }).nodes).toEqual({
    serving: 1,
    hashing: 1,
    idle: 0,
    unavailable: 0,
  });
  await new Promise((r) => setTimeout(r, 200));
  const siteStatus = server.find('switchyard.io/v1alpha1', 'Site', 'klab')?.status as {
    lastPlan?: { planId: string };
    observedGeneration?: number;
  };
  expect(siteStatus?.lastPlan?.planId).toMatch(/^[0-9a-f-]{36}$/);
  expect(siteStatus?.observedGeneration).toBe(1);

  // A Job whose order is unknown or ended without the loop (e.g. cancelled through the API) is
  // swept after a cycle; the running order keeps its own.
  const strayId = '00000000-0000-4000-8000-000000000001';
  await cc.workloads.startOrder(
    { ...placed, id: strayId },
    farm.pools.find((p) => p.metadata.name === 'hpool')!,
  );
  await cycle();
  for (let i = 0; i < 30 && server.find('batch/v1', 'Job', orderJobName(strayId), 'default'); i++)
    await sleep(100);
  expect(server.find('batch/v1', 'Job', orderJobName(strayId), 'default')).toBeUndefined();
  expect(server.find('batch/v1', 'Job', orderJobName(id), 'default')).toBeDefined();

  // Its term ends: completed, the Job deleted, the node back to hashing.
  await sleep(4000);
  await cycle();
  expect((await orders.get(id))?.state).toBe('completed');
  expect(server.find('batch/v1', 'Job', orderJobName(id), 'default')).toBeUndefined();
  // The node leaves serving and, its change settled, goes back to hashing.
  await cycle();
  await sleep(1200);
  await cycle();
  expect(modes()).toEqual(['hashing', 'hashing']);
  expect(warnings.filter((w) => /Job was not|status of/.test(w))).toEqual([]);

  // A change to the resources restarts the controller on the new farm.
  const before = cc.controller;
  const nohash = server.find('switchyard.io/v1alpha1', 'GpuPool', 'nohash')!;
  server.seed({ ...nohash, spec: { ...(nohash.spec as object), nodes: 2 } });
  for (let i = 0; i < 50 && cc.farm.pools.find((p) => p.metadata.name === 'nohash')?.spec.nodes !== 2; i++)
    await sleep(100);
  await cc.reloaded();
  expect(cc.farm.pools.find((p) => p.metadata.name === 'nohash')?.spec.nodes).toBe(2);
  expect(cc.controller).not.toBe(before);
  await cycle();
  expect((await cc.controller.plans.latest('klab'))?.plan.pools.nohash?.nodes).toBe(2);

  // An in-cluster user's InferenceOrder becomes an order of the `cluster` broker, with its status.
  server.seed({
    apiVersion: 'switchyard.io/v1alpha1',
    kind: 'InferenceOrder',
    metadata: { name: 'eval', namespace: 'default' },
    spec: {
      gpuModels: ['H100-SXM-80GB'],
      gpuCount: 8,
      durationSeconds: 600,
      tier: 'on-demand',
      maxUsdPerGpuHour: 2.5,
      noticeSeconds: 300,
      image: 'ghcr.io/acme/vllm-server:0.6.3',
    },
  });
  await cc.inferenceOrders.syncOnce();
  const resource = server.find('switchyard.io/v1alpha1', 'InferenceOrder', 'eval', 'default');
  const orderId = (resource?.status as { orderId?: string } | undefined)?.orderId;
  expect(orderId).toMatch(/^[0-9a-f-]{36}$/);
  expect(await orders.get(orderId!)).toMatchObject({
    state: 'pending',
    gpuCount: 8,
    image: 'ghcr.io/acme/vllm-server:0.6.3',
  });
}, 90_000);

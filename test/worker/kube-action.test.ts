// kube.action set-gpu-mode end to end: real Redis, the worker service, and the simulator's GPU
// nodes driven through its HTTP API (SimulatorClusterDriver). A node changes mode once; the
// same change under a new step id finds it already there; a replaced leader's job is dropped
// before it touches the node; a mode the pool does not allow and an unknown node fail for good.
// The farm has GPU pools only: the simulator opens no miner listeners, so this file takes no
// address block and cannot collide with the suites that do.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { SimulatorClusterDriver } from '@switchyard/cluster';
import { parseFarmYaml, type Farm, type PoolMode } from '@switchyard/domain';
import { createQueues, type JobQueues } from '@switchyard/queue';
import { startSimulator, type RunningSimulator } from '@switchyard/simulator';
import { startWorkerService, type RunningWorkerService } from '@switchyard/worker';
import { dropPrefix, epochs, producer, uniquePrefix, waitFinished } from '../queue/support.ts';
import { requireRedisUrl } from '../support/redis.ts';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: klab }
spec:
  interconnectKw: 200
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    limitKw: 200
    children:
      - { name: pdu-g1, limitKw: 80 }
      - { name: pdu-g2, limitKw: 80 }
  coolingZones: [{ name: hall, capacityKw: 200 }]
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: kgpu }
spec:
  site: klab
  feed: pdu-g1
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: kgpu }
  nodes: 4
  gpuModel: H100-SXM-80GB
  gpusPerNode: 8
  vramGiB: 80
  nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 }
  hashing: { enabled: true, image: ghcr.io/switchyard/gpu-hasher:1.4.0 }
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: knohash }
spec:
  site: klab
  feed: pdu-g2
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: knohash }
  nodes: 2
  gpuModel: H100-SXM-80GB
  gpusPerNode: 8
  vramGiB: 80
  nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 }
`;

const parsed = parseFarmYaml(FARM);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const farm: Farm = parsed.farm;

let sim: RunningSimulator;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let service: RunningWorkerService | undefined;
let epoch = 1;

beforeAll(async () => {
  sim = await startSimulator({
    farm,
    workers: 0,
    httpPort: 0,
    speed: 1,
    gpuTransitionSeconds: 1,
    quirkRate: 0,
    seed: 7,
  });
}, 60_000);
afterAll(() => sim?.close());

beforeEach(async () => {
  epoch = 1;
  redis = await producer();
  prefix = uniquePrefix();
  queues = createQueues(redis, { prefix });
  service = await startWorkerService({
    redisUrl: requireRedisUrl(),
    farm,
    prefix,
    lease: epochs(() => epoch),
    concurrency: 2,
    simUrl: sim.url,
    handleSignals: false,
  });
});

afterEach(async () => {
  await service?.close({ force: true });
  service = undefined;
  await queues.close();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

/** The simulator's own view of a node, over its API (what an operator would see). */
async function simMode(pool: string, node: string): Promise<string | undefined> {
  const res = await fetch(`${sim.url}/sim/gpu?pool=${pool}`);
  const body = (await res.json()) as { nodes: Array<{ node: string; mode: string }> };
  return body.nodes.find((n) => n.node === node)?.mode;
}

async function setGpuMode(stepId: string, pool: string, node: string, mode: PoolMode, jobEpoch = epoch) {
  await queues.add('kube.action', {
    planId: 'plan-k1',
    stepId,
    epoch: jobEpoch,
    action: 'set-gpu-mode',
    resource: { kind: 'Node', name: node },
    params: { pool, mode },
  });
  return waitFinished(queues.queues.kube, `plan-k1~${stepId}~node/${node}~e${jobEpoch}`);
}

describe('kube.action set-gpu-mode against the simulator', () => {
  it('moves a node to a mode once; the same change again finds it already there', async () => {
    expect(await simMode('kgpu', 'kgpu-node-01')).toBe('idle');
    const first = await setGpuMode('add-1.0', 'kgpu', 'kgpu-node-01', 'hashing');
    expect(first.failedReason).toBeFalsy();
    expect(first.returnvalue).toMatchObject({
      status: 'applied',
      pool: 'kgpu',
      node: 'kgpu-node-01',
      from: 'idle',
      mode: 'hashing',
    });
    expect(await simMode('kgpu', 'kgpu-node-01')).toBe('hashing');
    // its neighbours are untouched
    expect(await simMode('kgpu', 'kgpu-node-00')).toBe('idle');

    const again = await setGpuMode('add-2.0', 'kgpu', 'kgpu-node-01', 'hashing');
    expect(again.failedReason).toBeFalsy();
    expect(again.returnvalue).toMatchObject({ status: 'already', from: 'hashing', mode: 'hashing' });
    expect(await simMode('kgpu', 'kgpu-node-01')).toBe('hashing');

    // the draw follows the mode (1 s transition in this simulator)
    const driver = new SimulatorClusterDriver({ baseUrl: sim.url });
    const deadline = Date.now() + 5000;
    let powerKw: number | null = null;
    while (Date.now() < deadline) {
      const n = (await driver.listNodes('kgpu')).find((x) => x.node === 'kgpu-node-01');
      powerKw = n?.powerKw ?? null;
      if (n && !n.transitioning) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(powerKw).toBe(8.4);
  }, 20_000);

  it("drops a replaced leader's job before it touches the node", async () => {
    epoch = 2;
    const stale = await setGpuMode('add-1.0', 'kgpu', 'kgpu-node-02', 'serving', 1);
    expect(stale.failedReason).toBeFalsy();
    expect(stale.returnvalue).toMatchObject({ status: 'dropped', jobEpoch: 1, currentEpoch: 2 });
    expect(await simMode('kgpu', 'kgpu-node-02')).toBe('idle');

    const current = await setGpuMode('add-1.0', 'kgpu', 'kgpu-node-02', 'serving', 2);
    expect(current.returnvalue).toMatchObject({ status: 'applied', mode: 'serving' });
    expect(await simMode('kgpu', 'kgpu-node-02')).toBe('serving');
  });

  it('fails for good on a mode the pool does not allow and on an unknown node', async () => {
    const refused = await setGpuMode('add-1.0', 'knohash', 'knohash-node-00', 'hashing');
    expect(await refused.getState()).toBe('failed');
    expect(refused.attemptsMade).toBe(1);
    expect(refused.failedReason).toMatch(
      /not-allowed: .*409 Mode not allowed: GpuPool knohash does not allow hashing/,
    );
    expect(await simMode('knohash', 'knohash-node-00')).toBe('idle');

    const unknown = await setGpuMode('add-1.1', 'kgpu', 'kgpu-node-09', 'idle');
    expect(await unknown.getState()).toBe('failed');
    expect(unknown.attemptsMade).toBe(1);
    expect(unknown.failedReason).toMatch(/no GPU node "kgpu-node-09" in GpuPool "kgpu"/);
  });
});

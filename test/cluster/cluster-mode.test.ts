// The controller and the worker in cluster mode against the fake API server, with the real
// client: leadership on a coordination.k8s.io Lease (its transitions are the fencing epoch the
// worker checks), GPU nodes through the Kubernetes driver. A bid is admitted and one node of its
// pool moves from hashing to serving (through idle, over two cycles): label and taint on the Node.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { KubeLeaderLease, KubernetesClusterDriver, MODE_LABEL, MODE_TAINT } from '@switchyard/cluster';
import { BrokerRepository, OrderRepository } from '@switchyard/db';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import { startControllerService, type RunningController } from '@switchyard/controller';
import type { SignalHub } from '@switchyard/signals';
import { startWorkerService, type RunningWorkerService } from '@switchyard/worker';
import { dropPrefix, producer, uniquePrefix } from '../queue/support.ts';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { requireRedisUrl } from '../support/redis.ts';
import { placeBid } from '../support/orders.ts';
import { fixedPriceHub } from '../support/fixed-hub.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { gpuNode } from '../support/kube/fixtures.ts';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: kclab }
spec:
  interconnectKw: 200
  marketNode: HB_WEST
  pue: 1.1
  powerTree: { name: site, limitKw: 200, children: [{ name: pdu-g1, limitKw: 80 }] }
  coolingZones: [{ name: hall, capacityKw: 200 }]
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: kcgpu }
spec:
  site: kclab
  feed: pdu-g1
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: kcgpu, nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3 }
  nodes: 2
  gpuModel: H100-SXM-80GB
  gpusPerNode: 8
  vramGiB: 80
  nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 }
  hashing: { enabled: true, image: ghcr.io/switchyard/gpu-hasher:1.4.0, payoutUsdPerGpuHour: 0.18 }
`;
const parsed = parseFarmYaml(FARM);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const farm: Farm = parsed.farm;

let server: FakeApiServer;
let m: MigratedDatabase;
let hub: SignalHub;
let controller: RunningController | undefined;
let worker: RunningWorkerService | undefined;
const prefix = uniquePrefix();

beforeAll(async () => {
  server = await startFakeApiServer();
  for (const name of ['kc-node-1', 'kc-node-2'])
    server.seed(gpuNode(name, { 'switchyard.io/pool': 'kcgpu', [MODE_LABEL]: 'hashing' }));
  m = await openMigratedDatabase('pg');
  hub = await fixedPriceHub(40);
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await controller?.close();
  await hub?.close();
  await m?.cleanup();
  await server?.close();
  const redis = await producer();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

it('leads on a Lease and moves a GPU node to serving for an admitted order', async () => {
  const db = m.handle.db;
  const broker = await new BrokerRepository(db).create({ name: 'kc-broker', kind: 'compute' });
  const orders = new OrderRepository(db);
  const placed = await placeBid(db, broker.id, 'kc-1');

  const kubeConfig = server.kubeConfig();
  const lease = new KubeLeaderLease({ kubeConfig, namespace: 'default', leaseDurationSeconds: 5 });
  controller = await startControllerService({
    farm,
    site: 'kclab',
    redisUrl: requireRedisUrl(),
    db: m.handle,
    signals: hub,
    intervalMs: 60_000,
    prefix,
    autoStart: false,
    greedy: true,
    confirmTimeoutMs: 15_000,
    lease,
    cluster: new KubernetesClusterDriver({ kubeConfig, farm, transitionSeconds: 1 }),
  });
  worker = await startWorkerService({
    redisUrl: requireRedisUrl(),
    farm,
    prefix,
    db: m.handle,
    // The worker fences on the same Lease, read through its own client: it never campaigns.
    lease: new KubeLeaderLease({ kubeConfig: server.kubeConfig(), namespace: 'default' }),
    clusterDriver: new KubernetesClusterDriver({ kubeConfig: server.kubeConfig(), farm }),
    handleSignals: false,
  });

  await controller.trigger('manual');
  expect(lease.isLeader()).toBe(true);
  const stored = server.find('coordination.k8s.io/v1', 'Lease', 'switchyard-controller', 'default');
  expect(stored?.spec).toMatchObject({ holderIdentity: lease.holderId, leaseTransitions: lease.epoch() });
  expect((await orders.get(placed.id))?.state).toBe('admitted');
  // Hashing → serving adds draw: the sequence sheds the node to idle first; once its change has
  // settled (the driver's transition time), the next cycle takes it from idle to serving.
  await new Promise((r) => setTimeout(r, 1200));
  await controller.refresh();
  await controller.trigger('manual');

  const nodes = ['kc-node-1', 'kc-node-2'].map((n) => server.find('v1', 'Node', n)!);
  const serving = nodes.filter((n) => n.metadata.labels?.[MODE_LABEL] === 'serving');
  expect(serving).toHaveLength(1);
  expect((serving[0]!.spec as { taints?: unknown[] }).taints).toEqual([
    { key: MODE_TAINT, value: 'serving', effect: 'NoSchedule' },
  ]);
  // The other node keeps hashing.
  expect(nodes.filter((n) => n.metadata.labels?.[MODE_LABEL] === 'hashing')).toHaveLength(1);
}, 60_000);

// Compute orders through the controller, end to end: real PostgreSQL, Redis, the simulator's GPU
// nodes (SimulatorClusterDriver), the worker service moving nodes and delivering webhooks to a
// real receiver that checks their signatures. A bid is admitted and runs once its node serves;
// a better reserved order takes the pool back: the running order's broker is told before its
// notice period starts, its node keeps serving until the notice is over, and it then ends as
// preempted with its usage metered from the time it ran. The farm has GPU pools only: the
// simulator opens no miner listeners, so this file takes no address block.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { SimulatorClusterDriver } from '@switchyard/cluster';
import { BrokerRepository, OrderRepository, WebhookRepository, type OrderTerms } from '@switchyard/db';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import { orderUsage } from '@switchyard/brokers';
import { startControllerService, type CycleRecord, type RunningController } from '@switchyard/controller';
import type { SignalHub } from '@switchyard/signals';
import { startSimulator, type RunningSimulator } from '@switchyard/simulator';
import { startWorkerService, type RunningWorkerService } from '@switchyard/worker';
import { dropPrefix, producer, uniquePrefix } from '../queue/support.ts';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { requireRedisUrl } from '../support/redis.ts';
import { fixedPriceHub } from '../support/fixed-hub.ts';
import { startReceiver, type Receiver } from '../brokers/receiver.ts';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: olab }
spec:
  interconnectKw: 200
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    limitKw: 200
    children:
      - { name: pdu-g1, limitKw: 80 }
  coolingZones: [{ name: hall, capacityKw: 200 }]
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: ogpu }
spec:
  site: olab
  feed: pdu-g1
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: ogpu }
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

const NOTICE_S = 4;
const LEAD_MS = 1500;

let m: MigratedDatabase;
let sim: RunningSimulator;
let hub: SignalHub;
let receiver: Receiver;
let controller: RunningController | undefined;
let worker: RunningWorkerService | undefined;
const prefix = uniquePrefix();

beforeAll(async () => {
  m = await openMigratedDatabase('pg');
  sim = await startSimulator({
    farm,
    workers: 0,
    httpPort: 0,
    speed: 1,
    gpuTransitionSeconds: 1,
    quirkRate: 0,
    seed: 3,
  });
  hub = await fixedPriceHub(40);
  receiver = await startReceiver();
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await controller?.close();
  await hub?.close();
  await sim?.close();
  await receiver?.close();
  await m?.cleanup();
  const redis = await producer();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

const hash = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex');

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('admits, runs, gives notice before preempting, and meters an order', async () => {
  const db = m.handle.db;
  const broker = await new BrokerRepository(db).create({ name: 'acme-gpu', kind: 'compute' });
  const rival = await new BrokerRepository(db).create({ name: 'rival-gpu', kind: 'compute' });
  const hook = await new WebhookRepository(db).create({
    brokerId: broker.id,
    url: receiver.url,
    events: ['order.state', 'order.preemption-notice'],
  });
  receiver.secret = hook.secret;
  const orders = new OrderRepository(db);
  const terms = (o: Partial<OrderTerms>): OrderTerms => ({
    tier: 'interruptible',
    gpuModels: ['H100-SXM-80GB'],
    gpuCount: 8,
    minVramGib: 0,
    maxUsdPerGpuHour: '3',
    durationSeconds: 3600,
    endBy: null,
    noticeSeconds: NOTICE_S,
    ...o,
  });
  const placed = await orders.create({
    brokerId: broker.id,
    idempotencyKey: 'bid-1',
    requestHash: hash('bid-1'),
    image: 'ghcr.io/acme/llm:1',
    args: [],
    bid: terms({}),
  });
  if (placed.outcome !== 'created') throw new Error(placed.outcome);
  const id = placed.order.id;

  const cycles: CycleRecord[] = [];
  controller = await startControllerService({
    farm,
    site: 'olab',
    redisUrl: requireRedisUrl(),
    db: m.handle,
    signals: hub,
    intervalMs: 60_000,
    prefix,
    autoStart: false,
    leaseTtlMs: 5000,
    confirmTimeoutMs: 15_000,
    greedy: true,
    cluster: new SimulatorClusterDriver({ baseUrl: sim.url }),
    noticeLeadMs: LEAD_MS,
    onCycle: (r) => cycles.push(r),
  });
  worker = await startWorkerService({
    redisUrl: requireRedisUrl(),
    farm,
    prefix,
    lease: controller.lease,
    db: m.handle,
    simUrl: sim.url,
    webhookTargets: { allowLoopback: true },
    handleSignals: false,
  });
  const cluster = new SimulatorClusterDriver({ baseUrl: sim.url });
  const serving = async () =>
    (await cluster.listNodes('ogpu')).filter((n) => n.mode === 'serving' && !n.transitioning).length;
  const stateOf = async () => (await orders.get(id))?.state;

  // 1. The plan admits the bid and switches a node to serving; the next cycle sees it and runs it.
  await controller.trigger('manual');
  expect(await stateOf()).toBe('admitted');
  await until('a serving node', async () => ((await serving()) >= 1 ? true : undefined));
  await controller.refresh();
  await controller.trigger('manual');
  expect(await stateOf()).toBe('running');

  // 2. A reserved order for the whole pool at a better price takes it back.
  const better = await orders.create({
    brokerId: rival.id,
    idempotencyKey: 'res-1',
    requestHash: hash('res-1'),
    image: 'ghcr.io/rival/llm:2',
    args: [],
    bid: terms({ tier: 'reserved', gpuCount: 16, maxUsdPerGpuHour: '9', noticeSeconds: 0 }),
  });
  if (better.outcome !== 'created') throw new Error(better.outcome);
  await controller.trigger('manual');
  const preempting = await orders.get(id);
  expect(preempting?.state).toBe('preempting');
  const preemptAt = preempting?.preemptAt as Date;
  const periodStarts = preemptAt.getTime() - NOTICE_S * 1000;

  // The notice reaches the broker, signed, before its notice period starts.
  const got = await receiver.waitFor(4, 10_000);
  const notice = got.find((r) => r.body.event === 'order.preemption-notice');
  expect(notice?.verification?.ok).toBe(true);
  expect(notice?.body.data).toMatchObject({
    orderId: id,
    noticeSeconds: NOTICE_S,
    preemptAt: preemptAt.toISOString(),
  });
  expect(notice!.receivedAt).toBeLessThan(periodStarts);
  expect(
    got.filter((r) => r.body.event === 'order.state').map((r) => [r.body.data.from, r.body.data.to]),
  ).toEqual([
    ['pending', 'admitted'],
    ['admitted', 'running'],
    ['running', 'preempting'],
  ]);

  // Within the notice period its node keeps serving, whatever the plans say.
  await controller.refresh();
  await controller.trigger('manual');
  expect(await stateOf()).toBe('preempting');
  expect(await serving()).toBeGreaterThanOrEqual(1);
  // The reserved order is admitted, and waits for the node the notice holds.
  expect((await orders.get(better.order.id))?.state).toBe('admitted');

  // After it, the order ends as preempted.
  await new Promise((r) => setTimeout(r, Math.max(0, preemptAt.getTime() - Date.now() + 100)));
  await controller.trigger('manual');
  const ended = await orders.get(id);
  expect(ended?.state).toBe('preempted');
  await controller.refresh();
  await controller.trigger('manual');
  expect((await orders.get(better.order.id))?.state).toBe('running');
  const events = await orders.events(id);
  expect(events.map((e) => e.toState)).toEqual(['pending', 'admitted', 'running', 'preempting', 'preempted']);

  // Usage: the time from running to preempted, at the bid's price, for its 8 GPUs.
  const usage = orderUsage({
    gpuCount: ended!.gpuCount,
    priceUsdPerGpuHour: ended!.priceUsdPerGpuHour ?? ended!.maxUsdPerGpuHour,
    transitions: events,
    now: new Date(),
  });
  const ranMs = ended!.endedAt!.getTime() - ended!.startedAt!.getTime();
  expect(usage.gpuHours).toBeCloseTo((8 * ranMs) / 3_600_000, 3);
  expect(usage.gpuHours).toBeGreaterThan(0);
  expect(usage.chargeUsd).toBeCloseTo(usage.gpuHours * 3, 3);
  expect(cycles.filter((c) => c.outcome === 'failed').map((c) => c.error)).toEqual([]);
}, 90_000);

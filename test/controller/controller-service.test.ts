// One controller cycle end to end: real Redis, PGlite, the simulator's firmware servers and
// BullMQ workers. At an energy price far above breakeven the plan sleeps every miner; the
// phases run in order as flows, the miners end up asleep, the plan and its changes are stored,
// and the simulator's ground-truth power log shows no violation.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import { createMinerDriver } from '@switchyard/miners';
import {
  connectRedis,
  createDeviceBatchHandler,
  createPlanPhaseHandler,
  startWorkers,
  type JobHandler,
  type RunningWorkers,
} from '@switchyard/queue';
import { FixedValueSource, SignalHub } from '@switchyard/signals';
import { startSimulator, type RunningSimulator } from '@switchyard/simulator';
import {
  startControllerService,
  type CycleRecord,
  type PhaseRecord,
  type RunningController,
} from '@switchyard/controller';
import { dropPrefix, uniquePrefix } from '../queue/support.ts';
import { requireRedisUrl } from '../support/redis.ts';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: clab }
spec:
  interconnectKw: 200
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    limitKw: 200
    children:
      - { name: pdu-1, limitKw: 60 }
      - { name: pdu-2, limitKw: 60 }
  coolingZones: [{ name: hall, capacityKw: 200 }]
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: ca }
spec: { site: clab, feed: pdu-1, coolingZone: hall, model: S19j Pro, driver: luxos, endpoints: { cidr: 10.206.0.0/29, count: 3 } }
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: cb }
spec: { site: clab, feed: pdu-2, coolingZone: hall, model: S19j Pro, driver: luxos, endpoints: { cidr: 10.206.1.0/29, count: 3 } }
`;
const parsed = parseFarmYaml(FARM);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const farm: Farm = parsed.farm;

let sim: RunningSimulator;
let hub: SignalHub;
let controller: RunningController | undefined;
let workers: RunningWorkers | undefined;
const prefix = uniquePrefix();

beforeAll(async () => {
  sim = await startSimulator({
    farm,
    workers: 0,
    httpPort: 0,
    speed: 1,
    sleepSeconds: 1,
    wakeSeconds: 2,
    quirkRate: 0,
    seed: 5,
  });
  hub = new SignalHub({
    sources: [
      {
        source: new FixedValueSource(
          [
            { signal: 'btc_usd', value: 95_000 },
            { signal: 'difficulty', value: 1.1e14 },
            { signal: 'fees_btc_per_block', value: 0.05 },
            { signal: 'energy_usd_per_mwh', value: 900 },
          ],
          { name: 'pushed-test' },
        ),
        trusted: true,
      },
    ],
  });
  await hub.refresh();
}, 60_000);

afterAll(async () => {
  await workers?.close({ force: true });
  await controller?.close();
  await hub?.close();
  await sim?.close();
  const redis = await connectRedis(requireRedisUrl(), 'producer');
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

/** Passes when the simulator's latest sample shows every node at or below the expected load. */
const confirmFromSimulator: JobHandler<'device.confirm'> = async (p, ctx) => {
  const deadline = Date.now() + p.timeoutMs;
  for (;;) {
    const nodes = sim.sim.power().flatMap((s) => s.nodes);
    const over = p.nodes.filter(
      (n) => (nodes.find((x) => x.name === n)?.kw ?? Infinity) > p.expectLoadAtMostKw + 1e-6,
    );
    if (over.length === 0) return { status: 'confirmed', nodes: p.nodes };
    if (Date.now() > deadline || ctx.signal.aborted) throw new Error(`confirm timed out: ${over.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

it('sleeps the farm at a high energy price in one cycle, in order, without a violation', async () => {
  const cycles: CycleRecord[] = [];
  const phases: PhaseRecord[] = [];
  controller = await startControllerService({
    farm,
    site: 'clab',
    redisUrl: requireRedisUrl(),
    signals: hub,
    intervalMs: 60_000,
    prefix,
    autoStart: false,
    leaseTtlMs: 5000,
    confirmTimeoutMs: 15_000,
    mapHost: (h) => h.replace(/^10\./, '127.'),
    mapPort: (p) => (p < 1024 ? p + sim.portOffset : p),
    onCycle: (r) => cycles.push(r),
    onPhase: (r) => phases.push(r),
  });
  const lease = controller.lease;
  workers = await startWorkers({
    connection: requireRedisUrl(),
    prefix,
    lease,
    handleSignals: false,
    queues: ['device', 'confirm', 'plan'],
    handlers: {
      'device.batch': createDeviceBatchHandler({
        createDriver: (t) =>
          createMinerDriver(t.driver, {
            host: t.host.replace(/^10\./, '127.'),
            port: t.port + (t.port < 1024 ? sim.portOffset : 0),
            timeoutMs: 1500,
            credentials: t.credentials,
          }),
      }),
      'device.confirm': confirmFromSimulator,
      'plan.phase': createPlanPhaseHandler(),
    },
  });

  await controller.trigger('manual');

  expect(cycles.map((c) => [c.outcome, c.error])).toEqual([['dispatched', undefined]]);
  expect(phases.map((p) => [p.kind, p.status])).toEqual([
    ['shed', 'done'],
    ['confirm', 'done'],
  ]);
  expect(phases[0]?.jobs).toBe(2); // one batch per fleet
  for (const m of sim.sim.miners()) expect(m.observe().state).toBe('sleeping');

  const planId = cycles[0]?.planId as string;
  const stored = await controller.plans.get(planId);
  expect(stored?.status).toBe('dispatched');
  expect(stored?.epoch).toBe(lease.epoch());
  expect(stored?.changes.map((c) => c.change)).toEqual([
    expect.stringMatching(/^sleep 3 of 3/),
    expect.stringMatching(/^sleep 3 of 3/),
  ]);

  const res = await fetch(`${sim.url}/sim/violations`);
  expect(((await res.json()) as { violations: unknown[] }).violations).toEqual([]);
}, 30_000);

// The worker service end to end: real Redis, the simulator's firmware servers (farm addresses
// 10.205.x.y, served on 127.205.x.y). A device.batch sleeps a fleet, then a device.confirm for
// its PDU passes only once the simulated power has actually fallen (sleeping miners report
// "sleeping" at once while their draw falls over sleepSeconds); an impossible expectation fails
// after its timeout; and the service refuses to start without a handler for every job.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import { pollTargets } from '@switchyard/miners';
import { HandlerCoverageError, createQueues, type JobQueues } from '@switchyard/queue';
import { startSimulator, toSimHost, type RunningSimulator } from '@switchyard/simulator';
import { startWorkerService, type RunningWorkerService } from '@switchyard/worker';
import { dropPrefix, epochs, producer, uniquePrefix, waitFinished } from '../queue/support.ts';
import { requireRedisUrl } from '../support/redis.ts';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: wlab }
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
metadata: { name: wa }
spec: { site: wlab, feed: pdu-1, coolingZone: hall, model: S19j Pro, driver: luxos, endpoints: { cidr: 10.205.0.0/29, count: 4 } }
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: wb }
spec: { site: wlab, feed: pdu-2, coolingZone: hall, model: S19j Pro, driver: luxos, endpoints: { cidr: 10.205.1.0/29, count: 3 } }
`;

const parsed = parseFarmYaml(FARM);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const farm: Farm = parsed.farm;
const targetsOf = (fleet: string) =>
  pollTargets(farm)
    .filter((t) => t.fleet === fleet)
    .map((t) => ({ host: t.host, port: t.port }));
const simKw = (node: string) => sim.sim.power()[0]?.nodes.find((n) => n.name === node)?.kw ?? NaN;

let sim: RunningSimulator;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let service: RunningWorkerService | undefined;

beforeAll(async () => {
  sim = await startSimulator({
    farm,
    workers: 0,
    httpPort: 0,
    speed: 1,
    sleepSeconds: 2,
    wakeSeconds: 2,
    quirkRate: 0,
    seed: 5,
  });
}, 60_000);
afterAll(() => sim?.close());

beforeEach(async () => {
  redis = await producer();
  prefix = uniquePrefix();
  queues = createQueues(redis, { prefix });
});

afterEach(async () => {
  await service?.close({ force: true });
  service = undefined;
  await queues.close();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

const start = (overrides: Parameters<typeof startWorkerService>[0]['handlerOverrides'] = undefined) =>
  startWorkerService({
    redisUrl: requireRedisUrl(),
    farm,
    prefix,
    lease: epochs(1),
    concurrency: 4,
    mapHost: toSimHost,
    portOffset: sim.portOffset,
    minerTimeoutMs: 1500,
    handleSignals: false,
    handlerOverrides: overrides,
  });

describe('worker service', () => {
  it('sleeps a fleet with device.batch, then confirms its PDU only once the power has fallen', async () => {
    service = await start();
    await sim.sim.waitForSample();
    expect(simKw('pdu-1')).toBeGreaterThan(5); // four S19j Pro hashing

    await queues.add('device.batch', {
      planId: 'plan-w1',
      stepId: 'shed-1',
      epoch: 1,
      fleet: 'wa',
      feed: 'pdu-1',
      driver: 'luxos',
      action: 'sleep',
      targets: targetsOf('wa'),
    });
    const batch = await waitFinished(queues.queues.device, 'plan-w1~shed-1~wa~e1');
    expect(batch.failedReason).toBeFalsy();
    expect(batch.returnvalue).toMatchObject({ applied: 4, failed: 0 });

    const t0 = Date.now();
    await queues.add('device.confirm', {
      planId: 'plan-w1',
      stepId: 'confirm-1',
      epoch: 1,
      nodes: ['pdu-1'],
      expectLoadAtMostKw: 0.5,
      timeoutMs: 15_000,
    });
    const confirm = await waitFinished(queues.queues.confirm, 'plan-w1~confirm-1~confirm~e1', 20_000);
    const tookMs = Date.now() - t0;
    expect(confirm.failedReason).toBeFalsy();
    expect(confirm.returnvalue).toMatchObject({ status: 'confirmed', expectLoadAtMostKw: 0.5 });
    const result = confirm.returnvalue as { loadsKw: Record<string, number>; polls: number };
    expect(result.loadsKw['pdu-1']).toBeLessThanOrEqual(0.5);
    // the miners said "sleeping" at once; the draw took most of sleepSeconds (2 s) to fall
    expect(result.polls).toBeGreaterThanOrEqual(2);
    expect(tookMs).toBeGreaterThanOrEqual(1500);
    // ground truth: the simulator's own power tree agrees
    await sim.sim.waitForSample();
    expect(simKw('pdu-1')).toBeLessThanOrEqual(0.5);
  }, 40_000);

  it('fails a confirm whose expected load never comes after its timeout, for good', async () => {
    service = await start();
    const t0 = Date.now();
    await queues.add('device.confirm', {
      planId: 'plan-w2',
      stepId: 'confirm-1',
      epoch: 1,
      nodes: ['pdu-2'],
      expectLoadAtMostKw: 0,
      timeoutMs: 2500,
    });
    const confirm = await waitFinished(queues.queues.confirm, 'plan-w2~confirm-1~confirm~e1', 15_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2500);
    expect(await confirm.getState()).toBe('failed');
    expect(confirm.failedReason).toMatch(
      /device\.confirm timed out after 2500 ms .*pdu-2 at [\d.]+ kW > 0 kW/,
    );
    expect(confirm.failedReason).toMatch(/still drawing/);
    expect(confirm.attemptsMade).toBe(1); // not retried: the timeout is the answer
  }, 30_000);

  it('fails the placeholder kube.action for good with a clear message', async () => {
    service = await start();
    await queues.add('kube.action', {
      planId: 'plan-w3',
      stepId: 'drain-1',
      epoch: 1,
      action: 'drain',
      resource: { kind: 'Node', name: 'gpu-1' },
      params: {},
    });
    const job = await waitFinished(queues.queues.kube, 'plan-w3~drain-1~node/gpu-1~e1');
    expect(job.failedReason).toMatch(/kube\.action is not yet implemented/);
    expect(job.attemptsMade).toBe(1);
  });

  it('refuses to start when a job has no handler', async () => {
    await expect(start({ 'kube.action': undefined })).rejects.toThrow(HandlerCoverageError);
    await expect(start({ 'kube.action': undefined })).rejects.toThrow(/no handler for kube\.action/);
  });
});

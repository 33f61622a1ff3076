// The worker service end to end: real Redis, the simulator's firmware servers (farm addresses
// 10.205.x.y, served on 127.205.x.y). A device.batch sleeps a fleet, then a device.confirm for
// its PDU passes only once the simulated power has actually fallen (sleeping miners report
// "sleeping" at once while their draw falls over sleepSeconds); an impossible expectation fails
// after its timeout; and the service refuses to start without a handler for every job.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { HandlerCoverageError, createQueues, type JobQueues } from '@switchyard/queue';
import type { RunningSimulator } from '@switchyard/simulator';
import { startWorkerService, type RunningWorkerService } from '@switchyard/worker';
import { dropPrefix, epochs, producer, uniquePrefix, waitFinished } from '../queue/support.ts';
import { requireRedisUrl } from '../support/redis.ts';
import { smallFarm, startSmallFarmSim, type SmallFarmSim } from '../support/small-farm.ts';

// wlab: pdu-1 and pdu-2 (60 kW each); fleet wa of four S19j Pro (LuxOS) on pdu-1, wb of three on pdu-2
const farm = smallFarm({
  block: '10.205',
  site: 'wlab',
  fleetPrefix: 'w',
  fleets: [{ count: 4 }, { count: 3 }],
});

let farmSim: SmallFarmSim;
let sim: RunningSimulator;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let service: RunningWorkerService | undefined;

beforeAll(async () => {
  farmSim = await startSmallFarmSim(farm, { sleepSeconds: 2 });
  sim = farmSim.sim;
}, 60_000);
afterAll(() => farmSim?.close());

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
    mapHost: farmSim.mapHost,
    portOffset: farmSim.portOffset,
    minerTimeoutMs: 1500,
    handleSignals: false,
    handlerOverrides: overrides,
  });

describe('worker service', () => {
  it('sleeps a fleet with device.batch, then confirms its PDU only once the power has fallen', async () => {
    service = await start();
    await sim.sim.waitForSample();
    expect(farmSim.nodeKw('pdu-1')).toBeGreaterThan(5); // four S19j Pro hashing

    await queues.add('device.batch', {
      planId: 'plan-w1',
      stepId: 'shed-1',
      epoch: 1,
      fleet: 'wa',
      feed: 'pdu-1',
      driver: 'luxos',
      action: 'sleep',
      targets: farmSim.targetsOf('wa'),
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
    expect(farmSim.nodeKw('pdu-1')).toBeLessThanOrEqual(0.5);
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

  it('fails a kube.action for good with a clear message when no cluster driver is configured', async () => {
    service = await start();
    await queues.add('kube.action', {
      planId: 'plan-w3',
      stepId: 'gpu-1',
      epoch: 1,
      action: 'set-gpu-mode',
      resource: { kind: 'Node', name: 'gpu-1' },
      params: { pool: 'gpu', mode: 'idle' },
    });
    const job = await waitFinished(queues.queues.kube, 'plan-w3~gpu-1~node/gpu-1~e1');
    expect(job.failedReason).toMatch(/no cluster driver configured/);
    expect(job.attemptsMade).toBe(1);
  });

  it('refuses to start when a job has no handler', async () => {
    await expect(start({ 'kube.action': undefined })).rejects.toThrow(HandlerCoverageError);
    await expect(start({ 'kube.action': undefined })).rejects.toThrow(/no handler for kube\.action/);
  });
});

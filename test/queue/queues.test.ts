// Producers against real Redis: deterministic ids collapse duplicates, every key carries the
// hash tag, payloads are checked before they reach Redis, phases are flows whose parent waits
// for its children, and repeatable jobs are job schedulers.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  createFlowProducer,
  createPlanPhaseHandler,
  createQueues,
  enqueuePhase,
  PayloadError,
  PrefixError,
  startWorkers,
  type FlowProducer,
  type JobQueues,
  type RunningWorkers,
} from '@switchyard/queue';
import {
  deviceBatch,
  dropPrefix,
  epochs,
  keysOf,
  producer,
  recordingHandlers,
  uniquePrefix,
  waitFinished,
} from './support.ts';
import { requireRedisUrl } from '../support/redis.ts';

let redis: Redis;
let prefix: string;
let queues: JobQueues;
let flows: FlowProducer | undefined;
let running: RunningWorkers | undefined;

beforeEach(async () => {
  redis = await producer();
  prefix = uniquePrefix();
  queues = createQueues(redis, { prefix });
});

afterEach(async () => {
  await running?.close({ force: true });
  running = undefined;
  await flows?.close();
  flows = undefined;
  await queues.close();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

describe('deterministic job ids', () => {
  it('collapses the same command added twice into one job', async () => {
    const a = await queues.add('device.batch', deviceBatch());
    const b = await queues.add('device.batch', deviceBatch());
    expect(a.id).toBe('plan-1~shed-1~fa~e1');
    expect(b.id).toBe(a.id);
    expect(await queues.queues.device.getJobCounts('waiting', 'active', 'delayed')).toEqual({
      waiting: 1,
      active: 0,
      delayed: 0,
    });
  });

  it('keeps commands of different steps, targets and epochs apart', async () => {
    await queues.add('device.batch', deviceBatch());
    await queues.add('device.batch', deviceBatch({ stepId: 'shed-2' }));
    await queues.add('device.batch', deviceBatch({ fleet: 'fb' }));
    await queues.add('device.batch', deviceBatch({ epoch: 2 }));
    expect(await queues.queues.device.getWaitingCount()).toBe(4);
  });

  it('carries the catalog attempts, backoff and retention on each job', async () => {
    const job = await queues.add('webhook.deliver', { deliveryId: '0b9f6a52-3c1d-4e8f-a7b2-5d4c3e2f1a09' });
    expect(job.id).toBe('webhook~0b9f6a52-3c1d-4e8f-a7b2-5d4c3e2f1a09');
    expect(job.opts).toMatchObject({ attempts: 12, backoff: { type: 'exponential', delay: 5000 } });
    expect(job.opts.removeOnFail).toEqual({ age: 7 * 24 * 3600, count: 50_000 });
  });
});

describe('payload validation on the producer side', () => {
  it('refuses an invalid payload before anything reaches Redis', async () => {
    await expect(queues.add('device.batch', deviceBatch({ action: 'reboot' }))).rejects.toThrow(PayloadError);
    await expect(queues.add('device.batch', deviceBatch({ epoch: undefined }))).rejects.toThrow(/epoch/);
    expect(await queues.queues.device.getWaitingCount()).toBe(0);
  });
});

describe('hash-tagged prefix', () => {
  it('refuses a prefix without a hash tag', () => {
    expect(() => createQueues(redis, { prefix: 'bull' })).toThrow(PrefixError);
    expect(() => createFlowProducer(redis, { prefix: 'switchyard' })).toThrow(PrefixError);
  });

  it('puts every key of every queue, job and flow in one hash slot', async () => {
    await queues.add('device.batch', deviceBatch());
    flows = createFlowProducer(redis, { prefix });
    await enqueuePhase(flows, {
      planId: 'plan-1',
      stepId: 'shed-1',
      epoch: 1,
      phase: 'shed',
      jobs: [{ name: 'device.batch', payload: deviceBatch({ fleet: 'fb' }) }],
    });
    await queues.schedule('telemetry.poll', { site: 'lab' }, { everyMs: 60_000 });
    const keys = await keysOf(redis, prefix);
    expect(keys.length).toBeGreaterThan(5);
    const tags = new Set(keys.map((k) => /\{([^}]+)\}/.exec(k)?.[1]));
    expect([...tags]).toEqual([prefix.slice(1, -1)]);
    expect(keys.every((k) => k.startsWith(`${prefix}:`))).toBe(true);
    // Redis Cluster would hash them all to one slot: the same CRC16 of the same tag.
    expect(new Set(keys.map(keySlot)).size).toBe(1);
  });
});

describe('phases as flows', () => {
  it('runs the phase parent only after every child has finished, and summarizes them', async () => {
    flows = createFlowProducer(redis, { prefix });
    const phase = {
      planId: 'plan-9',
      stepId: 'shed-1',
      epoch: 3,
      phase: 'shed' as const,
      jobs: [
        { name: 'device.batch' as const, payload: deviceBatch({ planId: 'plan-9', epoch: 3, fleet: 'fa' }) },
        { name: 'device.batch' as const, payload: deviceBatch({ planId: 'plan-9', epoch: 3, fleet: 'fb' }) },
      ],
    };
    const parent = await enqueuePhase(flows, phase);
    expect(parent.id).toBe('plan-9~shed-1~phase~e3');
    expect(await parent.getState()).toBe('waiting-children');
    // the same phase again: the flow collapses onto the same jobs
    await enqueuePhase(flows, phase);
    expect(await queues.queues.device.getWaitingCount()).toBe(2);
    expect(await queues.queues.plan.getWaitingChildrenCount()).toBe(1);

    const order: string[] = [];
    const handlers = recordingHandlers();
    const phaseHandler = createPlanPhaseHandler();
    handlers['device.batch'] = async (p) => {
      order.push(`batch ${p.fleet}`);
      return { fleet: p.fleet };
    };
    handlers['plan.phase'] = async (p, ctx) => {
      order.push('phase');
      return phaseHandler(p, ctx);
    };
    running = await startWorkers({
      connection: requireRedisUrl(),
      handlers,
      lease: epochs(3),
      prefix,
      handleSignals: false,
      queues: ['device', 'plan'],
    });
    const done = await waitFinished(queues.queues.plan, parent.id as string);
    expect(order.slice(0, 2).sort()).toEqual(['batch fa', 'batch fb']);
    expect(order[2]).toBe('phase');
    expect(done.returnvalue).toMatchObject({ planId: 'plan-9', phase: 'shed', completed: 2, status: 'done' });
  });

  it('lets the parent run and report a child that failed for good', async () => {
    flows = createFlowProducer(redis, { prefix });
    const parent = await enqueuePhase(flows, {
      planId: 'plan-3',
      stepId: 'shed-1',
      epoch: 1,
      phase: 'shed',
      jobs: [
        { name: 'device.batch', payload: deviceBatch({ planId: 'plan-3', fleet: 'ok' }) },
        { name: 'device.batch', payload: deviceBatch({ planId: 'plan-3', fleet: 'bad' }) },
      ],
    });
    const handlers = recordingHandlers();
    handlers['device.batch'] = async (p) => {
      if (p.fleet === 'bad') throw new PayloadError('device.batch', [{ path: 'x', message: 'permanent' }]);
      return 'ok';
    };
    handlers['plan.phase'] = createPlanPhaseHandler();
    running = await startWorkers({
      connection: requireRedisUrl(),
      handlers,
      lease: epochs(1),
      prefix,
      handleSignals: false,
      queues: ['device', 'plan'],
    });
    const done = await waitFinished(queues.queues.plan, parent.id as string);
    expect(done.returnvalue).toMatchObject({ completed: 1, status: 'partial' });
    expect(Object.keys(done.returnvalue.failed)).toEqual([`${prefix}:device:plan-3~shed-1~bad~e1`]);
    // the failed child is kept for inspection
    expect((await queues.queues.device.getFailed()).map((j) => j.id)).toEqual(['plan-3~shed-1~bad~e1']);
  });

  it('refuses children of another plan or epoch', async () => {
    flows = createFlowProducer(redis, { prefix });
    await expect(
      enqueuePhase(flows, {
        planId: 'plan-1',
        stepId: 'shed-1',
        epoch: 2,
        phase: 'shed',
        jobs: [{ name: 'device.batch', payload: deviceBatch({ epoch: 1 }) }],
      }),
    ).rejects.toThrow(/epoch/);
    await expect(
      enqueuePhase(flows, { planId: 'plan-1', stepId: 'shed-1', epoch: 1, phase: 'shed', jobs: [] }),
    ).rejects.toThrow(PayloadError);
    expect(await keysOf(redis, prefix)).toEqual([]);
  });
});

describe('repeatable jobs', () => {
  it('upserts one job scheduler per deterministic id and produces jobs from it', async () => {
    const id = await queues.schedule('signals.fetch', { source: 'ercot' }, { everyMs: 200 });
    await queues.schedule('signals.fetch', { source: 'ercot' }, { everyMs: 200 });
    expect(id).toBe('signals.fetch~ercot');
    const schedulers = await queues.queues.signals.getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toEqual(['signals.fetch~ercot']);
    const calls: Array<{ name: string; payload: unknown }> = [];
    running = await startWorkers({
      connection: requireRedisUrl(),
      handlers: { 'signals.fetch': recordingHandlers(calls)['signals.fetch'] },
      prefix,
      handleSignals: false,
      queues: ['signals'],
    });
    const deadline = Date.now() + 5000;
    while (calls.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]).toEqual({ name: 'signals.fetch', payload: { source: 'ercot' } });
    expect(await queues.unschedule('signals.fetch', { source: 'ercot' })).toBe(true);
  });
});

/** Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag, mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const tagged = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(tagged)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

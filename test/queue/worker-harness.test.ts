// The worker harness against real Redis: it refuses to start when the catalog and the handlers
// disagree or Redis may evict keys, fails bad payloads and permanent faults without retrying,
// keeps failed jobs, drops stale-epoch jobs, and closes gracefully (twice is fine).
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MinerError } from '@switchyard/miners';
import {
  connectRedis,
  createQueues,
  HandlerCoverageError,
  RedisPolicyError,
  startWorkers,
  UnrecoverableError,
  type JobQueues,
  type RunningWorkers,
} from '@switchyard/queue';
import {
  deviceBatch,
  dropPrefix,
  epochs,
  producer,
  recordingHandlers,
  sleep,
  uniquePrefix,
  waitFinished,
} from './support.ts';
import { requireRedisUrl, startPrivateRedis } from '../support/redis.ts';

let redis: Redis;
let prefix: string;
let queues: JobQueues;
let running: RunningWorkers | undefined;

beforeEach(async () => {
  redis = await producer();
  prefix = uniquePrefix();
  queues = createQueues(redis, { prefix });
});

afterEach(async () => {
  await running?.close({ force: true });
  running = undefined;
  await queues.close();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

const start = (over: Partial<Parameters<typeof startWorkers>[0]> = {}) =>
  startWorkers({
    connection: requireRedisUrl(),
    handlers: recordingHandlers(),
    lease: epochs(1),
    prefix,
    handleSignals: false,
    ...over,
  });

/** Adds a job straight to its queue, past the producer's validation (a foreign or old producer). */
const addRaw = (name: string, data: unknown, opts: { jobId: string; attempts?: number }) =>
  queues.queues.device.add(name, data, { attempts: 3, backoff: { type: 'fixed', delay: 10 }, ...opts });

describe('refusing to start', () => {
  it('refuses when a catalog job has no handler, naming it', async () => {
    const handlers: Record<string, unknown> = { ...recordingHandlers() };
    delete handlers['device.confirm'];
    await expect(start({ handlers })).rejects.toThrow(HandlerCoverageError);
    await expect(start({ handlers })).rejects.toThrow(/no handler for device\.confirm/);
  });

  it('refuses a handler for a job the catalog does not know', async () => {
    await expect(
      start({ handlers: { ...recordingHandlers(), 'miner.reboot': async () => 1 } }),
    ).rejects.toThrow(/not in the catalog: miner\.reboot/);
  });

  it('refuses fenced jobs without a lease to check epochs against', async () => {
    await expect(start({ lease: undefined })).rejects.toThrow(/lease/);
    running = await start({ lease: undefined, queues: ['telemetry', 'signals', 'webhook'] });
  });

  it("refuses a worker connection that gives up on commands (maxRetriesPerRequest isn't null)", async () => {
    const fast = await connectRedis(requireRedisUrl(), 'producer');
    try {
      await expect(start({ connection: fast })).rejects.toThrow(/maxRetriesPerRequest: null/);
    } finally {
      fast.disconnect();
    }
  });

  it('refuses a Redis that may evict keys, or only warns when told to', async () => {
    const lru = await startPrivateRedis(['--maxmemory-policy', 'allkeys-lru']);
    try {
      await expect(start({ connection: lru.url })).rejects.toThrow(RedisPolicyError);
      const warnings: string[] = [];
      const w = await start({
        connection: lru.url,
        evictionCheck: 'warn',
        logger: { info: () => undefined, error: () => undefined, warn: (_o, m) => warnings.push(m) },
      });
      await w.close();
      expect(warnings.join('\n')).toMatch(/allkeys-lru/);
    } finally {
      await lru.stop();
    }
  });
});

describe('running jobs', () => {
  it('hands the validated payload to the handler', async () => {
    const calls: Array<{ name: string; payload: unknown }> = [];
    running = await start({ handlers: recordingHandlers(calls) });
    const job = await queues.add('device.batch', deviceBatch());
    const done = await waitFinished(queues.queues.device, job.id as string);
    expect(done.returnvalue).toBe('ok');
    expect(calls).toEqual([{ name: 'device.batch', payload: deviceBatch() }]);
  });

  it('fails an invalid payload at once with UnrecoverableError, and keeps it', async () => {
    const calls: Array<{ name: string; payload: unknown }> = [];
    running = await start({ handlers: recordingHandlers(calls) });
    await addRaw('device.batch', deviceBatch({ action: 'explode' }), { jobId: 'bad-1', attempts: 5 });
    const failed = await waitFinished(queues.queues.device, 'bad-1');
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/invalid device\.batch payload: action/);
    expect(calls).toEqual([]);
    expect((await queues.queues.device.getFailed()).map((j) => j.id)).toEqual(['bad-1']);
  });

  it('fails a job with an unknown name without retrying it', async () => {
    running = await start();
    await addRaw('device.reboot', {}, { jobId: 'unknown-1', attempts: 5 });
    const failed = await waitFinished(queues.queues.device, 'unknown-1');
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/no handler for job "device.reboot"/);
  });

  it('retries transient faults and fails permanent ones at once', async () => {
    const tries: Record<string, number> = {};
    const handlers = recordingHandlers();
    handlers['device.batch'] = async (p) => {
      tries[p.fleet] = (tries[p.fleet] ?? 0) + 1;
      if (p.fleet === 'auth') throw new MinerError('auth', '10.0.0.1', 'access denied');
      if (p.fleet === 'flaky' && (tries[p.fleet] ?? 0) < 3)
        throw new MinerError('timeout', '10.0.0.1', 'no reply');
      if (p.fleet === 'explicit') throw new UnrecoverableError('operator said no');
      return 'ok';
    };
    running = await start({ handlers });
    for (const fleet of ['auth', 'flaky', 'explicit'])
      await addRaw('device.batch', deviceBatch({ fleet }), { jobId: fleet, attempts: 4 });
    const auth = await waitFinished(queues.queues.device, 'auth');
    const flaky = await waitFinished(queues.queues.device, 'flaky');
    const explicit = await waitFinished(queues.queues.device, 'explicit');
    expect([await auth.getState(), auth.attemptsMade, auth.failedReason]).toEqual([
      'failed',
      1,
      'auth (10.0.0.1): access denied',
    ]);
    expect([await flaky.getState(), tries.flaky]).toEqual(['completed', 3]);
    expect([await explicit.getState(), explicit.attemptsMade]).toEqual(['failed', 1]);
    // failed jobs stay for inspection, with their reason and stack
    const kept = await queues.queues.device.getFailed();
    expect(kept.map((j) => j.id).sort()).toEqual(['auth', 'explicit']);
    expect(kept.every((j) => (j.stacktrace?.length ?? 0) > 0)).toBe(true);
  });

  it('drops a job of a replaced leader without running it, as a completed job', async () => {
    const calls: Array<{ name: string; payload: unknown }> = [];
    running = await start({ handlers: recordingHandlers(calls), lease: epochs(5) });
    const stale = await queues.add('device.batch', deviceBatch({ epoch: 4 }));
    const current = await queues.add('device.batch', deviceBatch({ epoch: 5 }));
    const dropped = await waitFinished(queues.queues.device, stale.id as string);
    expect(await dropped.getState()).toBe('completed');
    expect(dropped.attemptsMade).toBe(1);
    expect(dropped.returnvalue).toEqual({
      status: 'dropped',
      reason: 'dropped: stale epoch 4 < 5',
      jobEpoch: 4,
      currentEpoch: 5,
    });
    expect((await waitFinished(queues.queues.device, current.id as string)).returnvalue).toBe('ok');
    expect(calls.map((c) => (c.payload as { epoch: number }).epoch)).toEqual([5]);
  });

  it('does not fence jobs that only read (telemetry, signals, webhooks)', async () => {
    const calls: Array<{ name: string; payload: unknown }> = [];
    running = await start({ handlers: recordingHandlers(calls), lease: epochs(99) });
    const job = await queues.add('webhook.deliver', { deliveryId: '7d2e4f60-1a3b-4c5d-8e9f-a0b1c2d3e4f5' });
    expect((await waitFinished(queues.queues.webhook, job.id as string)).returnvalue).toBe('ok');
  });
});

describe('closing', () => {
  it('waits for running jobs, and can be called twice', async () => {
    let finished = false;
    let started = false;
    const handlers = recordingHandlers();
    handlers['device.batch'] = async () => {
      started = true;
      await sleep(300);
      finished = true;
      return 'ok';
    };
    const w = await start({ handlers });
    const job = await queues.add('device.batch', deviceBatch());
    while (!started) await sleep(10);
    const [a, b] = [w.close(), w.close()];
    expect(a).toBe(b);
    await a;
    await w.close();
    expect(finished).toBe(true);
    expect(await (await queues.queues.device.getJob(job.id as string))?.getState()).toBe('completed');
  });

  it('closes on SIGTERM and removes its signal handlers', async () => {
    const before = process.listenerCount('SIGTERM');
    const w = await start({ handleSignals: true });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    // A second listener keeps the harness from re-raising the signal at the test process.
    const keepAlive = () => undefined;
    process.on('SIGTERM', keepAlive);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await w.close(); // the same promise the signal started
      expect(process.listenerCount('SIGTERM')).toBe(before + 1);
      expect(Object.values(w.workers).every((x) => x.closing !== undefined && !x.isRunning())).toBe(true);
    } finally {
      process.off('SIGTERM', keepAlive);
    }
  });
});

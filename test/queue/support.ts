// Helpers for the queue suites: every test gets its own hash-tagged prefix (BullMQ's own tests
// use a unique queue per test; our queue names are fixed by the catalog, so the prefix varies),
// and its keys are deleted afterwards.
import { randomUUID } from 'node:crypto';
import type { Job, Queue } from '@switchyard/queue';
import type { Redis } from 'ioredis';
import { connectRedis, type JobHandlers } from '@switchyard/queue';
import { requireRedisUrl } from '../support/redis.ts';

export const uniquePrefix = (): string => `{sy-test-${randomUUID().slice(0, 8)}}`;

export async function producer(): Promise<Redis> {
  return connectRedis(requireRedisUrl(), 'producer');
}

/** Deletes every key under the prefix. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${prefix.replace(/[{}[\]*?]/g, '\\$&')}*`,
      'COUNT',
      500,
    );
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Every key under the prefix. */
export async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${prefix.replace(/[{}[\]*?]/g, '\\$&')}*`,
      'COUNT',
      500,
    );
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

/** A handler for every job that records its calls and returns "ok". */
export function recordingHandlers(calls: Array<{ name: string; payload: unknown }> = []): JobHandlers {
  const rec = (name: string) => async (payload: unknown) => {
    calls.push({ name, payload });
    return 'ok';
  };
  return {
    'device.batch': rec('device.batch'),
    'device.confirm': rec('device.confirm'),
    'plan.phase': rec('plan.phase'),
    'kube.action': rec('kube.action'),
    'webhook.deliver': rec('webhook.deliver'),
    'telemetry.poll': rec('telemetry.poll'),
    'signals.fetch': rec('signals.fetch'),
  };
}

/** Polls until the job reaches a finished state; returns it re-read. */
export async function waitFinished(queue: Queue, id: string, timeoutMs = 15_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : 'missing';
    // re-read: the job was fetched before its state was, and may have finished in between
    if (job && (state === 'completed' || state === 'failed')) return (await queue.getJob(id)) as Job;
    if (Date.now() > deadline)
      throw new Error(`job ${id} did not finish in ${timeoutMs} ms (state ${state})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const epochs = (value: number | (() => number)) => ({
  currentEpoch: async () => (typeof value === 'number' ? value : value()),
});

export function deviceBatch(overrides: Record<string, unknown> = {}) {
  return {
    planId: 'plan-1',
    stepId: 'shed-1',
    epoch: 1,
    fleet: 'fa',
    feed: 'pdu-a',
    driver: 'luxos' as const,
    action: 'sleep' as const,
    targets: [{ host: '10.204.0.1', port: 4028 }],
    ...overrides,
  };
}

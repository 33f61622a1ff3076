// The Redis leader lease: one leader among contenders, epochs that only grow, loss detected at
// once (a deleted key, paused renewals, an unreachable Redis), and workers dropping the jobs of
// a replaced leader.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  assertCurrentEpoch,
  connectRedis,
  createQueues,
  RedisLeaderLease,
  StaleEpochError,
  startWorkers,
  type LeaseLossReason,
  type RedisLeaseOptions,
} from '@switchyard/queue';
import {
  deviceBatch,
  dropPrefix,
  producer,
  recordingHandlers,
  sleep,
  uniquePrefix,
  waitFinished,
} from './support.ts';
import { requireRedisUrl, startPrivateRedis } from '../support/redis.ts';

let redis: Redis;
let prefix: string;
const leases: RedisLeaderLease[] = [];

beforeEach(async () => {
  redis = await producer();
  prefix = uniquePrefix();
});

afterEach(async () => {
  await Promise.all(leases.splice(0).map((l) => l.release()));
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

const lease = (over: Partial<RedisLeaseOptions> = {}) => {
  const l = new RedisLeaderLease({ redis, prefix, ttlMs: 400, ...over });
  leases.push(l);
  return l;
};

function lossLog(l: RedisLeaderLease) {
  const log: Array<{ reason: LeaseLossReason; epoch: number; at: number }> = [];
  l.onLost((reason, epoch) => log.push({ reason, epoch, at: performance.now() }));
  return log;
}

describe('election', () => {
  it('makes exactly one of three contenders leader, with epoch 1', async () => {
    const [a, b, c] = [lease({ holderId: 'a' }), lease({ holderId: 'b' }), lease({ holderId: 'c' })];
    const won = await Promise.all([a, b, c].map((l) => l.acquire()));
    expect(won.filter(Boolean)).toHaveLength(1);
    const leader = [a, b, c][won.indexOf(true)] as RedisLeaderLease;
    expect([a, b, c].filter((l) => l.isLeader())).toEqual([leader]);
    expect(leader.epoch()).toBe(1);
    expect([a, b, c].filter((l) => l !== leader).map((l) => l.epoch())).toEqual([null, null]);
    expect(await a.currentEpoch()).toBe(1);
    expect(await redis.get(leader.key)).toBe(`${leader.holderId}|1`);
    // losers trying again change nothing
    expect(await Promise.all([a, b, c].filter((l) => l !== leader).map((l) => l.acquire()))).toEqual([
      false,
      false,
    ]);
    expect(await a.currentEpoch()).toBe(1);
  });

  it('keeps leading past the TTL while renewals run', async () => {
    const a = lease();
    const lost = lossLog(a);
    expect(await a.acquire()).toBe(true);
    await sleep(1000);
    expect(a.isLeader()).toBe(true);
    expect(lost).toEqual([]);
    expect(await lease().acquire()).toBe(false);
  });

  it('lets the next contender in at once after a release, with a higher epoch', async () => {
    const a = lease();
    const b = lease();
    await a.acquire();
    await a.release();
    await a.release(); // idempotent
    expect(a.isLeader()).toBe(false);
    expect(await b.acquire()).toBe(true);
    expect(b.epoch()).toBe(2);
  });

  it('never deletes a lease it does not hold', async () => {
    const a = lease({ autoRenew: false });
    await a.acquire();
    await sleep(450); // a's lease ran out
    const b = lease();
    expect(await b.acquire()).toBe(true);
    await a.release();
    expect(await redis.get(b.key)).toBe(`${b.holderId}|2`);
  });
});

describe('moving to a new epoch', () => {
  it('bumps the epoch while keeping the lease, and renewals go on under the new one', async () => {
    const a = lease({ holderId: 'a' });
    const lost = lossLog(a);
    await a.acquire();
    expect(await a.bump()).toBe(2);
    expect(a.epoch()).toBe(2);
    expect(await a.currentEpoch()).toBe(2);
    expect(await redis.get(a.key)).toBe('a|2');
    await sleep(600); // past the TTL: the background renewals use the new value
    expect(a.isLeader()).toBe(true);
    expect(lost).toEqual([]);
    expect(await lease().acquire()).toBe(false);
  });

  it('refuses to bump a lease that is no longer ours, and reports the loss', async () => {
    const a = lease({ holderId: 'a', autoRenew: false });
    const lost = lossLog(a);
    await a.acquire();
    await redis.set(a.key, 'b|9');
    expect(await a.bump()).toBeNull();
    expect(a.isLeader()).toBe(false);
    expect(lost.map((l) => l.reason)).toEqual(['renew-rejected']);
    expect(await a.currentEpoch()).toBe(1);
  });
});

describe('losing the lease', () => {
  it('fires onLost when the key is deleted, and a new leader gets a higher epoch', async () => {
    const a = lease({ autoRenew: false });
    const lost = lossLog(a);
    await a.acquire();
    await redis.del(a.key); // an operator, or a failover that lost the key
    expect(await a.renew()).toBe(false);
    expect(lost.map((l) => [l.reason, l.epoch])).toEqual([['renew-rejected', 1]]);
    expect(a.isLeader()).toBe(false);
    expect(a.epoch()).toBeNull();
    const b = lease();
    expect(await b.acquire()).toBe(true);
    expect(b.epoch()).toBe(2);
    await expect(assertCurrentEpoch(b, 1)).rejects.toThrow('dropped: stale epoch 1 < 2');
  });

  it('fires onLost by itself when renewals pause past the TTL', async () => {
    const a = lease({ autoRenew: false, ttlMs: 300 });
    const lost = lossLog(a);
    const t0 = performance.now();
    await a.acquire();
    await sleep(150);
    expect(a.isLeader()).toBe(true);
    await sleep(250);
    expect(lost.map((l) => l.reason)).toEqual(['expired']);
    expect((lost[0]?.at ?? 0) - t0).toBeGreaterThanOrEqual(280);
    expect((lost[0]?.at ?? 0) - t0).toBeLessThan(300 + 100); // timer latency on a busy machine
    expect(a.isLeader()).toBe(false);
    const b = lease();
    await sleep(20);
    expect(await b.acquire()).toBe(true);
    expect(b.epoch()).toBe(2);
    expect(await a.renew()).toBe(false);
    expect(lost).toHaveLength(1); // once per loss
  });

  it('stops leading by its own clock before Redis lets the lease go', async () => {
    let now = 1000;
    const a = lease({ autoRenew: false, ttlMs: 10_000, driftMs: 100, now: () => now });
    await a.acquire(); // sent at 1000: Redis holds the key until at least 11000
    now = 10_899;
    expect(a.isLeader()).toBe(true);
    now = 10_900;
    expect(a.isLeader()).toBe(false);
    expect(a.epoch()).toBeNull();
    expect(await redis.pttl(a.key)).toBeGreaterThan(9000); // still held in Redis: nobody else leads yet
    expect(await a.renew()).toBe(false);
  });

  it('notices a rejected renewal from the background loop', async () => {
    const a = lease({ ttlMs: 600, renewEveryMs: 100 });
    const lost = lossLog(a);
    await a.acquire();
    await redis.set(a.key, 'someone-else|9', 'PX', 10_000);
    await sleep(250);
    expect(lost.map((l) => l.reason)).toEqual(['renew-rejected']);
  });

  it('gives up leadership at the deadline when Redis is unreachable', async () => {
    const server = await startPrivateRedis();
    const conn = await connectRedis(server.url, 'producer');
    try {
      const a = new RedisLeaderLease({ redis: conn, prefix, ttlMs: 500, renewEveryMs: 100 });
      const lost = lossLog(a);
      const t0 = performance.now();
      expect(await a.acquire()).toBe(true);
      await server.stop();
      await sleep(800);
      expect(lost.map((l) => l.reason)).toEqual(['expired']);
      expect((lost[0]?.at ?? 0) - t0).toBeLessThan(500 + 100);
      expect(a.isLeader()).toBe(false);
    } finally {
      conn.disconnect();
      await server.stop();
    }
  });
});

describe('fencing workers', () => {
  it('drops the old leader’s jobs and runs the new leader’s', async () => {
    const queues = createQueues(redis, { prefix });
    const old = lease({ autoRenew: false, holderId: 'old' });
    const calls: Array<{ name: string; payload: unknown }> = [];
    const observer = new RedisLeaderLease({ redis, prefix }); // a worker only reads the epoch
    const running = await startWorkers({
      connection: requireRedisUrl(),
      handlers: recordingHandlers(calls),
      lease: observer,
      prefix,
      handleSignals: false,
      queues: ['device'],
    });
    try {
      await old.acquire();
      const oldEpoch = old.epoch() as number;
      await running.workers.device?.pause();
      const stale = await queues.add('device.batch', deviceBatch({ epoch: oldEpoch }));
      // the old leader stalls, its lease runs out, a new one takes over
      await sleep(450);
      const fresh = lease({ holderId: 'new' });
      expect(await fresh.acquire()).toBe(true);
      const current = await queues.add('device.batch', deviceBatch({ epoch: fresh.epoch() as number }));
      running.workers.device?.resume();
      const dropped = await waitFinished(queues.queues.device, stale.id as string);
      expect(dropped.returnvalue).toMatchObject({ status: 'dropped', reason: 'dropped: stale epoch 1 < 2' });
      await waitFinished(queues.queues.device, current.id as string);
      expect(calls.map((c) => (c.payload as { epoch: number }).epoch)).toEqual([2]);
    } finally {
      await running.close();
      await queues.close();
    }
  });

  it('refuses an epoch ahead of the current one too', async () => {
    const l = lease();
    await l.acquire();
    await expect(assertCurrentEpoch(l, 2)).rejects.toThrow(StaleEpochError);
    await expect(assertCurrentEpoch(l, 1)).resolves.toBe(1);
  });
});

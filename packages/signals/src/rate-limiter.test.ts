import { describe, expect, test } from '@jest/globals';
import { RateLimiter } from './rate-limiter.ts';

/** A clock that only moves when the limiter sleeps. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleeps,
    sleep: (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

describe('RateLimiter', () => {
  test('grants `limit` at once, then one per expired grant, in order', async () => {
    const t = fakeTime();
    const limiter = new RateLimiter({ limit: 3, windowMs: 60_000, marginMs: 0, now: t.now, sleep: t.sleep });
    const granted: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map((i) => limiter.acquire().then(() => granted.push(i))));
    expect(granted).toEqual([0, 1, 2, 3, 4]);
    expect(t.sleeps).toEqual([60_000]);
    expect(limiter.available()).toBe(1);
  });

  test('30 per minute: the 31st request waits for the window plus the margin', async () => {
    const t = fakeTime();
    const limiter = new RateLimiter({ limit: 30, windowMs: 60_000, now: t.now, sleep: t.sleep });
    for (let i = 0; i < 31; i++) await limiter.acquire();
    expect(t.sleeps).toEqual([61_200]);
  });

  test('an aborted waiter rejects and does not block those behind it', async () => {
    const t = fakeTime();
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000, marginMs: 0, now: t.now, sleep: t.sleep });
    await limiter.acquire();
    const ac = new AbortController();
    ac.abort(new Error('timeout'));
    await expect(limiter.acquire(ac.signal)).rejects.toThrow('timeout');
    await expect(limiter.acquire()).resolves.toBeUndefined();
  });

  test('refuses a nonsensical configuration', () => {
    expect(() => new RateLimiter({ limit: 0, windowMs: 1000 })).toThrow(/limit/);
  });
});

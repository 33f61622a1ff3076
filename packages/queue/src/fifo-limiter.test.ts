// The shared bound on miners commanded at once: never more than the permits, first come first served.
import { describe, expect, it } from '@jest/globals';
import { FifoLimiter } from './device-handlers.ts';

describe('FifoLimiter', () => {
  it('runs at most `permits` at once and starts waiters in the order they asked', async () => {
    const limiter = new FifoLimiter(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) =>
      limiter.run(async () => {
        started.push(i);
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running -= 1;
        return i;
      });
    expect(await Promise.all([0, 1, 2, 3, 4, 5].map(task))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('releases the permit when the task fails, and refuses a bound below one', async () => {
    const limiter = new FifoLimiter(1);
    await expect(limiter.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(async () => 'next')).toBe('next');
    expect(() => new FifoLimiter(0)).toThrow(RangeError);
  });
});

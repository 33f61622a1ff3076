import { describe, expect, it } from '@jest/globals';
import { SimClock, sleepSim } from './sim-clock.ts';

describe('SimClock', () => {
  it('runs speed simulated seconds per real second from its start', () => {
    let real = 5_000;
    const c = new SimClock({ realNow: () => real, speed: 60, simStartMs: 1_000_000 });
    expect(c.now()).toBe(1_000_000);
    real += 1000;
    expect(c.now()).toBe(1_060_000);
  });

  it('keeps sim time continuous across a speed change', () => {
    let real = 0;
    const c = new SimClock({ realNow: () => real, speed: 10, simStartMs: 0 });
    real = 1000;
    c.setSpeed(2);
    expect(c.now()).toBe(10_000);
    real = 2000;
    expect(c.now()).toBe(12_000);
  });

  it('gives another process the same time from the same parameters', () => {
    let real = 100;
    const a = new SimClock({ realNow: () => real, speed: 7, simStartMs: 42 });
    const b = new SimClock({ realNow: () => real, params: a.params() });
    real = 12_345;
    expect(b.now()).toBe(a.now());
  });

  it('rejects speeds that are not positive and finite', () => {
    expect(() => new SimClock({ speed: 0 })).toThrow(/speed/);
    expect(() => new SimClock({ speed: Number.POSITIVE_INFINITY })).toThrow(/speed/);
    expect(() => new SimClock().setSpeed(-1)).toThrow(/speed/);
  });

  it('sleepSim waits simulated time', async () => {
    const c = new SimClock({ speed: 1000 });
    const t0 = c.now();
    const r0 = performance.now();
    await sleepSim(c, 20_000);
    expect(c.now() - t0).toBeGreaterThanOrEqual(20_000);
    expect(performance.now() - r0).toBeLessThan(2000);
  });

  it('sleepSim can be aborted', async () => {
    const c = new SimClock({ speed: 1 });
    const ac = new AbortController();
    const p = sleepSim(c, 60_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
});

// Usage from recorded transitions, checked against figures worked out by hand.
import { describe, expect, it } from '@jest/globals';
import { billedIntervals, orderUsage, type UsageTransition } from './usage.ts';

const T0 = new Date('2026-07-01T12:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const t = (minutes: number, toState: UsageTransition['toState']): UsageTransition => ({
  at: at(minutes),
  toState,
});

describe('orderUsage', () => {
  it('bills the time spent running and preempting, interval by interval', () => {
    const u = orderUsage({
      gpuCount: 8,
      priceUsdPerGpuHour: '2.5000',
      transitions: [
        t(0, 'pending'),
        t(1, 'admitted'),
        t(2, 'running'),
        t(62, 'preempting'),
        t(67, 'preempted'),
      ],
      now: at(500),
    });
    expect(u.intervals).toEqual([
      // 60 min × 8 GPUs = 8 GPU-hours × 2.5 = 20 USD.
      {
        state: 'running',
        startedAt: at(2),
        endedAt: at(62),
        ongoing: false,
        seconds: 3600,
        gpuHours: 8,
        chargeUsd: 20,
      },
      // 5 min × 8 GPUs = 0.6667 GPU-hours × 2.5 = 1.66666… → 1.6667 USD.
      {
        state: 'preempting',
        startedAt: at(62),
        endedAt: at(67),
        ongoing: false,
        seconds: 300,
        gpuHours: 0.6667,
        chargeUsd: 1.6667,
      },
    ]);
    expect(u).toMatchObject({
      gpuCount: 8,
      priceUsdPerGpuHour: 2.5,
      seconds: 3900,
      gpuHours: 8.6667,
      chargeUsd: 21.6667,
      ongoing: false,
    });
  });

  it('counts an open interval up to now', () => {
    const u = orderUsage({
      gpuCount: 4,
      priceUsdPerGpuHour: 3.1,
      transitions: [t(0, 'pending'), t(0, 'admitted'), t(10, 'running')],
      now: at(40),
    });
    // 30 min × 4 GPUs = 2 GPU-hours × 3.1 = 6.2 USD.
    expect(u).toMatchObject({ seconds: 1800, gpuHours: 2, chargeUsd: 6.2, ongoing: true });
    expect(u.intervals[0]).toMatchObject({ endedAt: at(40), ongoing: true });
  });

  it('bills nothing for an order that never ran', () => {
    const u = orderUsage({
      gpuCount: 8,
      priceUsdPerGpuHour: '2.5000',
      transitions: [t(0, 'pending'), t(5, 'admitted'), t(6, 'cancelled')],
      now: at(60),
    });
    expect(u).toEqual({
      gpuCount: 8,
      priceUsdPerGpuHour: 2.5,
      intervals: [],
      seconds: 0,
      gpuHours: 0,
      chargeUsd: 0,
      ongoing: false,
    });
  });

  it('rounds each interval to 1/10,000 USD and adds the rounded charges', () => {
    // 3 GPUs × 1 s at 1.2345 = 0.00102875 → 0.0010 per interval.
    const u = orderUsage({
      gpuCount: 3,
      priceUsdPerGpuHour: '1.2345',
      transitions: [
        { at: new Date(T0.getTime()), toState: 'running' },
        { at: new Date(T0.getTime() + 1000), toState: 'preempting' },
        { at: new Date(T0.getTime() + 2000), toState: 'cancelled' },
      ],
      now: at(10),
    });
    expect(u.intervals.map((i) => i.chargeUsd)).toEqual([0.001, 0.001]);
    expect(u.chargeUsd).toBe(0.002);
    expect(u.seconds).toBe(2);
  });

  it('never counts negative time when events are out of order', () => {
    expect(billedIntervals([t(10, 'running'), t(5, 'completed')], at(20))).toEqual([
      { state: 'running', startedAt: at(10), endedAt: at(10), ongoing: false },
    ]);
    expect(billedIntervals([t(10, 'running')], at(5))[0]).toMatchObject({ endedAt: at(10), ongoing: true });
  });
});

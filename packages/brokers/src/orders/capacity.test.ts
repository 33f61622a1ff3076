// Capacity: whole nodes held by the orders in each pool, now and at the forecast horizons, and
// the prices per model, on hand-made pools and orders.
import { describe, expect, it } from '@jest/globals';
import { capacityOf, holdEndsAt, type CapacityPool, type HoldingOrder } from './capacity.ts';

const NOW = new Date('2026-07-01T12:00:00Z');
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const h100: CapacityPool = {
  name: 'h100-a',
  site: 'west-1',
  gpuModel: 'H100-SXM-80GB',
  vramGiB: 80,
  nodes: 32,
  gpusPerNode: 8,
  servingKw: 10.2,
  pue: 1.08,
  hashingPayoutUsdPerGpuHour: 0.18,
};
const h100b: CapacityPool = {
  ...h100,
  name: 'h100-b',
  nodes: 4,
  vramGiB: 80,
  hashingPayoutUsdPerGpuHour: 0.5,
};
const h200: CapacityPool = {
  ...h100,
  name: 'h200-b',
  gpuModel: 'H200-SXM-141GB',
  vramGiB: 141,
  nodes: 24,
  servingKw: 10.6,
  hashingPayoutUsdPerGpuHour: 0.2,
};

const order = (o: Partial<HoldingOrder>): HoldingOrder => ({
  pool: 'h100-a',
  state: 'running',
  gpuCount: 8,
  durationSeconds: null,
  endBy: null,
  startedAt: null,
  preemptAt: null,
  ...o,
});

const orders: HoldingOrder[] = [
  // 12 GPUs: 2 whole nodes, until 13:30.
  order({ gpuCount: 12, startedAt: at(-30), durationSeconds: 7200 }),
  // Admitted, not started, until its end-by at 22:00.
  order({ state: 'admitted', gpuCount: 8, endBy: at(600) }),
  // Under notice until 12:05: 1 node.
  order({ state: 'preempting', gpuCount: 3, startedAt: at(-60), durationSeconds: 86_400, preemptAt: at(5) }),
  // Admitted with a duration: it ends 2 h after it starts, at 14:00 at the earliest.
  order({ state: 'admitted', gpuCount: 1, durationSeconds: 7200 }),
  // Holds nothing: pending, terminal, or no pool.
  order({ state: 'pending', gpuCount: 64, pool: null }),
  order({ state: 'completed', gpuCount: 64 }),
  order({ state: 'running', gpuCount: 8, pool: 'gone-pool' }),
];

const energy = { 'west-1': { usdPerMwh: 50, source: 'signal' as const } };

describe('holdEndsAt', () => {
  it('is the earliest of end-by, the duration from the start (or now) and the preemption deadline', () => {
    expect(holdEndsAt(orders[0]!, NOW)).toEqual(at(90));
    expect(holdEndsAt(orders[1]!, NOW)).toEqual(at(600));
    expect(holdEndsAt(orders[2]!, NOW)).toEqual(at(5));
    expect(holdEndsAt(orders[3]!, NOW)).toEqual(at(120));
    expect(holdEndsAt(order({ durationSeconds: null, endBy: null }), NOW)).toBeNull();
  });
});

describe('capacityOf', () => {
  it('counts whole nodes held now and frees them as orders end', () => {
    const { report, pools } = capacityOf({
      pools: [h100],
      orders,
      energyBySite: energy,
      market: new Map(),
      now: NOW,
    });
    const p = report.models[0]!.pools[0]!;
    // Held now: 2 + 1 + 1 + 1 nodes of 32.
    expect(p).toMatchObject({ totalGpus: 256, freeNodes: 27, freeGpus: 216 });
    expect(p.forecast).toEqual([
      // +1 h: the preempted order is gone (12:05).
      { horizonSeconds: 3600, at: at(60).toISOString(), freeNodes: 28, freeGpus: 224 },
      // +6 h: the running one (13:30) and the 2 h admitted one (14:00) too.
      { horizonSeconds: 21_600, at: at(360).toISOString(), freeNodes: 31, freeGpus: 248 },
      // +24 h: the end-by order (22:00) too.
      { horizonSeconds: 86_400, at: at(1440).toISOString(), freeNodes: 32, freeGpus: 256 },
    ]);
    expect(pools).toEqual([expect.objectContaining({ name: 'h100-a', nodes: 32, freeNodes: 27 })]);
  });

  it('never counts below zero free', () => {
    const many = Array.from({ length: 40 }, () => order({ gpuCount: 8 }));
    const { report } = capacityOf({
      pools: [h100],
      orders: many,
      energyBySite: energy,
      market: new Map(),
      now: NOW,
    });
    expect(report.models[0]).toMatchObject({ freeGpus: 0, largestOrderGpus: 0 });
  });

  it('sums pools of a model, lists models in name order, and prices each tier', () => {
    const market = new Map([['H100-SXM-80GB', { value: 2.5, observedAt: at(-30) }]]);
    const { report } = capacityOf({
      pools: [h200, h100b, h100],
      orders,
      energyBySite: energy,
      market,
      now: NOW,
    });
    expect(report.generatedAt).toBe(NOW.toISOString());
    expect(report.energy).toEqual([{ site: 'west-1', usdPerMwh: 50, source: 'signal' }]);
    expect(report.models.map((m) => m.gpuModel)).toEqual(['H100-SXM-80GB', 'H200-SXM-141GB']);
    const [m100, m200] = report.models;
    expect(m100).toMatchObject({
      totalGpus: 256 + 32,
      freeGpus: 216 + 32,
      largestOrderGpus: 216,
      marketUsdPerGpuHour: 2.5,
      priceSource: 'market',
      prices: { reserved: 3.125, 'on-demand': 2.5, interruptible: 1.5167 }, // 2.5 × (0.6 + 0.2 × 120/3600) = 1.51666…
    });
    expect(m100!.pools.map((p) => p.name)).toEqual(['h100-a', 'h100-b']);
    expect(m100!.forecast[0]).toMatchObject({ freeNodes: 28 + 4, freeGpus: 224 + 32 });
    // h200: no market price: the floor, max(0.2 payout, 10.6 × 1.08 / 8 × 0.05 = 0.07155) × 1.15 = 0.23.
    expect(m200).toMatchObject({
      priceSource: 'floor',
      marketUsdPerGpuHour: null,
      prices: { reserved: 0.2875, 'on-demand': 0.23, interruptible: 0.23 },
    });
    expect(m200!.pools[0]!.floorUsdPerGpuHour).toBe(0.23);
  });

  it('assumes the worst energy price for a site without one', () => {
    const { report } = capacityOf({
      pools: [h100],
      orders: [],
      energyBySite: {},
      market: new Map(),
      now: NOW,
    });
    expect(report.energy).toEqual([{ site: 'west-1', usdPerMwh: 5000, source: 'worst-case' }]);
    // 10.2 × 1.08 / 8 × 5 = 6.885; × 1.15 = 7.9178.
    expect(report.models[0]!.prices['on-demand']).toBe(7.9178);
  });
});

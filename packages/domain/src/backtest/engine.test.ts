// The backtest engine on a small farm: it never looks ahead, the engine plans break no rule,
// the hindsight bound is never below a strategy, the strike rule counts consecutive intervals,
// carried memory makes dwell bind, and the report adds up.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { farmBuilder } from '../planner/testing/farm-builder.ts';
import { breakevenUsdPerMwh, hashpriceUsdPerThDay } from '../economics/economics.ts';
import { createBacktest, runBacktest, type IntervalResult } from './engine.ts';
import type { HistoryRow } from './history-csv.ts';

const H = 3_600_000;
const T0 = Date.UTC(2025, 6, 1, 5);

/** Two fleets (an old and a new model) on their own PDUs, and an 8-node H100 pool. */
const farm = (policy: Record<string, unknown> = {}) =>
  farmBuilder()
    .site({ name: 'west', interconnectKw: 5000, pue: 1.08, timezone: 'America/Chicago' })
    .zone('hall', { capacityKw: 3000, ratedAmbientC: 30, pctPerDegreeC: 2 })
    .policy({
      minDwellSeconds: 900,
      hysteresisUsdPerMwh: 5,
      maxCyclesPerDay: 4,
      wearCostUsdPerCycle: 0.5,
      ...policy,
    })
    .node('pdu-1', { limitKw: 800 })
    .node('pdu-2', { limitKw: 800 })
    .node('pdu-3', { limitKw: 200 })
    .fleet('old', { model: 'S19j Pro', count: 200, feed: 'pdu-1', zone: 'hall' })
    .fleet('new', { model: 'S21', count: 200, feed: 'pdu-2', zone: 'hall' })
    .pool('gpu', { nodes: 8, feed: 'pdu-3', zone: 'hall' })
    .build();

const row = (i: number, energy: number, o: Partial<HistoryRow> = {}, step = H): HistoryRow => ({
  line: i + 2,
  time: T0 + i * step,
  btcUsd: 95_000,
  difficulty: 1.1e14,
  feesBtcPerBlock: 0.05,
  energyUsdPerMwh: energy,
  subsidyBtc: null,
  gpuUsdPerGpuHour: 2,
  ambientC: 30,
  ...o,
});

const energyArb = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -30, max: 150, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: 150, max: 5000, noNaN: true }) },
);
const rowArb = fc.record({
  energy: energyArb,
  btc: fc.double({ min: 60_000, max: 130_000, noNaN: true }),
  ambient: fc.double({ min: 0, max: 45, noNaN: true }),
  gpu: fc.option(fc.double({ min: 0.5, max: 4, noNaN: true }), { nil: null, freq: 5 }),
});
const historyArb = (min: number, max: number) =>
  fc
    .array(rowArb, { minLength: min, maxLength: max })
    .map((xs) =>
      xs.map((x, i) => row(i, x.energy, { btcUsd: x.btc, ambientC: x.ambient, gpuUsdPerGpuHour: x.gpu })),
    );

async function collect(rows: HistoryRow[], f = farm(), opts = {}): Promise<IntervalResult[]> {
  const out: IntervalResult[] = [];
  await runBacktest(rows, f, { stepSeconds: 3600, onInterval: (r) => out.push(r), ...opts });
  return out;
}

describe('backtest engine', () => {
  it('never looks ahead: changing future rows never changes past decisions', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb(6, 30), fc.nat(), historyArb(1, 12), async (rows, cutSeed, other) => {
        const cut = 1 + (cutSeed % (rows.length - 1));
        const changed = [
          ...rows.slice(0, cut),
          ...other.map((r, i) => ({ ...r, time: T0 + (cut + i) * H, line: cut + i + 2 })),
        ];
        const a = await collect(rows);
        const b = await collect(changed);
        expect(b.slice(0, cut)).toEqual(a.slice(0, cut));
      }),
      { numRuns: 40 },
    );
  });

  it('the engine breaks no rule and the hindsight bound is never below any strategy', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb(2, 40), async (rows) => {
        const results = await collect(rows);
        for (const r of results) {
          expect(r.outcomes.engine.violations).toBe(0);
          const h = r.outcomes.hindsight.marginUsd;
          for (const s of ['engine', 'alwaysOn', 'strike'] as const)
            expect(h).toBeGreaterThanOrEqual(r.outcomes[s].marginUsd - 1e-6);
        }
        const rep = await runBacktest(rows, farm(), { stepSeconds: 3600 });
        expect(rep.engine.violations).toBe(0);
        expect(rep.baselines.hindsight.netUsd).toBeGreaterThanOrEqual(rep.engine.netUsd - 0.01);
        expect(rep.baselines.hindsight.netUsd).toBeGreaterThanOrEqual(rep.baselines.strike.netUsd - 0.01);
      }),
      { numRuns: 25 },
    );
  });

  it('adds the intervals up: net = revenue − energy − wear, wear = cycles × wear cost', async () => {
    const rows = [30, 30, 400, 400, 400, 400, 20, 20, 20, 20].map((e, i) => row(i, e));
    const rep = await runBacktest(rows, farm(), { stepSeconds: 3600 });
    expect(rep.intervals).toBe(10);
    expect(rep.from).toBe('2025-07-01T05:00:00Z');
    expect(rep.to).toBe('2025-07-01T15:00:00Z');
    for (const s of [rep.engine, rep.baselines.alwaysOn, rep.baselines.strike, rep.baselines.hindsight]) {
      const rev = s.revenueUsd.hashing + s.revenueUsd.inference + s.revenueUsd.gpuHashing;
      expect(s.netUsd).toBeCloseTo(rev - s.energyCostUsd - s.wearCostUsd, 1);
    }
    expect(rep.engine.wearCostUsd).toBeCloseTo(rep.engine.cycles * 0.5, 1);
    expect(rep.engine.cycles).toBeGreaterThan(0);
    expect(rep.baselines.alwaysOn.cycles).toBe(0);
    expect(rep.baselines.hindsight.wearCostUsd).toBe(0);
    expect(rep.captureRatio).toBeCloseTo(rep.engine.netUsd / rep.baselines.hindsight.netUsd, 3);
  });

  it('the strike baseline sleeps a fleet after N intervals above breakeven and wakes it after M below', async () => {
    const hp = hashpriceUsdPerThDay({
      difficulty: 1.1e14,
      btcUsd: 95_000,
      feesBtcPerBlock: 0.05,
      subsidyBtc: 3.125,
    });
    // S19j Pro normal: 3,068 W for 104 TH/s.
    const be = breakevenUsdPerMwh(hp, 3068 / 104, 1.08, 0.02);
    const prices = [be - 10, be + 10, be + 10, be + 10, be - 10, be - 10, be + 10];
    const results = await collect(
      prices.map((e, i) => row(i, e)),
      farm(),
      { strike: { n: 2, m: 2 } },
    );
    const asleep = results.map((r) => r.outcomes.strike.fleets.old?.asleep);
    expect(asleep).toEqual([0, 0, 200, 200, 200, 0, 0]);
    // The efficient fleet never crosses its breakeven here.
    expect(results.every((r) => r.outcomes.strike.fleets.new?.asleep === 0)).toBe(true);
  });

  it('carries memory: with 15-minute rows a fleet put to sleep stays asleep through its dwell', async () => {
    const f = farm({ minDwellSeconds: 1800, intervalSeconds: 300 });
    const prices = [30, 500, 20, 20, 20];
    const results: IntervalResult[] = [];
    await runBacktest(
      prices.map((e, i) => row(i, e, {}, H / 4)),
      f,
      { stepSeconds: 900, onInterval: (r) => results.push(r) },
    );
    const old = results.map((r) => r.outcomes.engine.fleets.old?.asleep);
    expect(old[1]).toBe(200);
    expect(old[2]).toBe(200); // 15 min after the change: in its 30-minute dwell
    expect(old[3]).toBe(0); // 30 min after: free to wake
    expect(results.every((r) => r.outcomes.engine.violations === 0)).toBe(true);
  });

  it('reports gaps, and refuses rows out of order', async () => {
    const rows = [row(0, 30), row(1, 30), row(5, 30), row(6, 30)];
    const rep = await runBacktest(rows, farm(), { stepSeconds: 3600 });
    expect(rep.intervals).toBe(4);
    expect(rep.gaps).toEqual([
      { after: '2025-07-01T06:00:00Z', before: '2025-07-01T10:00:00Z', line: 7, missingIntervals: 3 },
    ]);
    const bt = createBacktest(farm(), { stepSeconds: 3600 });
    await bt.step(row(1, 30));
    await expect(bt.step(row(0, 30))).rejects.toThrow('does not come after');
  });

  it('keeps only rows in [from, to)', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => row(i, 30));
    const rep = await runBacktest(rows, farm(), { stepSeconds: 3600, from: T0 + 2 * H, to: T0 + 5 * H });
    expect(rep.intervals).toBe(3);
    expect(rep.from).toBe('2025-07-01T07:00:00Z');
  });

  it('sells GPUs to the market when the row has a GPU price, and not otherwise', async () => {
    const withGpu = await runBacktest([row(0, 30), row(1, 30)], farm(), { stepSeconds: 3600 });
    expect(withGpu.engine.revenueUsd.inference).toBeCloseTo(2 * 8 * 8 * 2, 1);
    const without = await runBacktest([row(0, 30), row(1, 30)], farm(), {
      stepSeconds: 3600,
      gpuDemand: 'none',
    });
    expect(without.engine.revenueUsd.inference).toBe(0);
    expect(without.engine.revenueUsd.gpuHashing).toBeGreaterThan(0);
  });

  it('names the site when the farm has several', () => {
    const two = farmBuilder()
      .site({ name: 'a' })
      .fleet('x', { model: 'S21', count: 2, feed: 'root' })
      .build();
    two.sites.push({ ...(two.sites[0] as (typeof two.sites)[number]), metadata: { name: 'b' } });
    expect(() => createBacktest(two, { stepSeconds: 3600 })).toThrow('the farm has 2 sites (a, b); name one');
    expect(() => createBacktest(two, { stepSeconds: 3600, site: 'c' })).toThrow(
      'site "c" is not in the farm',
    );
  });
});

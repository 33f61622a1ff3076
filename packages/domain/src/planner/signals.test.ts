import { describe, expect, it } from '@jest/globals';
import { farmBuilder, planInput, signal } from './testing/farm-builder.ts';
import { greedyOk } from './testing/assertions.ts';
import { hashpriceUsdPerThDay } from '../economics/economics.ts';

const farm = (o: Parameters<ReturnType<typeof farmBuilder>['site']>[0] = {}) =>
  farmBuilder()
    .site({ interconnectKw: 2000, priceCapUsdPerMwh: 3000, ...o })
    .fleet('a', { model: 'S21', count: 10, feed: 'root' })
    .build();

describe('signals and staleness', () => {
  it.each([
    ['fresh', 30, false, 55, []],
    [
      'soft-stale (source says stale): used, with a warning',
      300,
      true,
      55,
      [/energy price from ercot-rt is 300 s old \(stale at the source\); using it/],
    ],
    [
      'beyond the hard limit: the price cap',
      901,
      false,
      3000,
      [/energy price from ercot-rt is 901 s old \(limit 900 s\): assuming the price cap \$3,000\/MWh/],
    ],
  ] as const)('energy %s', (_name, age, stale, expected, warnings) => {
    const p = greedyOk(planInput(farm()).energy(55, { ageSeconds: age, stale }).build());
    expect(p.prices.energyUsdPerMwh).toBe(expected);
    for (const w of warnings) expect(p.warnings.some((x) => w.test(x))).toBe(true);
    if (warnings.length === 0) expect(p.warnings).toEqual([]);
  });

  it('a lost energy price sheds everything unprofitable at the cap', () => {
    const p = greedyOk(planInput(farm()).energy(20, { ageSeconds: 10_000 }).build());
    expect(p.fleets.a?.target.asleep).toBe(10);
    expect(p.changes[0]?.reason).toMatch(
      /^energy \$3,000\/MWh > breakeven \$\d+\/MWh \+ hysteresis \$5\/MWh$/,
    );
  });

  it('a fixed contract ignores the market price', () => {
    const p = greedyOk(
      planInput(farm({ pricing: 'fixed', fixedUsdPerMwh: 42 }))
        .energy(900, { ageSeconds: 99_999 })
        .build(),
    );
    expect(p.prices.energyUsdPerMwh).toBe(42);
    expect(p.warnings).toEqual([]);
  });

  it('a published hashprice wins over the derived one; without it, hashprice is derived', () => {
    const withLuxor = greedyOk(planInput(farm()).hashprice(0.061).build());
    expect(withLuxor.prices.hashpriceUsdPerThDay).toBeCloseTo(0.061, 6);
    const derived = greedyOk(planInput(farm()).signals({ hashpriceUsdPerThDay: undefined }).build());
    const expected = hashpriceUsdPerThDay({
      difficulty: 88.1e12,
      btcUsd: 63_700,
      feesBtcPerBlock: 0.44,
      subsidyBtc: 3.125,
    });
    expect(derived.prices.hashpriceUsdPerThDay).toBeCloseTo(expected, 6);
  });

  it('a hard-stale hashprice is derived instead; a hard-stale BTC price means hashprice $0', () => {
    const p = greedyOk(planInput(farm()).hashprice(0.2, { ageSeconds: 7200 }).build());
    expect(p.prices.hashpriceUsdPerThDay).toBeCloseTo(0.0519, 3);
    expect(p.warnings.join('\n')).toMatch(/hashprice from luxor is 7,200 s old: derived instead/);
    const lost = greedyOk(
      planInput(farm())
        .signals({
          hashpriceUsdPerThDay: undefined,
          btcUsd: signal(64_000, { ageSeconds: 4000, source: 'coinbase' }),
        })
        .build(),
    );
    expect(lost.prices.hashpriceUsdPerThDay).toBe(0);
    expect(lost.fleets.a?.target.asleep).toBe(10);
    expect(lost.warnings.join('\n')).toMatch(
      /hashprice cannot be derived: BTC price \(coinbase, 4,000 s old\) — assuming \$0\/TH\/day/,
    );
  });

  it('a missing ambient derates cooling for the worst case', () => {
    const f = farmBuilder()
      .site({ interconnectKw: 2000 })
      .zone('hall', { capacityKw: 30, ratedAmbientC: 35, pctPerDegreeC: 2 })
      .fleet('a', { model: 'S21', count: 10, feed: 'root', zone: 'hall' })
      .build();
    const p = greedyOk(planInput(f).build());
    expect(p.warnings.join('\n')).toMatch(/ambient temperature is missing: derating cooling for 45 °C/);
    expect(p.loads.coolingZones.hall?.capKw).toBeCloseTo(30 * 0.8, 6);
  });
});

import { describe, expect, it } from '@jest/globals';
import { asicValueUsdPerHour, breakevenUsdPerMwh, hashpriceUsdPerThDay, subsidyAt } from './economics.ts';

describe('hashprice', () => {
  it('matches the check value in PRODUCT.md: D = 88.1e12, $63.7k, 0.44 BTC fees → about $51.9/PH/day', () => {
    const hp = hashpriceUsdPerThDay({
      difficulty: 88.1e12,
      btcUsd: 63_700,
      feesBtcPerBlock: 0.44,
      subsidyBtc: 3.125,
    });
    expect(hp * 1000).toBeCloseTo(51.9, 1);
  });

  it('scales linearly with price and inversely with difficulty', () => {
    const base = { difficulty: 100e12, btcUsd: 90_000, feesBtcPerBlock: 0.1, subsidyBtc: 3.125 };
    const hp = hashpriceUsdPerThDay(base);
    expect(hashpriceUsdPerThDay({ ...base, btcUsd: 180_000 })).toBeCloseTo(2 * hp, 12);
    expect(hashpriceUsdPerThDay({ ...base, difficulty: 200e12 })).toBeCloseTo(hp / 2, 12);
  });
});

describe('breakeven', () => {
  it.each([
    ['S21 (17.5 J/TH)', 17.5, 119],
    ['S19j Pro (29.5 J/TH)', 29.5, 71],
  ])('at $50/PH/day, %s breaks even near $%d/MWh (PUE 1, no pool fee)', (_name, jth, expected) => {
    expect(Math.round(breakevenUsdPerMwh(0.05, jth, 1, 0))).toBe(expected);
  });

  it('is the price at which the group value is zero', () => {
    const hp = 0.052;
    const be = breakevenUsdPerMwh(hp, 21.5, 1.08, 0.02);
    // 100 TH/s at 21.5 J/TH draws 2.15 kW.
    expect(asicValueUsdPerHour(100, 2.15, hp, 0.02, 1.08, be)).toBeCloseTo(0, 10);
  });
});

describe('subsidy schedule', () => {
  it.each([
    ['2019-06-01T00:00:00Z', 12.5],
    ['2022-06-01T00:00:00Z', 6.25],
    ['2024-04-19T00:00:00Z', 6.25],
    ['2024-04-21T00:00:00Z', 3.125],
    ['2026-11-21T00:00:00Z', 3.125],
    ['2028-06-01T00:00:00Z', 1.5625],
  ])('%s → %d BTC', (at, btc) => expect(subsidyAt(new Date(at))).toBe(btc));
});

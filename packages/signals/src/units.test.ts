import { describe, expect, test } from '@jest/globals';
import {
  hashesPerSecondToEhs,
  meanBtcPerBlock,
  median,
  parseDecimal,
  parseFeedTimestamp,
  parseSatoshiString,
  perPhToPerTh,
  perThToPerPh,
  quantile,
  satsToBtc,
} from './units.ts';

describe('satoshi strings', () => {
  test.each([
    ['0', 0n],
    ['6336000000', 6_336_000_000n],
    ['9007199254740993', 9_007_199_254_740_993n],
  ])('parses %s exactly', (s, n) => expect(parseSatoshiString(s)).toBe(n));

  test.each(['', ' 1', '1.5', '-1', '1e8', '0x10', '123456789012345678901', 'NaN'])('refuses %j', (s) =>
    expect(() => parseSatoshiString(s)).toThrow(/not a satoshi amount/),
  );

  test('BTC from satoshis keeps the last satoshi above 2^53', () => {
    // 2^53 + 1 sats: a float parse of the string would round it to 2^53.
    expect(satsToBtc(9_007_199_254_740_993n)).toBe(90_071_992 + 54_740_993 / 1e8);
    expect(satsToBtc(1n)).toBe(1e-8);
  });

  test('mean fees per block over 144 blocks', () => {
    expect(meanBtcPerBlock(parseSatoshiString('6336000000'), 144)).toBeCloseTo(0.44, 15);
    expect(() => meanBtcPerBlock(1n, 0)).toThrow(/positive integer/);
  });
});

describe('unit conversions', () => {
  test('hash rates and hashprice units', () => {
    expect(hashesPerSecondToEhs(630e18)).toBeCloseTo(630, 12);
    expect(perPhToPerTh(51.9)).toBeCloseTo(0.0519, 15);
    expect(perThToPerPh(perPhToPerTh(48.7))).toBeCloseTo(48.7, 12);
  });
});

describe('feed timestamps', () => {
  test.each([
    ['2026-03-18T19:00:00Z', '2026-03-18T19:00:00.000Z'],
    ['2026-03-18T14:00:00-05:00', '2026-03-18T19:00:00.000Z'],
    ['2026-03-18 14:00-0500', '2026-03-18T19:00:00.000Z'],
    ['2026-03-18T19:00:00.250Z', '2026-03-18T19:00:00.250Z'],
    [1_773_860_400, '2026-03-18T19:00:00.000Z'],
    ['1773860400', '2026-03-18T19:00:00.000Z'],
    [1_773_860_400_000, '2026-03-18T19:00:00.000Z'],
  ])('%j is %s', (raw, iso) => expect(parseFeedTimestamp(raw)?.toISOString()).toBe(iso));

  test.each(['2026-03-18T19:00:00', '2026-03-18', 'yesterday', '', null, -5, {}])(
    '%j is refused (no zone or not a time)',
    (raw) => expect(parseFeedTimestamp(raw)).toBeUndefined(),
  );
});

describe('decimals', () => {
  test.each([
    ['45.3', 45.3],
    [' -12 ', -12],
    ['1e3', 1000],
    ['.5', 0.5],
    [7, 7],
  ])('%j → %d', (raw, n) => expect(parseDecimal(raw)).toBe(n));
  test.each(['', 'abc', '12abc', 'NaN', 'Infinity', '1,5', null, Number.NaN])('%j is not a number', (raw) =>
    expect(parseDecimal(raw)).toBeUndefined(),
  );
});

describe('quantiles', () => {
  test('median of odd and even lists, quantiles by interpolation', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(() => median([])).toThrow(/empty/);
  });
});

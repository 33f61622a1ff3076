// Parsing and reduction rules of the sources, without the network.
import { describe, expect, test } from '@jest/globals';
import { SignalSourceError } from '../signal-source-error.ts';
import { ercotRows } from './ercot-source.ts';
import { meanFeesFromRewardStats } from './mempool-source.ts';
import { rowsToCurve } from './tabular-price-source.ts';
import { sameGpuName, summarizeOffers } from './vast-source.ts';

describe('mempool.space reward stats', () => {
  test('mean fees per block in BTC from satoshi strings over the block range', () => {
    const f = meanFeesFromRewardStats({
      startBlock: 890_000,
      endBlock: 890_143,
      totalReward: '51336000000',
      totalFee: '6336000000',
    });
    expect(f.blocks).toBe(144);
    expect(f.feesBtcPerBlock).toBeCloseTo(0.44, 15);
    expect(f.subsidyBtcPerBlock).toBeCloseTo(3.125, 15);
  });

  test('a range that does not match a sane block count falls back to 144', () => {
    expect(
      meanFeesFromRewardStats({
        startBlock: 0,
        endBlock: 890_143,
        totalReward: '51336000000',
        totalFee: '6336000000',
      }).blocks,
    ).toBe(144);
  });

  test('fees above the total reward are refused', () => {
    expect(() =>
      meanFeesFromRewardStats({ startBlock: 1, endBlock: 144, totalReward: '5', totalFee: '6' }),
    ).toThrow(/exceeds/);
  });
});

describe('Vast.ai offers', () => {
  const offer = (
    dph_total: number,
    num_gpus: number,
    reliability2: number | null = 0.99,
    gpu_name = 'H100 SXM',
  ) => ({
    dph_total,
    num_gpus,
    reliability2,
    gpu_name,
    min_bid: dph_total / 2,
  });

  test('median per-GPU price over reliable offers of the model', () => {
    const s = summarizeOffers(
      [
        offer(2, 1),
        offer(16, 8),
        offer(5, 2),
        offer(0.1, 1, 0.5),
        offer(3, 1, null),
        offer(1, 1, 0.99, 'A100 SXM4'),
        { junk: true },
        offer(-3, 1),
        offer(2, 0),
      ],
      'h100_sxm',
      0.95,
      3,
    )!;
    expect(s).toMatchObject({ usdPerGpuHour: 2, offers: 3, ignored: 6, minBidPerGpuHour: 1 });
    expect(s.p25).toBe(2);
    expect(s.p75).toBe(2.25);
  });

  test('too few usable offers: no price', () => {
    expect(summarizeOffers([offer(2, 1), offer(2, 1)], 'H100 SXM', 0.95, 3)).toBeUndefined();
  });

  test('model names compare without case, spaces or underscores', () => {
    expect(sameGpuName('RTX_4090', 'rtx 4090')).toBe(true);
    expect(sameGpuName('H100 SXM', 'H100 NVL')).toBe(false);
  });
});

describe('ERCOT report rows', () => {
  test('array rows are named by fields; object rows pass through', () => {
    expect(ercotRows({ fields: [{ name: 'a' }, { name: 'b' }], data: [[1, 2]] })).toEqual([{ a: 1, b: 2 }]);
    expect(ercotRows({ data: [{ a: 1 }] })).toEqual([{ a: 1 }]);
    expect(() => ercotRows({ data: [[1]] })).toThrow(SignalSourceError);
  });
});

describe('tabular rows', () => {
  const opts = { name: 'feed', timeField: 'time', valueField: 'price' };
  test('rows become points, scaled', () => {
    expect(
      rowsToCurve([{ time: '2026-03-18T19:00:00Z', price: '0.045' }], { ...opts, valueScale: 1000 }),
    ).toEqual([{ at: new Date('2026-03-18T19:00:00Z'), value: 45 }]);
  });
  test.each([
    [[{ time: '2026-03-18T19:00:00', price: '1' }], /row 1: time .* not a time with a zone/],
    [[{ time: '2026-03-18T19:00:00Z', price: 'n/a' }], /row 1: price "n\/a" is not a number/],
    [[{ time: '2026-03-18T19:00:00Z', price: '1' }, 'x'], /row 2 is not an object/],
  ])('%j is malformed', (rows, message) => {
    expect(() => rowsToCurve(rows, opts)).toThrow(message);
  });
});

// Money arithmetic, reference prices, tier prices and quotes, on figures worked out by hand.
import { describe, expect, it } from '@jest/globals';
import {
  chargeUnits,
  DEFAULT_PRICING_POLICY,
  energyPriceFor,
  floorUnits,
  normalizeGpuModel,
  poolPrice,
  quoteFor,
  roundTo,
  servingEnergyUsdPerGpuHour,
  tierUnits,
  usdNumber,
  usdString,
  usdUnits,
  type PoolEconomics,
  type QuotePool,
} from './pricing.ts';

const NOW = new Date('2026-07-01T12:00:00Z');
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);
// examples/farm.yaml's h100-a at PUE 1.08.
const H100: PoolEconomics = { gpusPerNode: 8, servingKw: 10.2, pue: 1.08, hashingPayoutUsdPerGpuHour: 0.18 };

describe('money', () => {
  it('parses decimal strings exactly, rounding half up past 4 decimals', () => {
    expect(usdUnits('2.5')).toBe(25_000n);
    expect(usdUnits('2.5000')).toBe(25_000n);
    expect(usdUnits('0.0001')).toBe(1n);
    expect(usdUnits('2.50005')).toBe(25_001n);
    expect(usdUnits('2.50004999')).toBe(25_000n);
    expect(usdUnits('-1.5')).toBe(-15_000n);
    expect(usdUnits('10000')).toBe(100_000_000n);
    for (const bad of ['', 'abc', '1e3', '1.2.3', ' . ']) expect(() => usdUnits(bad)).toThrow(RangeError);
  });

  it('takes numbers to 4 decimals without binary noise', () => {
    expect(usdUnits(1.00005)).toBe(10_001n); // 1.00005 × 1e4 is 10000.499999999998 in binary
    expect(usdUnits(0.1 + 0.2)).toBe(3_000n);
    expect(usdUnits(2.5)).toBe(25_000n);
    expect(usdUnits(-0.00005)).toBe(-1n);
    expect(() => usdUnits(Number.NaN)).toThrow(RangeError);
    expect(() => usdUnits(Infinity)).toThrow(RangeError);
  });

  it('writes amounts back as 4-decimal strings and numbers', () => {
    expect(usdString(25_000n)).toBe('2.5000');
    expect(usdString(5n)).toBe('0.0005');
    expect(usdString(-15_000n)).toBe('-1.5000');
    expect(usdString(0n)).toBe('0.0000');
    expect(usdNumber(12_345n)).toBe(1.2345);
    expect(roundTo(8.666666666)).toBe(8.6667);
    expect(roundTo(-0.00004)).toBe(0);
  });

  it('charges price × GPUs × hours, rounded to 1/10,000 USD', () => {
    // 2.5 USD × 8 GPUs × 1.5 h = 30 USD.
    expect(chargeUnits(25_000n, 8, 90 * 60_000)).toBe(300_000n);
    // 1.2345 × 3 × 1/3600 h = 0.00102875 USD → 0.0010.
    expect(chargeUnits(12_345n, 3, 1000)).toBe(10n);
    // 4096 GPUs at 10,000 USD for 90 days: no overflow, exact.
    expect(chargeUnits(100_000_000n, 4096, 90 * 86_400_000)).toBe(884_736_000_000_000n);
    expect(chargeUnits(25_000n, 8, -5)).toBe(0n);
  });
});

describe('reference prices', () => {
  it('costs serving energy per GPU-hour from the node draw and PUE', () => {
    // 10.2 kW × 1.08 / 8 GPUs = 1.377 kWh per GPU-hour; at 50 USD/MWh = 0.06885 USD.
    expect(servingEnergyUsdPerGpuHour(H100, 50)).toBeCloseTo(0.06885, 10);
    expect(servingEnergyUsdPerGpuHour(H100, -20)).toBe(0);
  });

  it('floors at the hashing payout or the energy cost, whichever is higher, plus the margin', () => {
    // Cheap energy: the payout (0.18) wins; × 1.15 = 0.207.
    expect(floorUnits(H100, 50)).toBe(2_070n);
    // At a 5,000 USD/MWh cap: 1.377 × 5 = 6.885; × 1.15 = 7.91775 → 7.9178.
    expect(floorUnits(H100, 5000)).toBe(79_178n);
    // A pool that does not hash.
    expect(floorUnits({ ...H100, hashingPayoutUsdPerGpuHour: null }, 50)).toBe(792n); // 0.06885 × 1.15 = 0.0791775
  });

  it('takes a fresh market price, never below the floor; the floor without one', () => {
    const energy = { usdPerMwh: 50, source: 'signal' as const };
    expect(poolPrice(H100, energy, { value: 2.5, observedAt: ago(60) }, NOW)).toEqual({
      floorUnits: 2_070n,
      marketUnits: 25_000n,
      baseUnits: 25_000n,
      source: 'market',
    });
    // Seven hours old: past the 6 h limit.
    expect(poolPrice(H100, energy, { value: 2.5, observedAt: ago(7 * 60) }, NOW)).toMatchObject({
      baseUnits: 2_070n,
      marketUnits: null,
      source: 'floor',
    });
    // A curve point valid until an hour ago counts its age from then.
    expect(
      poolPrice(H100, energy, { value: 2.5, observedAt: ago(10 * 60), validUntil: ago(60) }, NOW).source,
    ).toBe('market');
    // Below the floor: the floor.
    expect(poolPrice(H100, energy, { value: 0.1, observedAt: ago(1) }, NOW)).toMatchObject({
      baseUnits: 2_070n,
      marketUnits: 1_000n,
      source: 'floor',
    });
    expect(poolPrice(H100, energy, null, NOW).source).toBe('floor');
  });

  it('prices the tiers: reserved at a premium, interruptible at a discount that shrinks with notice', () => {
    const p = { baseUnits: 25_000n, floorUnits: 2_070n };
    expect(tierUnits(p, 'reserved', 3600)).toBe(31_250n);
    expect(tierUnits(p, 'on-demand', 900)).toBe(25_000n);
    expect(tierUnits(p, 'interruptible', 0)).toBe(15_000n);
    expect(tierUnits(p, 'interruptible', 1800)).toBe(17_500n);
    expect(tierUnits(p, 'interruptible', 3600)).toBe(20_000n);
    expect(tierUnits(p, 'interruptible', 86_400)).toBe(20_000n);
    // Never below the floor.
    expect(tierUnits({ baseUnits: 25_000n, floorUnits: 21_000n }, 'interruptible', 0)).toBe(21_000n);
  });

  it('costs energy at the contract, the fresh signal, or the worst case', () => {
    const rt = { value: 42, observedAt: ago(5) };
    const da = { value: 38, observedAt: ago(30) };
    expect(energyPriceFor({ pricing: 'fixed', fixedUsdPerMwh: 61 }, { realTime: rt }, NOW)).toEqual({
      usdPerMwh: 61,
      source: 'contract',
    });
    expect(energyPriceFor({ pricing: 'real-time' }, { realTime: rt, dayAhead: da }, NOW)).toEqual({
      usdPerMwh: 42,
      source: 'signal',
    });
    expect(energyPriceFor({ pricing: 'day-ahead' }, { realTime: rt, dayAhead: da }, NOW).usdPerMwh).toBe(38);
    const stale = { value: 42, observedAt: ago(3 * 60) };
    expect(
      energyPriceFor({ pricing: 'real-time', priceCapUsdPerMwh: 3000 }, { realTime: stale }, NOW),
    ).toEqual({
      usdPerMwh: 3000,
      source: 'worst-case',
    });
    expect(energyPriceFor(undefined, {}, NOW)).toEqual({
      usdPerMwh: DEFAULT_PRICING_POLICY.worstEnergyUsdPerMwh,
      source: 'worst-case',
    });
  });
});

describe('quotes', () => {
  const pool = (o: Partial<QuotePool> & Pick<QuotePool, 'name' | 'gpuModel'>): QuotePool => ({
    vramGiB: 80,
    gpusPerNode: 8,
    nodes: 32,
    freeNodes: 32,
    price: { baseUnits: 25_000n, floorUnits: 2_070n, source: 'market' },
    ...o,
  });
  const pools = [
    pool({ name: 'h100-a', gpuModel: 'H100-SXM-80GB', freeNodes: 2 }),
    pool({
      name: 'h200-b',
      gpuModel: 'H200-SXM-141GB',
      vramGiB: 141,
      nodes: 24,
      freeNodes: 24,
      price: { baseUnits: 35_000n, floorUnits: 2_300n, source: 'floor' },
    }),
  ];
  const req = {
    gpuModels: ['H100-SXM-80GB'],
    minVramGiB: 0,
    gpuCount: 16,
    tier: 'on-demand' as const,
    noticeSeconds: 900,
    maxUsdPerGpuHour: 3,
    seconds: 7200,
  };

  it('quotes the cheapest pool that fits and has the nodes free now', () => {
    const q = quoteFor({ ...req, gpuModels: ['H200-SXM-141GB', 'H100-SXM-80GB'] }, pools);
    expect(q).toMatchObject({ ok: true, nodes: 2, priceUnits: 25_000n, source: 'market' });
    if (!q.ok) throw new Error('refused');
    expect(q.pool.name).toBe('h100-a');
    // 2.5 × 16 GPUs × 2 h = 80 USD.
    expect(q.totalUnits).toBe(800_000n);
    // Names compare without case, spaces or underscores.
    expect(quoteFor({ ...req, gpuModels: ['h100 sxm_80gb'] }, pools).ok).toBe(true);
    expect(normalizeGpuModel('H100 SXM_80GB')).toBe('h100-sxm-80gb');
  });

  it('takes another pool when the cheaper one has no room', () => {
    const q = quoteFor(
      { ...req, gpuModels: ['H200-SXM-141GB', 'H100-SXM-80GB'], gpuCount: 24, maxUsdPerGpuHour: 5 },
      pools,
    );
    expect(q.ok && q.pool.name).toBe('h200-b');
    expect(q.ok && q.nodes).toBe(3);
  });

  it.each([
    [
      { gpuModels: ['A100-40GB'] },
      'no-pool-fits',
      'no GPU pool has A100-40GB; the farm has H100-SXM-80GB, H200-SXM-141GB',
    ],
    [
      { minVramGiB: 100 },
      'no-pool-fits',
      'no pool of H100-SXM-80GB has 100 GiB per GPU (the most is 80 GiB)',
    ],
    [{ gpuCount: 257 }, 'no-pool-fits', 'has 257 GPUs (the largest has 256)'],
    [{ gpuCount: 24 }, 'no-capacity', 'h100-a has 2 of 32 nodes of 8 GPUs free'],
    [
      { maxUsdPerGpuHour: 2 },
      'over-max-price',
      'the on-demand price of H100-SXM-80GB in h100-a is 2.5000 USD per GPU-hour, above maxUsdPerGpuHour 2.0000',
    ],
    [{ tier: 'reserved' as const, maxUsdPerGpuHour: 3 }, 'over-max-price', 'is 3.1250 USD per GPU-hour'],
  ])('refuses %j: %s', (change, code, detail) => {
    const q = quoteFor({ ...req, ...change }, pools);
    expect(q.ok).toBe(false);
    if (q.ok) return;
    expect(q.code).toBe(code);
    expect(q.detail).toContain(detail);
  });

  it('accepts a price exactly at the maximum', () => {
    expect(quoteFor({ ...req, maxUsdPerGpuHour: 2.5 }, pools).ok).toBe(true);
    expect(
      quoteFor({ ...req, tier: 'interruptible', noticeSeconds: 0, maxUsdPerGpuHour: 1.5 }, pools),
    ).toMatchObject({
      ok: true,
      priceUnits: 15_000n,
    });
  });
});

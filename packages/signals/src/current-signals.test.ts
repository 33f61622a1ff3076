import { describe, expect, test } from '@jest/globals';
import {
  chooseCurrent,
  deriveHashprice,
  readingAgeSeconds,
  scheduledSubsidy,
  type Candidate,
  type CurrentSignal,
} from './current-signals.ts';
import { DEFAULT_SIGNAL_POLICY as policy } from './signal-policy.ts';
import { SIGNAL_UNITS, type SignalName, type SignalReading } from './signal-types.ts';

const NOW = new Date('2026-03-18T19:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);
const reading = (
  signal: SignalName,
  value: number,
  secondsAgo: number,
  source = 's',
  extra: Partial<SignalReading> = {},
): SignalReading => ({
  signal,
  value,
  unit: SIGNAL_UNITS[signal],
  source,
  observedAt: ago(secondsAgo),
  fetchedAt: NOW,
  ...extra,
});
const cand = (r: SignalReading, extra: Partial<Candidate> = {}): Candidate => ({ reading: r, ...extra });

describe('readingAgeSeconds', () => {
  test('from observedAt, or from the end of the validity window, never negative', () => {
    expect(readingAgeSeconds(reading('btc_usd', 1, 90), NOW)).toBe(90);
    expect(
      readingAgeSeconds(reading('energy_usd_per_mwh', 1, 1200, 's', { validUntil: ago(300) }), NOW),
    ).toBe(300);
    expect(readingAgeSeconds(reading('energy_usd_per_mwh', 1, 60, 's', { validUntil: ago(-600) }), NOW)).toBe(
      0,
    );
  });
});

describe('chooseCurrent', () => {
  test('the first fresh candidate by priority wins', () => {
    const c = chooseCurrent(
      'btc_usd',
      undefined,
      [cand(reading('btc_usd', 1, 30, 'a')), cand(reading('btc_usd', 2, 5, 'b'))],
      policy,
      NOW,
    );
    expect(c).toMatchObject({ value: 1, source: 'a', stale: false, assumeWorst: false, ageSeconds: 30 });
  });

  test('a fresh lower-priority candidate beats a stale higher-priority one', () => {
    const c = chooseCurrent(
      'btc_usd',
      undefined,
      [cand(reading('btc_usd', 1, 900, 'a')), cand(reading('btc_usd', 2, 5, 'b'))],
      policy,
      NOW,
    );
    expect(c).toMatchObject({ value: 2, source: 'b' });
  });

  test('with none fresh, the freshest stale one is used and flagged', () => {
    const c = chooseCurrent(
      'btc_usd',
      undefined,
      [cand(reading('btc_usd', 1, 3000, 'a')), cand(reading('btc_usd', 2, 900, 'b'))],
      policy,
      NOW,
    );
    expect(c).toMatchObject({ value: 2, source: 'b', stale: true, assumeWorst: false });
    expect(c.reason).toMatch(/900 s old \(soft limit 600 s\)/);
  });

  test.each<[SignalName, number | null]>([
    ['energy_usd_per_mwh', 5000],
    ['energy_da_usd_per_mwh', 5000],
    ['hashprice_usd_per_th_day', 0],
    ['gpu_usd_per_gpu_hour', 0],
    ['btc_usd', 0],
    ['ambient_c', 45],
    ['difficulty', null],
  ])('past the hard limit, %s assumes the worst: %p', (signal, worst) => {
    const c = chooseCurrent(signal, undefined, [cand(reading(signal, 1, 10 * 86_400))], policy, NOW);
    expect(c).toMatchObject({
      value: worst,
      assumeWorst: true,
      stale: true,
      source: 'worst-case',
      lastGood: { value: 1 },
    });
  });

  test('with no reading at all: worst case, no last good', () => {
    const c = chooseCurrent('energy_usd_per_mwh', undefined, [], policy, NOW);
    expect(c).toMatchObject({
      value: 5000,
      assumeWorst: true,
      ageSeconds: null,
      reason: 'no usable reading: assuming the worst',
    });
    expect(c.lastGood).toBeUndefined();
  });

  test('expired candidates (overrides past expiry) are ignored entirely', () => {
    const o = reading('energy_usd_per_mwh', 80, 60, 'operator:a', { expiresAt: ago(1), validUntil: ago(1) });
    expect(chooseCurrent('energy_usd_per_mwh', undefined, [cand(o)], policy, NOW)).toMatchObject({
      assumeWorst: true,
    });
  });

  test('a held jump is reported while the last good value stays in use', () => {
    const held = { reading: reading('btc_usd', 250_000, 10), heldSince: ago(10) };
    const c = chooseCurrent(
      'btc_usd',
      undefined,
      [cand(reading('btc_usd', 63_700, 70), { held })],
      policy,
      NOW,
    );
    expect(c).toMatchObject({ value: 63_700, heldJump: { value: 250_000, heldSince: ago(10) } });
  });
});

describe('deriveHashprice', () => {
  const cur = (
    signal: SignalName,
    value: number,
    source: string,
    extra: Partial<CurrentSignal> = {},
  ): CurrentSignal => ({
    signal,
    unit: SIGNAL_UNITS[signal],
    value,
    source,
    observedAt: ago(60),
    ageSeconds: 60,
    stale: false,
    assumeWorst: false,
    ...extra,
  });
  const inputs = {
    difficulty: cur('difficulty', 88.1e12, 'mempool.space'),
    fees: cur('fees_btc_per_block', 0.44, 'mempool.space'),
    btcUsd: cur('btc_usd', 63_700, 'coingecko'),
  };

  test('difficulty 88.1e12, $63.7k, 0.44 BTC fees/block → about $51.9/PH/day', () => {
    const d = deriveHashprice(inputs, NOW, policy)!;
    expect(d.reading.value * 1000).toBeCloseTo(51.85, 2);
    expect(d.reading.source).toBe('derived(mempool.space,coingecko)');
    expect(d.freshness).toBe('fresh');
    expect(readingAgeSeconds(d.reading, NOW)).toBe(60);
  });

  test('stale when any input is stale, with the oldest input age', () => {
    const d = deriveHashprice(
      { ...inputs, btcUsd: cur('btc_usd', 63_700, 'coingecko', { stale: true, ageSeconds: 900 }) },
      NOW,
      policy,
    )!;
    expect(d.freshness).toBe('stale');
    expect(readingAgeSeconds(d.reading, NOW)).toBe(900);
  });

  test('absent when any input is unusable', () => {
    expect(
      deriveHashprice(
        { ...inputs, fees: cur('fees_btc_per_block', 0, 'worst-case', { assumeWorst: true }) },
        NOW,
        policy,
      ),
    ).toBeUndefined();
    expect(
      deriveHashprice({ difficulty: inputs.difficulty, fees: inputs.fees }, NOW, policy),
    ).toBeUndefined();
  });

  test('the subsidy follows the halving schedule', () => {
    expect(scheduledSubsidy(NOW).reading.value).toBe(3.125);
    expect(scheduledSubsidy(new Date('2028-06-01T00:00:00Z')).reading.value).toBe(1.5625);
  });
});

import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { judgeReading, type HeldReading } from './reading-judge.ts';
import { DEFAULT_SIGNAL_POLICY, isJump, outOfBounds, signalPolicy } from './signal-policy.ts';
import { SIGNAL_UNITS, type SignalName, type SignalReading } from './signal-types.ts';

const NOW = new Date('2026-03-18T19:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);

function r(
  signal: SignalName,
  value: number,
  secondsAgo = 0,
  extra: Partial<SignalReading> = {},
): SignalReading {
  return {
    signal,
    value,
    unit: SIGNAL_UNITS[signal],
    source: 's',
    observedAt: ago(secondsAgo),
    fetchedAt: NOW,
    ...extra,
  };
}
const held = (reading: SignalReading): HeldReading => ({ reading, heldSince: ago(60) });

describe('judgeReading', () => {
  const policy = DEFAULT_SIGNAL_POLICY;
  test.each<[string, Parameters<typeof judgeReading>[0], string, RegExp | undefined]>([
    ['first reading', { reading: r('btc_usd', 63_700), now: NOW, policy }, 'accepted', undefined],
    [
      'negative price',
      { reading: r('btc_usd', -1), now: NOW, policy },
      'rejected',
      /outside \(0, 10000000\]/,
    ],
    [
      'zero GPU price',
      { reading: r('gpu_usd_per_gpu_hour', 0, 0, { subject: 'H100' }), now: NOW, policy },
      'rejected',
      undefined,
    ],
    [
      'NaN',
      { reading: r('fees_btc_per_block', Number.NaN), now: NOW, policy },
      'rejected',
      /not a finite number/,
    ],
    [
      'negative energy above the floor',
      { reading: r('energy_usd_per_mwh', -40), now: NOW, policy },
      'accepted',
      undefined,
    ],
    [
      'energy below the floor',
      { reading: r('energy_usd_per_mwh', -251), now: NOW, policy },
      'rejected',
      undefined,
    ],
    [
      'observed in the future',
      { reading: r('btc_usd', 1, -600), now: NOW, policy },
      'rejected',
      /in the future/,
    ],
    ['expired', { reading: r('btc_usd', 1, 0, { expiresAt: NOW }), now: NOW, policy }, 'rejected', /expired/],
    [
      'older than the last good',
      { reading: r('btc_usd', 63_000, 120), lastGood: r('btc_usd', 63_700, 60), now: NOW, policy },
      'rejected',
      /older/,
    ],
    [
      'small move',
      { reading: r('btc_usd', 64_000), lastGood: r('btc_usd', 63_700, 60), now: NOW, policy },
      'accepted',
      undefined,
    ],
    [
      '×4 jump',
      { reading: r('btc_usd', 254_800), lastGood: r('btc_usd', 63_700, 60), now: NOW, policy },
      'held',
      /beyond ×3/,
    ],
    [
      '÷4 drop',
      { reading: r('btc_usd', 15_925), lastGood: r('btc_usd', 63_700, 60), now: NOW, policy },
      'held',
      undefined,
    ],
    [
      'jump confirmed by a second reading near the held one',
      {
        reading: r('btc_usd', 250_000),
        lastGood: r('btc_usd', 63_700, 60),
        held: held(r('btc_usd', 254_800, 30)),
        now: NOW,
        policy,
      },
      'confirmed',
      undefined,
    ],
    [
      'a second, different jump is held in turn',
      {
        reading: r('btc_usd', 2_000_000),
        lastGood: r('btc_usd', 63_700, 60),
        held: held(r('btc_usd', 254_800, 30)),
        now: NOW,
        policy,
      },
      'held',
      undefined,
    ],
    [
      'trusted (operator) jump',
      { reading: r('btc_usd', 254_800), lastGood: r('btc_usd', 63_700, 60), now: NOW, policy, trusted: true },
      'accepted',
      undefined,
    ],
    [
      'jump against a value past its hard limit starts afresh',
      { reading: r('btc_usd', 254_800), lastGood: r('btc_usd', 63_700, 2 * 3600), now: NOW, policy },
      'accepted',
      undefined,
    ],
    [
      'difficulty +40%',
      { reading: r('difficulty', 1.4e14), lastGood: r('difficulty', 1e14, 60), now: NOW, policy },
      'accepted',
      undefined,
    ],
    [
      'difficulty ×10',
      { reading: r('difficulty', 1e15), lastGood: r('difficulty', 1e14, 60), now: NOW, policy },
      'rejected',
      /band ±50%/,
    ],
    [
      'difficulty −60%',
      { reading: r('difficulty', 4e13), lastGood: r('difficulty', 1e14, 60), now: NOW, policy },
      'rejected',
      undefined,
    ],
    [
      'fees triple (not a price)',
      {
        reading: r('fees_btc_per_block', 0.3),
        lastGood: r('fees_btc_per_block', 0.05, 60),
        now: NOW,
        policy,
      },
      'accepted',
      undefined,
    ],
    [
      'energy 30 → −30 (within the difference scale)',
      { reading: r('energy_usd_per_mwh', -30), lastGood: r('energy_usd_per_mwh', 30, 60), now: NOW, policy },
      'accepted',
      undefined,
    ],
    [
      'energy 30 → −200',
      { reading: r('energy_usd_per_mwh', -200), lastGood: r('energy_usd_per_mwh', 30, 60), now: NOW, policy },
      'held',
      undefined,
    ],
  ])('%s', (_name, input, status, reason) => {
    const v = judgeReading(input);
    expect(v.status).toBe(status);
    if (reason) expect(v.reason).toMatch(reason);
  });

  test('optimistic mode holds only moves that make running look better', () => {
    const p = signalPolicy({ jumpHold: 'optimistic' });
    const energy = (v: number) =>
      judgeReading({
        reading: r('energy_usd_per_mwh', v),
        lastGood: r('energy_usd_per_mwh', 40, 60),
        now: NOW,
        policy: p,
      });
    expect(energy(400).status).toBe('accepted'); // a spike: act on it now
    expect(energy(5).status).toBe('held'); // a collapse: wait for confirmation
    const gpu = (v: number) =>
      judgeReading({
        reading: r('gpu_usd_per_gpu_hour', v, 0, { subject: 'H100' }),
        lastGood: r('gpu_usd_per_gpu_hour', 2, 60, { subject: 'H100' }),
        now: NOW,
        policy: p,
      });
    expect(gpu(10).status).toBe('held');
    expect(gpu(0.5).status).toBe('accepted');
  });

  test('property: whatever the input, a reading outside the bounds is never accepted', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: false }),
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        (value, last) => {
          const v = judgeReading({
            reading: r('btc_usd', value),
            lastGood: r('btc_usd', last, 60),
            now: NOW,
            policy,
          });
          if (v.status === 'accepted' || v.status === 'confirmed')
            expect(outOfBounds('btc_usd', value, policy)).toBeUndefined();
        },
      ),
    );
  });

  test('property: the jump rule is symmetric', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1e6, noNaN: true }),
        fc.double({ min: 0.01, max: 1e6, noNaN: true }),
        (a, b) => {
          expect(isJump('btc_usd', a, b, 3)).toBe(isJump('btc_usd', b, a, 3));
        },
      ),
    );
  });
});

describe('signalPolicy', () => {
  test('merges overrides and checks them', () => {
    const p = signalPolicy({ staleness: { btc_usd: { softSeconds: 120 } }, jumpFactor: 2 });
    expect(p.staleness.btc_usd).toEqual({ softSeconds: 120, hardSeconds: 3600 });
    expect(p.jumpFactor).toBe(2);
    expect(() => signalPolicy({ staleness: { btc_usd: { softSeconds: 7200 } } })).toThrow(/soft .* <= hard/);
    expect(() => signalPolicy({ jumpFactor: 1 })).toThrow(/jumpFactor/);
  });
});

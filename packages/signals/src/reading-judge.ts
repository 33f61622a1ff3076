// The sanity rules every reading passes before the hub uses it, as one pure function:
// absolute bounds, time checks, the difficulty band and the jump-hold rule for prices.
import { PRICE_SIGNALS, isJump, isOptimisticMove, outOfBounds, type SignalPolicy } from './signal-policy.ts';
import type { SignalReading } from './signal-types.ts';

export type ReadingStatus = 'accepted' | 'confirmed' | 'held' | 'rejected' | 'derived';

/** Statuses whose readings become (or are) the last good value. */
export const USABLE_STATUSES: readonly ReadingStatus[] = ['accepted', 'confirmed', 'derived'];

export interface HeldReading {
  reading: SignalReading;
  /** When the first reading of the jump arrived. */
  heldSince: Date;
}

export interface JudgeInput {
  reading: SignalReading;
  now: Date;
  policy: SignalPolicy;
  /** The series' last good reading from the same source. */
  lastGood?: SignalReading | undefined;
  /** A jump from the same source waiting for confirmation. */
  held?: HeldReading | undefined;
  /** Operator-entered values skip the relative rules (band, jumps) but not the bounds. */
  trusted?: boolean;
}

export interface Verdict {
  status: Exclude<ReadingStatus, 'derived'>;
  reason?: string;
}

function agoSeconds(now: Date, at: Date): number {
  return (now.getTime() - at.getTime()) / 1000;
}

/** Decides what the hub does with one reading. Pure: the caller applies the verdict. */
export function judgeReading(input: JudgeInput): Verdict {
  const { reading: r, now, policy, lastGood, held } = input;
  const bad = outOfBounds(r.signal, r.value, policy);
  if (bad) return { status: 'rejected', reason: bad };
  if (Number.isNaN(r.observedAt.getTime())) return { status: 'rejected', reason: 'observedAt is not a time' };
  if (-agoSeconds(now, r.observedAt) > policy.maxFutureSkewSeconds)
    return {
      status: 'rejected',
      reason: `observed ${Math.round(-agoSeconds(now, r.observedAt))} s in the future`,
    };
  if (r.expiresAt && r.expiresAt.getTime() <= now.getTime()) return { status: 'rejected', reason: 'expired' };
  if (lastGood && r.observedAt.getTime() < lastGood.observedAt.getTime())
    return { status: 'rejected', reason: 'older than the last good reading' };
  if (input.trusted || !lastGood) return { status: 'accepted' };

  // Relative rules compare with a recent reference only: after an outage longer than the hard
  // staleness limit, the first reading starts afresh instead of being judged against old news.
  if (agoSeconds(now, lastGood.validUntil ?? lastGood.observedAt) > policy.staleness[r.signal].hardSeconds)
    return { status: 'accepted' };

  if (r.signal === 'difficulty') {
    const change = Math.abs(r.value / lastGood.value - 1) * 100;
    if (change > policy.difficultyBandPct)
      return {
        status: 'rejected',
        reason: `difficulty ${r.value} is ${change.toFixed(0)}% from the last good ${lastGood.value} (band ±${policy.difficultyBandPct}%)`,
      };
    return { status: 'accepted' };
  }

  if (!PRICE_SIGNALS.has(r.signal)) return { status: 'accepted' };
  const jumped =
    isJump(r.signal, lastGood.value, r.value, policy.jumpFactor) &&
    (policy.jumpHold === 'both' || isOptimisticMove(r.signal, lastGood.value, r.value));
  if (!jumped) return { status: 'accepted' };
  if (held && !isJump(r.signal, held.reading.value, r.value, policy.jumpFactor))
    return { status: 'confirmed', reason: `jump from ${lastGood.value} confirmed by a second reading` };
  return {
    status: 'held',
    reason: `jump from ${lastGood.value} to ${r.value} (beyond ×${policy.jumpFactor}) held until a second reading confirms it`,
  };
}

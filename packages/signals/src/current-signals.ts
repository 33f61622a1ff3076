// Which value the planner uses for each signal, and why: the freshest trustworthy reading by
// source priority, degraded to a stale value while that is allowed, then to the worst case.
// Pure functions over the hub's state; the hub supplies the candidates in priority order.
import { hashpriceUsdPerThDay, subsidyAt } from '@switchyard/domain';
import type { HeldReading } from './reading-judge.ts';
import { outOfBounds, worstCaseValue, type SignalPolicy } from './signal-policy.ts';
import { SIGNAL_UNITS, type SignalName, type SignalReading } from './signal-types.ts';

export type Freshness = 'fresh' | 'stale' | 'expired';

export interface HeldJump {
  /** The reading waiting for confirmation (not in use). */
  value: number;
  source: string;
  observedAt: Date;
  heldSince: Date;
}

export interface LastGoodSummary {
  value: number;
  source: string;
  observedAt: Date;
  ageSeconds: number;
}

export interface CurrentSignal {
  signal: SignalName;
  subject?: string;
  unit: string;
  /** The value to use. Under assumeWorst it is the worst case (null where none is defined). */
  value: number | null;
  /** Where the value came from; `worst-case` under assumeWorst. */
  source: string;
  observedAt: Date | null;
  /** Seconds since the value stopped being current (see readingAgeSeconds). */
  ageSeconds: number | null;
  /** Older than the soft limit (or derived from such inputs), or assumeWorst. */
  stale: boolean;
  /** Nothing usable within the hard limit: the consumer must assume the worst. */
  assumeWorst: boolean;
  /** Why the value is stale, worst-case or derived. */
  reason?: string;
  /** Under assumeWorst, the newest reading there was, for the record. */
  lastGood?: LastGoodSummary;
  /** A price jump waiting for a second reading; the value above is still the last good one. */
  heldJump?: HeldJump;
}

/** Current value of every series, keyed by seriesKey (`btc_usd`, `gpu_usd_per_gpu_hour:H100`). */
export type CurrentSignals = Record<string, CurrentSignal>;

export interface Candidate {
  reading: SignalReading;
  held?: HeldReading | undefined;
  /** Freshness decided by the caller (derived values inherit their inputs'). */
  freshness?: Freshness;
  /** Why this candidate exists, when not obvious (derivations). */
  note?: string;
}

/**
 * Seconds since a reading stopped being current: since the end of its validity window when it
 * has one (settlement intervals, curve points, overrides), else since it was observed. Never
 * negative.
 */
export function readingAgeSeconds(r: SignalReading, now: Date): number {
  const from = (r.validUntil ?? r.observedAt).getTime();
  return Math.max(0, (now.getTime() - from) / 1000);
}

export function readingFreshness(r: SignalReading, now: Date, policy: SignalPolicy): Freshness {
  const age = readingAgeSeconds(r, now);
  const limit = policy.staleness[r.signal];
  if (age <= limit.softSeconds) return 'fresh';
  return age <= limit.hardSeconds ? 'stale' : 'expired';
}

function heldJumpOf(c: Candidate | undefined): HeldJump | undefined {
  if (!c?.held) return undefined;
  const r = c.held.reading;
  return { value: r.value, source: r.source, observedAt: r.observedAt, heldSince: c.held.heldSince };
}

function fromCandidate(c: Candidate, now: Date, stale: boolean, reason?: string): CurrentSignal {
  const r = c.reading;
  return {
    signal: r.signal,
    ...(r.subject !== undefined && { subject: r.subject }),
    unit: r.unit,
    value: r.value,
    source: r.source,
    observedAt: r.observedAt,
    ageSeconds: Math.round(readingAgeSeconds(r, now)),
    stale,
    assumeWorst: false,
    ...(reason !== undefined && { reason }),
  };
}

/**
 * Picks the value of one series from its candidates (highest priority first): the first fresh
 * one; else the freshest stale one; else the worst case. A held jump is reported from the
 * chosen candidate, or the first candidate that has one.
 */
export function chooseCurrent(
  signal: SignalName,
  subject: string | undefined,
  candidates: readonly Candidate[],
  policy: SignalPolicy,
  now: Date,
): CurrentSignal {
  const live = candidates.filter(
    (c) => !c.reading.expiresAt || c.reading.expiresAt.getTime() > now.getTime(),
  );
  const classed = live.map((c) => ({ c, f: c.freshness ?? readingFreshness(c.reading, now, policy) }));
  const limit = policy.staleness[signal];
  let out: CurrentSignal;
  let chosen: Candidate | undefined;
  const fresh = classed.find((x) => x.f === 'fresh');
  const byAge = (a: { c: Candidate }, b: { c: Candidate }) =>
    readingAgeSeconds(a.c.reading, now) - readingAgeSeconds(b.c.reading, now);
  if (fresh) {
    chosen = fresh.c;
    out = fromCandidate(chosen, now, false, chosen.note);
  } else if (classed.some((x) => x.f === 'stale')) {
    chosen = classed.filter((x) => x.f === 'stale').sort(byAge)[0]!.c;
    const age = Math.round(readingAgeSeconds(chosen.reading, now));
    const why = `no fresh reading; using the last good value, ${age} s old (soft limit ${limit.softSeconds} s)`;
    out = fromCandidate(chosen, now, true, chosen.note ? `${why}; ${chosen.note}` : why);
  } else {
    const newest = [...classed].sort(byAge)[0]?.c.reading;
    const age = newest ? Math.round(readingAgeSeconds(newest, now)) : null;
    out = {
      signal,
      ...(subject !== undefined && { subject }),
      unit: SIGNAL_UNITS[signal],
      value: worstCaseValue(signal, policy),
      source: 'worst-case',
      observedAt: null,
      ageSeconds: age,
      stale: true,
      assumeWorst: true,
      reason: newest
        ? `newest reading is ${age} s old (hard limit ${limit.hardSeconds} s): assuming the worst`
        : 'no usable reading: assuming the worst',
      ...(newest && {
        lastGood: {
          value: newest.value,
          source: newest.source,
          observedAt: newest.observedAt,
          ageSeconds: age!,
        },
      }),
    };
  }
  const held = heldJumpOf(chosen?.held ? chosen : live.find((c) => c.held));
  return held ? { ...out, heldJump: held } : out;
}

function distinct(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * Hashprice derived from the chosen difficulty, fees and BTC price with the scheduled subsidy,
 * as a candidate for the hashprice series: fresh when all inputs are fresh, stale when any is,
 * and absent when any input is unusable (so hashprice falls to its own worst case, 0).
 */
export function deriveHashprice(
  inputs: { btcUsd?: CurrentSignal; difficulty?: CurrentSignal; fees?: CurrentSignal },
  now: Date,
  policy: SignalPolicy,
): Candidate | undefined {
  const { btcUsd, difficulty, fees } = inputs;
  const parts = [difficulty, fees, btcUsd];
  if (!btcUsd || !difficulty || !fees) return undefined;
  if (parts.some((p) => !p || p.assumeWorst || p.value === null || p.observedAt === null)) return undefined;
  const subsidyBtc = subsidyAt(now);
  const value = hashpriceUsdPerThDay({
    difficulty: difficulty.value!,
    btcUsd: btcUsd.value!,
    feesBtcPerBlock: fees.value!,
    subsidyBtc,
  });
  if (outOfBounds('hashprice_usd_per_th_day', value, policy)) return undefined;
  const maxAge = Math.max(...parts.map((p) => p!.ageSeconds ?? 0));
  const stale = parts.some((p) => p!.stale);
  const source = `derived(${distinct([difficulty.source, fees.source, btcUsd.source]).join(',')})`;
  return {
    reading: {
      signal: 'hashprice_usd_per_th_day',
      value,
      unit: SIGNAL_UNITS.hashprice_usd_per_th_day,
      source,
      // Dated so that its age is the oldest input's age.
      observedAt: new Date(now.getTime() - maxAge * 1000),
      fetchedAt: now,
      detail: {
        difficulty: difficulty.value,
        btcUsd: btcUsd.value,
        feesBtcPerBlock: fees.value,
        subsidyBtc,
        usdPerPhDay: value * 1000,
      },
    },
    freshness: stale ? 'stale' : 'fresh',
    note: `derived from difficulty, fees (${fees.source}), subsidy ${subsidyBtc} BTC and BTC price (${btcUsd.source})`,
  };
}

/** The scheduled block subsidy as an always-fresh candidate. */
export function scheduledSubsidy(now: Date): Candidate {
  return {
    reading: {
      signal: 'subsidy_btc',
      value: subsidyAt(now),
      unit: SIGNAL_UNITS.subsidy_btc,
      source: 'schedule',
      observedAt: now,
      fetchedAt: now,
    },
    freshness: 'fresh',
  };
}

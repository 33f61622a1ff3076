// What the hub believes about each signal: how old a value may get before it is stale (soft)
// or unusable (hard), which values are absurd, which signals are prices subject to the jump
// rule, and the value to assume when nothing usable is left.
import type { SignalName } from './signal-types.ts';

export interface StalenessLimit {
  /** Older than this: still used, flagged stale. */
  softSeconds: number;
  /** Older than this: not used; the consumer assumes the worst. */
  hardSeconds: number;
}

export interface ValueBounds {
  min: number;
  max: number;
  /** The minimum itself is absurd (prices must be positive). */
  minExclusive?: boolean;
}

/** Which jumps wait for confirmation: all of them, or only those that make running look better. */
export type JumpHoldMode = 'both' | 'optimistic';

export interface SignalPolicy {
  staleness: Record<SignalName, StalenessLimit>;
  bounds: Record<SignalName, ValueBounds>;
  /** Worst case for energy: the site's price cap (USD/MWh). */
  energyPriceCapUsdPerMwh: number;
  /** Worst case for ambient temperature (°C): hot, so cooling is derated. */
  ambientWorstC: number;
  /** A price moving by more than this factor is held until a second reading confirms it. */
  jumpFactor: number;
  jumpHold: JumpHoldMode;
  /** Difficulty readings further than this from the last good value are rejected (percent). */
  difficultyBandPct: number;
  /** Readings observed further in the future than this are rejected (clock skew allowance). */
  maxFutureSkewSeconds: number;
}

const MINUTE = 60;
const HOUR = 3600;

export const DEFAULT_STALENESS: Readonly<Record<SignalName, StalenessLimit>> = {
  btc_usd: { softSeconds: 10 * MINUTE, hardSeconds: 1 * HOUR },
  difficulty: { softSeconds: 6 * HOUR, hardSeconds: 72 * HOUR },
  network_hashrate_ehs: { softSeconds: 6 * HOUR, hardSeconds: 72 * HOUR },
  fees_btc_per_block: { softSeconds: 1 * HOUR, hardSeconds: 24 * HOUR },
  subsidy_btc: { softSeconds: 24 * HOUR, hardSeconds: 7 * 24 * HOUR },
  hashprice_usd_per_th_day: { softSeconds: 2 * HOUR, hardSeconds: 12 * HOUR },
  energy_usd_per_mwh: { softSeconds: 30 * MINUTE, hardSeconds: 2 * HOUR },
  energy_da_usd_per_mwh: { softSeconds: 1 * HOUR, hardSeconds: 6 * HOUR },
  gpu_usd_per_gpu_hour: { softSeconds: 6 * HOUR, hardSeconds: 48 * HOUR },
  ambient_c: { softSeconds: 30 * MINUTE, hardSeconds: 2 * HOUR },
};

export const DEFAULT_BOUNDS: Readonly<Record<SignalName, ValueBounds>> = {
  btc_usd: { min: 0, max: 10_000_000, minExclusive: true },
  difficulty: { min: 0, max: 1e18, minExclusive: true },
  network_hashrate_ehs: { min: 0, max: 1e6, minExclusive: true },
  fees_btc_per_block: { min: 0, max: 100 },
  subsidy_btc: { min: 0, max: 50 },
  hashprice_usd_per_th_day: { min: 0, max: 100, minExclusive: true },
  // Real-time prices go negative (ERCOT's offer floor is -250 USD/MWh); see docs/signals.md.
  energy_usd_per_mwh: { min: -250, max: 10_000 },
  energy_da_usd_per_mwh: { min: -250, max: 10_000 },
  gpu_usd_per_gpu_hour: { min: 0, max: 100, minExclusive: true },
  ambient_c: { min: -60, max: 70 },
};

export const DEFAULT_SIGNAL_POLICY: SignalPolicy = {
  staleness: { ...DEFAULT_STALENESS },
  bounds: { ...DEFAULT_BOUNDS },
  energyPriceCapUsdPerMwh: 5000,
  ambientWorstC: 45,
  jumpFactor: 3,
  jumpHold: 'both',
  difficultyBandPct: 50,
  maxFutureSkewSeconds: 300,
};

export interface SignalPolicyOverrides {
  staleness?: Partial<Record<SignalName, Partial<StalenessLimit>>>;
  bounds?: Partial<Record<SignalName, Partial<ValueBounds>>>;
  energyPriceCapUsdPerMwh?: number;
  ambientWorstC?: number;
  jumpFactor?: number;
  jumpHold?: JumpHoldMode;
  difficultyBandPct?: number;
  maxFutureSkewSeconds?: number;
}

function mergeRecord<T extends object>(
  base: Readonly<Record<SignalName, T>>,
  over: Partial<Record<SignalName, Partial<T>>> | undefined,
): Record<SignalName, T> {
  const out = { ...base } as Record<SignalName, T>;
  for (const [k, v] of Object.entries(over ?? {}) as [SignalName, Partial<T>][])
    out[k] = { ...base[k], ...v };
  return out;
}

/** The default policy with some fields replaced; checks that the result makes sense. */
export function signalPolicy(over: SignalPolicyOverrides = {}): SignalPolicy {
  const p: SignalPolicy = {
    ...DEFAULT_SIGNAL_POLICY,
    ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)),
    staleness: mergeRecord(DEFAULT_STALENESS, over.staleness),
    bounds: mergeRecord(DEFAULT_BOUNDS, over.bounds),
  };
  for (const [signal, s] of Object.entries(p.staleness)) {
    if (!(s.softSeconds > 0 && s.hardSeconds >= s.softSeconds))
      throw new Error(`staleness of ${signal}: need 0 < soft (${s.softSeconds}) <= hard (${s.hardSeconds})`);
  }
  if (!(p.jumpFactor > 1)) throw new Error(`jumpFactor must be > 1 (got ${p.jumpFactor})`);
  if (!(p.difficultyBandPct > 0)) throw new Error('difficultyBandPct must be > 0');
  return p;
}

/** Price signals subject to the jump rule. */
export const PRICE_SIGNALS: ReadonlySet<SignalName> = new Set([
  'btc_usd',
  'hashprice_usd_per_th_day',
  'energy_usd_per_mwh',
  'energy_da_usd_per_mwh',
  'gpu_usd_per_gpu_hour',
]);

/** Signals where a higher value means lower profit (so "optimistic" is a fall). */
const COST_SIGNALS: ReadonlySet<SignalName> = new Set(['energy_usd_per_mwh', 'energy_da_usd_per_mwh']);

/** Scale below which energy prices are compared by difference rather than ratio (USD/MWh). */
const ENERGY_JUMP_SCALE = 50;

/**
 * The value a consumer must assume when a signal is unusable: energy at the price cap, revenue
 * signals at zero, ambient hot. Null where no value is safe (difficulty, hashrate): a consumer
 * needing those must treat the derived quantity (hashprice) as worst case instead.
 */
export function worstCaseValue(signal: SignalName, policy: SignalPolicy): number | null {
  switch (signal) {
    case 'energy_usd_per_mwh':
    case 'energy_da_usd_per_mwh':
      return policy.energyPriceCapUsdPerMwh;
    case 'hashprice_usd_per_th_day':
    case 'gpu_usd_per_gpu_hour':
    case 'btc_usd':
    case 'fees_btc_per_block':
      return 0;
    case 'ambient_c':
      return policy.ambientWorstC;
    default:
      return null;
  }
}

export function outOfBounds(signal: SignalName, value: number, policy: SignalPolicy): string | undefined {
  const b = policy.bounds[signal];
  if (!Number.isFinite(value)) return `${signal} ${value} is not a finite number`;
  const low = b.minExclusive ? value <= b.min : value < b.min;
  if (low || value > b.max)
    return `${signal} ${value} is outside ${b.minExclusive ? '(' : '['}${b.min}, ${b.max}]`;
  return undefined;
}

/**
 * True when moving from `from` to `to` is a jump: a ratio beyond the factor for positive values;
 * for energy near or below zero, a difference beyond (factor − 1) × max(|from|, 50 USD/MWh).
 */
export function isJump(signal: SignalName, from: number, to: number, factor: number): boolean {
  if (from > 0 && to > 0) return Math.max(to / from, from / to) > factor;
  const scale = COST_SIGNALS.has(signal) ? Math.max(Math.abs(from), ENERGY_JUMP_SCALE) : Math.abs(from);
  return Math.abs(to - from) > (factor - 1) * scale;
}

/** True when the move makes running look better than it did (cost down, revenue up). */
export function isOptimisticMove(signal: SignalName, from: number, to: number): boolean {
  return COST_SIGNALS.has(signal) ? to < from : to > from;
}

// What an order used and owes: the intervals it spent running or preempting (it holds and may use
// its GPUs in both), from its recorded transitions, priced at its price per GPU-hour. Pure.
//
// Each interval is one stay in a billed state; one still open ends at `now` (and is marked
// ongoing). Every interval's charge is rounded to 1/10,000 USD and the total is their sum, so the
// breakdown adds up to the total exactly.
import type { OrderState } from '@switchyard/db';
import { chargeUnits, roundTo, usdNumber, usdUnits } from './pricing.ts';

const BILLED: ReadonlySet<OrderState> = new Set(['running', 'preempting']);

/** A recorded transition, as usage needs it. */
export interface UsageTransition {
  at: Date;
  toState: OrderState;
}

export interface UsageInterval {
  state: OrderState;
  startedAt: Date;
  endedAt: Date;
  /** Still in this state: endedAt is `now`. */
  ongoing: boolean;
  seconds: number;
  gpuHours: number;
  chargeUsd: number;
}

export interface OrderUsage {
  gpuCount: number;
  priceUsdPerGpuHour: number;
  intervals: UsageInterval[];
  seconds: number;
  gpuHours: number;
  chargeUsd: number;
  /** The order is running or preempting: the figures grow until it ends. */
  ongoing: boolean;
}

export interface UsageInput {
  gpuCount: number;
  /** The order's price per GPU-hour: a decimal string (exact) or a number. */
  priceUsdPerGpuHour: string | number;
  /** Its transitions, in the order they were recorded. */
  transitions: readonly UsageTransition[];
  now: Date;
}

/** The billed stays of an order, oldest first. */
export function billedIntervals(
  transitions: readonly UsageTransition[],
  now: Date,
): Array<{ state: OrderState; startedAt: Date; endedAt: Date; ongoing: boolean }> {
  const out: Array<{ state: OrderState; startedAt: Date; endedAt: Date; ongoing: boolean }> = [];
  let open: { state: OrderState; startedAt: Date } | null = null;
  for (const t of transitions) {
    if (open) {
      const end = t.at.getTime() < open.startedAt.getTime() ? open.startedAt : t.at;
      out.push({ ...open, endedAt: end, ongoing: false });
      open = null;
    }
    if (BILLED.has(t.toState)) open = { state: t.toState, startedAt: t.at };
  }
  if (open) {
    const end = now.getTime() < open.startedAt.getTime() ? open.startedAt : now;
    out.push({ ...open, endedAt: end, ongoing: true });
  }
  return out;
}

/** GPU-hours and charges of an order from its recorded transitions. */
export function orderUsage(input: UsageInput): OrderUsage {
  const price = usdUnits(input.priceUsdPerGpuHour);
  let totalUnits = 0n;
  let totalMs = 0;
  const intervals = billedIntervals(input.transitions, input.now).map((i) => {
    const ms = i.endedAt.getTime() - i.startedAt.getTime();
    const units = chargeUnits(price, input.gpuCount, ms);
    totalUnits += units;
    totalMs += ms;
    return {
      ...i,
      seconds: roundTo(ms / 1000, 3),
      gpuHours: roundTo((input.gpuCount * ms) / 3_600_000),
      chargeUsd: usdNumber(units),
    };
  });
  return {
    gpuCount: input.gpuCount,
    priceUsdPerGpuHour: usdNumber(price),
    intervals,
    seconds: roundTo(totalMs / 1000, 3),
    gpuHours: roundTo((input.gpuCount * totalMs) / 3_600_000),
    chargeUsd: usdNumber(totalUnits),
    ongoing: intervals.some((i) => i.ongoing),
  };
}

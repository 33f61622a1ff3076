// Numbers the planner applies on top of the AllocationPolicy. The penalties rank what the
// planner gives up first when it cannot have everything: economics (a few $/kWh at most) <
// forced changes < operator pins < broker commitments. They are not money; plans report them
// apart from net $/h.
import type { StalenessLimits } from './types.ts';

export const DEFAULT_STALENESS: StalenessLimits = {
  energySeconds: 900,
  btcUsdSeconds: 3600,
  difficultySeconds: 3 * 86_400,
  feesSeconds: 6 * 3600,
  hashpriceSeconds: 3600,
  gpuPriceSeconds: 86_400,
  ambientSeconds: 3600,
};

/** Assumed when the contract names no price cap and the energy signal is lost (ERCOT's offer cap). */
export const DEFAULT_PRICE_CAP_USD_PER_MWH = 5000;
/** Ambient assumed when a derating zone has no fresh temperature. */
export const WORST_CASE_AMBIENT_C = 45;

export const PENALTY = {
  /** Per kW of a pinned device away from its pin, per hour. */
  pinUsdPerKwh: 10,
  /** Per kW moved against a dwell lock or cycle budget because a hard limit forces it. */
  forcedUsdPerKwh: 0.02,
  /** A reserved order that does not run (per GPU-hour). */
  reservedUsdPerGpuHour: 500,
  /** A running or admitted on-demand order taken back (per GPU-hour). */
  onDemandUsdPerGpuHour: 100,
  /** Any change of one miner's or node's state: prefers the status quo among equals. */
  churnUsdPerUnitHour: 1e-4,
  /** Prefers fleets and pools earlier by name among otherwise equal ones (per kW). */
  tieBreakUsdPerKwh: 1e-6,
} as const;

/** Loads may exceed a cap by this much (relative) before the checker calls it a violation. */
export const LOAD_TOLERANCE = 1e-6;

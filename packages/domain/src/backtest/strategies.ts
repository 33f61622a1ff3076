// What each backtest strategy hands the planner for one interval: the farm as the backtest runs
// it, the observed state (the strategy's previous targets), the signals of the row, the GPU
// market's demand as orders, and — for the rule-based baselines — pins that say what the rule
// wants. Hard limits still win over a pin, so a baseline never overloads a limit either.
import type { Farm } from '../farm/farm-loader.ts';
import type { AllocationPolicySpec, MinerFleet } from '../farm/resource-schema.ts';
import { fleetProfiles } from '../farm/farm-validation.ts';
import { endpointCount } from '../farm/endpoints.ts';
import { breakevenUsdPerMwh, hashpriceUsdPerThDay, subsidyAt } from '../economics/economics.ts';
import type {
  FleetObservation,
  FleetTarget,
  Override,
  PlanInput,
  PlannerOrder,
  PlannerSignals,
  PoolObservation,
  PoolTarget,
  SignalValue,
} from '../planner/types.ts';
import type { HistoryRow } from './history-csv.ts';

export class BacktestInputError extends Error {
  readonly code = 'BACKTEST_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'BacktestInputError';
  }
}

/** The site to plan: the one named, or the farm's only site. */
export function resolveSite(farm: Farm, site: string | undefined): string {
  if (site !== undefined) {
    if (!farm.sites.some((s) => s.metadata.name === site))
      throw new BacktestInputError(
        `site "${site}" is not in the farm (sites: ${farm.sites.map((s) => s.metadata.name).join(', ')})`,
      );
    return site;
  }
  if (farm.sites.length !== 1)
    throw new BacktestInputError(
      `the farm has ${farm.sites.length} sites (${farm.sites.map((s) => s.metadata.name).join(', ')}); name one`,
    );
  return (farm.sites[0] as Farm['sites'][number]).metadata.name;
}

export { sitePolicy } from '../sequencer/model.ts';

/** The farm with the site's policy replaced (other sites' policies kept). */
export function withPolicy(farm: Farm, site: string, spec: AllocationPolicySpec): Farm {
  const others = farm.policies.filter((p) => p.spec.site !== site);
  return {
    ...farm,
    policies: [
      ...others,
      {
        apiVersion: 'switchyard.io/v1alpha1',
        kind: 'AllocationPolicy',
        metadata: { name: `${site}-backtest` },
        spec,
      },
    ],
  };
}

/**
 * The per-interval relaxation used for the hindsight bound: no dwell, no ramp limit, no cycle
 * budget, no hysteresis and no wear — everything that couples one interval to the next.
 */
export function relaxedPolicy(p: AllocationPolicySpec): AllocationPolicySpec {
  return {
    ...p,
    minDwellSeconds: 0,
    rampKwPerMin: 1_000_000_000,
    maxCyclesPerDay: 288,
    hysteresisUsdPerMwh: 0,
    wearCostUsdPerCycle: 0,
  };
}

/** "normal" if the fleet has it, else its top profile: the profile a fleet normally hashes at. */
export function normalProfile(fleet: MinerFleet): { name: string; powerW: number; hashrateThs: number } {
  const profiles = [...fleetProfiles(fleet)].sort((a, b) => a.powerW - b.powerW);
  const p = profiles.find((x) => x.name === 'normal') ?? profiles[profiles.length - 1];
  if (!p) throw new BacktestInputError(`fleet ${fleet.metadata.name} has no power profile`);
  return p;
}

export interface FarmShape {
  fleets: MinerFleet[];
  pools: Farm['pools'];
}

export function farmShape(farm: Farm, site: string): FarmShape {
  const byName = <T extends { metadata: { name: string } }>(a: T, b: T) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
  return {
    fleets: farm.fleets.filter((f) => f.spec.site === site).sort(byName),
    pools: farm.pools.filter((p) => p.spec.site === site).sort(byName),
  };
}

/** Every miner hashing at its normal profile; every GPU node idle. */
export function initialTargets(shape: FarmShape): {
  fleets: Record<string, FleetTarget>;
  pools: Record<string, PoolTarget>;
} {
  const fleets: Record<string, FleetTarget> = {};
  for (const f of shape.fleets)
    fleets[f.metadata.name] = { asleep: 0, byProfile: { [normalProfile(f).name]: endpointCount(f.spec) } };
  const pools: Record<string, PoolTarget> = {};
  for (const p of shape.pools) pools[p.metadata.name] = { serving: 0, hashing: 0, idle: p.spec.nodes };
  return { fleets, pools };
}

/** What a strategy's previous targets look like as an observation (no faults, no stale data). */
export function observedFrom(
  fleets: Record<string, FleetTarget>,
  pools: Record<string, PoolTarget>,
): PlanInput['observed'] {
  const of: Record<string, FleetObservation> = {};
  for (const [name, t] of Object.entries(fleets)) {
    const awake = Object.values(t.byProfile).reduce((a, b) => a + b, 0);
    of[name] = {
      hashing: awake,
      sleeping: t.asleep,
      ramping: 0,
      fault: 0,
      offline: 0,
      stale: 0,
      byProfile: { ...t.byProfile },
      measuredKw: null,
    };
  }
  const op: Record<string, PoolObservation> = {};
  for (const [name, t] of Object.entries(pools)) op[name] = { ...t, unavailable: 0 };
  return { fleets: of, pools: op };
}

const sv = (value: number): SignalValue => ({ value, source: 'history', ageSeconds: 0, stale: false });

export function rowSignals(row: HistoryRow, site: string): PlannerSignals {
  return {
    btcUsd: sv(row.btcUsd),
    difficulty: sv(row.difficulty),
    feesBtcPerBlock: sv(row.feesBtcPerBlock),
    subsidyBtc: row.subsidyBtc !== null ? sv(row.subsidyBtc) : undefined,
    energyUsdPerMwh: sv(row.energyUsdPerMwh),
    gpuUsdPerGpuHour: row.gpuUsdPerGpuHour !== null ? sv(row.gpuUsdPerGpuHour) : undefined,
    ambientC: row.ambientC !== null ? { [site]: sv(row.ambientC) } : undefined,
  };
}

export function rowHashprice(row: HistoryRow): number {
  return hashpriceUsdPerThDay({
    difficulty: row.difficulty,
    btcUsd: row.btcUsd,
    feesBtcPerBlock: row.feesBtcPerBlock,
    subsidyBtc: row.subsidyBtc ?? subsidyAt(new Date(row.time)),
  });
}

/**
 * The GPU rental market as orders: when the row has a GPU price, the market rents each pool
 * whole at that price (one order per pool, for its GPU model). A pool that served in the
 * previous interval is running its order; otherwise the order is pending.
 */
export function marketOrders(
  shape: FarmShape,
  row: HistoryRow,
  tier: PlannerOrder['tier'],
  running: ReadonlyMap<string, string>,
): PlannerOrder[] {
  const price = row.gpuUsdPerGpuHour;
  if (price === null) return [];
  return shape.pools.map((p) => {
    const id = `market-${p.metadata.name}`;
    const pool = running.get(id);
    return {
      id,
      broker: 'market',
      tier,
      gpuModels: [p.spec.gpuModel],
      minVramGiB: 0,
      gpuCount: p.spec.nodes * p.spec.gpusPerNode,
      priceUsdPerGpuHour: price,
      state: pool !== undefined ? 'running' : 'pending',
      pool,
      noticeSeconds: 0,
    };
  });
}

export interface StrikeOptions {
  /** Consecutive intervals above breakeven before a fleet sleeps. */
  n: number;
  /** Consecutive intervals at or below breakeven before it wakes. */
  m: number;
}

export const DEFAULT_STRIKE: StrikeOptions = { n: 3, m: 3 };

interface StrikeFleet {
  asleep: boolean;
  above: number;
  below: number;
}

/**
 * The common fleet-tool rule: a fleet sleeps once energy has been above its breakeven (at its
 * normal profile, with PUE and pool fee) for N consecutive intervals, and wakes once it has been
 * at or below for M.
 */
export class StrikeRule {
  readonly #opts: StrikeOptions;
  readonly #state = new Map<string, StrikeFleet>();

  constructor(opts: StrikeOptions) {
    this.#opts = opts;
  }

  /** Decides every fleet for this row; returns the fleets that are asleep. */
  step(shape: FarmShape, row: HistoryRow, pue: number, poolFee: number): Set<string> {
    const hp = rowHashprice(row);
    const asleep = new Set<string>();
    for (const f of shape.fleets) {
      const name = f.metadata.name;
      const s = this.#state.get(name) ?? { asleep: false, above: 0, below: 0 };
      const p = normalProfile(f);
      const be = breakevenUsdPerMwh(hp, p.powerW / p.hashrateThs, pue, poolFee);
      const above = row.energyUsdPerMwh > be;
      s.above = above ? s.above + 1 : 0;
      s.below = above ? 0 : s.below + 1;
      if (!s.asleep && s.above >= this.#opts.n) s.asleep = true;
      else if (s.asleep && s.below >= this.#opts.m) s.asleep = false;
      this.#state.set(name, s);
      if (s.asleep) asleep.add(name);
    }
    return asleep;
  }
}

/** Pins that hold every fleet at the rule's state, and GPU pools hashing when nothing is sold. */
export function rulePins(
  shape: FarmShape,
  asleep: ReadonlySet<string>,
  now: number,
  stepMs: number,
  gpuMarket: boolean,
): Override[] {
  const pin = (kind: Override['kind'], name: string, mode: string): Override => ({
    id: `rule-${kind}-${name}`,
    kind,
    name,
    mode,
    startsAt: now - 1,
    endsAt: now + stepMs,
    reason: 'backtest baseline rule',
  });
  const out = shape.fleets.map((f) =>
    pin('fleet', f.metadata.name, asleep.has(f.metadata.name) ? 'asleep' : normalProfile(f).name),
  );
  if (!gpuMarket)
    for (const p of shape.pools)
      if (p.spec.hashing?.enabled) out.push(pin('pool', p.metadata.name, 'hashing'));
  return out;
}

// The planner's snapshot (PlanInput) and its decision (Plan). The planner is a pure function of
// the snapshot; everything it needs — inventory, observed state, signals, orders, grid
// dispatches, operator overrides, the clock and its own memory of earlier plans — is in here.
import type { Farm } from '../farm/farm-loader.ts';

// ---------------------------------------------------------------- input

/** One market or weather value as a signal source delivered it. */
export interface SignalValue {
  value: number;
  /** Where it came from, e.g. "luxor", "ercot-rt", "coinbase". */
  source: string;
  /** Seconds since the source produced it. */
  ageSeconds: number;
  /** The source's own judgement that the value is old (soft: used, with a warning). */
  stale: boolean;
}

export interface PlannerSignals {
  btcUsd: SignalValue;
  difficulty: SignalValue;
  /** Mean fees per block over the last 144 blocks (BTC). */
  feesBtcPerBlock: SignalValue;
  /** Block subsidy (BTC); defaults to the halving schedule at `now`. */
  subsidyBtc?: SignalValue | undefined;
  /** A published hashprice (e.g. Luxor); when fresh it wins over the derived one. */
  hashpriceUsdPerThDay?: SignalValue | undefined;
  energyUsdPerMwh: SignalValue;
  /** Market reference for GPU rental, used in order reasons. */
  gpuUsdPerGpuHour?: SignalValue | undefined;
  /** Ambient temperature by site name (°C), for cooling derates. */
  ambientC?: Record<string, SignalValue> | undefined;
}

/**
 * A fleet's observed state. The state counts partition the fleet: miners not counted in any of
 * them are unknown. Stale, unknown, faulted and offline miners are not controlled and count at
 * nameplate in every power sum (unknown means worst case).
 */
export interface FleetObservation {
  hashing: number;
  sleeping: number;
  /** Waking or changing profile; counted as awake. */
  ramping: number;
  fault: number;
  offline: number;
  /** Miners whose telemetry is too old to trust. */
  stale: number;
  /** Awake (hashing + ramping) miners by profile; the rest are assumed at the top profile. */
  byProfile: Record<string, number>;
  /** Metered draw of the whole fleet (e.g. from its PDU), or null. */
  measuredKw: number | null;
}

/** A GPU pool's nodes by mode. Nodes not counted are unknown (treated as unavailable). */
export interface PoolObservation {
  serving: number;
  hashing: number;
  idle: number;
  /** Cordoned, not ready, or unreachable: not controlled, counted at their highest draw. */
  unavailable: number;
}

export const ORDER_TIERS = ['reserved', 'on-demand', 'interruptible'] as const;
export type OrderTier = (typeof ORDER_TIERS)[number];
export type OrderState = 'pending' | 'admitted' | 'running';

/** A compute broker's inference order, as far as the planner cares. */
export interface PlannerOrder {
  id: string;
  broker: string;
  tier: OrderTier;
  /** Acceptable GPU models (e.g. "H100-SXM-80GB"); empty means any. */
  gpuModels: string[];
  minVramGiB: number;
  gpuCount: number;
  priceUsdPerGpuHour: number;
  state: OrderState;
  /** The pool it is admitted to or running in. */
  pool?: string | undefined;
  /** Notice the broker gets before preemption. */
  noticeSeconds: number;
}

/** "Hold site load under capKw from startsAt until endsAt" from an energy broker. */
export interface GridDispatch {
  id: string;
  site: string;
  capKw: number;
  /** Epoch ms. */
  startsAt: number;
  endsAt: number;
}

/**
 * An operator pins a fleet to "asleep" or one of its profiles, or a pool to "idle" (drain:
 * preempts its orders), "hashing" (no new orders, idle nodes hash) or "serving" (no hashing).
 * Hard limits still win over a pin.
 */
export interface Override {
  id: string;
  kind: 'fleet' | 'pool';
  name: string;
  mode: string;
  startsAt: number;
  endsAt: number;
  reason?: string | undefined;
  by?: string | undefined;
}

export interface FleetTarget {
  asleep: number;
  byProfile: Record<string, number>;
}

export interface PoolTarget {
  serving: number;
  hashing: number;
  idle: number;
}

/** What the planner remembers between plans (returned in every Plan as `memory`). */
export interface PlanMemory {
  /** When the plan that wrote it was made (epoch ms). */
  at: number;
  /** The calendar day (YYYY-MM-DD, site time zone) the cycle counts belong to. */
  day: string;
  fleets: Record<string, { target: FleetTarget; changedAt: number | null; cyclesToday: number }>;
  pools: Record<string, { target: PoolTarget; changedAt: number | null }>;
}

/** Seconds after which a signal is not used at all and the worst case is assumed. */
export interface StalenessLimits {
  energySeconds: number;
  btcUsdSeconds: number;
  difficultySeconds: number;
  feesSeconds: number;
  hashpriceSeconds: number;
  gpuPriceSeconds: number;
  ambientSeconds: number;
}

export interface PlanInput {
  farm: Farm;
  site: string;
  observed: {
    fleets: Record<string, FleetObservation>;
    pools: Record<string, PoolObservation>;
  };
  signals: PlannerSignals;
  /** The orders this site may take, plus those admitted to or running in its pools. */
  orders: PlannerOrder[];
  dispatches: GridDispatch[];
  overrides?: Override[] | undefined;
  /** Epoch ms. */
  now: number;
  previous?: PlanMemory | undefined;
  staleness?: Partial<StalenessLimits> | undefined;
}

// ---------------------------------------------------------------- output

export type SolverKind = 'milp' | 'greedy';

export interface FleetPlan {
  model: string;
  miners: number;
  controllable: number;
  /** Not controlled; counted at nameplate. */
  uncontrollable: { fault: number; offline: number; stale: number; unknown: number };
  target: FleetTarget;
  /** Breakeven energy price ($/MWh) at each profile (whole draw including PUE and pool fee). */
  breakevenUsdPerMwh: Record<string, number>;
  /** Marginal breakeven of each step up: asleep→first profile, then profile→next. */
  stepBreakevenUsdPerMwh: Array<{ from: string; to: string; usdPerMwh: number }>;
  expectedKw: number;
  hashrateThs: number;
}

export interface PoolPlan {
  gpuModel: string;
  nodes: number;
  unavailable: number;
  target: PoolTarget;
  /** Energy price below which GPU hashing pays for its extra draw over idle. */
  hashingBreakevenUsdPerMwh: number | null;
  expectedKw: number;
}

export interface AdmittedOrder {
  orderId: string;
  broker: string;
  tier: OrderTier;
  pool: string;
  /** Whole nodes given to the order: ceil(gpuCount / gpusPerNode). */
  nodes: number;
  gpus: number;
  /** GPUs used on each of its nodes, e.g. [8, 4] for 12 GPUs on 8-GPU nodes. */
  gpusByNode: number[];
  priceUsdPerGpuHour: number;
  /** False when it was already admitted or running there. */
  isNew: boolean;
}

export interface RejectedOrder {
  orderId: string;
  broker: string;
  tier: OrderTier;
  reason: string;
  /** It was admitted or running and is being taken back (the broker gets noticeSeconds). */
  preempted: boolean;
  noticeSeconds: number;
}

export interface PlanEconomics {
  hashingUsdPerHour: number;
  inferenceUsdPerHour: number;
  gpuHashingUsdPerHour: number;
  energyUsdPerHour: number;
  wearUsdPerHour: number;
  netUsdPerHour: number;
}

/** The objective both solvers maximise: net $/h less the planner's own penalties. */
export interface PlanObjective {
  netUsdPerHour: number;
  /** Hysteresis, pins, commitments, forced changes and tie-breaks. */
  penaltyUsdPerHour: number;
  score: number;
}

export interface LoadEntry {
  kw: number;
  /** The most the planner lets it carry (limit less margin, derated capacity, ...). */
  capKw: number;
  /** The nameplate limit or capacity it derives from. */
  limitKw: number;
}

export interface PlanLoads {
  powerTree: Record<string, LoadEntry>;
  coolingZones: Record<string, LoadEntry>;
  site: {
    itKw: number;
    /** IT load × PUE: what the interconnect meter sees. */
    facilityKw: number;
    /** Facility cap: interconnect or dispatch, less reserve. */
    capKw: number;
    /** Facility cap from the ramp limit. */
    rampCapKw: number;
    /** Current facility load from the observation. */
    currentKw: number;
  };
}

export type ChangeTargetKind = 'fleet' | 'pool' | 'order';

export interface PlanChange {
  targetKind: ChangeTargetKind;
  target: string;
  change: string;
  reason: string;
}

export interface Plan {
  site: string;
  at: number;
  solver: SolverKind;
  /** Why the greedy plan was used, when it was. */
  fallbackReason?: string | undefined;
  /** Signal values the plan used (after staleness rules). */
  prices: {
    energyUsdPerMwh: number;
    hashpriceUsdPerThDay: number;
    gpuUsdPerGpuHour: number | null;
  };
  fleets: Record<string, FleetPlan>;
  pools: Record<string, PoolPlan>;
  admitted: AdmittedOrder[];
  rejected: RejectedOrder[];
  economics: PlanEconomics;
  objective: PlanObjective;
  loads: PlanLoads;
  changes: PlanChange[];
  warnings: string[];
  /** Persist and pass back as `previous` next time. */
  memory: PlanMemory;
  /** Solver statistics; the only part of a plan that varies between identical runs. */
  stats: { solveMs: number; columns: number; rows: number; mipGap: number | null };
}

export interface Violation {
  kind:
    | 'counts'
    | 'power-tree'
    | 'cooling'
    | 'site'
    | 'ramp'
    | 'dwell'
    | 'hysteresis'
    | 'cycles'
    | 'order'
    | 'reserved'
    | 'override';
  target: string;
  message: string;
}

// ---------------------------------------------------------------- solver port

/**
 * A mixed-integer model in HiGHS's structured form (rows in CSR), built by the domain and solved
 * by an adapter. Bounds may be ±Infinity.
 */
export interface MipModel {
  sense: 'maximize';
  /** Constant added to the objective. */
  offset: number;
  colNames: string[];
  colCost: number[];
  colLower: number[];
  colUpper: number[];
  integer: boolean[];
  rowNames: string[];
  rowLower: number[];
  rowUpper: number[];
  rowStarts: number[];
  rowIndices: number[];
  rowValues: number[];
  /** A feasible starting solution (one value per column), if known. */
  start?: number[] | undefined;
}

export type MipStatus = 'optimal' | 'time-limit' | 'infeasible' | 'unbounded' | 'error';

export interface MipSolution {
  status: MipStatus;
  /** Objective including the offset, when a solution exists. */
  objective: number | null;
  /** One value per column, when a solution exists. */
  values: number[] | null;
  mipGap: number | null;
  solveMs: number;
  message?: string | undefined;
}

/** Implemented by an adapter (packages/solver); the domain only knows this interface. */
export interface MipSolver {
  solve(model: MipModel, opts: { timeLimitMs: number }): Promise<MipSolution>;
}

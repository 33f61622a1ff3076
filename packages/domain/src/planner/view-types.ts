// The planner's working view of one snapshot: every fleet, pool, order and limit reduced to
// numbers per unit (per miner step, per node, per order) so that the greedy solver, the MILP
// builder, the plan builder and the checker all read the same coefficients.
//
// A fleet is described by cumulative counts: cum[s-1] = miners at profile s or above (s = 1..K,
// profiles by rising power; "asleep" is below profile 1). Moving one miner up across step s adds
// stepKw[s-1] kW and stepValue[s-1] $/h. Cumulative counts make hysteresis, dwell and
// "shed the least efficient first" simple bounds on single variables.
import type {
  AllocationPolicySpec,
  GpuPool,
  MinerFleet,
  PowerProfile,
  Site,
} from '../farm/resource-schema.ts';
import type { Override, PlanInput, PlannerOrder } from './types.ts';

export interface FleetVar {
  index: number;
  name: string;
  fleet: MinerFleet;
  model: string;
  /** ['asleep', ...profile names]. */
  states: string[];
  profiles: PowerProfile[];
  K: number;
  miners: number;
  controllable: number;
  unc: { fault: number; offline: number; stale: number; unknown: number };
  uncontrollable: number;
  /** Metered/modelled draw ratio (≥ 1) applied to every draw of the fleet. */
  calib: number;
  /** Per-miner draw of each state (kW, calibrated). */
  stateKw: number[];
  stateThs: number[];
  nameplateKw: number;
  /** Constant draw: controllable miners asleep, uncontrollable at nameplate. */
  baseKw: number;
  stepKw: number[];
  stepThs: number[];
  stepRevenue: number[];
  stepEnergy: number[];
  stepValue: number[];
  stepBreakeven: number[];
  /** Cumulative counts observed now, and the reference (previous target, else observed). */
  observed: number[];
  ref: number[];
  /** Hard bounds on cum (monotone-consistent). */
  lo: number[];
  hi: number[];
  /** Soft bounds: each miner below softLo costs penLo, above softHi costs penHi ($/h). */
  softLo: number[];
  penLo: number[];
  softHi: number[];
  penHi: number[];
  /** $/h per miner crossing step s in either direction relative to ref. */
  hyst: number[];
  /** $/h per miner woken or put to sleep (step 1 only), amortised. */
  wear: number;
  churn: number;
  tie: number[];
  /** Indices into PlanView.caps of every limit the fleet counts against. */
  caps: number[];
  dwell: boolean;
  pin: { override: Override; state: number } | null;
  /** Cap index that forced it to shed against dwell/cycle limits. */
  forcedBy: number | null;
  /** Sleep + wake transitions still allowed today. */
  budget: number;
  /** Changes since the reference are counted in the plan's memory from this. */
  cyclesToday: number;
  changedAt: number | null;
  hasObservation: boolean;
  /** Whether marginal breakevens fall step by step (ordinary profiles): hysteresis is checkable. */
  convex: boolean;
}

export interface PoolVar {
  index: number;
  name: string;
  pool: GpuPool;
  nodes: number;
  controllable: number;
  unavailable: number;
  gpusPerNode: number;
  idleKw: number;
  servingKw: number;
  hashingKw: number;
  maxKw: number;
  baseKw: number;
  hashStepKw: number;
  servStepKw: number;
  hashEnabled: boolean;
  hashRevenue: number;
  hashEnergy: number;
  hashValue: number;
  hashBreakeven: number | null;
  observed: { serving: number; hashing: number; idle: number };
  refHashing: number;
  /** Hard: hashing + nodes given to new orders ≥ lowH (hashing nodes only stop to serve). */
  lowH: number;
  /** When forced: the same as a soft bound, penalised per node. */
  lowSoft: number;
  lowPen: number;
  hiH: number;
  /** Pin "hashing": soft lower bound on hashing nodes. */
  pinSoftH: number;
  pinPen: number;
  hyst: number;
  churn: number;
  tie: number;
  caps: number[];
  dwell: boolean;
  pin: { override: Override; mode: 'idle' | 'hashing' | 'serving' } | null;
  forcedBy: number | null;
  acceptsNew: boolean;
  /** Nodes of orders that must keep running (hard). */
  hardNodes: number;
  changedAt: number | null;
  hasObservation: boolean;
}

export interface OrderOption {
  pool: number;
  nodes: number;
  revenue: number;
  energy: number;
  /** revenue − energy of its nodes over idle ($/h). */
  value: number;
}

export interface OrderVar {
  index: number;
  order: PlannerOrder;
  options: OrderOption[];
  /** Penalty avoided by admitting it ($/h): reserved, or a commitment kept. */
  bonus: number;
  bonusKind: 'reserved' | 'commitment' | 'keep' | null;
  /** Must stay admitted (a commitment in a pool that is not forced). */
  hard: boolean;
  /** Pool index it was admitted to or running in, or -1. */
  wasIn: number;
  /** Why it has no options, if it has none. */
  noOption: string | null;
}

export type CapKind = 'node' | 'zone' | 'site' | 'ramp';

export interface Cap {
  index: number;
  kind: CapKind;
  name: string;
  /** The IT load it allows (after margin, derate, PUE, reserve; raised to the floor if relaxed). */
  capKw: number;
  /** Before relaxing to the uncontrollable floor. */
  nominalKw: number;
  /** The raw limit it derives from (facility kW for site and ramp). */
  limitKw: number;
  fleets: number[];
  pools: number[];
  /** "pdu-1a3 limit 2,375 kW (2,500 kW less 5% margin)". */
  text: string;
  relaxed: boolean;
  forced: boolean;
  /** The load that forced it: the lowest load within dwell, cycle and pin limits (IT kW). */
  forcedLoadKw: number;
  /** Tree depth for nodes (root 0); -1 otherwise. */
  depth: number;
}

export interface PlanView {
  input: PlanInput;
  site: Site;
  policy: AllocationPolicySpec;
  pue: number;
  poolFee: number;
  energyUsdPerMwh: number;
  hashpriceUsdPerThDay: number;
  gpuUsdPerGpuHour: number | null;
  /** Hours over which a sleep/wake's wear is spread in the hourly objective. */
  wearHours: number;
  day: string;
  fleets: FleetVar[];
  pools: PoolVar[];
  orders: OrderVar[];
  caps: Cap[];
  siteCap: number;
  rampCap: number;
  /** Facility kW of the observed state. */
  currentFacilityKw: number;
  rampKw: number;
  /** Pre-solve warnings (signals, observations, relaxed limits). */
  warnings: string[];
  /** Orders not considered at all (other sites), by id. */
  ignoredOrders: Set<string>;
}

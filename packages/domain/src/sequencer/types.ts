// The sequencer's input (the observed state of the farm, the plan to reach, the policy) and its
// output: ordered phases of device steps — shed, confirm, add — that reach the plan without any
// power-tree node, cooling zone or the site ever exceeding its limit under worst-case accounting.
// See docs/sequencer.md.
import type { Farm } from '../farm/farm-loader.ts';
import type { AllocationPolicySpec } from '../farm/resource-schema.ts';
import type { FleetTarget, Plan, PoolTarget } from '../planner/types.ts';

// ---------------------------------------------------------------- state

/** A miner's slot: asleep, or one of its fleet's profile names. */
export const ASLEEP = 'asleep';

export const POOL_MODES = ['idle', 'serving', 'hashing'] as const;
export type PoolMode = (typeof POOL_MODES)[number];

/**
 * Miners commanded from one slot to another whose new draw telemetry has not confirmed yet.
 * Until confirmed they count at max(draw of `from`, draw of `to`).
 */
export interface FleetTransition {
  /** "asleep" or a profile name. */
  from: string;
  /** "asleep" or a profile name. */
  to: string;
  count: number;
  /** When the command was sent (epoch ms). */
  since: number;
}

/**
 * One fleet at one instant. The counts partition the fleet: a miner is settled (asleep or at a
 * profile), uncontrollable (stale, offline, fault) or in flight — never in two of them. Miners not
 * counted at all are unknown. Uncontrollable and unknown miners count at nameplate.
 */
export interface FleetState {
  /** Settled asleep: telemetry shows the sleep draw (state alone is not enough: see docs/miners.md). */
  asleep: number;
  /** Settled awake miners by profile. A name the fleet does not have counts at nameplate. */
  byProfile: Record<string, number>;
  stale: number;
  offline: number;
  fault: number;
  inFlight: FleetTransition[];
  /** Metered draw of the whole fleet, or null: above the modelled worst case, it scales every draw. */
  measuredKw?: number | null | undefined;
  /** A fixed factor (≥ 1) on every draw of the fleet; wins over `measuredKw`. */
  drawFactor?: number | undefined;
}

export interface PoolTransition {
  from: PoolMode;
  to: PoolMode;
  count: number;
  since: number;
}

/**
 * One GPU pool at one instant; the same partition as a fleet. Unavailable and unknown nodes count
 * at the pool's highest draw.
 */
export interface PoolState {
  idle: number;
  serving: number;
  hashing: number;
  unavailable: number;
  inFlight: PoolTransition[];
}

export interface FarmState {
  fleets: Record<string, FleetState>;
  pools: Record<string, PoolState>;
}

/**
 * Commands the caller has sent and not yet seen confirmed on power (its action log). Merged into
 * the observed state: each takes its devices from the lower-draw of its two slots first, so a
 * device that already reports its new state ("sleeping" while its draw still falls) or still
 * reports its old one is counted at max(old, new) either way.
 */
export interface InFlightCommands {
  fleets?: Record<string, FleetTransition[]> | undefined;
  pools?: Record<string, PoolTransition[]> | undefined;
}

/** Devices whose telemetry went stale after the state was taken: moved to nameplate. */
export interface StaleDevices {
  fleets?: Record<string, number> | undefined;
  pools?: Record<string, number> | undefined;
}

// ---------------------------------------------------------------- loads and limits

/** Worst-case IT kW on every power-tree node, every cooling zone and the site. */
export interface WorstCaseLoads {
  nodes: Record<string, number>;
  zones: Record<string, number>;
  siteKw: number;
}

export interface LimitEntry {
  /** The most the sequencer lets it carry (IT kW). */
  capKw: number;
  /** The rating it derives from (node limit, zone capacity, facility cap). */
  limitKw: number;
  text: string;
}

export interface NodeLimit extends LimitEntry {
  parent: string | null;
}

export interface SequencerLimits {
  root: string;
  nodes: Record<string, NodeLimit>;
  zones: Record<string, LimitEntry>;
  site: LimitEntry;
  pue: number;
}

// ---------------------------------------------------------------- input

/** A running order the caller takes back; its nodes go idle after the broker's notice. */
export interface Preemption {
  orderId: string;
  pool: string;
  nodes: number;
  noticeSeconds: number;
}

export interface SequenceInput {
  farm: Farm;
  site: string;
  plan: Plan;
  /** Names the plan in step ids; default `${plan.site}-${plan.at}`. */
  planId?: string | undefined;
  observed: FarmState;
  inFlight?: InFlightCommands | undefined;
  /** Default: the site's AllocationPolicy (schema defaults without one). */
  policy?: AllocationPolicySpec | undefined;
  /** Epoch ms. */
  now: number;
  /** How long a confirm step waits for telemetry before giving up. */
  confirmTimeoutMs: number;
  /** How long one add phase takes before the next may start (default 60 s). */
  stepMs?: number | undefined;
  /** IT kW one add phase may add; default rampKwPerMin × stepMs / 60 s / PUE. */
  stepBudgetKw?: number | undefined;
  /** Add phases at most; default ⌊interval / stepMs⌋ (at least 1). */
  maxAddPhases?: number | undefined;
  /** Ambient °C for cooling derates; default 45 °C (worst case) for zones that derate. */
  ambientC?: number | null | undefined;
  /** Facility cap (kW); default the plan's site cap (interconnect or dispatch, less reserve). */
  siteCapKw?: number | undefined;
  preemptions?: Preemption[] | undefined;
  /**
   * Ids of the orders running now. With it, an order admitted earlier that does not run yet is
   * started like a new one; without it only the plan's new admissions name their orders.
   */
  runningOrders?: string[] | undefined;
}

// ---------------------------------------------------------------- output

export type FleetStepKind = 'sleep' | 'wake' | 'set-profile' | 'set-power-target';
export type StepKind = FleetStepKind | 'gpu-mode' | 'confirm';

interface DeviceStepBase {
  /** `${planKey}:${phaseIndex}:${stepIndex}:${target}`. */
  id: string;
  /** The power-tree node the devices draw through. */
  feed: string;
  coolingZone: string;
  count: number;
  /** Change of the settled draw (IT kW; negative for a shed). */
  expectedDeltaKw: number;
  /** The batch's draw while in flight: count × max(old, new) (IT kW). */
  worstCaseKw: number;
  /** Rise of the worst-case load on every limit the devices count against (0 for a shed). */
  worstCaseDeltaKw: number;
}

export interface FleetStep extends DeviceStepBase {
  kind: FleetStepKind;
  fleet: string;
  fromProfile: string;
  toProfile: string;
  /** The target profile's nominal draw per miner (W), for power-target firmware; null when asleep. */
  powerTargetW: number | null;
}

export interface PoolStep extends DeviceStepBase {
  kind: 'gpu-mode';
  pool: string;
  fromMode: PoolMode;
  toMode: PoolMode;
  /** Orders taken back by this step: the broker gets the notice before the nodes drain. */
  preempt: Array<{ orderId: string; noticeSeconds: number }>;
  /** Orders this step starts (idle → serving). */
  startOrders: string[];
}

export type DeviceStep = FleetStep | PoolStep;

export interface ConfirmTransition {
  kind: 'fleet' | 'pool';
  name: string;
  from: string;
  to: string;
  count: number;
  /** The step that sent it, or null for a transition already in flight. */
  stepId: string | null;
  /** Each device's draw once settled (IT kW): telemetry must show it at or below this. */
  atMostKwPerDevice: number;
}

export interface ConfirmNode {
  node: string;
  /** Worst-case load once the transitions settle: a metered reading must be at or below it. */
  expectLoadAtMostKw: number;
}

export interface ConfirmStep {
  id: string;
  kind: 'confirm';
  transitions: ConfirmTransition[];
  nodes: ConfirmNode[];
  timeoutMs: number;
}

export type Step = DeviceStep | ConfirmStep;

export interface ShedPhase {
  kind: 'shed';
  steps: DeviceStep[];
}

export interface ConfirmPhase {
  kind: 'confirm';
  steps: ConfirmStep[];
}

export interface AddPhase {
  kind: 'add';
  steps: DeviceStep[];
  /** Σ worstCaseDeltaKw of its steps: at most the sequence's addBudgetKw. */
  increaseKw: number;
  /** The next add phase starts no sooner than this after this one started. */
  minDurationMs: number;
}

export type Phase = ShedPhase | ConfirmPhase | AddPhase;

export type DeferralReason = 'ramp' | 'limit' | 'overload';

/** Part of the plan this sequence does not reach, and why; the next cycle picks it up. */
export interface Deferral {
  kind: 'fleet' | 'pool';
  name: string;
  from: string;
  to: string;
  count: number;
  reason: DeferralReason;
  message: string;
}

export interface OverloadedLimit {
  kind: 'node' | 'zone' | 'site';
  name: string;
  /** Worst-case load at the start (IT kW). */
  loadKw: number;
  capKw: number;
  /** Worst-case load once the sequence's sheds are confirmed. */
  afterShedKw: number;
}

export interface Sequence {
  planId?: string | undefined;
  /** The first part of every step id. */
  planKey: string;
  site: string;
  phases: Phase[];
  /** What the sequence aims for: the plan's targets fitted to the devices controllable now. */
  targets: { fleets: Record<string, FleetTarget>; pools: Record<string, PoolTarget> };
  deferred: Deferral[];
  /** Limits already over their cap at the start. */
  overloaded: OverloadedLimit[];
  warnings: string[];
  /** IT kW one add phase may add. */
  addBudgetKw: number;
  stepMs: number;
  loads: { start: WorstCaseLoads; afterConfirm: WorstCaseLoads; end: WorstCaseLoads };
}

export interface SequenceViolation {
  kind: 'limit' | 'overload' | 'ramp' | 'order' | 'counts' | 'targets' | 'ids';
  target: string;
  message: string;
}

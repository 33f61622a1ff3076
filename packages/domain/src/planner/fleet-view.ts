// One fleet of the snapshot as per-step numbers: observed and reference counts, draws, values,
// breakevens, and the bounds that dwell, cycle budgets and pins put on its cumulative counts.
import type { MinerFleet } from '../farm/resource-schema.ts';
import { fleetNameplateW, fleetProfiles } from '../farm/farm-validation.ts';
import { findMinerModel } from '../farm/miner-models.ts';
import { endpointCount } from '../farm/endpoints.ts';
import { breakevenUsdPerMwh } from '../economics/economics.ts';
import { PENALTY } from './planner-constants.ts';
import { num } from './format.ts';
import type { FleetObservation, FleetTarget, Override, PlanMemory } from './types.ts';
import type { FleetVar } from './view-types.ts';

export interface FleetContext {
  now: number;
  pue: number;
  poolFee: number;
  energy: number;
  hashprice: number;
  minDwellMs: number;
  band: number;
  maxCyclesPerDay: number;
  wearPerTransition: number;
  previous: PlanMemory | undefined;
  sameDay: boolean;
  overrides: Override[];
  rank: number;
  count: number;
  warn: (w: string) => void;
}

const cleanCount = (x: unknown): number =>
  typeof x === 'number' && Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;

/** Counts by state (index 0 asleep) → cumulative counts cum[s-1] = Σ_{j≥s} counts[j]. */
export function toCum(counts: readonly number[]): number[] {
  const K = counts.length - 1;
  const cum = new Array<number>(K).fill(0);
  let acc = 0;
  for (let j = K; j >= 1; j--) {
    acc += counts[j] ?? 0;
    cum[j - 1] = acc;
  }
  return cum;
}

/** Cumulative counts → counts by state (index 0 asleep). */
export function fromCum(cum: readonly number[], controllable: number): number[] {
  const K = cum.length;
  const out = new Array<number>(K + 1).fill(0);
  out[0] = controllable - (cum[0] ?? 0);
  for (let s = 1; s <= K; s++) out[s] = (cum[s - 1] ?? 0) - (cum[s] ?? 0);
  return out;
}

interface ObservedSplit {
  unc: FleetVar['unc'];
  /** Controllable miners by state (index 0 asleep). */
  counts: number[];
}

/** Reads an untrusted observation into a partition of the fleet; worst case for what is missing. */
function splitObservation(
  name: string,
  miners: number,
  states: string[],
  obs: FleetObservation | undefined,
  warn: (w: string) => void,
): ObservedSplit {
  const K = states.length - 1;
  const counts = new Array<number>(K + 1).fill(0);
  if (!obs) {
    warn(`fleet ${name}: no observation; all ${num(miners)} miners counted at nameplate and not controlled`);
    return { unc: { fault: 0, offline: 0, stale: 0, unknown: miners }, counts };
  }
  let left = miners;
  const take = (n: number) => {
    const t = Math.min(left, cleanCount(n));
    left -= t;
    return t;
  };
  // Uncontrollable states first: when counts disagree with the fleet size, worst case wins.
  const fault = take(obs.fault);
  const offline = take(obs.offline);
  const stale = take(obs.stale);
  const awakeObserved = cleanCount(obs.hashing) + cleanCount(obs.ramping);
  const awake = take(awakeObserved);
  const asleep = take(obs.sleeping);
  const claimed = fault + offline + stale + awakeObserved + cleanCount(obs.sleeping);
  if (claimed > miners)
    warn(`fleet ${name}: observation counts ${num(claimed)} miners but the fleet has ${num(miners)}`);
  counts[0] = asleep;
  // Awake miners by profile; unknown profiles and the unassigned rest at the top profile.
  let rest = awake;
  for (let j = 1; j <= K && rest > 0; j++) {
    const n = Math.min(rest, cleanCount(obs.byProfile?.[states[j] as string]));
    counts[j] = (counts[j] ?? 0) + n;
    rest -= n;
  }
  if (K > 0) counts[K] = (counts[K] ?? 0) + rest;
  else counts[0] = (counts[0] ?? 0) + rest;
  return { unc: { fault, offline, stale, unknown: left }, counts };
}

/** The previous target, fitted to today's controllable count. */
function referenceCounts(
  target: FleetTarget | undefined,
  states: string[],
  observed: number[],
  controllable: number,
): number[] {
  if (!target) return [...observed];
  const K = states.length - 1;
  const counts = new Array<number>(K + 1).fill(0);
  counts[0] = cleanCount(target.asleep);
  for (const [p, n] of Object.entries(target.byProfile ?? {})) {
    const j = states.indexOf(p);
    const at = j >= 1 ? j : K; // a profile that no longer exists: assume the top
    counts[at] = (counts[at] ?? 0) + cleanCount(n);
  }
  let sum = counts.reduce((a, b) => a + b, 0);
  // Fewer controllable miners now: drop from the top (less load). More: add where observed.
  for (let j = K; j >= 0 && sum > controllable; j--) {
    const d = Math.min(counts[j] ?? 0, sum - controllable);
    counts[j] = (counts[j] ?? 0) - d;
    sum -= d;
  }
  for (let j = 0; j <= K && sum < controllable; j++) {
    const d = Math.min(Math.max(0, (observed[j] ?? 0) - (counts[j] ?? 0)), controllable - sum);
    counts[j] = (counts[j] ?? 0) + d;
    sum += d;
  }
  counts[0] = (counts[0] ?? 0) + (controllable - sum);
  return counts;
}

function activePin(fleet: string, states: string[], ctx: FleetContext): FleetVar['pin'] {
  for (const o of ctx.overrides) {
    if (o.kind !== 'fleet' || o.name !== fleet) continue;
    const state = states.indexOf(o.mode);
    if (state < 0) {
      ctx.warn(
        `override ${o.id}: fleet ${fleet} has no mode "${o.mode}" (use asleep or ${states.slice(1).join(', ')}); ignored`,
      );
      continue;
    }
    return { override: o, state };
  }
  return null;
}

export function buildFleetVar(
  fleet: MinerFleet,
  index: number,
  obs: FleetObservation | undefined,
  ctx: FleetContext,
): FleetVar {
  const name = fleet.metadata.name;
  const profiles = [...fleetProfiles(fleet)].sort((a, b) => a.powerW - b.powerW);
  const states = ['asleep', ...profiles.map((p) => p.name)];
  const K = profiles.length;
  const miners = endpointCount(fleet.spec);
  const { unc, counts: obsCounts } = splitObservation(name, miners, states, obs, ctx.warn);
  const uncontrollable = unc.fault + unc.offline + unc.stale + unc.unknown;
  const controllable = miners - uncontrollable;

  const sleepW = fleet.spec.sleepW ?? findMinerModel(fleet.spec.model)?.sleepW ?? 0;
  const nameplateW = fleetNameplateW(fleet);
  const rawStateW = [sleepW, ...profiles.map((p) => p.powerW)];
  const modelledKw =
    (obsCounts.reduce((a, n, j) => a + n * (rawStateW[j] ?? 0), 0) + uncontrollable * nameplateW) / 1000;
  let calib = 1;
  const measured = obs?.measuredKw;
  if (typeof measured === 'number' && Number.isFinite(measured) && modelledKw > 0 && measured > modelledKw) {
    calib = measured / modelledKw;
    if (calib > 1.1)
      ctx.warn(
        `fleet ${name}: metered ${num(measured)} kW is ${num((calib - 1) * 100)}% above the modelled ${num(modelledKw)} kW; planning with the metered draw`,
      );
  }
  const stateKw = rawStateW.map((w) => (w * calib) / 1000);
  const stateThs = [0, ...profiles.map((p) => p.hashrateThs)];
  const nameplateKw = (nameplateW * calib) / 1000;

  const stepKw: number[] = [];
  const stepThs: number[] = [];
  const stepRevenue: number[] = [];
  const stepEnergy: number[] = [];
  const stepValue: number[] = [];
  const stepBreakeven: number[] = [];
  const hyst: number[] = [];
  const tie: number[] = [];
  for (let s = 1; s <= K; s++) {
    const dKw = (stateKw[s] as number) - (stateKw[s - 1] as number);
    const dThs = (stateThs[s] as number) - (stateThs[s - 1] as number);
    const revenue = ((dThs * ctx.hashprice) / 24) * (1 - ctx.poolFee);
    const energy = (dKw * ctx.pue * ctx.energy) / 1000;
    stepKw.push(dKw);
    stepThs.push(dThs);
    stepRevenue.push(revenue);
    stepEnergy.push(energy);
    stepValue.push(revenue - energy);
    stepBreakeven.push(
      dThs > 0 && dKw > 0 ? breakevenUsdPerMwh(ctx.hashprice, (dKw * 1000) / dThs, ctx.pue, ctx.poolFee) : 0,
    );
    hyst.push((ctx.band * dKw * ctx.pue) / 1000);
    tie.push(PENALTY.tieBreakUsdPerKwh * ((ctx.rank + 1) / (ctx.count + 1)) * dKw);
  }
  let convex = true;
  for (let s = 1; s < K; s++)
    if ((stepBreakeven[s] as number) > (stepBreakeven[s - 1] as number) + 1e-9) convex = false;

  const mem = ctx.previous?.fleets[name];
  const refCounts = referenceCounts(mem?.target, states, obsCounts, controllable);
  const observed = toCum(obsCounts);
  const ref = toCum(refCounts);
  const changedAt = mem?.changedAt ?? null;
  const dwell = changedAt !== null && ctx.now - changedAt < ctx.minDwellMs;
  const cyclesToday = ctx.sameDay ? Math.max(0, mem?.cyclesToday ?? 0) : 0;
  const budget = Math.max(0, Math.floor(2 * (ctx.maxCyclesPerDay * miners - cyclesToday) + 1e-9));
  const pin = activePin(name, states, ctx);

  const lo = new Array<number>(K).fill(0);
  const hi = new Array<number>(K).fill(controllable);
  const softLo = new Array<number>(K).fill(0);
  const penLo = new Array<number>(K).fill(0);
  const softHi = new Array<number>(K).fill(controllable);
  const penHi = new Array<number>(K).fill(0);
  if (pin) {
    // Move only towards the pin; every miner away from it costs the pin penalty.
    for (let s = 1; s <= K; s++) {
      const pen = PENALTY.pinUsdPerKwh * (stepKw[s - 1] as number);
      if (s <= pin.state) {
        lo[s - 1] = ref[s - 1] as number;
        softLo[s - 1] = controllable;
        penLo[s - 1] = pen;
      } else {
        hi[s - 1] = ref[s - 1] as number;
        softHi[s - 1] = 0;
        penHi[s - 1] = pen;
      }
    }
  } else if (dwell) {
    for (let s = 0; s < K; s++) lo[s] = hi[s] = ref[s] as number;
  } else if (K > 0) {
    lo[0] = Math.max(0, (ref[0] as number) - budget);
    hi[0] = Math.min(controllable, (ref[0] as number) + budget);
  }

  return {
    index,
    name,
    fleet,
    model: fleet.spec.model,
    states,
    profiles,
    K,
    miners,
    controllable,
    unc,
    uncontrollable,
    calib,
    stateKw,
    stateThs,
    nameplateKw,
    baseKw: controllable * (stateKw[0] as number) + uncontrollable * nameplateKw,
    stepKw,
    stepThs,
    stepRevenue,
    stepEnergy,
    stepValue,
    stepBreakeven,
    observed,
    ref,
    lo,
    hi,
    softLo,
    penLo,
    softHi,
    penHi,
    hyst,
    wear: ctx.wearPerTransition,
    churn: PENALTY.churnUsdPerUnitHour,
    tie,
    caps: [],
    dwell: dwell && !pin,
    pin,
    forcedBy: null,
    budget,
    cyclesToday,
    changedAt,
    hasObservation: obs !== undefined,
    convex,
  };
}

/** Makes lo/hi consistent with cum[0] ≥ cum[1] ≥ … (and the reference always inside). */
export function tightenFleetBounds(f: FleetVar): void {
  for (let s = f.K - 2; s >= 0; s--) f.lo[s] = Math.max(f.lo[s] as number, f.lo[s + 1] as number);
  for (let s = 0; s < f.K; s++) {
    const above = s === 0 ? f.controllable : (f.hi[s - 1] as number);
    f.hi[s] = Math.min(f.hi[s] as number, above);
  }
}

/** Lets a fleet under an overloaded limit shed past its dwell lock, cycle budget or pin. */
export function forceFleet(f: FleetVar, cap: number, forcedUsdPerKwh: number): void {
  if (f.forcedBy === null) f.forcedBy = cap;
  for (let s = 0; s < f.K; s++) {
    if ((f.lo[s] as number) > 0) {
      f.softLo[s] = Math.max(f.softLo[s] as number, f.lo[s] as number);
      f.penLo[s] = Math.max(f.penLo[s] as number, forcedUsdPerKwh * (f.stepKw[s] as number));
      f.lo[s] = 0;
    }
  }
}

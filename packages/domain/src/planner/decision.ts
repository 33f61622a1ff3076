// A decision (what both solvers produce) and the two functions everything else relies on: the
// load it puts on every limit, and its score — the same objective the MILP maximises.
import type { FleetVar, PlanView, PoolVar } from './view-types.ts';

export interface Decision {
  /** Per fleet, cumulative counts (see view-types.ts). */
  cum: number[][];
  /** Per pool, nodes hashing. */
  hashing: number[];
  /** Per order, the pool index it is admitted to, or -1. */
  orderPool: number[];
}

export function cloneDecision(d: Decision): Decision {
  return { cum: d.cum.map((c) => [...c]), hashing: [...d.hashing], orderPool: [...d.orderPool] };
}

/** The lowest-load decision inside every hard bound: the start of the greedy fill. */
export function baselineDecision(view: PlanView): Decision {
  return {
    cum: view.fleets.map((f) => [...f.lo]),
    hashing: view.pools.map((p) => p.lowH),
    orderPool: view.orders.map((o) => (o.hard ? (o.options[0]?.pool ?? -1) : -1)),
  };
}

export interface PoolUse {
  /** Nodes serving admitted orders. */
  serving: number;
  /** Of those, nodes of orders that were not already in this pool. */
  newServing: number;
}

export function poolUse(view: PlanView, d: Decision): PoolUse[] {
  const use = view.pools.map(() => ({ serving: 0, newServing: 0 }));
  for (const o of view.orders) {
    const p = d.orderPool[o.index] ?? -1;
    if (p < 0) continue;
    const opt = o.options.find((x) => x.pool === p);
    const u = use[p];
    if (!opt || !u) continue;
    u.serving += opt.nodes;
    if (o.wasIn !== p) u.newServing += opt.nodes;
  }
  return use;
}

export function fleetKw(f: FleetVar, cum: readonly number[]): number {
  let kw = f.baseKw;
  for (let s = 0; s < f.K; s++) kw += (f.stepKw[s] as number) * (cum[s] as number);
  return kw;
}

export function poolKw(p: PoolVar, hashing: number, serving: number): number {
  return p.baseKw + p.hashStepKw * hashing + p.servStepKw * serving;
}

/** IT kW on every cap. */
export function capLoads(view: PlanView, d: Decision): number[] {
  const use = poolUse(view, d);
  const fk = view.fleets.map((f) => fleetKw(f, d.cum[f.index] as number[]));
  const pk = view.pools.map((p) =>
    poolKw(p, d.hashing[p.index] as number, (use[p.index] as PoolUse).serving),
  );
  return view.caps.map((c) => {
    let kw = 0;
    for (const f of c.fleets) kw += fk[f] as number;
    for (const p of c.pools) kw += pk[p] as number;
    return kw;
  });
}

export interface ScoreBreakdown {
  hashingUsdPerHour: number;
  inferenceUsdPerHour: number;
  gpuHashingUsdPerHour: number;
  energyUsdPerHour: number;
  wearUsdPerHour: number;
  netUsdPerHour: number;
  hysteresis: number;
  churn: number;
  tieBreak: number;
  softBounds: number;
  missedOrders: number;
  penaltyUsdPerHour: number;
  score: number;
  itKw: number;
}

const pos = (x: number) => (x > 0 ? x : 0);

export function scoreDecision(view: PlanView, d: Decision): ScoreBreakdown {
  const use = poolUse(view, d);
  let hashing = 0;
  let inference = 0;
  let gpuHashing = 0;
  let itKw = 0;
  let wear = 0;
  let hysteresis = 0;
  let churn = 0;
  let tieBreak = 0;
  let softBounds = 0;
  let missed = 0;
  for (const f of view.fleets) {
    const cum = d.cum[f.index] as number[];
    itKw += fleetKw(f, cum);
    for (let s = 0; s < f.K; s++) {
      const c = cum[s] as number;
      const move = Math.abs(c - (f.ref[s] as number));
      hashing += c * (f.stepRevenue[s] as number);
      hysteresis += move * (f.hyst[s] as number);
      churn += move * f.churn;
      tieBreak += c * (f.tie[s] as number);
      if (s === 0) wear += move * f.wear;
      softBounds += (f.penLo[s] as number) * pos((f.softLo[s] as number) - c);
      softBounds += (f.penHi[s] as number) * pos(c - (f.softHi[s] as number));
    }
  }
  for (const p of view.pools) {
    const h = d.hashing[p.index] as number;
    const u = use[p.index] as PoolUse;
    itKw += poolKw(p, h, u.serving);
    gpuHashing += h * p.hashRevenue;
    const move = Math.abs(h - p.refHashing);
    hysteresis += move * p.hyst;
    churn += move * p.churn;
    tieBreak += h * p.tie;
    softBounds += p.lowPen * pos(p.lowSoft - h - u.newServing) + p.pinPen * pos(p.pinSoftH - h);
  }
  for (const o of view.orders) {
    const p = d.orderPool[o.index] ?? -1;
    if (p < 0) {
      missed += o.bonus;
      continue;
    }
    inference += o.options.find((x) => x.pool === p)?.revenue ?? 0;
  }
  const energy = (itKw * view.pue * view.energyUsdPerMwh) / 1000;
  const net = hashing + inference + gpuHashing - energy - wear;
  const penalty = hysteresis + churn + tieBreak + softBounds + missed;
  return {
    hashingUsdPerHour: hashing,
    inferenceUsdPerHour: inference,
    gpuHashingUsdPerHour: gpuHashing,
    energyUsdPerHour: energy,
    wearUsdPerHour: wear,
    netUsdPerHour: net,
    hysteresis,
    churn,
    tieBreak,
    softBounds,
    missedOrders: missed,
    penaltyUsdPerHour: penalty,
    score: net - penalty,
    itKw,
  };
}

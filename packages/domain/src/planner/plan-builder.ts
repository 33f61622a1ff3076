// Decision → Plan: target counts, admitted and rejected orders, $/h by use, loads per limit,
// every change with its reason, warnings, and the memory for the next plan.
import { breakevenUsdPerMwh } from '../economics/economics.ts';
import { capLoads, fleetKw, poolKw, poolUse, scoreDecision, type Decision } from './decision.ts';
import { fromCum } from './fleet-view.ts';
import { num } from './format.ts';
import {
  fleetMoveReason,
  forcedText,
  orderValueText,
  overrideText,
  poolHashReason,
  rejectReason,
  type LoadState,
} from './reasons.ts';
import type {
  AdmittedOrder,
  FleetPlan,
  Plan,
  PlanChange,
  PlanMemory,
  PoolPlan,
  RejectedOrder,
  SolverKind,
} from './types.ts';
import type { Cap, FleetVar, PlanView, PoolVar } from './view-types.ts';

export interface BuildMeta {
  solver: SolverKind;
  fallbackReason?: string | undefined;
  solveMs: number;
  columns: number;
  rows: number;
  mipGap: number | null;
}

const round = (x: number, d = 3) => {
  const f = 10 ** d;
  return Math.round(x * f) / f;
};

/** Moves between two count vectors, pairing the k-th lowest miner before with the k-th after. */
export function stateMoves(
  before: readonly number[],
  after: readonly number[],
): Array<{ from: number; to: number; n: number }> {
  const out: Array<{ from: number; to: number; n: number }> = [];
  let i = 0;
  let j = 0;
  let ra = before[0] ?? 0;
  let rb = after[0] ?? 0;
  while (i < before.length && j < after.length) {
    if (ra === 0) {
      ra = before[++i] ?? 0;
      continue;
    }
    if (rb === 0) {
      rb = after[++j] ?? 0;
      continue;
    }
    const t = Math.min(ra, rb);
    if (i !== j) {
      const last = out[out.length - 1];
      if (last && last.from === i && last.to === j) last.n += t;
      else out.push({ from: i, to: j, n: t });
    }
    ra -= t;
    rb -= t;
  }
  return out;
}

function fleetPlan(view: PlanView, f: FleetVar, cum: number[]): FleetPlan {
  const counts = fromCum(cum, f.controllable);
  const byProfile: Record<string, number> = {};
  let ths = 0;
  const breakeven: Record<string, number> = {};
  for (let j = 1; j <= f.K; j++) {
    const name = f.states[j] as string;
    byProfile[name] = counts[j] as number;
    ths += (counts[j] as number) * (f.stateThs[j] as number);
    const t = f.stateThs[j] as number;
    breakeven[name] = round(
      t > 0
        ? breakevenUsdPerMwh(
            view.hashpriceUsdPerThDay,
            ((f.stateKw[j] as number) * 1000) / t,
            view.pue,
            view.poolFee,
          )
        : 0,
      2,
    );
  }
  return {
    model: f.model,
    miners: f.miners,
    controllable: f.controllable,
    uncontrollable: { ...f.unc },
    target: { asleep: counts[0] as number, byProfile },
    breakevenUsdPerMwh: breakeven,
    stepBreakevenUsdPerMwh: f.stepBreakeven.map((b, s) => ({
      from: f.states[s] as string,
      to: f.states[s + 1] as string,
      usdPerMwh: round(b, 2),
    })),
    expectedKw: round(fleetKw(f, cum)),
    hashrateThs: round(ths),
  };
}

function fleetChanges(view: PlanView, f: FleetVar, cum: number[], st: LoadState): PlanChange[] {
  const before = fromCum(f.ref, f.controllable);
  const after = fromCum(cum, f.controllable);
  const unit = `${num(f.miners)} ${f.model}`;
  return stateMoves(before, after).map(({ from, to, n }) => {
    const a = f.states[from] as string;
    const b = f.states[to] as string;
    const multi = f.K > 1;
    const change =
      to === 0
        ? `sleep ${num(n)} of ${unit}${multi ? ` (from ${a})` : ''}`
        : from === 0
          ? `wake ${num(n)} of ${unit}${multi ? ` to ${b}` : ''}`
          : `move ${num(n)} of ${unit} from ${a} to ${b}`;
    return {
      targetKind: 'fleet' as const,
      target: f.name,
      change,
      reason: fleetMoveReason(view, f, from, to, cum, st),
    };
  });
}

interface OrderOutcome {
  admitted: AdmittedOrder[];
  rejected: RejectedOrder[];
  changes: PlanChange[];
  warnings: string[];
}

function orderOutcome(view: PlanView, d: Decision, serving: number[], st: LoadState): OrderOutcome {
  const out: OrderOutcome = { admitted: [], rejected: [], changes: [], warnings: [] };
  for (const o of view.orders) {
    const p = d.orderPool[o.index] ?? -1;
    const order = o.order;
    if (p >= 0) {
      const opt = o.options.find((x) => x.pool === p);
      const pool = view.pools[p] as PoolVar;
      out.admitted.push({
        orderId: order.id,
        broker: order.broker,
        tier: order.tier,
        pool: pool.name,
        nodes: opt?.nodes ?? 0,
        gpus: order.gpuCount,
        gpusByNode: Array.from({ length: opt?.nodes ?? 0 }, (_, k) =>
          Math.min(pool.gpusPerNode, order.gpuCount - k * pool.gpusPerNode),
        ),
        priceUsdPerGpuHour: order.priceUsdPerGpuHour,
        isNew: o.wasIn !== p,
      });
      if (o.wasIn !== p)
        out.changes.push({
          targetKind: 'order',
          target: order.id,
          change: `admit on ${pool.name}: ${num(opt?.nodes ?? 0)} node${opt?.nodes === 1 ? '' : 's'}, ${num(order.gpuCount)} GPUs`,
          reason: orderValueText(view, o, p),
        });
      continue;
    }
    const pinned = o.wasIn >= 0 ? (view.pools[o.wasIn] as PoolVar).pin : null;
    const reason =
      pinned?.mode === 'idle'
        ? overrideText(pinned.override, pinned.mode)
        : rejectReason(view, o, d.hashing, serving, st);
    const preempted = o.wasIn >= 0;
    out.rejected.push({
      orderId: order.id,
      broker: order.broker,
      tier: order.tier,
      reason,
      preempted,
      noticeSeconds: order.noticeSeconds,
    });
    if (preempted)
      out.changes.push({
        targetKind: 'order',
        target: order.id,
        change: `${order.state === 'running' ? 'preempt' : 'revoke'} on ${(view.pools[o.wasIn] as PoolVar).name} (notice ${num(order.noticeSeconds)} s)`,
        reason,
      });
    if (order.tier === 'reserved')
      out.warnings.push(`reserved order ${order.id} (${order.broker}) cannot run: ${reason}`);
    else if (preempted && order.tier === 'on-demand')
      out.warnings.push(`on-demand order ${order.id} (${order.broker}) is preempted: ${reason}`);
  }
  return out;
}

function poolChanges(view: PlanView, p: PoolVar, h: number, newServing: number, st: LoadState): PlanChange[] {
  if (h === p.refHashing) return [];
  const up = h > p.refHashing;
  const n = Math.abs(h - p.refHashing);
  const taken = up ? 0 : Math.min(n, newServing);
  return [
    {
      targetKind: 'pool',
      target: p.name,
      change: `${up ? 'start' : 'stop'} GPU hashing on ${num(n)} of ${num(p.nodes)} nodes`,
      reason: poolHashReason(view, p, up, taken, st),
    },
  ];
}

function nextMemory(view: PlanView, d: Decision, pools: Record<string, PoolPlan>): PlanMemory {
  const mem: PlanMemory = { at: view.input.now, day: view.day, fleets: {}, pools: {} };
  for (const f of view.fleets) {
    const cum = d.cum[f.index] as number[];
    const changed = cum.some((c, s) => c !== f.ref[s]);
    const counts = fromCum(cum, f.controllable);
    mem.fleets[f.name] = {
      target: {
        asleep: counts[0] as number,
        byProfile: Object.fromEntries(f.states.slice(1).map((n, j) => [n, counts[j + 1] as number])),
      },
      changedAt: changed ? view.input.now : f.changedAt,
      cyclesToday: f.cyclesToday + Math.abs((cum[0] ?? 0) - (f.ref[0] ?? 0)) / 2,
    };
  }
  for (const p of view.pools) {
    const pp = pools[p.name] as PoolPlan;
    mem.pools[p.name] = {
      target: { ...pp.target },
      changedAt: (d.hashing[p.index] as number) !== p.refHashing ? view.input.now : p.changedAt,
    };
  }
  return mem;
}

export function buildPlan(view: PlanView, d: Decision, meta: BuildMeta): Plan {
  const score = scoreDecision(view, d);
  const loads = capLoads(view, d);
  const st: LoadState = { loads, headroom: view.caps.map((c) => c.capKw - (loads[c.index] as number)) };
  const use = poolUse(view, d);
  const serving = use.map((u) => u.serving);

  const fleets: Record<string, FleetPlan> = {};
  const changes: PlanChange[] = [];
  for (const f of view.fleets) {
    const cum = d.cum[f.index] as number[];
    fleets[f.name] = fleetPlan(view, f, cum);
    changes.push(...fleetChanges(view, f, cum, st));
  }
  const pools: Record<string, PoolPlan> = {};
  for (const p of view.pools) {
    const h = d.hashing[p.index] as number;
    const s = serving[p.index] as number;
    pools[p.name] = {
      gpuModel: p.pool.spec.gpuModel,
      nodes: p.nodes,
      unavailable: p.unavailable,
      target: { serving: s, hashing: h, idle: p.controllable - s - h },
      hashingBreakevenUsdPerMwh: p.hashBreakeven === null ? null : round(p.hashBreakeven, 2),
      expectedKw: round(poolKw(p, h, s)),
    };
    changes.push(...poolChanges(view, p, h, use[p.index]?.newServing ?? 0, st));
  }
  const orders = orderOutcome(view, d, serving, st);
  changes.push(...orders.changes);

  const warnings = [...view.warnings, ...orders.warnings];
  for (const f of view.fleets) {
    if (
      f.forcedBy !== null &&
      (d.cum[f.index] as number[]).some((c, s) => c < (f.ref[s] as number)) &&
      (f.dwell || f.pin)
    )
      warnings.push(
        `fleet ${f.name}: ${f.dwell ? 'dwell' : 'override'} broken to shed — ${forcedText(view, view.caps[f.forcedBy] as Cap)}`,
      );
  }

  const powerTree: Plan['loads']['powerTree'] = {};
  const coolingZones: Plan['loads']['coolingZones'] = {};
  for (const c of view.caps) {
    const entry = { kw: round(loads[c.index] as number), capKw: round(c.capKw), limitKw: round(c.limitKw) };
    if (c.kind === 'node') powerTree[c.name] = entry;
    else if (c.kind === 'zone') coolingZones[c.name] = entry;
  }
  const site = view.caps[view.siteCap] as Cap;
  const ramp = view.caps[view.rampCap] as Cap;
  return {
    site: view.site.metadata.name,
    at: view.input.now,
    solver: meta.solver,
    fallbackReason: meta.fallbackReason,
    prices: {
      energyUsdPerMwh: view.energyUsdPerMwh,
      hashpriceUsdPerThDay: round(view.hashpriceUsdPerThDay, 6),
      gpuUsdPerGpuHour: view.gpuUsdPerGpuHour,
    },
    fleets,
    pools,
    admitted: orders.admitted,
    rejected: orders.rejected,
    economics: {
      hashingUsdPerHour: round(score.hashingUsdPerHour),
      inferenceUsdPerHour: round(score.inferenceUsdPerHour),
      gpuHashingUsdPerHour: round(score.gpuHashingUsdPerHour),
      energyUsdPerHour: round(score.energyUsdPerHour),
      wearUsdPerHour: round(score.wearUsdPerHour),
      netUsdPerHour: round(score.netUsdPerHour),
    },
    objective: {
      netUsdPerHour: score.netUsdPerHour,
      penaltyUsdPerHour: score.penaltyUsdPerHour,
      score: score.score,
    },
    loads: {
      powerTree,
      coolingZones,
      site: {
        itKw: round(score.itKw),
        facilityKw: round(score.itKw * view.pue),
        capKw: round(site.capKw * view.pue),
        rampCapKw: round(ramp.capKw * view.pue),
        currentKw: round(view.currentFacilityKw),
      },
    },
    changes,
    warnings,
    memory: nextMemory(view, d, pools),
    stats: { solveMs: round(meta.solveMs, 2), columns: meta.columns, rows: meta.rows, mipGap: meta.mipGap },
  };
}

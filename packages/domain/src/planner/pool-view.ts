// GPU pools and broker orders as numbers: node draws and values, which orders may go where
// (GPU model, VRAM, whole nodes), and which must keep running.
import type { GpuPool } from '../farm/resource-schema.ts';
import { PENALTY } from './planner-constants.ts';
import { num } from './format.ts';
import type { Override, PlanMemory, PlannerOrder, PoolObservation } from './types.ts';
import type { OrderVar, PoolVar } from './view-types.ts';

export interface PoolContext {
  now: number;
  pue: number;
  energy: number;
  band: number;
  minDwellMs: number;
  previous: PlanMemory | undefined;
  overrides: Override[];
  rank: number;
  count: number;
  warn: (w: string) => void;
}

const clean = (x: unknown): number =>
  typeof x === 'number' && Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;
const POOL_MODES = ['idle', 'hashing', 'serving'] as const;

function activePoolPin(name: string, ctx: PoolContext): PoolVar['pin'] {
  for (const o of ctx.overrides) {
    if (o.kind !== 'pool' || o.name !== name) continue;
    const mode = POOL_MODES.find((m) => m === o.mode);
    if (!mode) {
      ctx.warn(
        `override ${o.id}: pool ${name} has no mode "${o.mode}" (use idle, hashing or serving); ignored`,
      );
      continue;
    }
    return { override: o, mode };
  }
  return null;
}

export function buildPoolVar(
  pool: GpuPool,
  index: number,
  obs: PoolObservation | undefined,
  ctx: PoolContext,
): PoolVar {
  const name = pool.metadata.name;
  const spec = pool.spec;
  let observed = { serving: 0, hashing: 0, idle: 0 };
  let unavailable: number;
  let nodes = spec.nodes;
  if (!obs) {
    ctx.warn(
      `pool ${name}: no observation; all ${num(nodes)} nodes counted at their highest draw and not used`,
    );
    unavailable = nodes;
  } else {
    observed = { serving: clean(obs.serving), hashing: clean(obs.hashing), idle: clean(obs.idle) };
    const seen = observed.serving + observed.hashing + observed.idle + clean(obs.unavailable);
    // In a cluster the selector finds the nodes; trust a larger observation, count missing as unknown.
    nodes = Math.max(nodes, seen);
    unavailable = nodes - (observed.serving + observed.hashing + observed.idle);
  }
  const controllable = nodes - unavailable;
  const { idle, serving, hashing } = spec.nodePowerKw;
  const maxKw = Math.max(idle, serving, hashing);
  const hashEnabled = spec.hashing?.enabled === true;
  const payout = spec.hashing?.payoutUsdPerGpuHour ?? 0;
  const hashStepKw = hashing - idle;
  const hashRevenue = hashEnabled ? payout * spec.gpusPerNode : 0;
  const hashEnergy = (hashStepKw * ctx.pue * ctx.energy) / 1000;
  const mem = ctx.previous?.pools[name];
  const refHashing = Math.min(controllable, clean(mem?.target.hashing ?? observed.hashing));
  const changedAt = mem?.changedAt ?? null;
  const pin = activePoolPin(name, ctx);
  const dwell = !pin && changedAt !== null && ctx.now - changedAt < ctx.minDwellMs;
  return {
    index,
    name,
    pool,
    nodes,
    controllable,
    unavailable,
    gpusPerNode: spec.gpusPerNode,
    idleKw: idle,
    servingKw: serving,
    hashingKw: hashing,
    maxKw,
    baseKw: controllable * idle + unavailable * maxKw,
    hashStepKw,
    servStepKw: serving - idle,
    hashEnabled,
    hashRevenue,
    hashEnergy,
    hashValue: hashRevenue - hashEnergy,
    hashBreakeven: hashEnabled && hashStepKw > 0 ? (hashRevenue * 1000) / (hashStepKw * ctx.pue) : null,
    observed,
    refHashing,
    lowH: 0,
    lowSoft: 0,
    lowPen: 0,
    hiH: 0,
    pinSoftH: 0,
    pinPen: 0,
    hyst: (ctx.band * Math.max(0, hashStepKw) * ctx.pue) / 1000,
    churn: PENALTY.churnUsdPerUnitHour,
    tie: PENALTY.tieBreakUsdPerKwh * ((ctx.rank + 1) / (ctx.count + 1)) * Math.max(0, hashStepKw),
    caps: [],
    dwell,
    pin,
    forcedBy: null,
    acceptsNew: pin === null || pin.mode === 'serving',
    hardNodes: 0,
    changedAt,
    hasObservation: obs !== undefined,
  };
}

/** Hashing bounds once the orders that must keep running are known. */
export function finishPoolBounds(p: PoolVar): void {
  const free = p.controllable - p.hardNodes;
  const mode = p.pin?.mode;
  if (!p.hashEnabled || mode === 'idle' || mode === 'serving') {
    p.hiH = 0;
    p.lowH = 0;
  } else if (p.dwell) {
    // Dwell: hashing nodes neither start nor stop, except to serve a new order.
    p.hiH = Math.min(p.refHashing, free);
    p.lowH = p.hiH;
  } else {
    p.hiH = p.controllable;
    p.lowH = 0;
  }
  if (mode === 'hashing') {
    p.pinSoftH = free;
    p.pinPen = PENALTY.pinUsdPerKwh * Math.max(0, p.hashStepKw);
  }
}

export function forcePool(p: PoolVar, cap: number, forcedUsdPerKwh: number): void {
  if (p.forcedBy === null) p.forcedBy = cap;
  if (p.lowH > 0) {
    p.lowSoft = p.lowH;
    p.lowPen = forcedUsdPerKwh * Math.max(0, p.hashStepKw);
    p.lowH = 0;
  }
}

const normModel = (s: string) => s.toLowerCase().replace(/[\s_]+/g, '-');

export function nodesFor(order: PlannerOrder, p: PoolVar): number {
  return Math.ceil(order.gpuCount / p.gpusPerNode);
}

function validOrder(o: PlannerOrder): string | null {
  if (!Number.isInteger(o.gpuCount) || o.gpuCount < 1) return `invalid GPU count ${String(o.gpuCount)}`;
  if (!Number.isFinite(o.priceUsdPerGpuHour) || o.priceUsdPerGpuHour < 0)
    return `invalid price ${String(o.priceUsdPerGpuHour)}`;
  if (!Number.isFinite(o.minVramGiB)) return 'invalid minimum VRAM';
  return null;
}

/** Why an order cannot go to a pool, or null when it can. */
function unfit(o: PlannerOrder, models: string[], p: PoolVar, poolModel: string): string | null {
  if (models.length > 0 && !models.includes(poolModel)) return `${p.name} has ${p.pool.spec.gpuModel}`;
  if (p.pool.spec.vramGiB < o.minVramGiB) return `${p.name} has ${p.pool.spec.vramGiB} GiB per GPU`;
  const n = nodesFor(o, p);
  if (n > p.controllable) return `${p.name} has ${p.controllable} usable nodes, the order needs ${n}`;
  return null;
}

export interface OrderContext {
  pue: number;
  energy: number;
}

/**
 * Orders → variables. Orders admitted to or running in a pool stay there (moving one is a
 * preemption); commitments (reserved, on-demand) must stay unless their pool is forced to shed.
 */
export function buildOrderVars(
  orders: PlannerOrder[],
  pools: PoolVar[],
  ctx: OrderContext,
  ignored: Set<string>,
  warn: (w: string) => void,
): OrderVar[] {
  const byName = new Map(pools.map((p) => [p.name, p]));
  const poolModels = pools.map((p) => normModel(p.pool.spec.gpuModel));
  const seen = new Set<string>();
  const out: OrderVar[] = [];
  const sorted = [...orders].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const order of sorted) {
    const placed = order.state !== 'pending' && order.pool !== undefined;
    if (placed && !byName.has(order.pool as string)) {
      ignored.add(order.id); // admitted or running at another site
      continue;
    }
    const v: OrderVar = {
      index: out.length,
      order,
      options: [],
      bonus: 0,
      bonusKind: null,
      hard: false,
      wasIn: placed ? (byName.get(order.pool as string) as PoolVar).index : -1,
      noOption: null,
    };
    out.push(v);
    if (seen.has(order.id)) {
      v.noOption = 'duplicate order id';
      continue;
    }
    seen.add(order.id);
    const invalid = validOrder(order);
    if (invalid) {
      v.noOption = invalid;
      continue;
    }
    const candidates = v.wasIn >= 0 ? [pools[v.wasIn] as PoolVar] : pools;
    const why: string[] = [];
    const models = order.gpuModels.map(normModel);
    for (const p of candidates) {
      const bad = unfit(order, models, p, poolModels[p.index] as string);
      if (bad) {
        why.push(bad);
        continue;
      }
      if (p.pin?.mode === 'idle' || (!p.acceptsNew && v.wasIn !== p.index)) {
        why.push(`${p.name} is pinned ${p.pin?.mode} by override ${p.pin?.override.id}`);
        continue;
      }
      const nodes = nodesFor(order, p);
      const revenue = order.priceUsdPerGpuHour * order.gpuCount;
      const energy = (nodes * p.servStepKw * ctx.pue * ctx.energy) / 1000;
      v.options.push({ pool: p.index, nodes, revenue, energy, value: revenue - energy });
    }
    if (v.options.length === 0) v.noOption = noOptionText(order, why);
    if (order.tier === 'reserved') {
      v.bonus = PENALTY.reservedUsdPerGpuHour * order.gpuCount;
      v.bonusKind = v.wasIn >= 0 ? 'commitment' : 'reserved';
    } else if (order.tier === 'on-demand' && v.wasIn >= 0) {
      v.bonus = PENALTY.onDemandUsdPerGpuHour * order.gpuCount;
      v.bonusKind = 'commitment';
    } else if (v.wasIn >= 0) {
      v.bonus = PENALTY.churnUsdPerUnitHour * (v.options[0]?.nodes ?? 1);
      v.bonusKind = 'keep';
    }
  }
  markHardCommitments(out, pools, warn);
  return out;
}

function noOptionText(order: PlannerOrder, why: string[]): string {
  const want = `${order.gpuCount} GPU${order.gpuCount === 1 ? '' : 's'} of ${order.gpuModels.length ? order.gpuModels.join('/') : 'any model'} with ≥ ${order.minVramGiB} GiB`;
  return why.length ? `no pool fits ${want}: ${why.join('; ')}` : `no GPU pool at this site fits ${want}`;
}

/** Commitments that fit their pool's usable nodes are hard; the rest can be preempted. */
function markHardCommitments(orders: OrderVar[], pools: PoolVar[], warn: (w: string) => void): void {
  const rank = (o: OrderVar) => (o.order.tier === 'reserved' ? 0 : 1);
  const commitments = orders
    .filter((o) => o.bonusKind === 'commitment' && o.options.length === 1)
    .sort(
      (a, b) =>
        rank(a) - rank(b) || b.order.priceUsdPerGpuHour - a.order.priceUsdPerGpuHour || a.index - b.index,
    );
  for (const o of commitments) {
    const opt = o.options[0];
    if (!opt) continue;
    const p = pools[opt.pool] as PoolVar;
    if (p.hardNodes + opt.nodes <= p.controllable) {
      p.hardNodes += opt.nodes;
      o.hard = true;
    } else {
      warn(`order ${o.order.id}: pool ${p.name} has too few usable nodes for all its commitments`);
    }
  }
}

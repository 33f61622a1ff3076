// What the farm's GPU pools can sell: per GPU model, the GPUs in all, those free now, those free
// at a few horizons, and the reference price of each tier. Pure: the capacity route gives it the
// pools (from the farm), the orders holding GPUs, and the latest price readings.
//
// Orders take whole nodes (the planner places ceil(gpuCount / gpusPerNode) nodes per order), so
// GPUs are free by the node: free GPUs = free nodes × GPUs per node. An order holds its nodes
// while it is admitted, running or preempting; pending bids hold nothing until admitted.
import type { OrderState, OrderTier } from '@switchyard/db';
import {
  DEFAULT_NOTICE_SECONDS,
  DEFAULT_PRICING_POLICY,
  normalizeGpuModel,
  poolPrice,
  tierUnits,
  usdNumber,
  type EnergyPrice,
  type PoolEconomics,
  type PoolPrice,
  type PriceReading,
  type PriceSource,
  type PricingPolicy,
  type QuotePool,
} from './pricing.ts';

/** How far ahead the forecast looks, seconds: +1 h, +6 h, +24 h. */
export const FORECAST_HORIZONS_SECONDS: readonly number[] = [3600, 6 * 3600, 24 * 3600];

const TIERS: readonly OrderTier[] = ['reserved', 'on-demand', 'interruptible'];

/** A GPU pool of the farm, as capacity needs it. */
export interface CapacityPool extends PoolEconomics {
  name: string;
  site: string;
  gpuModel: string;
  vramGiB: number;
  nodes: number;
}

/** An order that may hold GPUs of a pool. */
export interface HoldingOrder {
  pool: string | null;
  state: OrderState;
  gpuCount: number;
  durationSeconds: number | null;
  endBy: Date | null;
  startedAt: Date | null;
  preemptAt: Date | null;
}

/**
 * When an order gives its nodes back: the earliest of its end-by, its duration from its start
 * (from now if it has not started: the earliest it can end), and its preemption deadline. Null
 * when it names none of them (it holds its nodes for as long as anyone can tell).
 */
export function holdEndsAt(o: HoldingOrder, now: Date): Date | null {
  const ends: number[] = [];
  if (o.endBy) ends.push(o.endBy.getTime());
  if (o.durationSeconds !== null) ends.push((o.startedAt ?? now).getTime() + o.durationSeconds * 1000);
  if (o.state === 'preempting' && o.preemptAt) ends.push(o.preemptAt.getTime());
  return ends.length ? new Date(Math.min(...ends)) : null;
}

const HOLDING: ReadonlySet<OrderState> = new Set(['admitted', 'running', 'preempting']);

function heldNodes(pool: CapacityPool, orders: readonly HoldingOrder[], at: Date, now: Date): number {
  let n = 0;
  for (const o of orders) {
    if (o.pool !== pool.name || !HOLDING.has(o.state)) continue;
    const end = holdEndsAt(o, now);
    if (end !== null && end.getTime() <= at.getTime()) continue;
    n += Math.ceil(o.gpuCount / Math.max(1, pool.gpusPerNode));
  }
  return n;
}

export interface ForecastPoint {
  horizonSeconds: number;
  at: string;
  freeGpus: number;
  freeNodes: number;
}

export interface PoolCapacityJson {
  name: string;
  site: string;
  gpuModel: string;
  vramGiB: number;
  gpusPerNode: number;
  nodes: number;
  totalGpus: number;
  freeNodes: number;
  freeGpus: number;
  forecast: ForecastPoint[];
  floorUsdPerGpuHour: number;
  prices: Record<OrderTier, number>;
  priceSource: PriceSource;
}

export interface ModelCapacityJson {
  gpuModel: string;
  vramGiB: number;
  totalGpus: number;
  freeGpus: number;
  /** The largest order that fits one pool now, GPUs. */
  largestOrderGpus: number;
  forecast: ForecastPoint[];
  /** The lowest price per tier over the model's pools, USD per GPU-hour, at the tier's default notice. */
  prices: Record<OrderTier, number>;
  priceSource: PriceSource;
  marketUsdPerGpuHour: number | null;
  pools: PoolCapacityJson[];
}

export interface CapacityReport {
  generatedAt: string;
  /** The energy price each site's GPU-hours are costed at. */
  energy: Array<{ site: string; usdPerMwh: number; source: EnergyPrice['source'] }>;
  models: ModelCapacityJson[];
}

export interface CapacityInput {
  pools: readonly CapacityPool[];
  orders: readonly HoldingOrder[];
  /** The energy price each site's GPU-hours are costed at. */
  energyBySite: Readonly<Record<string, EnergyPrice>>;
  /** The latest market price reading per GPU model (the signal's subject). */
  market: ReadonlyMap<string, PriceReading>;
  now: Date;
  policy?: PricingPolicy;
  horizonsSeconds?: readonly number[];
}

export interface Capacity {
  report: CapacityReport;
  /** Each pool as a quote sees it. */
  pools: QuotePool[];
}

function forecastOf(
  pool: CapacityPool,
  orders: readonly HoldingOrder[],
  now: Date,
  horizons: readonly number[],
) {
  return horizons.map((h) => {
    const at = new Date(now.getTime() + h * 1000);
    const freeNodes = Math.max(0, pool.nodes - heldNodes(pool, orders, at, now));
    return { horizonSeconds: h, at: at.toISOString(), freeNodes, freeGpus: freeNodes * pool.gpusPerNode };
  });
}

function sumForecast(points: ForecastPoint[][]): ForecastPoint[] {
  const first = points[0] ?? [];
  return first.map((p, i) => ({
    ...p,
    freeNodes: points.reduce((n, f) => n + (f[i]?.freeNodes ?? 0), 0),
    freeGpus: points.reduce((n, f) => n + (f[i]?.freeGpus ?? 0), 0),
  }));
}

/** Capacity and reference prices per GPU model; models and pools in name order. */
export function capacityOf(input: CapacityInput): Capacity {
  const { now } = input;
  const policy = input.policy ?? DEFAULT_PRICING_POLICY;
  const horizons = input.horizonsSeconds ?? FORECAST_HORIZONS_SECONDS;
  const market = new Map([...input.market].map(([k, v]) => [normalizeGpuModel(k), v]));
  const worst: EnergyPrice = { usdPerMwh: policy.worstEnergyUsdPerMwh, source: 'worst-case' };

  const quotePools: QuotePool[] = [];
  const byModel = new Map<
    string,
    { pools: PoolCapacityJson[]; units: Record<OrderTier, bigint>[]; prices: PoolPrice[] }
  >();
  const sorted = [...input.pools].sort((a, b) => a.name.localeCompare(b.name));
  for (const pool of sorted) {
    const freeNodes = Math.max(0, pool.nodes - heldNodes(pool, input.orders, now, now));
    const price = poolPrice(
      pool,
      input.energyBySite[pool.site] ?? worst,
      market.get(normalizeGpuModel(pool.gpuModel)),
      now,
      policy,
    );
    const units = Object.fromEntries(
      TIERS.map((t) => [t, tierUnits(price, t, DEFAULT_NOTICE_SECONDS[t], policy)]),
    ) as Record<OrderTier, bigint>;
    const json: PoolCapacityJson = {
      name: pool.name,
      site: pool.site,
      gpuModel: pool.gpuModel,
      vramGiB: pool.vramGiB,
      gpusPerNode: pool.gpusPerNode,
      nodes: pool.nodes,
      totalGpus: pool.nodes * pool.gpusPerNode,
      freeNodes,
      freeGpus: freeNodes * pool.gpusPerNode,
      forecast: forecastOf(pool, input.orders, now, horizons),
      floorUsdPerGpuHour: usdNumber(price.floorUnits),
      prices: Object.fromEntries(TIERS.map((t) => [t, usdNumber(units[t])])) as Record<OrderTier, number>,
      priceSource: price.source,
    };
    quotePools.push({
      name: pool.name,
      gpuModel: pool.gpuModel,
      vramGiB: pool.vramGiB,
      gpusPerNode: pool.gpusPerNode,
      nodes: pool.nodes,
      freeNodes,
      price,
    });
    const key = normalizeGpuModel(pool.gpuModel);
    const entry = byModel.get(key) ?? { pools: [], units: [], prices: [] };
    entry.pools.push(json);
    entry.units.push(units);
    entry.prices.push(price);
    byModel.set(key, entry);
  }

  const models: ModelCapacityJson[] = [...byModel.values()]
    .map(({ pools, units, prices }) => {
      const min = (t: OrderTier) => units.reduce((m, u) => (u[t] < m ? u[t] : m), units[0]![t]);
      const cheapest = units.findIndex((u) => u['on-demand'] === min('on-demand'));
      const marketUnits = prices.find((p) => p.marketUnits !== null)?.marketUnits ?? null;
      return {
        gpuModel: pools[0]!.gpuModel,
        vramGiB: Math.max(...pools.map((p) => p.vramGiB)),
        totalGpus: pools.reduce((n, p) => n + p.totalGpus, 0),
        freeGpus: pools.reduce((n, p) => n + p.freeGpus, 0),
        largestOrderGpus: Math.max(...pools.map((p) => p.freeGpus)),
        forecast: sumForecast(pools.map((p) => p.forecast)),
        prices: Object.fromEntries(TIERS.map((t) => [t, usdNumber(min(t))])) as Record<OrderTier, number>,
        priceSource: prices[cheapest]!.source,
        marketUsdPerGpuHour: marketUnits === null ? null : usdNumber(marketUnits),
        pools,
      };
    })
    .sort((a, b) => a.gpuModel.localeCompare(b.gpuModel));

  const energy = [...new Set(sorted.map((p) => p.site))].sort().map((site) => {
    const e = input.energyBySite[site] ?? worst;
    return { site, usdPerMwh: e.usdPerMwh, source: e.source };
  });
  return { report: { generatedAt: now.toISOString(), energy, models }, pools: quotePools };
}

// What a GPU-hour costs a broker: money arithmetic, the reference price of a pool, the price of
// each tier, and the quote for a request. Pure: the capacity and quote routes read the farm, the
// orders and the latest signal readings, and ask these functions for the figures.
//
// Money is exact: amounts are bigint counts of 1/10,000 USD (the database keeps numeric(12,4)),
// converted to numbers (4 decimals) only for answers.
//
// A pool's reference price, per GPU-hour:
//   floor  = max(hashing payout, serving energy cost) × (1 + margin)
//            serving energy cost = serving kW per node × PUE × energy price / 1000 / GPUs per node
//   base   = the market price of the GPU model (signal gpu_usd_per_gpu_hour, when fresh), but
//            never below the floor; the floor when there is no fresh market price
//   tiers  = reserved: base × 1.25 (never preempted for price); on-demand: base (preempted
//            only with notice); interruptible: base × (0.6 + 0.2 × min(notice, 1 h) / 1 h),
//            never below the floor
import type { OrderTier } from '@switchyard/db';

// ---------------------------------------------------------------- money

/** 1 USD in money units (1/10,000 USD). */
export const USD_SCALE = 10_000n;
const SCALE_DIGITS = 4;
const DECIMAL = /^(-?)(\d{1,30})(?:\.(\d{1,30}))?$/;

function divRoundHalfUp(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('division by a non-positive amount');
  const neg = n < 0n;
  const a = neg ? -n : n;
  const q = (a * 2n + d) / (2n * d);
  return neg ? -q : q;
}

/**
 * Money units of an amount in USD: a decimal string (as the database returns numeric, exact) or
 * a number (taken to 4 decimals, half up). Throws on anything else.
 */
export function usdUnits(v: number | string): bigint {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`not a finite amount: ${v}`);
    // toPrecision(15) undoes binary noise (1.00005 × 1e4 = 10000.499999999998) before rounding.
    const scaled = Number((v * Number(USD_SCALE)).toPrecision(15));
    return BigInt(Math.sign(scaled) * Math.round(Math.abs(scaled)));
  }
  const m = DECIMAL.exec(v.trim());
  if (!m) throw new RangeError(`not a decimal amount: ${JSON.stringify(v)}`);
  const [, sign, whole, frac = ''] = m;
  const digits = BigInt(`${whole}${frac.padEnd(SCALE_DIGITS, '0').slice(0, SCALE_DIGITS)}`);
  // Round half up on the first dropped digit.
  const up = frac.length > SCALE_DIGITS && frac.charCodeAt(SCALE_DIGITS) >= 53 /* '5' */ ? 1n : 0n;
  const units = digits + up;
  return sign === '-' ? -units : units;
}

/** An amount in money units as a number of USD (4 decimals). */
export function usdNumber(units: bigint): number {
  return Number(units) / Number(USD_SCALE);
}

/** An amount in money units as a decimal string with 4 decimals, for numeric columns. */
export function usdString(units: bigint): string {
  const neg = units < 0n;
  const s = (neg ? -units : units).toString().padStart(SCALE_DIGITS + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, -SCALE_DIGITS)}.${s.slice(-SCALE_DIGITS)}`;
}

/** A number rounded to `digits` decimals (half away from zero), for quantities that are not money. */
export function roundTo(x: number, digits = SCALE_DIGITS): number {
  const f = 10 ** digits;
  return (Math.sign(x) * Math.round(Number((Math.abs(x) * f).toPrecision(15)))) / f || 0;
}

/** The charge for `gpuCount` GPUs for `ms` milliseconds at `priceUnits` per GPU-hour, in money units. */
export function chargeUnits(priceUnits: bigint, gpuCount: number, ms: number): bigint {
  if (!Number.isInteger(gpuCount) || gpuCount < 0) throw new RangeError(`bad GPU count ${gpuCount}`);
  const whole = BigInt(Math.max(0, Math.round(ms)));
  return divRoundHalfUp(priceUnits * BigInt(gpuCount) * whole, 3_600_000n);
}

// ---------------------------------------------------------------- prices

export interface PricingPolicy {
  /** Added to the floor, percent. */
  marginPct: number;
  /** Multiplier of the base price per tier (interruptible: at zero notice). */
  tierFactor: Readonly<Record<OrderTier, number>>;
  /** Added to the interruptible factor when the broker asks for a full notice period. */
  interruptibleNoticeFactor: number;
  /** The notice, seconds, at which the interruptible factor is complete. */
  interruptibleFullNoticeSeconds: number;
  /** A market price older than this is not used, seconds. */
  marketMaxAgeSeconds: number;
  /** An energy price older than this is not used, seconds. */
  energyMaxAgeSeconds: number;
  /** The energy price assumed without a usable one (the site's price cap wins when it has one). */
  worstEnergyUsdPerMwh: number;
}

export const DEFAULT_PRICING_POLICY: PricingPolicy = {
  marginPct: 15,
  tierFactor: { reserved: 1.25, 'on-demand': 1, interruptible: 0.6 },
  interruptibleNoticeFactor: 0.2,
  interruptibleFullNoticeSeconds: 3600,
  marketMaxAgeSeconds: 6 * 3600,
  energyMaxAgeSeconds: 2 * 3600,
  worstEnergyUsdPerMwh: 5000,
};

/** The notice an order gets when its request names none, seconds, per tier. */
export const DEFAULT_NOTICE_SECONDS: Readonly<Record<OrderTier, number>> = {
  reserved: 3600,
  'on-demand': 900,
  interruptible: 120,
};
/** On-demand orders are preempted only with notice: at least this much, seconds. */
export const MIN_ON_DEMAND_NOTICE_SECONDS = 60;

/** Whether the planner may take an order of this tier back for price (with its notice). */
export function tierIsPreemptible(tier: OrderTier): boolean {
  return tier !== 'reserved';
}

/** What pricing needs of a GPU pool. */
export interface PoolEconomics {
  gpusPerNode: number;
  /** A node's draw while serving, kW. */
  servingKw: number;
  /** The site's PUE. */
  pue: number;
  /** What a GPU earns hashing, USD per hour; null when the pool does not hash. */
  hashingPayoutUsdPerGpuHour: number | null;
}

/** A signal reading as pricing sees it. */
export interface PriceReading {
  value: number;
  observedAt: Date;
  /** The value stays current until then (price curves); its age counts from here. */
  validUntil?: Date | null | undefined;
}

/** Seconds since a reading stopped being current (0 while it is). */
export function readingAgeSeconds(r: PriceReading, now: Date): number {
  const from = Math.max(r.observedAt.getTime(), r.validUntil?.getTime() ?? -Infinity);
  return Math.max(0, (now.getTime() - from) / 1000);
}

export function isFresh(
  r: PriceReading | null | undefined,
  now: Date,
  maxAgeSeconds: number,
): r is PriceReading {
  return !!r && Number.isFinite(r.value) && readingAgeSeconds(r, now) <= maxAgeSeconds;
}

export type EnergySource = 'contract' | 'signal' | 'worst-case';

export interface EnergyPrice {
  usdPerMwh: number;
  source: EnergySource;
}

/** The site's energy contract (Site.spec.energyContract). */
export interface EnergyContract {
  pricing: 'real-time' | 'day-ahead' | 'fixed';
  fixedUsdPerMwh?: number | undefined;
  priceCapUsdPerMwh?: number | undefined;
}

/**
 * The energy price a GPU-hour is costed at: a fixed contract's price; else the fresh signal the
 * contract settles on (real-time or day-ahead, the other one failing that); else the worst case,
 * the site's price cap.
 */
export function energyPriceFor(
  contract: EnergyContract | undefined,
  readings: { realTime?: PriceReading | null | undefined; dayAhead?: PriceReading | null | undefined },
  now: Date,
  policy: PricingPolicy = DEFAULT_PRICING_POLICY,
): EnergyPrice {
  if (contract?.pricing === 'fixed' && contract.fixedUsdPerMwh !== undefined)
    return { usdPerMwh: contract.fixedUsdPerMwh, source: 'contract' };
  const order =
    contract?.pricing === 'day-ahead'
      ? [readings.dayAhead, readings.realTime]
      : [readings.realTime, readings.dayAhead];
  for (const r of order)
    if (isFresh(r, now, policy.energyMaxAgeSeconds)) return { usdPerMwh: r.value, source: 'signal' };
  return { usdPerMwh: contract?.priceCapUsdPerMwh ?? policy.worstEnergyUsdPerMwh, source: 'worst-case' };
}

/** What serving costs per GPU-hour in energy, USD (0 when energy is free or paid for). */
export function servingEnergyUsdPerGpuHour(p: PoolEconomics, energyUsdPerMwh: number): number {
  const kwh = (p.servingKw * p.pue) / Math.max(1, p.gpusPerNode);
  return Math.max(0, (kwh * energyUsdPerMwh) / 1000);
}

/** The least a GPU-hour of the pool is sold for, in money units. */
export function floorUnits(
  p: PoolEconomics,
  energyUsdPerMwh: number,
  policy: PricingPolicy = DEFAULT_PRICING_POLICY,
): bigint {
  const cost = Math.max(p.hashingPayoutUsdPerGpuHour ?? 0, servingEnergyUsdPerGpuHour(p, energyUsdPerMwh));
  return usdUnits(cost * (1 + policy.marginPct / 100));
}

export type PriceSource = 'market' | 'floor';

export interface PoolPrice {
  floorUnits: bigint;
  /** The fresh market price used, if any. */
  marketUnits: bigint | null;
  baseUnits: bigint;
  /** Where the base came from: the market price, or the floor (no fresh market price, or one below it). */
  source: PriceSource;
}

/** A pool's base price: the fresh market price, never below the floor. */
export function poolPrice(
  p: PoolEconomics,
  energy: EnergyPrice,
  market: PriceReading | null | undefined,
  now: Date,
  policy: PricingPolicy = DEFAULT_PRICING_POLICY,
): PoolPrice {
  const floor = floorUnits(p, energy.usdPerMwh, policy);
  const fresh =
    isFresh(market, now, policy.marketMaxAgeSeconds) && market.value > 0 ? usdUnits(market.value) : null;
  if (fresh !== null && fresh >= floor)
    return { floorUnits: floor, marketUnits: fresh, baseUnits: fresh, source: 'market' };
  return { floorUnits: floor, marketUnits: fresh, baseUnits: floor, source: 'floor' };
}

/** The price of a tier, per GPU-hour in money units, for an order asking for `noticeSeconds`. */
export function tierUnits(
  price: Pick<PoolPrice, 'baseUnits' | 'floorUnits'>,
  tier: OrderTier,
  noticeSeconds: number,
  policy: PricingPolicy = DEFAULT_PRICING_POLICY,
): bigint {
  let factor = policy.tierFactor[tier];
  if (tier === 'interruptible') {
    const share =
      Math.min(Math.max(noticeSeconds, 0), policy.interruptibleFullNoticeSeconds) /
      policy.interruptibleFullNoticeSeconds;
    factor += policy.interruptibleNoticeFactor * share;
  }
  // factor to 6 decimals, applied exactly.
  const f = BigInt(Math.round(factor * 1_000_000));
  const units = divRoundHalfUp(price.baseUnits * f, 1_000_000n);
  return units < price.floorUnits ? price.floorUnits : units;
}

// ---------------------------------------------------------------- quotes

/** GPU model names compare without case, spaces or underscores (the planner's rule). */
export function normalizeGpuModel(s: string): string {
  return s.toLowerCase().replace(/[\s_]+/g, '-');
}

/** What a pool offers, as far as fitting an order goes. */
export interface PoolShape {
  name: string;
  gpuModel: string;
  vramGiB: number;
  gpusPerNode: number;
  nodes: number;
}

/** A pool as a quote sees it: its shape, what is free now, and its price. */
export interface QuotePool extends PoolShape {
  freeNodes: number;
  price: Pick<PoolPrice, 'baseUnits' | 'floorUnits' | 'source'>;
}

export interface QuoteRequest {
  gpuModels: readonly string[];
  minVramGiB: number;
  gpuCount: number;
  tier: OrderTier;
  noticeSeconds: number;
  maxUsdPerGpuHour: number;
  /** How long it would run, for the estimate. */
  seconds: number;
}

export type QuoteRefusal = 'no-pool-fits' | 'no-capacity' | 'over-max-price';

export type QuoteDecision =
  | {
      ok: true;
      pool: QuotePool;
      nodes: number;
      priceUnits: bigint;
      totalUnits: bigint;
      source: PriceSource;
    }
  | { ok: false; code: QuoteRefusal; detail: string };

const nodesFor = (gpuCount: number, gpusPerNode: number) => Math.ceil(gpuCount / Math.max(1, gpusPerNode));
const list = (xs: readonly string[]) => [...new Set(xs)].join(', ') || 'none';

/**
 * The pools whose shape fits a request (model, VRAM, size), or why none does. Capacity and
 * price are not considered: a bid waits for the planner.
 */
export function fittingPools<P extends PoolShape>(
  req: Pick<QuoteRequest, 'gpuModels' | 'minVramGiB' | 'gpuCount'>,
  pools: readonly P[],
): { ok: true; pools: P[] } | { ok: false; detail: string } {
  const wanted = new Set(req.gpuModels.map(normalizeGpuModel));
  const byModel = pools.filter((p) => wanted.has(normalizeGpuModel(p.gpuModel)));
  if (byModel.length === 0)
    return {
      ok: false,
      detail: `no GPU pool has ${list(req.gpuModels)}; the farm has ${list(pools.map((p) => p.gpuModel))}`,
    };
  const byVram = byModel.filter((p) => p.vramGiB >= req.minVramGiB);
  if (byVram.length === 0)
    return {
      ok: false,
      detail: `no pool of ${list(req.gpuModels)} has ${req.minVramGiB} GiB per GPU (the most is ${Math.max(...byModel.map((p) => p.vramGiB))} GiB)`,
    };
  const bySize = byVram.filter((p) => nodesFor(req.gpuCount, p.gpusPerNode) <= p.nodes);
  if (bySize.length === 0)
    return {
      ok: false,
      detail: `no pool of ${list(req.gpuModels)} with ${req.minVramGiB} GiB per GPU has ${req.gpuCount} GPUs (the largest has ${Math.max(...byVram.map((p) => p.nodes * p.gpusPerNode))})`,
    };
  return { ok: true, pools: bySize };
}

/**
 * A quote: among the pools that fit and have the nodes free now, the one with the lowest price
 * for the tier (ties: the most free nodes, then the name); refused when none fits, none has the
 * room now, or the price is above the broker's maximum.
 */
export function quoteFor(
  req: QuoteRequest,
  pools: readonly QuotePool[],
  policy: PricingPolicy = DEFAULT_PRICING_POLICY,
): QuoteDecision {
  const fit = fittingPools(req, pools);
  if (!fit.ok) return { ok: false, code: 'no-pool-fits', detail: fit.detail };
  const free = fit.pools.filter((p) => nodesFor(req.gpuCount, p.gpusPerNode) <= p.freeNodes);
  if (free.length === 0) {
    const room = fit.pools.map(
      (p) => `${p.name} has ${p.freeNodes} of ${p.nodes} nodes of ${p.gpusPerNode} GPUs free`,
    );
    return {
      ok: false,
      code: 'no-capacity',
      detail: `${req.gpuCount} GPUs are not free now: ${room.join('; ')}`,
    };
  }
  const priced = free
    .map((p) => ({ p, units: tierUnits(p.price, req.tier, req.noticeSeconds, policy) }))
    .sort((a, b) =>
      a.units !== b.units
        ? a.units < b.units
          ? -1
          : 1
        : b.p.freeNodes - a.p.freeNodes || a.p.name.localeCompare(b.p.name),
    );
  const best = priced[0]!;
  const max = usdUnits(req.maxUsdPerGpuHour);
  if (best.units > max)
    return {
      ok: false,
      code: 'over-max-price',
      detail: `the ${req.tier} price of ${best.p.gpuModel} in ${best.p.name} is ${usdString(best.units)} USD per GPU-hour, above maxUsdPerGpuHour ${usdString(max)}`,
    };
  return {
    ok: true,
    pool: best.p,
    nodes: nodesFor(req.gpuCount, best.p.gpusPerNode),
    priceUnits: best.units,
    totalUnits: chargeUnits(best.units, req.gpuCount, req.seconds * 1000),
    source: best.p.price.source,
  };
}

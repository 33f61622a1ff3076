// Builds the PlanView from a PlanInput: prices, fleets, pools, orders, caps, forcing and ramp.
// Deterministic: everything is sorted by name, so input order never changes a plan.
import { allocationPolicySpecSchema, type AllocationPolicySpec } from '../farm/resource-schema.ts';
import { resolvePrices } from './signals.ts';
import { buildFleetVar } from './fleet-view.ts';
import { buildOrderVars, buildPoolVar, finishPoolBounds } from './pool-view.ts';
import { applyForcing, buildCaps, finishRamp } from './caps.ts';
import type { PlanInput } from './types.ts';
import type { PlanView } from './view-types.ts';

export class PlannerInputError extends Error {
  readonly code = 'PLANNER_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'PlannerInputError';
  }
}

const byName = <T extends { metadata: { name: string } }>(a: T, b: T) =>
  a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;

/** YYYY-MM-DD of `ms` in the time zone (UTC if it is missing or unknown). */
/** Formatters by time zone (building one costs more than a whole fleet's numbers). */
const dayFormats = new Map<string, Intl.DateTimeFormat>();

export function dayIn(ms: number, timeZone: string | undefined): string {
  try {
    const tz = timeZone ?? 'UTC';
    let f = dayFormats.get(tz);
    if (!f) {
      f = new Intl.DateTimeFormat('en-CA', {
        timeZone: tz,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      });
      dayFormats.set(tz, f);
    }
    return f.format(new Date(ms));
  } catch {
    return new Date(ms).toISOString().slice(0, 10);
  }
}

export function buildView(input: PlanInput): PlanView {
  const site = input.farm.sites.find((s) => s.metadata.name === input.site);
  if (!site) throw new PlannerInputError(`site "${input.site}" is not in the farm`);
  if (!Number.isFinite(input.now)) throw new PlannerInputError('now must be a finite epoch time in ms');
  const policy: AllocationPolicySpec =
    input.farm.policies.find((p) => p.spec.site === input.site)?.spec ??
    allocationPolicySpecSchema.parse({ site: input.site });
  const warnings: string[] = [];
  const warn = (w: string) => warnings.push(w);
  const prices = resolvePrices(site, input.signals, input.now, input.staleness);
  warnings.push(...prices.warnings);
  const pue = site.spec.pue;
  const poolFee = policy.poolFeePct / 100;
  const overrides = (input.overrides ?? [])
    .filter((o) => o.startsAt <= input.now && input.now < o.endsAt)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const day = dayIn(input.now, site.spec.timezone);
  const wearHours = 24 / Math.max(1, policy.maxCyclesPerDay);
  const common = {
    now: input.now,
    pue,
    energy: prices.energyUsdPerMwh,
    band: policy.hysteresisUsdPerMwh,
    minDwellMs: policy.minDwellSeconds * 1000,
    previous: input.previous,
    overrides,
    warn,
  };

  const fleetDocs = input.farm.fleets.filter((f) => f.spec.site === input.site).sort(byName);
  const fleets = fleetDocs.map((f, i) =>
    buildFleetVar(f, i, input.observed.fleets[f.metadata.name], {
      ...common,
      poolFee,
      hashprice: prices.hashpriceUsdPerThDay,
      maxCyclesPerDay: policy.maxCyclesPerDay,
      wearPerTransition: policy.wearCostUsdPerCycle / 2 / wearHours,
      sameDay: input.previous?.day === day,
      rank: i,
      count: fleetDocs.length,
    }),
  );
  const poolDocs = input.farm.pools.filter((p) => p.spec.site === input.site).sort(byName);
  const pools = poolDocs.map((p, i) =>
    buildPoolVar(p, i, input.observed.pools[p.metadata.name], { ...common, rank: i, count: poolDocs.length }),
  );
  const ignoredOrders = new Set<string>();
  const orders = buildOrderVars(
    input.orders,
    pools,
    { pue, energy: prices.energyUsdPerMwh },
    ignoredOrders,
    warn,
  );
  for (const p of pools) finishPoolBounds(p);

  const { caps, siteCap, rampCap } = buildCaps({
    site,
    policy,
    pue,
    ambientC: prices.ambientC,
    dispatches: input.dispatches,
    now: input.now,
    fleets,
    pools,
    warn,
  });
  const view: PlanView = {
    input,
    site,
    policy,
    pue,
    poolFee,
    energyUsdPerMwh: prices.energyUsdPerMwh,
    hashpriceUsdPerThDay: prices.hashpriceUsdPerThDay,
    gpuUsdPerGpuHour: prices.gpuUsdPerGpuHour,
    wearHours,
    day,
    fleets,
    pools,
    orders,
    caps,
    siteCap,
    rampCap,
    currentFacilityKw: 0,
    rampKw: 0,
    warnings,
    ignoredOrders,
  };
  applyForcing(view);
  finishRamp(view);
  return view;
}

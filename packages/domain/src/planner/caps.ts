// The limits a plan must respect, as caps on IT load: every power-tree node (limit less the
// safety margin), every cooling zone (capacity derated by ambient), the site (interconnect or
// grid dispatch, less reserve, over PUE) and the ramp limit (current load plus one interval's
// ramp). Also decides which devices a hard limit forces to shed past their dwell, cycle or pin
// limits, and relaxes a cap that even the uncontrollable floor exceeds (with a warning).
import { walkPowerTree } from '../farm/farm-validation.ts';
import type { AllocationPolicySpec, Site } from '../farm/resource-schema.ts';
import { baselineDecision, capLoads, fleetKw, poolKw } from './decision.ts';
import { forceFleet, tightenFleetBounds } from './fleet-view.ts';
import { forcePool } from './pool-view.ts';
import { PENALTY, LOAD_TOLERANCE } from './planner-constants.ts';
import { isoMinute, kw, num } from './format.ts';
import type { GridDispatch } from './types.ts';
import type { Cap, CapKind, FleetVar, PlanView, PoolVar } from './view-types.ts';

export function overCap(load: number, cap: number): boolean {
  return load > cap + LOAD_TOLERANCE * Math.max(1, Math.abs(cap));
}

function newCap(
  index: number,
  kind: CapKind,
  name: string,
  capKw: number,
  limitKw: number,
  text: string,
  depth = -1,
): Cap {
  return {
    index,
    kind,
    name,
    capKw,
    nominalKw: capKw,
    limitKw,
    fleets: [],
    pools: [],
    text,
    relaxed: false,
    forced: false,
    forcedLoadKw: 0,
    depth,
  };
}

export interface CapsInput {
  site: Site;
  policy: AllocationPolicySpec;
  pue: number;
  ambientC: number | null;
  dispatches: GridDispatch[];
  now: number;
  fleets: FleetVar[];
  pools: PoolVar[];
  warn: (w: string) => void;
}

/** Builds node, zone, site and ramp caps and attaches every fleet and pool to its caps. */
export function buildCaps(i: CapsInput): { caps: Cap[]; siteCap: number; rampCap: number } {
  const caps: Cap[] = [];
  const margin = i.policy.safetyMarginPct;
  const entries = walkPowerTree(i.site.spec.powerTree);
  const nodeCap = new Map<string, Cap>();
  const parentOf = new Map<string, string | undefined>();
  for (const e of entries) {
    const cap = e.node.limitKw * (1 - margin / 100);
    const text =
      margin > 0
        ? `${e.node.name} limit ${kw(cap)} (${kw(e.node.limitKw)} less ${num(margin, margin % 1 ? 1 : 0)}% margin)`
        : `${e.node.name} limit ${kw(cap)}`;
    const c = newCap(caps.length, 'node', e.node.name, cap, e.node.limitKw, text, e.depth);
    caps.push(c);
    nodeCap.set(e.node.name, c);
    parentOf.set(e.node.name, e.parent?.name);
  }
  const zoneCap = new Map<string, Cap>();
  for (const z of i.site.spec.coolingZones) {
    const d = z.ambientDerate;
    const over = d && i.ambientC !== null ? Math.max(0, i.ambientC - d.ratedAmbientC) : 0;
    const factor = d ? Math.max(0, 1 - (d.pctPerDegreeC / 100) * over) : 1;
    const cap = z.capacityKw * factor;
    const text =
      factor < 1
        ? `cooling zone ${z.name} ${kw(cap)} (${kw(z.capacityKw)} derated ${num((1 - factor) * 100, 1)}% for ${num(i.ambientC ?? 0, 1)} °C)`
        : `cooling zone ${z.name} capacity ${kw(cap)}`;
    const c = newCap(caps.length, 'zone', z.name, cap, z.capacityKw, text);
    caps.push(c);
    zoneCap.set(z.name, c);
  }
  const site = siteCap(caps.length, i);
  caps.push(site);
  const ramp = newCap(caps.length, 'ramp', 'ramp', Infinity, Infinity, 'ramp limit');
  caps.push(ramp);

  const path = (feed: string): Cap[] => {
    const out: Cap[] = [];
    for (let n: string | undefined = feed; n !== undefined; n = parentOf.get(n)) {
      const c = nodeCap.get(n);
      if (c) out.push(c);
    }
    return out;
  };
  const attach = (
    kind: 'fleet' | 'pool',
    index: number,
    name: string,
    feed: string,
    zone: string,
  ): number[] => {
    let nodes = path(feed);
    if (nodes.length === 0) {
      i.warn(`${kind} ${name}: feed "${feed}" is not in the power tree; counted against the root only`);
      nodes = [caps[0] as Cap];
    }
    const z = zoneCap.get(zone);
    if (!z) i.warn(`${kind} ${name}: cooling zone "${zone}" is unknown; no cooling limit applies`);
    const mine = [...nodes, ...(z ? [z] : []), site, ramp];
    for (const c of mine) (kind === 'fleet' ? c.fleets : c.pools).push(index);
    return mine.map((c) => c.index);
  };
  for (const f of i.fleets)
    f.caps = attach('fleet', f.index, f.name, f.fleet.spec.feed, f.fleet.spec.coolingZone);
  for (const p of i.pools)
    p.caps = attach('pool', p.index, p.name, p.pool.spec.feed, p.pool.spec.coolingZone);
  return { caps, siteCap: site.index, rampCap: ramp.index };
}

/** Dispatches that overlap the coming interval bind this plan. */
export function activeDispatches(
  i: Pick<CapsInput, 'dispatches' | 'site' | 'now' | 'policy'>,
): GridDispatch[] {
  const end = i.now + i.policy.intervalSeconds * 1000;
  return i.dispatches
    .filter(
      (d) =>
        d.site === i.site.metadata.name && d.startsAt < end && d.endsAt > i.now && Number.isFinite(d.capKw),
    )
    .sort((a, b) => a.capKw - b.capKw || (a.id < b.id ? -1 : 1));
}

function siteCap(index: number, i: CapsInput): Cap {
  const interconnect = i.site.spec.interconnectKw;
  const d = activeDispatches(i)[0];
  const reserve = i.policy.reserveKw;
  const useDispatch = d !== undefined && d.capKw < interconnect;
  const limit = useDispatch ? d.capKw : interconnect;
  const facility = Math.max(0, limit - reserve);
  let text = useDispatch
    ? `grid dispatch ${d.id} holds the site under ${kw(d.capKw)} until ${isoMinute(d.endsAt)}`
    : `interconnect ${kw(interconnect)}`;
  if (reserve > 0) text += ` less reserve ${kw(reserve)}`;
  return newCap(
    index,
    'site',
    useDispatch ? `dispatch ${d.id}` : 'interconnect',
    facility / i.pue,
    limit,
    text,
  );
}

/**
 * Hard limits first: any cap that the lowest-load decision within the hard bounds (dwell locks,
 * cycle budgets, pins, commitments) would overload forces every device under it to be free to
 * shed (at a penalty). A cap that still cannot be met — uncontrollable load alone exceeds it —
 * is raised to that floor so a plan exists, and the plan warns.
 */
export function applyForcing(view: PlanView): void {
  for (const f of view.fleets) tightenFleetBounds(f);
  const order = [...view.caps]
    .filter((c) => c.kind !== 'ramp')
    .sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.depth - b.depth || a.index - b.index);
  const loads = capLoads(view, baselineDecision(view));
  for (const c of order) {
    if (!overCap(loads[c.index] as number, c.capKw)) continue;
    c.forced = true;
    c.forcedLoadKw = loads[c.index] as number;
    for (const f of c.fleets) forceFleet(view.fleets[f] as FleetVar, c.index, PENALTY.forcedUsdPerKwh);
    for (const p of c.pools) {
      forcePool(view.pools[p] as PoolVar, c.index, PENALTY.forcedUsdPerKwh);
      for (const o of view.orders) if (o.hard && o.options[0]?.pool === p) o.hard = false;
    }
  }
  for (const f of view.fleets) tightenFleetBounds(f);
  const floor = capLoads(view, baselineDecision(view));
  for (const c of view.caps) {
    const load = floor[c.index] as number;
    if (c.kind === 'ramp' || !overCap(load, c.capKw)) continue;
    view.warnings.push(
      `${c.text} cannot be met: ${kw(c.kind === 'site' ? load * view.pue : load)} ${c.kind === 'site' ? 'facility load' : 'load'} remains with every controllable device shed (uncontrollable devices count at nameplate); planning to that floor`,
    );
    c.capKw = load;
    c.relaxed = true;
  }
}

function kindRank(k: CapKind): number {
  return k === 'site' ? 0 : k === 'zone' ? 1 : 2;
}

/** Ramp: facility load may rise at most rampKwPerMin × interval over the observed load. */
export function finishRamp(view: PlanView): void {
  let current = 0;
  for (const f of view.fleets) current += fleetKw(f, f.observed);
  for (const p of view.pools) current += poolKw(p, p.observed.hashing, p.observed.serving);
  const currentFacility = current * view.pue;
  const rise = view.policy.rampKwPerMin * (view.policy.intervalSeconds / 60);
  const floorIt = capLoads(view, baselineDecision(view))[view.siteCap] as number;
  const floorFacility = floorIt * view.pue;
  let facility = currentFacility + rise;
  const ramp = view.caps[view.rampCap] as Cap;
  ramp.text = `ramp limit ${kw(facility)} (now ${kw(currentFacility)} + ${num(view.policy.rampKwPerMin)} kW/min × ${num(view.policy.intervalSeconds / 60, view.policy.intervalSeconds % 60 ? 1 : 0)} min)`;
  if (overCap(floorFacility, facility)) {
    view.warnings.push(
      `${ramp.text} cannot be met: locked targets and uncontrollable devices need ${kw(floorFacility)}; planning to that`,
    );
    facility = floorFacility;
    ramp.relaxed = true;
  }
  ramp.limitKw = currentFacility + rise;
  ramp.capKw = facility / view.pue;
  ramp.nominalKw = (currentFacility + rise) / view.pue;
  view.currentFacilityKw = currentFacility;
  view.rampKw = rise;
}

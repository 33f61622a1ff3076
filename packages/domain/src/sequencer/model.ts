// Worst-case accounting. The observed state becomes one Unit per fleet and GPU pool: device
// groups, each in a slot (asleep or a profile; a pool mode) with a worst-case draw per device —
// its slot's draw when settled, max(old, new) while in flight. Uncontrollable and unknown
// devices count at nameplate. Loads are summed per power-tree node (a device draws through every
// ancestor of its feed), per cooling zone and for the site.
import type { Farm } from '../farm/farm-loader.ts';
import {
  allocationPolicySpecSchema,
  type AllocationPolicySpec,
  type GpuPool,
  type MinerFleet,
  type Site,
} from '../farm/resource-schema.ts';
import { fleetNameplateW, fleetProfiles, walkPowerTree } from '../farm/farm-validation.ts';
import { findMinerModel } from '../farm/miner-models.ts';
import { endpointCount } from '../farm/endpoints.ts';
import { LOAD_TOLERANCE, WORST_CASE_AMBIENT_C } from '../planner/planner-constants.ts';
import { kw, num } from '../planner/format.ts';
import {
  ASLEEP,
  POOL_MODES,
  type DeviceStep,
  type FarmState,
  type FleetState,
  type FleetTransition,
  type InFlightCommands,
  type LimitEntry,
  type NodeLimit,
  type PoolMode,
  type PoolState,
  type PoolTransition,
  type SequencerLimits,
  type StaleDevices,
  type WorstCaseLoads,
} from './types.ts';

export class SequencerInputError extends Error {
  readonly code = 'SEQUENCER_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'SequencerInputError';
  }
}

/** Devices of one unit in one slot with the same worst-case draw and origin. */
export interface Group {
  slot: number;
  /** Worst-case kW per device: the slot's draw when settled, max(old, new) in flight. */
  peakKw: number;
  count: number;
  /** The slot it was commanded from, while in flight. */
  from: number | null;
  /** The step that sent it (null: settled, or already in flight at the start). */
  stepId: string | null;
  since: number | null;
}

/** A fleet or a GPU pool as the sequencer works with it. */
export interface Unit {
  kind: 'fleet' | 'pool';
  name: string;
  /** "fleet/<name>" or "pool/<name>": the last part of step ids. */
  key: string;
  feed: string;
  zone: string;
  /** Power-tree nodes from the feed up to the root. */
  path: string[];
  /** Whether the site has the unit's cooling zone. */
  zoneKnown: boolean;
  /** Fleets: ["asleep", ...profiles by rising power]; pools: ["idle", "serving", "hashing"]. */
  slots: string[];
  /** kW per device in each slot (fleets: scaled by the draw factor). */
  drawKw: number[];
  /** TH/s per device in each slot (0 for pools). */
  ths: number[];
  /** Nominal W per device in each slot (the profile's powerW; pools: node kW × 1000). */
  nominalW: number[];
  /** kW per uncontrollable or unknown device. */
  uncKw: number;
  unc: number;
  groups: Group[];
  observed: boolean;
  driver: string | null;
  factor: number;
}

export interface SiteContext {
  site: Site;
  root: string;
  /** Every node of the power tree in walk order (root first). */
  nodes: string[];
  parent: Map<string, string | null>;
  zones: Set<string>;
}

const clean = (x: unknown): number =>
  typeof x === 'number' && Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;

export const byName = <T extends { metadata: { name: string } }>(a: T, b: T): number =>
  a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;

export function tolerance(cap: number): number {
  return LOAD_TOLERANCE * Math.max(1, Math.abs(cap));
}

export function siteContext(farm: Farm, siteName: string): SiteContext {
  const site = farm.sites.find((s) => s.metadata.name === siteName);
  if (!site) throw new SequencerInputError(`site "${siteName}" is not in the farm`);
  const entries = walkPowerTree(site.spec.powerTree);
  const parent = new Map<string, string | null>();
  for (const e of entries) parent.set(e.node.name, e.parent?.name ?? null);
  return {
    site,
    root: site.spec.powerTree.name,
    nodes: entries.map((e) => e.node.name),
    parent,
    zones: new Set(site.spec.coolingZones.map((z) => z.name)),
  };
}

/** Nodes from `feed` up to the root; a feed outside the tree counts against the root. */
export function pathOf(ctx: SiteContext, feed: string): string[] {
  if (!ctx.parent.has(feed)) return [ctx.root];
  const out: string[] = [];
  for (let n: string | null | undefined = feed; n != null; n = ctx.parent.get(n)) out.push(n);
  return out;
}

export function sitePolicy(farm: Farm, site: string): AllocationPolicySpec {
  return farm.policies.find((p) => p.spec.site === site)?.spec ?? allocationPolicySpecSchema.parse({ site });
}

// ---------------------------------------------------------------- building units

interface Partition {
  settled: number[];
  flights: Array<{ from: number; to: number; count: number; since: number }>;
  unc: number;
}

function sortTransitions<T extends { from: string; to: string; count: number; since: number }>(
  ts: readonly T[] | undefined,
): T[] {
  return [...(ts ?? [])].sort(
    (a, b) =>
      (a.from < b.from ? -1 : a.from > b.from ? 1 : 0) ||
      (a.to < b.to ? -1 : a.to > b.to ? 1 : 0) ||
      a.since - b.since ||
      a.count - b.count,
  );
}

/**
 * Reads an untrusted state into a partition. `capacity` (fleets) bounds the total: when the
 * counts claim more devices, the lowest draws are dropped first (worst case wins).
 */
function readPartition(
  label: string,
  slots: string[],
  draw: number[],
  uncontrollable: number[],
  settledBySlot: number[],
  flights: Array<{ from: string; to: string; count: number; since: number }>,
  capacity: number | null,
  warn: (w: string) => void,
): Partition {
  let left = capacity ?? Infinity;
  let claimed = 0;
  const take = (n: number): number => {
    const c = clean(n);
    claimed += c;
    const t = Math.min(left, c);
    left -= t;
    return t;
  };
  let unc = 0;
  for (const n of uncontrollable) unc += take(n);
  const out: Partition['flights'] = [];
  for (const t of flights) {
    const a = slots.indexOf(t.from);
    const b = slots.indexOf(t.to);
    if (a >= 0 && a === b) {
      // "From a slot to itself" is not a transition: the devices are settled there.
      settledBySlot[b] = (settledBySlot[b] ?? 0) + clean(t.count);
      continue;
    }
    const n = take(t.count);
    if (n === 0) continue;
    if (a < 0 || b < 0) {
      unc += n;
      warn(`${label}: ${num(n)} in flight ${t.from} → ${t.to}, which it does not have; counted at nameplate`);
      continue;
    }
    out.push({ from: a, to: b, count: n, since: Number.isFinite(t.since) ? t.since : 0 });
  }
  const settled = new Array<number>(slots.length).fill(0);
  const byDraw = slots.map((_, i) => i).sort((x, y) => (draw[y] as number) - (draw[x] as number) || y - x);
  for (const j of byDraw) settled[j] = take(settledBySlot[j] ?? 0);
  if (capacity !== null && claimed > capacity)
    warn(
      `${label}: the state counts ${num(claimed)} devices but it has ${num(capacity)}; the lowest draws are dropped`,
    );
  if (capacity !== null) unc += left;
  return { settled, flights: out, unc };
}

/** Outstanding commands: devices taken from the lower-draw slot first, then the other. */
function mergeCommands(
  p: Partition,
  slots: string[],
  draw: number[],
  commands: Array<{ from: string; to: string; count: number; since: number }>,
): void {
  for (const t of commands) {
    const a = slots.indexOf(t.from);
    const b = slots.indexOf(t.to);
    if (a < 0 || b < 0 || a === b) continue;
    const [lo, hi] = (draw[a] as number) <= (draw[b] as number) ? [a, b] : [b, a];
    let want = clean(t.count);
    let got = 0;
    for (const s of [lo, hi]) {
      const k = Math.min(want, p.settled[s] as number);
      p.settled[s] = (p.settled[s] as number) - k;
      want -= k;
      got += k;
    }
    if (got > 0)
      p.flights.push({ from: a, to: b, count: got, since: Number.isFinite(t.since) ? t.since : 0 });
  }
}

/** Stale since the state: settled devices to nameplate, the lowest draws first. */
function markStale(p: Partition, draw: number[], n: number): void {
  let want = clean(n);
  const order = draw.map((_, i) => i).sort((x, y) => (draw[x] as number) - (draw[y] as number) || x - y);
  for (const s of order) {
    const k = Math.min(want, p.settled[s] as number);
    p.settled[s] = (p.settled[s] as number) - k;
    p.unc += k;
    want -= k;
  }
}

function groupsOf(p: Partition, drawKw: number[]): Group[] {
  const groups: Group[] = [];
  p.settled.forEach((n, slot) => {
    if (n > 0)
      groups.push({ slot, peakKw: drawKw[slot] as number, count: n, from: null, stepId: null, since: null });
  });
  for (const f of p.flights) {
    groups.push({
      slot: f.to,
      peakKw: Math.max(drawKw[f.from] as number, drawKw[f.to] as number),
      count: f.count,
      from: f.from,
      stepId: null,
      since: f.since,
    });
  }
  return groups;
}

function fleetUnit(
  fleet: MinerFleet,
  ctx: SiteContext,
  st: FleetState | undefined,
  commands: FleetTransition[] | undefined,
  stale: number | undefined,
  warn: (w: string) => void,
): Unit {
  const name = fleet.metadata.name;
  const label = `fleet ${name}`;
  const profiles = [...fleetProfiles(fleet)].sort((a, b) => a.powerW - b.powerW);
  const slots = [ASLEEP, ...profiles.map((p) => p.name)];
  const sleepW = fleet.spec.sleepW ?? findMinerModel(fleet.spec.model)?.sleepW ?? 0;
  const rawW = [sleepW, ...profiles.map((p) => p.powerW)];
  const nameplateW = Math.max(fleetNameplateW(fleet), ...rawW);
  const miners = endpointCount(fleet.spec);
  let p: Partition;
  if (!st) {
    warn(`${label}: no state; all ${num(miners)} miners counted at nameplate and not controlled`);
    p = { settled: slots.map(() => 0), flights: [], unc: miners };
  } else {
    const settledBySlot = slots.map((s) => (s === ASLEEP ? clean(st.asleep) : clean(st.byProfile?.[s])));
    let unknownProfiles = 0;
    for (const [prof, n] of Object.entries(st.byProfile ?? {}))
      if (!slots.includes(prof) || prof === ASLEEP) {
        unknownProfiles += clean(n);
        if (clean(n) > 0)
          warn(`${label}: ${num(clean(n))} miners at unknown profile "${prof}"; counted at nameplate`);
      }
    p = readPartition(
      label,
      slots,
      rawW,
      [st.fault, st.offline, st.stale, unknownProfiles],
      settledBySlot,
      sortTransitions(st.inFlight),
      miners,
      warn,
    );
  }
  mergeCommands(p, slots, rawW, sortTransitions(commands));
  if (stale) markStale(p, rawW, stale);
  let factor = 1;
  const given = st?.drawFactor;
  if (typeof given === 'number' && Number.isFinite(given) && given >= 1) factor = given;
  else {
    const measured = st?.measuredKw;
    const modelledW =
      p.settled.reduce((a, n, s) => a + n * (rawW[s] as number), 0) +
      p.flights.reduce((a, f) => a + f.count * Math.max(rawW[f.from] as number, rawW[f.to] as number), 0) +
      p.unc * nameplateW;
    if (
      typeof measured === 'number' &&
      Number.isFinite(measured) &&
      modelledW > 0 &&
      measured * 1000 > modelledW
    )
      factor = (measured * 1000) / modelledW;
  }
  const drawKw = rawW.map((w) => (w * factor) / 1000);
  return {
    kind: 'fleet',
    name,
    key: `fleet/${name}`,
    feed: fleet.spec.feed,
    zone: fleet.spec.coolingZone,
    path: pathOf(ctx, fleet.spec.feed),
    zoneKnown: ctx.zones.has(fleet.spec.coolingZone),
    slots,
    drawKw,
    ths: [0, ...profiles.map((q) => q.hashrateThs)],
    nominalW: rawW,
    uncKw: (nameplateW * factor) / 1000,
    unc: p.unc,
    groups: groupsOf(p, drawKw),
    observed: st !== undefined,
    driver: fleet.spec.driver,
    factor,
  };
}

function poolUnit(
  pool: GpuPool,
  ctx: SiteContext,
  st: PoolState | undefined,
  commands: PoolTransition[] | undefined,
  stale: number | undefined,
  warn: (w: string) => void,
): Unit {
  const name = pool.metadata.name;
  const label = `pool ${name}`;
  const slots = [...POOL_MODES] as string[];
  const kwOf = pool.spec.nodePowerKw;
  const drawKw = [kwOf.idle, kwOf.serving, kwOf.hashing];
  const maxKw = Math.max(...drawKw);
  let p: Partition;
  if (!st) {
    warn(`${label}: no state; all ${num(pool.spec.nodes)} nodes counted at their highest draw and not used`);
    p = { settled: [0, 0, 0], flights: [], unc: pool.spec.nodes };
  } else {
    p = readPartition(
      label,
      slots,
      drawKw,
      [st.unavailable],
      [clean(st.idle), clean(st.serving), clean(st.hashing)],
      sortTransitions(st.inFlight),
      null,
      warn,
    );
    const counted = p.unc + p.settled.reduce((a, b) => a + b, 0) + p.flights.reduce((a, f) => a + f.count, 0);
    // In a cluster the selector finds the nodes: a larger count is trusted, missing ones are unknown.
    p.unc += Math.max(0, pool.spec.nodes - counted);
  }
  mergeCommands(p, slots, drawKw, sortTransitions(commands));
  if (stale) markStale(p, drawKw, stale);
  return {
    kind: 'pool',
    name,
    key: `pool/${name}`,
    feed: pool.spec.feed,
    zone: pool.spec.coolingZone,
    path: pathOf(ctx, pool.spec.feed),
    zoneKnown: ctx.zones.has(pool.spec.coolingZone),
    slots,
    drawKw,
    ths: [0, 0, 0],
    nominalW: drawKw.map((k) => k * 1000),
    uncKw: maxKw,
    unc: p.unc,
    groups: groupsOf(p, drawKw),
    observed: st !== undefined,
    driver: null,
    factor: 1,
  };
}

/** Every fleet and pool of the site (fleets, then pools, each sorted by name). */
export function buildUnits(
  farm: Farm,
  ctx: SiteContext,
  state: FarmState,
  commands: InFlightCommands | undefined,
  stale: StaleDevices | undefined,
  warn: (w: string) => void,
): Unit[] {
  const site = ctx.site.metadata.name;
  const units: Unit[] = [];
  for (const f of farm.fleets.filter((x) => x.spec.site === site).sort(byName)) {
    const n = f.metadata.name;
    const u = fleetUnit(f, ctx, state.fleets?.[n], commands?.fleets?.[n], stale?.fleets?.[n], warn);
    units.push(u);
  }
  for (const p of farm.pools.filter((x) => x.spec.site === site).sort(byName)) {
    const n = p.metadata.name;
    units.push(poolUnit(p, ctx, state.pools?.[n], commands?.pools?.[n], stale?.pools?.[n], warn));
  }
  for (const u of units) {
    if (!ctx.parent.has(u.feed))
      warn(`${u.kind} ${u.name}: feed "${u.feed}" is not in the power tree; counted against the root only`);
  }
  return units;
}

/** Merges groups that no longer differ; keeps a deterministic order. */
export function compact(u: Unit): void {
  const map = new Map<string, Group>();
  for (const g of u.groups) {
    if (g.count <= 0) continue;
    const k = `${g.slot}|${g.peakKw}|${g.from}|${g.stepId}|${g.since}`;
    const m = map.get(k);
    if (m) m.count += g.count;
    else map.set(k, { ...g });
  }
  u.groups = [...map.values()].sort(
    (a, b) =>
      a.slot - b.slot ||
      a.peakKw - b.peakKw ||
      (a.from ?? -1) - (b.from ?? -1) ||
      String(a.stepId).localeCompare(String(b.stepId)) ||
      (a.since ?? -1) - (b.since ?? -1),
  );
}

export function unitKw(u: Unit): number {
  let kwSum = u.unc * u.uncKw;
  for (const g of u.groups) kwSum += g.count * g.peakKw;
  return kwSum;
}

export function emptyLoads(ctx: SiteContext): WorstCaseLoads {
  const nodes: Record<string, number> = {};
  for (const n of ctx.nodes) nodes[n] = 0;
  const zones: Record<string, number> = {};
  for (const z of ctx.site.spec.coolingZones) zones[z.name] = 0;
  return { nodes, zones, siteKw: 0 };
}

export function addLoad(loads: WorstCaseLoads, u: Unit, deltaKw: number): void {
  for (const n of u.path) loads.nodes[n] = (loads.nodes[n] ?? 0) + deltaKw;
  if (u.zoneKnown) loads.zones[u.zone] = (loads.zones[u.zone] ?? 0) + deltaKw;
  loads.siteKw += deltaKw;
}

export function loadsOf(ctx: SiteContext, units: readonly Unit[]): WorstCaseLoads {
  const loads = emptyLoads(ctx);
  for (const u of units) addLoad(loads, u, unitKw(u));
  return loads;
}

export function cloneLoads(l: WorstCaseLoads): WorstCaseLoads {
  return { nodes: { ...l.nodes }, zones: { ...l.zones }, siteKw: l.siteKw };
}

/**
 * Worst-case IT kW per power-tree node and cooling zone, and for the site: every in-flight
 * transition (in the state, and the outstanding `inFlight` commands) at max(old, new) draw,
 * every stale, offline, faulted or unknown device at nameplate (a GPU node at its highest
 * draw), everything else at its slot's draw.
 */
export function worstCaseLoads(
  farm: Farm,
  site: string,
  state: FarmState,
  inFlight?: InFlightCommands,
  stale?: StaleDevices,
): WorstCaseLoads {
  const ctx = siteContext(farm, site);
  return loadsOf(
    ctx,
    buildUnits(farm, ctx, state, inFlight, stale, () => undefined),
  );
}

/**
 * The state with every fleet's metered calibration fixed as a `drawFactor` (what the sequencer
 * uses for the whole sequence), so that a state derived from it later — devices moved, shed,
 * woken — is accounted with the same per-device draws.
 */
export function freezeDrawFactors(
  farm: Farm,
  site: string,
  state: FarmState,
  inFlight?: InFlightCommands,
): FarmState {
  const ctx = siteContext(farm, site);
  const units = buildUnits(farm, ctx, state, inFlight, undefined, () => undefined);
  const fleets: Record<string, FleetState> = {};
  for (const [name, st] of Object.entries(state.fleets ?? {})) {
    const u = units.find((x) => x.kind === 'fleet' && x.name === name);
    fleets[name] = u ? { ...st, measuredKw: null, drawFactor: u.factor } : st;
  }
  return { fleets, pools: state.pools };
}

// ---------------------------------------------------------------- limits

export interface LimitOptions {
  policy?: AllocationPolicySpec | undefined;
  ambientC?: number | null | undefined;
  /** Facility kW; default interconnect less reserve. */
  siteCapKw?: number | undefined;
}

/**
 * The caps the sequencer holds (IT kW): every node at limit × (1 − margin), every cooling zone
 * at its capacity derated for ambient (45 °C when unknown), the site at its facility cap / PUE.
 */
export function sequencerLimits(farm: Farm, site: string, opts: LimitOptions = {}): SequencerLimits {
  const ctx = siteContext(farm, site);
  const policy = opts.policy ?? sitePolicy(farm, site);
  const margin = policy.safetyMarginPct;
  const nodes: Record<string, NodeLimit> = {};
  for (const e of walkPowerTree(ctx.site.spec.powerTree)) {
    const cap = e.node.limitKw * (1 - margin / 100);
    nodes[e.node.name] = {
      capKw: cap,
      limitKw: e.node.limitKw,
      parent: e.parent?.name ?? null,
      text:
        margin > 0
          ? `${e.node.name} limit ${kw(cap)} (${kw(e.node.limitKw)} less ${num(margin, margin % 1 ? 1 : 0)}% margin)`
          : `${e.node.name} limit ${kw(cap)}`,
    };
  }
  const zones: Record<string, LimitEntry> = {};
  const ambient = typeof opts.ambientC === 'number' && Number.isFinite(opts.ambientC) ? opts.ambientC : null;
  for (const z of ctx.site.spec.coolingZones) {
    const d = z.ambientDerate;
    const at = ambient ?? WORST_CASE_AMBIENT_C;
    const factor = d ? Math.max(0, 1 - (d.pctPerDegreeC / 100) * Math.max(0, at - d.ratedAmbientC)) : 1;
    const cap = z.capacityKw * factor;
    zones[z.name] = {
      capKw: cap,
      limitKw: z.capacityKw,
      text:
        factor < 1
          ? `cooling zone ${z.name} ${kw(cap)} (${kw(z.capacityKw)} derated for ${num(at, 1)} °C)`
          : `cooling zone ${z.name} capacity ${kw(cap)}`,
    };
  }
  const pue = ctx.site.spec.pue;
  const facility =
    typeof opts.siteCapKw === 'number' && Number.isFinite(opts.siteCapKw)
      ? Math.max(0, opts.siteCapKw)
      : Math.max(0, ctx.site.spec.interconnectKw - policy.reserveKw);
  return {
    root: ctx.root,
    nodes,
    zones,
    site: { capKw: facility / pue, limitKw: facility, text: `site cap ${kw(facility)} facility` },
    pue,
  };
}

type StepShape = Pick<DeviceStep, 'feed' | 'coolingZone' | 'worstCaseDeltaKw'>;

/** Nodes from the feed up to the root, by the limits' parent links. */
export function limitPath(limits: SequencerLimits, feed: string): string[] {
  if (!limits.nodes[feed]) return [limits.root];
  const out: string[] = [];
  for (let n: string | null = feed; n !== null; n = limits.nodes[n]?.parent ?? null) out.push(n);
  return out;
}

/** The first limit a step would push over its cap, or null when it is safe. */
export function stepBlocker(loads: WorstCaseLoads, step: StepShape, limits: SequencerLimits): string | null {
  const d = step.worstCaseDeltaKw;
  if (Number.isNaN(d)) return 'invalid step';
  if (d <= 0) return null;
  for (const n of limitPath(limits, step.feed)) {
    const l = limits.nodes[n] as NodeLimit;
    if ((loads.nodes[n] ?? 0) + d > l.capKw + tolerance(l.capKw)) return l.text;
  }
  const z = limits.zones[step.coolingZone];
  if (z && (loads.zones[step.coolingZone] ?? 0) + d > z.capKw + tolerance(z.capKw)) return z.text;
  if (loads.siteKw + d > limits.site.capKw + tolerance(limits.site.capKw)) return limits.site.text;
  return null;
}

/**
 * Whether a step keeps every limit it counts against within its cap under worst-case
 * accounting. A step that does not raise the worst case (a shed) is always safe.
 */
export function stepIsSafe(loads: WorstCaseLoads, step: StepShape, limits: SequencerLimits): boolean {
  return stepBlocker(loads, step, limits) === null;
}

// ---------------------------------------------------------------- back to a state

/** The units as a FarmState (explicit in-flight transitions, fixed draw factors). */
export function unitsToState(units: readonly Unit[]): FarmState {
  const state: FarmState = { fleets: {}, pools: {} };
  for (const u of units) {
    const settled = u.slots.map(() => 0);
    const flights: Array<{ from: string; to: string; count: number; since: number }> = [];
    for (const g of u.groups) {
      if (g.from === null || g.from === g.slot) settled[g.slot] = (settled[g.slot] as number) + g.count;
      else
        flights.push({
          from: u.slots[g.from] as string,
          to: u.slots[g.slot] as string,
          count: g.count,
          since: g.since ?? 0,
        });
    }
    if (u.kind === 'fleet') {
      const byProfile: Record<string, number> = {};
      u.slots.forEach((s, i) => {
        if (i > 0 && (settled[i] as number) > 0) byProfile[s] = settled[i] as number;
      });
      state.fleets[u.name] = {
        asleep: settled[0] as number,
        byProfile,
        stale: u.unc,
        offline: 0,
        fault: 0,
        inFlight: flights,
        drawFactor: u.factor,
      };
    } else {
      state.pools[u.name] = {
        idle: settled[0] as number,
        serving: settled[1] as number,
        hashing: settled[2] as number,
        unavailable: u.unc,
        inFlight: flights as PoolTransition[],
      };
    }
  }
  return state;
}

export function isPoolMode(s: string): s is PoolMode {
  return (POOL_MODES as readonly string[]).includes(s);
}

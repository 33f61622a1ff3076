// The sequencer: a pure function from a plan and the observed state to ordered phases — shed,
// confirm, add — such that under worst-case accounting (in-flight devices at max(old, new),
// stale and unknown devices at nameplate) no power-tree node, cooling zone or the site exceeds
// its cap at any step. See docs/sequencer.md.
import type { OrderTier, Plan } from '../planner/types.ts';
import { kw, num } from '../planner/format.ts';
import {
  addLoad,
  buildUnits,
  cloneLoads,
  compact,
  loadsOf,
  stepBlocker,
  stepIsSafe,
  tolerance,
  type Group,
  type SiteContext,
  type Unit,
} from './model.ts';
import { checkSequence } from './check.ts';
import { sequencerSetup, type SequencerSetup } from './setup.ts';
import type {
  ConfirmNode,
  ConfirmStep,
  ConfirmTransition,
  Deferral,
  DeferralReason,
  DeviceStep,
  OverloadedLimit,
  Phase,
  Preemption,
  Sequence,
  SequenceInput,
  SequencerLimits,
  WorstCaseLoads,
} from './types.ts';

// ---------------------------------------------------------------- moves

interface Move {
  unit: Unit;
  from: number;
  to: number;
  count: number;
  shed: boolean;
  /** All or nothing (an order's nodes start together). */
  atomic: boolean;
  orders: string[];
  tierRank: number;
  preempt: Array<{ orderId: string; noticeSeconds: number }>;
}

const clean = (x: unknown): number =>
  typeof x === 'number' && Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const TIER_RANK: Record<OrderTier, number> = { reserved: 0, 'on-demand': 1, interruptible: 2 };
const tierRank = (t: OrderTier): number => TIER_RANK[t] ?? 3;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** kW with two decimals below 10 kW: a single device's draw reads right ("2.95 kW"). */
const kwFine = (x: number): string => (Math.abs(x) < 10 ? `${num(x, 2)} kW` : kw(x));

export function slotCounts(u: Unit): number[] {
  const c = u.slots.map(() => 0);
  for (const g of u.groups) c[g.slot] = (c[g.slot] as number) + g.count;
  return c;
}

/**
 * The plan's counts fitted to the devices controllable now: more wanted than there are → drop
 * in `removeOrder`; fewer → the rest stay where they are, then go to slot 0 (asleep, idle).
 */
function fit(cur: number[], want: number[], removeOrder: number[]): number[] {
  const n = sum(cur);
  const out = [...want];
  let s = sum(out);
  for (const j of removeOrder) {
    if (s <= n) break;
    const d = Math.min(out[j] as number, s - n);
    out[j] = (out[j] as number) - d;
    s -= d;
  }
  for (let j = 0; j < out.length && s < n; j++) {
    const d = Math.min(Math.max(0, (cur[j] as number) - (out[j] as number)), n - s);
    out[j] = (out[j] as number) + d;
    s += d;
  }
  out[0] = (out[0] as number) + (n - s);
  return out;
}

function newMove(u: Unit, from: number, to: number, count: number, shed: boolean): Move {
  return { unit: u, from, to, count, shed, atomic: false, orders: [], tierRank: 3, preempt: [] };
}

/** Monotone matching: the i-th device by slot goes to the i-th wanted slot; no move crosses another. */
function fleetMoves(u: Unit, want: number[]): Move[] {
  const cur = slotCounts(u);
  const moves = new Map<string, Move>();
  let i = 0;
  let j = 0;
  let ci = cur[0] as number;
  let wj = want[0] as number;
  while (i < cur.length && j < want.length) {
    if (ci === 0) {
      ci = cur[++i] ?? 0;
      continue;
    }
    if (wj === 0) {
      wj = want[++j] ?? 0;
      continue;
    }
    const m = Math.min(ci, wj);
    if (i !== j) {
      const k = `${i}>${j}`;
      const mv = moves.get(k);
      if (mv) mv.count += m;
      else moves.set(k, newMove(u, i, j, m, j < i));
    }
    ci -= m;
    wj -= m;
  }
  return [...moves.values()];
}

function fleetTarget(u: Unit, plan: Plan, warn: (w: string) => void): number[] | null {
  const fp = plan.fleets?.[u.name];
  if (!fp) {
    warn(`fleet ${u.name}: not in the plan; left as it is`);
    return null;
  }
  const want = u.slots.map(() => 0);
  want[0] = clean(fp.target?.asleep);
  for (const [p, n] of Object.entries(fp.target?.byProfile ?? {})) {
    const j = u.slots.indexOf(p);
    if (j < 1) {
      if (clean(n) > 0) {
        warn(
          `fleet ${u.name}: the plan puts ${num(clean(n))} miners at unknown profile "${p}"; left as it is`,
        );
        return null;
      }
      continue;
    }
    want[j] = (want[j] as number) + clean(n);
  }
  const removeTopFirst = u.slots.map((_, s) => u.slots.length - 1 - s);
  return fit(slotCounts(u), want, removeTopFirst);
}

const IDLE = 0;
const SERVING = 1;
const HASHING = 2;

function poolPlan(
  u: Unit,
  plan: Plan,
  preemptions: readonly Preemption[],
  running: ReadonlySet<string> | null,
  warn: (w: string) => void,
): { target: number[] | null; moves: Move[] } {
  const pp = plan.pools?.[u.name];
  const mine = preemptions.filter((p) => p.pool === u.name).sort((a, b) => cmp(a.orderId, b.orderId));
  if (!pp) {
    warn(`pool ${u.name}: not in the plan; left as it is`);
    return { target: null, moves: [] };
  }
  const cur = slotCounts(u);
  const want = fit(
    cur,
    [clean(pp.target?.idle), clean(pp.target?.serving), clean(pp.target?.hashing)],
    [HASHING, IDLE, SERVING],
  );
  const preemptedNodes = sum(mine.map((p) => clean(p.nodes)));
  const shedServing = Math.min(
    cur[SERVING] as number,
    Math.max((cur[SERVING] as number) - (want[SERVING] as number), preemptedNodes),
  );
  if (preemptedNodes > (cur[SERVING] as number))
    warn(
      `pool ${u.name}: preemptions name ${num(preemptedNodes)} nodes but ${num(cur[SERVING] as number)} are serving`,
    );
  const shedHashing = Math.max(0, (cur[HASHING] as number) - (want[HASHING] as number));
  const addServing = (want[SERVING] as number) - ((cur[SERVING] as number) - shedServing);
  const addHashing = (want[HASHING] as number) - ((cur[HASHING] as number) - shedHashing);
  const moves: Move[] = [];
  if (shedHashing > 0) moves.push(newMove(u, HASHING, IDLE, shedHashing, true));
  if (shedServing > 0) {
    const m = newMove(u, SERVING, IDLE, shedServing, true);
    m.preempt = mine.map((p) => ({ orderId: p.orderId, noticeSeconds: clean(p.noticeSeconds) }));
    moves.push(m);
  } else if (mine.length > 0)
    warn(
      `pool ${u.name}: preemption of ${mine.map((p) => p.orderId).join(', ')} requested but no node is serving`,
    );
  let left = addServing;
  const starts = (plan.admitted ?? [])
    .filter((a) => a.pool === u.name && (a.isNew || (running !== null && !running.has(a.orderId))))
    .sort((a, b) => tierRank(a.tier) - tierRank(b.tier) || cmp(a.orderId, b.orderId));
  for (const a of starts) {
    const n = Math.min(clean(a.nodes), left);
    if (n <= 0) break;
    const m = newMove(u, IDLE, SERVING, n, false);
    m.atomic = n === clean(a.nodes);
    m.orders = [a.orderId];
    m.tierRank = tierRank(a.tier);
    moves.push(m);
    left -= n;
  }
  if (left > 0) moves.push(newMove(u, IDLE, SERVING, left, false));
  if (addHashing > 0) moves.push(newMove(u, IDLE, HASHING, addHashing, false));
  return { target: want, moves };
}

// ---------------------------------------------------------------- applying moves to the model

function inSlot(u: Unit, slot: number): Group[] {
  // compact() keeps groups sorted by slot, then worst-case draw: lowest draw first is the
  // conservative choice for a rise (the workers may pick any device of the slot).
  return u.groups.filter((g) => g.slot === slot && g.count > 0);
}

interface Effect {
  deltaKw: number;
  worstKw: number;
}

function peekMove(u: Unit, from: number, to: number, n: number): Effect {
  let left = n;
  const e: Effect = { deltaKw: 0, worstKw: 0 };
  const toKw = u.drawKw[to] as number;
  for (const g of inSlot(u, from)) {
    if (left <= 0) break;
    const k = Math.min(g.count, left);
    const peak = Math.max(g.peakKw, toKw);
    e.deltaKw += k * (peak - g.peakKw);
    e.worstKw += k * peak;
    left -= k;
  }
  return e;
}

function applyMove(u: Unit, from: number, to: number, n: number, stepId: string, now: number): Effect {
  let left = n;
  const e: Effect = { deltaKw: 0, worstKw: 0 };
  const toKw = u.drawKw[to] as number;
  const fromKw = u.drawKw[from] as number;
  const added: Group[] = [];
  for (const g of inSlot(u, from)) {
    if (left <= 0) break;
    const k = Math.min(g.count, left);
    const peak = Math.max(g.peakKw, toKw);
    const origin = g.from !== null && (u.drawKw[g.from] as number) > fromKw ? g.from : from;
    e.deltaKw += k * (peak - g.peakKw);
    e.worstKw += k * peak;
    g.count -= k;
    left -= k;
    added.push({ slot: to, peakKw: peak, count: k, from: origin, stepId, since: now });
  }
  u.groups.push(...added);
  compact(u);
  return e;
}

/** How many devices of a rise fit in `roomKw` (limits) and `budgetKw` (ramp), lowest draw first. */
function fitRise(
  u: Unit,
  m: Move,
  roomKw: number,
  budgetKw: number,
): { k: number; deltaKw: number; nextKw: number; fullKw: number } {
  const avail = Math.min(roomKw, budgetKw);
  const toKw = u.drawKw[m.to] as number;
  let k = 0;
  let delta = 0;
  let nextKw = 0;
  let fullKw = 0;
  let blocked = false;
  let left = m.count;
  for (const g of inSlot(u, m.from)) {
    if (left <= 0) break;
    const d = Math.max(0, toKw - g.peakKw);
    const want = Math.min(g.count, left);
    fullKw += want * d;
    left -= want;
    if (blocked) continue;
    let take = want;
    if (d > 0) take = Math.min(want, Math.max(0, Math.floor((avail - delta + tolerance(avail)) / d)));
    k += take;
    delta += take * d;
    if (take < want) {
      blocked = true;
      nextKw = d;
    }
  }
  if (m.atomic && k < m.count) return { k: 0, deltaKw: 0, nextKw: fullKw, fullKw };
  return { k, deltaKw: delta, nextKw, fullKw };
}

// ---------------------------------------------------------------- limits over the unit

interface Over {
  nodes: Set<string>;
  zones: Set<string>;
  site: boolean;
  list: OverloadedLimit[];
}

function findOverloaded(loads: WorstCaseLoads, limits: SequencerLimits): Over {
  const o: Over = { nodes: new Set(), zones: new Set(), site: false, list: [] };
  for (const [name, l] of Object.entries(limits.nodes)) {
    const load = loads.nodes[name] ?? 0;
    if (load > l.capKw + tolerance(l.capKw)) {
      o.nodes.add(name);
      o.list.push({ kind: 'node', name, loadKw: load, capKw: l.capKw, afterShedKw: load });
    }
  }
  for (const [name, l] of Object.entries(limits.zones)) {
    const load = loads.zones[name] ?? 0;
    if (load > l.capKw + tolerance(l.capKw)) {
      o.zones.add(name);
      o.list.push({ kind: 'zone', name, loadKw: load, capKw: l.capKw, afterShedKw: load });
    }
  }
  const s = limits.site;
  if (loads.siteKw > s.capKw + tolerance(s.capKw)) {
    o.site = true;
    o.list.push({
      kind: 'site',
      name: 'site',
      loadKw: loads.siteKw,
      capKw: s.capKw,
      afterShedKw: loads.siteKw,
    });
  }
  return o;
}

/** The overloaded limit a unit counts against, or null. */
function overloadOf(u: Unit, o: Over, limits: SequencerLimits): string | null {
  for (const n of u.path) if (o.nodes.has(n)) return limits.nodes[n]?.text ?? n;
  if (u.zoneKnown && o.zones.has(u.zone)) return limits.zones[u.zone]?.text ?? u.zone;
  return o.site ? limits.site.text : null;
}

/** The tightest limit of a unit: free kW and its text. */
function roomOf(u: Unit, loads: WorstCaseLoads, limits: SequencerLimits): { room: number; text: string } {
  let room = Infinity;
  let text = '';
  for (const n of u.path) {
    const l = limits.nodes[n];
    if (!l) continue;
    const r = l.capKw - (loads.nodes[n] ?? 0);
    if (r < room) [room, text] = [r, l.text];
  }
  const z = u.zoneKnown ? limits.zones[u.zone] : undefined;
  if (z) {
    const r = z.capKw - (loads.zones[u.zone] ?? 0);
    if (r < room) [room, text] = [r, z.text];
  }
  const r = limits.site.capKw - loads.siteKw;
  if (r < room) [room, text] = [r, limits.site.text];
  return { room, text };
}

// ---------------------------------------------------------------- steps

function deviceStep(id: string, m: Move, count: number, e: Effect): DeviceStep {
  const u = m.unit;
  const common = {
    id,
    feed: u.feed,
    coolingZone: u.zone,
    count,
    expectedDeltaKw: count * ((u.drawKw[m.to] as number) - (u.drawKw[m.from] as number)),
    worstCaseKw: e.worstKw,
    worstCaseDeltaKw: e.deltaKw,
  };
  if (u.kind === 'pool')
    return {
      ...common,
      kind: 'gpu-mode',
      pool: u.name,
      fromMode: u.slots[m.from] as 'idle',
      toMode: u.slots[m.to] as 'idle',
      preempt: m.preempt,
      startOrders: m.orders,
    };
  const kind =
    m.to === 0
      ? 'sleep'
      : m.from === 0
        ? 'wake'
        : u.driver === 'braiins'
          ? 'set-power-target'
          : 'set-profile';
  return {
    ...common,
    kind,
    fleet: u.name,
    fromProfile: u.slots[m.from] as string,
    toProfile: u.slots[m.to] as string,
    powerTargetW: m.to === 0 ? null : (u.nominalW[m.to] as number),
  };
}

function describe(m: Move, count: number): string {
  const u = m.unit;
  const what = u.kind === 'fleet' ? `miners of fleet ${u.name}` : `nodes of pool ${u.name}`;
  const orders = m.orders.length > 0 ? ` (order ${m.orders.join(', ')})` : '';
  return `${num(count)} ${what} ${u.slots[m.from]} → ${u.slots[m.to]}${orders}`;
}

/** J/TH at the slot a shed leaves (least efficient first); pools after fleets. */
function shedKey(m: Move): number[] {
  const u = m.unit;
  if (u.kind === 'pool') return [m.from === HASHING ? 1 : 2, 0];
  const th = u.ths[m.from] as number;
  return [0, th > 0 ? -((u.nominalW[m.from] as number) / th) : -Infinity];
}

/** Orders first (reserved, on-demand, interruptible), then miners by marginal J/TH, then GPU hashing. */
function addKey(m: Move): number[] {
  const u = m.unit;
  if (u.kind === 'pool') return m.to === SERVING ? [0, m.tierRank] : [2, 0];
  const dW = (u.nominalW[m.to] as number) - (u.nominalW[m.from] as number);
  const dTh = (u.ths[m.to] as number) - (u.ths[m.from] as number);
  return [1, dTh > 0 ? dW / dTh : Infinity];
}

function byKeys(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return 0;
}

function moveTie(a: Move, b: Move): number {
  return (
    cmp(a.unit.kind, b.unit.kind) ||
    cmp(a.unit.name, b.unit.name) ||
    a.from - b.from ||
    a.to - b.to ||
    cmp(a.orders.join(','), b.orders.join(','))
  );
}

// ---------------------------------------------------------------- the sequence

export function sequencePlan(input: SequenceInput): Sequence {
  const setup = sequencerSetup(input);
  const seq = buildSequence(input, setup);
  const violations = checkSequence(input, seq);
  if (violations.length === 0) return seq;
  // Defence in depth: a sequence that fails its own replay keeps only its sheds and confirm.
  return withoutAdds(
    seq,
    violations.map((v) => `${v.target}: ${v.message}`),
  );
}

function withoutAdds(seq: Sequence, problems: string[]): Sequence {
  const deferred = [...seq.deferred];
  for (const ph of seq.phases) {
    if (ph.kind !== 'add') continue;
    for (const s of ph.steps) {
      const [kind, name, from, to] =
        s.kind === 'gpu-mode'
          ? (['pool', s.pool, s.fromMode, s.toMode] as const)
          : (['fleet', s.fleet, s.fromProfile, s.toProfile] as const);
      deferred.push({
        kind,
        name,
        from,
        to,
        count: s.count,
        reason: 'limit',
        message: `${num(s.count)} ${kind === 'fleet' ? 'miners' : 'nodes'} of ${kind} ${name} ${from} → ${to} wait: internal check failed`,
      });
    }
  }
  return {
    ...seq,
    phases: seq.phases.filter((p) => p.kind !== 'add'),
    deferred,
    loads: { ...seq.loads, end: seq.loads.afterConfirm },
    warnings: [...seq.warnings, ...problems.map((p) => `internal check: ${p}; adds dropped`)],
  };
}

/** What the phases of one sequence share while it is built. */
interface Build {
  input: SequenceInput;
  setup: SequencerSetup;
  units: Unit[];
  loads: WorstCaseLoads;
  over: Over;
  phases: Phase[];
  deferred: Deferral[];
  warn: (w: string) => void;
}

function limitText(limits: SequencerLimits, o: OverloadedLimit): string {
  if (o.kind === 'node') return limits.nodes[o.name]?.text ?? o.name;
  if (o.kind === 'zone') return limits.zones[o.name]?.text ?? o.name;
  return limits.site.text;
}

function defer(b: Build, m: Move, count: number, reason: DeferralReason, why: string): void {
  if (count <= 0) return;
  const u = m.unit;
  b.deferred.push({
    kind: u.kind,
    name: u.name,
    from: u.slots[m.from] as string,
    to: u.slots[m.to] as string,
    count,
    reason,
    message: `${describe(m, count)} wait: ${why}`,
  });
}

function buildSequence(input: SequenceInput, setup: SequencerSetup): Sequence {
  const { ctx, limits, planKey, addBudgetKw, stepMs } = setup;
  const warnings: string[] = [];
  const warn = (w: string) => warnings.push(w);
  const units = buildUnits(input.farm, ctx, input.observed, input.inFlight, undefined, warn);
  for (const u of units) compact(u);
  stuckWarnings(units, input, warn);
  const loads = loadsOf(ctx, units);
  const start = cloneLoads(loads);
  const over = findOverloaded(loads, limits);
  for (const o of over.list)
    warn(
      `${limitText(limits, o)}: ${kw(o.loadKw)} worst case at the start is over its cap; shedding under it first, no adds under it in this sequence`,
    );
  const { targets, moves } = targetsAndMoves(input, units, warn);
  planWarnings(input, units, warn);

  const b: Build = { input, setup, units, loads, over, phases: [], deferred: [], warn };
  const sheds = moves.filter((m) => m.shed);
  shedPhase(b, sheds);
  // Confirm: every transition that lowers a draw (this sequence's sheds and those already in
  // flight) must show on telemetry before anything is added.
  const confirm = confirmStep(units, ctx, loads, `${planKey}:${b.phases.length}:0:confirm`, input, sheds);
  if (confirm) b.phases.push({ kind: 'confirm', steps: [confirm] });
  const afterConfirm = cloneLoads(loads);
  for (const o of over.list) {
    o.afterShedKw =
      o.kind === 'node'
        ? (loads.nodes[o.name] ?? 0)
        : o.kind === 'zone'
          ? (loads.zones[o.name] ?? 0)
          : loads.siteKw;
    if (o.afterShedKw > o.capKw + tolerance(o.capKw))
      warn(
        `${limitText(limits, o)}: still ${kw(o.afterShedKw)} worst case after this plan's sheds; the plan must shed more (re-plan now)`,
      );
  }
  addPhases(
    b,
    moves.filter((m) => !m.shed),
  );
  return {
    planId: input.planId,
    planKey,
    site: input.site,
    phases: b.phases,
    targets,
    deferred: b.deferred,
    overloaded: over.list,
    warnings,
    addBudgetKw,
    stepMs,
    loads: { start, afterConfirm, end: cloneLoads(loads) },
  };
}

function targetsAndMoves(
  input: SequenceInput,
  units: Unit[],
  warn: (w: string) => void,
): { targets: Sequence['targets']; moves: Move[] } {
  const plan = input.plan;
  const preemptions = input.preemptions ?? [];
  const running = input.runningOrders ? new Set(input.runningOrders) : null;
  const targets: Sequence['targets'] = { fleets: {}, pools: {} };
  const moves: Move[] = [];
  for (const u of units) {
    if (u.kind === 'fleet') {
      const want = fleetTarget(u, plan, warn);
      const t = want ?? slotCounts(u);
      const byProfile: Record<string, number> = {};
      u.slots.forEach((s, i) => {
        if (i > 0 && (t[i] as number) > 0) byProfile[s] = t[i] as number;
      });
      targets.fleets[u.name] = { asleep: t[0] as number, byProfile };
      if (want) moves.push(...fleetMoves(u, want));
    } else {
      const { target, moves: mv } = poolPlan(u, plan, preemptions, running, warn);
      const t = target ?? slotCounts(u);
      targets.pools[u.name] = {
        idle: t[IDLE] as number,
        serving: t[SERVING] as number,
        hashing: t[HASHING] as number,
      };
      moves.push(...mv);
    }
  }
  return { targets, moves };
}

/** Everything that lowers a draw, under overloaded limits first, least efficient first. */
function shedPhase(b: Build, sheds: Move[]): void {
  if (sheds.length === 0) return;
  const { limits, planKey } = b.setup;
  const first = (m: Move) => Number(overloadOf(m.unit, b.over, limits) === null);
  sheds.sort((x, y) => first(x) - first(y) || byKeys(shedKey(x), shedKey(y)) || moveTie(x, y));
  const pi = b.phases.length;
  const steps: DeviceStep[] = [];
  for (const m of sheds) {
    const id = `${planKey}:${pi}:${steps.length}:${m.unit.key}`;
    const step = deviceStep(id, m, m.count, peekMove(m.unit, m.from, m.to, m.count));
    if (!stepIsSafe(b.loads, step, limits)) {
      b.warn(`internal check: step ${id} would raise the worst case; not emitted`);
      defer(b, m, m.count, 'limit', 'internal error: a shed would raise the worst case');
      continue;
    }
    const e = applyMove(m.unit, m.from, m.to, m.count, id, b.input.now);
    addLoad(b.loads, m.unit, e.deltaKw);
    steps.push(step);
  }
  if (steps.length > 0) b.phases.push({ kind: 'shed', steps });
}

/** Most valuable per kW first, in phases each within the ramp budget and every limit. */
function addPhases(b: Build, rises: Move[]): void {
  const { limits, maxAddPhases, addBudgetKw, stepMs } = b.setup;
  const queue: Array<Move & { left: number }> = [];
  for (const m of rises.sort((x, y) => byKeys(addKey(x), addKey(y)) || moveTie(x, y))) {
    const blocked = overloadOf(m.unit, b.over, limits);
    if (blocked !== null)
      defer(
        b,
        m,
        m.count,
        'overload',
        `${blocked} was over its cap at the start; adds under it wait until it is confirmed back within it`,
      );
    else queue.push({ ...m, left: m.count });
  }
  for (let n = 0; n < maxAddPhases && queue.some((m) => m.left > 0); n++) {
    const steps = addPhase(b, queue);
    if (steps.length === 0) break; // nothing fits any more: the rest is deferred below
    const increaseKw = sum(steps.map((s) => s.worstCaseDeltaKw));
    b.phases.push({ kind: 'add', steps, increaseKw, minDurationMs: stepMs });
  }
  for (const m of queue)
    defer(
      b,
      m,
      m.left,
      'ramp',
      `the sequence's ${num(maxAddPhases)} add phases of ${num(stepMs / 1000, stepMs % 1000 ? 1 : 0)} s are used up (ramp ${kw(addBudgetKw)} per phase); the next cycle continues`,
    );
}

/** One add phase: moves in strict order until the budget is spent. */
function addPhase(b: Build, queue: Array<Move & { left: number }>): DeviceStep[] {
  const { limits, planKey, addBudgetKw } = b.setup;
  const pi = b.phases.length;
  const steps: DeviceStep[] = [];
  let budget = addBudgetKw;
  for (const m of queue) {
    if (m.left <= 0) continue;
    const u = m.unit;
    const { room, text } = roomOf(u, b.loads, limits);
    const f = fitRise(u, { ...m, count: m.left }, room, budget);
    if (f.k > 0) {
      const id = `${planKey}:${pi}:${steps.length}:${u.key}`;
      const step = deviceStep(id, m, f.k, peekMove(u, m.from, m.to, f.k));
      // The check before every step: never emitted unsafe.
      const blocker = stepBlocker(b.loads, step, limits);
      if (blocker !== null || step.worstCaseDeltaKw > budget + tolerance(budget)) {
        b.warn(`internal check: step ${id} failed its check (${blocker ?? 'ramp budget'}); not emitted`);
        defer(
          b,
          m,
          m.left,
          'limit',
          `internal error: the step failed its check (${blocker ?? 'ramp budget'})`,
        );
        m.left = 0;
        continue;
      }
      const e = applyMove(u, m.from, m.to, f.k, id, b.input.now);
      addLoad(b.loads, u, e.deltaKw);
      budget -= e.deltaKw;
      steps.push(step);
      m.left -= f.k;
    }
    if (m.left <= 0) continue;
    // Stopped short: a full limit waits for the next cycle, a full budget for the next phase.
    const need = m.atomic ? f.fullKw : f.nextKw;
    if (need > Math.max(0, room) + tolerance(room)) {
      defer(b, m, m.left, 'limit', `${text} has ${kw(Math.max(0, room))} free under worst-case accounting`);
      m.left = 0;
    } else if (need > addBudgetKw + tolerance(addBudgetKw)) {
      defer(
        b,
        m,
        m.left,
        'ramp',
        `${m.atomic ? 'together they add' : 'one adds'} ${kwFine(need)}, more than an add phase's ramp budget of ${kw(addBudgetKw)}`,
      );
      m.left = 0;
    } else break; // strict order: the rest of the queue waits for the next phase
  }
  return steps;
}

function confirmStep(
  units: Unit[],
  ctx: SiteContext,
  loads: WorstCaseLoads,
  id: string,
  input: SequenceInput,
  sheds: Move[],
): ConfirmStep | null {
  const transitions: ConfirmTransition[] = [];
  const affected = new Set<string>();
  for (const u of units) {
    let settled = 0;
    for (const g of u.groups) {
      const at = u.drawKw[g.slot] as number;
      if (!(g.peakKw > at)) continue;
      transitions.push({
        kind: u.kind,
        name: u.name,
        from: u.slots[g.from ?? g.slot] as string,
        to: u.slots[g.slot] as string,
        count: g.count,
        stepId: g.stepId,
        atMostKwPerDevice: at,
      });
      settled += g.count * (g.peakKw - at);
      g.peakKw = at;
      g.from = null;
      g.stepId = null;
      g.since = null;
    }
    if (settled > 0) {
      compact(u);
      addLoad(loads, u, -settled);
      for (const n of u.path) affected.add(n);
    }
  }
  if (transitions.length === 0) return null;
  const nodes: ConfirmNode[] = ctx.nodes
    .filter((n) => affected.has(n))
    .map((n) => ({ node: n, expectLoadAtMostKw: loads.nodes[n] ?? 0 }));
  const noticeMs = Math.max(0, ...sheds.flatMap((m) => m.preempt.map((p) => p.noticeSeconds * 1000)));
  return { id, kind: 'confirm', transitions, nodes, timeoutMs: input.confirmTimeoutMs + noticeMs };
}

function stuckWarnings(units: Unit[], input: SequenceInput, warn: (w: string) => void): void {
  for (const u of units) {
    for (const g of u.groups) {
      if (g.since === null || g.from === null) continue;
      const age = input.now - g.since;
      if (age <= input.confirmTimeoutMs) continue;
      warn(
        `${u.kind} ${u.name}: ${num(g.count)} in flight ${u.slots[g.from]} → ${u.slots[g.slot]} for ${num(age / 1000)} s, past the ${num(input.confirmTimeoutMs / 1000)} s confirm timeout; still counted at max(old, new)`,
      );
    }
  }
}

function planWarnings(input: SequenceInput, units: Unit[], warn: (w: string) => void): void {
  const fleets = new Set(units.filter((u) => u.kind === 'fleet').map((u) => u.name));
  const pools = new Set(units.filter((u) => u.kind === 'pool').map((u) => u.name));
  for (const f of Object.keys(input.plan.fleets ?? {}).sort())
    if (!fleets.has(f)) warn(`fleet ${f}: in the plan but not a fleet of site ${input.site}; ignored`);
  for (const p of Object.keys(input.plan.pools ?? {}).sort())
    if (!pools.has(p)) warn(`pool ${p}: in the plan but not a pool of site ${input.site}; ignored`);
  const requested = new Set((input.preemptions ?? []).map((p) => p.orderId));
  for (const r of input.plan.rejected ?? [])
    if (r.preempted && !requested.has(r.orderId))
      warn(
        `order ${r.orderId}: the plan preempts it but the caller did not request it; its nodes are not drained`,
      );
}

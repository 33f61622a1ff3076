// The MILP: the same decision and objective as the greedy solver, solved exactly. Miners are
// aggregated per fleet × profile step (cumulative counts; see MilpOptions), GPU nodes per pool
// (integer hashing count), orders admitted or running are binaries per order × pool and pending
// orders are integer counts per group of alike orders × pool (see OrderGroup). Absolute changes (hysteresis,
// wear, churn) split into up/down continuous parts; soft bounds get continuous slacks that only
// ever relax the planner's own preferences, never a physical limit. Built in HiGHS's
// structured form (rows in CSR) and decoded back into a Decision.
import { capLoads, poolUse, type Decision } from './decision.ts';
import type { MipModel, MipSolution } from './types.ts';
import type { FleetVar, OrderVar, PlanView, PoolVar } from './view-types.ts';

export interface MilpLayout {
  /** cum[s] per fleet as an affine expression of columns. */
  fleetCols: Affine[][];
  /** Column of hashing per pool, or -1 when fixed at 0. */
  poolCols: number[];
  /** Orders admitted or running somewhere: one binary per option (OrderVar.options order). */
  orderCols: number[][];
  /** Pending orders with the same pools and node counts, aggregated. */
  groups: OrderGroup[];
}

/** constant + Σ coefs[k] × x[cols[k]]. */
export interface Affine {
  constant: number;
  cols: number[];
  coefs: number[];
}

const valueOf = (a: Affine, v: readonly number[]) =>
  a.cols.reduce((acc, c, k) => acc + (a.coefs[k] as number) * (v[c] ?? 0), a.constant);

/**
 * Pending orders that fit exactly the same pools with the same node counts are interchangeable
 * but for their value, so the model counts how many of them each pool takes (an integer per
 * group × pool) and lets continuous "slots" pick the best-paying ones: the k-th slot is worth the
 * k-th best order, values fall with k, so the LP fills slots in order.
 */
export interface OrderGroup {
  /** Order indices, best (revenue + bonus) first. */
  members: number[];
  /** Pool index and node count per pool. */
  pools: Array<{ pool: number; nodes: number }>;
  countCols: number[];
  slotCols: number[];
}

function groupOrders(view: PlanView): {
  placed: number[];
  groups: Array<Pick<OrderGroup, 'members' | 'pools'>>;
} {
  const placed: number[] = [];
  const byKey = new Map<string, Pick<OrderGroup, 'members' | 'pools'>>();
  for (const o of view.orders) {
    if (o.options.length === 0) continue;
    if (o.wasIn >= 0 || o.hard) {
      placed.push(o.index);
      continue;
    }
    const key = o.options.map((x) => `${x.pool}:${x.nodes}`).join('|');
    let g = byKey.get(key);
    if (!g) {
      g = { members: [], pools: o.options.map((x) => ({ pool: x.pool, nodes: x.nodes })) };
      byKey.set(key, g);
    }
    g.members.push(o.index);
  }
  const worth = (i: number) => {
    const o = view.orders[i] as OrderVar;
    return (o.options[0]?.revenue ?? 0) + o.bonus;
  };
  const groups = [...byKey.values()];
  for (const g of groups) g.members.sort((a, b) => worth(b) - worth(a) || a - b);
  return { placed, groups };
}

class ModelBuilder {
  readonly m: MipModel = {
    sense: 'maximize',
    offset: 0,
    colNames: [],
    colCost: [],
    colLower: [],
    colUpper: [],
    integer: [],
    rowNames: [],
    rowLower: [],
    rowUpper: [],
    rowStarts: [0],
    rowIndices: [],
    rowValues: [],
  };

  col(name: string, cost: number, lower: number, upper: number, integer: boolean): number {
    const m = this.m;
    m.colNames.push(name);
    m.colCost.push(cost);
    m.colLower.push(lower);
    m.colUpper.push(upper);
    m.integer.push(integer);
    return m.colNames.length - 1;
  }

  row(name: string, lower: number, upper: number, idx: number[], val: number[]): void {
    const m = this.m;
    // Merge repeated columns: HiGHS rejects a row that names a column twice.
    const acc = new Map<number, number>();
    idx.forEach((c, k) => acc.set(c, (acc.get(c) ?? 0) + (val[k] as number)));
    const cols = [...acc.keys()].sort((a, b) => a - b);
    for (const c of cols) {
      const v = acc.get(c) as number;
      if (v === 0) continue;
      m.rowIndices.push(c);
      m.rowValues.push(v);
    }
    m.rowNames.push(name);
    m.rowLower.push(lower);
    m.rowUpper.push(upper);
    m.rowStarts.push(m.rowIndices.length);
  }
}

const pos = (x: number) => (x > 0 ? x : 0);

export interface MilpOptions {
  /**
   * Make miner counts integer too. Off by default: a fleet's counts run to hundreds, so the LP
   * value of a count is rounded down and the greedy fill tops it up (at most one miner per step
   * is lost before the fill), while branching on them costs seconds at 100k miners. GPU nodes and
   * orders are always integer.
   */
  integerMinerCounts?: boolean;
}

/** The model under construction plus the start vector that goes with it. */
class Build {
  readonly b = new ModelBuilder();
  readonly startValues: number[] = [];
  readonly layout: MilpLayout = { fleetCols: [], poolCols: [], orderCols: [], groups: [] };
  readonly view: PlanView;
  readonly start: Decision | undefined;
  readonly energyPerKw: number;

  constructor(view: PlanView, start: Decision | undefined) {
    this.view = view;
    this.start = start;
    this.energyPerKw = (view.pue * view.energyUsdPerMwh) / 1000;
  }

  col(name: string, cost: number, lo: number, up: number, int: boolean, s: number): number {
    this.startValues.push(s);
    return this.b.col(name, cost, lo, up, int);
  }

  /** x = ref + up − down, each side costing `move` per unit (|x − ref| in the objective). */
  absMove(name: string, x: number, x0: number, ref: number, lo: number, hi: number, move: number): void {
    const up = this.col(`${name}u`, -move, 0, pos(hi - ref), false, pos(x0 - ref));
    const dn = this.col(`${name}d`, -move, 0, pos(ref - lo), false, pos(ref - x0));
    this.b.row(`${name}ref`, ref, ref, [x, up, dn], [1, -1, 1]);
  }
}

function addFleet(m: Build, f: FleetVar, intMiners: boolean): void {
  const { b } = m;
  b.m.offset -= f.baseKw * m.energyPerKw;
  const exprs: Affine[] = [];
  const sc = m.start?.cum[f.index];
  for (let s = 0; s < f.K; s++) {
    const lo = f.lo[s] as number;
    const hi = f.hi[s] as number;
    const ref = f.ref[s] as number;
    const x0 = sc?.[s] ?? lo;
    const name = `f${f.index}s${s}`;
    const value = (f.stepValue[s] as number) - (f.tie[s] as number);
    const move = (f.hyst[s] as number) + f.churn + (s === 0 ? f.wear : 0);
    let e: Affine;
    if (lo >= hi) {
      e = { constant: lo, cols: [], coefs: [] };
      b.m.offset += value * lo - move * Math.abs(lo - ref);
    } else if (!intMiners) {
      // Continuous counts: cum = ref + up − down directly (no count column, no equality row).
      const up = m.col(`${name}u`, value - move, 0, hi - ref, false, pos(x0 - ref));
      const dn = m.col(`${name}d`, -value - move, 0, ref - lo, false, pos(ref - x0));
      b.m.offset += value * ref;
      e = { constant: ref, cols: [up, dn], coefs: [1, -1] };
    } else {
      const c = m.col(name, value, lo, hi, true, x0);
      if (move > 0) m.absMove(name, c, x0, ref, lo, hi, move);
      e = { constant: 0, cols: [c], coefs: [1] };
    }
    exprs.push(e);
    const softLo = f.softLo[s] as number;
    const penLo = f.penLo[s] as number;
    if (penLo > 0 && softLo > lo) {
      const sl = m.col(`${name}lo`, -penLo, 0, softLo - lo, false, pos(softLo - x0));
      affineRow(b, `${name}soft-lo`, softLo, Infinity, [[e, 1]], [sl], [1]);
    }
    const softHi = f.softHi[s] as number;
    const penHi = f.penHi[s] as number;
    if (penHi > 0 && softHi < hi) {
      const sh = m.col(`${name}hi`, -penHi, 0, hi - softHi, false, pos(x0 - softHi));
      affineRow(b, `${name}soft-hi`, -Infinity, softHi, [[e, 1]], [sh], [-1]);
    }
  }
  for (let s = 0; s + 1 < f.K; s++) {
    if ((f.hi[s + 1] as number) > (f.lo[s] as number))
      affineRow(
        b,
        `f${f.index}mono${s}`,
        0,
        Infinity,
        [
          [exprs[s] as Affine, 1],
          [exprs[s + 1] as Affine, -1],
        ],
        [],
        [],
      );
  }
  m.layout.fleetCols.push(exprs);
}

/** lower ≤ Σ w × expr + Σ val × x ≤ upper, constants moved to the bounds. */
function affineRow(
  b: ModelBuilder,
  name: string,
  lower: number,
  upper: number,
  exprs: Array<[Affine, number]>,
  idx: number[],
  val: number[],
): void {
  let constant = 0;
  const i = [...idx];
  const v = [...val];
  for (const [e, w] of exprs) {
    constant += w * e.constant;
    e.cols.forEach((c, k) => {
      i.push(c);
      v.push(w * (e.coefs[k] as number));
    });
  }
  if (i.length === 0) return;
  b.row(name, lower - constant, upper - constant, i, v);
}

function addOrders(m: Build): void {
  const { b, view, start, layout } = m;
  for (const o of view.orders) b.m.offset -= o.bonus;
  const { placed, groups } = groupOrders(view);
  layout.orderCols = view.orders.map(() => []);
  for (const i of placed) {
    const o = view.orders[i] as OrderVar;
    const sp = start?.orderPool[o.index] ?? -1;
    const cols = o.options.map((opt, k) =>
      m.col(`o${o.index}p${k}`, opt.value + o.bonus, o.hard ? 1 : 0, 1, true, sp === opt.pool ? 1 : 0),
    );
    if (cols.length > 1)
      b.row(
        `o${o.index}one`,
        -Infinity,
        1,
        cols,
        cols.map(() => 1),
      );
    layout.orderCols[o.index] = cols;
  }
  groups.forEach((g, gi) => {
    const first = view.orders[g.members[0] as number] as OrderVar;
    const admitted = g.members.filter((x) => (start?.orderPool[x] ?? -1) >= 0).length;
    const countCols = g.pools.map(({ pool, nodes }, k) => {
      const p = view.pools[pool] as PoolVar;
      const max = Math.min(g.members.length, Math.floor(p.controllable / nodes));
      const s0 = start ? g.members.filter((x) => start.orderPool[x] === pool).length : 0;
      return m.col(`g${gi}p${k}`, -(first.options[k]?.energy ?? 0), 0, max, true, s0);
    });
    const slotCols = g.members.map((x, k) => {
      const o = view.orders[x] as OrderVar;
      return m.col(`g${gi}s${k}`, (o.options[0]?.revenue ?? 0) + o.bonus, 0, 1, false, k < admitted ? 1 : 0);
    });
    const ones = slotCols.map(() => 1);
    b.row(`g${gi}slots`, 0, 0, [...slotCols, ...countCols], [...ones, ...countCols.map(() => -1)]);
    layout.groups.push({ ...g, countCols, slotCols });
  });
}

function addPool(m: Build, p: PoolVar): void {
  const { b, start } = m;
  b.m.offset -= p.baseKw * m.energyPerKw;
  const h0 = start?.hashing[p.index] ?? p.lowH;
  const move = p.hyst + p.churn;
  let h = -1;
  if (p.hiH > 0) {
    h = m.col(`p${p.index}h`, p.hashValue - p.tie, 0, p.hiH, true, h0);
    m.absMove(`p${p.index}h`, h, h0, p.refHashing, 0, p.hiH, move);
  } else {
    b.m.offset -= move * p.refHashing;
  }
  m.layout.poolCols.push(h);
  // Capacity, and "hashing nodes only stop to serve a new order" (dwell; soft when forced).
  const terms = poolOrderTerms(m.view, m.layout, p.index);
  const all = terms.map(([c]) => c);
  const allV = terms.map(([, n]) => n);
  const fresh = terms.filter(([, , isNew]) => isNew);
  const hIdx = h >= 0 ? [h] : [];
  const hVal = h >= 0 ? [1] : [];
  if (all.length > 0 || h >= 0)
    b.row(`p${p.index}nodes`, -Infinity, p.controllable, [...hIdx, ...all], [...hVal, ...allV]);
  const fIdx = [...hIdx, ...fresh.map(([c]) => c)];
  const fVal = [...hVal, ...fresh.map(([, n]) => n)];
  if (p.lowH > 0) b.row(`p${p.index}low`, p.lowH, Infinity, fIdx, fVal);
  if (p.lowSoft > 0 && p.lowPen > 0) {
    const ns0 = start ? (poolUse(m.view, start)[p.index]?.newServing ?? 0) : 0;
    const sl = m.col(`p${p.index}lows`, -p.lowPen, 0, p.lowSoft, false, pos(p.lowSoft - h0 - ns0));
    b.row(`p${p.index}low-soft`, p.lowSoft, Infinity, [...fIdx, sl], [...fVal, 1]);
  }
  if (p.pinSoftH > 0 && p.pinPen > 0) {
    const sl = m.col(`p${p.index}pin`, -p.pinPen, 0, p.pinSoftH, false, pos(p.pinSoftH - h0));
    b.row(`p${p.index}pin-soft`, p.pinSoftH, Infinity, [...hIdx, sl], [...hVal, 1]);
  }
}

/** Builds the model; `start` (a feasible decision, normally the greedy one) seeds the search. */
export function buildMilp(
  view: PlanView,
  start?: Decision,
  opts: MilpOptions = {},
): { model: MipModel; layout: MilpLayout } {
  const m = new Build(view, start);
  for (const f of view.fleets) addFleet(m, f, opts.integerMinerCounts === true);
  addOrders(m);
  for (const p of view.pools) addPool(m, p);
  addCapRows(view, m.b, m.layout);
  m.b.m.start = start ? m.startValues : undefined;
  return { model: m.b.m, layout: m.layout };
}

/** One row per cap that could bind (its largest possible load exceeds it); site and ramp merged. */
function addCapRows(view: PlanView, b: ModelBuilder, layout: MilpLayout): void {
  const site = view.caps[view.siteCap];
  const ramp = view.caps[view.rampCap];
  for (const c of view.caps) {
    if (c.kind === 'ramp') continue;
    const capKw = c.kind === 'site' && ramp ? Math.min(c.capKw, ramp.capKw) : c.capKw;
    const idx: number[] = [];
    const val: number[] = [];
    let base = 0;
    let max = 0;
    for (const fi of c.fleets) {
      const f = view.fleets[fi];
      if (!f) continue;
      base += f.baseKw;
      max += f.baseKw;
      for (let s = 0; s < f.K; s++) {
        const e = (layout.fleetCols[fi] as Affine[])[s] as Affine;
        const kw = f.stepKw[s] as number;
        base += kw * e.constant;
        e.cols.forEach((c, k) => {
          idx.push(c);
          val.push(kw * (e.coefs[k] as number));
        });
        max += pos(kw * (f.hi[s] as number));
      }
    }
    for (const pi of c.pools) {
      const p = view.pools[pi];
      if (!p) continue;
      base += p.baseKw;
      max += p.baseKw;
      const h = layout.poolCols[pi] as number;
      if (h >= 0) {
        idx.push(h);
        val.push(p.hashStepKw);
      }
      for (const [col, n] of poolOrderTerms(view, layout, pi)) {
        idx.push(col);
        val.push(n * p.servStepKw);
      }
      // hashing + serving nodes never exceed the usable nodes.
      max += p.controllable * Math.max(0, p.hashStepKw, p.servStepKw);
    }
    if (max <= capKw || idx.length === 0) continue;
    b.row(c === site ? 'site' : `cap-${c.kind}-${c.name}`, -Infinity, capKw - base, idx, val);
  }
}

/** (column, nodes, new to the pool) of every order term for a pool. */
function poolOrderTerms(view: PlanView, layout: MilpLayout, pool: number): Array<[number, number, boolean]> {
  const cached = termCache.get(layout)?.[pool];
  if (cached) return cached;
  const out: Array<[number, number, boolean]> = [];
  for (const o of view.orders) {
    const cols = layout.orderCols[o.index] as number[];
    o.options.forEach((opt, k) => {
      if (opt.pool === pool && cols[k] !== undefined) out.push([cols[k], opt.nodes, o.wasIn !== pool]);
    });
  }
  for (const g of layout.groups)
    g.pools.forEach(({ pool: q, nodes }, k) => {
      if (q === pool) out.push([g.countCols[k] as number, nodes, true]);
    });
  const all = termCache.get(layout) ?? [];
  all[pool] = out;
  termCache.set(layout, all);
  return out;
}

/** Order terms per pool, computed once per model (after the order columns exist). */
const termCache = new WeakMap<MilpLayout, Array<Array<[number, number, boolean]>>>();

/** Reads a solution back into a Decision (rounded to whole miners, nodes and orders). */
export function decodeMilp(view: PlanView, layout: MilpLayout, sol: MipSolution): Decision {
  const v = sol.values ?? [];
  const at = (c: number) => Math.round(v[c] ?? 0);
  // Miner counts may be fractional (see MilpOptions): round down, which only sheds load.
  const down = (e: Affine) => Math.floor(valueOf(e, v) + 1e-6);
  const d: Decision = {
    cum: view.fleets.map((f) =>
      (layout.fleetCols[f.index] as Affine[]).map((e, s) => Math.max(f.lo[s] as number, down(e))),
    ),
    hashing: view.pools.map((p) => {
      const c = layout.poolCols[p.index] as number;
      return c >= 0 ? at(c) : 0;
    }),
    orderPool: view.orders.map((o) => {
      const cols = layout.orderCols[o.index] as number[];
      const k = cols.findIndex((c) => (v[c] ?? 0) > 0.5);
      return k >= 0 ? (o.options[k]?.pool ?? -1) : -1;
    }),
  };
  // A group's best orders fill the counts each pool took, pools in index order.
  for (const g of layout.groups) {
    let next = 0;
    g.pools.forEach(({ pool }, k) => {
      for (let n = at(g.countCols[k] as number); n > 0 && next < g.members.length; n--)
        d.orderPool[g.members[next++] as number] = pool;
    });
  }
  return d;
}

/** Quick structural checks on a decoded decision (the full check is checkPlan). */
export function decisionWithinBounds(view: PlanView, d: Decision): string | null {
  for (const f of view.fleets) {
    const cum = d.cum[f.index] as number[];
    for (let s = 0; s < f.K; s++) {
      const c = cum[s] as number;
      if (c < (f.lo[s] as number) || c > (f.hi[s] as number)) return `fleet ${f.name}: count outside bounds`;
      if (s > 0 && c > (cum[s - 1] as number)) return `fleet ${f.name}: counts not monotone`;
    }
  }
  const use = poolUse(view, d);
  for (const p of view.pools) {
    const h = d.hashing[p.index] as number;
    if (h < 0 || h > p.hiH || h + (use[p.index]?.serving ?? 0) > p.controllable)
      return `pool ${p.name}: node counts`;
  }
  const loads = capLoads(view, d);
  for (const c of view.caps) {
    if ((loads[c.index] as number) > c.capKw + 1e-6 * Math.max(1, c.capKw)) return `${c.text}: exceeded`;
  }
  return null;
}

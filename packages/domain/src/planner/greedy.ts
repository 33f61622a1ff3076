// The greedy merit-order solver: start from the lowest-load decision inside the hard bounds
// (everything that may be shed is shed) and restore in order of value per kW — the most
// efficient miners first, orders by price per kW — while every cap has room. What never gets
// restored is what was least efficient: shed-least-efficient-first falls out of the order.
// Always feasible, because it starts feasible and only adds what fits.
import {
  baselineDecision,
  capLoads,
  cloneDecision,
  poolUse,
  type Decision,
  type PoolUse,
} from './decision.ts';
import type { FleetVar, OrderVar, PlanView, PoolVar } from './view-types.ts';

const FLEET = 0;
const POOL = 1;
const ORDER = 2;

interface Unit {
  kind: number;
  id: number;
  step: number;
  merit: number;
}

interface Move {
  value: number;
  kw: number;
  /** Units available at this value (1 for an order). */
  len: number;
  /** Orders: the chosen pool and hashing nodes it takes over. */
  pool?: number;
  fromHashing?: number;
}

function better(a: Unit, b: Unit): boolean {
  if (a.merit !== b.merit) return a.merit > b.merit;
  if (a.kind !== b.kind) return a.kind < b.kind;
  if (a.id !== b.id) return a.id < b.id;
  return a.step < b.step;
}

class Heap {
  readonly #a: Unit[] = [];
  get size(): number {
    return this.#a.length;
  }
  push(u: Unit): void {
    const a = this.#a;
    a.push(u);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!better(a[i] as Unit, a[p] as Unit)) break;
      [a[i], a[p]] = [a[p] as Unit, a[i] as Unit];
      i = p;
    }
  }
  pop(): Unit | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && better(a[l] as Unit, a[m] as Unit)) m = l;
        if (r < a.length && better(a[r] as Unit, a[m] as Unit)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Unit, a[i] as Unit];
        i = m;
      }
    }
    return top;
  }
}

const meritOf = (m: Move) => (m.kw > 1e-12 ? m.value / m.kw : m.value > 0 ? Infinity : -Infinity);

/** Value of one more miner crossing step s at cumulative count x, and how many share it. */
export function fleetStepValue(f: FleetVar, s: number, x: number): { value: number; until: number } {
  const move = (f.hyst[s] as number) + f.churn + (s === 0 ? f.wear : 0);
  const ref = f.ref[s] as number;
  const softLo = f.softLo[s] as number;
  const softHi = f.softHi[s] as number;
  let value = (f.stepValue[s] as number) - (f.tie[s] as number) + (x < ref ? move : -move);
  if (x < softLo) value += f.penLo[s] as number;
  if (x >= softHi) value -= f.penHi[s] as number;
  let until = Infinity;
  for (const bp of [ref, softLo, softHi]) if (bp > x && bp < until) until = bp;
  return { value, until };
}

/** Value of one more node hashing at count x (newServing fixed). */
export function poolHashValue(p: PoolVar, x: number, newServing: number): { value: number; until: number } {
  const move = p.hyst + p.churn;
  let value = p.hashValue - p.tie + (x < p.refHashing ? move : -move);
  if (x < p.pinSoftH) value += p.pinPen;
  const lowAt = p.lowSoft - newServing;
  if (x < lowAt) value += p.lowPen;
  let until = Infinity;
  for (const bp of [p.refHashing, p.pinSoftH, lowAt]) if (bp > x && bp < until) until = bp;
  return { value, until };
}

class Filler {
  readonly view: PlanView;
  readonly d: Decision;
  readonly use: PoolUse[];
  readonly headroom: number[];
  readonly heap = new Heap();
  blocked: Unit[] = [];

  constructor(view: PlanView, start: Decision) {
    this.view = view;
    this.d = cloneDecision(start);
    this.use = poolUse(view, this.d);
    const loads = capLoads(view, this.d);
    this.headroom = view.caps.map((c) => c.capKw - (loads[c.index] as number));
  }

  fleetMove(f: FleetVar, s: number): Move | null {
    const cum = this.d.cum[f.index] as number[];
    const x = cum[s] as number;
    const top = Math.min(f.hi[s] as number, s === 0 ? f.controllable : (cum[s - 1] as number));
    if (top <= x) return null;
    const { value, until } = fleetStepValue(f, s, x);
    return { value, kw: f.stepKw[s] as number, len: Math.min(top, until) - x };
  }

  poolMove(p: PoolVar): Move | null {
    const h = this.d.hashing[p.index] as number;
    const u = this.use[p.index] as PoolUse;
    const top = Math.min(p.hiH, p.controllable - u.serving);
    if (top <= h) return null;
    const { value, until } = poolHashValue(p, h, u.newServing);
    return { value, kw: p.hashStepKw, len: Math.min(top, until) - h };
  }

  /** The best pool for an order that fits now, by merit. */
  orderMove(o: OrderVar): Move | null {
    if ((this.d.orderPool[o.index] as number) >= 0) return null;
    let best: Move | null = null;
    for (const opt of o.options) {
      const p = this.view.pools[opt.pool] as PoolVar;
      const u = this.use[p.index] as PoolUse;
      const h = this.d.hashing[p.index] as number;
      const free = p.controllable - h - u.serving;
      const fromHashing = Math.max(0, opt.nodes - free);
      if (fromHashing > h) continue;
      const isNew = o.wasIn !== p.index;
      if (!isNew && h - fromHashing + u.newServing < p.lowH) continue;
      let lost = 0;
      const ns = u.newServing + (isNew ? opt.nodes : 0);
      for (let x = h - fromHashing; x < h; x++) lost += poolHashValue(p, x, ns).value;
      const m: Move = {
        value: opt.value + o.bonus - lost,
        kw: opt.nodes * p.servStepKw - fromHashing * p.hashStepKw,
        len: 1,
        pool: p.index,
        fromHashing,
      };
      if (m.value <= 0 || this.fits(p.caps, m.kw) < 1) continue;
      if (!best || meritOf(m) > meritOf(best)) best = m;
    }
    return best;
  }

  fits(caps: readonly number[], kw: number): number {
    if (kw <= 1e-12) return Infinity;
    let n = Infinity;
    for (const c of caps) {
      const cap = this.view.caps[c];
      const room = (this.headroom[c] as number) + 1e-9 * Math.max(1, Math.abs(cap?.capKw ?? 0));
      n = Math.min(n, Math.floor(room / kw));
    }
    return Math.max(0, n);
  }

  move(u: Unit): Move | null {
    if (u.kind === FLEET) return this.fleetMove(this.view.fleets[u.id] as FleetVar, u.step);
    if (u.kind === POOL) return this.poolMove(this.view.pools[u.id] as PoolVar);
    return this.orderMove(this.view.orders[u.id] as OrderVar);
  }

  push(kind: number, id: number, step = 0): void {
    const u: Unit = { kind, id, step, merit: 0 };
    const m = this.move(u);
    if (!m || m.value <= 0) {
      // An order that fits nowhere now may fit once room grows.
      if (kind === ORDER && (this.d.orderPool[id] as number) < 0) this.blocked.push(u);
      return;
    }
    u.merit = meritOf(m);
    this.heap.push(u);
  }

  spend(caps: readonly number[], kw: number): void {
    for (const c of caps) this.headroom[c] = (this.headroom[c] as number) - kw;
    if (kw < 0) {
      // Room grew (a node moved from hashing to a lighter serving load): retry what was blocked.
      const again = this.blocked;
      this.blocked = [];
      for (const b of again) this.push(b.kind, b.id, b.step);
    }
  }

  apply(u: Unit, m: Move): boolean {
    if (u.kind === ORDER) {
      const o = this.view.orders[u.id] as OrderVar;
      const p = this.view.pools[m.pool as number] as PoolVar;
      const opt = o.options.find((x) => x.pool === p.index);
      if (!opt) return false;
      this.d.orderPool[o.index] = p.index;
      this.d.hashing[p.index] = (this.d.hashing[p.index] as number) - (m.fromHashing ?? 0);
      const use = this.use[p.index] as PoolUse;
      use.serving += opt.nodes;
      if (o.wasIn !== p.index) use.newServing += opt.nodes;
      this.spend(p.caps, m.kw);
      this.push(POOL, p.index);
      return true;
    }
    const caps =
      u.kind === FLEET ? (this.view.fleets[u.id] as FleetVar).caps : (this.view.pools[u.id] as PoolVar).caps;
    const n = Math.min(m.len, this.fits(caps, m.kw));
    if (n <= 0) return false;
    if (u.kind === FLEET) {
      const cum = this.d.cum[u.id] as number[];
      cum[u.step] = (cum[u.step] as number) + n;
      this.spend(caps, n * m.kw);
      this.push(FLEET, u.id, u.step);
      if (u.step + 1 < cum.length) this.push(FLEET, u.id, u.step + 1);
    } else {
      this.d.hashing[u.id] = (this.d.hashing[u.id] as number) + n;
      this.spend(caps, n * m.kw);
      this.push(POOL, u.id);
    }
    return true;
  }

  run(): Decision {
    for (const f of this.view.fleets) for (let s = 0; s < f.K; s++) this.push(FLEET, f.index, s);
    for (const p of this.view.pools) this.push(POOL, p.index);
    for (const o of this.view.orders) this.push(ORDER, o.index);
    for (let u = this.heap.pop(); u; u = this.heap.pop()) {
      const m = this.move(u);
      if (!m || m.value <= 0) {
        if (u.kind === ORDER && (this.d.orderPool[u.id] as number) < 0) this.blocked.push(u);
        continue;
      }
      const merit = meritOf(m);
      if (merit < u.merit - 1e-12 * Math.max(1, Math.abs(u.merit))) {
        this.heap.push({ ...u, merit });
        continue;
      }
      if (!this.apply(u, m)) this.blocked.push(u);
    }
    return this.d;
  }
}

/** Adds every unit of positive value that fits, best value per kW first. */
export function fill(view: PlanView, start: Decision): Decision {
  return new Filler(view, start).run();
}

export function greedyDecision(view: PlanView): Decision {
  return fill(view, baselineDecision(view));
}

/**
 * Removes units whose value is negative (a MIP solved to a small gap may keep a few), top step
 * first, never below a hard bound. Removing only sheds load, so it never breaks a limit.
 */
export function trim(view: PlanView, d: Decision): Decision {
  const out = cloneDecision(d);
  for (const f of view.fleets) {
    const cum = out.cum[f.index] as number[];
    for (let s = f.K - 1; s >= 0; s--) {
      const floor = Math.max(f.lo[s] as number, s + 1 < f.K ? (cum[s + 1] as number) : 0);
      while ((cum[s] as number) > floor && fleetStepValue(f, s, (cum[s] as number) - 1).value < 0)
        cum[s] = (cum[s] as number) - 1;
    }
  }
  const use = poolUse(view, out);
  for (const p of view.pools) {
    const ns = use[p.index]?.newServing ?? 0;
    let h = out.hashing[p.index] as number;
    while (h > 0 && h - 1 + ns >= p.lowH && poolHashValue(p, h - 1, ns).value < 0) h--;
    out.hashing[p.index] = h;
  }
  return out;
}

/** A solver's decision made locally optimal: drop losing units, then add every winning one that fits. */
export function polish(view: PlanView, d: Decision): Decision {
  return fill(view, trim(view, d));
}

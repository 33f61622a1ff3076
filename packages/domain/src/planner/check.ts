// checkPlan: an independent check of a Plan against its input. It reads only the plan's output
// (target counts, pools, admitted orders) and recomputes every load and rule from the input, so
// it catches a solver, decoder or plan-builder bug alike. Used by plan() on the MILP's result,
// by the tests, and by the sequencer before it acts.
import { capLoads, poolUse, type Decision } from './decision.ts';
import { toCum } from './fleet-view.ts';
import { kw, num, usdPerMwh } from './format.ts';
import { LOAD_TOLERANCE } from './planner-constants.ts';
import { buildView } from './view.ts';
import type { Plan, PlanInput, Violation } from './types.ts';
import type { Cap, FleetVar, PlanView, PoolVar } from './view-types.ts';

type Sink = (kind: Violation['kind'], target: string, message: string) => void;

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const slack = (cap: number) => LOAD_TOLERANCE * Math.max(1, Math.abs(cap));

export function checkPlan(input: PlanInput, plan: Plan): Violation[] {
  return checkView(buildView(input), plan);
}

/** checkPlan against an already built view (the view is a pure function of the input). */
export function checkView(view: PlanView, plan: Plan): Violation[] {
  const out: Violation[] = [];
  const add: Sink = (kind, target, message) => out.push({ kind, target, message });
  const d = readDecision(view, plan, add);
  if (!d) return out;
  const loads = capLoads(view, d);
  checkLimits(view, loads, add);
  for (const f of view.fleets) checkFleetRules(view, f, d.cum[f.index] as number[], loads, add);
  checkPools(view, d, loads, add);
  checkOrders(view, d, plan, add);
  return out;
}

/** The plan's output as a Decision, or null when its counts do not even add up. */
function readDecision(view: PlanView, plan: Plan, add: Sink): Decision | null {
  let ok = true;
  const bad: Sink = (kind, target, message) => {
    ok = false;
    add(kind, target, message);
  };
  const cum = readFleets(view, plan, bad);
  const orderPool = readOrders(view, plan, bad);
  const hashing = view.pools.map((p) => plan.pools[p.name]?.target.hashing ?? 0);
  const d: Decision = { cum, hashing, orderPool };
  readPools(view, plan, d, bad);
  return ok ? d : null;
}

function readFleets(view: PlanView, plan: Plan, bad: Sink): number[][] {
  const cum: number[][] = [];
  for (const f of view.fleets) {
    const fp = plan.fleets[f.name];
    if (!fp) {
      bad('counts', f.name, 'fleet missing from the plan');
      cum.push([...f.ref]);
      continue;
    }
    const counts = [fp.target.asleep, ...f.states.slice(1).map((s) => fp.target.byProfile[s] ?? 0)];
    for (const p of Object.keys(fp.target.byProfile))
      if (!f.states.includes(p) || p === 'asleep') bad('counts', f.name, `unknown profile "${p}"`);
    if (!counts.every(isCount)) bad('counts', f.name, 'target counts must be whole, non-negative numbers');
    const sum = counts.reduce((a, b) => a + b, 0);
    if (sum !== f.controllable)
      bad('counts', f.name, `targets cover ${num(sum)} miners; ${num(f.controllable)} are controllable`);
    const u = fp.uncontrollable;
    const unc = u.fault + u.offline + u.stale + u.unknown;
    if (unc !== f.uncontrollable)
      bad('counts', f.name, `uncontrollable ${num(unc)}; observed ${num(f.uncontrollable)}`);
    cum.push(toCum(counts));
  }
  for (const name of Object.keys(plan.fleets))
    if (!view.fleets.some((f) => f.name === name)) bad('counts', name, 'not a fleet of this site');
  return cum;
}

function readOrders(view: PlanView, plan: Plan, bad: Sink): number[] {
  const orderPool = view.orders.map(() => -1);
  const byId = new Map(
    view.orders.filter((o) => o.noOption !== 'duplicate order id').map((o) => [o.order.id, o]),
  );
  const poolIdx = new Map(view.pools.map((p) => [p.name, p.index]));
  const seen = new Set<string>();
  for (const a of plan.admitted) {
    const o = byId.get(a.orderId);
    if (!o) {
      bad('order', a.orderId, 'admitted but not among the orders');
      continue;
    }
    if (seen.has(a.orderId)) bad('order', a.orderId, 'admitted twice');
    seen.add(a.orderId);
    const p = poolIdx.get(a.pool) ?? -1;
    const opt = o.options.find((x) => x.pool === p);
    if (!opt) {
      bad(
        'order',
        a.orderId,
        `pool ${a.pool} does not fit it (GPU model, VRAM, nodes, pin or its current pool)`,
      );
      continue;
    }
    const perNode = a.gpusByNode ?? [];
    if (
      perNode.length !== a.nodes ||
      perNode.reduce((x, y) => x + y, 0) !== a.gpus ||
      perNode.some((g) => g < 1 || g > (view.pools[p] as PoolVar).gpusPerNode)
    )
      bad(
        'order',
        a.orderId,
        `GPUs by node ${JSON.stringify(perNode)} do not give ${a.gpus} GPUs on ${a.nodes} nodes`,
      );
    if (a.nodes !== opt.nodes || a.gpus !== o.order.gpuCount)
      bad(
        'order',
        a.orderId,
        `needs ${opt.nodes} whole nodes for ${o.order.gpuCount} GPUs; plan gives ${a.nodes} for ${a.gpus}`,
      );
    orderPool[o.index] = p;
  }
  for (const r of plan.rejected) {
    if (seen.has(r.orderId)) bad('order', r.orderId, 'both admitted and rejected');
    seen.add(r.orderId);
  }
  for (const o of view.orders)
    if (!seen.has(o.order.id)) bad('order', o.order.id, 'neither admitted nor rejected');
  return orderPool;
}

function readPools(view: PlanView, plan: Plan, d: Decision, bad: Sink): void {
  const use = poolUse(view, d);
  for (const p of view.pools) {
    const pp = plan.pools[p.name];
    if (!pp) {
      bad('counts', p.name, 'pool missing from the plan');
      continue;
    }
    const t = pp.target;
    if (![t.serving, t.hashing, t.idle].every(isCount))
      bad('counts', p.name, 'node counts must be whole, non-negative');
    if (t.serving + t.hashing + t.idle !== p.controllable)
      bad(
        'counts',
        p.name,
        `modes cover ${num(t.serving + t.hashing + t.idle)} nodes; ${num(p.controllable)} are usable`,
      );
    if (t.serving !== use[p.index]?.serving)
      bad(
        'counts',
        p.name,
        `serving ${num(t.serving)} nodes but admitted orders take ${num(use[p.index]?.serving ?? 0)}`,
      );
  }
}

function checkLimits(view: PlanView, loads: number[], add: Sink): void {
  for (const c of view.caps) {
    const load = loads[c.index] as number;
    if (load <= c.capKw + slack(c.capKw)) continue;
    const kind = c.kind === 'node' ? 'power-tree' : c.kind === 'zone' ? 'cooling' : c.kind;
    const f = c.kind === 'site' || c.kind === 'ramp' ? view.pue : 1;
    add(kind, c.name, `${c.text}: plan carries ${kw(load * f)} > ${kw(c.capKw * f)}`);
  }
}

function tightFor(view: PlanView, caps: readonly number[], unitKw: number, loads: number[]): boolean {
  return caps.some((i) => {
    const c = view.caps[i] as Cap;
    return c.capKw - (loads[i] as number) < unitKw + slack(c.capKw);
  });
}

/** kW to bring one more miner up to step s: lower steps too where no miner waits at them. */
function restoreKw(f: FleetVar, cum: number[], s: number): number {
  let kw = 0;
  for (let t = s; t >= 0; t--) {
    kw += f.stepKw[t] as number;
    const below = t === 0 ? f.controllable : (cum[t - 1] as number);
    if (below > (cum[t] as number)) break;
  }
  return kw;
}

function checkFleetRules(view: PlanView, f: FleetVar, cum: number[], loads: number[], add: Sink): void {
  const forced = f.forcedBy !== null;
  const moved = cum.some((c, s) => c !== f.ref[s]);
  const rose = cum.some((c, s) => c > (f.ref[s] as number));
  if (f.dwell && moved && (!forced || rose))
    add(
      'dwell',
      f.name,
      `changed within its ${num(view.policy.minDwellSeconds)} s dwell${forced ? ' (only shedding is forced)' : ''}`,
    );
  if (f.pin) {
    for (let s = 0; s < f.K; s++) {
      const toward =
        s < f.pin.state
          ? (cum[s] as number) >= (f.ref[s] as number) || forced
          : (cum[s] as number) <= (f.ref[s] as number);
      if (!toward) add('override', f.name, `moves away from its pin ${f.states[f.pin.state]}`);
    }
    return;
  }
  const delta = (cum[0] ?? 0) - (f.ref[0] ?? 0);
  if (Math.abs(delta) > f.budget && !(forced && delta < 0))
    add('cycles', f.name, `${num(Math.abs(delta))} sleep/wake transitions; ${num(f.budget)} left today`);
  if (!f.convex) return;
  const e = view.energyUsdPerMwh;
  const band = view.policy.hysteresisUsdPerMwh;
  for (let s = 0; s < f.K; s++) {
    const c = cum[s] as number;
    const ref = f.ref[s] as number;
    const be = f.stepBreakeven[s] as number;
    const step = `${f.states[s]}→${f.states[s + 1]}`;
    if (c > ref && !(e < be - band))
      add(
        'hysteresis',
        f.name,
        `${step} up ${num(c - ref)} while energy ${usdPerMwh(e)} ≥ breakeven ${usdPerMwh(be)} − ${usdPerMwh(band)}`,
      );
    if (c < ref && !(e > be + band) && !forced && !tightFor(view, f.caps, restoreKw(f, cum, s), loads))
      add(
        'hysteresis',
        f.name,
        `${step} down ${num(ref - c)} while energy ${usdPerMwh(e)} ≤ breakeven ${usdPerMwh(be)} + ${usdPerMwh(band)} and no limit is full`,
      );
  }
}

function checkPools(view: PlanView, d: Decision, loads: number[], add: Sink): void {
  const use = poolUse(view, d);
  const e = view.energyUsdPerMwh;
  const band = view.policy.hysteresisUsdPerMwh;
  for (const p of view.pools) {
    const h = d.hashing[p.index] as number;
    const u = use[p.index] ?? { serving: 0, newServing: 0 };
    if (h > p.hiH)
      add(
        p.dwell ? 'dwell' : p.pin ? 'override' : 'counts',
        p.name,
        `${num(h)} nodes hashing; at most ${num(p.hiH)} allowed`,
      );
    if (h + u.newServing < p.lowH)
      add('dwell', p.name, `hashing stopped within its dwell without serving a new order`);
    if (p.pin?.mode === 'idle' && u.serving > 0) add('override', p.name, 'pinned idle but serves orders');
    const be = p.hashBreakeven ?? 0;
    if (p.pin || !p.hashEnabled) continue;
    if (h > p.refHashing && !(e < be - band))
      add(
        'hysteresis',
        p.name,
        `GPU hashing started while energy ${usdPerMwh(e)} ≥ breakeven ${usdPerMwh(be)} − ${usdPerMwh(band)}`,
      );
    const drop = p.refHashing - h;
    const explained =
      e > be + band ||
      p.forcedBy !== null ||
      u.newServing >= drop ||
      h + u.serving >= p.controllable ||
      tightFor(view, p.caps, p.hashStepKw, loads);
    if (drop > 0 && !explained)
      add(
        'hysteresis',
        p.name,
        `GPU hashing stopped on ${num(drop)} nodes while energy ${usdPerMwh(e)} ≤ breakeven ${usdPerMwh(be)} + ${usdPerMwh(band)}`,
      );
  }
}

function checkOrders(view: PlanView, d: Decision, plan: Plan, add: Sink): void {
  for (const o of view.orders) {
    const p = d.orderPool[o.index] ?? -1;
    if (o.hard && p !== o.options[0]?.pool)
      add(
        'order',
        o.order.id,
        `${o.order.tier} order taken back from ${(view.pools[o.wasIn] as PoolVar | undefined)?.name ?? 'its pool'} without a hard limit forcing it`,
      );
    if (o.order.tier === 'reserved' && p < 0 && !plan.warnings.some((w) => w.includes(o.order.id)))
      add('reserved', o.order.id, 'reserved order does not run and no warning says why');
  }
}

// checkSequence: replays a sequence on the observed state, step by step. After every step the
// worst-case draw of the fleet or pool it touched is recomputed from the state the step leaves
// (settled devices at their slot's draw, in-flight ones at max(old, new), the rest at nameplate)
// and every limit it counts against is checked. Each step's devices stay in flight until a
// confirm step names their fleet or pool. It checks every limit at every step, the phase order, the ramp budget of every
// add phase, the step ids and that the steps plus the deferrals reach the sequence's targets.
// The sequencer runs it on its own output before returning; the controller may run it again.
import { buildUnits, isPoolMode, tolerance, unitsToState, worstCaseLoads, type Unit } from './model.ts';
import { sequencerSetup } from './setup.ts';
import { kw } from '../planner/format.ts';
import {
  ASLEEP,
  type DeviceStep,
  type FarmState,
  type FleetTransition,
  type PoolTransition,
  type Sequence,
  type SequenceInput,
  type SequencerLimits,
  type SequenceViolation,
  type WorstCaseLoads,
} from './types.ts';

type Sink = (kind: SequenceViolation['kind'], target: string, message: string) => void;

interface LimitRow {
  key: string;
  text: string;
  capKw: number;
  load: (l: WorstCaseLoads) => number;
  /** Units (by key) that count against it. */
  members: Set<string>;
}

function limitRows(limits: SequencerLimits, units: readonly Unit[]): LimitRow[] {
  const rows: LimitRow[] = [];
  for (const [name, l] of Object.entries(limits.nodes))
    rows.push({
      key: `node/${name}`,
      text: l.text,
      capKw: l.capKw,
      load: (x) => x.nodes[name] ?? 0,
      members: new Set(),
    });
  for (const [name, l] of Object.entries(limits.zones))
    rows.push({
      key: `zone/${name}`,
      text: l.text,
      capKw: l.capKw,
      load: (x) => x.zones[name] ?? 0,
      members: new Set(),
    });
  rows.push({
    key: 'site',
    text: limits.site.text,
    capKw: limits.site.capKw,
    load: (x) => x.siteKw,
    members: new Set(),
  });
  const byKey = new Map(rows.map((r) => [r.key, r]));
  for (const u of units) {
    const keys = [...u.path.map((n) => `node/${n}`), ...(u.zoneKnown ? [`zone/${u.zone}`] : []), 'site'];
    for (const k of keys) byKey.get(k)?.members.add(u.key);
  }
  return rows;
}

const stepTarget = (s: DeviceStep): string => (s.kind === 'gpu-mode' ? `pool/${s.pool}` : `fleet/${s.fleet}`);

interface Slots {
  get(slot: string): number;
  set(slot: string, n: number): void;
  flights: Array<FleetTransition | PoolTransition>;
}

function slotsOf(state: FarmState, u: Unit): Slots {
  if (u.kind === 'fleet') {
    const st = state.fleets[u.name];
    if (!st) throw new Error(`fleet ${u.name} missing`);
    return {
      get: (s) => (s === ASLEEP ? st.asleep : (st.byProfile[s] ?? 0)),
      set: (s, n) => {
        if (s === ASLEEP) st.asleep = n;
        else st.byProfile[s] = n;
      },
      flights: st.inFlight,
    };
  }
  const st = state.pools[u.name];
  if (!st) throw new Error(`pool ${u.name} missing`);
  return {
    get: (s) => (isPoolMode(s) ? st[s] : 0),
    set: (s, n) => {
      if (isPoolMode(s)) st[s] = n;
    },
    flights: st.inFlight,
  };
}

/** Moves `count` devices from `from` to `to`: settled ones first, then those already headed to `from`. */
function moveDevices(
  state: FarmState,
  u: Unit,
  from: string,
  to: string,
  count: number,
  now: number,
): string | null {
  const fi = u.slots.indexOf(from);
  const ti = u.slots.indexOf(to);
  if (fi < 0 || ti < 0 || fi === ti) return `${u.key}: invalid move ${from} → ${to}`;
  if (!Number.isInteger(count) || count <= 0) return `${u.key}: invalid count ${count}`;
  const draw = (s: string) => u.drawKw[u.slots.indexOf(s)] as number;
  const sl = slotsOf(state, u);
  let left = count;
  const settled = Math.min(sl.get(from), left);
  if (settled > 0) {
    sl.set(from, sl.get(from) - settled);
    sl.flights.push({ from, to, count: settled, since: now } as FleetTransition & PoolTransition);
    left -= settled;
  }
  for (const t of [...sl.flights]) {
    if (left <= 0) break;
    if (t.to !== from || t.count <= 0) continue;
    const k = Math.min(t.count, left);
    t.count -= k;
    left -= k;
    const origin = draw(t.from) > draw(from) ? t.from : from;
    sl.flights.push({ from: origin, to, count: k, since: now } as FleetTransition & PoolTransition);
  }
  const keep = sl.flights.filter((t) => t.count > 0);
  sl.flights.length = 0;
  sl.flights.push(...keep);
  return left > 0 ? `${u.key}: ${left} of ${count} devices are not at ${from}` : null;
}

/** Telemetry confirmed: every transition of the unit that lowers its draw has settled. */
function settleSheds(state: FarmState, u: Unit): void {
  const draw = (s: string) => u.drawKw[u.slots.indexOf(s)] as number;
  const sl = slotsOf(state, u);
  const keep = [];
  for (const t of sl.flights) {
    if (draw(t.to) < draw(t.from)) sl.set(t.to, sl.get(t.to) + t.count);
    else keep.push(t);
  }
  sl.flights.length = 0;
  sl.flights.push(...keep);
}

/** A unit's worst-case draw read from its state: settled at the slot's draw, in flight at max(old, new), the rest at nameplate. */
function unitLoad(u: Unit, state: FarmState): number {
  const sl = slotsOf(state, u);
  const draw = (s: string) => u.drawKw[u.slots.indexOf(s)] ?? u.uncKw;
  let total = 0;
  for (const s of u.slots) total += sl.get(s) * draw(s);
  for (const t of sl.flights) total += t.count * Math.max(draw(t.from), draw(t.to));
  if (u.kind === 'fleet') {
    const st = state.fleets[u.name];
    total += ((st?.stale ?? 0) + (st?.offline ?? 0) + (st?.fault ?? 0)) * u.uncKw;
  } else total += (state.pools[u.name]?.unavailable ?? 0) * u.uncKw;
  return total;
}

function slotTotals(state: FarmState, u: Unit): number[] {
  const sl = slotsOf(state, u);
  const c = u.slots.map((s) => sl.get(s));
  for (const t of sl.flights) {
    const i = u.slots.indexOf(t.to);
    if (i >= 0) c[i] = (c[i] as number) + t.count;
  }
  return c;
}

export function checkSequence(input: SequenceInput, seq: Sequence): SequenceViolation[] {
  const out: SequenceViolation[] = [];
  const add: Sink = (kind, target, message) => out.push({ kind, target, message });
  let setup;
  try {
    setup = sequencerSetup(input);
  } catch (e) {
    add('counts', 'input', (e as Error).message);
    return out;
  }
  const { ctx, limits } = setup;
  const units = buildUnits(input.farm, ctx, input.observed, input.inFlight, undefined, () => undefined);
  const byKey = new Map(units.map((u) => [u.key, u]));
  const state = unitsToState(units);
  const rows = limitRows(limits, units);
  const rowsOf = new Map<string, LimitRow[]>(units.map((u) => [u.key, []]));
  for (const r of rows) for (const k of r.members) rowsOf.get(k)?.push(r);
  // Loads from scratch once; then per step the touched unit's draw, recomputed from its state.
  const loads = worstCaseLoads(input.farm, input.site, state);
  const unitKw = new Map(units.map((u) => [u.key, unitLoad(u, state)]));
  const overloaded = new Set(
    rows.filter((r) => r.load(loads) > r.capKw + tolerance(r.capKw)).map((r) => r.key),
  );
  const under = (key: string) => rows.filter((r) => overloaded.has(r.key) && r.members.has(key));
  /** Re-reads one unit from the state, moves its limits and checks them. */
  const touch = (u: Unit, at: string) => {
    const before = (rowsOf.get(u.key) ?? []).map((r) => r.load(loads));
    const kwNow = unitLoad(u, state);
    const d = kwNow - (unitKw.get(u.key) ?? 0);
    unitKw.set(u.key, kwNow);
    for (const n of u.path) loads.nodes[n] = (loads.nodes[n] ?? 0) + d;
    if (u.zoneKnown) loads.zones[u.zone] = (loads.zones[u.zone] ?? 0) + d;
    loads.siteKw += d;
    (rowsOf.get(u.key) ?? []).forEach((r, i) => {
      const now = r.load(loads);
      if (overloaded.has(r.key)) {
        if (now > (before[i] as number) + tolerance(r.capKw))
          add('overload', r.key, `${at}: raises ${r.text}, over its cap since the start, to ${kw(now)}`);
      } else if (now > r.capKw + tolerance(r.capKw)) {
        add('limit', r.key, `${at}: ${r.text} carries ${kw(now)} worst case`);
      }
    });
  };

  const ids = new Set<string>();
  let sawAdd = false;
  let sawConfirm = false;
  const hasSheds = seq.phases.some((p) => p.kind === 'shed' && p.steps.length > 0);
  seq.phases.forEach((phase, pi) => {
    if (phase.kind !== 'add' && sawAdd)
      add('order', `phase ${pi}`, `a ${phase.kind} phase follows an add phase`);
    if (phase.kind === 'add') {
      if (hasSheds && !sawConfirm) add('order', `phase ${pi}`, 'adds before the sheds are confirmed');
      sawAdd = true;
    }
    const phaseStart = loads.siteKw;
    phase.steps.forEach((step, si) => {
      const target = step.kind === 'confirm' ? 'confirm' : stepTarget(step);
      const want = `${seq.planKey}:${pi}:${si}:${target}`;
      if (step.id !== want) add('ids', step.id, `expected id ${want}`);
      if (ids.has(step.id)) add('ids', step.id, 'id used twice');
      ids.add(step.id);
      if (step.kind === 'confirm') {
        if (phase.kind !== 'confirm') add('order', step.id, `confirm step in a ${phase.kind} phase`);
        sawConfirm = true;
        const named = new Set(step.transitions.map((t) => `${t.kind}/${t.name}`));
        for (const k of [...named].sort()) {
          const u = byKey.get(k);
          if (!u) continue;
          settleSheds(state, u);
          touch(u, step.id);
        }
        return;
      }
      if (phase.kind === 'confirm') add('order', step.id, 'device step in a confirm phase');
      const u = byKey.get(target);
      if (!u) {
        add('counts', step.id, `${target} is not a fleet or pool of the site`);
        return;
      }
      const [from, to] =
        step.kind === 'gpu-mode' ? [step.fromMode, step.toMode] : [step.fromProfile, step.toProfile];
      const lowers = (u.drawKw[u.slots.indexOf(to)] ?? 0) < (u.drawKw[u.slots.indexOf(from)] ?? 0);
      if (phase.kind === 'shed' && !lowers)
        add('order', step.id, `${from} → ${to} in the shed phase raises a draw`);
      if (phase.kind === 'add') {
        if (lowers) add('order', step.id, `${from} → ${to} in an add phase is a shed`);
        for (const r of under(u.key))
          add('overload', step.id, `adds under ${r.text}, which was over its cap at the start`);
      }
      const err = moveDevices(state, u, from, to, step.count, input.now);
      if (err) add('counts', step.id, err);
      touch(u, step.id);
    });
    if (phase.kind === 'add') {
      const rise = loads.siteKw - phaseStart;
      const budget = seq.addBudgetKw;
      if (rise > budget + tolerance(budget) || phase.increaseKw > budget + tolerance(budget))
        add('ramp', `phase ${pi}`, `adds ${kw(rise)} worst case; the ramp budget is ${kw(budget)}`);
    }
  });

  // The steps and the deferrals together reach the targets.
  const deferredBy = new Map<string, Sequence['deferred']>();
  for (const d of seq.deferred) {
    const k = `${d.kind}/${d.name}`;
    deferredBy.set(k, [...(deferredBy.get(k) ?? []), d]);
  }
  for (const u of units) {
    const c = slotTotals(state, u);
    for (const d of deferredBy.get(u.key) ?? []) {
      const fi = u.slots.indexOf(d.from);
      const ti = u.slots.indexOf(d.to);
      if (fi < 0 || ti < 0) {
        add('targets', u.key, `deferral ${d.from} → ${d.to} names an unknown slot`);
        continue;
      }
      c[fi] = (c[fi] as number) - d.count;
      c[ti] = (c[ti] as number) + d.count;
    }
    let want: number[];
    if (u.kind === 'fleet') {
      const t = seq.targets.fleets[u.name];
      want = u.slots.map((s, i) => (i === 0 ? (t?.asleep ?? NaN) : (t?.byProfile[s] ?? 0)));
    } else {
      const t = seq.targets.pools[u.name];
      want = [t?.idle ?? NaN, t?.serving ?? NaN, t?.hashing ?? NaN];
    }
    if (c.some((n, i) => n !== want[i]))
      add(
        'targets',
        u.key,
        `steps and deferrals reach [${c.join(', ')}], the target is [${want.join(', ')}]`,
      );
  }
  return out;
}

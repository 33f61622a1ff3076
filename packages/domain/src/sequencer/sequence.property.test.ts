// Properties of the sequencer over random farms (random trees, zones, fleets, pools, profiles),
// random observed states (stale, offline, faulted, unknown, in flight, metered) and random target
// plans (the greedy planner's, or arbitrary counts). Each sequence is replayed step by step with
// the devices of every step in flight (max of old and new draw) until the next confirm, and the
// worst-case loads recomputed from scratch after every step.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { planGreedy } from '../planner/plan.ts';
import { randomPlanInput, rng } from '../planner/testing/random-input.ts';
import type { FleetTarget, Plan, PoolTarget } from '../planner/types.ts';
import { fleetProfiles } from '../farm/farm-validation.ts';
import { sequencePlan } from './sequence.ts';
import { checkSequence } from './check.ts';
import { sitePolicy } from './model.ts';
import { freezeDrawFactors, limitPath, sequencerLimits, worstCaseLoads } from './index.ts';
import { stepJobId } from './ids.ts';
import { limitList, replay, slotDraws } from './testing.ts';
import { farmStateFromInput } from './testing.ts';
import {
  ASLEEP,
  POOL_MODES,
  type FarmState,
  type FleetTransition,
  type PoolTransition,
  type Preemption,
  type Sequence,
  type SequenceInput,
} from './types.ts';

const seeds = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const RUNS = Number(process.env.SEQUENCER_PROPERTY_RUNS ?? 120);
const TOL = 1e-6;

class Rand {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed ^ 0x5eed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  real(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
}

/** Splits n into k random parts. */
function split(r: Rand, n: number, k: number): number[] {
  const out = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) out[r.int(0, k - 1)]! += 1;
  return out;
}

/** Moves some settled devices into flight (towards their slot, from another). */
function addFlights(r: Rand, state: FarmState, input: ReturnType<typeof randomPlanInput>): void {
  const now = input.now;
  for (const f of input.farm.fleets) {
    const st = state.fleets[f.metadata.name];
    if (!st || !r.chance(0.4)) continue;
    const slots = [ASLEEP, ...fleetProfiles(f).map((p) => p.name)];
    for (let i = r.int(1, 2); i > 0; i--) {
      const to = r.pick(slots);
      const from = r.pick(slots.filter((s) => s !== to));
      const have = to === ASLEEP ? st.asleep : (st.byProfile[to] ?? 0);
      const k = r.int(0, have);
      if (k === 0) continue;
      if (to === ASLEEP) st.asleep -= k;
      else st.byProfile[to] = have - k;
      st.inFlight.push({ from, to, count: k, since: now - r.int(0, 600) * 1000 } as FleetTransition);
    }
  }
  for (const p of input.farm.pools) {
    const st = state.pools[p.metadata.name];
    if (!st || !r.chance(0.4)) continue;
    const to = r.pick(POOL_MODES);
    const from = r.pick(POOL_MODES.filter((m) => m !== to));
    const k = r.int(0, st[to]);
    if (k === 0) continue;
    st[to] -= k;
    st.inFlight.push({ from, to, count: k, since: now - r.int(0, 600) * 1000 } as PoolTransition);
  }
}

/** Arbitrary targets over each fleet's and pool's controllable devices (sometimes a few off). */
function randomTargets(
  r: Rand,
  plan: Plan,
  state: FarmState,
  input: ReturnType<typeof randomPlanInput>,
): Plan {
  const fleets = { ...plan.fleets };
  for (const f of input.farm.fleets) {
    const st = state.fleets[f.metadata.name];
    const fp = fleets[f.metadata.name];
    if (!st || !fp || !r.chance(0.6)) continue;
    const n =
      st.asleep +
      Object.values(st.byProfile).reduce((a, b) => a + b, 0) +
      st.inFlight.reduce((a, t) => a + t.count, 0) +
      (r.chance(0.15) ? r.int(-2, 2) : 0);
    const names = fleetProfiles(f).map((p) => p.name);
    const parts = split(r, Math.max(0, n), names.length + 1);
    const target: FleetTarget = { asleep: parts[0] as number, byProfile: {} };
    names.forEach((p, i) => (target.byProfile[p] = parts[i + 1] as number));
    fleets[f.metadata.name] = { ...fp, target };
  }
  const pools = { ...plan.pools };
  for (const p of input.farm.pools) {
    const st = state.pools[p.metadata.name];
    const pp = pools[p.metadata.name];
    if (!st || !pp || !r.chance(0.6)) continue;
    const n = st.idle + st.serving + st.hashing + st.inFlight.reduce((a, t) => a + t.count, 0);
    const [idle, serving, hashing] = split(r, n, 3) as [number, number, number];
    pools[p.metadata.name] = { ...pp, target: { idle, serving, hashing } as PoolTarget };
  }
  return { ...plan, fleets, pools };
}

/**
 * Re-rates the power tree and cooling zones around today's worst-case load (0.8–1.5×): some
 * limits start over their cap, others leave little room, so the plan's adds press on them.
 */
function tighten(r: Rand, input: SequenceInput): SequenceInput {
  const farm = structuredClone(input.farm);
  const site = farm.sites.find((s) => s.metadata.name === input.site);
  if (!site) return input;
  const loads = worstCaseLoads(input.farm, input.site, input.observed);
  const margin = (input.policy?.safetyMarginPct ?? 0) / 100;
  const rate = (load: number) =>
    Math.max(0.5, Math.round((load * r.real(0.8, 1.5) * 10) / (1 - margin)) / 10);
  const visit = (n: { name: string; limitKw: number; children?: Array<typeof n> | undefined }) => {
    if (r.chance(0.7)) n.limitKw = rate(loads.nodes[n.name] ?? 0);
    for (const c of n.children ?? []) visit(c);
  };
  visit(site.spec.powerTree);
  for (const z of site.spec.coolingZones)
    if (r.chance(0.5)) z.capacityKw = rate(loads.zones[z.name] ?? 0) * (1 - margin);
  return { ...input, farm };
}

interface Case {
  input: SequenceInput;
  replayStart: FarmState;
}

function randomCase(seed: number): Case {
  const r = new Rand(seed);
  const pin = randomPlanInput(seed);
  let plan = planGreedy(pin);
  const observed = farmStateFromInput(pin);
  addFlights(r, observed, pin);
  if (r.chance(0.5)) plan = randomTargets(r, plan, observed, pin);
  const preemptions: Preemption[] = [];
  for (const rej of plan.rejected) {
    const o = pin.orders.find((x) => x.id === rej.orderId);
    const pool = pin.farm.pools.find((p) => p.metadata.name === o?.pool);
    if (rej.preempted && o && pool)
      preemptions.push({
        orderId: o.id,
        pool: pool.metadata.name,
        nodes: Math.ceil(o.gpuCount / pool.spec.gpusPerNode),
        noticeSeconds: rej.noticeSeconds,
      });
  }
  const policy = {
    ...sitePolicy(pin.farm, pin.site),
    safetyMarginPct: r.pick([0, 5, 10]),
    rampKwPerMin: r.pick([5, 50, 500, 5000]),
    intervalSeconds: r.pick([120, 300]),
  };
  const input: SequenceInput = {
    farm: pin.farm,
    site: pin.site,
    plan,
    planId: `seed-${seed}`,
    observed,
    policy,
    now: pin.now,
    confirmTimeoutMs: 90_000,
    stepMs: r.pick([15_000, 60_000, 120_000]),
    ambientC: pin.signals.ambientC?.[pin.site]?.value ?? null,
    siteCapKw: r.chance(0.8) ? plan.loads.site.capKw : r.int(100, 20_000),
    preemptions,
  };
  const tight = r.chance(0.6) ? tighten(r, input) : input;
  return { input: tight, replayStart: freezeDrawFactors(tight.farm, tight.site, observed) };
}

function counts(state: FarmState, kind: 'fleet' | 'pool', name: string, slots: string[]): number[] {
  if (kind === 'pool') {
    const st = state.pools[name];
    const c = slots.map((s) => (st ? st[s as 'idle'] : 0));
    for (const t of st?.inFlight ?? []) c[slots.indexOf(t.to)]! += t.count;
    return c;
  }
  const st = state.fleets[name];
  const c = slots.map((s) => (s === ASLEEP ? (st?.asleep ?? 0) : (st?.byProfile[s] ?? 0)));
  for (const t of st?.inFlight ?? []) c[slots.indexOf(t.to)]! += t.count;
  return c;
}

function check(c: Case, seq: Sequence): void {
  const { input } = c;
  const { farm, site } = input;
  const limits = sequencerLimits(farm, site, {
    policy: input.policy,
    ambientC: input.ambientC,
    siteCapKw: input.siteCapKw,
  });
  const rows = limitList(limits);
  const startLoads = worstCaseLoads(farm, site, c.replayStart);
  const over = new Set(
    rows.filter((l) => l.load(startLoads) > l.capKw + TOL * Math.max(1, l.capKw)).map((l) => l.key),
  );
  expect([...over].sort()).toEqual(
    seq.overloaded.map((o) => (o.kind === 'site' ? 'site' : `${o.kind}/${o.name}`)).sort(),
  );
  const { events, state, errors } = replay(farm, site, c.replayStart, seq, input.now);
  expect(errors).toEqual([]);

  // 1. At every step every limit within its cap, or (already over at the start) never rising.
  let prev = startLoads;
  for (const e of events) {
    for (const l of rows) {
      const tol = TOL * Math.max(1, l.capKw);
      if (over.has(l.key)) expect(l.load(e.loads)).toBeLessThanOrEqual(l.load(prev) + tol);
      else expect(l.load(e.loads)).toBeLessThanOrEqual(l.capKw + tol);
    }
    // no add under a limit that was over at the start
    if (e.step && seq.phases[e.phase]?.kind === 'add') {
      const keys = [
        ...limitPath(limits, e.step.feed).map((n) => `node/${n}`),
        `zone/${e.step.coolingZone}`,
        'site',
      ];
      expect(keys.filter((k) => over.has(k))).toEqual([]);
    }
    prev = e.loads;
  }

  // 2. Sheds, then the confirm, then the adds.
  const kinds = seq.phases.map((p) => p.kind).join(' ');
  expect(kinds).toMatch(/^(shed ?)?(confirm ?)?(add ?)*$/);
  if (seq.phases.some((p) => p.kind === 'shed')) expect(kinds).toMatch(/^shed confirm/);
  for (const p of seq.phases)
    for (const s of p.steps) {
      if (s.kind === 'confirm') continue;
      if (p.kind === 'shed') expect(s.expectedDeltaKw).toBeLessThan(0);
      else expect(s.expectedDeltaKw).toBeGreaterThanOrEqual(0);
    }

  // 3. Every add phase within the ramp budget, as stated and as replayed.
  let siteBefore = startLoads.siteKw;
  const budgetTol = TOL * Math.max(1, seq.addBudgetKw);
  seq.phases.forEach((p, pi) => {
    const after = [...events].reverse().find((e) => e.phase === pi)?.loads.siteKw ?? siteBefore;
    if (p.kind === 'add') {
      expect(p.steps.reduce((a, s) => a + s.worstCaseDeltaKw, 0)).toBeLessThanOrEqual(
        seq.addBudgetKw + budgetTol,
      );
      expect(after - siteBefore).toBeLessThanOrEqual(seq.addBudgetKw + budgetTol);
    }
    siteBefore = after;
  });

  // 4. The steps and the deferrals reach the targets; the targets are the plan's where the
  // plan counts as many devices as are controllable.
  for (const f of farm.fleets.filter((x) => x.spec.site === site)) {
    const name = f.metadata.name;
    const slots = Object.keys(slotDraws(farm, 'fleet', name)).sort((a, b) =>
      a === ASLEEP
        ? -1
        : b === ASLEEP
          ? 1
          : (slotDraws(farm, 'fleet', name)[a] as number) - (slotDraws(farm, 'fleet', name)[b] as number),
    );
    const got = counts(state, 'fleet', name, slots);
    for (const d of seq.deferred.filter((x) => x.kind === 'fleet' && x.name === name)) {
      got[slots.indexOf(d.from)]! -= d.count;
      got[slots.indexOf(d.to)]! += d.count;
    }
    const t = seq.targets.fleets[name];
    expect(got).toEqual(slots.map((s) => (s === ASLEEP ? t?.asleep : (t?.byProfile[s] ?? 0))));
    const planned = input.plan.fleets[name]?.target;
    if (planned) {
      const want = slots.map((s) => (s === ASLEEP ? planned.asleep : (planned.byProfile[s] ?? 0)));
      const start = counts(c.replayStart, 'fleet', name, slots);
      if (want.reduce((a, b) => a + b, 0) === start.reduce((a, b) => a + b, 0))
        expect(slots.map((s) => (s === ASLEEP ? t?.asleep : (t?.byProfile[s] ?? 0)))).toEqual(want);
    }
  }
  for (const p of farm.pools.filter((x) => x.spec.site === site)) {
    const name = p.metadata.name;
    const slots = [...POOL_MODES] as string[];
    const got = counts(state, 'pool', name, slots);
    for (const d of seq.deferred.filter((x) => x.kind === 'pool' && x.name === name)) {
      got[slots.indexOf(d.from)]! -= d.count;
      got[slots.indexOf(d.to)]! += d.count;
    }
    const t = seq.targets.pools[name];
    expect(got).toEqual([t?.idle, t?.serving, t?.hashing]);
    const planned = input.plan.pools[name]?.target;
    const start = counts(c.replayStart, 'pool', name, slots);
    if (planned && planned.idle + planned.serving + planned.hashing === start.reduce((a, b) => a + b, 0))
      expect(t).toEqual({ idle: planned.idle, serving: planned.serving, hashing: planned.hashing });
  }
  for (const d of seq.deferred) {
    expect(['ramp', 'limit', 'overload']).toContain(d.reason);
    expect(d.count).toBeGreaterThan(0);
    expect(d.message).toContain(' wait: ');
  }

  // 5. Step ids: the scheme, unique, and a BullMQ-safe job id.
  const ids = seq.phases.flatMap((p, pi) =>
    p.steps.map((s, si) => {
      const target =
        s.kind === 'confirm' ? 'confirm' : s.kind === 'gpu-mode' ? `pool/${s.pool}` : `fleet/${s.fleet}`;
      expect(s.id).toBe(`${seq.planKey}:${pi}:${si}:${target}`);
      expect(stepJobId(s.id)).not.toContain(':');
      return s.id;
    }),
  );
  expect(new Set(ids).size).toBe(ids.length);

  // 6. Its own checker agrees, and nothing needed the fallback.
  expect(checkSequence(input, seq)).toEqual([]);
  expect(seq.warnings.filter((w) => w.startsWith('internal'))).toEqual([]);
}

describe('sequencer properties', () => {
  it('safe at every step, sheds before adds, ramp-bounded adds, reaches the targets or says why', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const c = randomCase(seed);
        check(c, sequencePlan(c.input));
      }),
      { numRuns: RUNS },
    );
  });

  it('the same input gives the same sequence, whatever the order of its records', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const c = randomCase(seed);
        const a = sequencePlan(c.input);
        expect(sequencePlan(structuredClone(c.input))).toEqual(a);
        const rev = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).reverse());
        const shuffled: SequenceInput = {
          ...c.input,
          farm: {
            ...c.input.farm,
            fleets: [...c.input.farm.fleets].reverse(),
            pools: [...c.input.farm.pools].reverse(),
          },
          observed: {
            fleets: rev(
              Object.fromEntries(
                Object.entries(c.input.observed.fleets).map(([k, v]) => [
                  k,
                  { ...v, inFlight: [...v.inFlight].reverse() },
                ]),
              ),
            ),
            pools: rev(c.input.observed.pools),
          },
          plan: { ...c.input.plan, fleets: rev(c.input.plan.fleets), pools: rev(c.input.plan.pools) },
          preemptions: [...(c.input.preemptions ?? [])].reverse(),
        };
        expect(sequencePlan(shuffled)).toEqual(a);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('outstanding commands never lower the accounted load, whichever state the devices report', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const r = new Rand(seed);
        const pin = randomPlanInput(seed);
        const truth = freezeDrawFactors(pin.farm, pin.site, farmStateFromInput(pin));
        const commands: NonNullable<SequenceInput['inFlight']> = { fleets: {}, pools: {} };
        for (const f of pin.farm.fleets) {
          const st = truth.fleets[f.metadata.name];
          if (!st) continue;
          const slots = [ASLEEP, ...fleetProfiles(f).map((p) => p.name)];
          const from = r.pick(slots);
          const to = r.pick(slots.filter((s) => s !== from));
          // the truth: k devices were told to move; they report either slot
          const at = r.chance(0.5) ? from : to;
          const have = at === ASLEEP ? st.asleep : (st.byProfile[at] ?? 0);
          const k = r.int(0, have);
          if (k === 0) continue;
          if (at === ASLEEP) st.asleep -= k;
          else st.byProfile[at] = have - k;
          st.inFlight.push({ from, to, count: k, since: pin.now });
          // what the controller passes: telemetry (devices back in the slot they report) + its log
          commands.fleets![f.metadata.name] = [{ from, to, count: k, since: pin.now }];
        }
        const reported = structuredClone(truth);
        for (const [name, st] of Object.entries(reported.fleets)) {
          for (const t of st.inFlight) {
            const back = commands.fleets![name]?.some((x) => x.from === t.from && x.to === t.to) ? t : null;
            if (!back) continue;
            // it reports one of the two slots; put it back there
            const slot = r.chance(0.5) ? t.from : t.to;
            if (slot === ASLEEP) st.asleep += t.count;
            else st.byProfile[slot] = (st.byProfile[slot] ?? 0) + t.count;
          }
          st.inFlight = st.inFlight.filter(
            (t) => !commands.fleets![name]?.some((x) => x.from === t.from && x.to === t.to),
          );
        }
        const real = worstCaseLoads(pin.farm, pin.site, truth);
        const merged = worstCaseLoads(pin.farm, pin.site, reported, commands);
        for (const [n, kwReal] of Object.entries(real.nodes))
          expect(merged.nodes[n] as number).toBeGreaterThanOrEqual(kwReal - TOL * Math.max(1, kwReal));
        expect(merged.siteKw).toBeGreaterThanOrEqual(real.siteKw - TOL * Math.max(1, real.siteKw));
      }),
      { numRuns: RUNS },
    );
  });
});

// plan(): the MILP path and its fallbacks (with stand-in solvers; the HiGHS adapter has its own
// integration tests), the model's consistency with the greedy decision, checkPlan on tampered
// plans, and determinism.
import { describe, expect, it } from '@jest/globals';
import { checkPlan } from './check.ts';
import { plan, planGreedy } from './plan.ts';
import { buildView, PlannerInputError } from './view.ts';
import { greedyDecision } from './greedy.ts';
import { buildMilp } from './milp.ts';
import { scoreDecision } from './decision.ts';
import { farmBuilder, planInput } from './testing/farm-builder.ts';
import { greedyOk, stable } from './testing/assertions.ts';
import { evaluateModel } from './testing/model-eval.ts';
import type { MipModel, MipSolution, MipSolver, Plan, PlanInput } from './types.ts';

const farm = () =>
  farmBuilder()
    .site({ interconnectKw: 400, pue: 1.1 })
    .node('pdu-1', { limitKw: 150 })
    .node('pdu-2', { limitKw: 150 })
    .fleet('old', { model: 'S19j Pro', count: 40, feed: 'pdu-1' })
    .fleet('new', { model: 'S21', count: 40, feed: 'pdu-2' })
    .pool('h100', { nodes: 4, feed: 'pdu-2', hashingPayout: 0.2 })
    .build();
const input = (): PlanInput =>
  planInput(farm())
    .energy(45)
    .order({ id: 'a', gpuCount: 8, priceUsdPerGpuHour: 2.2 })
    .order({ id: 'b', gpuCount: 16, priceUsdPerGpuHour: 3.1 })
    .order({ id: 'r', tier: 'reserved', gpuCount: 4, priceUsdPerGpuHour: 1.9 })
    .build();

const solver = (f: (m: MipModel) => MipSolution | Promise<MipSolution>): MipSolver => ({
  solve: async (m) => f(m),
});
const sol = (o: Partial<MipSolution>): MipSolution => ({
  status: 'optimal',
  objective: 0,
  values: [],
  mipGap: 0,
  solveMs: 1,
  ...o,
});

describe('plan() and its fallbacks', () => {
  it('returns the greedy plan, saying so, without a solver', async () => {
    const p = await plan(input());
    expect(p.solver).toBe('greedy');
    expect(p.fallbackReason).toBe('no MILP solver configured');
    expect(stable(p)).toEqual({
      ...stable(planGreedy(input())),
      fallbackReason: 'no MILP solver configured',
    });
  });

  it.each([
    ['throws', solver(() => Promise.reject(new Error('wasm abort'))), 'MILP solver failed: wasm abort'],
    [
      'times out',
      solver(() => sol({ status: 'time-limit', values: null, mipGap: 0.031 })),
      'MILP hit its 50 ms time limit (gap 3.10%)',
    ],
    [
      'finds the model infeasible',
      solver(() => sol({ status: 'infeasible', values: null })),
      'MILP solver reported the model infeasible',
    ],
    ['returns nothing', solver(() => sol({ values: null })), 'MILP solver returned no values'],
    [
      'returns a solution over a limit',
      solver((m) => sol({ values: m.colUpper.map((u) => (Number.isFinite(u) ? u : 0)) })),
      /^MILP solution rejected: /,
    ],
  ])('falls back to greedy when the solver %s', async (_n, s, reason) => {
    const p = await plan(input(), s, { timeLimitMs: 50 });
    expect(p.solver).toBe('greedy');
    expect(p.fallbackReason).toEqual(typeof reason === 'string' ? reason : expect.stringMatching(reason));
    expect(checkPlan(input(), p)).toEqual([]);
  });

  it('uses the MILP result when it is feasible and at least as good', async () => {
    // A stand-in that returns the start (the greedy decision) as optimal.
    const p = await plan(
      input(),
      solver((m) => sol({ values: m.start ?? null })),
    );
    expect(p.solver).toBe('milp');
    expect(p.fallbackReason).toBeUndefined();
    expect(p.objective.score).toBeCloseTo(planGreedy(input()).objective.score, 9);
    expect(checkPlan(input(), p)).toEqual([]);
  });

  it('seeds the MILP with the greedy decision: feasible, and the objective equals its score', () => {
    const view = buildView(input());
    const g = greedyDecision(view);
    const { model } = buildMilp(view, g);
    const r = evaluateModel(model, model.start ?? []);
    expect(r.broken).toEqual([]);
    expect(r.objective).toBeCloseTo(scoreDecision(view, g).score, 6);
  });

  it('refuses an unknown site', () => {
    expect(() => planGreedy({ ...input(), site: 'nowhere' })).toThrow(PlannerInputError);
  });
});

describe('checkPlan', () => {
  const base = () => greedyOk(planInput(farm()).energy(45).order({ id: 'a', gpuCount: 8 }).build());
  const tamper = (f: (p: Plan) => void): Plan => {
    const p = structuredClone(base());
    f(p);
    return p;
  };
  const i = () => planInput(farm()).energy(45).order({ id: 'a', gpuCount: 8 }).build();

  it.each([
    [
      'more miners than exist',
      (p: Plan) => ((p.fleets.new as NonNullable<Plan['fleets'][string]>).target.asleep += 1),
      'counts',
    ],
    [
      'a PDU over its limit',
      (p: Plan) => {
        const t = (p.fleets.new as NonNullable<Plan['fleets'][string]>).target;
        t.byProfile = { eco: 0, normal: 0, turbo: 40 };
        t.asleep = 0;
      },
      'power-tree',
    ],
    [
      'an order in a pool that does not fit it',
      (p: Plan) => ((p.admitted[0] as Plan['admitted'][number]).nodes = 3),
      'order',
    ],
    ['an order neither admitted nor rejected', (p: Plan) => p.admitted.splice(0, 1), 'order'],
  ])('catches %s', (_n, f, kind) => {
    const v = checkPlan(i(), tamper(f));
    expect(v.map((x) => x.kind)).toContain(kind);
  });

  it('catches a change inside the dwell and a sleep the prices do not explain', () => {
    const b = planInput(farm()).energy(30);
    const first = greedyOk(b.build());
    const again = b
      .at(b.now + 60_000)
      .previous(first.memory)
      .build();
    const p = structuredClone(planGreedy(again));
    const t = (p.fleets.new as NonNullable<Plan['fleets'][string]>).target;
    const awake = Object.keys(t.byProfile).find((k) => (t.byProfile[k] ?? 0) > 0) as string;
    t.byProfile[awake] = (t.byProfile[awake] ?? 0) - 1;
    t.asleep += 1;
    const kinds = checkPlan(again, p).map((x) => x.kind);
    expect(kinds).toContain('dwell');
    expect(kinds).toContain('hysteresis');
  });

  it('catches a reserved order left out without a warning', () => {
    const inp = planInput(farm()).energy(45).order({ id: 'r', tier: 'reserved', gpuCount: 64 }).build();
    const p = structuredClone(greedyOk(inp));
    p.warnings = [];
    expect(checkPlan(inp, p).map((x) => x.kind)).toEqual(['reserved']);
  });
});

describe('determinism', () => {
  it('gives the same plan for the same input, in any order', () => {
    const a = input();
    const shuffled: PlanInput = {
      ...a,
      farm: { ...a.farm, fleets: [...a.farm.fleets].reverse(), pools: [...a.farm.pools].reverse() },
      orders: [...a.orders].reverse(),
    };
    expect(stable(planGreedy(shuffled))).toEqual(stable(planGreedy(a)));
  });
});

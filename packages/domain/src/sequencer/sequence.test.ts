// Readable scenarios for the sequencer: which steps, in which order, and why. Every sequence is
// also replayed step by step (devices in flight at max(old, new) until a confirm) against the
// limits, and checked with checkSequence.
import { describe, expect, it } from '@jest/globals';
import { farmBuilder, type FarmBuilder } from '../planner/testing/farm-builder.ts';
import type { Farm } from '../farm/farm-loader.ts';
import type { FleetTarget, Plan, PoolTarget } from '../planner/types.ts';
import { sequencePlan } from './sequence.ts';
import { checkSequence } from './check.ts';
import { sequencerSetup } from './setup.ts';
import { SequencerInputError } from './model.ts';
import { stepJobId } from './ids.ts';
import { fleetState, limitList, poolState, replay, testPlan } from './testing.ts';
import type {
  AddPhase,
  ConfirmStep,
  DeviceStep,
  FarmState,
  FleetState,
  FleetStep,
  PoolStep,
  Preemption,
  Sequence,
  SequenceInput,
  Step,
} from './types.ts';

const NOW = Date.UTC(2026, 6, 1, 12);
// Miners: asleep 0.05 kW, eco 2 kW (100 TH/s), normal 3 kW (140 TH/s), nameplate 3.3 kW.
const profiles = [
  { name: 'eco', powerW: 2000, hashrateThs: 100 },
  { name: 'normal', powerW: 3000, hashrateThs: 140 },
];
const miners = (count: number, feed: string, o: { model?: string; nameplateW?: number } = {}) => ({
  model: o.model ?? 'Custom A',
  count,
  feed,
  profiles,
  sleepW: 50,
  nameplateW: o.nameplateW ?? 3300,
});

/** Site at PUE 1 with no margin unless given; 2,000 kW/min ramp (no ramp limit in practice). */
function site(policy: Record<string, unknown> = {}): FarmBuilder {
  return farmBuilder()
    .site({ interconnectKw: 10_000, pue: 1 })
    .policy({ safetyMarginPct: 0, rampKwPerMin: 2000, intervalSeconds: 300, ...policy });
}

interface Scenario {
  farm: Farm;
  observed: FarmState;
  fleets?: Record<string, FleetTarget>;
  pools?: Record<string, PoolTarget>;
  admitted?: Plan['admitted'];
  preemptions?: Preemption[];
  extra?: Partial<SequenceInput>;
}

function inputOf(s: Scenario): SequenceInput {
  return {
    farm: s.farm,
    site: 'site-1',
    plan: testPlan(s.farm, { fleets: s.fleets, pools: s.pools, admitted: s.admitted }),
    planId: 'p1',
    observed: s.observed,
    now: NOW,
    confirmTimeoutMs: 60_000,
    preemptions: s.preemptions,
    ...s.extra,
  };
}

/** Sequences, then proves it: checkSequence is clean and an independent replay stays in the caps. */
function run(s: Scenario): Sequence {
  const input = inputOf(s);
  const seq = sequencePlan(input);
  expect(checkSequence(input, seq)).toEqual([]);
  expect(seq.warnings.filter((w) => w.startsWith('internal'))).toEqual([]);
  const limits = sequencerSetup(input).limits;
  const { events, errors } = replay(input.farm, input.site, input.observed, seq, NOW);
  expect(errors).toEqual([]);
  const over = new Set(seq.overloaded.map((o) => (o.kind === 'site' ? 'site' : `${o.kind}/${o.name}`)));
  for (const e of events)
    for (const l of limitList(limits))
      if (!over.has(l.key)) expect(l.load(e.loads)).toBeLessThanOrEqual(l.capKw + 1e-6);
  return seq;
}

/** "shed: sleep b 12 normal→asleep | confirm: … | add: wake a 10 asleep→normal" */
function outline(seq: Sequence): string[] {
  return seq.phases.map(
    (p) =>
      `${p.kind}: ${p.steps
        .map((s) => {
          if (s.kind === 'confirm') return `confirm ${s.nodes.map((n) => n.node).join(',')}`;
          if (s.kind === 'gpu-mode') return `gpu ${s.pool} ${s.count} ${s.fromMode}→${s.toMode}`;
          return `${s.kind} ${s.fleet} ${s.count} ${s.fromProfile}→${s.toProfile}`;
        })
        .join(' | ')}`,
  );
}

const fleet = (asleep: number, byProfile: Record<string, number>, o: Partial<FleetState> = {}) =>
  fleetState({ asleep, byProfile, ...o });
const target = (asleep: number, byProfile: Record<string, number>): FleetTarget => ({ asleep, byProfile });

describe('shed first, confirm, then add', () => {
  // tx 200 kW feeds pdu-1 (fleet a) and pdu-2 (fleet b). At the start tx carries
  // a: 30 × 3 + 10 × 0.05 = 90.5 kW and b: 35 × 3 + 5 × 0.05 = 105.25 kW: 195.75 kW, 98 %.
  const farm = site()
    .node('tx', { limitKw: 200 })
    .node('pdu-1', { limitKw: 150, parent: 'tx' })
    .node('pdu-2', { limitKw: 150, parent: 'tx' })
    .fleet('a', miners(40, 'pdu-1'))
    .fleet('b', miners(40, 'pdu-2'))
    .build();
  const observed: FarmState = {
    fleets: { a: fleet(10, { normal: 30 }), b: fleet(5, { normal: 35 }) },
    pools: {},
  };

  it('transformer at 98 % with a wake planned on one PDU and a sleep on its sibling: sleep, confirm, then wake', () => {
    const seq = run({
      farm,
      observed,
      fleets: { a: target(0, { normal: 40 }), b: target(17, { normal: 23 }) },
    });
    expect(outline(seq)).toEqual([
      'shed: sleep b 12 normal→asleep',
      'confirm: confirm root,tx,pdu-2',
      'add: wake a 10 asleep→normal',
    ]);
    const confirm = seq.phases[1]?.steps[0] as ConfirmStep;
    // tx once b's 12 miners draw 0.05 kW: 90.5 + 23 × 3 + 17 × 0.05
    expect(confirm.nodes.find((n) => n.node === 'tx')?.expectLoadAtMostKw).toBeCloseTo(160.35, 9);
    expect(confirm.transitions).toEqual([
      expect.objectContaining({
        name: 'b',
        from: 'normal',
        to: 'asleep',
        count: 12,
        atMostKwPerDevice: 0.05,
      }),
    ]);
    // while the sleep is in flight b's miners still count at 3 kW: tx stays at 195.75 kW
    expect(seq.loads.start.nodes['tx']).toBeCloseTo(195.75, 9);
    expect(seq.loads.end.nodes['tx']).toBeCloseTo(160.35 + 10 * 2.95, 9);
    expect(seq.deferred).toEqual([]);
  });

  it('the same wake without the sibling’s sleep fits only partly: the rest waits for the next cycle', () => {
    const seq = run({ farm, observed, fleets: { a: target(0, { normal: 40 }) } });
    // 200 − 195.75 = 4.25 kW free: one miner (2.95 kW)
    expect(outline(seq)).toEqual(['add: wake a 1 asleep→normal']);
    expect(seq.deferred).toEqual([
      expect.objectContaining({ name: 'a', from: 'asleep', to: 'normal', count: 9, reason: 'limit' }),
    ]);
    expect(seq.deferred[0]?.message).toBe(
      '9 miners of fleet a asleep → normal wait: tx limit 200 kW has 1.3 kW free under worst-case accounting',
    );
  });
});

describe('a limit already exceeded at the start', () => {
  // pdu-1 (cap 95 kW with a 5 % margin) carries fleets a and c; pdu-2 carries b, whose miners
  // are less efficient (30 J/TH at normal against a's 21.4).
  const farm = site({ safetyMarginPct: 5 })
    .node('pdu-1', { limitKw: 100 })
    .node('pdu-2', { limitKw: 100 })
    .fleet('a', miners(20, 'pdu-1'))
    .fleet('b', {
      ...miners(20, 'pdu-2'),
      model: 'Custom B',
      profiles: [
        { name: 'eco', powerW: 2000, hashrateThs: 70 },
        { name: 'normal', powerW: 3000, hashrateThs: 100 },
      ],
    })
    .fleet('c', miners(20, 'pdu-1'))
    .build();

  it('sheds under the overloaded node come first; no add under it, adds elsewhere go on', () => {
    // pdu-1: a 20 × 3 + c 14 × 3 + 6 × 0.05 = 102.3 kW > 95 kW
    const seq = run({
      farm,
      observed: {
        fleets: { a: fleet(0, { normal: 20 }), b: fleet(10, { normal: 10 }), c: fleet(6, { normal: 14 }) },
        pools: {},
      },
      fleets: {
        a: target(8, { normal: 12 }),
        b: target(0, { eco: 20 }),
        c: target(0, { normal: 20 }),
      },
    });
    expect(seq.overloaded).toEqual([
      {
        kind: 'node',
        name: 'pdu-1',
        loadKw: expect.closeTo(102.3, 6),
        capKw: 95,
        afterShedKw: expect.closeTo(78.7, 6),
      },
    ]);
    expect(outline(seq)).toEqual([
      'shed: sleep a 8 normal→asleep | set-profile b 10 normal→eco',
      'confirm: confirm root,pdu-1,pdu-2',
      'add: wake b 10 asleep→eco',
    ]);
    expect(seq.deferred).toEqual([
      expect.objectContaining({ name: 'c', from: 'asleep', to: 'normal', count: 6, reason: 'overload' }),
    ]);
    expect(seq.warnings).toContain(
      'pdu-1 limit 95 kW (100 kW less 5% margin): 102 kW worst case at the start is over its cap; shedding under it first, no adds under it in this sequence',
    );
  });

  it('when the plan’s sheds are not enough the sequence says so: re-plan now', () => {
    const seq = run({
      farm,
      observed: {
        fleets: { a: fleet(0, { normal: 20 }), b: fleet(20, {}), c: fleet(0, { normal: 20 }) },
        pools: {},
      },
      fleets: { a: target(2, { normal: 18 }), b: target(20, {}), c: target(0, { normal: 20 }) },
    });
    expect(seq.overloaded[0]?.afterShedKw).toBeCloseTo(120 - 2 * 2.95, 9);
    expect(seq.warnings).toContain(
      "pdu-1 limit 95 kW (100 kW less 5% margin): still 114 kW worst case after this plan's sheds; the plan must shed more (re-plan now)",
    );
  });

  it('a site over a grid dispatch cap sheds and adds nothing anywhere', () => {
    const seq = run({
      farm,
      observed: { fleets: { a: fleet(0, { normal: 20 }), b: fleet(20, {}), c: fleet(20, {}) }, pools: {} },
      fleets: { a: target(20, {}), b: target(0, { normal: 20 }), c: target(20, {}) },
      extra: { siteCapKw: 50 },
    });
    expect(outline(seq)).toEqual(['shed: sleep a 20 normal→asleep', 'confirm: confirm root,pdu-1']);
    expect(seq.deferred.map((d) => [d.name, d.count, d.reason])).toEqual([['b', 20, 'overload']]);
  });
});

describe('order by efficiency', () => {
  // S19j Pro 29.5 J/TH, S19 XP 21.5 J/TH, S21 17.5 J/TH (normal profiles)
  const farm = site()
    .node('pdu', { limitKw: 5000 })
    .fleet('j', { model: 'S19j Pro', count: 10, feed: 'pdu' })
    .fleet('s21', { model: 'S21', count: 10, feed: 'pdu' })
    .fleet('xp', { model: 'S19 XP', count: 10, feed: 'pdu' })
    .build();

  it('sheds the least efficient first', () => {
    const all = {
      fleets: { j: fleet(0, { normal: 10 }), s21: fleet(0, { normal: 10 }), xp: fleet(0, { normal: 10 }) },
      pools: {},
    };
    const seq = run({
      farm,
      observed: all,
      fleets: { j: target(5, { normal: 5 }), s21: target(5, { normal: 5 }), xp: target(5, { normal: 5 }) },
    });
    expect(outline(seq)[0]).toBe(
      'shed: sleep j 5 normal→asleep | sleep xp 5 normal→asleep | sleep s21 5 normal→asleep',
    );
  });

  it('wakes the most efficient first', () => {
    const none = { fleets: { j: fleet(10, {}), s21: fleet(10, {}), xp: fleet(10, {}) }, pools: {} };
    const seq = run({
      farm,
      observed: none,
      fleets: { j: target(5, { normal: 5 }), s21: target(5, { normal: 5 }), xp: target(5, { normal: 5 }) },
    });
    expect(outline(seq)).toEqual([
      'add: wake s21 5 asleep→normal | wake xp 5 asleep→normal | wake j 5 asleep→normal',
    ]);
  });
});

describe('ramp', () => {
  const build = (policy: Record<string, unknown>) =>
    site(policy).node('pdu', { limitKw: 5000 }).fleet('a', miners(100, 'pdu')).build();
  const wakeAll = (farm: Farm, extra: Partial<SequenceInput> = {}) =>
    run({
      farm,
      observed: { fleets: { a: fleet(100, {}) }, pools: {} },
      fleets: { a: target(0, { normal: 100 }) },
      extra,
    });

  it('adds in phases each within rampKwPerMin × step time', () => {
    // 100 kW/min × 60 s = 100 kW per phase; a wake adds 2.95 kW: 33 miners per phase
    const seq = wakeAll(build({ rampKwPerMin: 100 }));
    expect(seq.addBudgetKw).toBe(100);
    const adds = seq.phases as AddPhase[];
    expect(adds.map((p) => p.steps.map((s) => s.count))).toEqual([[33], [33], [33], [1]]);
    for (const p of adds) {
      expect(p.increaseKw).toBeLessThanOrEqual(100);
      expect(p.minDurationMs).toBe(60_000);
    }
    expect(seq.deferred).toEqual([]);
  });

  it('the step time and the budget are inputs', () => {
    const seq = wakeAll(build({ rampKwPerMin: 100 }), { stepMs: 30_000 });
    expect(seq.addBudgetKw).toBe(50);
    expect((seq.phases as AddPhase[]).map((p) => p.steps[0]?.count)).toEqual([16, 16, 16, 16, 16, 16, 4]);
    const fixed = wakeAll(build({ rampKwPerMin: 100 }), { stepBudgetKw: 30 });
    expect((fixed.phases[0] as AddPhase).steps[0]?.count).toBe(10);
  });

  it('what the planning interval cannot hold is deferred for ramp', () => {
    const seq = wakeAll(build({ rampKwPerMin: 100, intervalSeconds: 120 }));
    expect((seq.phases as AddPhase[]).map((p) => p.steps[0]?.count)).toEqual([33, 33]);
    expect(seq.deferred).toEqual([expect.objectContaining({ count: 34, reason: 'ramp' })]);
    expect(seq.deferred[0]?.message).toBe(
      "34 miners of fleet a asleep → normal wait: the sequence's 2 add phases of 60 s are used up (ramp 100 kW per phase); the next cycle continues",
    );
  });

  it('a device larger than a whole phase budget is deferred with the reason', () => {
    const seq = wakeAll(build({ rampKwPerMin: 2 }));
    expect(seq.phases).toEqual([]);
    expect(seq.deferred[0]?.message).toBe(
      "100 miners of fleet a asleep → normal wait: one adds 2.95 kW, more than an add phase's ramp budget of 2 kW",
    );
  });

  it('PUE turns the facility ramp into IT kW', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000, pue: 1.25 })
      .policy({ safetyMarginPct: 0, rampKwPerMin: 100 })
      .node('pdu', { limitKw: 5000 })
      .fleet('a', miners(100, 'pdu'))
      .build();
    expect(wakeAll(farm).addBudgetKw).toBe(80);
  });
});

describe('in flight and stale devices', () => {
  const farm = site()
    .node('tx', { limitKw: 100 })
    .node('pdu-1', { limitKw: 100, parent: 'tx' })
    .node('pdu-2', { limitKw: 100, parent: 'tx' })
    .fleet('a', miners(20, 'pdu-1'))
    .fleet('b', miners(20, 'pdu-2'))
    .build();

  it('a sleep sent last cycle, miners already reporting "sleeping": the wake on the sibling waits for its confirm', () => {
    // b: 20 miners report sleeping, but 16 were told to sleep 20 s ago; their draw may still be 3 kW.
    const seq = run({
      farm,
      observed: { fleets: { a: fleet(10, { normal: 10 }), b: fleet(20, {}) }, pools: {} },
      fleets: { a: target(0, { normal: 20 }), b: target(20, {}) },
      extra: {
        inFlight: { fleets: { b: [{ from: 'normal', to: 'asleep', count: 16, since: NOW - 20_000 }] } },
      },
    });
    // worst case at the start: a 30.5 + b 16 × 3 + 4 × 0.05 = 78.7 kW; the wake needs 29.5 kW more
    expect(seq.loads.start.nodes['tx']).toBeCloseTo(78.7, 9);
    expect(outline(seq)).toEqual(['confirm: confirm root,tx,pdu-2', 'add: wake a 10 asleep→normal']);
    expect((seq.phases[0]?.steps[0] as ConfirmStep).transitions).toEqual([
      {
        kind: 'fleet',
        name: 'b',
        from: 'normal',
        to: 'asleep',
        count: 16,
        stepId: null,
        atMostKwPerDevice: 0.05,
      },
    ]);
  });

  it('a transition stuck past the confirm timeout is still counted at its old draw, with a warning', () => {
    const seq = run({
      farm,
      observed: {
        fleets: {
          a: fleet(20, {}),
          b: fleet(4, {}, { inFlight: [{ from: 'normal', to: 'asleep', count: 16, since: NOW - 600_000 }] }),
        },
        pools: {},
      },
      fleets: { a: target(20, {}), b: target(20, {}) },
    });
    expect(seq.warnings).toContain(
      'fleet b: 16 in flight normal → asleep for 600 s, past the 60 s confirm timeout; still counted at max(old, new)',
    );
    expect(seq.loads.start.nodes['pdu-2']).toBeCloseTo(16 * 3 + 4 * 0.05, 9);
  });

  it('stale miners count at nameplate and take headroom from wakes', () => {
    // b: 20 stale at 3.3 kW = 66 kW; a: 20 asleep = 1 kW; tx 100 kW leaves 33 kW: 11 wakes of 2.95 kW
    const seq = run({
      farm,
      observed: { fleets: { a: fleet(20, {}), b: fleet(0, {}, { stale: 20 }) }, pools: {} },
      fleets: { a: target(0, { normal: 20 }), b: target(0, {}) },
    });
    expect(outline(seq)).toEqual(['add: wake a 11 asleep→normal']);
    expect(seq.deferred.map((d) => [d.count, d.reason])).toEqual([[9, 'limit']]);
  });

  it('a miner being woken is put back to sleep: the sleep is a shed, confirmed like any other', () => {
    const seq = run({
      farm,
      observed: {
        fleets: {
          a: fleet(10, {}, { inFlight: [{ from: 'asleep', to: 'normal', count: 10, since: NOW - 5_000 }] }),
          b: fleet(20, {}),
        },
        pools: {},
      },
      fleets: { a: target(20, {}), b: target(20, {}) },
    });
    expect(outline(seq)).toEqual(['shed: sleep a 10 normal→asleep', 'confirm: confirm root,tx,pdu-1']);
  });
});

describe('GPU pools', () => {
  const farm = site()
    .node('pdu', { limitKw: 500 })
    .pool('h100', { nodes: 4, feed: 'pdu', kw: { idle: 1.6, serving: 10.2, hashing: 8.4 } })
    .build();

  it('preempt with notice, stop GPU hashing, confirm (notice included in the timeout), then start the new order', () => {
    const seq = run({
      farm,
      observed: { fleets: {}, pools: { h100: poolState({ serving: 2, hashing: 2 }) } },
      pools: { h100: { serving: 2, hashing: 0, idle: 2 } },
      admitted: [
        {
          orderId: 'o-new',
          broker: 'b1',
          tier: 'on-demand',
          pool: 'h100',
          nodes: 2,
          gpus: 16,
          gpusByNode: [8, 8],
          priceUsdPerGpuHour: 3,
          isNew: true,
        },
      ],
      preemptions: [{ orderId: 'o-old', pool: 'h100', nodes: 2, noticeSeconds: 120 }],
    });
    expect(outline(seq)).toEqual([
      'shed: gpu h100 2 hashing→idle | gpu h100 2 serving→idle',
      'confirm: confirm root,pdu',
      'add: gpu h100 2 idle→serving',
    ]);
    const [stopHashing, preempt] = seq.phases[0]?.steps as PoolStep[];
    expect(stopHashing?.preempt).toEqual([]);
    expect(preempt?.preempt).toEqual([{ orderId: 'o-old', noticeSeconds: 120 }]);
    expect((seq.phases[1]?.steps[0] as ConfirmStep).timeoutMs).toBe(60_000 + 120_000);
    expect((seq.phases[2]?.steps[0] as PoolStep).startOrders).toEqual(['o-new']);
  });

  it('an order admitted by an earlier plan that does not run yet is started when the caller says what runs', () => {
    const admitted: Plan['admitted'] = [
      {
        orderId: 'runs',
        broker: 'b1',
        tier: 'on-demand',
        pool: 'h100',
        nodes: 2,
        gpus: 16,
        gpusByNode: [8, 8],
        priceUsdPerGpuHour: 3,
        isNew: false,
      },
      {
        orderId: 'waits',
        broker: 'b1',
        tier: 'on-demand',
        pool: 'h100',
        nodes: 1,
        gpus: 8,
        gpusByNode: [8],
        priceUsdPerGpuHour: 3,
        isNew: false,
      },
    ];
    const s: Scenario = {
      farm,
      observed: { fleets: {}, pools: { h100: poolState({ serving: 2, idle: 2 }) } },
      pools: { h100: { serving: 3, hashing: 0, idle: 1 } },
      admitted,
    };
    expect((run(s).phases[0]?.steps[0] as PoolStep).startOrders).toEqual([]);
    const seq = run({ ...s, extra: { runningOrders: ['runs'] } });
    expect(outline(seq)).toEqual(['add: gpu h100 1 idle→serving']);
    expect((seq.phases[0]?.steps[0] as PoolStep).startOrders).toEqual(['waits']);
  });

  it('an order’s nodes start together or not at all', () => {
    const seq = run({
      farm,
      observed: { fleets: {}, pools: { h100: poolState({ idle: 4 }) } },
      pools: { h100: { serving: 4, hashing: 0, idle: 0 } },
      admitted: [
        {
          orderId: 'big',
          broker: 'b1',
          tier: 'interruptible',
          pool: 'h100',
          nodes: 3,
          gpus: 24,
          gpusByNode: [8, 8, 8],
          priceUsdPerGpuHour: 2,
          isNew: true,
        },
        {
          orderId: 'small',
          broker: 'b1',
          tier: 'reserved',
          pool: 'h100',
          nodes: 1,
          gpus: 8,
          gpusByNode: [8],
          priceUsdPerGpuHour: 2,
          isNew: true,
        },
      ],
      extra: { stepBudgetKw: 20 },
    });
    // reserved first; 3 × 8.6 = 25.8 kW never fits a 20 kW phase
    expect(outline(seq)).toEqual(['add: gpu h100 1 idle→serving']);
    expect((seq.phases[0]?.steps[0] as PoolStep).startOrders).toEqual(['small']);
    expect(seq.deferred[0]?.message).toBe(
      "3 nodes of pool h100 idle → serving (order big) wait: together they add 25.8 kW, more than an add phase's ramp budget of 20 kW",
    );
  });
});

describe('steps', () => {
  const farm = site()
    .node('pdu', { limitKw: 500 })
    .fleet('bos', { ...miners(10, 'pdu'), model: 'S19 Pro' })
    .fleet('lux', miners(10, 'pdu'))
    .build();
  // a braiins fleet: power targets instead of profiles
  farm.fleets[0]!.spec.driver = 'braiins';

  it('kinds, power targets and ids', () => {
    const seq = run({
      farm,
      observed: { fleets: { bos: fleet(5, { eco: 5 }), lux: fleet(0, { normal: 10 }) }, pools: {} },
      fleets: { bos: target(0, { normal: 10 }), lux: target(4, { eco: 6 }) },
      extra: { planId: 'plan:42' },
    });
    const steps = seq.phases
      .flatMap((p): Step[] => p.steps)
      .filter((s): s is FleetStep => s.kind !== 'confirm' && s.kind !== 'gpu-mode');
    // the deeper shed first when both leave the same profile
    expect(steps.map((s) => [s.id, s.kind, s.fromProfile, s.toProfile, s.count, s.powerTargetW])).toEqual([
      ['plan-42:0:0:fleet/lux', 'sleep', 'normal', 'asleep', 4, null],
      ['plan-42:0:1:fleet/lux', 'set-profile', 'normal', 'eco', 6, 2000],
      ['plan-42:2:0:fleet/bos', 'wake', 'asleep', 'normal', 5, 3000],
      ['plan-42:2:1:fleet/bos', 'set-power-target', 'eco', 'normal', 5, 3000],
    ]);
    expect(seq.phases[1]?.steps[0]?.id).toBe('plan-42:1:0:confirm');
    expect(stepJobId(steps[1]!.id)).toBe('plan-42.0.1.fleet/lux');
    const wake = steps[2] as DeviceStep;
    expect(wake.expectedDeltaKw).toBeCloseTo(5 * 2.95, 9);
    expect(wake.worstCaseKw).toBeCloseTo(5 * 3, 9);
    expect(wake.worstCaseDeltaKw).toBeCloseTo(5 * 2.95, 9);
    const sleep = steps[0] as DeviceStep;
    expect([sleep.worstCaseKw, sleep.worstCaseDeltaKw]).toEqual([12, 0]);
  });

  it('the same input in any record order gives the same sequence', () => {
    const s: Scenario = {
      farm,
      observed: { fleets: { bos: fleet(5, { eco: 5 }), lux: fleet(0, { normal: 10 }) }, pools: {} },
      fleets: { bos: target(0, { normal: 10 }), lux: target(4, { eco: 6 }) },
    };
    const a = sequencePlan(inputOf(s));
    const reordered: Scenario = {
      ...s,
      farm: { ...farm, fleets: [...farm.fleets].reverse() },
      observed: { fleets: { lux: s.observed.fleets['lux']!, bos: s.observed.fleets['bos']! }, pools: {} },
      fleets: { lux: s.fleets!['lux']!, bos: s.fleets!['bos']! },
    };
    expect(sequencePlan(inputOf(reordered))).toEqual(a);
  });

  it('fits the plan to the miners controllable now: fewer than planned → the top profiles go first', () => {
    const seq = run({
      farm,
      observed: { fleets: { bos: fleet(10, {}), lux: fleet(0, { normal: 7 }, { stale: 3 }) }, pools: {} },
      fleets: { bos: target(10, {}), lux: target(2, { eco: 2, normal: 6 }) },
    });
    expect(seq.targets.fleets['lux']).toEqual({ asleep: 2, byProfile: { eco: 2, normal: 3 } });
    expect(outline(seq)[0]).toBe('shed: sleep lux 2 normal→asleep | set-profile lux 2 normal→eco');
  });

  it('refuses input it cannot sequence', () => {
    const s = inputOf({ farm, observed: { fleets: {}, pools: {} } });
    expect(() => sequencePlan({ ...s, site: 'elsewhere' })).toThrow(SequencerInputError);
    expect(() => sequencePlan({ ...s, plan: { ...s.plan, site: 'other' } })).toThrow(
      'the plan is for site "other", not "site-1"',
    );
    expect(() => sequencePlan({ ...s, now: Number.NaN })).toThrow(SequencerInputError);
    expect(() => sequencePlan({ ...s, stepMs: 0 })).toThrow(SequencerInputError);
  });
});

describe('checkSequence finds a tampered sequence', () => {
  const farm = site()
    .node('tx', { limitKw: 200 })
    .node('pdu-1', { limitKw: 150, parent: 'tx' })
    .node('pdu-2', { limitKw: 150, parent: 'tx' })
    .fleet('a', miners(40, 'pdu-1'))
    .fleet('b', miners(40, 'pdu-2'))
    .build();
  const s: Scenario = {
    farm,
    observed: { fleets: { a: fleet(10, { normal: 30 }), b: fleet(5, { normal: 35 }) }, pools: {} },
    fleets: { a: target(0, { normal: 40 }), b: target(17, { normal: 23 }) },
  };
  const input = inputOf(s);
  const good = sequencePlan(input);
  const kinds = (seq: Sequence) => [...new Set(checkSequence(input, seq).map((v) => v.kind))].sort();

  it('the wake before the confirm: over the transformer, and out of order', () => {
    const [shed, confirm, add] = good.phases as [
      Sequence['phases'][0],
      Sequence['phases'][0],
      Sequence['phases'][0],
    ];
    const bad = structuredClone(good);
    bad.phases = [shed, add, confirm].map((p) => structuredClone(p)) as Sequence['phases'];
    bad.phases.forEach((p, pi) =>
      p.steps.forEach((st, si) => {
        st.id = `${good.planKey}:${pi}:${si}:${st.kind === 'confirm' ? 'confirm' : 'fleet' in st ? `fleet/${st.fleet}` : ''}`;
      }),
    );
    expect(kinds(bad)).toEqual(['limit', 'order']);
  });

  it('more devices than the slot has, a wrong id, a lost deferral, a blown ramp', () => {
    const more = structuredClone(good);
    (more.phases[0]!.steps[0] as DeviceStep).count = 99;
    expect(kinds(more)).toContain('counts');
    const id = structuredClone(good);
    id.phases[0]!.steps[0]!.id = 'x';
    expect(kinds(id)).toEqual(['ids']);
    const short = structuredClone(good);
    (short.phases[2] as AddPhase).steps[0]!.count = 5;
    expect(kinds(short)).toEqual(['targets']);
    const ramp = structuredClone(good);
    ramp.addBudgetKw = 10;
    expect(kinds(ramp)).toEqual(['ramp']);
  });
});

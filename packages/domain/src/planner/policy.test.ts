// Policy rules: hysteresis per profile step, minimum dwell, cycles per day, wear cost, pins, and
// the memory a plan hands to the next one.
import { describe, expect, it } from '@jest/globals';
import { breakevenUsdPerMwh } from '../economics/economics.ts';
import { farmBuilder, planInput } from './testing/farm-builder.ts';
import { changesFor, greedyOk } from './testing/assertions.ts';
import type { PlanMemory } from './types.ts';

const HP = 0.05;
/** One S19 Pro-like profile (3,250 W, 110 TH/s, 30 W asleep): sleep/wake is the only decision. */
const single = (policy: Record<string, unknown> = {}, count = 240) =>
  farmBuilder()
    .site({ interconnectKw: 10_000, pue: 1 })
    .policy({ wearCostUsdPerCycle: 0, hysteresisUsdPerMwh: 5, ...policy })
    .fleet('rack-a3', {
      model: 'S19 Pro',
      count,
      feed: 'root',
      profiles: [{ name: 'stock', powerW: 3250, hashrateThs: 110 }],
      sleepW: 30,
    })
    .build();
const be = (hp = HP) => breakevenUsdPerMwh(hp, 3220 / 110, 1, 0.02);

function memory(
  now: number,
  o: { asleep?: number; stock?: number; changedAt?: number | null; cyclesToday?: number; day?: string } = {},
): PlanMemory {
  return {
    at: now - 300_000,
    day: o.day ?? new Date(now).toISOString().slice(0, 10),
    fleets: {
      'rack-a3': {
        target: { asleep: o.asleep ?? 0, byProfile: { stock: o.stock ?? 240 } },
        changedAt: o.changedAt === undefined ? now - 3_600_000 : o.changedAt,
        cyclesToday: o.cyclesToday ?? 0,
      },
    },
    pools: {},
  };
}

describe('hysteresis', () => {
  it.each([
    ['inside the band: no change', 4, 0],
    ['above breakeven + band: sleep', 6, 240],
    ['below breakeven − band: keep hashing', -6, 0],
  ])('all hashing, energy breakeven %s (%d $/MWh)', (_n, delta, asleep) => {
    const p = greedyOk(
      planInput(single())
        .hashprice(HP)
        .energy(be() + delta)
        .build(),
    );
    expect(p.fleets['rack-a3']?.target.asleep).toBe(asleep);
  });

  it.each([
    ['inside the band: stay asleep', -4, 0],
    ['below breakeven − band: wake', -6, 240],
  ])('all asleep, energy breakeven %s', (_n, delta, awake) => {
    const farm = single({ rampKwPerMin: 1_000_000 });
    const p = greedyOk(
      planInput(farm)
        .hashprice(HP)
        .energy(be() + delta)
        .observe('rack-a3', { hashing: 0, sleeping: 240, byProfile: {} })
        .build(),
    );
    expect(p.fleets['rack-a3']?.target.byProfile.stock).toBe(awake);
    if (awake)
      expect(changesFor(p, 'rack-a3')).toEqual([
        `wake 240 of 240 S19 Pro — energy $${Math.round(be() - 6)}/MWh < breakeven $${Math.round(be())}/MWh − hysteresis $5/MWh`,
      ]);
  });

  it('applies per profile step: eco stays while normal is shed', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000, pue: 1 })
      .policy({ wearCostUsdPerCycle: 0 })
      .fleet('a', { model: 'S21', count: 10, feed: 'root' })
      .build();
    const probe = greedyOk(planInput(farm).energy(50).build());
    const steps = probe.fleets.a?.stepBreakevenUsdPerMwh ?? [];
    const [toEco, toNormal] = steps;
    expect(toEco?.usdPerMwh).toBeGreaterThan(toNormal?.usdPerMwh ?? Infinity);
    const e = ((toEco?.usdPerMwh ?? 0) + (toNormal?.usdPerMwh ?? 0)) / 2; // between the two steps
    const p = greedyOk(planInput(farm).energy(e).build());
    expect(p.fleets.a?.target).toEqual({ asleep: 0, byProfile: { eco: 10, normal: 0, turbo: 0 } });
    expect(changesFor(p, 'a')[0]).toMatch(
      /^move 10 of 10 S21 from normal to eco — energy \$\d+\/MWh > breakeven of normal over eco \$\d+\/MWh \+ hysteresis \$5\/MWh$/,
    );
  });
});

describe('the reason for every change, in words with numbers', () => {
  it('reads like an operator would say it', () => {
    // Hashprice such that breakeven is $96/MWh; a cycle budget leaves room for 120 sleeps today.
    const hp = (96 / be(1)) * 1;
    const b = planInput(single({ maxCyclesPerDay: 1 }))
      .hashprice(hp)
      .energy(212);
    const p = greedyOk(b.previous(memory(b.now, { cyclesToday: 180 })).build());
    expect(p.changes).toEqual([
      {
        targetKind: 'fleet',
        target: 'rack-a3',
        change: 'sleep 120 of 240 S19 Pro',
        reason: 'energy $212/MWh > breakeven $96/MWh + hysteresis $5/MWh',
      },
    ]);
  });
});

describe('minimum dwell', () => {
  it('keeps a fleet that changed recently at its target', () => {
    const b = planInput(single()).hashprice(HP).energy(400);
    const p = greedyOk(b.previous(memory(b.now, { changedAt: b.now - 60_000 })).build());
    expect(p.fleets['rack-a3']?.target.asleep).toBe(0);
    expect(p.changes).toEqual([]);
  });

  it('lets a hard limit force a shed anyway, and says so', () => {
    const b = planInput(single()).hashprice(HP).energy(20).dispatch(400, { id: 'ercot-ers-1' });
    const p = greedyOk(b.previous(memory(b.now, { changedAt: b.now - 60_000 })).build());
    expect(p.loads.site.facilityKw).toBeLessThanOrEqual(400);
    expect(changesFor(p, 'rack-a3')[0]).toMatch(
      /^sleep 119 of 240 S19 Pro — hard limit: grid dispatch ercot-ers-1 holds the site under 400 kW until 2026-07-01T13:00Z; 780 kW facility load even with dwell, cycle and pin limits kept$/,
    );
    expect(p.warnings.join('\n')).toMatch(
      /fleet rack-a3: dwell broken to shed — hard limit: grid dispatch ercot-ers-1/,
    );
  });

  it('lets the target change again once the dwell is over', () => {
    const b = planInput(single()).hashprice(HP).energy(400);
    const p = greedyOk(b.previous(memory(b.now, { changedAt: b.now - 901_000 })).build());
    expect(p.fleets['rack-a3']?.target.asleep).toBe(240);
  });
});

describe('cycles per day', () => {
  it.each([
    ['budget left for every miner', 0, 240],
    ['budget for 100 transitions', 190, 100],
    ['budget used up', 240, 0],
  ])('%s', (_n, cyclesToday, asleep) => {
    const b = planInput(single({ maxCyclesPerDay: 1 }))
      .hashprice(HP)
      .energy(400);
    const p = greedyOk(b.previous(memory(b.now, { cyclesToday })).build());
    expect(p.fleets['rack-a3']?.target.asleep).toBe(asleep);
    expect(p.memory.fleets['rack-a3']?.cyclesToday).toBe(cyclesToday + asleep / 2);
  });

  it('starts a new budget on a new day', () => {
    const b = planInput(single({ maxCyclesPerDay: 1 }))
      .hashprice(HP)
      .energy(400);
    const p = greedyOk(b.previous(memory(b.now, { cyclesToday: 240, day: '2026-06-30' })).build());
    expect(p.fleets['rack-a3']?.target.asleep).toBe(240);
    expect(p.memory.day).toBe('2026-07-01');
  });

  it('never stops a forced shed', () => {
    const b = planInput(single({ maxCyclesPerDay: 1 }))
      .hashprice(HP)
      .energy(20)
      .dispatch(100);
    const p = greedyOk(b.previous(memory(b.now, { cyclesToday: 240 })).build());
    expect(p.loads.site.facilityKw).toBeLessThanOrEqual(100);
  });
});

describe('wear', () => {
  it('charges each sleep or wake half a cycle, spread over the hours a cycle lasts at the cap', () => {
    const p = greedyOk(
      planInput(single({ wearCostUsdPerCycle: 2, maxCyclesPerDay: 4 }))
        .hashprice(HP)
        .energy(400)
        .build(),
    );
    expect(p.fleets['rack-a3']?.target.asleep).toBe(240);
    // 240 transitions × $1 each, over 24 h / 4 cycles = 6 h.
    expect(p.economics.wearUsdPerHour).toBeCloseTo(40, 6);
  });

  it('makes a small gain not worth a cycle', () => {
    // $2/cycle over 6 h is ~$0.17/h per transition ≈ $52/MWh on a 3.22 kW step: +$10/MWh is not enough.
    const p = greedyOk(
      planInput(single({ wearCostUsdPerCycle: 2 }))
        .hashprice(HP)
        .energy(be() + 15)
        .build(),
    );
    expect(p.fleets['rack-a3']?.target.asleep).toBe(0);
  });
});

describe('overrides', () => {
  it('pins a fleet asleep whatever the price', () => {
    const p = greedyOk(
      planInput(single())
        .hashprice(HP)
        .energy(10)
        .override('fleet', 'rack-a3', 'asleep', { id: 'mnt-7', by: 'ops', reason: 'fan swap' })
        .build(),
    );
    expect(p.fleets['rack-a3']?.target.asleep).toBe(240);
    expect(changesFor(p, 'rack-a3')).toEqual([
      expect.stringMatching(
        /^sleep 240 of 240 S19 Pro — override mnt-7 by ops: pinned asleep until 2026-07-01T13:00Z \(fan swap\)$/,
      ),
    ]);
  });

  it('ignores a pin outside its window and one naming an unknown mode', () => {
    const b = planInput(single()).hashprice(HP).energy(10);
    const p = greedyOk(
      b
        .override('fleet', 'rack-a3', 'asleep', { startsAt: b.now + 60_000 })
        .override('fleet', 'rack-a3', 'overclock', { id: 'typo' })
        .build(),
    );
    expect(p.fleets['rack-a3']?.target.asleep).toBe(0);
    expect(p.warnings.join('\n')).toMatch(/override typo: fleet rack-a3 has no mode "overclock"/);
  });

  it('still obeys hard limits over a pin', () => {
    const p = greedyOk(
      planInput(single())
        .hashprice(HP)
        .energy(10)
        .override('fleet', 'rack-a3', 'stock')
        .dispatch(300)
        .build(),
    );
    expect(p.loads.site.facilityKw).toBeLessThanOrEqual(300);
  });
});

describe('memory', () => {
  it('records the new target, when it changed and the cycles used', () => {
    const b = planInput(single()).hashprice(HP).energy(400);
    const p = greedyOk(b.build());
    expect(p.memory.fleets['rack-a3']).toEqual({
      target: { asleep: 240, byProfile: { stock: 0 } },
      changedAt: b.now,
      cyclesToday: 120,
    });
    const next = greedyOk(
      b
        .at(b.now + 300_000)
        .previous(p.memory)
        .observe('rack-a3', { hashing: 0, sleeping: 240, byProfile: {} })
        .build(),
    );
    expect(next.changes).toEqual([]);
    expect(next.memory.fleets['rack-a3']?.changedAt).toBe(b.now - 300_000);
  });
});

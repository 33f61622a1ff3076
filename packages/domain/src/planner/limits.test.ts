// Hard limits: power tree (with safety margin), cooling (with ambient derate), interconnect
// (facility load = IT × PUE), grid dispatches (less reserve), and the ramp limit.
import { describe, expect, it } from '@jest/globals';
import { farmBuilder, planInput } from './testing/farm-builder.ts';
import { changesFor, greedyOk } from './testing/assertions.ts';

const cheap = (f: ReturnType<ReturnType<typeof farmBuilder>['build']>) =>
  planInput(f).energy(20).hashprice(0.05);

describe('power tree', () => {
  it('holds a node at its limit less the safety margin, shedding the least value per kW', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000 })
      .node('pdu-1', { limitKw: 100 })
      .fleet('a', { model: 'S21', count: 40, feed: 'pdu-1' })
      .build();
    const p = greedyOk(cheap(farm).build());
    const pdu = p.loads.powerTree['pdu-1'];
    expect(pdu?.capKw).toBe(95);
    expect(pdu?.kw).toBeLessThanOrEqual(95);
    expect(pdu?.kw).toBeGreaterThan(95 - 2.6); // no room left for one more miner at eco
    // eco gives the most TH per kW, so the fleet runs eco and sleeps what does not fit.
    expect(p.fleets.a?.target).toEqual({ asleep: 4, byProfile: { eco: 36, normal: 0, turbo: 0 } });
    expect(changesFor(p, 'a')).toEqual([
      expect.stringMatching(
        /^sleep 4 of 40 S21 \(from normal\) — pdu-1 limit 95 kW \(100 kW less 5% margin\) is full \(94\.\d kW\): least value per kW goes first/,
      ),
      expect.stringMatching(/^move 36 of 40 S21 from normal to eco — pdu-1 limit 95 kW .* is full/),
    ]);
  });

  it('counts every descendant against an ancestor', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000 })
      .node('swg', { limitKw: 150 })
      .node('pdu-1', { limitKw: 100, parent: 'swg' })
      .node('pdu-2', { limitKw: 100, parent: 'swg' })
      .fleet('a', { model: 'S21', count: 30, feed: 'pdu-1' })
      .fleet('b', { model: 'S21 Pro', count: 30, feed: 'pdu-2' })
      .build();
    const p = greedyOk(cheap(farm).build());
    expect(p.loads.powerTree.swg?.kw).toBeLessThanOrEqual(142.5);
    expect((p.loads.powerTree['pdu-1']?.kw ?? 0) + (p.loads.powerTree['pdu-2']?.kw ?? 0)).toBeCloseTo(
      p.loads.powerTree.swg?.kw ?? -1,
      6,
    );
  });

  it('counts stale, offline, faulted and unknown miners at nameplate and leaves them alone', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000 })
      .node('pdu-1', { limitKw: 60 })
      .fleet('a', { model: 'S21', count: 20, feed: 'pdu-1' })
      .build();
    const p = greedyOk(
      cheap(farm)
        .observe('a', { hashing: 10, sleeping: 0, stale: 4, fault: 2, offline: 1, byProfile: { normal: 10 } })
        .build(),
    );
    expect(p.fleets.a?.controllable).toBe(10);
    expect(p.fleets.a?.uncontrollable).toEqual({ fault: 2, offline: 1, stale: 4, unknown: 3 });
    // 10 uncontrollable × 3.5 kW = 35 kW of the 57 kW cap; the rest goes to the 10 controllable.
    expect(p.loads.powerTree['pdu-1']?.kw).toBeLessThanOrEqual(57);
    const t = p.fleets.a?.target;
    expect((t?.asleep ?? 0) + Object.values(t?.byProfile ?? {}).reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('plans with the metered draw when it is above the model', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000 })
      .node('pdu-1', { limitKw: 100 })
      .fleet('a', { model: 'S21', count: 20, feed: 'pdu-1' })
      .build();
    const p = greedyOk(cheap(farm).observe('a', { measuredKw: 84 }).build()); // model says 70 kW at normal
    expect(p.warnings.join('\n')).toMatch(/fleet a: metered 84 kW is 20% above the modelled 70 kW/);
    expect(p.fleets.a?.expectedKw).toBeLessThanOrEqual(95);
  });

  it('warns and plans to the floor when uncontrollable load alone exceeds a limit', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000 })
      .node('pdu-1', { limitKw: 30 })
      .fleet('a', { model: 'S21', count: 20, feed: 'pdu-1' })
      .build();
    const p = greedyOk(
      cheap(farm)
        .observe('a', { hashing: 10, stale: 10, byProfile: { normal: 10 } })
        .build(),
    );
    expect(p.fleets.a?.target.asleep).toBe(10);
    expect(p.warnings.join('\n')).toMatch(
      /pdu-1 limit 28\.5 kW .* cannot be met: 38\.8 kW load remains with every controllable device shed/,
    );
  });
});

describe('cooling', () => {
  it('derates a zone for ambient above its rating', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000 })
      .zone('hall', { capacityKw: 100, ratedAmbientC: 35, pctPerDegreeC: 2 })
      .fleet('a', { model: 'S21', count: 40, feed: 'root', zone: 'hall' })
      .build();
    const p = greedyOk(cheap(farm).ambient(40).build());
    expect(p.loads.coolingZones.hall?.capKw).toBeCloseTo(90, 6);
    expect(p.loads.coolingZones.hall?.kw).toBeLessThanOrEqual(90);
    expect(changesFor(p, 'a').join('\n')).toMatch(
      /cooling zone hall 90 kW \(100 kW derated 10\.0% for 40\.0 °C\) is full/,
    );
  });
});

describe('site', () => {
  const twoFleets = (o: { interconnectKw?: number; pue?: number; reserveKw?: number } = {}) =>
    farmBuilder()
      .site({ interconnectKw: o.interconnectKw ?? 10_000, pue: o.pue ?? 1.1 })
      .policy({ reserveKw: o.reserveKw ?? 0 })
      .fleet('old', { model: 'S19j Pro', count: 20, feed: 'root' })
      .fleet('new', { model: 'S21', count: 20, feed: 'root' })
      .build();

  it('holds facility load (IT × PUE) under the interconnect', () => {
    const p = greedyOk(cheap(twoFleets({ interconnectKw: 100, pue: 1.25 })).build());
    expect(p.loads.site.facilityKw).toBeLessThanOrEqual(100);
    expect(p.loads.site.itKw * 1.25).toBeCloseTo(p.loads.site.facilityKw, 3);
  });

  it('obeys a grid dispatch less reserve, shedding the least efficient first', () => {
    const input = cheap(twoFleets({ reserveKw: 5 }))
      .dispatch(60, { id: 'd-17' })
      .build();
    const p = greedyOk(input);
    expect(p.loads.site.capKw).toBe(55);
    expect(p.loads.site.facilityKw).toBeLessThanOrEqual(55);
    expect(p.fleets.old?.target.asleep).toBe(20); // S19j Pro sleeps first
    expect(p.fleets.new?.target.asleep).toBeLessThan(20);
    expect(changesFor(p, 'old')[0]).toMatch(
      /^sleep 20 of 20 S19j Pro \(from normal\) — grid dispatch d-17 holds the site under 60 kW until 2026-07-01T13:00Z less reserve 5 kW is full/,
    );
  });

  it.each([
    ['starting within the interval', 120_000, true],
    ['starting after the interval', 600_000, false],
    ['already over', -7_200_000, false],
  ])('counts a dispatch %s: %s', (_n, startsIn, binds) => {
    const b = cheap(twoFleets());
    const now = b.now;
    const p = greedyOk(
      b
        .dispatch(30, { startsAt: now + startsIn, endsAt: startsIn < 0 ? now - 60_000 : now + 3_600_000 })
        .build(),
    );
    expect(p.loads.site.facilityKw <= 30).toBe(binds);
  });

  it('limits a rise to the ramp limit and wakes the most efficient first', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000, pue: 1 })
      .policy({ rampKwPerMin: 10, intervalSeconds: 300 })
      .fleet('old', { model: 'S19j Pro', count: 40, feed: 'root' })
      .fleet('new', { model: 'S21', count: 40, feed: 'root' })
      .build();
    const asleep = { hashing: 0, sleeping: 40, byProfile: {} };
    const p = greedyOk(cheap(farm).observe('old', asleep).observe('new', asleep).build());
    expect(p.loads.site.currentKw).toBeCloseTo(80 * 0.03, 6);
    expect(p.loads.site.facilityKw).toBeLessThanOrEqual(p.loads.site.currentKw + 50 + 1e-9);
    expect(p.fleets.old?.target.asleep).toBe(40);
    expect(p.fleets.new?.target.asleep).toBeLessThan(40);
    expect(changesFor(p, 'new')[0]).toMatch(
      /^wake 19 of 40 S21 to eco — energy \$20\/MWh < breakeven \$\d+\/MWh − hysteresis \$5\/MWh; 21 more held back: ramp limit 52\.4 kW \(now 2\.4 kW \+ 10 kW\/min × 5 min\) is full/,
    );
  });

  it('never limits shedding by the ramp limit', () => {
    const farm = farmBuilder()
      .site({ interconnectKw: 10_000 })
      .policy({ rampKwPerMin: 1 })
      .fleet('a', { model: 'S19 Pro', count: 50, feed: 'root' })
      .build();
    const p = greedyOk(planInput(farm).energy(400).build());
    expect(p.fleets.a?.target.asleep).toBe(50);
  });
});

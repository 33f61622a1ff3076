// Worst-case accounting, by hand-computed numbers: settled devices at their slot's draw, in-flight
// ones at max(old, new), stale/offline/fault/unknown at nameplate, outstanding commands merged
// conservatively whichever state the devices report; and stepIsSafe at the edges.
import { describe, expect, it } from '@jest/globals';
import { farmBuilder } from '../planner/testing/farm-builder.ts';
import { freezeDrawFactors, sequencerLimits, stepIsSafe, worstCaseLoads } from './model.ts';
import { fleetState, poolState } from './testing.ts';
import type { FarmState, FleetState } from './types.ts';

// Fleet miners: asleep 0.05 kW, eco 2 kW, normal 3 kW, nameplate 3.3 kW.
// Pool nodes: idle 1 kW, serving 10 kW, hashing 8 kW.
const profiles = [
  { name: 'eco', powerW: 2000, hashrateThs: 100 },
  { name: 'normal', powerW: 3000, hashrateThs: 140 },
];
const farm = farmBuilder()
  .site({ interconnectKw: 1000, pue: 1 })
  .node('pdu-1', { limitKw: 200 })
  .node('rack-1', { limitKw: 100, parent: 'pdu-1' })
  .node('pdu-2', { limitKw: 200 })
  .zone('hall', { capacityKw: 500 })
  .zone('annex', { capacityKw: 50, ratedAmbientC: 30, pctPerDegreeC: 2 })
  .policy({ safetyMarginPct: 10 })
  .fleet('a', {
    model: 'Custom A',
    count: 20,
    feed: 'rack-1',
    zone: 'hall',
    profiles,
    sleepW: 50,
    nameplateW: 3300,
  })
  .fleet('b', {
    model: 'Custom A',
    count: 10,
    feed: 'pdu-2',
    zone: 'annex',
    profiles,
    sleepW: 50,
    nameplateW: 3300,
  })
  .pool('g', { nodes: 4, feed: 'pdu-1', zone: 'hall', kw: { idle: 1, serving: 10, hashing: 8 } })
  .build();

const allAsleep = (n: number): FleetState => fleetState({ asleep: n });
const base = (a: Partial<FleetState>): FarmState => ({
  fleets: { a: fleetState(a), b: allAsleep(10) },
  pools: { g: poolState({ idle: 4 }) },
});
const B_ASLEEP = 10 * 0.05;
const G_IDLE = 4 * 1;

describe('worstCaseLoads', () => {
  const cases: Array<[string, FarmState, number]> = [
    [
      'settled miners at their profile',
      base({ asleep: 5, byProfile: { eco: 5, normal: 10 } }),
      5 * 0.05 + 5 * 2 + 10 * 3,
    ],
    [
      'in flight normal → asleep at the old (higher) draw',
      base({ asleep: 16, inFlight: [{ from: 'normal', to: 'asleep', count: 4, since: 0 }] }),
      16 * 0.05 + 4 * 3,
    ],
    [
      'in flight asleep → eco at the new (higher) draw',
      base({ asleep: 16, inFlight: [{ from: 'asleep', to: 'eco', count: 4, since: 0 }] }),
      16 * 0.05 + 4 * 2,
    ],
    [
      'stale, offline, faulted and uncounted miners at nameplate',
      base({ asleep: 14, stale: 2, offline: 1, fault: 1 }),
      14 * 0.05 + 6 * 3.3,
    ],
    [
      'a profile the fleet does not have at nameplate',
      base({ asleep: 19, byProfile: { turbo: 1 } }),
      19 * 0.05 + 3.3,
    ],
    [
      'counts above the fleet size: the lowest draws are dropped',
      base({ asleep: 10, byProfile: { normal: 15 } }),
      5 * 0.05 + 15 * 3,
    ],
  ];
  it.each(cases)('%s', (_name, state, aKw) => {
    const l = worstCaseLoads(farm, 'site-1', state);
    expect(l.nodes['rack-1']).toBeCloseTo(aKw, 9);
    expect(l.nodes['pdu-1']).toBeCloseTo(aKw + G_IDLE, 9);
    expect(l.nodes['pdu-2']).toBeCloseTo(B_ASLEEP, 9);
    expect(l.nodes['root']).toBeCloseTo(aKw + G_IDLE + B_ASLEEP, 9);
    expect(l.zones['hall']).toBeCloseTo(aKw + G_IDLE, 9);
    expect(l.zones['annex']).toBeCloseTo(B_ASLEEP, 9);
    expect(l.siteKw).toBeCloseTo(aKw + G_IDLE + B_ASLEEP, 9);
  });

  it('a fleet or pool without a state counts entirely at nameplate', () => {
    const l = worstCaseLoads(farm, 'site-1', { fleets: { a: allAsleep(20) }, pools: {} });
    expect(l.nodes['pdu-2']).toBeCloseTo(10 * 3.3, 9);
    expect(l.nodes['pdu-1']).toBeCloseTo(20 * 0.05 + 4 * 10, 9);
  });

  it('GPU nodes by mode, unavailable and uncounted ones at their highest draw, in flight at max', () => {
    const st = base({ asleep: 20 });
    st.pools['g'] = poolState({
      idle: 1,
      hashing: 1,
      inFlight: [{ from: 'serving', to: 'idle', count: 1, since: 0 }],
    });
    // idle 1 + hashing 8 + in flight 10 + one uncounted node 10
    expect(worstCaseLoads(farm, 'site-1', st).nodes['pdu-1']).toBeCloseTo(20 * 0.05 + 1 + 8 + 10 + 10, 9);
  });

  describe('outstanding commands are counted at max(old, new) whatever the miners report', () => {
    const sleepCmd = { fleets: { a: [{ from: 'normal', to: 'asleep', count: 4, since: 0 }] } };
    const wakeCmd = { fleets: { a: [{ from: 'asleep', to: 'normal', count: 4, since: 0 }] } };
    it.each([
      [
        'sleep sent, miners already report sleeping',
        base({ asleep: 10, byProfile: { normal: 10 } }),
        sleepCmd,
      ],
      ['sleep sent, miners still report normal', base({ asleep: 6, byProfile: { normal: 14 } }), sleepCmd],
      ['wake sent, miners still report asleep', base({ asleep: 10, byProfile: { normal: 10 } }), wakeCmd],
      ['wake sent, miners already report normal', base({ asleep: 6, byProfile: { normal: 14 } }), wakeCmd],
    ])('%s', (_n, state, cmd) => {
      const truth = worstCaseLoads(farm, 'site-1', state).nodes['rack-1'] as number;
      const merged = worstCaseLoads(farm, 'site-1', state, cmd).nodes['rack-1'] as number;
      expect(merged).toBeGreaterThanOrEqual(truth - 1e-9);
      // the 4 commanded miners at 3 kW, whichever slot they were found in
      const settledAsleep = state.fleets['a']?.asleep as number;
      const settledNormal = state.fleets['a']?.byProfile['normal'] as number;
      expect(merged).toBeCloseTo((settledAsleep - 4) * 0.05 + settledNormal * 3 + 4 * 3, 9);
    });
  });

  it('devices gone stale since the state count at nameplate, taken from the lowest draws', () => {
    const st = base({ asleep: 2, byProfile: { normal: 18 } });
    const l = worstCaseLoads(farm, 'site-1', st, undefined, { fleets: { a: 3 } });
    expect(l.nodes['rack-1']).toBeCloseTo(3 * 3.3 + 17 * 3, 9);
  });

  it('a metered draw above the modelled worst case scales every draw; a drawFactor wins', () => {
    const st = base({ byProfile: { normal: 20 }, measuredKw: 66 });
    expect(worstCaseLoads(farm, 'site-1', st).nodes['rack-1']).toBeCloseTo(66, 9);
    const below = base({ byProfile: { normal: 20 }, measuredKw: 50 });
    expect(worstCaseLoads(farm, 'site-1', below).nodes['rack-1']).toBeCloseTo(60, 9);
    const fixed = base({ byProfile: { normal: 20 }, measuredKw: 66, drawFactor: 1.5 });
    expect(worstCaseLoads(farm, 'site-1', fixed).nodes['rack-1']).toBeCloseTo(90, 9);
    // frozen: the same factor holds once half of the fleet sleeps
    const frozen = freezeDrawFactors(farm, 'site-1', st);
    const half = structuredClone(frozen);
    half.fleets['a'] = { ...(half.fleets['a'] as FleetState), asleep: 10, byProfile: { normal: 10 } };
    expect(worstCaseLoads(farm, 'site-1', half).nodes['rack-1']).toBeCloseTo((10 * 3 + 10 * 0.05) * 1.1, 9);
  });
});

describe('sequencerLimits and stepIsSafe', () => {
  const limits = sequencerLimits(farm, 'site-1', { ambientC: 35, siteCapKw: 300 });
  it('caps: node limit less margin, zone derated for ambient, site facility cap over PUE', () => {
    expect(limits.nodes['rack-1']?.capKw).toBeCloseTo(90, 9);
    expect(limits.nodes['pdu-1']?.parent).toBe('root');
    expect(limits.zones['annex']?.capKw).toBeCloseTo(50 * (1 - 0.02 * 5), 9);
    expect(limits.zones['hall']?.capKw).toBe(500);
    expect(limits.site.capKw).toBe(300);
    // without an ambient, derating zones assume 45 °C
    expect(sequencerLimits(farm, 'site-1').zones['annex']?.capKw).toBeCloseTo(50 * (1 - 0.02 * 15), 9);
  });

  const loads = {
    nodes: { root: 200, 'pdu-1': 150, 'rack-1': 89, 'pdu-2': 10 },
    zones: { hall: 100, annex: 44 },
    siteKw: 200,
  };
  const step = (feed: string, coolingZone: string, worstCaseDeltaKw: number) => ({
    feed,
    coolingZone,
    worstCaseDeltaKw,
  });
  it.each([
    ['fits under the rack exactly', step('rack-1', 'hall', 1), true],
    ['one watt too many on the rack', step('rack-1', 'hall', 1.001), false],
    ['a shed on a node already over its cap', step('rack-1', 'hall', 0), true],
    ['the cooling zone is the binding limit', step('pdu-2', 'annex', 2), false],
    ['the site cap binds', step('pdu-2', 'hall', 100.5), false],
    ['a feed outside the tree counts against the root', step('nowhere', 'hall', 99), true],
    ['an invalid delta is never safe', step('pdu-2', 'hall', Number.NaN), false],
  ])('%s', (_n, s, safe) => {
    expect(stepIsSafe(loads, s, limits)).toBe(safe);
  });
});

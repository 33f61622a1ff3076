import { describe, expect, it } from '@jest/globals';
import { MAX_BATCH_TARGETS } from '@switchyard/queue';
import { deviceBatches, selectMiners, type FleetMiners, type MinerView } from './miner-selection.ts';
import { fleetStateFromMiners } from './ports.ts';

const m = (
  state: MinerView['state'],
  profile: string | null = null,
  powerW: number | null = 3000,
): MinerView => ({
  state,
  profile,
  powerW,
  port: 4028,
});

// Deliberately unsorted, with numeric order differing from text order (10.206.0.10 after .9).
const fleet: FleetMiners = {
  '10.206.0.10': m('hashing', 'normal'),
  '10.206.0.9': m('hashing', 'normal'),
  '10.206.0.2': m('sleeping', null, 30),
  '10.206.0.3': m('offline', null, null),
  '10.206.0.4': m('fault', 'normal'),
  '10.206.0.5': m('unknown', null, null),
  '10.206.0.6': m('hashing', 'eco'),
  '10.206.0.7': m('ramping', 'normal'),
  '10.206.0.8': m('sleeping', null, 30),
  '10.206.0.11': m('hashing', null),
};

const step = (
  kind: 'sleep' | 'wake' | 'set-profile',
  count: number,
  fromProfile = 'normal',
  toProfile = 'asleep',
) => ({
  kind,
  count,
  fromProfile,
  toProfile,
});

describe('selectMiners', () => {
  it('sleeps miners awake at the step’s profile, sorted by host, then awake ones without a profile', () => {
    expect(selectMiners(fleet, step('sleep', 10)).targets.map((t) => t.host)).toEqual([
      '10.206.0.7',
      '10.206.0.9',
      '10.206.0.10',
      '10.206.0.11',
    ]);
    const two = selectMiners(fleet, step('sleep', 2));
    expect(two).toEqual({
      targets: [
        { host: '10.206.0.7', port: 4028 },
        { host: '10.206.0.9', port: 4028 },
      ],
      missing: 0,
    });
  });

  it('never picks offline, faulted or unknown miners, and says how many it could not find', () => {
    const all = selectMiners(fleet, step('sleep', 10));
    expect(all.missing).toBe(6);
    const hosts = all.targets.map((t) => t.host);
    for (const bad of ['10.206.0.3', '10.206.0.4', '10.206.0.5']) expect(hosts).not.toContain(bad);
  });

  it('wakes sleeping miners only', () => {
    expect(selectMiners(fleet, step('wake', 5, 'asleep', 'normal'))).toEqual({
      targets: [
        { host: '10.206.0.2', port: 4028 },
        { host: '10.206.0.8', port: 4028 },
      ],
      missing: 3,
    });
  });

  it('changes profiles of miners at fromProfile and skips hosts taken by earlier steps', () => {
    const r = selectMiners(fleet, step('set-profile', 2, 'eco', 'normal'), new Set(['10.206.0.6']));
    expect(r.targets.map((t) => t.host)).toEqual(['10.206.0.11']);
    expect(r.missing).toBe(1);
  });

  it('is deterministic whatever the input order', () => {
    const reversed = Object.fromEntries(Object.entries(fleet).reverse());
    expect(selectMiners(reversed, step('sleep', 3))).toEqual(selectMiners(fleet, step('sleep', 3)));
  });
});

describe('deviceBatches', () => {
  const fleetStep = {
    id: 'plan-7:0:1:fleet/fa',
    kind: 'sleep' as const,
    fleet: 'fa',
    feed: 'pdu-a',
    toProfile: 'asleep',
    powerTargetW: null,
  };
  const ctx = { planId: 'plan-7', epoch: 3, driver: 'luxos' as const };
  const targets = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ host: `10.206.${i >> 8}.${i & 255}`, port: 4028 }));

  it('makes one batch with a job-safe step id and no part when the targets fit', () => {
    const [b, ...rest] = deviceBatches(fleetStep, targets(3), ctx);
    expect(rest).toEqual([]);
    expect(b).toEqual({
      planId: 'plan-7',
      stepId: 'plan-7.0.1.fleet/fa',
      epoch: 3,
      fleet: 'fa',
      feed: 'pdu-a',
      driver: 'luxos',
      action: 'sleep',
      targets: targets(3),
    });
  });

  it(`splits into parts of at most ${MAX_BATCH_TARGETS} targets`, () => {
    const bs = deviceBatches(fleetStep, targets(MAX_BATCH_TARGETS * 2 + 1), ctx);
    expect(bs.map((b) => [b.part, b.targets.length])).toEqual([
      [0, MAX_BATCH_TARGETS],
      [1, MAX_BATCH_TARGETS],
      [2, 1],
    ]);
    expect(deviceBatches(fleetStep, targets(5), ctx, 2).map((b) => b.targets.length)).toEqual([2, 2, 1]);
  });

  it('carries the profile of a set-profile and the watts of a power target; nothing for no targets', () => {
    expect(
      deviceBatches({ ...fleetStep, kind: 'set-profile', toProfile: 'eco' }, targets(1), ctx)[0],
    ).toMatchObject({
      action: 'set-profile',
      profile: 'eco',
    });
    expect(
      deviceBatches(
        { ...fleetStep, kind: 'set-power-target', toProfile: 'eco', powerTargetW: 2800 },
        targets(1),
        {
          ...ctx,
          driver: 'braiins',
          credentialsRef: 'bos-secret',
        },
      )[0],
    ).toMatchObject({ action: 'set-power-target', watts: 2800, credentialsRef: 'bos-secret' });
    expect(deviceBatches(fleetStep, [], ctx)).toEqual([]);
  });
});

describe('fleetStateFromMiners', () => {
  it('counts settled miners by power and keeps still-drawing sleepers and ramping miners in flight', () => {
    const st = fleetStateFromMiners(
      { ...fleet, '10.206.0.12': m('sleeping', null, 2500) },
      { sleepW: 30, topProfile: 'turbo', now: 1000 },
    );
    expect(st).toEqual({
      asleep: 2,
      byProfile: { normal: 2, eco: 1, turbo: 1 },
      stale: 0,
      offline: 1,
      fault: 1,
      inFlight: [
        { from: 'asleep', to: 'normal', count: 1, since: 1000 },
        { from: 'turbo', to: 'asleep', count: 1, since: 1000 },
      ],
    });
  });
});

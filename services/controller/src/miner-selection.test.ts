import { describe, expect, it } from '@jest/globals';
import { MINER_DRIVERS, findMinerModel, type MinerDriverName } from '@switchyard/domain';
import { WHATSMINER_POWER_PERCENT } from '@switchyard/miners';
import { MAX_BATCH_TARGETS, parsePayload } from '@switchyard/queue';
import {
  firmwareProfileName,
  planProfileName,
  deviceBatches,
  powerPercentFor,
  selectMiners,
  type FleetMiners,
  type MinerView,
} from './miner-selection.ts';
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

describe('Whatsminer steps as power percentages', () => {
  // M50S from the model table: eco 2457 W, normal 3276 W, turbo 3604 W (the top, 100 %).
  const profiles = findMinerModel('M50S')?.profiles ?? [];
  const step = {
    id: 'plan-7:0:1:fleet/wm',
    kind: 'set-profile' as const,
    fleet: 'wm',
    feed: 'pdu-c',
    toProfile: 'eco',
    powerTargetW: 2457,
  };
  const ctx = { planId: 'plan-7', epoch: 3, driver: 'whatsminer' as const, profiles };
  const one = [{ host: '10.206.9.1', port: 4028 }];

  it.each([
    ['eco', 68],
    ['normal', 91],
    ['turbo', 100],
  ])('sends set-profile %s as set-power-percent %i of the top profile', (toProfile, percent) => {
    const [b] = deviceBatches({ ...step, toProfile }, one, ctx);
    expect(b).toEqual({
      planId: 'plan-7',
      stepId: 'plan-7.0.1.fleet/wm',
      epoch: 3,
      fleet: 'wm',
      feed: 'pdu-c',
      driver: 'whatsminer',
      action: 'set-power-percent',
      percent,
      targets: one,
    });
    expect(() => parsePayload('device.batch', b)).not.toThrow();
  });

  it('maps a power target the same way, clamped to the bounds', () => {
    const target = (powerTargetW: number) =>
      deviceBatches({ ...step, kind: 'set-power-target', powerTargetW }, one, ctx)[0];
    expect(target(3000)).toMatchObject({ action: 'set-power-percent', percent: 83 });
    expect(target(5000)).toMatchObject({ action: 'set-power-percent', percent: 100 });
    expect(target(3000)).not.toHaveProperty('watts');
    expect(() => deviceBatches({ ...step, kind: 'set-power-target', powerTargetW: null }, one, ctx)).toThrow(
      /set-power-target without powerTargetW/,
    );
  });

  it('rounds to whole percents and clamps', () => {
    const two = [
      { name: 'low', powerW: 1000 },
      { name: 'high', powerW: 3000 },
    ];
    expect(powerPercentFor(1000, two)).toBe(33);
    expect(powerPercentFor(2985, two)).toBe(100); // 99.5 rounds up
    expect(powerPercentFor(2984, two)).toBe(99);
    expect(powerPercentFor(3600, two)).toBe(WHATSMINER_POWER_PERCENT.max);
    expect(powerPercentFor(0, two)).toBe(WHATSMINER_POWER_PERCENT.min);
    expect(() => powerPercentFor(1000, [])).toThrow(/no profile/);
  });

  it('puts the percent in every part and keeps the credentials', () => {
    const targets = Array.from({ length: 5 }, (_, i) => ({ host: `10.206.9.${i + 1}`, port: 4028 }));
    const bs = deviceBatches(step, targets, { ...ctx, credentialsRef: 'wm-secret' }, 2);
    expect(bs.map((b) => [b.part, b.action, b.percent, b.credentialsRef])).toEqual([
      [0, 'set-power-percent', 68, 'wm-secret'],
      [1, 'set-power-percent', 68, 'wm-secret'],
      [2, 'set-power-percent', 68, 'wm-secret'],
    ]);
  });

  it('refuses a step it cannot convert: no profiles given, or an unknown target profile', () => {
    expect(() => deviceBatches(step, one, { ...ctx, profiles: undefined })).toThrow(
      /a Whatsminer set-profile needs the fleet's profiles/,
    );
    expect(() => deviceBatches({ ...step, toProfile: 'boost' }, one, ctx)).toThrow(
      /fleet wm has no profile "boost"/,
    );
  });

  it('leaves sleep and wake, and the other firmwares, as they were', () => {
    expect(deviceBatches({ ...step, kind: 'sleep', toProfile: 'asleep' }, one, ctx)[0]).toMatchObject({
      action: 'sleep',
    });
    expect(deviceBatches({ ...step, kind: 'wake' }, one, ctx)[0]).not.toHaveProperty('percent');
    expect(deviceBatches(step, one, { ...ctx, driver: 'luxos' })[0]).toMatchObject({
      action: 'set-profile',
      profile: 'eco',
    });
  });

  // What the sequencer emits between two awake profiles (sequence.ts): Braiins a power
  // target, every other firmware a profile; each must become a control that firmware has.
  const CONTROL: Record<MinerDriverName, string> = {
    antminer: 'set-profile',
    luxos: 'set-profile',
    braiins: 'set-power-target',
    whatsminer: 'set-power-percent',
  };
  it.each(MINER_DRIVERS)('sends %s a control it has for every step kind the sequencer emits', (driver) => {
    const kind = driver === 'braiins' ? ('set-power-target' as const) : ('set-profile' as const);
    const actions = (['sleep', 'wake', kind] as const).map(
      (k) => deviceBatches({ ...step, kind: k }, one, { ...ctx, driver })[0]?.action,
    );
    expect(actions).toEqual(['sleep', 'wake', CONTROL[driver]]);
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

describe('Antminer profile names', () => {
  const profiles = [
    { name: 'eco', powerW: 2750 },
    { name: 'normal', powerW: 3250 },
    { name: 'turbo', powerW: 3600 },
  ];
  it('sends the top profile as "normal" and any lower one as "low-power"', () => {
    expect(firmwareProfileName('antminer', profiles, 'turbo')).toBe('normal');
    expect(firmwareProfileName('antminer', profiles, 'normal')).toBe('low-power');
    expect(firmwareProfileName('antminer', profiles, 'eco')).toBe('low-power');
    expect(firmwareProfileName('luxos', profiles, 'eco')).toBe('eco');
  });
  it('reads "normal" back as the top profile and "low-power" as the lowest', () => {
    expect(planProfileName('antminer', profiles, 'normal')).toBe('turbo');
    expect(planProfileName('antminer', profiles, 'low-power')).toBe('eco');
    expect(planProfileName('antminer', profiles, null)).toBeNull();
    expect(planProfileName('braiins', profiles, 'normal')).toBe('normal');
  });
});

describe('a sleep takes any awake miner when too few report the step’s profile', () => {
  it('falls back to miners reporting a profile the fleet does not name, after the exact ones', () => {
    const v = (profile: string | null) => ({ state: 'hashing' as const, profile, powerW: 3000, port: 80 });
    const miners = { '10.0.0.1': v('tuner-3300'), '10.0.0.2': v('normal'), '10.0.0.3': v(null) };
    const step = { kind: 'sleep' as const, count: 3, fromProfile: 'normal', toProfile: 'asleep' };
    const known = new Set(['eco', 'normal']);
    expect(selectMiners(miners, step, new Set(), known).targets.map((t) => t.host)).toEqual([
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.1',
    ]);
    // a miner at another profile the fleet names is left for a step from that profile
    const atEco = { ...miners, '10.0.0.4': v('eco') };
    expect(selectMiners(atEco, { ...step, count: 4 }, new Set(), known)).toMatchObject({ missing: 1 });
    const lower = { kind: 'set-profile' as const, count: 3, fromProfile: 'normal', toProfile: 'eco' };
    expect(selectMiners(miners, lower, new Set(), known)).toMatchObject({ missing: 1 });
  });
});

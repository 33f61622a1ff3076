// Reply shapes as Braiins OS 25.07+ sends them (the firmware's published OpenAPI document,
// API 1.7, including its own examples), plus hostile and partial variants.
import { describe, expect, it } from '@jest/globals';
import { normalizeMac } from '../json-readers.ts';
import {
  parseBraiinsConstraints,
  parseBraiinsDetails,
  parseBraiinsFans,
  parseBraiinsHashboards,
  parseBraiinsLogin,
  parseBraiinsPools,
  parseBraiinsStats,
  parseBraiinsTunerState,
} from './braiins-parse.ts';

const STATS = {
  miner_stats: {
    found_blocks: 0,
    best_share: 1_200_000,
    best_share_str: '1200000',
    nominal_hashrate: { gigahash_per_second: 104_000 },
    error_hashrate: { megahash_per_second: 12.5 },
    real_hashrate: {
      last_5s: { gigahash_per_second: 103_412.5 },
      last_15s: { gigahash_per_second: 103_500 },
      last_1m: { gigahash_per_second: 103_900 },
      since_restart: { gigahash_per_second: 102_876.25 },
    },
  },
  pool_stats: {
    accepted_shares: 1000,
    rejected_shares: 10,
    stale_shares: 5,
    last_difficulty: 800_000,
    best_share: 1_200_000,
    best_share_str: '1200000',
    generated_work: 5_000_000,
    last_share_time: { seconds: 1_741_260_910, nanos: 255_441_271 },
  },
  power_stats: { approximated_consumption: { watt: 3052 }, efficiency: { joule_per_terahash: 29.51 } },
};

const details = (status: unknown, extra: Record<string, unknown> = {}) => ({
  uid: 'Xy7a1',
  platform: 1,
  bos_mode: 1,
  hostname: 'miner-01',
  mac_address: '02:1a:2b:3c:4d:5e',
  system_uptime: 9000,
  system_uptime_s: 9000,
  bosminer_uptime_s: 8000,
  status: 2,
  kernel_version: '5.15.0',
  control_board_soc_family: 1,
  miner_identity: { brand: 1, model: 0, name: 'Antminer S19j Pro', miner_model: 'Antminer S19j Pro' },
  bos_version: { current: '25.07-plus', major: '25.07', bos_plus: true },
  serial_number: 'JYZZ123',
  detailed_status:
    status === undefined ? undefined : { status, status_since: { seconds: 1_741_260_900, nanos: 0 } },
  ...extra,
});

describe('parseBraiinsStats', () => {
  it('reads hashrate (GH/s → TH/s), the firmware power figure and efficiency', () => {
    expect(parseBraiinsStats(STATS)).toEqual({
      hashrateThs: 103.4125,
      hashrateAvgThs: 102.87625,
      nominalThs: 104,
      powerW: 3052,
      efficiencyJth: 29.51,
      accepted: 1000,
      rejected: 10,
    });
  });

  it('falls back to longer windows and returns nulls for a paused miner with no stats', () => {
    expect(
      parseBraiinsStats({ miner_stats: { real_hashrate: { last_1m: { gigahash_per_second: 5000 } } } })
        .hashrateThs,
    ).toBe(5);
    expect(parseBraiinsStats({ miner_stats: null, pool_stats: null, power_stats: null })).toEqual({
      hashrateThs: null,
      hashrateAvgThs: null,
      nominalThs: null,
      powerW: null,
      efficiencyJth: null,
      accepted: null,
      rejected: null,
    });
  });

  it('treats absurd or wrongly typed values as missing', () => {
    const s = parseBraiinsStats({
      miner_stats: {
        real_hashrate: {
          last_5s: { gigahash_per_second: 1e15 },
          since_restart: { gigahash_per_second: 'x' },
        },
      },
      power_stats: { approximated_consumption: { watt: -5 }, efficiency: { joule_per_terahash: Infinity } },
    });
    expect([s.hashrateThs, s.hashrateAvgThs, s.powerW, s.efficiencyJth]).toEqual([null, null, null, null]);
  });
});

describe('parseBraiinsDetails', () => {
  it('reads identity and a normally running miner', () => {
    const d = parseBraiinsDetails(details({ running: { reason: { normal: {} } } }));
    expect(d).toMatchObject({
      make: 'Bitmain',
      model: 'S19j Pro',
      firmware: '25.07-plus',
      hostname: 'miner-01',
      mac: '02:1A:2B:3C:4D:5E',
      uptimeS: 8000,
      state: 'hashing',
      reasons: [],
      paused: false,
      running: true,
    });
  });

  it.each([
    [{ running: { reason: { preheating: {} } } }, 'ramping', ['preheating'], false, true],
    [{ starting: { reason: { delayed_start: {} } } }, 'ramping', ['delayed_start'], false, true],
    [{ stopped: { reason: { user_pause: {} } } }, 'sleeping', [], true, false],
    [{ stopping: { reason: { user_pause: {} } } }, 'ramping', ['stopping: user_pause'], true, false],
    [
      { stopped: { reason: { thermal_pause: { reason: 'THERMAL_PAUSE_REASON_BROKEN_FANS' } } } },
      'fault',
      ['thermal_pause: THERMAL_PAUSE_REASON_BROKEN_FANS'],
      false,
      false,
    ],
    [
      { stopped: { reason: { unsupported_hardware: { errors: ['Hashboard 1 not detected'] } } } },
      'fault',
      ['unsupported_hardware'],
      false,
      false,
    ],
    [
      { stopped: { reason: { tuner_error: { message: 'tuning failed' } } } },
      'fault',
      ['tuner_error: tuning failed'],
      false,
      false,
    ],
  ])('maps detailed status %j to %s', (status, state, reasons, paused, running) => {
    const d = parseBraiinsDetails(details(status));
    expect([d.state, d.reasons, d.paused, d.running]).toEqual([state, reasons, paused, running]);
  });

  it('falls back to the deprecated integer status on older builds', () => {
    expect(parseBraiinsDetails(details(undefined, { status: 3 }))).toMatchObject({
      state: 'sleeping',
      paused: true,
    });
    expect(parseBraiinsDetails(details(undefined, { status: 2 }))).toMatchObject({
      state: 'hashing',
      running: true,
    });
    expect(parseBraiinsDetails(details(undefined, { status: 4 })).state).toBe('fault');
    expect(parseBraiinsDetails({}).state).toBe('fault');
  });

  it('never throws on junk and bounds strings', () => {
    for (const junk of [null, 42, 'x', [], { miner_identity: 7, hostname: { a: 1 } }]) {
      expect(() => parseBraiinsDetails(junk)).not.toThrow();
    }
    expect(parseBraiinsDetails({ hostname: 'h'.repeat(10_000) }).hostname).toHaveLength(253);
    expect(normalizeMac('not-a-mac')).toBeNull();
  });
});

describe('the other endpoints', () => {
  it('parseBraiinsLogin wants a token without spaces; timeout defaults to an hour', () => {
    expect(parseBraiinsLogin({ token: 'abc', timeout_s: 3600 })).toEqual({ token: 'abc', timeoutS: 3600 });
    expect(parseBraiinsLogin({ token: 'abc' })).toEqual({ token: 'abc', timeoutS: 3600 });
    expect(parseBraiinsLogin({ token: 'a b' })).toBeNull();
    expect(parseBraiinsLogin({})).toBeNull();
  });

  it('parseBraiinsTunerState reads the power-target mode (the firmware example)', () => {
    const body = {
      mode_state: {
        powertargetmodestate: {
          current_target: { watt: 3000 },
          profile: {
            created: { nanos: 0, seconds: 1_744_000_000 },
            estimated_power_consumption: { watt: 2980 },
            measured_hashrate: { gigahash_per_second: 12345.0 },
            target: { watt: 3000 },
          },
        },
      },
      overall_tuner_state: 1,
    };
    expect(parseBraiinsTunerState(body)).toEqual({ targetW: 3000, estimatedW: 2980 });
    expect(parseBraiinsTunerState({ mode_state: { hashratetargetmodestate: {} } })).toEqual({
      targetW: null,
      estimatedW: null,
    });
  });

  it('parseBraiinsHashboards skips disabled boards and reads temperatures', () => {
    const boards = parseBraiinsHashboards({
      hashboards: [
        {
          id: '1',
          enabled: true,
          chips_count: 126,
          board_temp: { degree_c: 58.5 },
          highest_chip_temp: { location: 1, temperature: { degree_c: 71.25 } },
          stats: { real_hashrate: { last_5s: { gigahash_per_second: 34_500 } } },
        },
        { id: '2', enabled: false },
        { id: '3', enabled: true, board_temp: { degree_c: 900 } },
      ],
    });
    expect(boards).toEqual([
      { index: 1, hashrateThs: 34.5, chipTempC: 71.25, boardTempC: 58.5, chips: 126 },
      { index: 3, hashrateThs: null, chipTempC: null, boardTempC: null, chips: null },
    ]);
  });

  it('parseBraiinsFans, parseBraiinsPools and parseBraiinsConstraints', () => {
    expect(
      parseBraiinsFans({
        fans: [{ position: 0, rpm: 4020 }, { rpm: -1 }, { rpm: 3990, target_speed_ratio: 0.5 }],
      }),
    ).toEqual([4020, 3990]);
    expect(
      parseBraiinsPools([
        {
          name: 'High Performance',
          uid: 'group1',
          pools: [
            {
              active: true,
              alive: true,
              enabled: true,
              uid: 'pool1',
              url: 'stratum+tcp://pool.example.com:3333',
              user: 'miner1',
            },
            {
              active: false,
              alive: false,
              enabled: true,
              uid: 'pool2',
              url: 'stratum+tcp://backup:3333',
              user: 'miner1',
            },
          ],
        },
      ]),
    ).toEqual([
      { url: 'stratum+tcp://pool.example.com:3333', user: 'miner1', status: 'Active', priority: 0 },
      { url: 'stratum+tcp://backup:3333', user: 'miner1', status: 'Dead', priority: 1 },
    ]);
    expect(
      parseBraiinsConstraints({
        tuner_constraints: {
          default_mode: 1,
          power_target: { min: { watt: 1700 }, max: { watt: 6500 }, default: { watt: 3250 } },
        },
      }),
    ).toEqual({ minW: 1700, maxW: 6500, defaultW: 3250 });
    expect(
      parseBraiinsConstraints({
        tuner_constraints: { power_target: { min: { watt: 5000 }, max: { watt: 100 } } },
      }),
    ).toBeNull();
    expect(parseBraiinsConstraints({})).toBeNull();
  });
});

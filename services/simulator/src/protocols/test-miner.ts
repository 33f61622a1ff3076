// A small, deterministic SimMinerView for protocol-server tests: no physics, no clock of its
// own. Time moves only when the test calls advance(seconds). States: hashing, sleeping,
// ramping (after a wake or a reboot, for rampSeconds), offline (during a reboot), fault (set by
// the test). Power and hashrate come straight from the active profile (or power target, or
// power percent); a ramp scales them linearly. Every control is logged and idempotent.
import { findMinerModel } from '@switchyard/domain';
import type { PowerProfile } from '@switchyard/domain';
import type {
  SimBoard,
  SimFault,
  SimMinerIdentity,
  SimMinerState,
  SimMinerView,
  SimObservation,
} from '../model/sim-miner-api.ts';
import { hash32, mulberry32 } from '../model/prng.ts';

export interface TestMinerOptions {
  /** Identity fields to override; profiles/nameplate default from the model table. */
  id?: Partial<SimMinerIdentity>;
  /** Initial state (default hashing). */
  state?: Extract<SimMinerState, 'hashing' | 'sleeping' | 'fault' | 'offline'>;
  /** Initial profile (default "normal", else the highest). */
  profile?: string;
  fault?: SimFault | null;
  quirkRate?: number;
  /** Seed of random() (default: a hash of the serial number). */
  seed?: number;
  credentials?: { username: string; password: string };
  /** Length of a wake ramp in seconds (default 60). */
  rampSeconds?: number;
  /** Time offline during a reboot in seconds (default 30). */
  rebootSeconds?: number;
  /** Hash boards (default 3) and chips per board (default 76). */
  boards?: number;
  chipsPerBoard?: number;
  ambientC?: number;
  /** Seconds since the mining process started, at creation (default 3600). */
  uptimeS?: number;
}

export interface TestMiner extends SimMinerView {
  /** Writable in tests. */
  fault: SimFault | null;
  quirkRate: number;
  /** Moves simulated time forward. */
  advance(seconds: number): void;
  /** Simulated seconds since creation. */
  readonly elapsedS: number;
  /** Every control call, e.g. "sleep", "wake", "setProfile:eco", "setPowerTarget:3000". */
  readonly calls: string[];
  /** Control calls that changed something (a repeated sleep does not count). */
  readonly changes: string[];
  /** Puts the miner in the fault state with a reason (cleared by a reboot). */
  setFaulted(reason: string | null): void;
}

const DEFAULT_MODEL = 'S19 Pro';

function defaultIdentity(over: Partial<SimMinerIdentity>): SimMinerIdentity {
  const modelName = over.model ?? DEFAULT_MODEL;
  const model = findMinerModel(modelName);
  const profiles: readonly PowerProfile[] = over.profiles ??
    model?.profiles ?? [{ name: 'normal', powerW: 3250, hashrateThs: 110 }];
  const top = [...profiles].sort((a, b) => b.powerW - a.powerW)[0] as PowerProfile;
  const nameplateW = over.nameplateW ?? model?.nameplateW ?? top.powerW;
  const driver = over.driver ?? model?.drivers[0] ?? 'antminer';
  const serial = over.serial ?? `TEST${hash32(`${modelName}/${over.simHost ?? '127.0.0.1'}`).toString(16)}`;
  return {
    fleet: 'test',
    farmHost: '10.0.0.1',
    simHost: '127.0.0.1',
    driver,
    make: model?.make ?? 'Bitmain',
    model: modelName,
    firmwareVersion: driver === 'luxos' ? '2024.6.10.205339-0e99f25e' : 'Thu Feb 10 17:22:32 CST 2022',
    mac: '02:00:00:00:00:01',
    hostname: 'antminer-test',
    serial,
    profiles,
    nameplateW,
    sleepW: model?.sleepW ?? 30,
    powerTargetBoundsW: { min: Math.round(nameplateW * 0.5), max: Math.round(nameplateW * 1.1) },
    ...over,
  };
}

/** Builds a deterministic fake miner. See TestMinerOptions for the defaults. */
export function createTestMiner(overrides: TestMinerOptions = {}): TestMiner {
  const id = defaultIdentity(overrides.id ?? {});
  const rampSeconds = overrides.rampSeconds ?? 60;
  const rebootSeconds = overrides.rebootSeconds ?? 30;
  const boardCount = overrides.boards ?? 3;
  const chips = overrides.chipsPerBoard ?? 76;
  const ambientC = overrides.ambientC ?? 25;
  const rand = mulberry32(overrides.seed ?? hash32(id.serial));
  const byName = new Map(id.profiles.map((p) => [p.name, p]));
  const sortedProfiles = [...id.profiles].sort((a, b) => a.powerW - b.powerW);
  const initialProfile =
    overrides.profile ?? (byName.has('normal') ? 'normal' : (sortedProfiles.at(-1)?.name ?? 'normal'));

  let t = 0; // simulated seconds
  let state: SimMinerState = overrides.state ?? 'hashing';
  let stateSince = 0;
  let profile: string | null = initialProfile;
  let powerTargetW: number | null = null;
  let powerPercent: number | null = null;
  let processStart = -(overrides.uptimeS ?? 3600);
  let faultReason: string | null = state === 'fault' ? 'test fault' : null;
  let accepted = 1000;
  const rejected = 3;
  const calls: string[] = [];
  const changes: string[] = [];

  const miner: TestMiner = {
    id,
    fault: overrides.fault ?? null,
    quirkRate: overrides.quirkRate ?? 0,
    credentials: overrides.credentials ?? { username: 'root', password: 'root' },
    calls,
    changes,
    get elapsedS() {
      return t;
    },

    random: () => rand(),

    advance(seconds: number) {
      t += Math.max(0, seconds);
      if (state === 'offline' && t - stateSince >= rebootSeconds) {
        state = 'ramping';
        stateSince = stateSince + rebootSeconds;
        processStart = stateSince;
      }
      if (state === 'ramping' && miner.fault !== 'stuck-ramp' && t - stateSince >= rampSeconds) {
        state = 'hashing';
        stateSince += rampSeconds;
      }
      if (state === 'hashing') accepted += Math.floor(seconds / 10);
    },

    observe(): SimObservation {
      const full = fullLoad();
      let fraction = 0;
      if (state === 'hashing') fraction = 1;
      else if (state === 'ramping') fraction = Math.min(1, (t - stateSince) / rampSeconds);
      const hashrate = round1(full.hashrateThs * fraction);
      let powerW: number;
      if (state === 'offline') powerW = 0;
      else if (state === 'sleeping' || state === 'fault') powerW = id.sleepW;
      else powerW = Math.round(id.sleepW + (full.powerW - id.sleepW) * fraction);
      const running = state === 'hashing' || state === 'ramping';
      const boards: SimBoard[] = [];
      for (let i = 0; i < boardCount; i++) {
        const boardTemp = round1(ambientC + (running ? 35 * fraction : 5) + i);
        boards.push({
          index: i,
          hashrateThs: round1(hashrate / boardCount),
          chips,
          chipTempsC: [boardTemp + 10, boardTemp + 12, boardTemp + 25, boardTemp + 26].map(round1),
          boardTempC: boardTemp,
        });
      }
      const fanRpm = running ? Math.round(3000 + 3000 * fraction) : state === 'offline' ? 0 : 1200;
      const uptimeS = state === 'offline' ? 0 : Math.max(0, Math.round(t - processStart));
      return {
        state,
        powerW,
        hashrateThs: hashrate,
        hashrateAvgThs: running ? round1(full.hashrateThs * 0.998) : 0,
        boards,
        fans: [fanRpm, fanRpm + 60, fanRpm + 30, fanRpm + 90],
        uptimeS,
        profile,
        powerTargetW,
        powerPercent,
        ambientC,
        accepted,
        rejected,
        rampRemainingS: state === 'ramping' ? Math.max(0, rampSeconds - (t - stateSince)) : 0,
        reasons: state === 'fault' && faultReason ? [faultReason] : [],
      };
    },

    sleep() {
      calls.push('sleep');
      if (state === 'hashing' || state === 'ramping') {
        state = 'sleeping';
        stateSince = t;
        changes.push('sleep');
      }
    },

    wake() {
      calls.push('wake');
      if (state === 'sleeping') {
        state = 'ramping';
        stateSince = t;
        processStart = t;
        changes.push('wake');
      }
    },

    setProfile(name: string) {
      calls.push(`setProfile:${name}`);
      if (!byName.has(name)) return `unknown profile "${name}"`;
      if (profile !== name || powerTargetW !== null || powerPercent !== null) {
        profile = name;
        powerTargetW = null;
        powerPercent = null;
        changes.push(`setProfile:${name}`);
      }
      return null;
    },

    setPowerTarget(watts: number) {
      calls.push(`setPowerTarget:${watts}`);
      const b = id.powerTargetBoundsW;
      if (!Number.isFinite(watts) || watts < b.min || watts > b.max) {
        return `power target ${watts} W outside [${b.min}, ${b.max}]`;
      }
      if (powerTargetW !== watts) {
        powerTargetW = watts;
        profile = null;
        changes.push(`setPowerTarget:${watts}`);
      }
      return null;
    },

    setPowerPercent(percent: number) {
      calls.push(`setPowerPercent:${percent}`);
      if (!Number.isFinite(percent) || percent < 0 || percent > 100)
        return `power percent ${percent} outside [0, 100]`;
      if (powerPercent !== percent) {
        powerPercent = percent;
        changes.push(`setPowerPercent:${percent}`);
      }
      return null;
    },

    reboot() {
      calls.push('reboot');
      state = 'offline';
      stateSince = t;
      faultReason = null;
      changes.push('reboot');
    },

    setFaulted(reason: string | null) {
      if (reason === null) {
        if (state === 'fault') {
          state = 'hashing';
          stateSince = t;
        }
        faultReason = null;
      } else {
        state = 'fault';
        stateSince = t;
        faultReason = reason;
      }
    },
  };

  /** Draw and hashrate at full ramp for the current setting. */
  function fullLoad(): { powerW: number; hashrateThs: number } {
    const base =
      (profile !== null ? byName.get(profile) : undefined) ?? byName.get('normal') ?? sortedProfiles.at(-1);
    let powerW = base?.powerW ?? id.nameplateW;
    let hashrateThs = base?.hashrateThs ?? 100;
    if (powerTargetW !== null && base) {
      hashrateThs = (hashrateThs * powerTargetW) / powerW;
      powerW = powerTargetW;
    }
    if (powerPercent !== null) {
      powerW = (powerW * powerPercent) / 100;
      hashrateThs = (hashrateThs * powerPercent) / 100;
    }
    return { powerW, hashrateThs };
  }

  return miner;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

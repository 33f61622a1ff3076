// Validators for the Braiins OS Public REST API replies (shapes from the firmware's published
// OpenAPI document, API 1.7 / Braiins OS 25.07; see docs/miners.md). Every
// function takes untrusted JSON and returns plain values, null where a field is missing or
// implausible. A reply that is not even an object is a protocol error for the caller.
import type { BoardTelemetry, MinerState, PoolTelemetry } from '../telemetry.ts';
import {
  arr,
  at,
  bool,
  inRange,
  isObject,
  normalizeMac,
  num,
  RANGE,
  str,
  type Json,
} from '../json-readers.ts';

export interface BraiinsLogin {
  token: string;
  /** Sliding validity: each request refreshes it to this many seconds. */
  timeoutS: number;
}

export function parseBraiinsLogin(body: Json): BraiinsLogin | null {
  const token = str(at(body, 'token'), 4096);
  if (!token || /\s/.test(token)) return null;
  const timeoutS = num(at(body, 'timeout_s'), 0, 30 * 86_400) ?? 3600;
  return { token, timeoutS };
}

export interface BraiinsStats {
  hashrateThs: number | null;
  hashrateAvgThs: number | null;
  nominalThs: number | null;
  /** power_stats.approximated_consumption: the firmware's own power figure. */
  powerW: number | null;
  efficiencyJth: number | null;
  accepted: number | null;
  rejected: number | null;
}

const ghsToThs = (v: Json): number | null => {
  const ghs = num(at(v, 'gigahash_per_second'), 0, RANGE.hashrateThs[1] * 1000);
  return ghs === null ? null : ghs / 1000;
};

export function parseBraiinsStats(body: Json): BraiinsStats {
  const real = at(body, 'miner_stats', 'real_hashrate');
  const short =
    ghsToThs(at(real, 'last_5s')) ?? ghsToThs(at(real, 'last_15s')) ?? ghsToThs(at(real, 'last_30s'));
  return {
    hashrateThs: short ?? ghsToThs(at(real, 'last_1m')),
    hashrateAvgThs: ghsToThs(at(real, 'since_restart')) ?? ghsToThs(at(real, 'last_1h')),
    nominalThs: ghsToThs(at(body, 'miner_stats', 'nominal_hashrate')),
    powerW: inRange(at(body, 'power_stats', 'approximated_consumption', 'watt'), RANGE.powerW),
    efficiencyJth: inRange(at(body, 'power_stats', 'efficiency', 'joule_per_terahash'), RANGE.jth),
    accepted: num(at(body, 'pool_stats', 'accepted_shares'), 0),
    rejected: num(at(body, 'pool_stats', 'rejected_shares'), 0),
  };
}

export interface BraiinsDetails {
  make: string | null;
  model: string | null;
  firmware: string | null;
  hostname: string | null;
  mac: string | null;
  serial: string | null;
  uptimeS: number | null;
  state: MinerState;
  /** Why the miner is not hashing normally, when it says. */
  reasons: string[];
  /** True when the miner is paused or pausing (for idempotent sleep). */
  paused: boolean;
  /** True when the miner is running or starting (for idempotent wake). */
  running: boolean;
}

// MinerStatus of the deprecated integer field: 0 unspecified, 1 not started, 2 normal,
// 3 paused, 4 suspended, 5 restricted (bos.v1 miner.proto).
const LEGACY_STATUS: Record<number, { state: MinerState; reason?: string }> = {
  1: { state: 'sleeping', reason: 'not started' },
  2: { state: 'hashing' },
  3: { state: 'sleeping' },
  4: { state: 'fault', reason: 'suspended' },
  5: { state: 'hashing', reason: 'restricted (license)' },
};

/** The single key of a one-of object ({"running":{...}} → "running"). */
function oneOf(v: Json): [string, Json] | null {
  if (!isObject(v)) return null;
  const keys = Object.keys(v);
  return keys.length === 1 ? [keys[0] as string, v[keys[0] as string]] : null;
}

function detailedState(status: Json): { state: MinerState; reason: string | null } | null {
  const phase = oneOf(at(status, 'status'));
  if (!phase) return null;
  const reason = oneOf(at(phase[1], 'reason'));
  const why = reason ? reason[0].slice(0, 64) : null;
  switch (phase[0]) {
    case 'running':
      return why === 'preheating' ? { state: 'ramping', reason: why } : { state: 'hashing', reason: null };
    case 'starting':
      return { state: 'ramping', reason: why ?? 'starting' };
    case 'stopping':
      return { state: 'ramping', reason: `stopping${why ? `: ${why}` : ''}` };
    case 'stopped': {
      if (why === 'user_pause' || why === 'dps_cooldown' || why === null || why === 'unspecified') {
        return { state: 'sleeping', reason: why === 'user_pause' || why === null ? null : why };
      }
      const detail = reason ? (str(at(reason[1], 'reason'), 80) ?? str(at(reason[1], 'message'), 160)) : null;
      return { state: 'fault', reason: detail ? `${why}: ${detail}` : why };
    }
    default:
      return null;
  }
}

function splitModel(name: string | null): { make: string | null; model: string | null } {
  if (!name) return { make: null, model: null };
  const m = /^(antminer|whatsminer|avalon(?:miner)?)\s+(.+)$/i.exec(name);
  if (!m) return { make: null, model: name };
  const brand = (m[1] as string).toLowerCase();
  const make = brand === 'antminer' ? 'Bitmain' : brand === 'whatsminer' ? 'MicroBT' : 'Canaan';
  return { make, model: (m[2] as string).trim() };
}

export function parseBraiinsDetails(body: Json): BraiinsDetails {
  const identity = at(body, 'miner_identity');
  const named = splitModel(str(at(identity, 'miner_model'), 64) ?? str(at(identity, 'name'), 64));
  const brand = num(at(identity, 'brand'), 0, 100);
  const make = named.make ?? (brand === 1 ? 'Bitmain' : brand === 2 ? 'MicroBT' : null);

  const reasons: string[] = [];
  let state: MinerState = 'fault';
  const detailed = detailedState(at(body, 'detailed_status'));
  const rawPhase = oneOf(at(body, 'detailed_status', 'status'));
  if (detailed) {
    state = detailed.state;
    if (detailed.reason) reasons.push(detailed.reason);
  } else {
    const legacy = LEGACY_STATUS[num(at(body, 'status'), 0, 10) ?? 0];
    if (legacy) {
      state = legacy.state;
      if (legacy.reason) reasons.push(legacy.reason);
    } else reasons.push('status not reported');
  }
  const legacyStatus = num(at(body, 'status'), 0, 10);
  const pauseReason = rawPhase ? oneOf(at(rawPhase[1], 'reason'))?.[0] : undefined;
  const paused = rawPhase
    ? (rawPhase[0] === 'stopped' || rawPhase[0] === 'stopping') &&
      (pauseReason === 'user_pause' || pauseReason === undefined)
    : legacyStatus === 3;
  const running = rawPhase
    ? rawPhase[0] === 'running' || rawPhase[0] === 'starting'
    : legacyStatus === 2 || legacyStatus === 5;

  return {
    make,
    model: named.model,
    firmware: str(at(body, 'bos_version', 'current'), 64),
    hostname: str(at(body, 'hostname'), 253),
    mac: normalizeMac(str(at(body, 'mac_address'), 32)),
    serial: str(at(body, 'serial_number'), 64),
    uptimeS: inRange(at(body, 'bosminer_uptime_s'), RANGE.uptimeS),
    state,
    reasons,
    paused,
    running,
  };
}

export interface BraiinsTuner {
  /** The current power target (W), when the tuner runs on a power target. */
  targetW: number | null;
  /** The tuned profile's estimated consumption (W). */
  estimatedW: number | null;
}

export function parseBraiinsTunerState(body: Json): BraiinsTuner {
  const mode = at(body, 'mode_state', 'powertargetmodestate');
  return {
    targetW: inRange(at(mode, 'current_target', 'watt'), RANGE.powerW),
    estimatedW: inRange(at(mode, 'profile', 'estimated_power_consumption', 'watt'), RANGE.powerW),
  };
}

export function parseBraiinsHashboards(body: Json): BoardTelemetry[] {
  return arr(at(body, 'hashboards'), 16).flatMap((hb, i): BoardTelemetry[] => {
    if (!isObject(hb) || bool(hb.enabled) === false) return [];
    const id = num(hb.id, 0, 64);
    return [
      {
        index: id ?? i,
        hashrateThs:
          ghsToThs(at(hb, 'stats', 'real_hashrate', 'last_5s')) ??
          ghsToThs(at(hb, 'stats', 'real_hashrate', 'last_1m')),
        chipTempC: inRange(at(hb, 'highest_chip_temp', 'temperature', 'degree_c'), RANGE.tempC),
        boardTempC: inRange(at(hb, 'board_temp', 'degree_c'), RANGE.tempC),
        chips: inRange(hb.chips_count, RANGE.chips),
      },
    ];
  });
}

export function parseBraiinsFans(body: Json): number[] {
  return arr(at(body, 'fans'), 16).flatMap((f) => {
    const rpm = inRange(at(f, 'rpm'), RANGE.fanRpm);
    return rpm === null ? [] : [rpm];
  });
}

export function parseBraiinsPools(body: Json): PoolTelemetry[] {
  const groups = Array.isArray(body) ? body.slice(0, 8) : [];
  return groups.flatMap((g) =>
    arr(at(g, 'pools'), 8).flatMap((p, i): PoolTelemetry[] => {
      const url = str(at(p, 'url'), 256);
      if (!url) return [];
      const alive = bool(at(p, 'alive'));
      const active = bool(at(p, 'active'));
      const enabled = bool(at(p, 'enabled'));
      const status =
        enabled === false
          ? 'Disabled'
          : alive === false
            ? 'Dead'
            : active
              ? 'Active'
              : alive
                ? 'Alive'
                : null;
      return [{ url, user: str(at(p, 'user'), 128), status, priority: i }];
    }),
  );
}

export interface BraiinsPowerBounds {
  minW: number;
  maxW: number;
  defaultW: number | null;
}

export function parseBraiinsConstraints(body: Json): BraiinsPowerBounds | null {
  const pt = at(body, 'tuner_constraints', 'power_target');
  const minW = inRange(at(pt, 'min', 'watt'), RANGE.powerW);
  const maxW = inRange(at(pt, 'max', 'watt'), RANGE.powerW);
  if (minW === null || maxW === null || minW > maxW) return null;
  return { minW, maxW, defaultW: inRange(at(pt, 'default', 'watt'), RANGE.powerW) };
}

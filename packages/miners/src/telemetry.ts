// Normalized telemetry: the same shape for every firmware (documented in docs/miners.md).
// A value the firmware does not report is null; an estimate is never presented as measured.
import type { MinerDriverName } from '@switchyard/domain';

export const MINER_STATES = ['hashing', 'sleeping', 'ramping', 'fault', 'offline'] as const;
export type MinerState = (typeof MINER_STATES)[number];

export type PowerSource = 'measured' | 'estimated' | 'nameplate';

export interface BoardTelemetry {
  index: number;
  hashrateThs: number | null;
  chipTempC: number | null;
  boardTempC: number | null;
  chips: number | null;
}

export interface PoolTelemetry {
  url: string;
  user: string | null;
  status: string | null;
  priority: number | null;
}

export interface MinerTelemetry {
  host: string;
  port: number;
  driver: MinerDriverName | null;
  make: string | null;
  model: string | null;
  firmware: string | null;
  state: MinerState;
  /** Short-window hashrate (e.g. 5 s). */
  hashrateThs: number | null;
  /** Average since start. */
  hashrateAvgThs: number | null;
  powerW: number | null;
  /** How powerW was obtained; null when powerW is null. */
  powerSource: PowerSource | null;
  efficiencyJth: number | null;
  boards: BoardTelemetry[];
  fans: number[];
  pools: PoolTelemetry[];
  uptimeS: number | null;
  profile: string | null;
  /** Why the miner is degraded, faulted or offline; empty when healthy. */
  errors: string[];
}

/** A telemetry record for a miner that could not be read at all. */
export function unreachableTelemetry(
  host: string,
  port: number,
  state: 'fault' | 'offline',
  reason: string,
  driver: MinerDriverName | null = null,
): MinerTelemetry {
  return {
    host,
    port,
    driver,
    make: null,
    model: null,
    firmware: null,
    state,
    hashrateThs: null,
    hashrateAvgThs: null,
    powerW: null,
    powerSource: null,
    efficiencyJth: null,
    boards: [],
    fans: [],
    pools: [],
    uptimeS: null,
    profile: null,
    errors: [reason],
  };
}

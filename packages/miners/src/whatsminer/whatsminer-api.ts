// What the Whatsminer driver needs from either API generation (v2 on 4028, v3 on 4433), and
// the telemetry record both build.
import type { MinerIdentity } from '../driver.ts';
import type { BoardTelemetry, MinerState, MinerTelemetry, PoolTelemetry } from '../telemetry.ts';
import { round } from '../json-readers.ts';
import {
  efficiencyJth,
  estimatePower,
  powerReference,
  type PowerReferenceOptions,
} from '../power-estimate.ts';

export type WhatsminerApiGeneration = 'v2' | 'v3';

/** identify() says which API the driver chose and the version the firmware reports. */
export interface WhatsminerIdentity extends MinerIdentity {
  api: WhatsminerApiGeneration;
  apiVersion: string | null;
}

export interface WhatsminerApi {
  readonly generation: WhatsminerApiGeneration;
  identify(): Promise<WhatsminerIdentity>;
  read(): Promise<MinerTelemetry>;
  /** True when mining is powered off (power_off / set.miner.service stop). */
  isPoweredOff(): Promise<boolean>;
  powerOff(): Promise<void>;
  powerOn(): Promise<void>;
  setPowerPercent(percent: number): Promise<void>;
  /** Forgets tokens and salts. */
  reset(): void;
}

export interface TelemetryParts {
  host: string;
  port: number;
  model: string | null;
  firmware: string | null;
  minerOff: boolean | null;
  /** False while the hashrate is still ramping after a start. */
  stable: boolean | null;
  hashrateThs: number | null;
  hashrateAvgThs: number | null;
  powerW: number | null;
  /** Reference figures for when the miner reports no power. */
  reference: PowerReferenceOptions;
  boards: BoardTelemetry[];
  fans: number[];
  pools: PoolTelemetry[];
  uptimeS: number | null;
  errors: string[];
}

export function whatsminerState(
  p: Pick<TelemetryParts, 'minerOff' | 'stable' | 'hashrateThs' | 'errors'>,
): MinerState {
  if (p.minerOff === true) return 'sleeping';
  if (p.stable === false) return 'ramping';
  if (p.hashrateThs !== null && p.hashrateThs > 0) return 'hashing';
  p.errors.push('no hashrate while powered on');
  return 'fault';
}

export function whatsminerTelemetry(p: TelemetryParts): MinerTelemetry {
  const state = whatsminerState(p);
  const hashrateThs = p.hashrateThs === null ? null : round(p.hashrateThs);
  // summary "Power" / power-realtime is the miner's own reading; without it, the reference.
  const { powerW, powerSource } =
    p.powerW !== null
      ? { powerW: p.powerW, powerSource: 'measured' as const }
      : estimatePower(state, hashrateThs, null, powerReference(p.model, p.reference));
  return {
    host: p.host,
    port: p.port,
    driver: 'whatsminer',
    make: 'MicroBT',
    model: p.model,
    firmware: p.firmware,
    state,
    hashrateThs,
    hashrateAvgThs: p.hashrateAvgThs === null ? null : round(p.hashrateAvgThs),
    powerW,
    powerSource,
    efficiencyJth: state === 'hashing' ? efficiencyJth(powerW, hashrateThs) : null,
    boards: p.boards,
    fans: p.fans,
    pools: p.pools,
    uptimeS: p.uptimeS,
    profile: null,
    errors: p.errors,
  };
}

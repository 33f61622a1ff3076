// Normalizes stock Antminer (bmminer/cgminer) replies into MinerTelemetry. Stock firmware
// reports no power: powerW is estimated from the running profile and the delivered hashrate
// and labelled 'estimated' (or 'nameplate' for a faulted miner); never 'measured'.
import type { PowerProfile } from '@switchyard/domain';
import { estimatePower, efficiencyJth, pickProfile, powerReference } from '../power-estimate.ts';
import type { PowerReference, PowerReferenceOptions } from '../power-estimate.ts';
import {
  idealThs,
  mergeBoards,
  parseDevsBoards,
  parseElapsed,
  parsePools,
  parseStatsBoards,
  parseStatsFans,
  pushError,
  RAMP_WINDOW_S,
  statsDetail,
  statsVersion,
  stripMake,
} from '../rpc/cgminer-telemetry.ts';
import { field, hashrate5sThs, hashrateAvgThs, sectionEntries, str } from '../rpc/fields.ts';
import type { RpcReply } from '../rpc/rpc-client.ts';
import type { MinerState, MinerTelemetry } from '../telemetry.ts';
import type { MinerMode } from './antminer-web.ts';

/** Profile names the stock driver exposes, and the miner-mode each sets. */
export const ANTMINER_PROFILES: Readonly<Record<string, MinerMode>> = { normal: 0, 'low-power': 3 };

export function profileNameForMode(mode: MinerMode | null): string | null {
  if (mode === 0) return 'normal';
  if (mode === 3) return 'low-power';
  if (mode === 2) return 'high-efficiency';
  return null;
}

export interface AntminerReadInput {
  host: string;
  port: number;
  replies: Partial<Record<string, RpcReply>>;
  /** miner-mode from the web UI; null when it could not be read. */
  minerMode: MinerMode | null;
  /** Why the mode could not be read, if it could not. */
  modeError?: string | null;
  /** Model configured for the fleet (used when the firmware does not name it). */
  model?: string | null;
  reference?: PowerReferenceOptions;
}

function firmwareOf(version: unknown): string | null {
  const compiled = str(field(version, 'CompileTime'));
  if (compiled) return compiled;
  const bmminer = str(field(version, 'BMMiner'));
  if (bmminer) return `bmminer ${bmminer}`;
  const cgminer = str(field(version, 'CGMiner'));
  return cgminer ? `cgminer ${cgminer}` : null;
}

/**
 * The state from the web UI's mode and the RPC figures: asleep by mode; hashing or ramping
 * (recently started and below 90 % of ideal) with a hashrate; ramping without one only just
 * after a start; otherwise fault.
 */
export function antminerState(
  mode: MinerMode | null,
  hashrate: number | null,
  ideal: number | null,
  uptime: number | null,
): MinerState {
  if (mode === 1) return 'sleeping';
  const recent = uptime !== null && uptime < RAMP_WINDOW_S;
  if (hashrate !== null && hashrate > 0) {
    return recent && ideal !== null && hashrate < 0.9 * ideal ? 'ramping' : 'hashing';
  }
  return recent ? 'ramping' : 'fault';
}

function profileForMode(
  ref: PowerReference,
  mode: MinerMode | null,
  ideal: number | null,
): PowerProfile | null {
  if (mode === 3) return pickProfile(ref, { lowest: true });
  if (mode === 0) return pickProfile(ref, { name: 'normal', idealThs: ideal });
  return pickProfile(ref, { idealThs: ideal });
}

export function parseAntminerTelemetry(input: AntminerReadInput): MinerTelemetry {
  const { replies } = input;
  const errors: string[] = [];
  const summary = sectionEntries(replies.summary?.body, 'SUMMARY')[0];
  const detail = statsDetail(replies.stats?.body);
  const version = sectionEntries(replies.version?.body, 'VERSION')[0] ?? statsVersion(replies.stats?.body);
  const model = stripMake(str(field(version, 'Type'))) ?? input.model ?? null;

  const hashrate = hashrate5sThs(summary) ?? hashrate5sThs(detail);
  const ideal = idealThs(detail);
  const uptime = parseElapsed(detail, summary);

  for (const entry of sectionEntries(replies.summary?.body, 'STATUS')) {
    if (str(entry.STATUS) === 'W') pushError(errors, `summary warning: ${str(entry.Msg) ?? 'unknown'}`);
  }
  if (input.modeError) pushError(errors, `web UI: ${input.modeError}`);
  const state = antminerState(input.minerMode, hashrate, ideal, uptime);
  if (state === 'fault') pushError(errors, hashrate === null ? 'no hashrate reported' : 'no hashrate');

  const ref = powerReference(model, input.reference ?? {});
  const power = estimatePower(state, hashrate, profileForMode(ref, input.minerMode, ideal), ref, ideal);

  return {
    host: input.host,
    port: input.port,
    driver: 'antminer',
    make: 'Bitmain',
    model,
    firmware: firmwareOf(version),
    state,
    hashrateThs: hashrate,
    hashrateAvgThs: hashrateAvgThs(summary) ?? hashrateAvgThs(detail),
    powerW: power.powerW,
    powerSource: power.powerSource,
    efficiencyJth: efficiencyJth(power.powerW, hashrate),
    boards: mergeBoards(parseStatsBoards(detail), parseDevsBoards(replies.devs?.body)),
    fans: parseStatsFans(detail),
    pools: parsePools(replies.pools?.body),
    uptimeS: uptime,
    profile: profileNameForMode(input.minerMode),
    errors,
  };
}

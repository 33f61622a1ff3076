// Normalizes LuxOS replies into MinerTelemetry. LuxOS reports its draw (`power` →
// POWER[0].Watts), so powerSource is 'measured'; when that reading is missing the draw is
// estimated and labelled so.
import { estimatePower, efficiencyJth, pickProfile, powerReference } from '../power-estimate.ts';
import type { PowerReferenceOptions } from '../power-estimate.ts';
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
  stripMake,
} from '../rpc/cgminer-telemetry.ts';
import type { BoardKeyScheme } from '../rpc/cgminer-telemetry.ts';
import { bool, field, hashrate5sThs, hashrateAvgThs, numIn, sectionEntries, str } from '../rpc/fields.ts';
import type { RpcReply } from '../rpc/rpc-client.ts';
import type { MinerState, MinerTelemetry } from '../telemetry.ts';

/** LuxOS stats: temp<n> is the chip temperature, temp2_<n> the board's (as in pyasic). */
export const LUXOS_BOARD_KEYS: BoardKeyScheme = {
  chipTemp: ['temp_chip', 'temp'],
  boardTemp: ['temp_pcb', 'temp2_'],
};

/** Largest plausible draw of one miner (W). */
const MAX_PLAUSIBLE_W = 20_000;

/** CurtailMode from `config`: true when asleep, false when not, null when not reported. */
export function curtailSleeping(configReply: RpcReply | undefined): boolean | null {
  const mode = str(field(sectionEntries(configReply?.body, 'CONFIG')[0], 'CurtailMode'));
  if (mode === null) return null;
  return /sleep/i.test(mode);
}

/** The active profile: the one most boards report in `devs` (Profile). */
export function activeProfile(devsReply: RpcReply | undefined): string | null {
  const counts = new Map<string, number>();
  for (const d of sectionEntries(devsReply?.body, 'DEVS')) {
    const p = str(field(d, 'Profile'), 64);
    if (p !== null) counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  let best: string | null = null;
  let bestCount = 0;
  for (const [p, c] of counts) {
    if (c > bestCount) {
      best = p;
      bestCount = c;
    }
  }
  return best;
}

/** True when `devs` lists boards and every one of them reports `name` as its Profile. */
export function allBoardsOnProfile(devsReply: RpcReply | undefined, name: string): boolean {
  const devs = sectionEntries(devsReply?.body, 'DEVS');
  return devs.length > 0 && devs.every((d) => str(field(d, 'Profile'), 64) === name);
}

/** Profile names from `profiles` (PROFILES[]."Profile Name"). */
export function profileNames(reply: RpcReply | undefined): string[] {
  const names: string[] = [];
  for (const p of sectionEntries(reply?.body, 'PROFILES', 256)) {
    const name = str(field(p, 'Profile Name', 'ProfileName', 'Name'), 64);
    if (name !== null && !names.includes(name)) names.push(name);
  }
  return names;
}

export interface LuxosReadInput {
  host: string;
  port: number;
  replies: Partial<Record<string, RpcReply>>;
  model?: string | null;
  reference?: PowerReferenceOptions;
}

export function parseLuxosTelemetry(input: LuxosReadInput): MinerTelemetry {
  const { replies } = input;
  const errors: string[] = [];
  const summary = sectionEntries(replies.summary?.body, 'SUMMARY')[0];
  const detail = statsDetail(replies.stats?.body);
  const version = sectionEntries(replies.version?.body, 'VERSION')[0];
  const model = stripMake(str(field(version, 'Type'))) ?? input.model ?? null;
  const luxminer = str(field(version, 'LUXminer'));
  const firmware = luxminer ? `LuxOS ${luxminer}` : null;

  const hashrate = hashrate5sThs(summary) ?? hashrate5sThs(detail);
  const ideal = idealThs(detail);
  const uptime = parseElapsed(detail, summary);
  const sleeping = curtailSleeping(replies.config);
  const ramping = sectionEntries(replies.devs?.body, 'DEVS').some(
    (d) => bool(field(d, 'IsRamping')) === true,
  );

  let state: MinerState;
  if (sleeping === true) state = 'sleeping';
  else if (ramping) state = 'ramping';
  else if (hashrate !== null && hashrate > 0) state = 'hashing';
  else if (uptime !== null && uptime < RAMP_WINDOW_S) state = 'ramping';
  else {
    state = 'fault';
    pushError(errors, hashrate === null ? 'no hashrate reported' : 'no hashrate');
  }

  const profile = activeProfile(replies.devs);
  const watts = numIn(field(sectionEntries(replies.power?.body, 'POWER')[0], 'Watts'), 0, MAX_PLAUSIBLE_W);
  let powerW: number | null;
  let powerSource: MinerTelemetry['powerSource'];
  if (watts !== null) {
    powerW = Math.round(watts);
    powerSource = 'measured';
  } else {
    if (replies.power) pushError(errors, 'power reading missing or implausible');
    const ref = powerReference(model, input.reference ?? {});
    const est = estimatePower(
      state,
      hashrate,
      pickProfile(ref, { name: profile, idealThs: ideal }),
      ref,
      ideal,
    );
    powerW = est.powerW;
    powerSource = est.powerSource;
  }

  return {
    host: input.host,
    port: input.port,
    driver: 'luxos',
    make: 'Bitmain',
    model,
    firmware,
    state,
    hashrateThs: hashrate,
    hashrateAvgThs: hashrateAvgThs(summary) ?? hashrateAvgThs(detail),
    powerW,
    powerSource,
    efficiencyJth: efficiencyJth(powerW, hashrate),
    boards: mergeBoards(parseStatsBoards(detail, LUXOS_BOARD_KEYS), parseDevsBoards(replies.devs?.body)),
    fans: parseStatsFans(detail),
    pools: parsePools(replies.pools?.body),
    uptimeS: uptime,
    profile,
    errors,
  };
}

// Normalization helpers shared by the cgminer-family drivers (stock Antminer, LuxOS): pools,
// per-board data from `stats`/`devs`, fans. Every value is bounded and validated; anything
// implausible becomes null rather than a wrong number.
import type { BoardTelemetry, PoolTelemetry } from '../telemetry.ts';
import {
  chainRateThs,
  field,
  hashrate5sThs,
  indexedKeys,
  isObject,
  maxTemperature,
  num,
  numIn,
  sectionEntries,
  str,
  temperature,
} from './fields.ts';
import type { JsonObject } from './fields.ts';

export const MAX_BOARDS = 16;
export const MAX_FANS = 16;
export const MAX_POOLS = 8;
export const MAX_ERRORS = 10;

/** After a start or wake, a miner below 90 % of its ideal hashrate this long is ramping. */
export const RAMP_WINDOW_S = 900;

/** Pools from a `pools` reply (URL, User, Status, Priority); entries without a URL skipped. */
export function parsePools(reply: unknown): PoolTelemetry[] {
  const out: PoolTelemetry[] = [];
  for (const p of sectionEntries(reply, 'POOLS')) {
    const url = str(field(p, 'URL', 'url'), 512);
    if (url === null) continue;
    out.push({
      url,
      user: str(field(p, 'User', 'user')),
      status: str(field(p, 'Status', 'status'), 32),
      priority: numIn(field(p, 'Priority', 'priority'), 0, 1000),
    });
    if (out.length >= MAX_POOLS) break;
  }
  return out;
}

/** The `stats` entry that carries the miner's counters: the first with chain or fan data. */
export function statsDetail(reply: unknown): JsonObject | null {
  const entries = sectionEntries(reply, 'STATS');
  for (const e of entries) {
    if (indexedKeys(e, ['chain_rate', 'chain_acn', 'fan']).length > 0) return e;
  }
  return entries[1] ?? null;
}

/** The version entry of `stats` (entry 0: BMMiner/CGMiner, CompileTime, Type). */
export function statsVersion(reply: unknown): JsonObject | null {
  const first = sectionEntries(reply, 'STATS')[0];
  return first && field(first, 'Type', 'CompileTime') !== undefined ? first : null;
}

export interface BoardKeyScheme {
  /** Keys holding the chip temperatures, tried in order; "<key><n>" (a number or "a-b-c-d"). */
  chipTemp: readonly string[];
  /** Keys holding the board (PCB) temperatures. */
  boardTemp: readonly string[];
}

/** bmminer (S19/S21 stock): temp_chip<n> and temp_pcb<n> strings; older temp2_<n>/temp<n>. */
export const BMMINER_BOARD_KEYS: BoardKeyScheme = {
  chipTemp: ['temp_chip', 'temp2_'],
  boardTemp: ['temp_pcb', 'temp'],
};

/** Boards from a stats detail entry: chain_rate<n>, chain_acn<n>, temperatures per scheme. */
export function parseStatsBoards(
  stats: unknown,
  scheme: BoardKeyScheme = BMMINER_BOARD_KEYS,
): BoardTelemetry[] {
  if (!isObject(stats)) return [];
  const indices = indexedKeys(stats, ['chain_rate', 'chain_acn'], MAX_BOARDS);
  const boards: BoardTelemetry[] = [];
  for (const n of indices) {
    const chips = numIn(field(stats, `chain_acn${n}`), 0, 10_000);
    const hashrate = chainRateThs(stats, n);
    // Unused chain slots report 0 chips and no rate.
    if ((chips === null || chips === 0) && (hashrate === null || hashrate === 0)) continue;
    const pick = (keys: readonly string[]) => {
      for (const k of keys) {
        const t = maxTemperature(field(stats, `${k}${n}`));
        if (t !== null) return t;
      }
      return null;
    };
    boards.push({
      index: boards.length,
      hashrateThs: hashrate,
      chipTempC: pick(scheme.chipTemp),
      boardTempC: pick(scheme.boardTemp),
      chips: chips === null ? null : Math.round(chips),
    });
  }
  return boards;
}

/**
 * Boards from a `devs` reply (one entry per chain): "MHS 5s"/"GHS 5s", "Temperature" (stock
 * firmware spells it "Tenperature"), "Chip Temp" when present.
 */
export function parseDevsBoards(reply: unknown): BoardTelemetry[] {
  const boards: BoardTelemetry[] = [];
  for (const d of sectionEntries(reply, 'DEVS', MAX_BOARDS)) {
    boards.push({
      index: boards.length,
      hashrateThs: hashrate5sThs(d),
      chipTempC: maxTemperature(field(d, 'Chip Temp', 'Chip Temperature', 'temp_chip')),
      boardTempC: temperature(field(d, 'Temperature', 'Tenperature', 'Board Temp')),
      chips: numIn(field(d, 'Chips', 'chain_acn', 'Effective Chips'), 0, 10_000),
    });
  }
  return boards;
}

/** Fills gaps in stats boards from devs boards of the same position. */
export function mergeBoards(primary: BoardTelemetry[], fallback: BoardTelemetry[]): BoardTelemetry[] {
  if (primary.length === 0) return fallback;
  return primary.map((b, i) => {
    const f = fallback[i];
    if (!f) return b;
    return {
      index: b.index,
      hashrateThs: b.hashrateThs ?? f.hashrateThs,
      chipTempC: b.chipTempC ?? f.chipTempC,
      boardTempC: b.boardTempC ?? f.boardTempC,
      chips: b.chips ?? f.chips,
    };
  });
}

/**
 * Fan speeds (RPM) from fan1..fanN. Slots reading 0 are unused (an S9 reports fan3 and fan6
 * only) unless `fan_num` says more fans exist: then the missing ones are reported as 0 RPM.
 */
export function parseStatsFans(stats: unknown): number[] {
  if (!isObject(stats)) return [];
  const count = numIn(field(stats, 'fan_num'), 0, MAX_FANS);
  const out: number[] = [];
  for (const n of indexedKeys(stats, ['fan'], MAX_FANS)) {
    const rpm = numIn(field(stats, `fan${n}`), 0, 50_000);
    if (rpm !== null && rpm > 0) out.push(Math.round(rpm));
  }
  if (count === null) return out;
  while (out.length < count) out.push(0);
  return out.slice(0, Math.round(count));
}

/** Uptime in seconds from "Elapsed" (stats detail, else summary). */
export function parseElapsed(...sources: unknown[]): number | null {
  for (const s of sources) {
    const e = numIn(field(s, 'Elapsed'), 0, 20 * 365 * 86400);
    if (e !== null) return Math.round(e);
  }
  return null;
}

/** "Antminer S19 Pro" → "S19 Pro"; the make's prefix is not part of the model name. */
export function stripMake(model: string | null): string | null {
  if (model === null) return null;
  const m = model.replace(/^(antminer|bitmain)\s+/i, '').trim();
  return m.length === 0 ? null : m.slice(0, 64);
}

/** Ideal (nominal) hashrate from stats: total_rateideal in rate_unit (default GH). */
export function idealThs(stats: unknown): number | null {
  const unit = str(field(stats, 'rate_unit')) ?? 'GH';
  const v = num(field(stats, 'total_rateideal'));
  if (v === null) return null;
  const f = unit.toUpperCase().startsWith('TH') ? 1 : unit.toUpperCase().startsWith('MH') ? 1e-6 : 1e-3;
  const ths = v * f;
  return ths > 0 && ths < 5000 ? ths : null;
}

/** Adds an error message, bounded in count and length. */
export function pushError(errors: string[], message: string): void {
  if (errors.length < MAX_ERRORS) errors.push(message.slice(0, 200));
}

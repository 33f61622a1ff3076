// Validators for Whatsminer replies: API v2 (btminer's cgminer-style sections, STATUS as a
// string for its own commands) and API v3 ({code, when, msg, desc}). Field names follow
// MicroBT's API documents and pyasic's btminer backend. Untrusted input in, plain values out;
// null wherever a value is missing or implausible.
import type { BoardTelemetry, PoolTelemetry } from '../telemetry.ts';
import {
  bool,
  field,
  hashrate5sThs,
  hashrateAvgThs,
  isObject,
  num,
  numIn,
  sectionEntries,
  str,
  temperature,
  toThs,
} from '../rpc/fields.ts';
import { arr, at, inRange, normalizeMac, RANGE } from '../json-readers.ts';
import type { V2TokenMsg } from './whatsminer-crypto.ts';

/** Whatsminer's model names carry a hardware variant ("M30S++V10", "M50SVH30", "M60S_VL20"). */
export function whatsminerModel(raw: string | null): string | null {
  if (!raw) return null;
  const m = raw.replace(/^whatsminer\s+/i, '').trim();
  const base = /^(M\d{2}S?(?:\+\+|\+)?)(?:[_\s]?V[A-Z]{0,2}\d+.*)?$/i.exec(m);
  return (base ? (base[1] as string) : m).toUpperCase().slice(0, 32);
}

const ms = (v: unknown) => numIn(v, 0, RANGE.uptimeS[1]);

// ---------------------------------------------------------------- API v2

export interface V2Summary {
  hashrateThs: number | null;
  hashrateAvgThs: number | null;
  /** "Power": the miner's own input-power reading (W); -1 or absent means none. */
  powerW: number | null;
  elapsedS: number | null;
  /** "Hash Stable": false while the hashrate is still ramping after a start. */
  hashStable: boolean | null;
  /** "Hash Stable Cost Seconds": how long the last start took to reach a stable hashrate. */
  hashStableCostS: number | null;
  fans: number[];
  mac: string | null;
  firmware: string | null;
  powerLimitW: number | null;
  errorCodes: string[];
}

export function parseV2Summary(reply: unknown): V2Summary {
  const s = sectionEntries(reply, 'SUMMARY', 1)[0] ?? {};
  const fans = [field(s, 'Fan Speed In'), field(s, 'Fan Speed Out')]
    .map((v) => numIn(v, RANGE.fanRpm[0], RANGE.fanRpm[1]))
    .filter((v): v is number => v !== null);
  const errorCount = numIn(field(s, 'Error Code Count'), 0, 64) ?? 0;
  const errorCodes: string[] = [];
  for (let i = 0; i < errorCount; i++) {
    const code = str(field(s, `Error Code ${i}`), 32);
    if (code) errorCodes.push(code);
  }
  return {
    hashrateThs: hashrate5sThs(s),
    hashrateAvgThs: hashrateAvgThs(s),
    powerW: numIn(field(s, 'Power'), 0, RANGE.powerW[1]),
    elapsedS: ms(field(s, 'Elapsed')),
    hashStable: bool(field(s, 'Hash Stable')),
    hashStableCostS: ms(field(s, 'Hash Stable Cost Seconds')),
    fans,
    mac: normalizeMac(str(field(s, 'MAC'), 32)),
    firmware: str(field(s, 'Firmware Version'), 64)?.replace(/'/g, '') ?? null,
    powerLimitW: numIn(field(s, 'Power Limit'), 1, RANGE.powerW[1]),
    errorCodes,
  };
}

export function parseV2Devs(reply: unknown): BoardTelemetry[] {
  return sectionEntries(reply, 'DEVS', 16).map((d, i) => {
    const mhs = num(field(d, 'MHS 5s')) ?? num(field(d, 'MHS 1m')) ?? num(field(d, 'MHS av'));
    const ths = toThs(mhs, 'MH');
    return {
      index: numIn(field(d, 'ASC', 'Slot'), 0, 64) ?? i,
      hashrateThs: ths !== null && ths >= 0 && ths <= RANGE.hashrateThs[1] ? ths : null,
      chipTempC: temperature(field(d, 'Chip Temp Max')) ?? temperature(field(d, 'Chip Temp Avg')),
      boardTempC: temperature(field(d, 'Temperature')),
      chips: numIn(field(d, 'Effective Chips'), 0, RANGE.chips[1]),
    };
  });
}

export function parseV2Pools(reply: unknown): PoolTelemetry[] {
  return sectionEntries(reply, 'POOLS', 8).flatMap((p): PoolTelemetry[] => {
    const url = str(field(p, 'URL'), 256);
    if (!url) return [];
    return [
      {
        url,
        user: str(field(p, 'User'), 128),
        status: str(field(p, 'Status'), 32),
        priority: numIn(field(p, 'Priority'), 0, 64),
      },
    ];
  });
}

/** The Msg object of a Whatsminer-own command (status, get_version, get_token, ...). */
function msg(reply: unknown): Record<string, unknown> {
  const m = isObject(reply) ? (reply.Msg ?? reply.msg) : null;
  return isObject(m) ? m : {};
}

/** `status`: Msg.btmineroff (newer) or Msg.mineroff, "true" when the miner is powered off. */
export function parseV2Status(reply: unknown): { minerOff: boolean | null } {
  const m = msg(reply);
  return { minerOff: bool(m.btmineroff) ?? bool(m.mineroff) };
}

export function parseV2Version(reply: unknown): { apiVersion: string | null; firmware: string | null } {
  const m = msg(reply);
  const api = str(m.api_ver, 32);
  return { apiVersion: api?.replace(/^whatsminer\s+v/i, '') ?? null, firmware: str(m.fw_ver, 64) };
}

export function parseV2MinerInfo(reply: unknown): { hostname: string | null; mac: string | null } {
  const m = msg(reply);
  return { hostname: str(m.hostname, 253), mac: normalizeMac(str(m.mac, 32)) };
}

export function parseV2DevDetails(reply: unknown): { model: string | null } {
  const d = sectionEntries(reply, 'DEVDETAILS', 1)[0];
  return { model: whatsminerModel(str(field(d, 'Model'), 64)) };
}

const SALT = /^[A-Za-z0-9./]{1,16}$/;

/** get_token's Msg; null when it is not a usable token (e.g. Msg "over max connect"). */
export function parseV2Token(reply: unknown): V2TokenMsg | null {
  const m = msg(reply);
  const salt = str(m.salt, 16);
  const newsalt = str(m.newsalt, 16);
  const time = str(m.time, 16);
  if (!salt || !newsalt || !time || !SALT.test(salt) || !SALT.test(newsalt) || !/^\d{1,16}$/.test(time)) {
    return null;
  }
  return { salt, newsalt, time };
}

// ---------------------------------------------------------------- API v3

export interface V3Reply {
  code: number | null;
  msg: unknown;
  desc: string | null;
}

export function parseV3Reply(body: unknown): V3Reply {
  return {
    code: numIn(at(body, 'code'), -1000, 1000),
    msg: at(body, 'msg'),
    desc: str(at(body, 'desc'), 64),
  };
}

export interface V3DeviceInfo {
  model: string | null;
  firmware: string | null;
  apiVersion: string | null;
  hostname: string | null;
  mac: string | null;
  /** miner.working: "false" while the miner is powered off. */
  working: boolean | null;
  salt: string | null;
}

export function parseV3DeviceInfo(m: unknown): V3DeviceInfo {
  const salt = str(at(m, 'salt'), 32);
  return {
    model: whatsminerModel(str(at(m, 'miner', 'type'), 64)),
    firmware: str(at(m, 'system', 'fwversion'), 64),
    apiVersion: str(at(m, 'system', 'api'), 32),
    hostname: str(at(m, 'network', 'hostname'), 253),
    mac: normalizeMac(str(at(m, 'network', 'mac'), 32)),
    working: bool(at(m, 'miner', 'working')),
    salt: salt && SALT.test(salt) ? salt : null,
  };
}

export interface V3Summary {
  hashrateThs: number | null;
  hashrateAvgThs: number | null;
  powerW: number | null;
  elapsedS: number | null;
  /** up-freq-finish: 0 while the boards are still raising their frequency after a start. */
  upFreqFinished: boolean | null;
  fans: number[];
  powerLimitW: number | null;
}

export function parseV3Summary(m: unknown): V3Summary {
  const s = at(m, 'summary');
  const ths = (v: unknown) => inRange(v, RANGE.hashrateThs);
  const fans = ['fan-speed-in', 'fan-speed-out']
    .map((k) => inRange(at(s, k), RANGE.fanRpm))
    .filter((v): v is number => v !== null);
  return {
    hashrateThs: ths(at(s, 'hash-realtime')) ?? ths(at(s, 'hash-1min')),
    hashrateAvgThs: ths(at(s, 'hash-average')),
    powerW: numIn(at(s, 'power-realtime'), 0, RANGE.powerW[1]),
    elapsedS: ms(at(s, 'elapsed')),
    upFreqFinished: bool(at(s, 'up-freq-finish')),
    fans,
    powerLimitW: numIn(at(s, 'power-limit'), 1, RANGE.powerW[1]),
  };
}

export function parseV3Edevs(m: unknown): BoardTelemetry[] {
  return arr(at(m, 'edevs'), 16).flatMap((d, i): BoardTelemetry[] => {
    if (!isObject(d)) return [];
    return [
      {
        index: numIn(d.slot ?? d.id, 0, 64) ?? i,
        hashrateThs: inRange(d['hash-average'], RANGE.hashrateThs),
        chipTempC: temperature(d['chip-temp-max']) ?? temperature(d['chip-temp-avg']),
        boardTempC: null,
        chips: inRange(d['effective-chips'], RANGE.chips),
      },
    ];
  });
}

export function parseV3Pools(m: unknown): PoolTelemetry[] {
  return arr(at(m, 'pools'), 8).flatMap((p, i): PoolTelemetry[] => {
    const url = str(at(p, 'url'), 256);
    if (!url) return [];
    return [
      {
        url,
        user: str(at(p, 'account'), 128),
        status: str(at(p, 'status'), 32),
        priority: numIn(at(p, 'id'), 0, 64) ?? i,
      },
    ];
  });
}

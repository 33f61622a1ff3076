// Whatsminer firmware for one simulated miner: API v2 on 4028 (btminer's cgminer-style reads,
// STATUS as a string for its own commands, encrypted writes behind get_token) through
// serveRpc, and API v3 on 4433 (length-prefixed JSON frames, token-signed set.* commands).
// Controls map onto the SimMinerView: power_off / set.miner.service stop → sleep,
// power_on / start → wake (the miner ramps), set_power_pct / set.miner.power_percent →
// setPowerPercent. The crypto is the drivers' own, which is pinned by known-answer tests.
import { createServer, type Socket } from 'node:net';
import { aes256EcbDecrypt, aes256EcbEncrypt, md5cryptHash, v2AesKey, v3Token } from '@switchyard/miners';
import type { SimMinerView, SimObservation } from '../model/sim-miner-api.ts';
import { registerProtocol, type StartMinerServersOptions } from './registry.ts';
import { serveRpc, serializeRpcJson, type RpcJsonVariant, type RpcRequestInfo } from './rpc-server.ts';
import { garbageBytes, isReplyFault, OVERSIZED_BYTES, sendSlowDrip, sendTruncated } from './stream-faults.ts';

export const WHATSMINER_V2_REAL_PORT = 4028;
export const WHATSMINER_V3_REAL_PORT = 4433;
const V2_API_VERSION = '2.0.5';
const V3_API_VERSION = '3.0.1';
const MAX_V2_TOKENS = 32; // the firmware keeps 32 tokens per client
const MAX_V3_FRAME_BYTES = 64 * 1024;
const V3_IDLE_CLOSE_MS = 10_000;
const V3_ACCOUNTS = new Set(['super', 'user1', 'user2', 'user3']);

/** btminer's broken JSON: trailing commas, raw newlines in strings (PROTOCOLS.md). */
export const BTMINER_VARIANTS: readonly RpcJsonVariant[] = [
  { name: 'btminer-trailing-commas', trailingCommas: true },
  { name: 'btminer-raw-newlines', rawControlChars: true },
  { name: 'btminer-both', trailingCommas: true, rawControlChars: true },
];

export interface WhatsminerServerOptions extends StartMinerServersOptions {
  /** Clock for token lifetimes and v3 timestamps (ms). Default Date.now. */
  now?: () => number;
  /** Lifetime of a v2 token (the firmware keeps one for 30 minutes). */
  tokenTtlS?: number;
  /** Largest accepted difference between a v3 command's ts and the miner's clock. */
  v3TsWindowS?: number;
  /** Refuse writes while the password is still the factory "admin", as the firmware does. */
  requireChangedPassword?: boolean;
}

export interface WhatsminerServers {
  ports: number[];
  close(): Promise<void>;
  /** Forgets every v2 token, as a reboot or 30 minutes would (tests). */
  expireTokens(): void;
  /** Changes the v3 salt, as a password change would (tests). */
  rotateSalt(): void;
  /** Counters for tests: tokens handed out, writes accepted and refused. */
  readonly stats: { tokensIssued: number; writesAccepted: number; writesRefused: number };
}

const SALT_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomSalt(random: () => number, n = 8): string {
  let s = '';
  for (let i = 0; i < n; i++) s += SALT_CHARS[Math.floor(random() * SALT_CHARS.length) % SALT_CHARS.length];
  return s;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const mining = (o: SimObservation) => o.state === 'hashing' || o.state === 'ramping';

/** The model as Whatsminer firmware spells it: with a hardware variant ("M50SVH30"). */
function firmwareModel(model: string): string {
  return `${model.replace(/\s+/g, '')}VH30`;
}

function chipTemps(o: SimObservation): { min: number; max: number; avg: number } {
  const all = o.boards.flatMap((b) => b.chipTempsC);
  if (all.length === 0) return { min: 0, max: 0, avg: 0 };
  return {
    min: r2(Math.min(...all)),
    max: r2(Math.max(...all)),
    avg: r2(all.reduce((a, b) => a + b, 0) / all.length),
  };
}

// ---------------------------------------------------------------- shared firmware state

class FirmwareState {
  readonly miner: SimMinerView;
  readonly now: () => number;
  /** md5-crypt salt of the v2 key: fixed per device (only time/newsalt change per token). */
  readonly v2Salt: string;
  v3Salt: string;
  /** v2 sign → expiry (ms). */
  readonly tokens = new Map<string, number>();
  readonly stats = { tokensIssued: 0, writesAccepted: 0, writesRefused: 0 };
  private readonly tokenTtlMs: number;
  /** "Hash Stable Cost Seconds" of the last start that reached a stable hashrate. */
  private lastStableCostS = 0;

  constructor(miner: SimMinerView, opts: WhatsminerServerOptions) {
    this.miner = miner;
    this.now = opts.now ?? Date.now;
    this.tokenTtlMs = (opts.tokenTtlS ?? 1800) * 1000;
    this.v2Salt = randomSalt(() => miner.random());
    this.v3Salt = randomSalt(() => miner.random());
  }

  issueToken(): { time: string; salt: string; newsalt: string } {
    const time = String(Math.floor(this.now() / 1000) % 10_000).padStart(4, '0');
    const newsalt = randomSalt(() => this.miner.random());
    const key = md5cryptHash(this.miner.credentials.password, this.v2Salt);
    const sign = md5cryptHash(key + time, newsalt);
    this.tokens.set(sign, this.now() + this.tokenTtlMs);
    while (this.tokens.size > MAX_V2_TOKENS) this.tokens.delete(this.tokens.keys().next().value as string);
    this.stats.tokensIssued++;
    return { time, salt: this.v2Salt, newsalt };
  }

  tokenValid(sign: unknown): boolean {
    if (typeof sign !== 'string') return false;
    const expiry = this.tokens.get(sign);
    if (expiry === undefined) return false;
    if (this.now() > expiry) {
      this.tokens.delete(sign);
      return false;
    }
    return true;
  }

  get aesKey(): Buffer {
    return v2AesKey(md5cryptHash(this.miner.credentials.password, this.v2Salt));
  }

  stableCost(o: SimObservation): number {
    if (o.state === 'ramping') {
      this.lastStableCostS = Math.round(o.uptimeS + o.rampRemainingS);
      return this.lastStableCostS;
    }
    return this.lastStableCostS;
  }

  /** Applies a power-off / power-on / percent command; returns an error message or null. */
  control(action: 'off' | 'on' | { percent: number }): string | null {
    if (action === 'off') this.miner.sleep();
    else if (action === 'on') this.miner.wake();
    else return this.miner.setPowerPercent(action.percent);
    return null;
  }
}

// ---------------------------------------------------------------- API v2

function v2Own(
  state: FirmwareState,
  code: number,
  msg: unknown,
  letter: 'S' | 'E' = 'S',
): Record<string, unknown> {
  return { STATUS: letter, When: Math.floor(state.now() / 1000), Code: code, Msg: msg, Description: '' };
}

function v2Section(
  state: FirmwareState,
  msg: string,
  name: string,
  entries: unknown[],
): Record<string, unknown> {
  return {
    STATUS: [{ STATUS: 'S', When: Math.floor(state.now() / 1000), Code: 131, Msg: msg, Description: '' }],
    [name]: entries,
    id: 1,
  };
}

function v2Summary(state: FirmwareState): Record<string, unknown> {
  const { miner } = state;
  const o = miner.observe();
  const on = mining(o);
  const t = chipTemps(o);
  const nominal = miner.id.profiles.find((p) => p.name === 'normal')?.hashrateThs ?? 0;
  const boardAvg = o.boards.length ? o.boards.reduce((a, b) => a + b.boardTempC, 0) / o.boards.length : 0;
  return v2Section(state, 'Summary', 'SUMMARY', [
    {
      Elapsed: on ? Math.round(o.uptimeS) : 0,
      'MHS av': r2(o.hashrateAvgThs * 1e6),
      'MHS 5s': r2(o.hashrateThs * 1e6),
      'MHS 1m': r2(o.hashrateThs * 1e6),
      'MHS 5m': r2(o.hashrateThs * 1e6),
      'HS RT': r2(o.hashrateThs * 1e6),
      Accepted: o.accepted,
      Rejected: o.rejected,
      Temperature: r2(boardAvg),
      freq_avg: on ? 620 : 0,
      'Fan Speed In': o.fans[0] ?? 0,
      'Fan Speed Out': o.fans[1] ?? 0,
      Power: Math.round(o.powerW),
      'Power Rate': on && o.hashrateThs > 0 ? r2(o.powerW / o.hashrateThs) : 0,
      Uptime: Math.round(o.uptimeS) + 60,
      'Hash Stable': o.state === 'hashing',
      'Hash Stable Cost Seconds': state.stableCost(o),
      'Target Freq': 618,
      'Env Temp': r1(o.ambientC),
      'Power Mode': 'Normal',
      'Firmware Version': `'${miner.id.firmwareVersion}'`,
      MAC: miner.id.mac,
      'Factory GHS': Math.round(nominal * 1000),
      'Power Limit': miner.id.nameplateW,
      'Chip Temp Min': t.min,
      'Chip Temp Max': t.max,
      'Chip Temp Avg': t.avg,
      'Error Code Count': 0,
      Debug: '-0.0_100.0_354\n',
      'Btminer Fast Boot': 'disable',
    },
  ]);
}

function v2Devs(state: FirmwareState): Record<string, unknown> {
  const o = state.miner.observe();
  return v2Section(
    state,
    '3 ASC(s)',
    'DEVS',
    o.boards.map((b) => ({
      ASC: b.index,
      Name: 'SM',
      ID: b.index,
      Slot: b.index,
      Enabled: 'Y',
      Status: 'Alive',
      Temperature: r2(b.boardTempC),
      'Chip Frequency': 620,
      'MHS av': r2(b.hashrateThs * 1e6),
      'MHS 5s': r2(b.hashrateThs * 1e6),
      'MHS 1m': r2(b.hashrateThs * 1e6),
      'Effective Chips': b.chips,
      'PCB SN': `${state.miner.id.serial}-${b.index}`,
      'Chip Temp Min': r2(Math.min(...b.chipTempsC)),
      'Chip Temp Max': r2(Math.max(...b.chipTempsC)),
      'Chip Temp Avg': r2(b.chipTempsC.reduce((a, c) => a + c, 0) / Math.max(1, b.chipTempsC.length)),
    })),
  );
}

function v2Pools(state: FirmwareState): Record<string, unknown> {
  const o = state.miner.observe();
  return v2Section(state, '1 Pool(s)', 'POOLS', [
    {
      POOL: 0,
      URL: 'stratum+tcp://btc.f2pool.com:3333',
      Status: 'Alive',
      Priority: 0,
      Quota: 1,
      Accepted: o.accepted,
      Rejected: o.rejected,
      User: `${state.miner.id.fleet}.${state.miner.id.hostname}`,
      'Stratum Active': mining(o),
    },
  ]);
}

function v2Read(state: FirmwareState, command: string): Record<string, unknown> | null {
  const { miner } = state;
  switch (command) {
    case 'summary':
      return v2Summary(state);
    case 'devs':
    case 'edevs':
      return v2Devs(state);
    case 'pools':
      return v2Pools(state);
    case 'devdetails':
      return v2Section(
        state,
        'Device Details',
        'DEVDETAILS',
        miner.observe().boards.map((b) => ({
          DEVDETAILS: b.index,
          Name: 'SM',
          ID: b.index,
          Driver: 'bitmicro',
          Kernel: '',
          Model: firmwareModel(miner.id.model),
        })),
      );
    case 'status':
      return v2Own(state, 131, {
        btmineroff: mining(miner.observe()) || miner.observe().state === 'fault' ? 'false' : 'true',
        'Firmware Version': `'${miner.id.firmwareVersion}'`,
      });
    case 'get_version':
      return v2Own(state, 131, {
        api_ver: V2_API_VERSION,
        fw_ver: miner.id.firmwareVersion,
        platform: 'H6OS',
        chip: 'K210',
      });
    case 'get_miner_info':
      return v2Own(state, 131, {
        ip: miner.id.farmHost,
        proto: 'dhcp',
        netmask: '255.255.0.0',
        gateway: '10.0.0.1',
        dns: '10.0.0.1',
        hostname: miner.id.hostname,
        mac: miner.id.mac,
        ledstat: 'auto',
      });
    case 'get_token':
      return v2Own(state, 134, state.issueToken());
    default:
      return null;
  }
}

const V2_WRITES = new Set([
  'power_off',
  'power_on',
  'set_power_pct',
  'set_power_pct_v2',
  'adjust_power_limit',
  'reboot',
]);

/** One decrypted write command; returns the reply to encrypt. */
function v2Write(
  state: FirmwareState,
  cmd: Record<string, unknown>,
  after: (fn: () => void) => void,
): Record<string, unknown> {
  const name = typeof cmd.cmd === 'string' ? cmd.cmd : '';
  switch (name) {
    case 'power_off': {
      // respbefore "true": answer first, then stop; "false": stop, then answer.
      if (cmd.respbefore === 'false') state.control('off');
      else after(() => state.control('off'));
      return v2Own(state, 131, 'API command OK');
    }
    case 'power_on':
      state.control('on');
      return v2Own(state, 131, 'API command OK');
    case 'set_power_pct':
    case 'set_power_pct_v2': {
      const raw = cmd.percent;
      const percent =
        typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : typeof raw === 'number' ? raw : NaN;
      const err = Number.isInteger(percent) ? state.control({ percent }) : 'percent must be a whole number';
      return err ? v2Own(state, 132, err, 'E') : v2Own(state, 131, 'API command OK');
    }
    default:
      return v2Own(state, 14, 'invalid cmd', 'E');
  }
}

function v2Encrypted(
  state: FirmwareState,
  raw: Record<string, unknown>,
  opts: WhatsminerServerOptions,
  after: (fn: () => void) => void,
): Record<string, unknown> {
  const refuse = (code: number, msg: string) => {
    state.stats.writesRefused++;
    return v2Own(state, code, msg, 'E');
  };
  if (typeof raw.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(raw.data))
    return refuse(137, 'base64 decode error');
  const key = state.aesKey;
  let cmd: unknown;
  try {
    cmd = JSON.parse(aes256EcbDecrypt(key, Buffer.from(raw.data, 'base64')).toString('utf8'));
  } catch {
    // Encrypted with another password: nothing readable, so the token cannot be checked.
    return refuse(135, 'check token error');
  }
  if (typeof cmd !== 'object' || cmd === null || Array.isArray(cmd))
    return refuse(23, 'invalid json message');
  const c = cmd as Record<string, unknown>;
  if (!state.tokenValid(c.token)) return refuse(135, 'check token error');
  if (opts.requireChangedPassword && state.miner.credentials.password === 'admin') {
    return refuse(45, "can't access write cmd");
  }
  const reply = v2Write(state, c, after);
  if (reply.STATUS === 'S') state.stats.writesAccepted++;
  else state.stats.writesRefused++;
  // The reply goes back encrypted, written by btminer (broken JSON now and then).
  const variant =
    state.miner.random() < state.miner.quirkRate
      ? (BTMINER_VARIANTS[Math.floor(state.miner.random() * BTMINER_VARIANTS.length)] ?? null)
      : null;
  const text = serializeRpcJson(reply, variant);
  return { enc: aes256EcbEncrypt(key, Buffer.from(text, 'utf8')).toString('base64') };
}

/**
 * The v2 handler for serveRpc. It needs serveRpc to hand it requests that carry no "command":
 * Whatsminer's encrypted `{"enc":1,"data":…}` writes and MicroBT's `{"cmd":…}` reads (with
 * `raw` set to the parsed request; `command` may then be empty).
 */
function v2Handler(state: FirmwareState, opts: WhatsminerServerOptions) {
  return (req: RpcRequestInfo): Record<string, unknown> => {
    const raw = typeof req.raw === 'object' && req.raw !== null ? (req.raw as Record<string, unknown>) : {};
    if (raw.enc !== undefined) return v2Encrypted(state, raw, opts, (fn) => setImmediate(fn));
    const command = req.command || (typeof raw.cmd === 'string' ? raw.cmd : '');
    if (V2_WRITES.has(command)) return v2Own(state, 45, "can't access write cmd", 'E');
    return v2Read(state, command) ?? v2Own(state, 14, 'invalid cmd', 'E');
  };
}

// ---------------------------------------------------------------- API v3

function v3DeviceInfo(state: FirmwareState, param: unknown): Record<string, unknown> {
  const { miner } = state;
  const o = miner.observe();
  const sections: Record<string, unknown> = {
    network: {
      ip: miner.id.farmHost,
      proto: 'dhcp',
      netmask: '255.255.0.0',
      dns: '10.0.0.1',
      mac: miner.id.mac,
      hostname: miner.id.hostname,
    },
    miner: {
      working: mining(o) || o.state === 'fault' ? 'true' : 'false',
      type: firmwareModel(miner.id.model),
      'miner-sn': miner.id.serial,
      'power-limit-set': String(miner.id.nameplateW),
      ...Object.fromEntries(o.boards.map((b) => [`pcbsn${b.index}`, `${miner.id.serial}-${b.index}`])),
    },
    system: {
      api: V3_API_VERSION,
      platform: 'H616',
      fwversion: miner.id.firmwareVersion,
      'control-board-version': 'H616',
      ledstatus: 'auto',
    },
    power: {
      type: 'P221B',
      mode: 'normal',
      iin: r2(o.powerW / 230),
      vin: 230,
      fanspeed: mining(o) ? 7000 : 0,
    },
    salt: state.v3Salt,
    'error-code': o.reasons.map((r, i) => ({ [String(1000 + i)]: r })),
  };
  if (typeof param === 'string' && param in sections) return { [param]: sections[param] };
  return sections;
}

function v3MinerStatus(state: FirmwareState, param: unknown): Record<string, unknown> | null {
  if (typeof param !== 'string') return null;
  const { miner } = state;
  const o = miner.observe();
  const t = chipTemps(o);
  const nominal = miner.id.profiles.find((p) => p.name === 'normal')?.hashrateThs ?? 0;
  const parts: Record<string, () => unknown> = {
    summary: () => ({
      elapsed: mining(o) ? Math.round(o.uptimeS) : 0,
      'bootup-time': Math.round(o.uptimeS) + 60,
      'freq-avg': mining(o) ? 620 : 0,
      'factory-hash': nominal,
      'hash-average': r2(o.hashrateAvgThs),
      'hash-1min': r2(o.hashrateThs),
      'hash-15min': r2(o.hashrateThs),
      'hash-realtime': r2(o.hashrateThs),
      'power-rate': mining(o) && o.hashrateThs > 0 ? r2(o.powerW / o.hashrateThs) : 0,
      'power-5min': Math.round(o.powerW),
      'power-realtime': Math.round(o.powerW),
      'environment-temperature': r1(o.ambientC),
      'board-temperature': o.boards.map((b) => r1(b.boardTempC)),
      'chip-temp-min': t.min,
      'chip-temp-avg': t.avg,
      'chip-temp-max': t.max,
      'power-limit': miner.id.nameplateW,
      'up-freq-finish': o.state === 'ramping' ? 0 : 1,
      'fan-speed-in': o.fans[0] ?? 0,
      'fan-speed-out': o.fans[1] ?? 0,
    }),
    pools: () => [
      {
        id: 1,
        url: 'stratum+tcp://btc.f2pool.com:3333',
        status: 'alive',
        account: `${miner.id.fleet}.${miner.id.hostname}`,
        'stratum-active': mining(o),
      },
    ],
    edevs: () =>
      o.boards.map((b) => ({
        id: b.index,
        slot: b.index,
        'hash-average': r2(b.hashrateThs),
        'factory-hash': r2(nominal / Math.max(1, o.boards.length)),
        freq: 620,
        'effective-chips': b.chips,
        'chip-temp-min': r2(Math.min(...b.chipTempsC)),
        'chip-temp-avg': r2(b.chipTempsC.reduce((a, c) => a + c, 0) / Math.max(1, b.chipTempsC.length)),
        'chip-temp-max': r2(Math.max(...b.chipTempsC)),
      })),
  };
  const wanted = param.split('+');
  if (wanted.length === 0 || wanted.some((w) => !(w in parts))) return null;
  return Object.fromEntries(wanted.map((w) => [w, (parts[w] as () => unknown)()]));
}

function v3Set(state: FirmwareState, cmd: string, param: unknown): { code: number; msg: unknown } {
  switch (cmd) {
    case 'set.miner.service':
      if (param === 'stop') state.control('off');
      else if (param === 'start') state.control('on');
      else if (param === 'restart') state.miner.reboot();
      else return { code: -1, msg: 'param must be start, stop or restart' };
      return { code: 0, msg: 'ok' };
    case 'set.miner.power_percent': {
      const p =
        typeof param === 'object' && param !== null ? (param as Record<string, unknown>).percent : undefined;
      const percent =
        typeof p === 'string' && /^\d{1,3}$/.test(p) ? Number(p) : typeof p === 'number' ? p : NaN;
      if (!Number.isInteger(percent)) return { code: -1, msg: 'percent must be a whole number' };
      const err = state.control({ percent });
      return err ? { code: -1, msg: err } : { code: 0, msg: 'ok' };
    }
    default:
      return { code: -2, msg: 'invalid command' };
  }
}

function v3Handle(
  state: FirmwareState,
  opts: WhatsminerServerOptions,
  body: Buffer,
): Record<string, unknown> {
  const when = Math.floor(state.now() / 1000);
  const reply = (code: number, msg: unknown, desc: string) => ({ code, when, msg, desc });
  let req: unknown;
  try {
    req = JSON.parse(body.toString('utf8'));
  } catch {
    return reply(-3, 'invalid json', '');
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return reply(-3, 'invalid json', '');
  const r = req as Record<string, unknown>;
  const cmd = typeof r.cmd === 'string' ? r.cmd.slice(0, 64) : '';
  if (cmd === 'get.device.info') return reply(0, v3DeviceInfo(state, r.param), cmd);
  if (cmd === 'get.miner.status') {
    const msg = v3MinerStatus(state, r.param);
    return msg ? reply(0, msg, cmd) : reply(-1, 'param must be summary, pools or edevs', cmd);
  }
  if (!cmd.startsWith('set.')) return reply(-2, 'invalid command', cmd);
  // set.*: account, ts within the window, token = base64(sha256(cmd+password+salt+ts))[:8].
  const ts = typeof r.ts === 'number' && Number.isInteger(r.ts) ? r.ts : NaN;
  const window = opts.v3TsWindowS ?? 300;
  const account = typeof r.account === 'string' ? r.account : '';
  const password = state.miner.credentials.password;
  const fresh = Math.abs(ts - when) <= window;
  const known = V3_ACCOUNTS.has(account) || account === state.miner.credentials.username;
  if (!known || !fresh || r.token !== v3Token(cmd, password, state.v3Salt, ts)) {
    state.stats.writesRefused++;
    return reply(-4, 'access denied', cmd);
  }
  const result = v3Set(state, cmd, r.param);
  if (result.code === 0) state.stats.writesAccepted++;
  else state.stats.writesRefused++;
  return reply(result.code, result.msg, cmd);
}

function frame(payload: Buffer, declared = payload.length): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(declared, 0);
  return Buffer.concat([head, payload]);
}

function serveV3(state: FirmwareState, opts: WhatsminerServerOptions, host: string, port: number) {
  const { miner } = state;
  const sockets = new Set<Socket>();
  const stops = new Set<() => void>();

  const send = (socket: Socket, reply: Record<string, unknown>): boolean => {
    const fault = miner.fault;
    if (fault === 'timeout') return false; // read, never answer
    const bytes = frame(Buffer.from(JSON.stringify(reply), 'utf8'));
    if (isReplyFault(fault)) {
      if (fault === 'garbage') socket.end(garbageBytes(() => miner.random()));
      else if (fault === 'truncate') sendTruncated(socket, bytes);
      else if (fault === 'slow-drip') {
        const stop = sendSlowDrip(socket, bytes);
        stops.add(stop);
        socket.once('close', () => stops.delete(stop));
      } else {
        const huge = Buffer.from(JSON.stringify({ code: 0, msg: { padding: 'x'.repeat(OVERSIZED_BYTES) } }));
        socket.end(frame(huge));
      }
      return false;
    }
    socket.write(bytes);
    return true;
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (miner.fault === 'refuse' || miner.observe().state === 'offline') {
      socket.resetAndDestroy();
      return;
    }
    socket.setTimeout(V3_IDLE_CLOSE_MS, () => socket.destroy());
    let buf = Buffer.alloc(0);
    let busy = false;
    socket.on('data', (chunk: Buffer) => {
      if (busy) return;
      buf = Buffer.concat([buf, chunk]);
      // Several requests may follow each other on one connection.
      while (buf.length >= 4) {
        const len = buf.readUInt32LE(0);
        if (len > MAX_V3_FRAME_BYTES) {
          socket.end(
            frame(Buffer.from(JSON.stringify({ code: -3, when: 0, msg: 'frame too large', desc: '' }))),
          );
          busy = true;
          return;
        }
        if (buf.length < 4 + len) return;
        const body = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        if (!send(socket, v3Handle(state, opts, body))) {
          busy = true;
          return;
        }
      }
    });
  });

  return new Promise<{ port: number; close(): Promise<void> }>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : port,
        close: () =>
          new Promise<void>((done) => {
            for (const stop of stops) stop();
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

// ---------------------------------------------------------------- both

/** Serves API v2 (4028) and API v3 (4433) for one simulated Whatsminer. */
export async function startWhatsminerServers(
  miner: SimMinerView,
  opts: WhatsminerServerOptions,
): Promise<WhatsminerServers> {
  const state = new FirmwareState(miner, opts);
  const host = miner.id.simHost;
  const v2 = await serveRpc(host, opts.portMap(WHATSMINER_V2_REAL_PORT), v2Handler(state, opts), {
    miner,
    variants: BTMINER_VARIANTS,
    description: 'btminer',
    now: state.now,
  });
  let v3: Awaited<ReturnType<typeof serveV3>>;
  try {
    v3 = await serveV3(state, opts, host, opts.portMap(WHATSMINER_V3_REAL_PORT));
  } catch (err) {
    await v2.close();
    throw err;
  }
  let closed: Promise<void> | null = null;
  return {
    ports: [v2.port, v3.port],
    stats: state.stats,
    close() {
      closed ??= Promise.all([v2.close(), v3.close()]).then(() => undefined);
      return closed;
    },
    expireTokens() {
      state.tokens.clear();
    },
    rotateSalt() {
      state.v3Salt = randomSalt(() => miner.random());
    },
  };
}

registerProtocol('whatsminer', startWhatsminerServers);

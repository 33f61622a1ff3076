// LuxOS for one simulated miner: cgminer RPC on 4028 plus LuxOS's session commands. One
// session at a time (logon → 316 with SESSION[0].SessionID; a second logon → 402 "Another
// session is active"; `session` shows the open one), expiring after sessionIdleMs without use
// (default 60 s, on the `now` clock). `curtail` sleep/wakeup, `atm`/`atmset`, `profiles`,
// `profileset` (refused while ATM is on), `config` with CurtailMode, `power`, `devs` with
// Profile and IsRamping. LuxOS profiles are the SimMinerView's profiles, by name.
//
// Codes LuxOS documents: 316 logon, 402 session active, 335 curtail, 14 invalid command. The
// others below (317 logoff, 318 session, 319-322, 401 for a bad session id) are this
// simulator's choices; drivers must not depend on them.
import type { PowerProfile } from '@switchyard/domain';
import type { SimMinerView, SimObservation } from '../model/sim-miner-api.ts';
import { registerProtocol } from './registry.ts';
import type { StartMinerServersOptions } from './registry.ts';
import { missingCommandReply, rpcErrorReply, rpcStatus, serveRpc } from './rpc-server.ts';
import type { RpcHandler, RpcJsonVariant } from './rpc-server.ts';

export const LUXOS_RPC_PORT = 4028;
export const LUXOS_SESSION_IDLE_MS = 60_000;
const DESCRIPTION = 'LUXminer';

/** LuxOS sends valid JSON; its quirks are framing: newline-terminated replies on an open socket. */
export const LUXOS_VARIANTS: readonly RpcJsonVariant[] = [
  { name: 'newline-keep-open', newlineKeepOpen: true },
  { name: 'trailing-garbage', trailingGarbage: true },
];

/** Session commands: the session id is the first item of the parameter. */
const SESSION_COMMANDS = new Set([
  'curtail',
  'profileset',
  'atmset',
  'fanset',
  'tempctrlset',
  'enableboard',
  'disableboard',
  'rebootdevice',
  'resetminer',
  'logoff',
]);

export interface LuxosServerOptions extends StartMinerServersOptions {
  /** Clock for session expiry and STATUS "When" (ms). Default Date.now (real time). */
  now?: () => number;
  sessionIdleMs?: number;
  /** ATM state at start (default on, as LuxOS ships). */
  atmEnabled?: boolean;
  /** The session/ATM state object to use (tests inspect and change it). */
  state?: LuxosState;
}

/** The LuxOS state a server keeps beside the physics: session and ATM. */
export interface LuxosState {
  session: { id: string; lastUsedMs: number } | null;
  atmEnabled: boolean;
}

function frequencyFor(p: PowerProfile, normal: PowerProfile | undefined): number {
  const base = 525;
  return normal ? Math.round((base * p.hashrateThs) / normal.hashrateThs / 5) * 5 : base;
}

interface Ctx {
  miner: SimMinerView;
  state: LuxosState;
  now: () => number;
  idleMs: number;
  profiles: PowerProfile[];
  normal: PowerProfile | undefined;
}

type Reply = Record<string, unknown>;
type Command = (ctx: Ctx, args: string[], obs: SimObservation) => Reply;

const ghs = (ths: number) => Math.round(ths * 1000 * 100) / 100;
const ok = (ctx: Ctx, code: number, msg: string) => [rpcStatus('S', code, msg, DESCRIPTION, ctx.now())];
const fail = (ctx: Ctx, code: number, msg: string) => rpcErrorReply(code, msg, DESCRIPTION, ctx.now());
const isRunning = (obs: SimObservation) => obs.state === 'hashing' || obs.state === 'ramping';

function activeSession(ctx: Ctx): LuxosState['session'] {
  const { state } = ctx;
  if (state.session && ctx.now() - state.session.lastUsedMs > ctx.idleMs) state.session = null;
  return state.session;
}

function idealGhs(ctx: Ctx, obs: SimObservation): number {
  const p = ctx.profiles.find((x) => x.name === obs.profile) ?? ctx.normal;
  return ghs(p?.hashrateThs ?? obs.hashrateAvgThs);
}

const COMMANDS: Record<string, Command> = {
  logon(ctx) {
    if (activeSession(ctx)) return fail(ctx, 402, 'Another session is active');
    const id = Array.from({ length: 8 }, () => Math.floor(ctx.miner.random() * 16).toString(16)).join('');
    ctx.state.session = { id, lastUsedMs: ctx.now() };
    return { STATUS: ok(ctx, 316, 'Session created'), SESSION: [{ SessionID: id }], id: 1 };
  },
  session(ctx) {
    const s = activeSession(ctx);
    return { STATUS: ok(ctx, 318, 'Session info'), SESSION: [{ SessionID: s ? s.id : '' }], id: 1 };
  },
  logoff(ctx) {
    ctx.state.session = null;
    return { STATUS: ok(ctx, 317, 'Session ended'), id: 1 };
  },
  curtail(ctx, args) {
    const action = args[1];
    if (action === 'sleep') ctx.miner.sleep();
    else if (action === 'wakeup') ctx.miner.wake();
    else return fail(ctx, 400, `Invalid curtail action '${action ?? ''}'`);
    return {
      STATUS: ok(ctx, 335, 'Curtail'),
      CURTAIL: [{ Action: action === 'sleep' ? 'sleep mode' : 'wakeup' }],
      id: 1,
    };
  },
  atm(ctx) {
    const { profiles } = ctx;
    return {
      STATUS: ok(ctx, 319, 'ATM configuration values'),
      ATM: [
        {
          Enabled: ctx.state.atmEnabled,
          MaxProfile: profiles[profiles.length - 1]?.name ?? 'default',
          MinProfile: profiles[0]?.name ?? 'default',
          PostRampMinutes: 15,
          StartupMinutes: 15,
          TempWindow: 5,
        },
      ],
      id: 1,
    };
  },
  atmset(ctx, args) {
    for (const a of args.slice(1)) {
      const [k, v] = a.split('=');
      if (k !== 'enabled') continue;
      if (v !== 'true' && v !== 'false') return fail(ctx, 400, `Invalid value for enabled: '${v ?? ''}'`);
      ctx.state.atmEnabled = v === 'true';
    }
    return {
      STATUS: ok(ctx, 320, 'ATM settings updated'),
      ATMSET: [{ Enabled: ctx.state.atmEnabled }],
      id: 1,
    };
  },
  profiles(ctx) {
    const { profiles, normal } = ctx;
    const normalIndex = normal ? profiles.indexOf(normal) : 0;
    return {
      STATUS: ok(ctx, 321, 'Profiles'),
      PROFILES: profiles.map((p, i) => ({
        'Profile Name': p.name,
        Frequency: frequencyFor(p, normal),
        Hashrate: p.hashrateThs,
        Watts: p.powerW,
        Voltage: 13.2,
        Step: String(i - normalIndex),
        IsTuned: true,
        IsDynamic: false,
      })),
      id: 1,
    };
  },
  profileset(ctx, args) {
    if (ctx.state.atmEnabled) return fail(ctx, 400, 'Cannot set profile while ATM is enabled');
    // "<sid>,<profile>", or the older "<sid>,<board>,<profile>".
    const name = args.length >= 3 ? args[2] : args[1];
    if (!name || !ctx.profiles.some((p) => p.name === name))
      return fail(ctx, 400, `Invalid profile '${name ?? ''}'`);
    const e = ctx.miner.setProfile(name);
    if (e) return fail(ctx, 400, e);
    return {
      STATUS: ok(ctx, 322, 'Profile set'),
      PROFILE: [{ Board: 'all', Profile: name, Result: 'success' }],
      id: 1,
    };
  },
  config(ctx, _args, obs) {
    const { miner } = ctx;
    return {
      STATUS: ok(ctx, 33, 'LUXminer config'),
      CONFIG: [
        {
          'ASC Count': obs.boards.length,
          'PGA Count': 0,
          'Pool Count': 2,
          Strategy: 'Failover',
          'Log Interval': 5,
          'Device Code': '',
          OS: 'Linux',
          CurtailMode: obs.state === 'sleeping' ? 'Sleep' : 'None',
          Hostname: miner.id.hostname,
          MACAddr: miner.id.mac,
          Model: `Antminer ${miner.id.model}`,
        },
      ],
      id: 1,
    };
  },
  version(ctx) {
    const { id } = ctx.miner;
    return {
      STATUS: ok(ctx, 22, 'LUXminer versions'),
      VERSION: [
        { API: '3.7', LUXminer: id.firmwareVersion, Miner: id.firmwareVersion, Type: `Antminer ${id.model}` },
      ],
      id: 1,
    };
  },
  summary(ctx, _args, obs) {
    return {
      STATUS: ok(ctx, 11, 'Summary'),
      SUMMARY: [
        {
          Elapsed: obs.uptimeS,
          'GHS 5s': ghs(obs.hashrateThs),
          'GHS av': ghs(obs.hashrateAvgThs),
          'GHS 30m': ghs(obs.hashrateAvgThs),
          Accepted: obs.accepted,
          Rejected: obs.rejected,
          'Hardware Errors': 0,
          'Pool Rejected%': 0.3,
          'Pool Stale%': 0,
        },
      ],
      id: 1,
    };
  },
  stats(ctx, _args, obs) {
    const detail: Record<string, unknown> = {
      STATS: 0,
      ID: 'LUX0',
      Elapsed: obs.uptimeS,
      'GHS 5s': ghs(obs.hashrateThs),
      'GHS av': ghs(obs.hashrateAvgThs),
      total_rateideal: idealGhs(ctx, obs),
      rate_unit: 'GH',
      fan_num: obs.fans.length,
    };
    obs.fans.forEach((rpm, i) => {
      detail[`fan${i + 1}`] = rpm;
    });
    for (const b of obs.boards) {
      const n = b.index + 1;
      detail[`chain_rate${n}`] = ghs(b.hashrateThs);
      detail[`chain_acn${n}`] = b.chips;
      detail[`temp${n}`] = Math.round(Math.max(...b.chipTempsC));
      detail[`temp2_${n}`] = Math.round(b.boardTempC);
    }
    const { id } = ctx.miner;
    return {
      STATUS: ok(ctx, 70, 'LUXminer stats'),
      STATS: [{ LUXminer: id.firmwareVersion, Type: `Antminer ${id.model}` }, detail],
      id: 1,
    };
  },
  devs(ctx, _args, obs) {
    return {
      STATUS: ok(ctx, 9, `${obs.boards.length} ASC(s)`),
      DEVS: obs.boards.map((b) => ({
        ASC: b.index,
        Name: 'LUX',
        ID: b.index,
        Enabled: 'Y',
        Status: isRunning(obs) ? 'Alive' : 'Dead',
        Temperature: Math.round(b.boardTempC),
        'MHS 5s': Math.round(b.hashrateThs * 1e6),
        'MHS av': Math.round(b.hashrateThs * 1e6),
        Profile: obs.profile ?? 'default',
        IsRamping: obs.state === 'ramping',
      })),
      id: 1,
    };
  },
  pools(ctx, _args, obs) {
    return {
      STATUS: ok(ctx, 7, '2 Pool(s)'),
      POOLS: [0, 1].map((i) => ({
        POOL: i,
        URL: i === 0 ? 'stratum+tcp://pool.example.com:3333' : 'stratum+tcp://backup.example.com:3333',
        Status: 'Alive',
        Priority: i,
        User: `farm.${ctx.miner.id.hostname}`,
        Accepted: i === 0 ? obs.accepted : 0,
        Rejected: i === 0 ? obs.rejected : 0,
        'Stratum Active': i === 0,
      })),
      id: 1,
    };
  },
  power(ctx, _args, obs) {
    return { STATUS: ok(ctx, 30, 'Power'), POWER: [{ PSU: true, Watts: obs.powerW }], id: 1 };
  },
  fans(ctx, _args, obs) {
    return {
      STATUS: ok(ctx, 31, 'Fans'),
      FANS: obs.fans.map((rpm, i) => ({ ID: i, RPM: rpm, Speed: Math.round(rpm / 60) })),
      id: 1,
    };
  },
};

/** The LuxOS command handler for serveRpc; `state` holds the session and ATM. */
export function luxosHandler(
  miner: SimMinerView,
  state: LuxosState,
  now: () => number,
  idleMs = LUXOS_SESSION_IDLE_MS,
): RpcHandler {
  const profiles = [...miner.id.profiles].sort((a, b) => a.powerW - b.powerW);
  const ctx: Ctx = {
    miner,
    state,
    now,
    idleMs,
    profiles,
    normal: profiles.find((p) => p.name === 'normal') ?? profiles[profiles.length - 1],
  };
  return ({ command, parameter }) => {
    if (command === '') return missingCommandReply(DESCRIPTION, now());
    const args = (parameter ?? '').split(',').map((s) => s.trim());
    if (SESSION_COMMANDS.has(command)) {
      const s = activeSession(ctx);
      if (!s || args[0] !== s.id) return fail(ctx, 401, 'Invalid session id');
      s.lastUsedMs = now();
    }
    const run = Object.prototype.hasOwnProperty.call(COMMANDS, command) ? COMMANDS[command] : undefined;
    return run ? run(ctx, args, miner.observe()) : fail(ctx, 14, 'Invalid command');
  };
}

/** Starts the LuxOS RPC listener (portMap(id.port ?? 4028)) for one miner. */
export async function startLuxosServers(
  miner: SimMinerView,
  opts: LuxosServerOptions,
): Promise<{ close(): Promise<void>; ports: number[] }> {
  const now = opts.now ?? Date.now;
  const state: LuxosState = opts.state ?? { session: null, atmEnabled: opts.atmEnabled ?? true };
  const rpc = await serveRpc(
    miner.id.simHost,
    opts.portMap(miner.id.port ?? LUXOS_RPC_PORT),
    luxosHandler(miner, state, now, opts.sessionIdleMs),
    { miner, variants: LUXOS_VARIANTS, joined: 'supported', description: DESCRIPTION, now },
  );
  return { ports: [rpc.port], close: () => rpc.close() };
}

registerProtocol('luxos', startLuxosServers);

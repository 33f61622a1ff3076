// Braiins OS Public REST API (25.07+) for one simulated miner: HTTP on the miner's loopback
// address, port 80 through the port map. Token auth with the miner's credentials (sliding
// validity), the JSON shapes of the firmware's OpenAPI document, pause/resume/power-target
// mapped onto the SimMinerView, and the miner's wire fault applied to every connection.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { SimMinerView, SimObservation } from '../model/sim-miner-api.ts';
import {
  createMinerHttpServer,
  garbageBytes,
  isReplyFault,
  OVERSIZED_BYTES,
  sendSlowDrip,
  sendTruncated,
} from './stream-faults.ts';
import { registerProtocol, type StartMinerServersOptions } from './registry.ts';

export const BRAIINS_REAL_PORT = 80;
const API = '/api/v1';
const MAX_BODY_BYTES = 64 * 1024;
const MAX_TOKENS = 64;

export interface BraiinsServerOptions extends StartMinerServersOptions {
  /** Token validity in seconds, refreshed by every request (the firmware's sliding window). */
  tokenTimeoutS?: number;
  /** Clock for token expiry (tests move it forward). */
  now?: () => number;
}

interface Reply {
  status: number;
  body?: unknown;
}

type Handler = (miner: SimMinerView, body: unknown) => Reply;

const ok = (body: unknown): Reply => ({ status: 200, body });
const error = (status: number, message: string): Reply => ({ status, body: { message } });

// ---------------------------------------------------------------- JSON shapes

const power = (w: number) => ({ watt: Math.max(0, Math.round(w)) });
const ghs = (ths: number) => ({ gigahash_per_second: Math.max(0, Math.round(ths * 1000 * 10) / 10) });
const temp = (c: number) => ({ degree_c: Math.round(c * 10) / 10 });

function nominalThs(miner: SimMinerView): number {
  const p = miner.id.profiles;
  return (p.find((x) => x.name === 'normal') ?? p[p.length - 1])?.hashrateThs ?? 0;
}

function detailedStatus(o: SimObservation) {
  switch (o.state) {
    case 'hashing':
      return { running: { reason: { normal: {} } } };
    case 'ramping':
      return { running: { reason: { preheating: {} } } };
    case 'sleeping':
      return { stopped: { reason: { user_pause: {} } } };
    default:
      return {
        stopped: { reason: { hardware_error: { message: o.reasons.join('; ') || 'hardware error' } } },
      };
  }
}

// Deprecated integer status: 2 normal, 3 paused, 4 suspended.
const legacyStatus = (o: SimObservation) => (o.state === 'sleeping' ? 3 : o.state === 'fault' ? 4 : 2);

function stats(miner: SimMinerView): unknown {
  const o = miner.observe();
  const mining = o.state === 'hashing' || o.state === 'ramping';
  return {
    miner_stats: {
      found_blocks: 0,
      best_share: 0,
      best_share_str: '0',
      nominal_hashrate: ghs(nominalThs(miner)),
      real_hashrate: {
        last_5s: ghs(o.hashrateThs),
        last_15s: ghs(o.hashrateThs),
        last_30s: ghs(o.hashrateThs),
        last_1m: ghs(o.hashrateThs),
        since_restart: ghs(o.hashrateAvgThs),
      },
    },
    pool_stats: {
      accepted_shares: o.accepted,
      rejected_shares: o.rejected,
      stale_shares: 0,
      last_difficulty: 0,
      best_share: 0,
      best_share_str: '0',
      generated_work: o.accepted,
    },
    power_stats: {
      approximated_consumption: power(o.powerW),
      efficiency:
        mining && o.hashrateThs > 0
          ? { joule_per_terahash: Math.round((o.powerW / o.hashrateThs) * 100) / 100 }
          : null,
    },
  };
}

function details(miner: SimMinerView): unknown {
  const o = miner.observe();
  const { id } = miner;
  const name = `Antminer ${id.model}`;
  return {
    uid: id.serial,
    platform: 1,
    bos_mode: 1,
    hostname: id.hostname,
    mac_address: id.mac,
    system_uptime: Math.round(o.uptimeS),
    system_uptime_s: Math.round(o.uptimeS),
    bosminer_uptime_s: o.state === 'sleeping' ? 0 : Math.round(o.uptimeS),
    status: legacyStatus(o),
    kernel_version: '5.15.0',
    control_board_soc_family: 1,
    miner_identity: { brand: 1, model: 0, name, miner_model: name },
    bos_version: { current: id.firmwareVersion, major: id.firmwareVersion.slice(0, 5), bos_plus: true },
    serial_number: id.serial,
    sticker_hashrate: ghs(nominalThs(miner)),
    detailed_status: { status: detailedStatus(o), status_since: null, status_until: null },
  };
}

function tunerState(miner: SimMinerView): unknown {
  const o = miner.observe();
  const target = o.powerTargetW ?? miner.id.nameplateW;
  return {
    overall_tuner_state: o.state === 'ramping' ? 3 : 2,
    mode_state: {
      powertargetmodestate: {
        current_target: power(target),
        profile: {
          created: { seconds: 1_744_000_000, nanos: 0 },
          estimated_power_consumption: power(target),
          measured_hashrate: ghs(nominalThs(miner) * (target / miner.id.nameplateW)),
          target: power(target),
        },
      },
    },
  };
}

function hashboards(miner: SimMinerView): unknown {
  const o = miner.observe();
  return {
    hashboards: o.boards.map((b) => ({
      id: String(b.index),
      enabled: true,
      chips_count: b.chips,
      board_temp: temp(b.boardTempC),
      highest_chip_temp: { location: 1, temperature: temp(Math.max(...b.chipTempsC, b.boardTempC)) },
      stats: { real_hashrate: { last_5s: ghs(b.hashrateThs), last_1m: ghs(b.hashrateThs) } },
    })),
  };
}

function cooling(miner: SimMinerView): unknown {
  const o = miner.observe();
  return { fans: o.fans.map((rpm, i) => ({ position: i, rpm: Math.round(rpm), target_speed_ratio: null })) };
}

function pools(miner: SimMinerView): unknown {
  const o = miner.observe();
  const mining = o.state === 'hashing' || o.state === 'ramping';
  return [
    {
      uid: 'group-1',
      name: 'Default',
      strategy: { quota: { value: 1 } },
      pools: [
        {
          uid: 'pool-1',
          url: 'stratum+tcp://stratum.braiins.com:3333',
          user: `${miner.id.fleet}.${miner.id.hostname}`,
          enabled: true,
          alive: true,
          active: mining,
        },
      ],
    },
  ];
}

function constraints(miner: SimMinerView): unknown {
  const b = miner.id.powerTargetBoundsW;
  return {
    tuner_constraints: {
      default_mode: 1,
      enabled: { default: true },
      power_target: { min: power(b.min), max: power(b.max), default: power(miner.id.nameplateW) },
    },
  };
}

// ---------------------------------------------------------------- controls

function setPowerTarget(miner: SimMinerView, body: unknown): Reply {
  const watt = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).watt : undefined;
  if (typeof watt !== 'number' || !Number.isInteger(watt) || watt < 0)
    return error(400, 'watt must be a non-negative integer');
  const err = miner.setPowerTarget(watt);
  return err ? error(400, err) : ok(power(watt));
}

function pause(miner: SimMinerView): Reply {
  const already = miner.observe().state === 'sleeping';
  miner.sleep();
  return ok(already);
}

function resume(miner: SimMinerView): Reply {
  const s = miner.observe().state;
  const already = s === 'hashing' || s === 'ramping';
  miner.wake();
  return ok(already);
}

function quickRamping(_miner: SimMinerView, body: unknown): Reply {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const valid = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 3600;
  if (!valid(b.up_s) || !valid(b.down_s)) return error(400, 'up_s and down_s must be 0-3600 seconds');
  return ok({ up_s: b.up_s, down_s: b.down_s });
}

const ROUTES: Record<string, Handler> = {
  [`GET ${API}/miner/stats`]: (m) => ok(stats(m)),
  [`GET ${API}/miner/details`]: (m) => ok(details(m)),
  [`GET ${API}/performance/tuner-state`]: (m) => ok(tunerState(m)),
  [`GET ${API}/miner/hw/hashboards`]: (m) => ok(hashboards(m)),
  [`GET ${API}/cooling/state`]: (m) => ok(cooling(m)),
  [`GET ${API}/pools`]: (m) => ok(pools(m)),
  [`GET ${API}/configuration/constraints`]: (m) => ok(constraints(m)),
  [`PUT ${API}/actions/pause`]: pause,
  [`PUT ${API}/actions/resume`]: resume,
  [`PUT ${API}/performance/power-target`]: setPowerTarget,
  [`PUT ${API}/performance/quick-ramping`]: quickRamping,
};

// ---------------------------------------------------------------- server

class TokenStore {
  readonly timeoutS: number;
  private readonly tokens = new Map<string, number>();
  private readonly now: () => number;

  constructor(timeoutS: number, now: () => number) {
    this.timeoutS = timeoutS;
    this.now = now;
  }

  issue(): string {
    const token = randomBytes(18).toString('base64url');
    this.tokens.set(token, this.now());
    // Bounded: the oldest session goes first.
    while (this.tokens.size > MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value as string);
    return token;
  }

  /** True when the token is known and not expired; refreshes its sliding validity. */
  use(token: string): boolean {
    const last = this.tokens.get(token);
    if (last === undefined) return false;
    if (this.now() - last > this.timeoutS * 1000) {
      this.tokens.delete(token);
      return false;
    }
    this.tokens.set(token, this.now());
    return true;
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(null));
  });
}

function rawHttp(status: number, payload: string, closeDelimited = false): Buffer {
  const head = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`,
    'content-type: application/json',
    ...(closeDelimited ? [] : [`content-length: ${Buffer.byteLength(payload)}`]),
    'connection: close',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head), Buffer.from(payload)]);
}

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(?:Bearer\s+)?(\S+)$/i.exec(header.trim());
  return m ? (m[1] as string) : null;
}

function route(miner: SimMinerView, tokens: TokenStore, req: http.IncomingMessage, body: Buffer): Reply {
  const path = (req.url ?? '/').split('?')[0]?.replace(/\/+$/, '') ?? '';
  const key = `${req.method} ${path}`;
  let parsed: unknown;
  try {
    parsed = body.length ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    return error(400, 'request body is not JSON');
  }
  if (key === `POST ${API}/auth/login`) {
    const c = (parsed ?? {}) as Record<string, unknown>;
    if (c.username !== miner.credentials.username || c.password !== miner.credentials.password) {
      return error(401, 'invalid username or password');
    }
    return ok({ token: tokens.issue(), timeout_s: tokens.timeoutS });
  }
  const token = bearer(req.headers.authorization);
  if (!token || !tokens.use(token)) return error(401, 'unauthenticated');
  const handler = ROUTES[key];
  if (handler) return handler(miner, parsed);
  const known = Object.keys(ROUTES).some((k) => k.endsWith(` ${path}`));
  return known ? error(405, 'method not allowed') : error(404, 'not found');
}

/** Serves the Braiins REST API for one simulated miner. */
export async function startBraiinsServers(
  miner: SimMinerView,
  opts: BraiinsServerOptions,
): Promise<{ close(): Promise<void>; ports: number[] }> {
  const tokens = new TokenStore(opts.tokenTimeoutS ?? 3600, opts.now ?? Date.now);
  const stops = new Set<() => void>();
  const server = createMinerHttpServer(miner);

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // A kept-alive connection outlives neither a refusing listener nor a reboot.
    if (miner.fault === 'refuse' || miner.observe().state === 'offline') {
      req.socket.resetAndDestroy();
      return;
    }
    void readBody(req).then((body) => {
      if (body === null) {
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ message: 'request body too large' }));
        return;
      }
      const fault = miner.fault;
      if (fault === 'timeout') return; // accept, read, never answer
      const reply = route(miner, tokens, req, body);
      const payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
      if (isReplyFault(fault)) {
        const socket = req.socket;
        if (fault === 'garbage') socket.end(garbageBytes(() => miner.random()));
        else if (fault === 'truncate') sendTruncated(socket, rawHttp(reply.status, payload));
        else if (fault === 'slow-drip') {
          const stop = sendSlowDrip(socket, rawHttp(reply.status, payload));
          stops.add(stop);
          socket.once('close', () => stops.delete(stop));
        } else {
          const huge = JSON.stringify({ padding: 'x'.repeat(OVERSIZED_BYTES) });
          socket.end(rawHttp(200, huge, true));
        }
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(payload);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.portMap(BRAIINS_REAL_PORT), miner.id.simHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let closed: Promise<void> | null = null;
  return {
    ports: [port],
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const stop of stops) stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

registerProtocol('braiins', startBraiinsServers);

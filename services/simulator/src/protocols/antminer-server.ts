// Stock Antminer firmware for one simulated miner: bmminer's RPC on 4028 (read commands only,
// with bmminer's quirks: "GHS 5s" as a string, "Tenperature" in devs, `}{` and `[,{` in some
// replies, `{}` for joined commands on S19 builds) and the web UI on 80 (real HTTP Digest auth,
// MD5, qop=auth; get_miner_conf.cgi, set_miner_conf.cgi, get_system_info.cgi). miner-mode maps
// onto the SimMinerView: 1 sleep; 0 the "normal" profile, awake; 3 the lowest profile, awake.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { PowerProfile } from '@switchyard/domain';
import type { SimMinerView, SimObservation } from '../model/sim-miner-api.ts';
import { registerProtocol } from './registry.ts';
import type { StartMinerServersOptions } from './registry.ts';
import { missingCommandReply, rpcErrorReply, rpcStatus, serveRpc } from './rpc-server.ts';
import type { RpcHandler, RpcJsonVariant, RpcServer } from './rpc-server.ts';
import {
  OVERSIZED_BYTES,
  createMinerHttpServer,
  garbageBytes,
  isReplyFault,
  sendSlowDrip,
  sendTruncated,
} from './stream-faults.ts';

export const ANTMINER_RPC_PORT = 4028;
export const ANTMINER_WEB_PORT = 80;
export const ANTMINER_REALM = 'antMiner Configuration';
const DESCRIPTION = 'bmminer 1.0.0';

/** bmminer's broken-JSON variants. */
export const BMMINER_VARIANTS: readonly RpcJsonVariant[] = [
  { name: 'objects-without-comma', objectsWithoutComma: true },
  { name: 'leading-comma', leadingCommaInArrays: true },
  { name: 'no-comma-and-leading-comma', objectsWithoutComma: true, leadingCommaInArrays: true },
  { name: 'double-percent-keys', doublePercentKeys: true },
  { name: 'trailing-garbage', trailingGarbage: true },
];

export interface AntminerServerOptions extends StartMinerServersOptions {
  /** How joined commands are answered; default `{}` for S19 models (as some stock builds do), else joined. */
  joined?: 'supported' | 'empty' | 'error';
  /** Clock for STATUS "When" and nonce ages (ms). Default Date.now. */
  now?: () => number;
}

interface PoolConf {
  url: string;
  user: string;
  pass: string;
}

/** The miner's web-UI state that is not physics: its pools and fan settings. */
interface WebState {
  pools: PoolConf[];
  fanCtrl: boolean;
  fanPwm: string;
}

function normalProfile(miner: SimMinerView): PowerProfile | undefined {
  const ps = [...miner.id.profiles].sort((a, b) => a.powerW - b.powerW);
  return ps.find((p) => p.name === 'normal') ?? ps[ps.length - 1];
}

function lowProfile(miner: SimMinerView): PowerProfile | undefined {
  return [...miner.id.profiles].sort((a, b) => a.powerW - b.powerW)[0];
}

/** miner-mode as the web UI reports it, derived from the simulated miner. */
export function minerModeFor(miner: SimMinerView, obs: SimObservation = miner.observe()): 0 | 1 | 3 {
  if (obs.state === 'sleeping') return 1;
  const low = lowProfile(miner);
  const normal = normalProfile(miner);
  if (low && normal && low.name !== normal.name && obs.profile === low.name) return 3;
  return 0;
}

function idealGhs(miner: SimMinerView, obs: SimObservation): number {
  const p = miner.id.profiles.find((x) => x.name === obs.profile) ?? normalProfile(miner);
  let ths = p?.hashrateThs ?? obs.hashrateAvgThs;
  if (obs.powerTargetW !== null && p) ths = (ths * obs.powerTargetW) / p.powerW;
  if (obs.powerPercent !== null) ths = (ths * obs.powerPercent) / 100;
  return Math.round(ths * 1000 * 100) / 100;
}

const ghs = (ths: number) => Math.round(ths * 1000 * 100) / 100;
const int = (x: number) => Math.round(x);

// ------------------------------------------------------------------ RPC

function bmminerHandler(miner: SimMinerView, web: WebState, now: () => number): RpcHandler {
  const status = (code: number, msg: string) => [rpcStatus('S', code, msg, DESCRIPTION, now())];
  return ({ command }) => {
    if (command === '') return missingCommandReply(DESCRIPTION, now());
    const obs = miner.observe();
    const running = obs.state === 'hashing' || obs.state === 'ramping';
    switch (command) {
      case 'version':
        return {
          STATUS: status(22, 'BMMiner versions'),
          VERSION: [
            {
              BMMiner: '1.0.0',
              API: '3.1',
              Miner: 'uart_trans.1.3',
              CompileTime: miner.id.firmwareVersion,
              Type: `Antminer ${miner.id.model}`,
            },
          ],
          id: 1,
        };
      case 'summary':
        return {
          STATUS: status(11, 'Summary'),
          SUMMARY: [
            {
              Elapsed: obs.uptimeS,
              // Stock firmware sends the 5 s rate as a string.
              'GHS 5s': ghs(obs.hashrateThs).toFixed(2),
              'GHS av': ghs(obs.hashrateAvgThs),
              'GHS 30m': ghs(obs.hashrateAvgThs),
              'Found Blocks': 0,
              Getworks: Math.floor(obs.uptimeS / 30),
              Accepted: obs.accepted,
              Rejected: obs.rejected,
              'Hardware Errors': 0,
              Utility: 0,
              Discarded: 0,
              Stale: 0,
              'Get Failures': 0,
              'Remote Failures': 0,
              'Network Blocks': 0,
              'Total MH': ghs(obs.hashrateAvgThs) * 1000 * obs.uptimeS,
              'Device Hardware%': 0,
              'Device Rejected%': 0.3,
              'Pool Rejected%': 0.3,
              'Pool Stale%': 0,
              'Last getwork': Math.floor(now() / 1000),
            },
          ],
          id: 1,
        };
      case 'stats': {
        const detail: Record<string, unknown> = {
          STATS: 0,
          ID: 'BC50',
          Elapsed: obs.uptimeS,
          Calls: 0,
          Wait: 0,
          Max: 0,
          Min: 99999999,
          'GHS 5s': ghs(obs.hashrateThs).toFixed(2),
          'GHS av': ghs(obs.hashrateAvgThs),
          rate_30m: ghs(obs.hashrateAvgThs),
          Mode: 2,
          miner_count: obs.boards.length,
          frequency: running ? '675' : '0',
          fan_num: obs.fans.length,
          temp_num: obs.boards.length,
          total_rateideal: idealGhs(miner, obs),
          rate_unit: 'GH',
          total_freqavg: running ? 675 : 0,
          total_acn: obs.boards.reduce((s, b) => s + b.chips, 0),
          total_rate: ghs(obs.hashrateThs),
          miner_version: miner.id.firmwareVersion,
          miner_id: miner.id.serial,
        };
        obs.fans.forEach((rpm, i) => {
          detail[`fan${i + 1}`] = rpm;
        });
        for (const b of obs.boards) {
          const n = b.index + 1;
          const pcb = int(b.boardTempC);
          detail[`temp${n}`] = pcb;
          detail[`temp2_${n}`] = int(Math.max(...b.chipTempsC));
          detail[`temp_pcb${n}`] = `${pcb}-${pcb}-${pcb + 16}-${pcb + 16}`;
          detail[`temp_chip${n}`] = b.chipTempsC.map(int).join('-');
          detail[`chain_rateideal${n}`] = Math.round(idealGhs(miner, obs) / obs.boards.length);
          detail[`chain_acn${n}`] = b.chips;
          detail[`chain_rate${n}`] = ghs(b.hashrateThs).toFixed(2);
          detail[`chain_acs${n}`] = ' oooooooo oooooooo';
          detail[`chain_hw${n}`] = 0;
        }
        return {
          STATUS: status(70, 'BMMiner stats'),
          STATS: [
            {
              BMMiner: '1.0.0',
              Miner: 'uart_trans.1.3',
              CompileTime: miner.id.firmwareVersion,
              Type: `Antminer ${miner.id.model}`,
            },
            detail,
          ],
          id: 1,
        };
      }
      case 'pools':
        return {
          STATUS: status(7, `${web.pools.length} Pool(s)`),
          POOLS: web.pools.map((p, i) => ({
            POOL: i,
            URL: p.url,
            Status: 'Alive',
            Priority: i,
            Quota: 1,
            'Long Poll': 'N',
            Getworks: i === 0 ? Math.floor(obs.uptimeS / 30) : 0,
            Accepted: i === 0 ? obs.accepted : 0,
            Rejected: i === 0 ? obs.rejected : 0,
            Discarded: 0,
            Stale: 0,
            'Get Failures': 0,
            'Remote Failures': 0,
            User: p.user,
            'Last Share Time': i === 0 && running ? '0:00:07' : '0',
            Diff: '65.5K',
            'Diff1 Shares': 0,
            'Proxy Type': '',
            Proxy: '',
            'Difficulty Accepted': 0,
            'Difficulty Rejected': 0,
            'Difficulty Stale': 0,
            'Last Share Difficulty': 65536,
            'Has Stratum': true,
            'Stratum Active': i === 0,
            'Stratum URL': p.url.replace(/^stratum\+tcp:\/\//, '').replace(/:\d+$/, ''),
            'Has GBT': false,
            'Best Share': 0,
            'Pool Rejected%': 0.3,
            'Pool Stale%': 0,
          })),
          id: 1,
        };
      case 'devs':
        return {
          STATUS: status(9, `${obs.boards.length} ASC(s)`),
          DEVS: obs.boards.map((b) => ({
            ASC: b.index,
            Name: 'BTM_SOC0',
            ID: b.index,
            Enabled: 'Y',
            Status: running ? 'Alive' : 'Dead',
            // Stock firmware's spelling.
            Tenperature: int(b.boardTempC),
            'MHS av': Math.round(b.hashrateThs * 1e6),
            'MHS 5s': Math.round(b.hashrateThs * 1e6),
            Accepted: Math.floor(obs.accepted / Math.max(1, obs.boards.length)),
            Rejected: 0,
            'Hardware Errors': 0,
            Utility: 0,
            'Last Share Pool': 0,
            'Total MH': 0,
            'Device Hardware%': 0,
            'Device Rejected%': 0,
            'Device Elapsed': obs.uptimeS,
          })),
          id: 1,
        };
      default:
        return rpcErrorReply(14, 'Invalid command', DESCRIPTION, now());
    }
  };
}

// ------------------------------------------------------------------ web UI

interface DigestParams {
  [key: string]: string | undefined;
}

function parseAuthorization(header: string | undefined): DigestParams | null {
  if (!header || header.length > 4096 || !/^Digest\s/i.test(header)) return null;
  const params: DigestParams = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  let m: RegExpExecArray | null;
  const rest = header.replace(/^Digest\s+/i, '');
  while ((m = re.exec(rest)) !== null) {
    params[(m[1] as string).toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  }
  return params;
}

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

/** Issues and checks Digest nonces (MD5, qop=auth), as the stock lighttpd does. */
class DigestGuard {
  private readonly nonces = new Map<string, number>();
  private readonly miner: SimMinerView;
  private readonly now: () => number;

  constructor(miner: SimMinerView, now: () => number) {
    this.miner = miner;
    this.now = now;
  }

  challenge(stale: boolean): string {
    const nonce = randomBytes(16).toString('hex');
    if (this.nonces.size >= 1000) {
      const oldest = this.nonces.keys().next();
      if (!oldest.done) this.nonces.delete(oldest.value);
    }
    this.nonces.set(nonce, this.now());
    return `Digest realm="${ANTMINER_REALM}", nonce="${nonce}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  /** 'ok', 'stale' (right credentials, unknown or old nonce) or 'denied'. */
  check(method: string, url: string, header: string | undefined): 'ok' | 'stale' | 'denied' {
    const p = parseAuthorization(header);
    if (!p) return 'denied';
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = p;
    if (!username || !nonce || !uri || !response || realm !== ANTMINER_REALM) return 'denied';
    if (p.algorithm && p.algorithm.toUpperCase() !== 'MD5') return 'denied';
    if (qop !== 'auth' || !nc || !cnonce || uri !== url) return 'denied';
    const { username: user, password } = this.miner.credentials;
    const ha1 = md5(`${user}:${realm}:${password}`);
    const ha2 = md5(`${method}:${uri}`);
    const expected = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    if (username !== user || expected !== response) return 'denied';
    const issued = this.nonces.get(nonce);
    if (issued === undefined || this.now() - issued > 5 * 60_000) return 'stale';
    return 'ok';
  }
}

function rawHttp(status: number, body: string, contentLength = true): Buffer {
  const head = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json',
    'Connection: close',
  ];
  if (contentLength) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`);
}

function readBody(req: http.IncomingMessage, limit = 16 * 1024): Promise<string | null> {
  return new Promise((resolve) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

function asPools(v: unknown): PoolConf[] | null {
  if (!Array.isArray(v) || v.length > 3) return null;
  const out: PoolConf[] = [];
  for (const p of v) {
    if (typeof p !== 'object' || p === null) return null;
    const r = p as Record<string, unknown>;
    const url = typeof r.url === 'string' ? r.url.slice(0, 256) : '';
    if (url === '') continue; // a blank slot clears the pool
    out.push({
      url,
      user: typeof r.user === 'string' ? r.user.slice(0, 256) : '',
      pass: typeof r.pass === 'string' ? r.pass.slice(0, 256) : '',
    });
  }
  return out;
}

interface WebReply {
  status: number;
  body: unknown;
}

function webRoute(miner: SimMinerView, web: WebState, method: string, path: string, body: string): WebReply {
  if (method === 'GET' && path === '/cgi-bin/get_miner_conf.cgi') {
    const mode = minerModeFor(miner);
    return {
      status: 200,
      body: {
        pools: web.pools,
        'api-listen': true,
        'api-network': true,
        'api-groups': 'A:stats:pools:devs:summary:version',
        'api-allow': 'A:0/0,W:*',
        'bitmain-fan-ctrl': web.fanCtrl,
        'bitmain-fan-pwm': web.fanPwm,
        'bitmain-use-vil': true,
        'bitmain-freq': '675',
        'bitmain-voltage': '1400',
        'bitmain-ccdelay': '0',
        'bitmain-pwth': '0',
        'bitmain-work-mode': String(mode),
        'bitmain-freq-level': '100',
        'miner-mode': mode,
        'freq-level': '100',
      },
    };
  }
  if (method === 'GET' && path === '/cgi-bin/get_system_info.cgi') {
    return {
      status: 200,
      body: {
        minertype: `Antminer ${miner.id.model}`,
        nettype: 'DHCP',
        netdevice: 'eth0',
        macaddr: miner.id.mac,
        hostname: miner.id.hostname,
        ipaddress: miner.id.farmHost,
        netmask: '255.255.255.0',
        gateway: '',
        dnsservers: '',
        system_mode: 'GNU/Linux',
        system_kernel_version: 'Linux 4.9.113 #1 SMP PREEMPT',
        system_filesystem_version: miner.id.firmwareVersion,
        firmware_type: 'Release',
        serinum: miner.id.serial,
      },
    };
  }
  if (method === 'POST' && path === '/cgi-bin/set_miner_conf.cgi') {
    let conf: unknown;
    try {
      conf = JSON.parse(body);
    } catch {
      return { status: 200, body: { stats: 'error', code: 'M001', msg: 'Invalid JSON' } };
    }
    if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) {
      return { status: 200, body: { stats: 'error', code: 'M001', msg: 'Invalid config' } };
    }
    const c = conf as Record<string, unknown>;
    const rawMode = c['miner-mode'] ?? c['bitmain-work-mode'];
    const mode = typeof rawMode === 'number' ? rawMode : typeof rawMode === 'string' ? Number(rawMode) : NaN;
    if (rawMode !== undefined && mode !== 0 && mode !== 1 && mode !== 3) {
      return {
        status: 200,
        body: { stats: 'error', code: 'M002', msg: `Unsupported miner-mode ${String(rawMode)}` },
      };
    }
    if (c.pools !== undefined) {
      const pools = asPools(c.pools);
      if (pools === null)
        return { status: 200, body: { stats: 'error', code: 'M003', msg: 'Invalid pools' } };
      web.pools = pools;
    }
    if (typeof c['bitmain-fan-ctrl'] === 'boolean') web.fanCtrl = c['bitmain-fan-ctrl'];
    if (typeof c['bitmain-fan-pwm'] === 'string') web.fanPwm = c['bitmain-fan-pwm'].slice(0, 8);
    if (mode === 1) miner.sleep();
    else if (mode === 0 || mode === 3) {
      const p = mode === 3 ? lowProfile(miner) : normalProfile(miner);
      if (p && miner.observe().profile !== p.name) miner.setProfile(p.name);
      miner.wake();
    }
    return { status: 200, body: { stats: 'success', code: 'M000', msg: 'OK!' } };
  }
  return { status: 404, body: { stats: 'error', msg: 'Not Found' } };
}

async function serveWeb(
  miner: SimMinerView,
  web: WebState,
  host: string,
  port: number,
  now: () => number,
): Promise<{ port: number; close(): Promise<void> }> {
  const guard = new DigestGuard(miner, now);
  const stops = new Set<() => void>();
  const server = createMinerHttpServer(miner);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    void readBody(req).then((body) => {
      if (body === null) {
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        res.end('{"stats":"error","msg":"Request too large"}');
        return;
      }
      const fault = miner.fault;
      if (fault === 'timeout') return;
      const url = req.url ?? '/';
      const method = req.method ?? 'GET';
      const verdict = guard.check(method, url, req.headers.authorization);
      let reply: WebReply;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (verdict !== 'ok') {
        reply = { status: 401, body: { stats: 'error', msg: 'Unauthorized' } };
        headers['www-authenticate'] = guard.challenge(verdict === 'stale');
      } else {
        reply = webRoute(miner, web, method, url.split('?')[0] ?? '/', body);
      }
      const payload = JSON.stringify(reply.body);
      if (isReplyFault(fault)) {
        const socket = req.socket;
        if (fault === 'garbage') socket.end(garbageBytes(() => miner.random()));
        else if (fault === 'truncate') sendTruncated(socket, rawHttp(reply.status, payload));
        else if (fault === 'slow-drip') {
          const stop = sendSlowDrip(socket, rawHttp(reply.status, payload));
          stops.add(stop);
          socket.once('close', () => stops.delete(stop));
        } else socket.end(rawHttp(200, JSON.stringify({ padding: 'x'.repeat(OVERSIZED_BYTES) }), true));
        return;
      }
      res.writeHead(reply.status, headers);
      res.end(payload);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const stop of stops) stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Starts the RPC (portMap(id.port ?? 4028)) and web UI (portMap(80)) listeners for one miner. */
export async function startAntminerServers(
  miner: SimMinerView,
  opts: AntminerServerOptions,
): Promise<{ close(): Promise<void>; ports: number[] }> {
  const now = opts.now ?? Date.now;
  const web: WebState = {
    pools: [
      { url: 'stratum+tcp://pool.example.com:3333', user: `farm.${miner.id.hostname}`, pass: 'x' },
      { url: 'stratum+tcp://backup.example.com:3333', user: `farm.${miner.id.hostname}`, pass: 'x' },
    ],
    fanCtrl: false,
    fanPwm: '100',
  };
  const joined = opts.joined ?? (/S19/i.test(miner.id.model) ? 'empty' : 'supported');
  const rpc: RpcServer = await serveRpc(
    miner.id.simHost,
    opts.portMap(miner.id.port ?? ANTMINER_RPC_PORT),
    bmminerHandler(miner, web, now),
    { miner, variants: BMMINER_VARIANTS, joined, description: DESCRIPTION, now },
  );
  let webServer: { port: number; close(): Promise<void> };
  try {
    webServer = await serveWeb(miner, web, miner.id.simHost, opts.portMap(ANTMINER_WEB_PORT), now);
  } catch (err) {
    await rpc.close();
    throw err;
  }
  let closed: Promise<void> | null = null;
  return {
    ports: [rpc.port, webServer.port],
    close() {
      closed ??= Promise.all([rpc.close(), webServer.close()]).then(() => undefined);
      return closed;
    },
  };
}

registerProtocol('antminer', startAntminerServers);

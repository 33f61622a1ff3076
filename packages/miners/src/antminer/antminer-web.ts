// The stock Antminer web UI (lighttpd CGI, HTTP Digest auth): get_miner_conf.cgi,
// set_miner_conf.cgi, get_system_info.cgi. Its "miner-mode" is the only sleep/low-power
// control stock firmware has: 0 normal, 1 sleep, 2 high-efficiency on some models, 3 low power.
import { MinerError } from '../driver.ts';
import type { MinerCredentials } from '../driver.ts';
import { field, isObject, num, str } from '../rpc/fields.ts';
import type { JsonObject } from '../rpc/fields.ts';
import { parseLenientJson } from '../rpc/lenient-json.ts';
import { DigestClient } from '../web/digest-auth.ts';
import type { HttpResponse } from '../web/http-client.ts';

export const MINER_MODE = { normal: 0, sleep: 1, highEfficiency: 2, lowPower: 3 } as const;
export type MinerMode = 0 | 1 | 2 | 3;

/** Stock firmware's default web credentials. */
export const ANTMINER_DEFAULT_CREDENTIALS: MinerCredentials = { username: 'root', password: 'root' };

export interface AntminerWebOptions {
  host: string;
  port: number;
  credentials: MinerCredentials;
  timeoutMs?: number | undefined;
  maxReplyBytes?: number | undefined;
}

/** The keys that carry the mode: "miner-mode" (current firmware), "bitmain-work-mode" (older). */
const MODE_KEYS = ['miner-mode', 'bitmain-work-mode'] as const;

/** The mode in a get_miner_conf reply (number or numeric string); null when absent or unknown. */
export function minerModeOf(conf: unknown): MinerMode | null {
  for (const key of MODE_KEYS) {
    const v = num(field(conf, key));
    if (v === 0 || v === 1 || v === 2 || v === 3) return v;
  }
  return null;
}

/**
 * The body to POST to set_miner_conf.cgi: what the stock web page itself sends (fan control,
 * frequency level, pools, kept from the current conf) with the mode replaced, written with the
 * same type (number or string) the firmware used. Pools are kept, or the firmware clears them.
 */
export function minerConfPayload(conf: JsonObject, mode: MinerMode): JsonObject {
  const payload: JsonObject = {
    'bitmain-fan-ctrl': conf['bitmain-fan-ctrl'] ?? false,
    'bitmain-fan-pwm': conf['bitmain-fan-pwm'] ?? '100',
    'freq-level': conf['freq-level'] ?? conf['bitmain-freq-level'] ?? '100',
    pools: Array.isArray(conf.pools) ? conf.pools.slice(0, 3) : [],
  };
  let wrote = false;
  for (const key of MODE_KEYS) {
    if (conf[key] === undefined) continue;
    payload[key] = typeof conf[key] === 'string' ? String(mode) : mode;
    wrote = true;
  }
  if (!wrote) payload['miner-mode'] = mode;
  return payload;
}

export class AntminerWeb {
  readonly host: string;
  readonly port: number;
  private readonly client: DigestClient;
  private readonly timeoutMs: number | undefined;
  private readonly maxReplyBytes: number | undefined;

  constructor(opts: AntminerWebOptions) {
    this.host = opts.host;
    this.port = opts.port;
    this.client = new DigestClient(opts.credentials);
    this.timeoutMs = opts.timeoutMs;
    this.maxReplyBytes = opts.maxReplyBytes;
  }

  private json(res: HttpResponse, cgi: string): JsonObject {
    if (res.status === 404)
      throw new MinerError('protocol', this.host, `${cgi}: not found (not a stock Antminer web UI)`);
    if (res.status !== 200) throw new MinerError('rejected', this.host, `${cgi}: HTTP ${res.status}`);
    const body = parseLenientJson(res.body, { host: this.host });
    if (!isObject(body)) throw new MinerError('protocol', this.host, `${cgi}: reply is not a JSON object`);
    return body;
  }

  async get(cgi: string): Promise<JsonObject> {
    const res = await this.client.request({
      host: this.host,
      port: this.port,
      method: 'GET',
      path: `/cgi-bin/${cgi}`,
      headers: { Accept: 'application/json' },
      timeoutMs: this.timeoutMs,
      maxReplyBytes: this.maxReplyBytes,
    });
    return this.json(res, cgi);
  }

  async post(cgi: string, body: JsonObject): Promise<JsonObject> {
    const res = await this.client.request({
      host: this.host,
      port: this.port,
      method: 'POST',
      path: `/cgi-bin/${cgi}`,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: this.timeoutMs,
      maxReplyBytes: this.maxReplyBytes,
    });
    return this.json(res, cgi);
  }

  getMinerConf(): Promise<JsonObject> {
    return this.get('get_miner_conf.cgi');
  }

  getSystemInfo(): Promise<JsonObject> {
    return this.get('get_system_info.cgi');
  }

  /** Posts a conf; the firmware answers {"stats":"success","code":"M000","msg":"OK!"}. */
  async setMinerConf(payload: JsonObject): Promise<void> {
    const res = await this.post('set_miner_conf.cgi', payload);
    const code = str(field(res, 'code'));
    const stats = str(field(res, 'stats'));
    if (code === 'M000' || stats?.toLowerCase() === 'success') return;
    throw new MinerError(
      'rejected',
      this.host,
      `set_miner_conf refused: ${str(field(res, 'msg')) ?? code ?? 'unknown reply'}`,
    );
  }
}

// Whatsminer API v3 (TCP 4433, length-prefixed JSON). Reads: get.device.info and
// get.miner.status (summary, edevs, pools). Writes (set.*) carry ts, account and an 8-character
// token over cmd + password + salt + ts, the salt from get.device.info "salt". An "access
// denied" gets the salt once more (it changes with the password) and one retry.
import { MinerError, type MinerErrorCode } from '../driver.ts';
import type { MinerTelemetry } from '../telemetry.ts';
import type { PowerReferenceOptions } from '../power-estimate.ts';
import { v3Token } from './whatsminer-crypto.ts';
import { v3Request, type V3Target } from './whatsminer-v3-transport.ts';
import {
  parseV3DeviceInfo,
  parseV3Edevs,
  parseV3Pools,
  parseV3Reply,
  parseV3Summary,
  type V3Reply,
} from './whatsminer-parse.ts';
import { whatsminerTelemetry, type WhatsminerApi, type WhatsminerIdentity } from './whatsminer-api.ts';

/** Reply codes of the v3 API. */
export const WM_V3 = {
  OK: 0,
  CMD_ERROR: -1,
  INVALID_CMD: -2,
  INVALID_JSON: -3,
  ACCESS_DENIED: -4,
  OUT_OF_MEMORY: -5,
} as const;

export const V3_ACCOUNTS = ['super', 'user1', 'user2', 'user3'] as const;

export interface WhatsminerV3Options {
  target: V3Target;
  account: string;
  password: string | null;
  reference: PowerReferenceOptions;
  now: () => number;
}

function errorCode(code: number | null): MinerErrorCode {
  switch (code) {
    case WM_V3.ACCESS_DENIED:
      return 'auth';
    case WM_V3.INVALID_CMD:
      return 'unsupported';
    case WM_V3.INVALID_JSON:
      return 'protocol';
    default:
      return 'rejected';
  }
}

export class WhatsminerV3 implements WhatsminerApi {
  readonly generation = 'v3' as const;
  private readonly o: WhatsminerV3Options;
  private salt: string | null = null;

  constructor(opts: WhatsminerV3Options) {
    this.o = opts;
  }

  private get host(): string {
    return this.o.target.host;
  }

  /** A read command; any code but 0 is an error. */
  async get(cmd: string, param?: string): Promise<unknown> {
    const request: Record<string, unknown> = { cmd };
    if (param !== undefined) request.param = param;
    const r = parseV3Reply(await v3Request(this.o.target, request));
    if (r.code === null) throw new MinerError('protocol', this.host, `${cmd}: reply has no code`);
    if (r.code !== WM_V3.OK) throw this.replyError(cmd, r);
    return r.msg;
  }

  async identify(): Promise<WhatsminerIdentity> {
    const d = parseV3DeviceInfo(await this.get('get.device.info'));
    return {
      driver: 'whatsminer',
      make: 'MicroBT',
      model: d.model,
      firmware: d.firmware,
      hostname: d.hostname,
      mac: d.mac,
      api: 'v3',
      apiVersion: d.apiVersion,
    };
  }

  async read(): Promise<MinerTelemetry> {
    const [info, summary] = await Promise.all([
      this.get('get.device.info'),
      this.get('get.miner.status', 'summary'),
    ]);
    const errors: string[] = [];
    const [edevs, pools] = await Promise.all([
      this.get('get.miner.status', 'edevs').catch((e: unknown) => this.soft(e, 'edevs', errors)),
      this.get('get.miner.status', 'pools').catch((e: unknown) => this.soft(e, 'pools', errors)),
    ]);
    const d = parseV3DeviceInfo(info);
    const s = parseV3Summary(summary);
    const off = d.working === null ? null : !d.working;
    return whatsminerTelemetry({
      host: this.host,
      port: this.o.target.port,
      model: d.model,
      firmware: d.firmware,
      minerOff: off,
      stable: s.upFreqFinished,
      hashrateThs: s.hashrateThs,
      hashrateAvgThs: s.hashrateAvgThs,
      powerW: s.powerW,
      reference: this.o.reference,
      boards: parseV3Edevs(edevs),
      fans: s.fans,
      pools: parseV3Pools(pools),
      uptimeS: off ? null : s.elapsedS,
      errors,
    });
  }

  async isPoweredOff(): Promise<boolean> {
    const working = parseV3DeviceInfo(await this.get('get.device.info', 'miner')).working;
    if (working === null)
      throw new MinerError('protocol', this.host, 'get.device.info does not say whether the miner works');
    return !working;
  }

  async powerOff(): Promise<void> {
    await this.set('set.miner.service', 'stop');
  }

  async powerOn(): Promise<void> {
    await this.set('set.miner.service', 'start');
  }

  async setPowerPercent(percent: number): Promise<void> {
    // The firmware reads percent as a string (cJSON valuestring) whatever its document says.
    await this.set('set.miner.power_percent', { percent: String(percent), mode: 'normal' });
  }

  reset(): void {
    this.salt = null;
  }

  // ---------------------------------------------------------------- writes

  private soft(err: unknown, what: string, errors: string[]): null {
    if (err instanceof MinerError && err.code !== 'timeout' && err.code !== 'refused') {
      errors.push(`${what}: ${err.code}`);
      return null;
    }
    throw err;
  }

  private async getSalt(fresh: boolean): Promise<string> {
    if (!fresh && this.salt) return this.salt;
    const salt = parseV3DeviceInfo(await this.get('get.device.info', 'salt')).salt;
    if (!salt) throw new MinerError('protocol', this.host, 'get.device.info gave no salt');
    this.salt = salt;
    return salt;
  }

  private async set(cmd: string, param: unknown): Promise<unknown> {
    const password = this.o.password;
    if (password === null)
      throw new MinerError(
        'auth',
        this.host,
        'Whatsminer writes need the account password (none configured)',
      );
    let fresh = this.salt === null;
    let salt = await this.getSalt(false);
    for (;;) {
      const ts = Math.floor(this.o.now() / 1000);
      const request = { cmd, param, ts, account: this.o.account, token: v3Token(cmd, password, salt, ts) };
      const r = parseV3Reply(await v3Request(this.o.target, request));
      if (r.code === WM_V3.OK) return r.msg;
      if (r.code === WM_V3.ACCESS_DENIED && !fresh) {
        salt = await this.getSalt(true);
        fresh = true;
        continue;
      }
      throw this.replyError(cmd, r);
    }
  }

  private replyError(cmd: string, r: V3Reply): MinerError {
    const msg = typeof r.msg === 'string' ? r.msg.slice(0, 160) : 'error';
    return new MinerError(errorCode(r.code), this.host, `${cmd}: ${msg} (code ${r.code})`);
  }
}

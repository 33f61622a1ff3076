// Whatsminer API v2 (btminer, TCP 4028). Reads are cgminer-style RPC; writes are encrypted
// with a token from `get_token` (see whatsminer-crypto.ts). A token is kept for 25 minutes
// (the firmware keeps one for 30); a "check token error" on a token that was not fresh gets
// one new token and one retry; on a fresh token it means the password is wrong ('auth').
import { MinerError, type MinerErrorCode } from '../driver.ts';
import type { MinerTelemetry } from '../telemetry.ts';
import type { PowerReferenceOptions } from '../power-estimate.ts';
import { rpcCommand, rpcJoined, rpcRequest, type RpcOptions, type RpcReply } from '../rpc/rpc-client.ts';
import { isObject, parseStatus, statusOk, type RpcStatus } from '../rpc/fields.ts';
import { parseLenientJson } from '../rpc/lenient-json.ts';
import {
  decryptV2Text,
  deriveV2Credentials,
  encryptV2Command,
  type V2Credentials,
} from './whatsminer-crypto.ts';
import {
  parseV2DevDetails,
  parseV2Devs,
  parseV2MinerInfo,
  parseV2Pools,
  parseV2Status,
  parseV2Summary,
  parseV2Token,
  parseV2Version,
} from './whatsminer-parse.ts';
import { whatsminerTelemetry, type WhatsminerApi, type WhatsminerIdentity } from './whatsminer-api.ts';

/** Message codes of the v2 API (MicroBT's API document). */
export const WM_V2 = {
  INVALID_COMMAND: 14,
  INVALID_JSON: 23,
  PERMISSION_DENIED: 45,
  OK: 131,
  ERROR: 132,
  TOKEN_OK: 134,
  TOKEN_CHECK_ERROR: 135,
  TOKEN_OVER_MAX: 136,
  BASE64_ERROR: 137,
} as const;

const TOKEN_REUSE_MS = 25 * 60 * 1000;

export interface WhatsminerV2Options {
  rpc: RpcOptions;
  password: string | null;
  reference: PowerReferenceOptions;
  now: () => number;
}

function writeErrorCode(status: RpcStatus): MinerErrorCode {
  const msg = status.msg ?? '';
  if (
    status.code === WM_V2.TOKEN_CHECK_ERROR ||
    status.code === WM_V2.TOKEN_OVER_MAX ||
    status.code === WM_V2.PERMISSION_DENIED ||
    /can't access write cmd|over max connect/i.test(msg)
  ) {
    return 'auth';
  }
  if (status.code === WM_V2.INVALID_COMMAND) return 'unsupported';
  if (status.code === WM_V2.INVALID_JSON || status.code === WM_V2.BASE64_ERROR) return 'protocol';
  return 'rejected';
}

export class WhatsminerV2 implements WhatsminerApi {
  readonly generation = 'v2' as const;
  private readonly o: WhatsminerV2Options;
  private token: { creds: V2Credentials; at: number } | null = null;

  constructor(opts: WhatsminerV2Options) {
    this.o = opts;
  }

  private get host(): string {
    return this.o.rpc.host;
  }

  async identify(): Promise<WhatsminerIdentity> {
    const [version, info, details, summary] = await Promise.allSettled([
      rpcCommand(this.o.rpc, 'get_version'),
      rpcCommand(this.o.rpc, 'get_miner_info', 'ip,proto,netmask,gateway,dns,hostname,mac,ledstat'),
      rpcCommand(this.o.rpc, 'devdetails'),
      rpcCommand(this.o.rpc, 'summary'),
    ]);
    const all = [version, info, details, summary];
    if (all.every((r) => r.status === 'rejected')) throw (version as PromiseRejectedResult).reason;
    const body = (r: PromiseSettledResult<RpcReply>) => (r.status === 'fulfilled' ? r.value.body : null);
    const v = parseV2Version(body(version));
    const mi = parseV2MinerInfo(body(info));
    const s = parseV2Summary(body(summary));
    return {
      driver: 'whatsminer',
      make: 'MicroBT',
      model: parseV2DevDetails(body(details)).model,
      firmware: v.firmware ?? s.firmware,
      hostname: mi.hostname,
      mac: mi.mac ?? s.mac,
      api: 'v2',
      apiVersion: v.apiVersion,
    };
  }

  async read(): Promise<MinerTelemetry> {
    const [joined, status] = await Promise.all([
      rpcJoined(this.o.rpc, ['summary', 'devs', 'pools']),
      // btminer does not join its own commands (status, get_*): one connection each.
      rpcCommand(this.o.rpc, 'status'),
    ]);
    const summaryReply = joined.replies.summary;
    if (!summaryReply)
      throw joined.errors.summary ?? new MinerError('protocol', this.host, 'no summary in reply');
    const errors: string[] = [];
    for (const c of ['devs', 'pools'] as const) {
      const e = joined.errors[c];
      if (e) errors.push(`${c}: ${e.code}`);
    }
    const s = parseV2Summary(summaryReply.body);
    const off = parseV2Status(status.body).minerOff;
    // Not stable while "Hash Stable" is false, or (older builds) while the run is shorter than
    // the time the last start needed to reach a stable hashrate.
    const stable =
      s.hashStable ??
      (s.hashStableCostS !== null && s.elapsedS !== null ? s.elapsedS >= s.hashStableCostS : null);
    errors.push(...s.errorCodes.map((c) => `error code ${c}`));
    return whatsminerTelemetry({
      host: this.host,
      port: this.o.rpc.port,
      model: null,
      firmware: s.firmware,
      minerOff: off,
      stable,
      hashrateThs: s.hashrateThs,
      hashrateAvgThs: s.hashrateAvgThs,
      powerW: s.powerW,
      reference: this.o.reference,
      boards: joined.replies.devs ? parseV2Devs(joined.replies.devs.body) : [],
      fans: s.fans,
      pools: joined.replies.pools ? parseV2Pools(joined.replies.pools.body) : [],
      uptimeS: off ? null : s.elapsedS,
      errors,
    });
  }

  async isPoweredOff(): Promise<boolean> {
    const off = parseV2Status((await rpcCommand(this.o.rpc, 'status')).body).minerOff;
    if (off === null)
      throw new MinerError('protocol', this.host, 'status reply does not say whether mining is off');
    return off;
  }

  async powerOff(): Promise<void> {
    // respbefore "true": answer first, then stop mining, so the reply is not lost to the stop.
    await this.write('power_off', { respbefore: 'true' });
  }

  async powerOn(): Promise<void> {
    await this.write('power_on', {});
  }

  async setPowerPercent(percent: number): Promise<void> {
    await this.write('set_power_pct', { percent: String(percent) });
  }

  reset(): void {
    this.token = null;
  }

  // ---------------------------------------------------------------- encrypted writes

  private async credentials(fresh: boolean): Promise<{ creds: V2Credentials; fresh: boolean }> {
    const t = this.token;
    if (!fresh && t && this.o.now() - t.at < TOKEN_REUSE_MS) return { creds: t.creds, fresh: false };
    if (this.o.password === null)
      throw new MinerError('auth', this.host, 'Whatsminer writes need the admin password (none configured)');
    let reply: RpcReply;
    try {
      reply = await rpcCommand(this.o.rpc, 'get_token');
    } catch (err) {
      if (err instanceof MinerError && (err.code === 'rejected' || err.code === 'auth')) {
        throw new MinerError('auth', this.host, `get_token refused: ${err.message}`, { cause: err });
      }
      throw err;
    }
    const msg = parseV2Token(reply.body);
    if (!msg)
      throw new MinerError(
        'auth',
        this.host,
        `get_token gave no usable token (${reply.status.msg ?? 'no message'})`,
      );
    const creds = deriveV2Credentials(this.o.password, msg);
    this.token = { creds, at: this.o.now() };
    return { creds, fresh: true };
  }

  private async write(cmd: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    let { creds, fresh } = await this.credentials(false);
    for (;;) {
      const reply = await rpcRequest(this.o.rpc, encryptV2Command(creds, { cmd, ...params }));
      const body = this.decode(reply, creds, cmd);
      const status = parseStatus(body);
      if (status === null) throw new MinerError('protocol', this.host, `${cmd}: reply has no STATUS`);
      if (statusOk(status)) return body;
      const code = writeErrorCode(status);
      if (code === 'auth' && !fresh && status.code === WM_V2.TOKEN_CHECK_ERROR) {
        // The token expired or the miner rebooted: one new token, one retry.
        this.token = null;
        ({ creds, fresh } = await this.credentials(true));
        continue;
      }
      if (code === 'auth') this.token = null;
      const detail = `${status.msg ?? 'error'}${status.code === null ? '' : ` (code ${status.code})`}`;
      throw new MinerError(code, this.host, `${cmd}: ${detail}`);
    }
  }

  /** Encrypted replies come as {"enc":"<base64>"}; errors about the token come in clear. */
  private decode(reply: unknown, creds: V2Credentials, cmd: string): Record<string, unknown> {
    if (!isObject(reply)) throw new MinerError('protocol', this.host, `${cmd}: reply is not a JSON object`);
    const enc = reply.enc;
    if (typeof enc !== 'string') return reply;
    let text: string;
    try {
      text = decryptV2Text(creds.aesKey, enc);
    } catch (err) {
      throw new MinerError('malformed', this.host, `${cmd}: encrypted reply cannot be decrypted`, {
        cause: err,
      });
    }
    const body = parseLenientJson(text, { host: this.host });
    if (!isObject(body))
      throw new MinerError('protocol', this.host, `${cmd}: decrypted reply is not a JSON object`);
    return body;
  }
}

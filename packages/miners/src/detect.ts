// Auto-detection: which firmware answers at a host, from cheap, read-only probes. A probe that
// recognises nothing says "unknown firmware" with what it saw; it never guesses a driver.
import type { MinerDriverName } from '@switchyard/domain';
import { MinerError, type MinerCredentials, type MinerIdentity } from './driver.ts';
import { rpcCommand, RpcError } from './rpc/rpc-client.ts';
import { isObject, sectionEntries } from './rpc/fields.ts';
import { httpRequest } from './web/http-client.ts';
import { v3Request } from './whatsminer/whatsminer-v3-transport.ts';
import { createMinerDriver, FACTORY_CREDENTIALS } from './driver-factory.ts';

export interface DetectOptions {
  host: string;
  /** RPC port (default 4028). */
  port?: number | undefined;
  /** HTTP port for Braiins REST and the Antminer web UI (default 80). */
  webPort?: number | undefined;
  /** Whatsminer API v3 port (default 4433). */
  v3Port?: number | undefined;
  timeoutMs?: number | undefined;
  credentials?: Partial<Record<MinerDriverName, MinerCredentials>> | undefined;
}

export type DetectResult =
  | { driver: MinerDriverName; identity: MinerIdentity | null; evidence: string; identifyError?: string }
  | { driver: null; reason: string; evidence: string[] };

/** Classifies a cgminer-style `version` reply. */
export function classifyVersionReply(
  body: unknown,
  description: string | null,
): { driver: MinerDriverName; evidence: string } | null {
  const v = sectionEntries(body, 'VERSION')[0];
  const keys = isObject(v) ? Object.keys(v).map((k) => k.toLowerCase()) : [];
  const text = `${JSON.stringify(v ?? {})} ${description ?? ''}`.toLowerCase();
  if (keys.includes('luxminer')) return { driver: 'luxos', evidence: 'RPC version has LUXminer' };
  if (keys.includes('bosminer') || text.includes('bosminer') || text.includes('braiins')) {
    return { driver: 'braiins', evidence: 'RPC version names BOSminer' };
  }
  if (text.includes('btminer') || text.includes('whatsminer'))
    return { driver: 'whatsminer', evidence: 'RPC names btminer' };
  if (keys.includes('bmminer') || text.includes('antminer'))
    return { driver: 'antminer', evidence: 'RPC version has BMMiner/Antminer' };
  return null;
}

async function probeRpc(
  o: DetectOptions,
  timeoutMs: number,
): Promise<{ driver: MinerDriverName; evidence: string } | string> {
  const rpc = { host: o.host, port: o.port ?? 4028, timeoutMs };
  try {
    const r = await rpcCommand(rpc, 'version');
    return (
      classifyVersionReply(r.body, r.status.description) ?? `RPC version answered but names no known firmware`
    );
  } catch (e) {
    if (e instanceof RpcError) {
      // Whatsminer v2 answers cgminer's `version` with an error; its own is `get_version`.
      const described = classifyVersionReply({}, `${e.status.description ?? ''} ${e.status.msg ?? ''}`);
      if (described) return described;
      try {
        const w = await rpcCommand(rpc, 'get_version');
        const msg = isObject(w.body) ? w.body.Msg : undefined;
        if (isObject(msg) && ('api_ver' in msg || 'fw_ver' in msg))
          return { driver: 'whatsminer', evidence: 'RPC get_version answered' };
      } catch {
        /* not Whatsminer either */
      }
      return `RPC answered with an error: ${e.message}`;
    }
    return `RPC ${rpc.port}: ${e instanceof MinerError ? e.code : (e as Error).message}`;
  }
}

async function probeBraiinsRest(
  o: DetectOptions,
  timeoutMs: number,
): Promise<{ driver: MinerDriverName; evidence: string } | string> {
  const port = o.webPort ?? 80;
  try {
    const r = await httpRequest({
      host: o.host,
      port,
      method: 'GET',
      path: '/api/v1/miner/details',
      timeoutMs,
      maxReplyBytes: 64 * 1024,
    });
    const json = (r.headers.get('content-type') ?? []).some((c) => c.includes('json'));
    if ((r.status === 200 || r.status === 401) && json)
      return { driver: 'braiins', evidence: `REST /api/v1/miner/details answered ${r.status}` };
    return `HTTP ${port} answered ${r.status} without the Braiins REST API`;
  } catch (e) {
    return `HTTP ${port}: ${e instanceof MinerError ? e.code : (e as Error).message}`;
  }
}

async function probeWhatsminerV3(
  o: DetectOptions,
  timeoutMs: number,
): Promise<{ driver: MinerDriverName; evidence: string } | string> {
  const port = o.v3Port ?? 4433;
  try {
    const r = await v3Request(
      { host: o.host, port, timeoutMs, maxReplyBytes: 64 * 1024 },
      { cmd: 'get.device.info', param: 'miner' },
    );
    if ('code' in r || 'msg' in r)
      return { driver: 'whatsminer', evidence: 'API v3 get.device.info answered' };
    return `port ${port} answered a frame that is not Whatsminer API v3`;
  } catch (e) {
    return `v3 ${port}: ${e instanceof MinerError ? e.code : (e as Error).message}`;
  }
}

/** Probes a host and names its firmware, confirmed with that driver's identify(). */
export async function detectMiner(o: DetectOptions): Promise<DetectResult> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const probes = await Promise.all([
    probeRpc(o, timeoutMs),
    probeBraiinsRest(o, timeoutMs),
    probeWhatsminerV3(o, timeoutMs),
  ]);
  const hit = probes.find((p): p is { driver: MinerDriverName; evidence: string } => typeof p !== 'string');
  if (!hit) {
    return {
      driver: null,
      reason: 'unknown firmware: no probe recognised the host',
      evidence: probes as string[],
    };
  }
  const driver = createMinerDriver(hit.driver, {
    host: o.host,
    port: hit.driver === 'braiins' ? (o.webPort ?? 80) : (o.port ?? 4028),
    webPort: o.webPort,
    v3Port: o.v3Port,
    timeoutMs,
    credentials: o.credentials?.[hit.driver] ?? FACTORY_CREDENTIALS[hit.driver],
  });
  try {
    return { driver: hit.driver, identity: await driver.identify(), evidence: hit.evidence };
  } catch (e) {
    return {
      driver: hit.driver,
      identity: null,
      evidence: hit.evidence,
      identifyError: (e as Error).message,
    };
  } finally {
    await driver.close();
  }
}

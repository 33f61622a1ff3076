// Stock Antminer firmware (bmminer). Reads over cgminer RPC on 4028 (summary, stats, pools —
// joined, with the per-command fallback), controls through the web UI's
// miner-mode (HTTP Digest auth on port 80). Every control reads the current conf first and
// writes nothing when the miner is already in the requested mode, then reads it back.
import { MinerError } from '../driver.ts';
import type {
  ControlOutcome,
  DriverOptions,
  MinerCapabilities,
  MinerDriver,
  MinerIdentity,
  ReadOptions,
} from '../driver.ts';
import type { PowerReferenceOptions } from '../power-estimate.ts';
import { stripMake } from '../rpc/cgminer-telemetry.ts';
import { field, hashrate5sThs, sectionEntries, str } from '../rpc/fields.ts';
import { rpcCommand, rpcJoined } from '../rpc/rpc-client.ts';
import type { RpcOptions } from '../rpc/rpc-client.ts';
import type { MinerTelemetry } from '../telemetry.ts';
import { ANTMINER_PROFILES, parseAntminerTelemetry } from './antminer-parse.ts';
import { ANTMINER_DEFAULT_CREDENTIALS, AntminerWeb, minerConfPayload, minerModeOf } from './antminer-web.ts';
import type { MinerMode } from './antminer-web.ts';

// `version` and `devs` are left out: stats carries the version (entry 0) and every board's rate
// and temperatures (entry 1), and builds that
// refuse joined commands cost one connection per command.
export const ANTMINER_READ_COMMANDS = ['summary', 'stats', 'pools'] as const;
/** A basic read (fleet polling) leaves out pools. */
export const ANTMINER_BASIC_COMMANDS = ['summary', 'stats'] as const;
const MODE_CACHE_MS = 60_000;

export interface AntminerDriverOptions extends DriverOptions, PowerReferenceOptions {
  /** The fleet's model, used when the firmware does not name it. */
  model?: string | undefined;
}

export class AntminerDriver implements MinerDriver {
  readonly name = 'antminer' as const;
  readonly host: string;
  readonly port: number;
  readonly webPort: number;
  private readonly rpc: RpcOptions;
  private readonly web: AntminerWeb;
  private readonly options: AntminerDriverOptions;
  /** The mode a wake returns to (set by setProfile while asleep). */
  private wakeMode: MinerMode = 0;
  /** Last miner-mode read or written, for basic reads (see ReadOptions). */
  private modeCache: { mode: MinerMode | null; at: number } | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: AntminerDriverOptions) {
    this.options = options;
    this.host = options.host;
    this.port = options.port ?? 4028;
    this.webPort = options.webPort ?? 80;
    this.rpc = {
      host: this.host,
      port: this.port,
      timeoutMs: options.timeoutMs,
      maxReplyBytes: options.maxReplyBytes,
    };
    this.web = new AntminerWeb({
      host: this.host,
      port: this.webPort,
      credentials: options.credentials ?? ANTMINER_DEFAULT_CREDENTIALS,
      timeoutMs: options.timeoutMs,
      maxReplyBytes: options.maxReplyBytes,
    });
  }

  /** Runs control calls one at a time, so a sleep and a wake never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async identify(): Promise<MinerIdentity> {
    const version = await rpcCommand(this.rpc, 'version');
    const v = sectionEntries(version.body, 'VERSION')[0];
    let hostname: string | null = null;
    let mac: string | null = null;
    let model = stripMake(str(field(v, 'Type'))) ?? this.options.model ?? null;
    try {
      const info = await this.web.getSystemInfo();
      hostname = str(field(info, 'hostname'));
      mac = str(field(info, 'macaddr'), 32);
      model = model ?? stripMake(str(field(info, 'minertype')));
    } catch {
      // The web UI is optional for identity; RPC answered.
    }
    return {
      driver: 'antminer',
      make: 'Bitmain',
      model,
      firmware: str(field(v, 'CompileTime')) ?? str(field(v, 'BMMiner')) ?? str(field(v, 'CGMiner')),
      hostname,
      mac,
    };
  }

  async read(options: ReadOptions = {}): Promise<MinerTelemetry> {
    const basic = options.detail === 'basic';
    const commands = basic ? ANTMINER_BASIC_COMMANDS : ANTMINER_READ_COMMANDS;
    const cached = this.modeCache;
    const fresh = cached !== null && Date.now() - cached.at < MODE_CACHE_MS && cached.mode !== 1;
    // The mode comes from the web UI, in parallel; its failure degrades, not fails, the read.
    const fetchMode = () =>
      this.web.getMinerConf().then(
        (conf) => {
          const mode = minerModeOf(conf);
          this.modeCache = { mode, at: Date.now() };
          return { mode, error: null as string | null };
        },
        (err: unknown) => ({ mode: null, error: err instanceof Error ? err.message : String(err) }),
      );
    let modeP = basic && fresh ? null : fetchMode();
    const res = await rpcJoined(this.rpc, commands);
    if (!res.replies.summary) {
      throw res.errors.summary ?? new MinerError('protocol', this.host, 'summary missing from the reply');
    }
    // A cached "hashing" mode is trusted only while the miner is visibly hashing.
    if (!modeP && !(hashrate5sThs(sectionEntries(res.replies.summary.body, 'SUMMARY')[0]) ?? 0))
      modeP = fetchMode();
    const mode = modeP ? await modeP : { mode: cached?.mode ?? null, error: null };
    return parseAntminerTelemetry({
      host: this.host,
      port: this.port,
      replies: res.replies,
      minerMode: mode.mode,
      modeError: mode.error,
      model: this.options.model ?? null,
      reference: this.options,
    });
  }

  /** Reads the conf, and writes `target` unless the miner is already there; verifies the write. */
  private async applyMode(target: (current: MinerMode) => MinerMode | null): Promise<ControlOutcome> {
    const conf = await this.web.getMinerConf();
    const current = minerModeOf(conf);
    if (current === null) {
      throw new MinerError(
        'unsupported',
        this.host,
        'get_miner_conf has no miner-mode: no sleep or low-power control',
      );
    }
    const wanted = target(current);
    if (wanted === null || wanted === current) return 'already'; // idempotent: nothing to write
    this.modeCache = null;
    await this.web.setMinerConf(minerConfPayload(conf, wanted));
    const after = minerModeOf(await this.web.getMinerConf());
    this.modeCache = { mode: after, at: Date.now() };
    if (after !== wanted) {
      throw new MinerError(
        'rejected',
        this.host,
        `miner-mode is ${after ?? 'unknown'} after setting ${wanted}`,
      );
    }
    return 'applied';
  }

  sleep(): Promise<ControlOutcome> {
    return this.serial(() =>
      this.applyMode((current) => {
        if (current !== 1) this.wakeMode = current === 3 ? 3 : 0;
        return 1;
      }),
    );
  }

  wake(): Promise<ControlOutcome> {
    return this.serial(() => this.applyMode((current) => (current === 1 ? this.wakeMode : null)));
  }

  /**
   * "normal" (miner-mode 0) or "low-power" (3). On a sleeping miner nothing is written: the
   * profile is remembered for the next wake (a profile change never wakes a miner).
   */
  async setProfile(name: string): Promise<void> {
    const mode = ANTMINER_PROFILES[name];
    if (mode === undefined) {
      throw new MinerError('invalid-argument', this.host, `unknown profile "${name}" (normal, low-power)`);
    }
    await this.serial(() =>
      this.applyMode((current) => {
        if (current === 1) {
          this.wakeMode = mode;
          return null;
        }
        return mode;
      }),
    );
  }

  async capabilities(): Promise<MinerCapabilities> {
    return {
      sleep: true,
      wake: true,
      powerTarget: null,
      profiles: Object.keys(ANTMINER_PROFILES),
      powerPercent: null,
    };
  }

  async close(): Promise<void> {
    // Stateless on the device: no session to release; in-flight controls finish on their own.
    await this.chain;
  }
}

export function createAntminerDriver(options: AntminerDriverOptions): AntminerDriver {
  return new AntminerDriver(options);
}

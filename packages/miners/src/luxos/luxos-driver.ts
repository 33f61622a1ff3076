// LuxOS (Luxor firmware, cgminer RPC + sessions on 4028). Reads: version, config, summary,
// stats, pools, devs, power (joined, with fallback). Controls: `curtail` sleep/wakeup and
// `profileset`, each behind a session, each checked against the current state first so a retry
// never flips the miner twice. `profileset` is refused while ATM is on, so ATM is switched off
// around it and always switched back on, even when the profile change fails.
import { MinerError } from '../driver.ts';
import type {
  ControlOutcome,
  DriverOptions,
  MinerCapabilities,
  MinerDriver,
  MinerIdentity,
} from '../driver.ts';
import type { PowerReferenceOptions } from '../power-estimate.ts';
import { stripMake } from '../rpc/cgminer-telemetry.ts';
import { bool, field, sectionEntries, str } from '../rpc/fields.ts';
import { rpcCommand, rpcJoined } from '../rpc/rpc-client.ts';
import type { RpcOptions } from '../rpc/rpc-client.ts';
import type { MinerTelemetry } from '../telemetry.ts';
import { allBoardsOnProfile, curtailSleeping, parseLuxosTelemetry, profileNames } from './luxos-parse.ts';
import { LuxosSession } from './luxos-session.ts';

export const LUXOS_READ_COMMANDS = [
  'version',
  'config',
  'summary',
  'stats',
  'pools',
  'devs',
  'power',
] as const;

export interface LuxosDriverOptions extends DriverOptions, PowerReferenceOptions {
  model?: string | undefined;
  /** Clock for session idle tracking (tests). */
  now?: (() => number) | undefined;
}

export class LuxosDriver implements MinerDriver {
  readonly name = 'luxos' as const;
  readonly host: string;
  readonly port: number;
  private readonly rpc: RpcOptions;
  private readonly options: LuxosDriverOptions;
  private readonly session: LuxosSession;
  /** ATM was switched off for a profile change and could not be switched back on yet. */
  private atmRestorePending = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: LuxosDriverOptions) {
    this.options = options;
    this.host = options.host;
    this.port = options.port ?? 4028;
    this.rpc = {
      host: this.host,
      port: this.port,
      timeoutMs: options.timeoutMs,
      maxReplyBytes: options.maxReplyBytes,
    };
    this.session = new LuxosSession(this.rpc, options.now);
  }

  /** The session id held now (tests and diagnostics). */
  get sessionId(): string | null {
    return this.session.id;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async identify(): Promise<MinerIdentity> {
    const res = await rpcJoined(this.rpc, ['version', 'config']);
    if (!res.replies.version)
      throw res.errors.version ?? new MinerError('protocol', this.host, 'no version reply');
    const v = sectionEntries(res.replies.version.body, 'VERSION')[0];
    const c = sectionEntries(res.replies.config?.body, 'CONFIG')[0];
    const lux = str(field(v, 'LUXminer'));
    return {
      driver: 'luxos',
      make: 'Bitmain',
      model: stripMake(str(field(v, 'Type'))) ?? this.options.model ?? null,
      firmware: lux ? `LuxOS ${lux}` : null,
      hostname: str(field(c, 'Hostname')),
      mac: str(field(c, 'MACAddr', 'MAC'), 32),
    };
  }

  async read(): Promise<MinerTelemetry> {
    const res = await rpcJoined(this.rpc, LUXOS_READ_COMMANDS);
    if (!res.replies.summary) {
      throw res.errors.summary ?? new MinerError('protocol', this.host, 'summary missing from the reply');
    }
    return parseLuxosTelemetry({
      host: this.host,
      port: this.port,
      replies: res.replies,
      model: this.options.model ?? null,
      reference: this.options,
    });
  }

  private async sleeping(): Promise<boolean | null> {
    return curtailSleeping(await rpcCommand(this.rpc, 'config'));
  }

  private async setAtm(enabled: boolean): Promise<void> {
    await this.session.command('atmset', [`enabled=${enabled}`]);
  }

  private async restoreAtmIfPending(): Promise<void> {
    if (!this.atmRestorePending) return;
    await this.setAtm(true);
    this.atmRestorePending = false;
  }

  sleep(): Promise<ControlOutcome> {
    return this.serial(async () => {
      await this.restoreAtmIfPending();
      if ((await this.sleeping()) === true) return 'already';
      await this.session.command('curtail', ['sleep']);
      return 'applied';
    });
  }

  wake(): Promise<ControlOutcome> {
    return this.serial(async () => {
      await this.restoreAtmIfPending();
      if ((await this.sleeping()) === false) return 'already';
      await this.session.command('curtail', ['wakeup']);
      return 'applied';
    });
  }

  setProfile(name: string): Promise<void> {
    return this.serial(async () => {
      await this.restoreAtmIfPending();
      const names = profileNames(await rpcCommand(this.rpc, 'profiles'));
      if (!names.includes(name)) {
        throw new MinerError(
          'invalid-argument',
          this.host,
          `unknown profile "${name}" (${names.join(', ')})`,
        );
      }
      if (allBoardsOnProfile(await rpcCommand(this.rpc, 'devs'), name)) return;

      const atm = sectionEntries((await rpcCommand(this.rpc, 'atm')).body, 'ATM')[0];
      const atmOn = bool(field(atm, 'Enabled')) === true;
      if (atmOn) {
        await this.setAtm(false);
        this.atmRestorePending = true;
      }
      let failure: unknown = null;
      try {
        await this.session.command('profileset', [name]);
      } catch (err) {
        failure = err;
      }
      if (atmOn) {
        try {
          await this.setAtm(true);
          this.atmRestorePending = false;
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          failure ??= new MinerError(
            'rejected',
            this.host,
            `profile set, but ATM could not be switched back on (${reason}); the next call retries`,
            { cause: err },
          );
        }
      }
      if (failure !== null) throw failure;
    });
  }

  async capabilities(): Promise<MinerCapabilities> {
    const names = profileNames(await rpcCommand(this.rpc, 'profiles'));
    return {
      sleep: true,
      wake: true,
      powerTarget: null,
      profiles: names.length > 0 ? names : null,
      powerPercent: null,
    };
  }

  /** Logs the session off. Idempotent. */
  close(): Promise<void> {
    return this.serial(() => this.session.logoff());
  }
}

export function createLuxosDriver(options: LuxosDriverOptions): LuxosDriver {
  return new LuxosDriver(options);
}

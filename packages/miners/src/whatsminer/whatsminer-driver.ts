// Whatsminer driver. Newer firmware (2024.11 and later) speaks API v3 on TCP 4433; older
// firmware speaks API v2 on 4028. The driver asks v3 first (get.device.info on v3Port) and
// uses v2 when nothing answers there; the choice is kept once one of them has answered, and
// identify() reports it. Controls check the miner's state first so a retried job never flips
// it twice: sleep is power_off / set.miner.service stop, wake is power_on / start (the miner
// then ramps for minutes), a power percentage is set_power_pct / set.miner.power_percent.
import {
  DEFAULT_MAX_REPLY_BYTES,
  DEFAULT_TIMEOUT_MS,
  MinerError,
  type ControlOutcome,
  type DriverOptions,
  type MinerCapabilities,
  type MinerDriver,
} from '../driver.ts';
import type { MinerTelemetry } from '../telemetry.ts';
import type { PowerReferenceOptions } from '../power-estimate.ts';
import type { WhatsminerApi, WhatsminerApiGeneration, WhatsminerIdentity } from './whatsminer-api.ts';
import { WhatsminerV2 } from './whatsminer-v2.ts';
import { V3_ACCOUNTS, WhatsminerV3 } from './whatsminer-v3.ts';

export const WHATSMINER_V2_PORT = 4028;
export const WHATSMINER_V3_PORT = 4433;
/** set_power_pct / set.miner.power_percent range (MicroBT's API documents: 0-100). */
export const WHATSMINER_POWER_PERCENT = { min: 0, max: 100 } as const;

export interface WhatsminerDriverOptions extends DriverOptions, PowerReferenceOptions {
  /** 'auto' (default) tries v3 on v3Port first, then v2. */
  api?: 'auto' | WhatsminerApiGeneration;
  /** Clock for token reuse and v3 timestamps (tests). */
  now?: () => number;
}

export class WhatsminerDriver implements MinerDriver {
  readonly name = 'whatsminer' as const;
  readonly host: string;
  readonly port: number;
  readonly v3Port: number;
  private readonly opts: WhatsminerDriverOptions;
  private readonly v2: WhatsminerV2;
  private readonly v3: WhatsminerV3;
  private chosen: WhatsminerApi | null = null;
  /** Controls run one at a time, so a sleep and a wake never interleave their checks. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: WhatsminerDriverOptions) {
    this.opts = opts;
    this.host = opts.host;
    this.port = opts.port ?? WHATSMINER_V2_PORT;
    this.v3Port = opts.v3Port ?? WHATSMINER_V3_PORT;
    const now = opts.now ?? Date.now;
    const common = {
      host: opts.host,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxReplyBytes: opts.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES,
    };
    const password = opts.credentials?.password ?? null;
    const user = opts.credentials?.username ?? '';
    const reference = { profiles: opts.profiles, nameplateW: opts.nameplateW, sleepW: opts.sleepW };
    this.v2 = new WhatsminerV2({ rpc: { ...common, port: this.port }, password, reference, now });
    this.v3 = new WhatsminerV3({
      target: { ...common, port: this.v3Port },
      // v3 accounts are super and user1-3; a v2-style "admin" user means the super account.
      account: (V3_ACCOUNTS as readonly string[]).includes(user) ? user : 'super',
      password,
      reference,
      now,
    });
  }

  /** The API generation in use, once known. */
  get api(): WhatsminerApiGeneration | null {
    return this.chosen?.generation ?? null;
  }

  async identify(): Promise<WhatsminerIdentity> {
    return this.with((a) => a.identify());
  }

  async read(): Promise<MinerTelemetry> {
    return this.with((a) => a.read());
  }

  sleep(): Promise<ControlOutcome> {
    return this.serial(() =>
      this.with(async (a) => {
        if (await a.isPoweredOff()) return 'already';
        await a.powerOff();
        return 'applied';
      }),
    );
  }

  wake(): Promise<ControlOutcome> {
    return this.serial(() =>
      this.with(async (a) => {
        if (!(await a.isPoweredOff())) return 'already';
        await a.powerOn();
        return 'applied';
      }),
    );
  }

  async setPowerPercent(percent: number): Promise<void> {
    const { min, max } = WHATSMINER_POWER_PERCENT;
    if (!Number.isInteger(percent) || percent < min || percent > max) {
      throw new MinerError(
        'invalid-argument',
        this.host,
        `power percent ${percent} is not a whole number in [${min}, ${max}]`,
      );
    }
    await this.serial(() => this.with((a) => a.setPowerPercent(percent)));
  }

  /** Whatsminer sets a power limit only with adjust_power_limit, which reboots the miner. */
  async setPowerTarget(_watts: number): Promise<void> {
    throw new MinerError(
      'unsupported',
      this.host,
      'Whatsminer has no power target without a reboot; use setPowerPercent',
    );
  }

  async setProfile(_name: string): Promise<void> {
    throw new MinerError('unsupported', this.host, 'Whatsminer has no named profiles; use setPowerPercent');
  }

  async capabilities(): Promise<MinerCapabilities> {
    return {
      sleep: true,
      wake: true,
      powerTarget: null,
      profiles: null,
      powerPercent: { ...WHATSMINER_POWER_PERCENT },
    };
  }

  async close(): Promise<void> {
    this.v2.reset();
    this.v3.reset();
    this.chosen = null;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  // ---------------------------------------------------------------- API choice

  /** Runs `fn` on the chosen API; the first call probes v3 and falls back to v2. */
  private async with<T>(fn: (api: WhatsminerApi) => Promise<T>): Promise<T> {
    if (this.chosen) return fn(this.chosen);
    const mode = this.opts.api ?? 'auto';
    if (mode !== 'auto') {
      this.chosen = mode === 'v3' ? this.v3 : this.v2;
      return fn(this.chosen);
    }
    let viaV3 = false;
    try {
      await this.v3.get('get.device.info', 'miner');
      viaV3 = true;
    } catch (err) {
      if (!(err instanceof MinerError)) throw err;
    }
    const api = viaV3 ? this.v3 : this.v2;
    const result = await fn(api);
    // Keep the choice only once something has answered: a miner that is down for a moment
    // must not be pinned to v2 for good.
    this.chosen = api;
    return result;
  }
}

export function createWhatsminerDriver(opts: WhatsminerDriverOptions): WhatsminerDriver {
  return new WhatsminerDriver(opts);
}

// Wires the configured sources into a SignalHub, in priority order:
//   operator overrides > fixed values > pushed prices > stored pushed prices > Luxor > CoinGecko >
//   mempool.space > ERCOT real-time > ERCOT day-ahead > energy feed > Vast.ai   (derived hashprice
//   comes last)
// For each series only the sources that produce it compete, so the order reads per signal:
// BTC price CoinGecko before mempool.space; energy pushed before ERCOT before the feed.
import type { SignalsConfig } from './config.ts';
import { RateLimiter } from './rate-limiter.ts';
import { SignalHub, type SignalHubLogger, type SignalStore, type SourceRegistration } from './signal-hub.ts';
import type { SignalName } from './signal-types.ts';
import { CoinGeckoSource } from './sources/coingecko-source.ts';
import { ErcotPriceSource } from './sources/ercot-source.ts';
import {
  ErcotPasswordTokenProvider,
  StaticErcotToken,
  type ErcotTokenProvider,
} from './sources/ercot-token.ts';
import { FixedValueSource } from './sources/fixed-value-source.ts';
import { LuxorHashpriceSource } from './sources/luxor-source.ts';
import { MempoolSource } from './sources/mempool-source.ts';
import {
  InMemoryOverrideStore,
  OperatorOverrideSource,
  type OverrideStore,
} from './sources/operator-override-source.ts';
import { PushedPriceSource } from './sources/pushed-price-source.ts';
import { StoredPriceSource, type StoredPriceSourceOptions } from './sources/stored-price-source.ts';
import { TabularPriceSource } from './sources/tabular-price-source.ts';
import { VastGpuPriceSource } from './sources/vast-source.ts';

/** How often each kind of source is asked at most (seconds). */
export const DEFAULT_MIN_INTERVAL_SECONDS = {
  operator: 0,
  fixed: 0,
  pushed: 0,
  storedPrices: 0,
  luxor: 300,
  coingecko: 60,
  mempool: 60,
  ercot: 60,
  ercotDayAhead: 900,
  energyFeed: 300,
  vast: 900,
} as const;

export interface SignalHubDeps {
  store?: SignalStore;
  /** Defaults to an in-memory store (use DatabaseOverrideStore to share overrides). */
  overrides?: OverrideStore;
  /** Defaults to a new PushedPriceSource; the API pushes broker curves into it. */
  pushed?: PushedPriceSource;
  /**
   * Reads the price curves pushed through the API from the database (StoredPriceSource): give
   * it the database the API writes to. Without it such curves are not used.
   */
  storedPrices?: StoredPriceSourceOptions;
  clock?: () => Date;
  logger?: SignalHubLogger;
}

export interface SignalSources {
  registrations: SourceRegistration[];
  overrides: OverrideStore;
  pushed: PushedPriceSource;
  /** Series the hub reports even before a reading (GPU models, configured values). */
  expect: { signal: SignalName; subject?: string }[];
}

function ercotToken(auth: NonNullable<SignalsConfig['ercot']>['auth']): ErcotTokenProvider {
  return 'token' in auth
    ? new StaticErcotToken(auth.token)
    : new ErcotPasswordTokenProvider({
        username: auth.username,
        password: auth.password,
        tokenUrl: auth.tokenUrl,
        clientId: auth.clientId,
      });
}

export function buildSignalSources(config: SignalsConfig, deps: SignalHubDeps = {}): SignalSources {
  const I = DEFAULT_MIN_INTERVAL_SECONDS;
  const overrides = deps.overrides ?? new InMemoryOverrideStore(deps.clock ? { clock: deps.clock } : {});
  const pushed = deps.pushed ?? new PushedPriceSource();
  const regs: SourceRegistration[] = [
    {
      source: new OperatorOverrideSource(overrides),
      trusted: true,
      snapshot: true,
      minIntervalSeconds: I.operator,
    },
  ];
  const expect: { signal: SignalName; subject?: string }[] = [];
  if (config.fixedValues.length > 0) {
    regs.push({ source: new FixedValueSource(config.fixedValues), minIntervalSeconds: I.fixed });
    for (const v of config.fixedValues)
      expect.push(v.subject === undefined ? { signal: v.signal } : { signal: v.signal, subject: v.subject });
  }
  regs.push({ source: pushed, minIntervalSeconds: I.pushed });
  if (deps.storedPrices)
    regs.push({ source: new StoredPriceSource(deps.storedPrices), minIntervalSeconds: I.storedPrices });
  if (config.luxor)
    regs.push({ source: new LuxorHashpriceSource(config.luxor), minIntervalSeconds: I.luxor });
  if (config.coingecko)
    regs.push({ source: new CoinGeckoSource(config.coingecko), minIntervalSeconds: I.coingecko });
  if (config.mempool) regs.push({ source: new MempoolSource(config.mempool), minIntervalSeconds: I.mempool });
  if (config.ercot) {
    const e = config.ercot;
    const limiter = new RateLimiter({ limit: e.requestsPerMinute, windowMs: 60_000 });
    const token = ercotToken(e.auth);
    const common = {
      baseUrl: e.baseUrl,
      settlementPoint: e.settlementPoint,
      subscriptionKey: e.subscriptionKey,
      token,
      limiter,
    };
    regs.push({
      source: new ErcotPriceSource({ ...common, market: 'real-time' }),
      minIntervalSeconds: I.ercot,
    });
    if (e.dayAhead)
      regs.push({
        source: new ErcotPriceSource({ ...common, market: 'day-ahead' }),
        minIntervalSeconds: I.ercotDayAhead,
      });
  }
  if (config.energyFeed) {
    const f = config.energyFeed;
    regs.push({
      source: new TabularPriceSource({
        name: 'energy-feed',
        url: f.url,
        format: f.format,
        timeField: f.timeField,
        valueField: f.valueField,
        rowsPath: f.rowsPath,
        signal: f.signal,
        valueScale: f.valueScale,
        ...(f.bearerToken && { headers: { authorization: `Bearer ${f.bearerToken}` } }),
      }),
      minIntervalSeconds: I.energyFeed,
    });
  }
  if (config.vast) {
    regs.push({ source: new VastGpuPriceSource(config.vast), minIntervalSeconds: I.vast });
    for (const m of config.vast.models) expect.push({ signal: 'gpu_usd_per_gpu_hour', subject: m.subject });
  }
  return { registrations: regs, overrides, pushed, expect };
}

export interface BuiltSignalHub extends SignalSources {
  hub: SignalHub;
}

/** A hub with every configured source. The caller starts it (hub.start) and closes it. */
export function buildSignalHub(config: SignalsConfig, deps: SignalHubDeps = {}): BuiltSignalHub {
  const sources = buildSignalSources(config, deps);
  const hub = new SignalHub({
    sources: sources.registrations,
    policy: config.policy,
    retry: config.retry,
    expect: sources.expect,
    deriveHashprice: config.deriveHashprice,
    ...(deps.store && { store: deps.store }),
    ...(deps.clock && { clock: deps.clock }),
    ...(deps.logger && { logger: deps.logger }),
  });
  return { ...sources, hub };
}

// Configuration of the signal sources and the hub's rules, from the environment. One zod schema,
// parsed once at start (parseEnv names the variable on any mistake); every variable has a
// default or is optional, and docs/signals.md lists them all.
import { ConfigError, envBool, envUrl, parseEnv, type Env } from '@switchyard/config';
import { z } from 'zod';
import type { JumpHoldMode, SignalPolicy } from './signal-policy.ts';
import { signalPolicy } from './signal-policy.ts';
import { ERCOT_CLIENT_ID, ERCOT_TOKEN_URL } from './sources/ercot-token.ts';
import type { FixedValue } from './sources/fixed-value-source.ts';
import type { VastGpuModel } from './sources/vast-source.ts';
import { SIGNAL_NAMES, SUBJECT_SIGNALS, isSignalName, type SignalName } from './signal-types.ts';
import type { RetryDefaults } from './signal-hub.ts';

const num = (def: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(def);
const int = (def: number, min: number, max: number) =>
  num(def, min, max).pipe(z.number().int('must be an integer'));
const httpUrl = (def: string) => envUrl(['https', 'http']).default(def);
const secret = z.string().min(1).optional();

/** `signal=seconds,...` e.g. `btc_usd=900,energy_usd_per_mwh=1200`. */
const stalenessMap = z
  .string()
  .default('')
  .transform((s, ctx) => {
    const out: Partial<Record<SignalName, number>> = {};
    for (const part of s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const [name, value] = part.split('=').map((x) => x.trim());
      const n = Number(value);
      if (!name || !isSignalName(name) || !(n > 0)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected signal=seconds with a known signal, got ${JSON.stringify(part)}`,
        });
        return z.NEVER;
      }
      out[name] = n;
    }
    return out;
  });

/** `signal=value` or `signal:subject=value`, comma-separated. */
const fixedValues = z
  .string()
  .default('')
  .transform((s, ctx) => {
    const out: FixedValue[] = [];
    for (const part of s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const eq = part.lastIndexOf('=');
      const key = part.slice(0, eq).trim();
      const value = Number(part.slice(eq + 1).trim());
      const colon = key.indexOf(':');
      const signal = colon < 0 ? key : key.slice(0, colon);
      const subject = colon < 0 ? undefined : key.slice(colon + 1).trim();
      if (
        eq < 0 ||
        !isSignalName(signal) ||
        !Number.isFinite(value) ||
        SUBJECT_SIGNALS.has(signal) !== (subject !== undefined && subject !== '')
      ) {
        ctx.addIssue({
          code: 'custom',
          message: `expected signal=value (or gpu_usd_per_gpu_hour:<model>=value), got ${JSON.stringify(part)}`,
        });
        return z.NEVER;
      }
      out.push(subject ? { signal, subject, value } : { signal, value });
    }
    return out;
  });

/** `<farm model>=<marketplace name>` or just `<marketplace name>`, comma-separated. */
const vastModels = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p): VastGpuModel => {
        const eq = p.indexOf('=');
        return eq < 0
          ? { subject: p, gpuName: p }
          : { subject: p.slice(0, eq).trim(), gpuName: p.slice(eq + 1).trim() };
      }),
  );

export const signalsEnvSchema = z.object({
  /** Limit on one attempt to fetch a source (ms). */
  SIGNAL_TIMEOUT_MS: int(5000, 100, 120_000),
  /** Further attempts after a timeout, network error, 429 or 5xx. */
  SIGNAL_RETRIES: int(2, 0, 10),
  /** First retry delay (ms); doubles per attempt, with jitter. */
  SIGNAL_BACKOFF_MS: int(500, 0, 60_000),
  /** Largest retry delay (ms). */
  SIGNAL_BACKOFF_MAX_MS: int(5000, 0, 300_000),
  /** Per-signal soft staleness limits overriding the defaults: `signal=seconds,...`. */
  SIGNAL_STALE_SOFT_SECONDS: stalenessMap,
  /** Per-signal hard staleness limits (beyond them: assume the worst): `signal=seconds,...`. */
  SIGNAL_STALE_HARD_SECONDS: stalenessMap,
  /** Energy price assumed when no usable energy price is left (USD/MWh). */
  SIGNAL_ENERGY_PRICE_CAP_USD_PER_MWH: num(5000, 0, 100_000),
  /** Energy prices below this are absurd and rejected (USD/MWh; real-time prices go negative). */
  SIGNAL_ENERGY_MIN_USD_PER_MWH: num(-250, -100_000, 0),
  /** Energy prices above this are absurd and rejected (USD/MWh). */
  SIGNAL_ENERGY_MAX_USD_PER_MWH: num(10_000, 1, 1_000_000),
  /** A price moving by more than this factor is held until a second reading confirms it. */
  SIGNAL_JUMP_FACTOR: num(3, 1.01, 1000),
  /** Which jumps are held: `both` directions, or only `optimistic` ones (cost down, revenue up). */
  SIGNAL_JUMP_HOLD: z.enum(['both', 'optimistic']).default('both'),
  /** Difficulty readings further than this from the last good value are rejected (percent). */
  SIGNAL_DIFFICULTY_BAND_PCT: num(50, 1, 1000),
  /** Ambient temperature assumed when none is known (°C). */
  SIGNAL_AMBIENT_WORST_C: num(45, -60, 70),
  /** Configured values, used ahead of market sources: `signal=value` or `gpu_usd_per_gpu_hour:<model>=value`. */
  SIGNAL_FIXED_VALUES: fixedValues,
  /** Derive hashprice from difficulty, fees, subsidy and BTC price when Luxor is absent or stale. */
  SIGNAL_DERIVE_HASHPRICE: envBool(true),

  /** Fetch BTC price, difficulty, hashrate and fees from mempool.space. */
  SIGNAL_MEMPOOL_ENABLED: envBool(true),
  /** mempool.space base URL (or a self-hosted instance). */
  SIGNAL_MEMPOOL_URL: httpUrl('https://mempool.space'),

  /** Fetch the BTC price from CoinGecko. */
  SIGNAL_COINGECKO_ENABLED: envBool(true),
  /** CoinGecko base URL (https://pro-api.coingecko.com for a pro key). */
  SIGNAL_COINGECKO_URL: httpUrl('https://api.coingecko.com'),
  /** CoinGecko API key (optional). */
  SIGNAL_COINGECKO_API_KEY: secret,
  /** Header carrying the CoinGecko key. */
  SIGNAL_COINGECKO_KEY_HEADER: z.enum(['x-cg-demo-api-key', 'x-cg-pro-api-key']).default('x-cg-demo-api-key'),

  /** Luxor Hashrate Index base URL. */
  SIGNAL_LUXOR_URL: httpUrl('https://api.hashrateindex.com'),
  /** Luxor Hashrate Index API key; the Luxor source is enabled only when it is set. */
  SIGNAL_LUXOR_API_KEY: secret,

  /** ERCOT public reports base URL. */
  SIGNAL_ERCOT_URL: httpUrl('https://api.ercot.com/api/public-reports'),
  /** ERCOT API subscription key; the ERCOT sources are enabled only when it is set. */
  SIGNAL_ERCOT_SUBSCRIPTION_KEY: secret,
  /** A fixed ERCOT bearer token (else one is obtained with the username and password). */
  SIGNAL_ERCOT_TOKEN: secret,
  /** ERCOT API account for the token flow. */
  SIGNAL_ERCOT_USERNAME: secret,
  SIGNAL_ERCOT_PASSWORD: secret,
  /** ERCOT token endpoint (Azure B2C password flow). */
  SIGNAL_ERCOT_TOKEN_URL: httpUrl(ERCOT_TOKEN_URL),
  /** ERCOT public API client id. */
  SIGNAL_ERCOT_CLIENT_ID: z.string().min(1).default(ERCOT_CLIENT_ID),
  /** Settlement point whose prices the site pays (e.g. HB_WEST, LZ_WEST). */
  SIGNAL_ERCOT_SETTLEMENT_POINT: z
    .string()
    .regex(/^[A-Z0-9_]{2,32}$/, 'must be an ERCOT settlement point name like HB_WEST')
    .default('HB_WEST'),
  /** Also fetch day-ahead prices (energy_da_usd_per_mwh). */
  SIGNAL_ERCOT_DAY_AHEAD: envBool(true),
  /** Client-side limit on ERCOT API requests per minute (the API allows 30). */
  SIGNAL_ERCOT_REQUESTS_PER_MINUTE: int(30, 1, 30),

  /** A CSV or JSON energy price feed; the source is enabled only when set. */
  SIGNAL_ENERGY_FEED_URL: envUrl(['https', 'http']).optional(),
  SIGNAL_ENERGY_FEED_FORMAT: z.enum(['csv', 'json']).default('csv'),
  /** Column / property with the time (ISO 8601 with a zone, or epoch seconds or ms). */
  SIGNAL_ENERGY_FEED_TIME_FIELD: z.string().min(1).default('time'),
  /** Column / property with the price. */
  SIGNAL_ENERGY_FEED_PRICE_FIELD: z.string().min(1).default('price'),
  /** JSON only: dotted path to the rows array (empty: the root). */
  SIGNAL_ENERGY_FEED_ROWS_PATH: z.string().default(''),
  /** Which signal the feed provides. */
  SIGNAL_ENERGY_FEED_SIGNAL: z
    .enum(['energy_usd_per_mwh', 'energy_da_usd_per_mwh'])
    .default('energy_usd_per_mwh'),
  /** Multiplier to USD/MWh (1000 for a feed in USD/kWh). */
  SIGNAL_ENERGY_FEED_PRICE_SCALE: num(1, 1e-6, 1e6),
  /** Bearer token for the feed (optional). */
  SIGNAL_ENERGY_FEED_BEARER_TOKEN: secret,

  /** Vast.ai-style offers search base URL. */
  SIGNAL_VAST_URL: httpUrl('https://console.vast.ai'),
  /** GPU models to price: `<farm gpuModel>=<marketplace gpu_name>,...`; the source is enabled only when set. */
  SIGNAL_VAST_GPU_MODELS: vastModels,
  /** Vast.ai API key (optional for the search). */
  SIGNAL_VAST_API_KEY: secret,
  /** Offers below this reliability are ignored. */
  SIGNAL_VAST_MIN_RELIABILITY: num(0.95, 0, 1),
  /** POST the search query as JSON, or GET with ?q=. */
  SIGNAL_VAST_METHOD: z.enum(['POST', 'GET']).default('POST'),
});

export type SignalsEnv = z.infer<typeof signalsEnvSchema>;

export interface SignalsConfig {
  retry: RetryDefaults;
  policy: SignalPolicy;
  fixedValues: FixedValue[];
  deriveHashprice: boolean;
  mempool?: { baseUrl: string };
  coingecko?: { baseUrl: string; apiKey?: string; apiKeyHeader: string };
  luxor?: { baseUrl: string; apiKey: string };
  ercot?: {
    baseUrl: string;
    subscriptionKey: string;
    settlementPoint: string;
    dayAhead: boolean;
    requestsPerMinute: number;
    auth: { token: string } | { username: string; password: string; tokenUrl: string; clientId: string };
  };
  energyFeed?: {
    url: string;
    format: 'csv' | 'json';
    timeField: string;
    valueField: string;
    rowsPath: string;
    signal: 'energy_usd_per_mwh' | 'energy_da_usd_per_mwh';
    valueScale: number;
    bearerToken?: string;
  };
  vast?: {
    baseUrl: string;
    models: VastGpuModel[];
    apiKey?: string;
    minReliability: number;
    method: 'POST' | 'GET';
  };
}

function stalenessOverrides(env: SignalsEnv): SignalPolicy['staleness'] {
  const base = signalPolicy().staleness;
  const out = { ...base };
  for (const signal of SIGNAL_NAMES) {
    const soft = env.SIGNAL_STALE_SOFT_SECONDS[signal];
    const hard = env.SIGNAL_STALE_HARD_SECONDS[signal];
    out[signal] = {
      softSeconds: soft ?? base[signal].softSeconds,
      hardSeconds: hard ?? base[signal].hardSeconds,
    };
  }
  return out;
}

/** The structured configuration from parsed variables; throws on contradictions. */
export function signalsConfig(env: SignalsEnv): SignalsConfig {
  const energyBounds = { min: env.SIGNAL_ENERGY_MIN_USD_PER_MWH, max: env.SIGNAL_ENERGY_MAX_USD_PER_MWH };
  let policy: SignalPolicy;
  try {
    policy = signalPolicy({
      staleness: stalenessOverrides(env),
      bounds: { energy_usd_per_mwh: energyBounds, energy_da_usd_per_mwh: energyBounds },
      energyPriceCapUsdPerMwh: env.SIGNAL_ENERGY_PRICE_CAP_USD_PER_MWH,
      ambientWorstC: env.SIGNAL_AMBIENT_WORST_C,
      jumpFactor: env.SIGNAL_JUMP_FACTOR,
      jumpHold: env.SIGNAL_JUMP_HOLD as JumpHoldMode,
      difficultyBandPct: env.SIGNAL_DIFFICULTY_BAND_PCT,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError([{ variable: 'SIGNAL_STALE_SOFT_SECONDS / SIGNAL_STALE_HARD_SECONDS', message }]);
  }
  const cfg: SignalsConfig = {
    retry: {
      timeoutMs: env.SIGNAL_TIMEOUT_MS,
      retries: env.SIGNAL_RETRIES,
      backoffMs: env.SIGNAL_BACKOFF_MS,
      maxBackoffMs: Math.max(env.SIGNAL_BACKOFF_MS, env.SIGNAL_BACKOFF_MAX_MS),
    },
    policy,
    fixedValues: env.SIGNAL_FIXED_VALUES,
    deriveHashprice: env.SIGNAL_DERIVE_HASHPRICE,
  };
  if (env.SIGNAL_MEMPOOL_ENABLED) cfg.mempool = { baseUrl: env.SIGNAL_MEMPOOL_URL };
  if (env.SIGNAL_COINGECKO_ENABLED)
    cfg.coingecko = {
      baseUrl: env.SIGNAL_COINGECKO_URL,
      apiKeyHeader: env.SIGNAL_COINGECKO_KEY_HEADER,
      ...(env.SIGNAL_COINGECKO_API_KEY && { apiKey: env.SIGNAL_COINGECKO_API_KEY }),
    };
  if (env.SIGNAL_LUXOR_API_KEY)
    cfg.luxor = { baseUrl: env.SIGNAL_LUXOR_URL, apiKey: env.SIGNAL_LUXOR_API_KEY };
  if (env.SIGNAL_ERCOT_SUBSCRIPTION_KEY) {
    let auth: NonNullable<SignalsConfig['ercot']>['auth'];
    if (env.SIGNAL_ERCOT_TOKEN) auth = { token: env.SIGNAL_ERCOT_TOKEN };
    else if (env.SIGNAL_ERCOT_USERNAME && env.SIGNAL_ERCOT_PASSWORD)
      auth = {
        username: env.SIGNAL_ERCOT_USERNAME,
        password: env.SIGNAL_ERCOT_PASSWORD,
        tokenUrl: env.SIGNAL_ERCOT_TOKEN_URL,
        clientId: env.SIGNAL_ERCOT_CLIENT_ID,
      };
    else
      throw new ConfigError([
        {
          variable: 'SIGNAL_ERCOT_TOKEN',
          message:
            'SIGNAL_ERCOT_SUBSCRIPTION_KEY is set: set SIGNAL_ERCOT_TOKEN, or SIGNAL_ERCOT_USERNAME and SIGNAL_ERCOT_PASSWORD',
        },
      ]);
    cfg.ercot = {
      baseUrl: env.SIGNAL_ERCOT_URL,
      subscriptionKey: env.SIGNAL_ERCOT_SUBSCRIPTION_KEY,
      settlementPoint: env.SIGNAL_ERCOT_SETTLEMENT_POINT,
      dayAhead: env.SIGNAL_ERCOT_DAY_AHEAD,
      requestsPerMinute: env.SIGNAL_ERCOT_REQUESTS_PER_MINUTE,
      auth,
    };
  }
  if (env.SIGNAL_ENERGY_FEED_URL)
    cfg.energyFeed = {
      url: env.SIGNAL_ENERGY_FEED_URL,
      format: env.SIGNAL_ENERGY_FEED_FORMAT,
      timeField: env.SIGNAL_ENERGY_FEED_TIME_FIELD,
      valueField: env.SIGNAL_ENERGY_FEED_PRICE_FIELD,
      rowsPath: env.SIGNAL_ENERGY_FEED_ROWS_PATH,
      signal: env.SIGNAL_ENERGY_FEED_SIGNAL,
      valueScale: env.SIGNAL_ENERGY_FEED_PRICE_SCALE,
      ...(env.SIGNAL_ENERGY_FEED_BEARER_TOKEN && { bearerToken: env.SIGNAL_ENERGY_FEED_BEARER_TOKEN }),
    };
  if (env.SIGNAL_VAST_GPU_MODELS.length > 0)
    cfg.vast = {
      baseUrl: env.SIGNAL_VAST_URL,
      models: env.SIGNAL_VAST_GPU_MODELS,
      minReliability: env.SIGNAL_VAST_MIN_RELIABILITY,
      method: env.SIGNAL_VAST_METHOD,
      ...(env.SIGNAL_VAST_API_KEY && { apiKey: env.SIGNAL_VAST_API_KEY }),
    };
  return cfg;
}

/** Parses the environment once; throws ConfigError naming the variable on a bad value. */
export function signalsConfigFromEnv(env: Env): SignalsConfig {
  return signalsConfig(parseEnv(signalsEnvSchema, env));
}

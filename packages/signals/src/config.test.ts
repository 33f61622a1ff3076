import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ConfigError } from '@switchyard/config';
import { buildSignalHub, buildSignalSources } from './build-signal-hub.ts';
import { signalsConfigFromEnv, signalsEnvSchema } from './config.ts';

describe('signals configuration', () => {
  test('defaults: mempool.space and CoinGecko on, keyed sources off, the documented policy', () => {
    const cfg = signalsConfigFromEnv({});
    expect(cfg.mempool).toEqual({ baseUrl: 'https://mempool.space' });
    expect(cfg.coingecko).toMatchObject({
      baseUrl: 'https://api.coingecko.com',
      apiKeyHeader: 'x-cg-demo-api-key',
    });
    expect(cfg.luxor).toBeUndefined();
    expect(cfg.ercot).toBeUndefined();
    expect(cfg.vast).toBeUndefined();
    expect(cfg.energyFeed).toBeUndefined();
    expect(cfg.retry).toEqual({ timeoutMs: 5000, retries: 2, backoffMs: 500, maxBackoffMs: 5000 });
    expect(cfg.policy).toMatchObject({
      energyPriceCapUsdPerMwh: 5000,
      jumpFactor: 3,
      jumpHold: 'both',
      difficultyBandPct: 50,
    });
  });

  test('every variable of the schema is documented in docs/signals.md', () => {
    // Jest runs from the repository root.
    const doc = readFileSync('docs/signals.md', 'utf8');
    const missing = Object.keys(signalsEnvSchema.shape).filter((v) => !doc.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  test('keys enable their sources; lists and maps are parsed', () => {
    const cfg = signalsConfigFromEnv({
      SIGNAL_LUXOR_API_KEY: 'hi',
      SIGNAL_ERCOT_SUBSCRIPTION_KEY: 'sub',
      SIGNAL_ERCOT_USERNAME: 'u',
      SIGNAL_ERCOT_PASSWORD: 'p',
      SIGNAL_ERCOT_SETTLEMENT_POINT: 'LZ_WEST',
      SIGNAL_VAST_GPU_MODELS: 'H100-SXM-80GB=H100 SXM, RTX 4090',
      SIGNAL_ENERGY_FEED_URL: 'https://prices.example.com/hb_west.csv',
      SIGNAL_FIXED_VALUES: 'gpu_usd_per_gpu_hour:H200-SXM-141GB=3.1, ambient_c=31',
      SIGNAL_STALE_SOFT_SECONDS: 'btc_usd=300',
      SIGNAL_STALE_HARD_SECONDS: 'btc_usd=900,energy_usd_per_mwh=3600',
      SIGNAL_ENERGY_MIN_USD_PER_MWH: '0',
      SIGNAL_JUMP_HOLD: 'optimistic',
    });
    expect(cfg.luxor).toEqual({ baseUrl: 'https://api.hashrateindex.com', apiKey: 'hi' });
    expect(cfg.ercot).toMatchObject({
      settlementPoint: 'LZ_WEST',
      dayAhead: true,
      requestsPerMinute: 30,
      auth: { username: 'u' },
    });
    expect(cfg.vast!.models).toEqual([
      { subject: 'H100-SXM-80GB', gpuName: 'H100 SXM' },
      { subject: 'RTX 4090', gpuName: 'RTX 4090' },
    ]);
    expect(cfg.fixedValues).toEqual([
      { signal: 'gpu_usd_per_gpu_hour', subject: 'H200-SXM-141GB', value: 3.1 },
      { signal: 'ambient_c', value: 31 },
    ]);
    expect(cfg.policy.staleness.btc_usd).toEqual({ softSeconds: 300, hardSeconds: 900 });
    expect(cfg.policy.staleness.energy_usd_per_mwh.hardSeconds).toBe(3600);
    expect(cfg.policy.bounds.energy_usd_per_mwh.min).toBe(0);
    expect(cfg.policy.jumpHold).toBe('optimistic');
  });

  test.each([
    [{ SIGNAL_TIMEOUT_MS: 'soon' }, 'SIGNAL_TIMEOUT_MS', /must be a number/],
    [{ SIGNAL_MEMPOOL_URL: 'ftp://mempool.space' }, 'SIGNAL_MEMPOOL_URL', /scheme/],
    [{ SIGNAL_STALE_SOFT_SECONDS: 'btc=60' }, 'SIGNAL_STALE_SOFT_SECONDS', /known signal/],
    [
      { SIGNAL_FIXED_VALUES: 'gpu_usd_per_gpu_hour=2' },
      'SIGNAL_FIXED_VALUES',
      /gpu_usd_per_gpu_hour:<model>/,
    ],
    [{ SIGNAL_ERCOT_SETTLEMENT_POINT: 'hb west' }, 'SIGNAL_ERCOT_SETTLEMENT_POINT', /settlement point/],
    [{ SIGNAL_ERCOT_SUBSCRIPTION_KEY: 'k' }, 'SIGNAL_ERCOT_TOKEN', /SIGNAL_ERCOT_USERNAME/],
    [
      { SIGNAL_STALE_SOFT_SECONDS: 'btc_usd=7200' },
      'SIGNAL_STALE_SOFT_SECONDS / SIGNAL_STALE_HARD_SECONDS',
      /soft/,
    ],
  ])('%j is refused, naming %s', (env, variable, message) => {
    let err: unknown;
    try {
      signalsConfigFromEnv(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problem = (err as ConfigError).problems.find((p) => p.variable === variable);
    expect(problem?.message).toMatch(message);
  });

  test('the hub gets its sources in priority order, with the expected series', async () => {
    const cfg = signalsConfigFromEnv({
      SIGNAL_LUXOR_API_KEY: 'hi',
      SIGNAL_ERCOT_SUBSCRIPTION_KEY: 'sub',
      SIGNAL_ERCOT_TOKEN: 't',
      SIGNAL_ENERGY_FEED_URL: 'https://prices.example.com/p.csv',
      SIGNAL_VAST_GPU_MODELS: 'H100-SXM-80GB=H100 SXM',
      SIGNAL_FIXED_VALUES: 'gpu_usd_per_gpu_hour:H200-SXM-141GB=3.1',
    });
    const built = buildSignalHub(cfg);
    expect(built.hub.sourceNames).toEqual([
      'operator',
      'fixed',
      'pushed',
      'luxor',
      'coingecko',
      'mempool.space',
      'ercot',
      'ercot-dam',
      'energy-feed',
      'vast.ai',
    ]);
    expect(built.expect).toEqual([
      { signal: 'gpu_usd_per_gpu_hour', subject: 'H200-SXM-141GB' },
      { signal: 'gpu_usd_per_gpu_hour', subject: 'H100-SXM-80GB' },
    ]);
    // Before any refresh every expected series is reported, at its worst case.
    const cur = built.hub.current(new Date('2026-03-18T19:00:00Z'));
    expect(cur['gpu_usd_per_gpu_hour:H100-SXM-80GB']).toMatchObject({ value: 0, assumeWorst: true });
    expect(cur.energy_usd_per_mwh).toMatchObject({ value: 5000, assumeWorst: true });
    await built.hub.close();
    expect(
      buildSignalSources(
        signalsConfigFromEnv({ SIGNAL_MEMPOOL_ENABLED: 'false', SIGNAL_COINGECKO_ENABLED: 'false' }),
      ).registrations.map((r) => r.source.name),
    ).toEqual(['operator', 'pushed']);
  });
});

// The hub across several sources over real sockets: hashprice derived from mempool.space and
// CoinGecko (≈ $51.9/PH/day for the brief's numbers), Luxor preferred while fresh, fallback by
// priority, operator overrides winning and expiring, and shutdown in the middle of a fetch.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import {
  CoinGeckoSource,
  InMemoryOverrideStore,
  LuxorHashpriceSource,
  MempoolSource,
  OperatorOverrideSource,
  SignalHub,
  TabularPriceSource,
  type SourceRegistration,
} from '../../packages/signals/src/index.ts';
import {
  startCoinGeckoFake,
  startEnergyFeedFake,
  startLuxorFake,
  startMempoolFake,
  type CoinGeckoState,
  type EnergyFeedState,
  type FakeServer,
  type LuxorState,
  type MempoolState,
} from '../support/fake-signal-servers.ts';
import { START, TestClock, fastRetry } from './source-contract.ts';

const clock = new TestClock(START);
let mempool: FakeServer<MempoolState>;
let coingecko: FakeServer<CoinGeckoState>;
let luxor: FakeServer<LuxorState>;
let feed: FakeServer<EnergyFeedState>;
const fakes = () => [mempool, coingecko, luxor, feed] as FakeServer<unknown>[];

beforeAll(async () => {
  [mempool, coingecko, luxor, feed] = await Promise.all([
    startMempoolFake(clock.now),
    startCoinGeckoFake(clock.now),
    startLuxorFake(clock.now, { usdPerPhDay: 49.5 }),
    startEnergyFeedFake(clock.now),
  ]);
});
afterAll(() => Promise.all(fakes().map((f) => f.close())));
beforeEach(() => {
  for (const f of fakes()) {
    f.mode = 'ok';
    f.failNext = 0;
  }
  clock.set(START);
});

const market = (): SourceRegistration[] => [
  fastRetry(new CoinGeckoSource({ baseUrl: coingecko.url })),
  fastRetry(new MempoolSource({ baseUrl: mempool.url })),
];

describe('hashprice', () => {
  test('derived from difficulty 88.1e12, $63,700 and 0.44 BTC fees/block: ≈ $51.9/PH/day', async () => {
    const hub = new SignalHub({ sources: market(), clock: clock.now });
    const report = await hub.refresh();
    const hp = hub.current().hashprice_usd_per_th_day!;
    expect(hp.value! * 1000).toBeCloseTo(51.85, 2);
    expect(hp).toMatchObject({
      source: 'derived(mempool.space,coingecko)',
      stale: false,
      assumeWorst: false,
    });
    expect(hp.reason).toMatch(/subsidy 3.125 BTC/);
    // The derivation is recorded like any reading, with its provenance.
    const derived = report.readings.find((r) => r.status === 'derived')!;
    expect(derived).toMatchObject({
      signal: 'hashprice_usd_per_th_day',
      source: 'derived(mempool.space,coingecko)',
    });
    expect(derived.detail).toMatchObject({ difficulty: 88.1e12, btcUsd: 63_700, subsidyBtc: 3.125 });
  });

  test('Luxor wins while fresh; once stale, the fresh derivation takes over', async () => {
    const hub = new SignalHub({
      sources: [
        fastRetry(new LuxorHashpriceSource({ baseUrl: luxor.url, apiKey: 'hi-test-key' })),
        ...market(),
      ],
      clock: clock.now,
    });
    await hub.refresh();
    expect(hub.current().hashprice_usd_per_th_day).toMatchObject({ value: 0.0495, source: 'luxor' });
    luxor.mode = 'error';
    clock.advance(3 * 3600);
    await hub.refresh();
    expect(hub.current().hashprice_usd_per_th_day!.source).toBe('derived(mempool.space,coingecko)');
    expect(hub.current().hashprice_usd_per_th_day!.stale).toBe(false);
  });

  test('with every input past its hard limit, hashprice is assumed to be 0', async () => {
    const hub = new SignalHub({ sources: market(), clock: clock.now });
    await hub.refresh();
    mempool.mode = 'error';
    coingecko.mode = 'error';
    clock.advance(4 * 86_400);
    await hub.refresh();
    expect(hub.current().hashprice_usd_per_th_day).toMatchObject({
      value: 0,
      assumeWorst: true,
      source: 'worst-case',
    });
    expect(hub.current().subsidy_btc).toMatchObject({ value: 3.125, source: 'schedule', stale: false });
  });
});

describe('priority and fallback', () => {
  test('BTC price: CoinGecko first; mempool.space once CoinGecko is stale', async () => {
    const hub = new SignalHub({ sources: market(), clock: clock.now });
    await hub.refresh();
    expect(hub.current().btc_usd!.source).toBe('coingecko');
    coingecko.mode = 'error';
    clock.advance(15 * 60);
    await hub.refresh();
    expect(hub.current().btc_usd).toMatchObject({ source: 'mempool.space', stale: false, value: 63_700 });
  });

  test('an active operator override beats every source, then expires', async () => {
    const overrides = new InMemoryOverrideStore({ clock: clock.now });
    const hub = new SignalHub({
      sources: [
        { source: new OperatorOverrideSource(overrides), trusted: true, snapshot: true },
        fastRetry(
          new TabularPriceSource({
            name: 'energy-feed',
            url: `${feed.url}/prices.csv`,
            format: 'csv',
            timeField: 'time',
            valueField: 'price',
          }),
        ),
      ],
      clock: clock.now,
    });
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh).toMatchObject({ value: 42.5, source: 'energy-feed' });
    // 4000 is ×94 the feed's price: an override is not held like a market jump.
    overrides.set({
      signal: 'energy_usd_per_mwh',
      value: 4000,
      expiresAt: new Date(clock.now().getTime() + 3_600_000),
      setBy: 'alice',
      reason: 'storm watch',
    });
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh).toMatchObject({
      value: 4000,
      source: 'operator:alice',
      stale: false,
    });
    clock.advance(3601);
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh).toMatchObject({ value: 42.5, source: 'energy-feed' });
  });

  test('a cleared override stops applying at the next refresh', async () => {
    const overrides = new InMemoryOverrideStore({ clock: clock.now });
    const hub = new SignalHub({
      sources: [
        { source: new OperatorOverrideSource(overrides), trusted: true, snapshot: true },
        ...market(),
      ],
      clock: clock.now,
    });
    const o = overrides.set({
      signal: 'btc_usd',
      value: 1,
      expiresAt: new Date(clock.now().getTime() + 600_000),
      setBy: 'bob',
      reason: 'test',
    });
    await hub.refresh();
    expect(hub.current().btc_usd!.value).toBe(1);
    overrides.clear(o.id);
    await hub.refresh();
    expect(hub.current().btc_usd).toMatchObject({ value: 63_700, source: 'coingecko' });
  });
});

describe('life cycle', () => {
  test('close() aborts a fetch in flight at once and refuses later refreshes', async () => {
    mempool.mode = 'slow';
    mempool.delayMs = 5000;
    const hub = new SignalHub({
      sources: [fastRetry(new MempoolSource({ baseUrl: mempool.url }), { timeoutMs: 10_000 })],
      clock: clock.now,
    });
    const running = hub.refresh();
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await hub.close();
    const report = await running;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(report.sources[0]).toMatchObject({ ok: false, attempts: 1, error: { code: 'ABORTED' } });
    await expect(hub.refresh()).rejects.toThrow(/closed/);
    await hub.close();
  });

  test('start() refreshes on a timer until close()', async () => {
    const hub = new SignalHub({ sources: market() });
    hub.start(20);
    await new Promise((r) => setTimeout(r, 150));
    await hub.close();
    // A request written just before close() may still reach the server; let it land first.
    await new Promise((r) => setTimeout(r, 50));
    const count = coingecko.requests.length;
    expect(count).toBeGreaterThan(1);
    expect(hub.sourceStatus()[0]!.lastSuccessAt).toBeInstanceOf(Date);
    await new Promise((r) => setTimeout(r, 100));
    expect(coingecko.requests.length).toBe(count);
  });
});

// CoinGecko over real sockets: the shared source contract, the API key header and the
// observation time taken from last_updated_at.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CoinGeckoSource, SignalHub } from '../../packages/signals/src/index.ts';
import { startCoinGeckoFake, type CoinGeckoState, type FakeServer } from '../support/fake-signal-servers.ts';
import { START, TestClock, describeSourceContract, fastRetry } from './source-contract.ts';

describeSourceContract<CoinGeckoState>({
  title: 'CoinGecko',
  start: (clock) => startCoinGeckoFake(clock),
  source: (fake) => new CoinGeckoSource({ baseUrl: fake.url }),
  signal: 'btc_usd',
  expected: (fake) => fake.state.btcUsd,
  scale: (fake, f) => (fake.state.btcUsd *= f),
  probePath: '/api/v3/simple/price',
  requestsPerFetch: 1,
  staleTimestamps: true,
});

describe('CoinGecko: key and timestamps', () => {
  const clock = new TestClock(START);
  let fake: FakeServer<CoinGeckoState>;
  beforeAll(async () => {
    fake = await startCoinGeckoFake(clock.now, { apiKey: 'CG-demo-key' });
  });
  afterAll(() => fake.close());

  test('sends the API key header and dates the price by last_updated_at', async () => {
    const hub = new SignalHub({
      sources: [fastRetry(new CoinGeckoSource({ baseUrl: fake.url, apiKey: 'CG-demo-key' }))],
      clock: clock.now,
    });
    const report = await hub.refresh();
    expect(report.sources[0]).toMatchObject({ ok: true });
    expect(fake.requests.at(-1)!.headers['x-cg-demo-api-key']).toBe('CG-demo-key');
    expect(hub.current().btc_usd).toMatchObject({ value: 63_700, source: 'coingecko', ageSeconds: 20 });
    expect(hub.current().btc_usd!.observedAt!.getTime()).toBe(new Date(START).getTime() - 20_000);
  });

  test('a refused key is an AUTH failure and is not retried', async () => {
    const hub = new SignalHub({
      sources: [fastRetry(new CoinGeckoSource({ baseUrl: fake.url, apiKey: 'wrong' }))],
      clock: clock.now,
    });
    const before = fake.requests.length;
    const report = await hub.refresh();
    expect(report.sources[0]).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: 'AUTH', retryable: false },
    });
    expect(fake.requests.length - before).toBe(1);
  });
});

// Luxor Hashrate Index over real sockets: the shared source contract (in USD per TH/s per day),
// the API key header, the PH → TH conversion and the choice of the latest bucket.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { LuxorHashpriceSource, SignalHub } from '../../packages/signals/src/index.ts';
import { startLuxorFake, type FakeServer, type LuxorState } from '../support/fake-signal-servers.ts';
import { START, TestClock, describeSourceContract, fastRetry } from './source-contract.ts';

describeSourceContract<LuxorState>({
  title: 'Luxor Hashrate Index',
  start: (clock) => startLuxorFake(clock),
  source: (fake) => new LuxorHashpriceSource({ baseUrl: fake.url, apiKey: fake.state.apiKey }),
  signal: 'hashprice_usd_per_th_day',
  expected: (fake) => fake.state.usdPerPhDay / 1000,
  scale: (fake, f) => (fake.state.usdPerPhDay *= f),
  probePath: '/v1/hashrateindex/hashprice',
  requestsPerFetch: 1,
  staleTimestamps: true,
});

describe('Luxor: key, units and buckets', () => {
  const clock = new TestClock(START);
  let fake: FakeServer<LuxorState>;
  beforeAll(async () => {
    fake = await startLuxorFake(clock.now, { usdPerPhDay: 48.7 });
  });
  afterAll(() => fake.close());

  test('converts USD/PH/day to USD/TH/day and takes the latest hourly bucket', async () => {
    const hub = new SignalHub({
      sources: [fastRetry(new LuxorHashpriceSource({ baseUrl: fake.url, apiKey: 'hi-test-key' }))],
      deriveHashprice: false,
      clock: clock.now,
    });
    const report = await hub.refresh();
    expect(fake.requests.at(-1)!.headers['x-hi-api-key']).toBe('hi-test-key');
    const cur = hub.current().hashprice_usd_per_th_day!;
    expect(cur.value).toBeCloseTo(0.0487, 12);
    expect(cur.unit).toBe('USD/(TH/s)/day');
    expect(cur.observedAt!.toISOString()).toBe('2026-03-18T19:00:00.000Z');
    expect(report.readings[0]!.detail).toMatchObject({ usdPerPhDay: 48.7, points: 24 });
  });

  test('a wrong key is an AUTH failure', async () => {
    const hub = new SignalHub({
      sources: [fastRetry(new LuxorHashpriceSource({ baseUrl: fake.url, apiKey: 'nope' }))],
      clock: clock.now,
    });
    const report = await hub.refresh();
    expect(report.sources[0]).toMatchObject({ ok: false, attempts: 1, error: { code: 'AUTH' } });
  });

  test('the source cannot be built without a key', () => {
    expect(() => new LuxorHashpriceSource({ baseUrl: fake.url, apiKey: '' })).toThrow(/API key/);
  });
});

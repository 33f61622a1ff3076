// ERCOT settlement point prices over real sockets: the shared source contract on real-time
// prices, the choice of interval (including the repeated hour when daylight saving ends),
// day-ahead prices, both row layouts, the token flow and the client-side rate limit.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import {
  ErcotPasswordTokenProvider,
  ErcotPriceSource,
  RateLimiter,
  SignalHub,
  StaticErcotToken,
  type ErcotSourceOptions,
} from '../../packages/signals/src/index.ts';
import { startErcotFake, type ErcotState, type FakeServer } from '../support/fake-signal-servers.ts';
import { START, TestClock, describeSourceContract, fastRetry } from './source-contract.ts';

function options(fake: FakeServer<ErcotState>, extra: Partial<ErcotSourceOptions> = {}): ErcotSourceOptions {
  return {
    market: 'real-time',
    baseUrl: fake.url,
    settlementPoint: 'HB_WEST',
    subscriptionKey: fake.state.subscriptionKey,
    token: new StaticErcotToken('static-token'),
    ...extra,
  };
}

describeSourceContract<ErcotState>({
  title: 'ERCOT real-time SPP',
  start: (clock) => startErcotFake(clock),
  source: (fake) => new ErcotPriceSource(options(fake)),
  signal: 'energy_usd_per_mwh',
  expected: (fake) => fake.state.rtPrice,
  scale: (fake, f) => (fake.state.rtPrice *= f),
  probePath: '/np6-905-cd/spp_node_zone_hub',
  requestsPerFetch: 1,
  staleTimestamps: true,
});

describeSourceContract<ErcotState>({
  title: 'ERCOT day-ahead SPP',
  start: (clock) => startErcotFake(clock),
  source: (fake) => new ErcotPriceSource(options(fake, { market: 'day-ahead' })),
  signal: 'energy_da_usd_per_mwh',
  expected: (fake) => fake.state.daPrice,
  scale: (fake, f) => (fake.state.daPrice *= f),
  probePath: '/np4-190-cd/dam_stlmnt_pnt_prices',
  requestsPerFetch: 1,
  staleTimestamps: true,
});

describe('ERCOT: intervals, layouts, tokens and the rate limit', () => {
  const clock = new TestClock(START);
  let fake: FakeServer<ErcotState>;
  let initial: ErcotState;
  beforeAll(async () => {
    fake = await startErcotFake(clock.now);
    initial = structuredClone(fake.state);
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.state = structuredClone(initial);
    fake.mode = 'ok';
    fake.requests.length = 0;
    clock.set(START);
  });

  const hubFor = (source: ErcotPriceSource, timeoutMs = 1500) =>
    new SignalHub({ sources: [fastRetry(source, { timeoutMs })], clock: clock.now });

  test('takes the latest published 15-minute interval of the configured settlement point', async () => {
    const hub = hubFor(new ErcotPriceSource(options(fake)));
    const report = await hub.refresh();
    const req = fake.requests.at(-1)!;
    expect(req.headers['ocp-apim-subscription-key']).toBe('sub-key');
    expect(req.headers.authorization).toBe('Bearer static-token');
    expect(Object.fromEntries(req.query)).toMatchObject({
      settlementPoint: 'HB_WEST',
      deliveryDateFrom: '2026-03-17',
      deliveryDateTo: '2026-03-18',
    });
    // 19:07Z is 14:07 CDT; with a 5-minute publication lag the last interval is 13:45–14:00 CDT.
    const r = report.readings[0]!;
    expect(r.observedAt.toISOString()).toBe('2026-03-18T18:45:00.000Z');
    expect(r.validUntil!.toISOString()).toBe('2026-03-18T19:00:00.000Z');
    expect(r.detail).toMatchObject({ settlementPoint: 'HB_WEST' });
    expect(hub.current().energy_usd_per_mwh).toMatchObject({
      value: 31.5,
      ageSeconds: 420,
      stale: false,
      source: 'ercot',
    });
  });

  test('rows sent as objects read the same as rows described by fields', async () => {
    fake.state.objectRows = true;
    const hub = hubFor(new ErcotPriceSource(options(fake)));
    const report = await hub.refresh();
    expect(report.readings[0]!.observedAt.toISOString()).toBe('2026-03-18T18:45:00.000Z');
  });

  test('the repeated hour when daylight saving ends is placed by DSTFlag', async () => {
    // 07:20Z on 1 Nov 2026 is 01:20 CST, the second 01:xx; the last interval is 01:00–01:15 CST.
    clock.set('2026-11-01T07:20:00Z');
    const hub = hubFor(new ErcotPriceSource(options(fake)));
    const report = await hub.refresh();
    expect(report.readings[0]!.observedAt.toISOString()).toBe('2026-11-01T07:00:00.000Z');
  });

  test('day-ahead: the hour holding now, with the next hours in the detail', async () => {
    const hub = hubFor(new ErcotPriceSource(options(fake, { market: 'day-ahead' })));
    const report = await hub.refresh();
    const r = report.readings[0]!;
    expect(r).toMatchObject({ signal: 'energy_da_usd_per_mwh', value: 28.25, source: 'ercot-dam' });
    expect(r.observedAt.toISOString()).toBe('2026-03-18T19:00:00.000Z');
    expect(r.validUntil!.toISOString()).toBe('2026-03-18T20:00:00.000Z');
    expect((r.detail!.next as unknown[]).length).toBe(24);
    expect(Object.fromEntries(fake.requests.at(-1)!.query)).toMatchObject({
      deliveryDateFrom: '2026-03-18',
      deliveryDateTo: '2026-03-19',
    });
  });

  test('password flow: one token for many requests, and a new one after a 401', async () => {
    const token = new ErcotPasswordTokenProvider({
      tokenUrl: `${fake.url}/token`,
      username: fake.state.username,
      password: fake.state.password,
    });
    const hub = hubFor(new ErcotPriceSource(options(fake, { token })));
    await hub.refresh();
    await hub.refresh();
    expect(fake.requestsTo('/token')).toHaveLength(1);
    expect(new URLSearchParams(fake.requestsTo('/token')[0]!.body).get('grant_type')).toBe('password');
    expect(fake.requestsTo('/token')[0]!.query.size).toBe(0);
    fake.state.tokensIssued = []; // ERCOT revokes the token
    const report = await hub.refresh();
    expect(report.sources[0]).toMatchObject({ ok: true });
    expect(fake.requestsTo('/token')).toHaveLength(2);
  });

  test('a wrong subscription key is an AUTH failure, not retried', async () => {
    const hub = hubFor(new ErcotPriceSource(options(fake, { subscriptionKey: 'nope' })));
    const report = await hub.refresh();
    expect(report.sources[0]).toMatchObject({ ok: false, attempts: 1, error: { code: 'AUTH' } });
  });

  test('the client-side limiter keeps requests within the API limit', async () => {
    fake.state.rateLimit = 3;
    fake.state.rateWindowMs = 1000;
    const limiter = new RateLimiter({ limit: 3, windowMs: 1000, marginMs: 250 });
    const rt = new ErcotPriceSource(options(fake, { limiter }));
    const da = new ErcotPriceSource(options(fake, { market: 'day-ahead', limiter }));
    const hub = new SignalHub({
      sources: [fastRetry(rt, { timeoutMs: 4000 }), fastRetry(da, { timeoutMs: 4000 })],
      clock: clock.now,
    });
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      const report = await hub.refresh();
      expect(report.sources.map((s) => [s.ok, s.attempts, s.error?.code])).toEqual([
        [true, 1, undefined],
        [true, 1, undefined],
      ]);
    }
    // Six requests at three per second: the last three had to wait for the window.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test('without the limiter the same burst is refused with 429 (RATE_LIMITED, retryable)', async () => {
    fake.state.rateLimit = 3;
    fake.state.rateWindowMs = 60_000;
    const rt = new ErcotPriceSource(options(fake));
    const hub = new SignalHub({ sources: [fastRetry(rt, { retries: 0 })], clock: clock.now });
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) codes.push((await hub.refresh()).sources[0]!.error?.code);
    expect(codes).toEqual([undefined, undefined, undefined, 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});

// mempool.space over real sockets: the shared source contract on the BTC price, plus the other
// three signals (difficulty, network hashrate, fees from satoshi strings), the difficulty band
// and partial failures.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { MempoolSource, SignalHub } from '../../packages/signals/src/index.ts';
import { startMempoolFake, type FakeServer, type MempoolState } from '../support/fake-signal-servers.ts';
import { START, TestClock, describeSourceContract, fastRetry } from './source-contract.ts';

describeSourceContract<MempoolState>({
  title: 'mempool.space',
  start: (clock) => startMempoolFake(clock),
  source: (fake) => new MempoolSource({ baseUrl: fake.url }),
  signal: 'btc_usd',
  expected: (fake) => fake.state.btcUsd,
  scale: (fake, f) => (fake.state.btcUsd *= f),
  probePath: '/api/v1/prices',
  requestsPerFetch: 4,
  staleTimestamps: true,
});

describe('mempool.space: difficulty, hashrate and fees', () => {
  const clock = new TestClock(START);
  let fake: FakeServer<MempoolState>;
  let initial: MempoolState;
  const hub = () =>
    new SignalHub({ sources: [fastRetry(new MempoolSource({ baseUrl: fake.url }))], clock: clock.now });

  beforeAll(async () => {
    fake = await startMempoolFake(clock.now);
    initial = structuredClone(fake.state);
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.state = structuredClone(initial);
    fake.mode = 'ok';
    fake.failNext = 0;
    clock.set(START);
  });

  test('reads difficulty, hashrate in EH/s and mean fees per block in BTC', async () => {
    const h = hub();
    const report = await h.refresh();
    expect(report.sources[0]!.readings).toBe(4);
    const cur = h.current();
    expect(cur.difficulty).toMatchObject({
      value: 88.1e12,
      unit: '1',
      source: 'mempool.space',
      stale: false,
    });
    expect(cur.network_hashrate_ehs!.value).toBeCloseTo(630, 9);
    expect(cur.fees_btc_per_block!.value).toBeCloseTo(0.44, 12);
    const fees = report.readings.find((r) => r.signal === 'fees_btc_per_block')!;
    expect(fees.detail).toMatchObject({ blocks: 144, totalFeeSats: '6336000000' });
    expect(fees.detail!.subsidyBtcPerBlock).toBeCloseTo(3.125, 12);
    const difficulty = report.readings.find((r) => r.signal === 'difficulty')!;
    expect(difficulty.detail).toMatchObject({ estimatedChangePercent: 1.93, remainingBlocks: 1185 });
  });

  test('fee sums sent as numbers instead of satoshi strings are refused as malformed', async () => {
    fake.mode = 'wrong-shape';
    const h = hub();
    const report = await h.refresh();
    expect(report.sources[0]!.error!.message).toMatch(/totalFee|currentHashrate|USD|progress/);
    expect(h.current().fees_btc_per_block).toMatchObject({ assumeWorst: true, value: 0 });
  });

  test('difficulty ×10 is rejected by the ±50% band; the last good difficulty stays', async () => {
    const h = hub();
    await h.refresh();
    fake.mode = 'absurd';
    clock.advance(60);
    await h.refresh();
    const rejected = h.history({ signal: 'difficulty' }).filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toMatch(/900% from the last good .* \(band ±50%\)/);
    expect(h.current().difficulty!.value).toBe(88.1e12);
  });

  test('a difficulty change inside the band is accepted', async () => {
    const h = hub();
    await h.refresh();
    fake.state.difficulty = 88.1e12 * 1.04;
    clock.advance(60);
    await h.refresh();
    expect(h.current().difficulty!.value).toBeCloseTo(88.1e12 * 1.04, 0);
  });

  test('one failing endpoint costs only its own signals and is reported as a warning', async () => {
    fake.failNext = 1;
    const h = hub();
    const report = await h.refresh();
    expect(report.sources[0]).toMatchObject({ ok: true, attempts: 1 });
    expect(report.sources[0]!.warnings).toHaveLength(1);
    expect(report.sources[0]!.warnings[0]).toMatch(/HTTP 503/);
    expect(report.sources[0]!.readings).toBeGreaterThanOrEqual(2);
  });

  test('the base URL may carry a path (a self-hosted instance behind a prefix)', async () => {
    const source = new MempoolSource({ baseUrl: `${fake.url}/mempool/` });
    const h = new SignalHub({ sources: [fastRetry(source, { retries: 0 })], clock: clock.now });
    const report = await h.refresh();
    expect(report.sources[0]).toMatchObject({ ok: false, error: { code: 'HTTP_STATUS', retryable: false } });
    expect(fake.requests.at(-1)!.path).toBe('/mempool/api/v1/prices');
  });
});

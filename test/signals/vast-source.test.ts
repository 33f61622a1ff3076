// Vast.ai-style offers search over real sockets: the shared source contract on one GPU model,
// the reference price rule (median per-GPU price of reliable offers), several models, and both
// request styles.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SignalHub, VastGpuPriceSource } from '../../packages/signals/src/index.ts';
import { startVastFake, type FakeServer, type VastState } from '../support/fake-signal-servers.ts';
import { START, TestClock, describeSourceContract, fastRetry } from './source-contract.ts';

const MODELS = [
  { subject: 'H100-SXM-80GB', gpuName: 'H100 SXM' },
  { subject: 'RTX-4090', gpuName: 'RTX 4090' },
];

describeSourceContract<VastState>({
  title: 'Vast.ai',
  start: (clock) => startVastFake(clock),
  source: (fake) => new VastGpuPriceSource({ baseUrl: fake.url, models: MODELS }),
  signal: 'gpu_usd_per_gpu_hour',
  subject: 'H100-SXM-80GB',
  expected: (fake) => fake.state.pricePerGpu['H100 SXM']!,
  scale: (fake, f) => {
    fake.state.pricePerGpu['H100 SXM']! *= f;
    fake.state.pricePerGpu['RTX 4090']! *= f;
  },
  probePath: '/api/v0/bundles/',
  probeHitsPerAttempt: 2,
  requestsPerFetch: 2,
  staleTimestamps: false,
});

describe('Vast.ai: reference prices', () => {
  const clock = new TestClock(START);
  let fake: FakeServer<VastState>;
  beforeAll(async () => {
    fake = await startVastFake(clock.now);
  });
  afterAll(() => fake.close());

  test('one reading per model: median per-GPU price over offers with reliability ≥ 0.95', async () => {
    const hub = new SignalHub({
      sources: [fastRetry(new VastGpuPriceSource({ baseUrl: fake.url, models: MODELS }))],
      clock: clock.now,
    });
    const report = await hub.refresh();
    const cur = hub.current();
    expect(cur['gpu_usd_per_gpu_hour:H100-SXM-80GB']).toMatchObject({
      value: 2.0,
      unit: 'USD/GPU/h',
      source: 'vast.ai',
    });
    expect(cur['gpu_usd_per_gpu_hour:RTX-4090']!.value).toBeCloseTo(0.35, 12);
    const h100 = report.readings.find((r) => r.subject === 'H100-SXM-80GB')!;
    // 9 reliable offers counted; the 2 cheap unreliable ones ignored.
    expect(h100.detail).toMatchObject({ gpuName: 'H100 SXM', offers: 9, ignored: 2 });
    expect(h100.detail!.minBidPerGpuHour).toBeCloseTo(1.2, 12);
    const body = JSON.parse(fake.requests.at(-1)!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ rentable: { eq: true }, reliability2: { gte: 0.95 }, type: 'on-demand' });
  });

  test('GET with ?q= works like POST', async () => {
    const hub = new SignalHub({
      sources: [fastRetry(new VastGpuPriceSource({ baseUrl: fake.url, models: MODELS, method: 'GET' }))],
      clock: clock.now,
    });
    await hub.refresh();
    expect(fake.requests.at(-1)!.method).toBe('GET');
    expect(JSON.parse(fake.requests.at(-1)!.query.get('q')!)).toMatchObject({
      gpu_name: { eq: expect.any(String) },
    });
    expect(hub.current()['gpu_usd_per_gpu_hour:H100-SXM-80GB']!.value).toBe(2.0);
  });

  test('a model with too few offers gets no price (a warning), the others still do', async () => {
    const models = [...MODELS, { subject: 'B200', gpuName: 'B200' }];
    const hub = new SignalHub({
      sources: [fastRetry(new VastGpuPriceSource({ baseUrl: fake.url, models }))],
      expect: [{ signal: 'gpu_usd_per_gpu_hour', subject: 'B200' }],
      clock: clock.now,
    });
    const report = await hub.refresh();
    expect(report.sources[0]!.warnings.join()).toMatch(/fewer than 3 usable B200 offers/);
    expect(hub.current()['gpu_usd_per_gpu_hour:B200']).toMatchObject({ assumeWorst: true, value: 0 });
    expect(hub.current()['gpu_usd_per_gpu_hour:RTX-4090']!.assumeWorst).toBe(false);
  });
});

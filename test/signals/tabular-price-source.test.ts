// The generic CSV / JSON price feed over real sockets: the shared source contract for both
// formats, and the curve semantics (the row holding now, valid until the next row).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SignalHub, TabularPriceSource } from '../../packages/signals/src/index.ts';
import {
  startEnergyFeedFake,
  type EnergyFeedState,
  type FakeServer,
} from '../support/fake-signal-servers.ts';
import { START, TestClock, describeSourceContract, fastRetry } from './source-contract.ts';

const csv = (fake: FakeServer<EnergyFeedState>) =>
  new TabularPriceSource({
    name: 'energy-feed',
    url: `${fake.url}/prices.csv`,
    format: 'csv',
    timeField: 'time',
    valueField: 'price',
  });
const json = (fake: FakeServer<EnergyFeedState>) =>
  new TabularPriceSource({
    name: 'energy-feed',
    url: `${fake.url}/prices.json`,
    format: 'json',
    rowsPath: 'data.rows',
    timeField: 'ts',
    valueField: 'usd_per_mwh',
  });

for (const [format, make, path] of [
  ['CSV', csv, '/prices.csv'],
  ['JSON', json, '/prices.json'],
] as const) {
  describeSourceContract<EnergyFeedState>({
    title: `energy feed (${format})`,
    start: (clock) => startEnergyFeedFake(clock),
    source: make,
    signal: 'energy_usd_per_mwh',
    expected: (fake) => fake.state.price,
    scale: (fake, f) => (fake.state.price *= f),
    probePath: path,
    requestsPerFetch: 1,
    staleTimestamps: true,
  });
}

describe('energy feed: curve semantics', () => {
  const clock = new TestClock(START);
  let fake: FakeServer<EnergyFeedState>;
  beforeAll(async () => {
    fake = await startEnergyFeedFake(clock.now, { price: 55.25, stepMinutes: 60 });
  });
  afterAll(() => fake.close());

  test('the row holding now is used, valid until one step later, with the curve in the detail', async () => {
    const hub = new SignalHub({ sources: [fastRetry(csv(fake))], clock: clock.now });
    const report = await hub.refresh();
    const r = report.readings[0]!;
    expect(r).toMatchObject({ value: 55.25, source: 'energy-feed', status: 'accepted', stale: false });
    expect(r.observedAt.toISOString()).toBe('2026-03-18T19:00:00.000Z');
    expect(r.validUntil!.toISOString()).toBe('2026-03-18T20:00:00.000Z');
    expect(r.detail).toMatchObject({ rows: 5 });
  });

  test('a price scale converts USD/kWh feeds to USD/MWh', async () => {
    fake.state.price = 0.0425;
    const source = new TabularPriceSource({
      name: 'retail',
      url: `${fake.url}/prices.csv`,
      format: 'csv',
      timeField: 'time',
      valueField: 'price',
      valueScale: 1000,
    });
    const hub = new SignalHub({ sources: [fastRetry(source)], clock: clock.now });
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh!.value).toBeCloseTo(42.5, 9);
  });

  test('a feed that starts after now has no value for now', async () => {
    const hub = new SignalHub({ sources: [fastRetry(csv(fake))], clock: clock.now });
    // The fake serves rows around its own clock (START); the hub asks about an earlier moment.
    const report = await hub.refresh(new Date('2026-03-18T10:00:00Z'));
    expect(report.sources[0]).toMatchObject({ ok: false, attempts: 1, error: { code: 'NO_DATA' } });
  });
});

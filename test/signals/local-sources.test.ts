// The sources with no network behind them, through the hub: configured fixed values, pushed
// broker price curves and operator overrides. Same rules as the market sources: bounds,
// staleness, jumps (overrides excepted) and expiry.
import { beforeEach, describe, expect, test } from '@jest/globals';
import {
  FixedValueSource,
  InMemoryOverrideStore,
  OperatorOverrideSource,
  PushedPriceSource,
  SignalHub,
} from '../../packages/signals/src/index.ts';
import { START, TestClock } from './source-contract.ts';

const clock = new TestClock(START);
const at = (minutes: number) => new Date(new Date(START).getTime() + minutes * 60_000);
beforeEach(() => clock.set(START));

describe('fixed values', () => {
  test('are always current and carry their subject', async () => {
    const source = new FixedValueSource([
      { signal: 'energy_usd_per_mwh', value: 38 },
      { signal: 'gpu_usd_per_gpu_hour', subject: 'H100-SXM-80GB', value: 2.4 },
    ]);
    const hub = new SignalHub({ sources: [{ source }], clock: clock.now });
    await hub.refresh();
    clock.advance(86_400);
    await hub.refresh();
    const cur = hub.current();
    expect(cur.energy_usd_per_mwh).toMatchObject({ value: 38, source: 'fixed', stale: false });
    expect(cur['gpu_usd_per_gpu_hour:H100-SXM-80GB']).toMatchObject({ value: 2.4, stale: false });
  });

  test('an absurd configured value is rejected like any other reading', async () => {
    const hub = new SignalHub({
      sources: [{ source: new FixedValueSource([{ signal: 'btc_usd', value: -1 }]) }],
      clock: clock.now,
    });
    await hub.refresh();
    expect(hub.history()[0]).toMatchObject({ status: 'rejected' });
    expect(hub.current().btc_usd).toMatchObject({ assumeWorst: true });
  });

  test('a GPU price needs a subject and other signals refuse one', () => {
    expect(() => new FixedValueSource([{ signal: 'gpu_usd_per_gpu_hour', value: 2 }])).toThrow(
      /needs subject/,
    );
    expect(() => new FixedValueSource([{ signal: 'btc_usd', subject: 'x', value: 2 }])).toThrow(
      /takes no subject/,
    );
  });
});

describe('pushed price curves', () => {
  const curve = (start: number, prices: number[], stepMin = 15) =>
    prices.map((usdPerMwh, i) => ({ at: at(start + i * stepMin), usdPerMwh }));

  test('serve the point holding now, valid until the next point, with provenance', async () => {
    const pushed = new PushedPriceSource();
    pushed.push(curve(-30, [30, 32, 35, 40, 45]), { by: 'qse-acme' });
    const hub = new SignalHub({ sources: [{ source: pushed }], clock: clock.now });
    const report = await hub.refresh();
    // START is 7 minutes past the point at -15..0 → the point at 0 (price 35) holds.
    expect(report.readings[0]).toMatchObject({ value: 35, source: 'pushed:qse-acme', status: 'accepted' });
    expect(report.readings[0]!.validUntil).toEqual(at(15));
    expect((report.readings[0]!.detail!.next as unknown[]).length).toBe(2);
  });

  test('a newer push replaces the points in its span and keeps the rest', () => {
    const pushed = new PushedPriceSource();
    pushed.push(curve(0, [30, 31, 32, 33]));
    pushed.push(curve(15, [50, 51]));
    expect(pushed.curve().map((p) => p.value)).toEqual([30, 50, 51, 33]);
  });

  test('bad curves are refused whole', () => {
    const pushed = new PushedPriceSource({ maxPoints: 3 });
    expect(() => pushed.push([])).toThrow(/empty/);
    expect(() => pushed.push(curve(0, [1, 2, 3, 4]))).toThrow(/exceeds 3/);
    expect(() => pushed.push([{ at: new Date('nope'), usdPerMwh: 3 }])).toThrow(/valid time/);
    expect(() => pushed.push([{ at: at(0), usdPerMwh: Number.NaN }])).toThrow(/not finite/);
    expect(pushed.curve()).toHaveLength(0);
  });

  test('when the curve runs out, its last price ages into staleness and then the worst case', async () => {
    const pushed = new PushedPriceSource();
    pushed.push(curve(-15, [30, 32]));
    const hub = new SignalHub({ sources: [{ source: pushed }], clock: clock.now });
    await hub.refresh();
    // The last point (0..15 min) stays current until +15; then soft 30 min, hard 2 h.
    clock.set(at(15 + 31));
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh).toMatchObject({ value: 32, stale: true, assumeWorst: false });
    clock.set(at(15 + 121));
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh).toMatchObject({ value: 5000, assumeWorst: true });
  });

  test('a jump inside a pushed curve is held for one refresh, like any price', async () => {
    const pushed = new PushedPriceSource();
    pushed.push(curve(-15, [30, 30, 200]));
    const hub = new SignalHub({ sources: [{ source: pushed }], clock: clock.now });
    await hub.refresh();
    clock.set(at(16));
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh).toMatchObject({ value: 30, heldJump: { value: 200 } });
    clock.set(at(21));
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh!.value).toBe(200);
  });

  test('prices below the floor (−250 USD/MWh by default) are rejected, negative ones above it kept', async () => {
    const pushed = new PushedPriceSource();
    const hub = new SignalHub({ sources: [{ source: pushed }], clock: clock.now });
    pushed.push(curve(-15, [-20, -20]));
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh!.value).toBe(-20);
    pushed.push(curve(-15, [-9999, -9999]));
    await hub.refresh();
    expect(hub.history().at(-1)).toMatchObject({ status: 'rejected', value: -9999 });
    expect(hub.current().energy_usd_per_mwh!.value).toBe(-20);
  });
});

describe('operator overrides', () => {
  const make = () => {
    const store = new InMemoryOverrideStore({ clock: clock.now });
    const hub = new SignalHub({
      sources: [{ source: new OperatorOverrideSource(store), trusted: true, snapshot: true }],
      clock: clock.now,
    });
    return { store, hub };
  };

  test('are current for their whole life, not aged by the staleness limits', async () => {
    const { store, hub } = make();
    store.set({
      signal: 'energy_usd_per_mwh',
      value: 80,
      expiresAt: at(6 * 60),
      setBy: 'alice',
      reason: 'contract',
    });
    clock.set(at(5 * 60));
    await hub.refresh();
    expect(hub.current().energy_usd_per_mwh).toMatchObject({
      value: 80,
      stale: false,
      source: 'operator:alice',
    });
  });

  test('the newest override of a series wins', async () => {
    const { store, hub } = make();
    store.set({ signal: 'btc_usd', value: 60_000, expiresAt: at(60), setBy: 'a', reason: 'x' });
    clock.advance(10);
    store.set({ signal: 'btc_usd', value: 61_000, expiresAt: at(60), setBy: 'b', reason: 'y' });
    await hub.refresh();
    expect(hub.current().btc_usd).toMatchObject({ value: 61_000, source: 'operator:b' });
  });

  test('still face the bounds', async () => {
    const { store, hub } = make();
    store.set({
      signal: 'gpu_usd_per_gpu_hour',
      subject: 'H100',
      value: 1e6,
      expiresAt: at(60),
      setBy: 'a',
      reason: 'typo',
    });
    await hub.refresh();
    expect(hub.history()[0]).toMatchObject({ status: 'rejected' });
  });

  test('must expire in the future and say who and why', () => {
    const store = new InMemoryOverrideStore({ clock: clock.now });
    expect(() =>
      store.set({ signal: 'btc_usd', value: 1, expiresAt: at(-1), setBy: 'a', reason: 'x' }),
    ).toThrow(/future/);
    expect(() =>
      store.set({ signal: 'btc_usd', value: 1, expiresAt: at(1), setBy: '', reason: 'x' }),
    ).toThrow(/setBy/);
  });
});

// The signals file of `switchyard plan`: values to signals, defaults for the observed state, the
// plan's time, and errors that name the field.
import { describe, expect, it } from '@jest/globals';
import { farmBuilder } from '../planner/testing/farm-builder.ts';
import { planGreedy } from '../planner/plan.ts';
import { checkPlan } from '../planner/check.ts';
import { parseSignalsFile, type SignalsFileIssue } from './signals-file.ts';

const farm = farmBuilder()
  .site({ name: 'west-1', interconnectKw: 5000 })
  .node('pdu-1', { limitKw: 2000 })
  .fleet('rack-a', { model: 'S19 Pro', count: 100, feed: 'pdu-1' })
  .fleet('rack-b', { model: 'S21', count: 50, feed: 'pdu-1' })
  .pool('h100', { nodes: 4, feed: 'root' })
  .build();

const NOW = Date.UTC(2026, 6, 1, 12);
const base = { btcUsd: 95000, difficulty: 1.1e14, feesBtcPerBlock: 0.05, energyUsdPerMwh: 42 };
const parse = (doc: unknown, o: { at?: number } = {}) =>
  parseSignalsFile(JSON.stringify(doc), farm, { now: NOW, ...o });

function problems(doc: unknown): SignalsFileIssue[] {
  const r = parse(doc);
  if (r.ok) throw new Error('expected problems');
  return r.issues;
}

describe('parseSignalsFile', () => {
  it('turns plain values into fresh signals and assumes the farm fully hashing, GPUs idle', () => {
    const r = parse({ ...base, gpuUsdPerGpuHour: 2.1, ambientC: 30 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { input } = r;
    expect(input.site).toBe('west-1');
    expect(input.now).toBe(NOW);
    expect(input.signals.energyUsdPerMwh).toEqual({
      value: 42,
      source: 'signals-file',
      ageSeconds: 0,
      stale: false,
    });
    expect(input.signals.ambientC).toEqual({ 'west-1': expect.objectContaining({ value: 30 }) });
    expect(input.signals.subsidyBtc).toBeUndefined();
    expect(input.observed.fleets['rack-a']).toMatchObject({
      hashing: 100,
      sleeping: 0,
      byProfile: { normal: 100 },
    });
    expect(input.observed.pools.h100).toEqual({ serving: 0, hashing: 0, idle: 4, unavailable: 0 });
    expect(input.orders).toEqual([]);
    const p = planGreedy(input);
    expect(checkPlan(input, p)).toEqual([]);
  });

  it('keeps a signal given with its source, age and staleness', () => {
    const r = parse({
      ...base,
      energyUsdPerMwh: { value: 61, source: 'ercot-rt', ageSeconds: 1200, stale: true },
    });
    expect(r.ok && r.input.signals.energyUsdPerMwh).toEqual({
      value: 61,
      source: 'ercot-rt',
      ageSeconds: 1200,
      stale: true,
    });
    // Older than the energy limit: the planner takes the price cap and says so.
    if (r.ok) expect(planGreedy(r.input).warnings.join(' ')).toContain('assuming the price cap');
  });

  it('takes the time from --at, else the file, else now', () => {
    const doc = { ...base, at: '2026-07-01T17:00:00-05:00' };
    expect(parse(doc).ok && (parse(doc) as { input: { now: number } }).input.now).toBe(
      Date.UTC(2026, 6, 1, 22),
    );
    const at = Date.UTC(2026, 0, 1);
    const r = parse(doc, { at });
    expect(r.ok && r.input.now).toBe(at);
  });

  it('uses the observed state given for some fleets and pools, the default for the rest', () => {
    const r = parse({
      ...base,
      observed: {
        fleets: { 'rack-a': { hashing: 60, sleeping: 30, fault: 10, byProfile: { eco: 60 } } },
        pools: { h100: { serving: 0, hashing: 4 } },
      },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.input.observed.fleets['rack-a']).toEqual({
      hashing: 60,
      sleeping: 30,
      ramping: 0,
      fault: 10,
      offline: 0,
      stale: 0,
      byProfile: { eco: 60 },
      measuredKw: null,
    });
    expect(r.input.observed.fleets['rack-b']).toMatchObject({ hashing: 50 });
    expect(r.input.observed.pools.h100).toEqual({ serving: 0, hashing: 4, idle: 0, unavailable: 0 });
  });

  it('reads orders, dispatches and overrides with their defaults', () => {
    const r = parse({
      ...base,
      orders: [{ id: 'o1', tier: 'on-demand', gpuCount: 8, priceUsdPerGpuHour: 2.5 }],
      dispatches: [
        { id: 'd1', capKw: 1000, startsAt: '2026-07-01T12:00:00Z', endsAt: '2026-07-01T13:00:00Z' },
      ],
      overrides: [{ id: 'p1', kind: 'fleet', name: 'rack-a', mode: 'asleep' }],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.input.orders[0]).toMatchObject({
      broker: 'cli',
      state: 'pending',
      gpuModels: [],
      minVramGiB: 0,
      noticeSeconds: 300,
    });
    expect(r.input.dispatches[0]).toEqual({
      id: 'd1',
      site: 'west-1',
      capKw: 1000,
      startsAt: Date.UTC(2026, 6, 1, 12),
      endsAt: Date.UTC(2026, 6, 1, 13),
    });
    expect(r.input.overrides?.[0]).toMatchObject({ startsAt: NOW, endsAt: NOW + 86_400_000 });
  });

  it.each([
    ['a missing required value', { ...base, btcUsd: undefined }, 'btcUsd', 'is required'],
    ['a wrong type', { ...base, difficulty: '1e14' }, 'difficulty', 'expected number'],
    ['a negative BTC price', { ...base, btcUsd: -1 }, 'btcUsd', 'Too small'],
    ['an unknown field', { ...base, energy: 4 }, '', 'unknown field(s) "energy"'],
    [
      'a bad order',
      { ...base, orders: [{ id: 'o', tier: 'on-demand', gpuCount: 0, priceUsdPerGpuHour: 1 }] },
      'orders[0].gpuCount',
      'Too small',
    ],
    [
      'an unknown tier',
      { ...base, orders: [{ id: 'o', tier: 'spot', gpuCount: 1, priceUsdPerGpuHour: 1 }] },
      'orders[0].tier',
      'reserved',
    ],
    [
      'a time without an offset',
      {
        ...base,
        dispatches: [{ id: 'd', capKw: 1, startsAt: '2026-07-01T12:00', endsAt: '2026-07-01T13:00:00Z' }],
      },
      'dispatches[0].startsAt',
      'has no UTC offset',
    ],
    ['a bad --at in the file', { ...base, at: 'tomorrow' }, 'at', 'not an ISO-8601 time'],
    [
      'an unknown fleet',
      { ...base, observed: { fleets: { 'rack-z': {} } } },
      'observed.fleets.rack-z',
      'not a fleet of site west-1',
    ],
    [
      'an unknown profile',
      { ...base, observed: { fleets: { 'rack-a': { hashing: 10, byProfile: { ludicrous: 10 } } } } },
      'observed.fleets.rack-a.byProfile.ludicrous',
      'has no profile "ludicrous"',
    ],
    [
      'counts above the fleet size',
      { ...base, observed: { fleets: { 'rack-a': { hashing: 100, sleeping: 5 } } } },
      'observed.fleets.rack-a',
      'counts 105 miners; the fleet has 100',
    ],
    [
      'an unknown pool',
      { ...base, observed: { pools: { a100: {} } } },
      'observed.pools.a100',
      'not a GPU pool',
    ],
    [
      'a running order without its pool',
      {
        ...base,
        orders: [{ id: 'o', tier: 'on-demand', gpuCount: 8, priceUsdPerGpuHour: 1, state: 'running' }],
      },
      'orders[0].pool',
      'needs the pool it is in',
    ],
    [
      'a dispatch that ends before it starts',
      {
        ...base,
        dispatches: [{ id: 'd', capKw: 1, startsAt: '2026-07-01T13:00:00Z', endsAt: '2026-07-01T12:00:00Z' }],
      },
      'dispatches[0].endsAt',
      'must be after startsAt',
    ],
  ])('names the field: %s', (_what, doc, path, message) => {
    expect(problems(doc)).toContainEqual({ path, message: expect.stringContaining(message) });
  });

  it('reports invalid JSON', () => {
    const r = parseSignalsFile('{ "btcUsd": ', farm, { now: NOW });
    expect(!r.ok && r.issues[0]?.message).toContain('not valid JSON');
  });

  it('reports every problem at once', () => {
    expect(
      problems({ difficulty: 0 })
        .map((i) => i.path)
        .sort(),
    ).toEqual(['btcUsd', 'difficulty', 'energyUsdPerMwh', 'feesBtcPerBlock'].sort());
  });
});

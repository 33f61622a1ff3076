import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseFarmYaml, planGreedy } from '@switchyard/domain';
import { planInput } from '@switchyard/domain/testing';
import type { FleetAggregate } from '@switchyard/miners';
import type { CurrentSignal } from '@switchyard/signals';
import { fleetObservationsFromPoll, NEVER_SEEN_AGE_SECONDS, plannerSignalsFromHub } from './snapshot.ts';

const agg = (over: Partial<FleetAggregate> = {}): FleetAggregate => ({
  fleet: 'rack-a1',
  site: 'west-1',
  feed: 'pdu-1a1',
  miners: 10,
  byState: { hashing: 6, sleeping: 2, ramping: 1, fault: 1, offline: 0 },
  byProfile: { normal: 7 },
  hashrateThs: 600,
  powerKw: 25,
  powerKwBySource: { measured: 21.75, estimated: 0, nameplate: 3.25 },
  maxChipTempC: 80,
  meanChipTempC: 75,
  degraded: 1,
  degradedReasons: { 'timeout: x': 1 },
  ...over,
});

const sig = (value: number | null, over: Partial<CurrentSignal> = {}): CurrentSignal => ({
  signal: 'btc_usd',
  unit: 'USD',
  value,
  source: 'test',
  observedAt: new Date(),
  ageSeconds: 30,
  stale: false,
  assumeWorst: false,
  ...over,
});

describe('fleetObservationsFromPoll', () => {
  const at = new Date('2026-11-22T00:00:00Z');
  it('carries the counts and profiles; metered kW only when every miner measures', () => {
    const o = fleetObservationsFromPoll([agg()], at, at, 60_000)['rack-a1'];
    expect(o).toEqual({
      hashing: 6,
      sleeping: 2,
      ramping: 1,
      fault: 1,
      offline: 0,
      stale: 0,
      byProfile: { normal: 7 },
      measuredKw: null,
    });
    const measured = fleetObservationsFromPoll(
      [agg({ powerKwBySource: { measured: 25, estimated: 0, nameplate: 0 } })],
      at,
      at,
      60_000,
    )['rack-a1'];
    expect(measured?.measuredKw).toBe(25);
  });

  it('marks the whole fleet stale when the poll is too old: unknown means worst case', () => {
    const o = fleetObservationsFromPoll([agg()], at, new Date(at.getTime() + 61_000), 60_000)['rack-a1'];
    expect(o).toMatchObject({ hashing: 0, sleeping: 0, stale: 10, measuredKw: null });
  });
});

describe('plannerSignalsFromHub', () => {
  it('maps the hub series to planner signals', () => {
    const s = plannerSignalsFromHub(
      {
        btc_usd: sig(95_000),
        difficulty: sig(1.2e14),
        fees_btc_per_block: sig(0.04),
        energy_usd_per_mwh: sig(41, { stale: true, ageSeconds: 900 }),
        'gpu_usd_per_gpu_hour:H100-SXM-80GB': sig(2.2),
        ambient_c: sig(31),
      },
      'west-1',
      'H100-SXM-80GB',
    );
    expect(s.btcUsd).toEqual({ value: 95_000, source: 'test', ageSeconds: 30, stale: false });
    expect(s.energyUsdPerMwh).toMatchObject({ value: 41, stale: true, ageSeconds: 900 });
    expect(s.gpuUsdPerGpuHour?.value).toBe(2.2);
    expect(s.ambientC?.['west-1']?.value).toBe(31);
    expect(s.hashpriceUsdPerThDay).toBeUndefined();
  });

  it('turns lost and missing signals into values the planner treats as the worst case', () => {
    const s = plannerSignalsFromHub(
      { energy_usd_per_mwh: sig(5000, { assumeWorst: true, source: 'worst-case' }) },
      'west-1',
    );
    expect(s.energyUsdPerMwh).toMatchObject({ value: 5000, stale: true, ageSeconds: NEVER_SEEN_AGE_SECONDS });
    expect(s.btcUsd).toMatchObject({ value: 0, source: 'missing:btc_usd', stale: true });
    const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
    if (!parsed.ok) throw new Error('farm');
    // With every signal lost the plan sheds every sheddable miner: nothing earns a guess.
    const input = planInput(parsed.farm).build();
    const plan = planGreedy({ ...input, signals: s });
    const awake = Object.values(plan.fleets).reduce(
      (n, f) => n + Object.values(f.target.byProfile).reduce((a, b) => a + b, 0),
      0,
    );
    expect(awake).toBe(0);
    expect(plan.warnings.join(' ')).toMatch(/worst|cap|lost|stale/i);
  });
});

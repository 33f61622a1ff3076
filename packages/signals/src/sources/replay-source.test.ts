import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseHistoryCsv } from '@switchyard/domain';
import { ReplaySource } from './replay-source.ts';

const parsed = parseHistoryCsv(readFileSync('examples/history-synthetic.csv', 'utf8'));
if (!parsed.ok) throw new Error('synthetic history invalid');
const rows = parsed.history.rows;
const ctx = (ms: number) => ({ now: new Date(ms), signal: new AbortController().signal });

describe('ReplaySource', () => {
  it('serves the row in force on the sped-up clock', async () => {
    const src = new ReplaySource({ rows, startRealMs: 0, speed: 3600, gpuModels: ['H100-SXM-80GB'] });
    expect(src.rowAt(new Date(0))).toBe(rows[0]);
    // One real second is one history hour: the second hourly row.
    expect(src.rowAt(new Date(1000))).toBe(rows[1]);
    expect(src.rowAt(new Date(1999))).toBe(rows[1]);
    const readings = await src.fetch(ctx(5000));
    const energy = readings.find((r) => r.signal === 'energy_usd_per_mwh');
    expect(energy?.value).toBe(rows[5]?.energyUsdPerMwh);
    expect(energy?.observedAt).toEqual(new Date(5000));
    expect(readings.find((r) => r.signal === 'gpu_usd_per_gpu_hour')?.subject).toBe('H100-SXM-80GB');
    expect(readings.find((r) => r.signal === 'subsidy_btc')?.value).toBe(3.125);
  });

  it('loops when the history runs out, and never reads past it otherwise', () => {
    const span = (rows[rows.length - 1]!.time - rows[0]!.time) / 3600;
    const looping = new ReplaySource({ rows, startRealMs: 0, speed: 3600 });
    expect(looping.rowAt(new Date((span + 2) * 1000))).toBe(rows[2]);
    const once = new ReplaySource({ rows, startRealMs: 0, speed: 3600, loop: false });
    expect(once.rowAt(new Date((span + 2) * 1000))).toBe(rows[rows.length - 1]);
  });

  it('rejects an empty history and a non-positive speed', () => {
    expect(() => new ReplaySource({ rows: [], speed: 1 })).toThrow(/at least one/);
    expect(() => new ReplaySource({ rows, speed: 0 })).toThrow(/positive/);
  });
});

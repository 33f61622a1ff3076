// The committed synthetic history: the generator reproduces it byte for byte, the parser accepts
// it, and over its year on the example farm the engine beats the strike-price rule, stays under
// the hindsight bound and never breaks a rule. The year runs through the CLI as a real process
// (plain Node runs the planner about three times faster than jest's module sandbox).
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHistoryCsv, type BacktestReport, type History } from '@switchyard/domain';

const CSV = 'examples/history-synthetic.csv';

describe('examples/history-synthetic.csv', () => {
  let history: History;
  let report: BacktestReport;

  beforeAll(() => {
    const parsed = parseHistoryCsv(readFileSync(CSV, 'utf8'));
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));
    history = parsed.history;
    const r = spawnSync(
      process.execPath,
      ['services/cli/src/main.ts', 'backtest', '--farm', 'examples/farm.yaml', '--signals', CSV, '--json'],
      { encoding: 'utf8', timeout: 170_000, maxBuffer: 16 << 20 },
    );
    if (r.status !== 0) throw new Error(`backtest exited ${r.status}: ${r.stderr}`);
    report = JSON.parse(r.stdout) as BacktestReport;
  }, 180_000);

  it('is what scripts/gen-history.ts writes (seeded, deterministic)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sy-history-')), 'h.csv');
    const r = spawnSync(process.execPath, ['scripts/gen-history.ts', '--out', out], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('SYNTHETIC');
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(CSV, 'utf8'));
  });

  it('is a year of hourly rows without gaps, under 1 MB', () => {
    expect(history.rows).toHaveLength(8760);
    expect(history.stepSeconds).toBe(3600);
    expect(history.gaps).toEqual([]);
    expect(history.skipped).toEqual([]);
    expect(statSync(CSV).size).toBeLessThan(1_000_000);
    const prices = history.rows.map((r) => r.energyUsdPerMwh);
    expect(prices.some((p) => p < 0)).toBe(true);
    expect(Math.max(...prices)).toBeGreaterThan(1000);
  });

  it('the engine beats the strike baseline and always-on, breaking no rule', () => {
    expect(report.intervals).toBe(8760);
    expect(report.engine.violations).toBe(0);
    expect(report.engine.netUsd).toBeGreaterThan(report.baselines.strike.netUsd);
    expect(report.engine.netUsd).toBeGreaterThan(report.baselines.alwaysOn.netUsd);
  });

  it('hindsight is an upper bound on every strategy', () => {
    const h = report.baselines.hindsight.netUsd;
    expect(h).toBeGreaterThanOrEqual(report.engine.netUsd);
    expect(h).toBeGreaterThanOrEqual(report.baselines.strike.netUsd);
    expect(h).toBeGreaterThanOrEqual(report.baselines.alwaysOn.netUsd);
    expect(report.captureRatio).toBeGreaterThan(0.5);
    expect(report.captureRatio).toBeLessThanOrEqual(1);
    expect(report.baselines.hindsight.relaxation).toContain('upper bound');
  });
});

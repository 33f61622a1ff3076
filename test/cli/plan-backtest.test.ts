// `switchyard plan` and `switchyard backtest` as a user runs them: real processes, real files,
// exit codes (0 ok, 1 invalid input, 2 usage) and the --json shapes.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(process.cwd(), 'services/cli/src/main.ts');
const FARM = 'examples/farm.yaml';
const SIGNALS = 'examples/signals.json';
const HISTORY = 'examples/history-synthetic.csv';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 16 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'sy-plan-'));
const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('switchyard plan', () => {
  it('prints one line per change with its reason, $/h by use and loads against limits', () => {
    const r = cli(['plan', '--farm', FARM, '--signals', SIGNALS]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^Plan for west-1 at 2026-07-01T22:00Z — solver (MILP|greedy)/);
    expect(out).toMatch(/Changes \(\d+\):/);
    expect(out).toMatch(/ {2}fleet rack-\w+: move \d+ of \d+ .+ — .*breakeven/);
    expect(out).toMatch(/ {2}order acme-llama-70b: admit on h\d00-\w: \d+ nodes, 64 GPUs — on-demand bid/);
    expect(out).toContain('$/h by use:');
    expect(out).toMatch(/ {2}net +[\d,]+\.\d\d/);
    expect(out).toContain('Loads vs limits:');
    expect(out).toMatch(/cooling zone-b +[\d,]+ \/ +[\d,]+ kW +\d+% +derated from 19,000 kW/);
    expect(out).toMatch(/ {8}pdu-1a1 +[\d,]+ \/ +2,375 kW/);
  });

  it('prints the Plan as JSON with --json, with the solver asked for', () => {
    for (const solver of ['greedy', 'milp']) {
      const r = cli(['plan', '--farm', FARM, '--signals', SIGNALS, '--json', '--solver', solver]);
      expect(r.code).toBe(0);
      const p = JSON.parse(r.stdout) as Record<string, unknown> & { solver: string; changes: unknown[] };
      expect(p.solver).toBe(solver);
      expect(Object.keys(p)).toEqual(
        expect.arrayContaining([
          'site',
          'at',
          'prices',
          'fleets',
          'pools',
          'admitted',
          'rejected',
          'economics',
          'loads',
          'changes',
          'warnings',
          'memory',
        ]),
      );
      expect(p.changes.length).toBeGreaterThan(0);
    }
  });

  it('plans at --at, over the file', () => {
    const r = cli([
      'plan',
      '--farm',
      FARM,
      '--signals',
      SIGNALS,
      '--json',
      '--solver',
      'greedy',
      '--at',
      '2026-07-02T00:00:00Z',
    ]);
    expect((JSON.parse(r.stdout) as { at: number }).at).toBe(Date.UTC(2026, 6, 2));
  });

  it('exits 1 naming every bad field of the signals file', () => {
    const doc = JSON.parse(readFileSync(SIGNALS, 'utf8')) as Record<string, unknown>;
    delete doc.btcUsd;
    (doc.orders as Array<Record<string, unknown>>)[1] = {
      id: 'x',
      tier: 'spot',
      gpuCount: 8,
      priceUsdPerGpuHour: 1,
    };
    const f = write('bad-signals.json', JSON.stringify(doc));
    const r = cli(['plan', '--farm', FARM, '--signals', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${f}: btcUsd: is required`);
    expect(r.stderr).toContain(`${f}: orders[1].tier: `);
    expect(r.stderr).toContain(`${f}: 2 problems`);
  });

  it('exits 1 on an unreadable file or an invalid farm', () => {
    expect(cli(['plan', '--farm', FARM, '--signals', join(dir, 'nope.json')]).stderr).toContain(
      'cannot read (ENOENT)',
    );
    const badFarm = write('bad-farm.yaml', readFileSync(FARM, 'utf8').replace('pue: 1.08', 'pue: 0.5'));
    const r = cli(['plan', '--farm', badFarm, '--signals', SIGNALS]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Site/west-1 spec.pue');
  });

  it.each([
    [['plan', '--signals', SIGNALS], '--farm is required'],
    [['plan', '--farm', FARM], '--signals is required'],
    [
      ['plan', '--farm', FARM, '--signals', SIGNALS, '--solver', 'cplex'],
      '--solver must be one of milp, greedy',
    ],
    [
      ['plan', '--farm', FARM, '--signals', SIGNALS, '--at', '2026-07-01T12:00'],
      '--at: "2026-07-01T12:00" has no UTC offset',
    ],
    [['plan', '--farm', FARM, '--signals', SIGNALS, '--bogus'], "Unknown option '--bogus'"],
  ])('exits 2 on usage errors: %j', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe('switchyard backtest', () => {
  const week = ['--from', '2025-07-14T00:00:00-05:00', '--to', '2025-07-21T00:00:00-05:00'];

  it('prints the report as JSON with --json', () => {
    const r = cli(['backtest', '--farm', FARM, '--signals', HISTORY, ...week, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a terminal
    const rep = JSON.parse(r.stdout) as Record<string, unknown> & {
      intervals: number;
      engine: Record<string, unknown>;
      baselines: Record<'alwaysOn' | 'strike' | 'hindsight', Record<string, unknown>>;
      captureRatio: number;
    };
    expect(rep.intervals).toBe(168);
    expect(rep.from).toBe('2025-07-14T05:00:00Z');
    expect(rep.to).toBe('2025-07-21T05:00:00Z');
    const shape = {
      netUsd: expect.any(Number),
      revenueUsd: {
        hashing: expect.any(Number),
        inference: expect.any(Number),
        gpuHashing: expect.any(Number),
      },
      energyCostUsd: expect.any(Number),
      wearCostUsd: expect.any(Number),
      cycles: expect.any(Number),
      violations: expect.any(Number),
    };
    expect(rep.engine).toMatchObject({ ...shape, solver: 'greedy', violations: 0 });
    expect(rep.baselines.alwaysOn).toMatchObject({ ...shape, rule: expect.stringContaining('limit') });
    expect(rep.baselines.strike).toMatchObject({ ...shape, n: 3, m: 3 });
    expect(rep.baselines.hindsight).toMatchObject({
      ...shape,
      relaxation: expect.stringContaining('upper bound'),
    });
    expect(rep.captureRatio).toBeCloseTo(
      (rep.engine.netUsd as number) / (rep.baselines.hindsight.netUsd as number),
      3,
    );
    expect(rep.skippedRows).toEqual([]);
  });

  it('prints a comparison table, honours --strike-n/--strike-m and plans with the MILP on request', () => {
    const r = cli([
      'backtest',
      '--farm',
      FARM,
      '--signals',
      HISTORY,
      '--from',
      '2025-07-14T00:00:00-05:00',
      '--to',
      '2025-07-14T12:00:00-05:00',
      '--strike-n',
      '2',
      '--strike-m',
      '5',
      '--solver',
      'milp',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'Backtest of west-1: 12 hourly intervals, 2025-07-14T05:00:00Z → 2025-07-14T17:00:00Z (engine: milp planner)',
    );
    expect(r.stdout).toMatch(/ {2}engine +-?[\d,]+/);
    expect(r.stdout).toMatch(/ {2}strike \(N=2, M=5\) +-?[\d,]+/);
    expect(r.stdout).toMatch(/Capture ratio: [\d.]+% of the hindsight bound/);
  });

  const HEADER = 'time,btc_usd,difficulty,fees_btc_per_block,energy_usd_per_mwh';
  const good = (h: number) => `2025-07-01T${String(h).padStart(2, '0')}:00:00Z,95000,1.1e14,0.05,40`;

  it('exits 1 listing bad rows by line; --skip-bad-rows runs and reports them and the gaps', () => {
    const f = write(
      'bad.csv',
      [HEADER, good(0), good(1), '2025-07-01T02:00:00,95000,1.1e14,0.05,40', good(3), good(6)].join('\n'),
    );
    const r = cli(['backtest', '--farm', FARM, '--signals', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${f}:4: time: "2025-07-01T02:00:00" has no UTC offset`);
    expect(r.stderr).toContain('--skip-bad-rows');
    const s = cli(['backtest', '--farm', FARM, '--signals', f, '--skip-bad-rows', '--json']);
    expect(s.code).toBe(0);
    const rep = JSON.parse(s.stdout) as { intervals: number; gaps: unknown[]; skippedRows: unknown[] };
    expect(rep.intervals).toBe(4);
    expect(rep.skippedRows).toEqual([
      { line: 4, column: 'time', message: expect.stringContaining('no UTC offset') },
    ]);
    expect(rep.gaps).toEqual([
      { after: '2025-07-01T01:00:00Z', before: '2025-07-01T03:00:00Z', line: 5, missingIntervals: 1 },
      { after: '2025-07-01T03:00:00Z', before: '2025-07-01T06:00:00Z', line: 6, missingIntervals: 2 },
    ]);
  });

  it('exits 1 on rows out of order and on an empty range', () => {
    const f = write('order.csv', [HEADER, good(1), good(0)].join('\n'));
    const r = cli(['backtest', '--farm', FARM, '--signals', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(':3: time: out of order');
    const e = cli(['backtest', '--farm', FARM, '--signals', HISTORY, '--from', '2030-01-01T00:00:00Z']);
    expect(e.code).toBe(1);
    expect(e.stderr).toContain('no rows between');
  });

  it.each([
    [['backtest', '--farm', FARM], '--signals is required'],
    [
      ['backtest', '--farm', FARM, '--signals', HISTORY, '--strike-n', '0'],
      '--strike-n must be an integer between 1 and',
    ],
    [
      ['backtest', '--farm', FARM, '--signals', HISTORY, '--from', 'yesterday'],
      '--from: "yesterday" is not an ISO-8601 time',
    ],
    [
      ['backtest', '--farm', FARM, '--signals', HISTORY, '--solver', 'cbc'],
      '--solver must be one of greedy, milp',
    ],
    [
      [
        'backtest',
        '--farm',
        FARM,
        '--signals',
        HISTORY,
        '--from',
        '2025-02-01T00:00:00Z',
        '--to',
        '2025-01-01T00:00:00Z',
      ],
      '--to must be after --from',
    ],
  ])('exits 2 on usage errors: %j', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

// Backtest benchmark: one year of hourly rows (the committed synthetic history, 8,760 intervals)
// on the example farm (10,000 miners in 17 fleets, 2 GPU pools) with the default solver —
// in-process (parse + engine + baselines) and as the `switchyard backtest` command — and the
// MILP's cost per interval measured on one month, to show why the backtest defaults to greedy.
// MERGES its keys into bench/results/planner.json (the planner benchmark's keys are kept).
// Run with ./scripts/bench backtest.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { parseFarmYaml, parseHistoryCsv, runBacktest } from '@switchyard/domain';
import { HighsSolver } from '@switchyard/solver';

const FARM = 'examples/farm.yaml';
const HISTORY = 'examples/history-synthetic.csv';
const RESULTS = 'bench/results/planner.json';
const MILP_SAMPLE = { from: Date.UTC(2025, 6, 1, 5), to: Date.UTC(2025, 7, 1, 5) }; // July

const farmResult = parseFarmYaml(readFileSync(FARM, 'utf8'));
if (!farmResult.ok) throw new Error(`${FARM} is invalid`);
const farm = farmResult.farm;

// In-process: parse the CSV and run every interval (engine, three baselines, checks).
const t0 = performance.now();
const parsed = parseHistoryCsv(readFileSync(HISTORY, 'utf8'));
if (!parsed.ok) throw new Error(`${HISTORY} does not parse`);
const { rows, stepSeconds } = parsed.history;
const report = await runBacktest(rows, farm, { stepSeconds });
const seconds = (performance.now() - t0) / 1000;

// The command as a user runs it (process start, farm and CSV parsing included).
const c0 = performance.now();
const cli = spawnSync(
  process.execPath,
  ['services/cli/src/main.ts', 'backtest', '--farm', FARM, '--signals', HISTORY, '--json'],
  { encoding: 'utf8', maxBuffer: 16 << 20 },
);
const cliSeconds = (performance.now() - c0) / 1000;
if (cli.status !== 0) throw new Error(`switchyard backtest exited ${cli.status}: ${cli.stderr}`);

// The MILP on one month, for the per-interval cost (engine and hindsight both solved by HiGHS).
const solver = new HighsSolver();
await solver.start();
const m0 = performance.now();
const milp = await runBacktest(rows, farm, { stepSeconds, solver, ...MILP_SAMPLE });
const milpSeconds = (performance.now() - m0) / 1000;
await solver.close();
const greedyMonth = await runBacktest(rows, farm, { stepSeconds, ...MILP_SAMPLE });

const round = (x: number, d = 2) => +x.toFixed(d);
const previous = existsSync(RESULTS)
  ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>)
  : {};
const merged = {
  ...previous,
  backtestYearSeconds: round(seconds),
  backtest: {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
    },
    note: 'backtestYearSeconds: parse examples/history-synthetic.csv (SYNTHETIC, 8,760 hourly rows) and run the engine plus the always-on, strike and hindsight baselines on examples/farm.yaml, in-process with the default solver. cliSeconds: the same as `switchyard backtest --json`, process start included.',
    history: HISTORY,
    farm: FARM,
    intervals: report.intervals,
    solver: report.engine.solver,
    seconds: round(seconds),
    msPerInterval: round((seconds * 1000) / report.intervals, 3),
    cliSeconds: round(cliSeconds),
    milpSample: {
      intervals: milp.intervals,
      seconds: round(milpSeconds),
      msPerInterval: round((milpSeconds * 1000) / milp.intervals, 2),
      projectedYearSeconds: round((milpSeconds / milp.intervals) * report.intervals, 0),
      milpFallbacks: milp.engine.milpFallbacks,
      engineNetUsdMilp: milp.engine.netUsd,
      engineNetUsdGreedy: greedyMonth.engine.netUsd,
    },
    report: {
      engineNetUsd: report.engine.netUsd,
      strikeNetUsd: report.baselines.strike.netUsd,
      alwaysOnNetUsd: report.baselines.alwaysOn.netUsd,
      hindsightNetUsd: report.baselines.hindsight.netUsd,
      captureRatio: report.captureRatio,
      engineViolations: report.engine.violations,
    },
  },
};
writeFileSync(RESULTS, `${JSON.stringify(merged, null, 2)}\n`);
console.log(
  `backtest: ${report.intervals} intervals in ${round(seconds)} s (${report.engine.solver}); CLI ${round(cliSeconds)} s; ` +
    `MILP ${round((milpSeconds * 1000) / milp.intervals)} ms/interval on ${milp.intervals} intervals`,
);

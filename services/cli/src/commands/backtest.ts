// `switchyard backtest --farm F --signals history.csv [--from T] [--to T] [--json]
//   [--solver greedy|milp] [--strike-n N] [--strike-m M] [--site S] [--gpu-demand market|none]
//   [--skip-bad-rows]`: steps the planner through a price history and compares it with the
// always-on, strike-price and hindsight baselines. Formats and the report: docs/backtest.md.
import {
  createBacktest,
  formatHistoryIssue,
  parseHistoryCsv,
  type BacktestReport,
  type HistoryIssue,
  type StrategyReport,
} from '@switchyard/domain';
import { HighsSolver } from '@switchyard/solver';
import { parseCommandArgs, UsageError, type CliContext, type Command } from '../context.ts';
import { choice, intOption, loadFarm, money, readText, required, timeOption } from './inputs.ts';

const SOLVERS = ['greedy', 'milp'] as const;
const DEMAND = ['market', 'none'] as const;

export const backtestCommand: Command = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    {
      farm: { type: 'string' },
      signals: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
      solver: { type: 'string' },
      'strike-n': { type: 'string' },
      'strike-m': { type: 'string' },
      site: { type: 'string' },
      'gpu-demand': { type: 'string' },
      'skip-bad-rows': { type: 'boolean' },
      'time-limit-ms': { type: 'string' },
    },
    false,
  );
  const farmFile = required('farm', values.farm, 'the farm file (e.g. examples/farm.yaml)');
  const csvFile = required(
    'signals',
    values.signals,
    'the history CSV (e.g. examples/history-synthetic.csv)',
  );
  const solverKind = choice('solver', values.solver, SOLVERS, 'greedy');
  const gpuDemand = choice('gpu-demand', values['gpu-demand'], DEMAND, 'market');
  const from = timeOption('from', values.from);
  const to = timeOption('to', values.to);
  if (from !== undefined && to !== undefined && to <= from) throw new UsageError('--to must be after --from');
  const n = intOption('strike-n', values['strike-n'], 1, 10_000) ?? 3;
  const m = intOption('strike-m', values['strike-m'], 1, 10_000) ?? 3;
  const timeLimitMs = intOption('time-limit-ms', values['time-limit-ms'], 10, 600_000);

  const farm = await loadFarm(farmFile, ctx);
  if (!farm) return 1;
  const text = await readText(csvFile, ctx);
  if (text === null) return 1;
  const parsed = parseHistoryCsv(text, { skipBadRows: values['skip-bad-rows'] === true });
  if (!parsed.ok) {
    reportIssues(parsed.issues, csvFile, ctx);
    ctx.stderr.write(
      `${csvFile}: ${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'}; nothing was run` +
        `${parsed.issues.some((i) => i.line > 1 && !/order|duplicate|step/.test(i.message)) ? ' (--skip-bad-rows leaves bad rows out and reports them)' : ''}\n`,
    );
    return 1;
  }
  const { history } = parsed;
  const rows = history.rows.filter(
    (r) => (from === undefined || r.time >= from) && (to === undefined || r.time < to),
  );
  if (rows.length === 0) {
    ctx.stderr.write(
      `${csvFile}: no rows between ${values.from ?? 'the start'} and ${values.to ?? 'the end'}\n`,
    );
    return 1;
  }
  if (history.skipped.length > 0) {
    reportIssues(history.skipped, csvFile, ctx);
    ctx.stderr.write(`${csvFile}: ${history.skipped.length} bad row(s) left out; they show as gaps\n`);
  }

  const solver = solverKind === 'milp' ? new HighsSolver() : undefined;
  const progress = progressBar(ctx, rows.length);
  const started = performance.now();
  let report: BacktestReport;
  try {
    const bt = createBacktest(farm, {
      stepSeconds: history.stepSeconds,
      site: values.site,
      solver,
      timeLimitMs,
      strike: { n, m },
      gpuDemand,
    });
    for (let i = 0; i < rows.length; i++) {
      await bt.step(rows[i] as (typeof rows)[number]);
      progress(i + 1);
    }
    report = bt.report();
  } finally {
    progress(null);
    await solver?.close();
  }
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    const skippedRows = history.skipped.map((i) => ({ line: i.line, column: i.column, message: i.message }));
    ctx.stdout.write(`${JSON.stringify({ ...report, skippedRows }, null, 2)}\n`);
  } else ctx.stdout.write(renderBacktest(report, seconds, history.skipped.length));
  return 0;
};

function reportIssues(issues: HistoryIssue[], file: string, ctx: CliContext): void {
  const shown = issues.slice(0, 50);
  for (const i of shown) ctx.stderr.write(`${formatHistoryIssue(i, file)}\n`);
  if (issues.length > shown.length) ctx.stderr.write(`… and ${issues.length - shown.length} more\n`);
}

/** A progress bar on stderr when it is a terminal; a no-op otherwise. null clears it. */
function progressBar(ctx: CliContext, total: number): (done: number | null) => void {
  const err = ctx.stderr as NodeJS.WritableStream & { isTTY?: boolean };
  if (!err.isTTY) return () => {};
  const t0 = performance.now();
  let lastDraw = 0;
  return (done) => {
    if (done === null) {
      err.write('\r\x1b[K');
      return;
    }
    const now = performance.now();
    if (done < total && now - lastDraw < 100) return;
    lastDraw = now;
    const width = 30;
    const fill = Math.round((done / total) * width);
    const elapsed = (now - t0) / 1000;
    const eta = done > 0 ? (elapsed / done) * (total - done) : 0;
    err.write(
      `\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${Math.floor((done / total) * 100)}% ${money(done)}/${money(total)} intervals, ${elapsed.toFixed(0)} s, ~${eta.toFixed(0)} s left\x1b[K`,
    );
  };
}

const COLS = ['net', 'hashing', 'inference', 'GPU hashing', 'energy', 'wear', 'cycles', 'violations'];

function tableRow(label: string, s: StrategyReport): string {
  const cells = [
    s.netUsd,
    s.revenueUsd.hashing,
    s.revenueUsd.inference,
    s.revenueUsd.gpuHashing,
    s.energyCostUsd,
    s.wearCostUsd,
    s.cycles,
  ].map((x) => money(x).padStart(12));
  return `  ${label.padEnd(20)}${cells.join('')}${String(s.violations).padStart(12)}`;
}

function change(a: number, b: number): string {
  const d = a - b;
  const rel = b !== 0 ? ` (${d >= 0 ? '+' : ''}${((d / Math.abs(b)) * 100).toFixed(1)}%)` : '';
  return `${d >= 0 ? '+' : '-'}$${money(Math.abs(d))}${rel}`;
}

export function renderBacktest(r: BacktestReport, seconds: number, skipped: number): string {
  const step = r.stepSeconds === 3600 ? 'hourly' : `${r.stepSeconds / 60}-minute`;
  const out: string[] = [];
  out.push(
    `Backtest of ${r.site}: ${money(r.intervals)} ${step} intervals, ${r.from} → ${r.to} (engine: ${r.engine.solver} planner)`,
  );
  const missing = r.gaps.reduce((a, g) => a + g.missingIntervals, 0);
  if (r.gaps.length === 0) out.push('Gaps: none');
  else {
    out.push(`Gaps: ${r.gaps.length} (${money(missing)} missing intervals, not counted):`);
    for (const g of r.gaps.slice(0, 20))
      out.push(`  ${g.after} → ${g.before} (before line ${g.line}): ${g.missingIntervals} missing`);
    if (r.gaps.length > 20) out.push(`  … and ${r.gaps.length - 20} more (--json lists all)`);
  }
  if (skipped > 0) out.push(`Bad rows left out: ${skipped} (listed above)`);
  out.push('');
  out.push(`  ${'USD'.padEnd(20)}${COLS.map((c) => c.padStart(12)).join('')}`);
  out.push(tableRow('engine', r.engine));
  out.push(tableRow(`strike (N=${r.baselines.strike.n}, M=${r.baselines.strike.m})`, r.baselines.strike));
  out.push(tableRow('always on', r.baselines.alwaysOn));
  out.push(tableRow('hindsight bound', r.baselines.hindsight));
  out.push('');
  out.push(
    `Capture ratio: ${r.captureRatio === null ? 'n/a (hindsight earns nothing)' : `${(r.captureRatio * 100).toFixed(1)}% of the hindsight bound`}`,
  );
  out.push(
    `Engine vs strike: ${change(r.engine.netUsd, r.baselines.strike.netUsd)}; vs always on: ${change(r.engine.netUsd, r.baselines.alwaysOn.netUsd)}`,
  );
  out.push('');
  out.push(`strike: ${r.baselines.strike.rule}`);
  out.push(`always on: ${r.baselines.alwaysOn.rule}`);
  out.push(`hindsight: ${r.baselines.hindsight.relaxation}`);
  out.push(`engine: ${r.engine.note}`);
  for (const a of r.assumptions) out.push(`assumed: ${a}`);
  out.push(`Ran in ${seconds.toFixed(1)} s.`);
  return `${out.join('\n')}\n`;
}

// The backtest's price history: a CSV of timed rows (see docs/backtest.md). Pure: text in, rows
// or every problem out. Nothing is filled in: gaps are listed, bad rows are reported with their
// line number and reason, and rows out of order, duplicate times or mixed steps are errors.

/** Every column the file may have: the first five are required, in any order. */
export const HISTORY_COLUMNS = [
  'time',
  'btc_usd',
  'difficulty',
  'fees_btc_per_block',
  'energy_usd_per_mwh',
  'subsidy_btc',
  'gpu_usd_per_gpu_hour',
  'ambient_c',
] as const;
export type HistoryColumn = (typeof HISTORY_COLUMNS)[number];
export const REQUIRED_HISTORY_COLUMNS: readonly HistoryColumn[] = HISTORY_COLUMNS.slice(0, 5);

/** Steps the backtest accepts: hourly or 15-minute rows. */
export const HISTORY_STEPS_SECONDS = [3600, 900] as const;

export interface HistoryRow {
  /** 1-based line in the file. */
  line: number;
  /** Epoch ms. */
  time: number;
  btcUsd: number;
  difficulty: number;
  feesBtcPerBlock: number;
  energyUsdPerMwh: number;
  /** Null: the halving schedule at `time` applies. */
  subsidyBtc: number | null;
  gpuUsdPerGpuHour: number | null;
  ambientC: number | null;
}

export interface HistoryIssue {
  /** 1-based line (0 for the file as a whole). */
  line: number;
  /** The column at fault, when there is one. */
  column?: string | undefined;
  message: string;
}

/** Missing intervals between two rows. */
export interface HistoryGap {
  /** Epoch ms of the last row before the gap and the first row after it. */
  after: number;
  before: number;
  /** Line of the row after the gap. */
  line: number;
  missingIntervals: number;
}

export interface History {
  rows: HistoryRow[];
  stepSeconds: number;
  columns: HistoryColumn[];
  gaps: HistoryGap[];
  /** Bad rows left out (only with skipBadRows; otherwise they are errors). */
  skipped: HistoryIssue[];
}

export type HistoryParseResult = { ok: true; history: History } | { ok: false; issues: HistoryIssue[] };

export interface HistoryParseOptions {
  /** Leave bad rows out (they are reported in `skipped` and show as gaps) instead of failing. */
  skipBadRows?: boolean;
}

export function formatHistoryIssue(i: HistoryIssue, source?: string): string {
  const where = source ? `${source}:${i.line}` : `line ${i.line}`;
  return `${where}: ${i.column ? `${i.column}: ` : ''}${i.message}`;
}

// ---------------------------------------------------------------- fields

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** ISO-8601 with an offset → epoch ms, or why not. */
export function parseIsoTime(s: string): number | string {
  const m = ISO.exec(s);
  if (!m) return `"${s}" is not an ISO-8601 time (e.g. 2025-01-01T00:00:00Z or 2025-01-01T00:00:00-06:00)`;
  const [, y, mo, d, h, mi, sec, frac, tz] = m;
  if (!tz) return `"${s}" has no UTC offset: add Z or ±HH:MM (local times are ambiguous)`;
  const [Y, M, D, H, Mi, S] = [y, mo, d, h, mi, sec ?? '0'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysIn = new Date(Date.UTC(Y, M, 0)).getUTCDate();
  if (M < 1 || M > 12 || D < 1 || D > daysIn || H > 23 || Mi > 59 || S > 59)
    return `"${s}" is not a valid date and time`;
  let offsetMin = 0;
  if (tz.toUpperCase() !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 14 || om > 59) return `"${s}" has an invalid UTC offset ${tz}`;
    offsetMin = sign * (oh * 60 + om);
  }
  const ms = frac ? Math.round(Number(frac) * 1000) : 0;
  return Date.UTC(Y, M - 1, D, H, Mi, S, ms) - offsetMin * 60_000;
}

interface NumberRule {
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  max?: number;
  what: string;
}

const RULES: Record<Exclude<HistoryColumn, 'time'>, NumberRule> = {
  btc_usd: { above: 0, max: 1e8, what: 'BTC price (USD)' },
  difficulty: { above: 0, max: 1e20, what: 'network difficulty' },
  fees_btc_per_block: { min: 0, max: 100, what: 'mean fees per block (BTC)' },
  energy_usd_per_mwh: { min: -100_000, max: 100_000, what: 'energy price ($/MWh)' },
  subsidy_btc: { min: 0, max: 50, what: 'block subsidy (BTC)' },
  gpu_usd_per_gpu_hour: { min: 0, max: 1000, what: 'GPU price ($/GPU-hour)' },
  ambient_c: { min: -60, max: 70, what: 'ambient temperature (°C)' },
};

function parseNumber(raw: string, rule: NumberRule): number | string {
  if (!NUMBER.test(raw)) return `"${raw}" is not a number`;
  const x = Number(raw);
  if (!Number.isFinite(x)) return `"${raw}" is not a finite number`;
  if (rule.above !== undefined && !(x > rule.above)) return `${raw} must be above ${rule.above}`;
  if (rule.min !== undefined && x < rule.min) return `${raw} must be at least ${rule.min}`;
  if (rule.max !== undefined && x > rule.max) return `${raw} must be at most ${rule.max}`;
  return x;
}

function splitLine(line: string): string[] {
  return line.split(',').map((c) => {
    const t = c.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
  });
}

// ---------------------------------------------------------------- header

function readHeader(line: string): { columns: HistoryColumn[]; issues: HistoryIssue[] } {
  const names = splitLine(line.replace(/^\uFEFF/, '')).map((n) => n.toLowerCase());
  const issues: HistoryIssue[] = [];
  const seen = new Set<string>();
  for (const n of names) {
    if (!(HISTORY_COLUMNS as readonly string[]).includes(n))
      issues.push({
        line: 1,
        column: n || '(empty)',
        message: `unknown column; the columns are ${HISTORY_COLUMNS.join(', ')}`,
      });
    else if (seen.has(n)) issues.push({ line: 1, column: n, message: 'column appears twice' });
    seen.add(n);
  }
  for (const r of REQUIRED_HISTORY_COLUMNS)
    if (!seen.has(r)) issues.push({ line: 1, column: r, message: 'required column is missing' });
  return { columns: names as HistoryColumn[], issues };
}

// ---------------------------------------------------------------- rows

function readRow(
  cells: string[],
  columns: HistoryColumn[],
  line: number,
): { row: HistoryRow | null; issues: HistoryIssue[] } {
  const issues: HistoryIssue[] = [];
  if (cells.length !== columns.length) {
    issues.push({ line, message: `has ${cells.length} fields; the header has ${columns.length}` });
    return { row: null, issues };
  }
  const row: HistoryRow = {
    line,
    time: NaN,
    btcUsd: NaN,
    difficulty: NaN,
    feesBtcPerBlock: NaN,
    energyUsdPerMwh: NaN,
    subsidyBtc: null,
    gpuUsdPerGpuHour: null,
    ambientC: null,
  };
  columns.forEach((col, i) => {
    const raw = cells[i] as string;
    const required = REQUIRED_HISTORY_COLUMNS.includes(col);
    if (raw === '') {
      if (required) issues.push({ line, column: col, message: 'is empty' });
      return;
    }
    if (col === 'time') {
      const t = parseIsoTime(raw);
      if (typeof t === 'string') issues.push({ line, column: col, message: t });
      else row.time = t;
      return;
    }
    const x = parseNumber(raw, RULES[col]);
    if (typeof x === 'string') {
      issues.push({ line, column: col, message: `${RULES[col].what}: ${x}` });
      return;
    }
    assign(row, col, x);
  });
  return { row: issues.length > 0 ? null : row, issues };
}

function assign(row: HistoryRow, col: Exclude<HistoryColumn, 'time'>, x: number): void {
  switch (col) {
    case 'btc_usd':
      row.btcUsd = x;
      break;
    case 'difficulty':
      row.difficulty = x;
      break;
    case 'fees_btc_per_block':
      row.feesBtcPerBlock = x;
      break;
    case 'energy_usd_per_mwh':
      row.energyUsdPerMwh = x;
      break;
    case 'subsidy_btc':
      row.subsidyBtc = x;
      break;
    case 'gpu_usd_per_gpu_hour':
      row.gpuUsdPerGpuHour = x;
      break;
    case 'ambient_c':
      row.ambientC = x;
      break;
  }
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** Rows out of order or with a time seen before: always errors. */
function orderIssues(rows: HistoryRow[]): HistoryIssue[] {
  const out: HistoryIssue[] = [];
  let last: HistoryRow | undefined;
  for (const r of rows) {
    if (last && r.time === last.time)
      out.push({
        line: r.line,
        column: 'time',
        message: `duplicate time ${iso(r.time)} (also on line ${last.line})`,
      });
    else if (last && r.time < last.time)
      out.push({
        line: r.line,
        column: 'time',
        message: `out of order: ${iso(r.time)} comes after ${iso(last.time)} (line ${last.line}); rows must be in time order`,
      });
    if (!last || r.time > last.time) last = r;
  }
  return out;
}

/**
 * The step is the smallest difference between rows; it must be 1 h or 15 min and every
 * difference a whole number of steps (larger ones are gaps). 15-minute data with two or more
 * hourly differences in a row is mixed-step data, an error.
 */
export function inferStep(
  rows: readonly HistoryRow[],
): { stepSeconds: number; gaps: HistoryGap[] } | HistoryIssue[] {
  if (rows.length < 2) return [{ line: 0, message: 'at least two rows are needed to infer the step' }];
  let min = Infinity;
  for (let i = 1; i < rows.length; i++)
    min = Math.min(min, (rows[i] as HistoryRow).time - (rows[i - 1] as HistoryRow).time);
  const step = min / 1000;
  if (!(HISTORY_STEPS_SECONDS as readonly number[]).includes(step)) {
    const at = rows.findIndex((r, i) => i > 0 && r.time - (rows[i - 1] as HistoryRow).time === min);
    return [
      {
        line: (rows[at] as HistoryRow).line,
        column: 'time',
        message: `rows ${fmtSeconds(step)} apart: the step must be 1 h or 15 min, the same throughout`,
      },
    ];
  }
  const issues: HistoryIssue[] = [];
  const gaps: HistoryGap[] = [];
  let hourlyRun = 0;
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1] as HistoryRow;
    const b = rows[i] as HistoryRow;
    const d = (b.time - a.time) / 1000;
    if (d % step !== 0) {
      issues.push({
        line: b.line,
        column: 'time',
        message: `${fmtSeconds(d)} after the previous row (line ${a.line}): not a whole number of ${fmtSeconds(step)} steps (mixed steps)`,
      });
      continue;
    }
    hourlyRun = step === 900 && d === 3600 ? hourlyRun + 1 : 0;
    if (hourlyRun === 2)
      issues.push({
        line: b.line,
        column: 'time',
        message: `hourly rows in 15-minute data (lines ${(rows[i - 2] as HistoryRow).line}–${b.line}): mixed steps`,
      });
    if (d > step) gaps.push({ after: a.time, before: b.time, line: b.line, missingIntervals: d / step - 1 });
  }
  return issues.length > 0 ? issues : { stepSeconds: step, gaps };
}

function fmtSeconds(s: number): string {
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/** Parses a history CSV (see docs/backtest.md). Every problem is reported, not only the first. */
export function parseHistoryCsv(text: string, opts: HistoryParseOptions = {}): HistoryParseResult {
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) return { ok: false, issues: [{ line: 0, message: 'the file is empty' }] };
  const header = readHeader(lines[headerAt] as string);
  if (header.issues.length > 0)
    return { ok: false, issues: header.issues.map((i) => ({ ...i, line: headerAt + 1 })) };
  const rows: HistoryRow[] = [];
  const bad: HistoryIssue[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l.trim() === '') continue;
    const r = readRow(splitLine(l), header.columns, i + 1);
    if (r.row) rows.push(r.row);
    else bad.push(...r.issues);
  }
  const order = orderIssues(rows);
  const fatal = [...(opts.skipBadRows ? [] : bad), ...order].sort((a, b) => a.line - b.line);
  if (fatal.length > 0) return { ok: false, issues: fatal };
  const step = inferStep(rows);
  if (Array.isArray(step)) return { ok: false, issues: step };
  return {
    ok: true,
    history: { rows, stepSeconds: step.stepSeconds, columns: header.columns, gaps: step.gaps, skipped: bad },
  };
}

/** Gaps between consecutive rows at a known step. */
export function findGaps(rows: readonly HistoryRow[], stepSeconds: number): HistoryGap[] {
  const out: HistoryGap[] = [];
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1] as HistoryRow;
    const b = rows[i] as HistoryRow;
    const d = (b.time - a.time) / 1000;
    if (d > stepSeconds)
      out.push({
        after: a.time,
        before: b.time,
        line: b.line,
        missingIntervals: Math.round(d / stepSeconds) - 1,
      });
  }
  return out;
}

// The history CSV: columns in any order, optional columns, every kind of bad row with its line
// and reason, order and step rules, gaps reported rather than filled.
import { describe, expect, it } from '@jest/globals';
import { parseHistoryCsv, parseIsoTime, type HistoryIssue } from './history-csv.ts';

const HEADER = 'time,btc_usd,difficulty,fees_btc_per_block,energy_usd_per_mwh';
const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** n hourly rows from T0 (or with the given step in ms). */
const rows = (n: number, step = H, start = T0) =>
  Array.from({ length: n }, (_, i) => `${iso(start + i * step)},95000,1.1e14,0.05,${30 + i}`);
const csv = (...lines: string[]) => `${lines.join('\n')}\n`;

function issues(text: string, opts = {}): HistoryIssue[] {
  const r = parseHistoryCsv(text, opts);
  if (r.ok) throw new Error('expected the file to be rejected');
  return r.issues;
}

describe('parseHistoryCsv: columns', () => {
  it('reads the required columns in file order and infers an hourly step', () => {
    const r = parseHistoryCsv(csv(HEADER, ...rows(3)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.history.stepSeconds).toBe(3600);
    expect(r.history.gaps).toEqual([]);
    expect(r.history.rows[1]).toEqual({
      line: 3,
      time: T0 + H,
      btcUsd: 95000,
      difficulty: 1.1e14,
      feesBtcPerBlock: 0.05,
      energyUsdPerMwh: 31,
      subsidyBtc: null,
      gpuUsdPerGpuHour: null,
      ambientC: null,
    });
  });

  it('takes the columns in any order, case-insensitively, with the optional ones', () => {
    const r = parseHistoryCsv(
      csv(
        'Energy_USD_per_MWh,ambient_c,time,subsidy_btc,difficulty,gpu_usd_per_gpu_hour,fees_btc_per_block,btc_usd',
        '-12.5,31.2,2025-01-01T00:00:00-06:00,3.125,110000000000000,2.1,0.04,95000',
        '40,,2025-01-01T01:00:00-06:00,,110000000000000,,0.04,95100',
      ),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [a, b] = r.history.rows;
    expect(a).toMatchObject({
      time: Date.UTC(2025, 0, 1, 6),
      energyUsdPerMwh: -12.5,
      ambientC: 31.2,
      subsidyBtc: 3.125,
      gpuUsdPerGpuHour: 2.1,
      difficulty: 1.1e14,
    });
    // Empty optional cells: not given (the subsidy then follows the halving schedule).
    expect(b).toMatchObject({ subsidyBtc: null, gpuUsdPerGpuHour: null, ambientC: null, btcUsd: 95100 });
  });

  it.each([
    [
      'a missing required column',
      'time,btc_usd,difficulty,energy_usd_per_mwh',
      'fees_btc_per_block',
      'required column is missing',
    ],
    ['an unknown column', `${HEADER},wind_mw`, 'wind_mw', 'unknown column'],
    ['a column twice', `${HEADER},btc_usd`, 'btc_usd', 'column appears twice'],
  ])('rejects %s in the header', (_what, header, column, message) => {
    const found = issues(csv(header, '2025-01-01T00:00:00Z,1,1,1,1'));
    expect(found).toContainEqual({ line: 1, column, message: expect.stringContaining(message) });
  });

  it('rejects an empty file', () => {
    expect(issues('\n\n')).toEqual([{ line: 0, message: 'the file is empty' }]);
  });
});

describe('parseHistoryCsv: bad rows are reported with line and reason', () => {
  const at = (line: string) => csv(HEADER, ...rows(2), line, ...rows(2, H, T0 + 3 * H));
  it.each([
    [
      'a bad number',
      `${iso(T0 + 2 * H)},95k,1.1e14,0.05,30`,
      'btc_usd',
      'BTC price (USD): "95k" is not a number',
    ],
    ['a negative difficulty', `${iso(T0 + 2 * H)},95000,-1,0.05,30`, 'difficulty', 'must be above 0'],
    ['an empty required cell', `${iso(T0 + 2 * H)},95000,1.1e14,,30`, 'fees_btc_per_block', 'is empty'],
    ['a bad time', '2025-13-01T00:00:00Z,95000,1.1e14,0.05,30', 'time', 'not a valid date and time'],
    ['a time that is not ISO-8601', '01/01/2025 02:00,95000,1.1e14,0.05,30', 'time', 'not an ISO-8601 time'],
    ['a time without an offset', '2025-01-01T02:00:00,95000,1.1e14,0.05,30', 'time', 'has no UTC offset'],
    ['a short row', `${iso(T0 + 2 * H)},95000,1.1e14,0.05`, undefined, 'has 4 fields; the header has 5'],
    ['Infinity', `${iso(T0 + 2 * H)},95000,1.1e14,0.05,Infinity`, 'energy_usd_per_mwh', 'is not a number'],
  ])('%s', (_what, line, column, message) => {
    expect(issues(at(line))).toEqual([{ line: 4, column, message: expect.stringContaining(message) }]);
  });

  it('reports every bad row, not only the first', () => {
    const found = issues(csv(HEADER, 'x,1,1,1,1', ...rows(2), '2025-01-01T05:00:00Z,1,1,1,y'));
    expect(found.map((i) => [i.line, i.column])).toEqual([
      [2, 'time'],
      [5, 'energy_usd_per_mwh'],
    ]);
  });

  it('with skipBadRows leaves them out, reports them, and shows the hole as a gap', () => {
    const r = parseHistoryCsv(
      csv(HEADER, ...rows(2), `${iso(T0 + 2 * H)},oops,1,1,1`, ...rows(2, H, T0 + 3 * H)),
      {
        skipBadRows: true,
      },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.history.rows).toHaveLength(4);
    expect(r.history.skipped).toEqual([
      { line: 4, column: 'btc_usd', message: expect.stringContaining('"oops"') },
    ]);
    expect(r.history.gaps).toEqual([{ after: T0 + H, before: T0 + 3 * H, line: 5, missingIntervals: 1 }]);
  });
});

describe('parseHistoryCsv: order, step and gaps', () => {
  it('rejects rows out of order', () => {
    const [a, b, c] = rows(3);
    expect(issues(csv(HEADER, a as string, c as string, b as string))).toEqual([
      { line: 4, column: 'time', message: expect.stringContaining('out of order') },
    ]);
  });

  it('rejects a duplicate time, naming the other line', () => {
    const [a, b] = rows(2);
    expect(issues(csv(HEADER, a as string, b as string, b as string))).toEqual([
      { line: 4, column: 'time', message: `duplicate time ${iso(T0 + H)} (also on line 3)` },
    ]);
  });

  it('sees the same instant written with different offsets as a duplicate', () => {
    expect(
      issues(csv(HEADER, '2025-01-01T06:00:00Z,1,1,1,1', '2025-01-01T00:00:00-06:00,1,1,1,1'))[0]?.message,
    ).toContain('duplicate time');
  });

  it('infers a 15-minute step', () => {
    const r = parseHistoryCsv(csv(HEADER, ...rows(5, H / 4)));
    expect(r.ok && r.history.stepSeconds).toBe(900);
  });

  it('reports gaps (not filled) with the number of missing intervals', () => {
    const r = parseHistoryCsv(csv(HEADER, ...rows(3), ...rows(2, H, T0 + 6 * H), ...rows(1, H, T0 + 10 * H)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.history.rows).toHaveLength(6);
    expect(r.history.gaps).toEqual([
      { after: T0 + 2 * H, before: T0 + 6 * H, line: 5, missingIntervals: 3 },
      { after: T0 + 7 * H, before: T0 + 10 * H, line: 7, missingIntervals: 2 },
    ]);
  });

  it('rejects a step that is neither 1 h nor 15 min', () => {
    expect(issues(csv(HEADER, ...rows(3, H / 2)))[0]?.message).toContain('rows 30 min apart');
  });

  it('rejects mixed steps: a difference that is not a whole number of steps', () => {
    const found = issues(csv(HEADER, ...rows(3, H / 4), ...rows(2, H / 4, T0 + 3 * (H / 4) + 10 * 60_000)));
    expect(found[0]?.message).toContain('not a whole number of 15 min steps (mixed steps)');
  });

  it('rejects mixed steps: hourly rows in 15-minute data', () => {
    const found = issues(csv(HEADER, ...rows(4, H / 4), ...rows(3, H, T0 + 3 * (H / 4) + H)));
    expect(found[0]?.message).toContain('hourly rows in 15-minute data');
  });

  it('needs two rows to infer the step', () => {
    expect(issues(csv(HEADER, ...rows(1)))[0]?.message).toContain('at least two rows');
  });

  it('accepts CRLF line endings, a byte-order mark and blank lines', () => {
    const r = parseHistoryCsv(`\uFEFF${HEADER}\r\n${rows(2).join('\r\n')}\r\n\r\n`);
    expect(r.ok && r.history.rows.length).toBe(2);
  });
});

describe('parseIsoTime', () => {
  it.each([
    ['2025-01-01T00:00:00Z', Date.UTC(2025, 0, 1)],
    ['2025-01-01T00:00:00-06:00', Date.UTC(2025, 0, 1, 6)],
    ['2025-01-01T00:00+0530', Date.UTC(2024, 11, 31, 18, 30)],
    ['2025-06-30 23:15:30.5+02:00', Date.UTC(2025, 5, 30, 21, 15, 30, 500)],
  ])('%s', (s, ms) => expect(parseIsoTime(s)).toBe(ms));

  it.each(['2025-02-29T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01', '2025-01-01T00:00:00+15:00'])(
    'rejects %s',
    (s) => expect(typeof parseIsoTime(s)).toBe('string'),
  );
});

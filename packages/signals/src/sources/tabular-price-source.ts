// A generic price feed over HTTP: a CSV file with a time column and a price column, or JSON
// with rows at a path. Rows form a curve; the reading is the row holding at `now`. Fits utility
// tariffs, a retail provider's export, or a broker's published curve.
import { CsvError, parseCsvRecords } from '../csv.ts';
import { httpText } from '../http-client.ts';
import { getJsonPath } from '../json-path.ts';
import { curveValueAt, normalizeCurve, type CurvePoint } from '../price-curve.ts';
import { SignalSourceError } from '../signal-source-error.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalName,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';
import { parseDecimal, parseFeedTimestamp } from '../units.ts';

export interface TabularPriceSourceOptions {
  name: string;
  url: string;
  format: 'csv' | 'json';
  /** Column (CSV header) or property (JSON row) holding the time: ISO 8601 with a zone, or epoch. */
  timeField: string;
  /** Column or property holding the price. */
  valueField: string;
  /** JSON only: dotted path to the array of rows (`data.prices`); empty means the root. */
  rowsPath?: string;
  signal?: SignalName;
  subject?: string;
  /** Multiplies every value, e.g. 1000 for a feed in USD/kWh. */
  valueScale?: number;
  delimiter?: string;
  headers?: Record<string, string>;
  /** How long the last row holds when the feed has a single row (default 1 h). */
  defaultStepMs?: number;
  maxBytes?: number;
}

/** Rows to curve points. Throws MALFORMED naming the first bad row. */
export function rowsToCurve(
  rows: readonly unknown[],
  opts: Pick<TabularPriceSourceOptions, 'timeField' | 'valueField' | 'valueScale' | 'name'>,
): CurvePoint[] {
  const scale = opts.valueScale ?? 1;
  return rows.map((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      throw new SignalSourceError('MALFORMED', `${opts.name}: row ${i + 1} is not an object`);
    const rec = row as Record<string, unknown>;
    const at = parseFeedTimestamp(rec[opts.timeField]);
    if (!at)
      throw new SignalSourceError(
        'MALFORMED',
        `${opts.name}: row ${i + 1}: ${opts.timeField} ${JSON.stringify(rec[opts.timeField])} is not a time with a zone`,
      );
    const value = parseDecimal(rec[opts.valueField]);
    if (value === undefined)
      throw new SignalSourceError(
        'MALFORMED',
        `${opts.name}: row ${i + 1}: ${opts.valueField} ${JSON.stringify(rec[opts.valueField])} is not a number`,
      );
    return { at, value: value * scale };
  });
}

export class TabularPriceSource implements SignalSource {
  readonly name: string;
  readonly signals: readonly SignalName[];
  readonly #opts: TabularPriceSourceOptions;

  constructor(opts: TabularPriceSourceOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.signals = [opts.signal ?? 'energy_usd_per_mwh'];
  }

  #rows(text: string): unknown[] {
    const o = this.#opts;
    if (o.format === 'csv') {
      try {
        return parseCsvRecords(text, o.delimiter === undefined ? {} : { delimiter: o.delimiter });
      } catch (err) {
        if (err instanceof CsvError) throw new SignalSourceError('MALFORMED', `${o.name}: ${err.message}`);
        throw err;
      }
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new SignalSourceError('MALFORMED', `${o.name}: body is not JSON`);
    }
    const rows = getJsonPath(data, o.rowsPath ?? '');
    if (!Array.isArray(rows))
      throw new SignalSourceError(
        'MALFORMED',
        `${o.name}: no array of rows at ${JSON.stringify(o.rowsPath ?? '')}`,
      );
    return rows;
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const o = this.#opts;
    const accept = o.format === 'csv' ? 'text/csv, text/plain;q=0.9' : 'application/json';
    const res = await httpText(o.url, {
      signal: ctx.signal,
      headers: { accept, ...o.headers },
      maxBytes: o.maxBytes ?? 4 * 1024 * 1024,
    });
    // An HTML page where data was expected: a login wall, a captive portal or a CDN challenge.
    if (/html/i.test(res.headers.get('content-type') ?? ''))
      throw new SignalSourceError(
        'MALFORMED',
        `${o.name}: got an HTML page instead of ${o.format.toUpperCase()}`,
      );
    const rows = this.#rows(res.text);
    if (rows.length === 0) throw new SignalSourceError('NO_DATA', `${o.name}: the feed has no rows`);
    const curve = normalizeCurve(rowsToCurve(rows, o));
    const at = curveValueAt(curve, ctx.now, o.defaultStepMs ?? 3_600_000, 24);
    if (!at)
      throw new SignalSourceError('NO_DATA', `${o.name}: the feed starts after ${ctx.now.toISOString()}`);
    const signal = this.signals[0]!;
    return [
      {
        signal,
        value: at.point.value,
        unit: SIGNAL_UNITS[signal],
        source: o.name,
        observedAt: at.point.at,
        fetchedAt: ctx.now,
        validUntil: at.validUntil,
        ...(o.subject !== undefined && { subject: o.subject }),
        detail: { rows: rows.length, next: at.next.map((p) => ({ at: p.at.toISOString(), value: p.value })) },
      },
    ];
  }
}

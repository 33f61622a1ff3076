// ERCOT settlement point prices for one settlement point (e.g. HB_WEST): real-time 15-minute
// prices (report NP6-905-CD) or day-ahead hourly prices (NP4-190-CD). Requests carry the
// subscription key and a bearer token and pass through a client-side limiter, because the
// public API allows 30 requests per minute per key.
import { z } from 'zod';
import { httpJson, joinUrl, summarizeIssues } from '../http-client.ts';
import { curveValueAt, normalizeCurve, type CurvePoint } from '../price-curve.ts';
import type { RateLimiter } from '../rate-limiter.ts';
import { SignalSourceError } from '../signal-source-error.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';
import { addDays, zonedDate, zonedWallTimeToInstant } from '../zoned-time.ts';
import type { ErcotTokenProvider } from './ercot-token.ts';

export type ErcotMarket = 'real-time' | 'day-ahead';

export const ERCOT_TIME_ZONE = 'America/Chicago';
export const ERCOT_PATHS: Readonly<Record<ErcotMarket, string>> = {
  'real-time': '/np6-905-cd/spp_node_zone_hub',
  'day-ahead': '/np4-190-cd/dam_stlmnt_pnt_prices',
};

export interface ErcotSourceOptions {
  market: ErcotMarket;
  /** https://api.ercot.com/api/public-reports */
  baseUrl: string;
  settlementPoint: string;
  subscriptionKey: string;
  token: ErcotTokenProvider;
  /** Shared by every source using the same subscription key. */
  limiter?: RateLimiter;
  name?: string;
  path?: string;
  maxBytes?: number;
}

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const dstFlag = z.union([
  z.boolean(),
  z.enum(['Y', 'N', 'y', 'n', 'true', 'false']).transform((v) => v === 'Y' || v === 'y' || v === 'true'),
]);
const price = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);

export const ercotRealTimeRowSchema = z
  .object({
    deliveryDate: isoDate,
    deliveryHour: z.coerce.number().int().min(1).max(24),
    deliveryInterval: z.coerce.number().int().min(1).max(4),
    settlementPoint: z.string().min(1),
    settlementPointType: z.string().optional(),
    settlementPointPrice: price,
    DSTFlag: dstFlag,
  })
  .loose();

export const ercotDayAheadRowSchema = z
  .object({
    deliveryDate: isoDate,
    hourEnding: z.string().regex(/^(0?[1-9]|1\d|2[0-4]):00$/, 'expected HH:00'),
    settlementPoint: z.string().min(1),
    settlementPointPrice: price,
    DSTFlag: dstFlag,
  })
  .loose();

/** Report answers: rows as arrays described by `fields`, or (some mirrors) as objects. */
export const ercotReportSchema = z
  .object({
    fields: z.array(z.object({ name: z.string() }).loose()).optional(),
    data: z.array(z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())])),
  })
  .loose();

export type ErcotRealTimeRow = z.infer<typeof ercotRealTimeRowSchema>;
export type ErcotDayAheadRow = z.infer<typeof ercotDayAheadRowSchema>;

/** The UTC interval of a real-time row (hour ending 1–24, interval 1–4, Central Prevailing Time). */
export function ercotRealTimeInterval(row: ErcotRealTimeRow): { start: Date; end: Date } {
  const minutes = (row.deliveryHour - 1) * 60 + (row.deliveryInterval - 1) * 15;
  // DSTFlag marks the repeated hour of the autumn change: the second, standard-time occurrence.
  const start = zonedWallTimeToInstant(row.deliveryDate, minutes, ERCOT_TIME_ZONE, row.DSTFlag);
  return { start, end: new Date(start.getTime() + 15 * 60_000) };
}

export function ercotDayAheadInterval(row: ErcotDayAheadRow): { start: Date; end: Date } {
  const hourEnding = Number(row.hourEnding.split(':')[0]);
  const start = zonedWallTimeToInstant(row.deliveryDate, (hourEnding - 1) * 60, ERCOT_TIME_ZONE, row.DSTFlag);
  return { start, end: new Date(start.getTime() + 3_600_000) };
}

/** Report rows as objects, whichever layout the answer used. */
export function ercotRows(report: z.infer<typeof ercotReportSchema>): Record<string, unknown>[] {
  const names = report.fields?.map((f) => f.name);
  return report.data.map((row, i) => {
    if (!Array.isArray(row)) return row;
    if (!names)
      throw new SignalSourceError('MALFORMED', `ERCOT report: row ${i} is an array but no fields are given`);
    return Object.fromEntries(names.map((n, k) => [n, row[k]]));
  });
}

export class ErcotPriceSource implements SignalSource {
  readonly name: string;
  readonly signals: readonly ['energy_usd_per_mwh'] | readonly ['energy_da_usd_per_mwh'];
  readonly #opts: ErcotSourceOptions;

  constructor(opts: ErcotSourceOptions) {
    this.#opts = opts;
    this.name = opts.name ?? (opts.market === 'real-time' ? 'ercot' : 'ercot-dam');
    this.signals = opts.market === 'real-time' ? ['energy_usd_per_mwh'] : ['energy_da_usd_per_mwh'];
  }

  async #request(ctx: SignalFetchContext, url: URL): Promise<z.infer<typeof ercotReportSchema>> {
    const send = async () => {
      await this.#opts.limiter?.acquire(ctx.signal);
      const token = await this.#opts.token.token(ctx.signal);
      return httpJson(url, ercotReportSchema, {
        signal: ctx.signal,
        headers: {
          'Ocp-Apim-Subscription-Key': this.#opts.subscriptionKey,
          authorization: `Bearer ${token}`,
        },
        maxBytes: this.#opts.maxBytes ?? 4 * 1024 * 1024,
      });
    };
    try {
      return await send();
    } catch (err) {
      // An expired or revoked token: get a new one and ask once more.
      if (err instanceof SignalSourceError && err.status === 401 && this.#opts.token.refreshable) {
        this.#opts.token.invalidate();
        return send();
      }
      throw err;
    }
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const rt = this.#opts.market === 'real-time';
    const today = zonedDate(ctx.now, ERCOT_TIME_ZONE);
    const url = joinUrl(this.#opts.baseUrl, this.#opts.path ?? ERCOT_PATHS[this.#opts.market]);
    url.search = new URLSearchParams({
      settlementPoint: this.#opts.settlementPoint,
      // Real time: yesterday too, so just after midnight the last intervals are still found.
      // Day ahead: tomorrow too, once the day-ahead market has cleared.
      deliveryDateFrom: rt ? addDays(today, -1) : today,
      deliveryDateTo: rt ? today : addDays(today, 1),
      size: '1000',
    }).toString();
    const report = await this.#request(ctx, url);
    const points = this.#points(ercotRows(report));
    const sorted = normalizeCurve(points);
    const at = curveValueAt(sorted, ctx.now, rt ? 15 * 60_000 : 3_600_000, rt ? 0 : 24);
    if (!at)
      throw new SignalSourceError(
        'NO_DATA',
        `${this.name}: no ${this.#opts.settlementPoint} price at or before ${ctx.now.toISOString()}`,
      );
    const step = rt ? 15 * 60_000 : 3_600_000;
    const validUntil = new Date(at.point.at.getTime() + step);
    const signal = this.signals[0];
    return [
      {
        signal,
        value: at.point.value,
        unit: SIGNAL_UNITS[signal],
        source: this.name,
        observedAt: at.point.at,
        fetchedAt: ctx.now,
        validUntil,
        detail: {
          settlementPoint: this.#opts.settlementPoint,
          intervalStart: at.point.at.toISOString(),
          intervalEnd: validUntil.toISOString(),
          ...(!rt && { next: at.next.map((p) => ({ at: p.at.toISOString(), usdPerMwh: p.value })) }),
        },
      },
    ];
  }

  #points(rows: Record<string, unknown>[]): CurvePoint[] {
    const rt = this.#opts.market === 'real-time';
    const points: CurvePoint[] = [];
    for (const [i, raw] of rows.entries()) {
      const parsed = (rt ? ercotRealTimeRowSchema : ercotDayAheadRowSchema).safeParse(raw);
      if (!parsed.success)
        throw new SignalSourceError('MALFORMED', `${this.name}: row ${i}: ${summarizeIssues(parsed.error)}`);
      const row = parsed.data;
      if (row.settlementPoint !== this.#opts.settlementPoint) continue;
      const { start } = rt
        ? ercotRealTimeInterval(row as ErcotRealTimeRow)
        : ercotDayAheadInterval(row as ErcotDayAheadRow);
      points.push({ at: start, value: row.settlementPointPrice });
    }
    return points;
  }
}

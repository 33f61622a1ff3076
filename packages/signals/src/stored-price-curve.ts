// Energy price curves pushed through the API (POST /prices) are kept in signal_readings, one row
// per point, so that the controller's hub — another process — can use them (StoredPriceSource).
// A point's row:
//   observed_at  the point's time            source  'broker:<name>' or 'operator:<key prefix>'
//   value/unit   USD/MWh                     signal  energy_usd_per_mwh
//   detail       { status: 'pushed', validUntil, sourceName: 'stored-prices',
//                  data: { pushId, site, brokerId?, by } }
// Each point holds until the next one; the last for the curve's usual spacing (an hour for a
// curve of one point); none for more than MAX_POINT_VALIDITY_MS. The newest push covering an
// instant is the one that counts then: a correction replaces an earlier curve where it overlaps
// and leaves the rest of it in force.
import { randomUUID } from 'node:crypto';
import { signalReadings, type Database } from '@switchyard/db';
import { and, asc, desc, eq, gt, gte, lte, sql } from 'drizzle-orm';
import { curveStepMs } from './price-curve.ts';
import { SIGNAL_UNITS } from './signal-types.ts';

/** The status of pushed rows: raw curve points, not readings the hub has judged. */
export const PUSHED_STATUS = 'pushed';
/** One week of 5-minute intervals. */
export const MAX_PUSHED_POINTS = 2016;
/** No point holds for longer than this, whatever the gap to the next. */
export const MAX_POINT_VALIDITY_MS = 24 * 3_600_000;
/** How long the last point of a one-point curve holds. */
export const DEFAULT_POINT_STEP_MS = 3_600_000;
/** The `sourceName` pushed rows carry, and the name of the hub source that reads them. */
export const STORED_PRICES_SOURCE = 'stored-prices';

export type StoredPriceSignal = 'energy_usd_per_mwh';

export interface StorePriceCurveInput {
  /** The site the curve is for. */
  site: string;
  signal?: StoredPriceSignal;
  /** Provenance: `broker:<broker name>` or `operator:<key prefix>`. */
  source: string;
  /** Strictly increasing times, finite prices. */
  points: ReadonlyArray<{ at: Date; usdPerMwh: number }>;
  receivedAt: Date;
  /** The broker that pushed it (a tenant), or null for an operator. */
  brokerId: string | null;
  /** Who pushed it: the API key's prefix. */
  by: string;
}

export interface StoredPriceCurve {
  pushId: string;
  site: string;
  signal: StoredPriceSignal;
  source: string;
  points: number;
  from: Date;
  to: Date;
  /** When the last point stops holding. */
  validUntil: Date;
  receivedAt: Date;
}

/** Rows per INSERT (9 parameters each). */
const INSERT_CHUNK = 500;

const statusOf = sql<string | null>`${signalReadings.detail}->>'status'`;
const validUntilOf = sql`(${signalReadings.detail}->>'validUntil')::timestamptz`;
const dataField = (field: string) => sql<string | null>`${signalReadings.detail}->'data'->>${field}`;

/** Throws a RangeError naming the first bad point; the API checks the same before calling. */
function checkPoints(points: StorePriceCurveInput['points']): void {
  if (points.length === 0 || points.length > MAX_PUSHED_POINTS)
    throw new RangeError(`a price curve has 1 to ${MAX_PUSHED_POINTS} points (got ${points.length})`);
  points.forEach((p, i) => {
    if (!(p.at instanceof Date) || Number.isNaN(p.at.getTime()))
      throw new RangeError(`point ${i} has no valid time`);
    if (!Number.isFinite(p.usdPerMwh)) throw new RangeError(`point ${i} has no finite price`);
    if (i > 0 && p.at.getTime() <= points[i - 1]!.at.getTime())
      throw new RangeError(`point ${i} is not later than point ${i - 1}`);
  });
}

/** When each point stops holding (see the file's comment). */
export function pointValidity(points: ReadonlyArray<{ at: Date }>): Date[] {
  const step = curveStepMs(points.map((p) => ({ at: p.at, value: 0 }))) ?? DEFAULT_POINT_STEP_MS;
  return points.map((p, i) => {
    const next = points[i + 1]?.at.getTime() ?? p.at.getTime() + step;
    return new Date(Math.min(next, p.at.getTime() + MAX_POINT_VALIDITY_MS));
  });
}

/** Stores a pushed curve, all its points or none (pass a transaction to add an audit entry). */
export async function storePriceCurve(db: Database, input: StorePriceCurveInput): Promise<StoredPriceCurve> {
  checkPoints(input.points);
  const signal = input.signal ?? 'energy_usd_per_mwh';
  const pushId = randomUUID();
  const validity = pointValidity(input.points);
  const data = {
    pushId,
    site: input.site,
    by: input.by,
    ...(input.brokerId !== null && { brokerId: input.brokerId }),
  };
  const rows = input.points.map((p, i) => ({
    observedAt: p.at,
    fetchedAt: input.receivedAt,
    source: input.source,
    signal,
    value: p.usdPerMwh,
    unit: SIGNAL_UNITS[signal],
    stale: false,
    detail: {
      status: PUSHED_STATUS,
      validUntil: validity[i]!.toISOString(),
      sourceName: STORED_PRICES_SOURCE,
      data,
    },
  }));
  await db.transaction(async (tx) => {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK)
      await tx.insert(signalReadings).values(rows.slice(i, i + INSERT_CHUNK));
  });
  return {
    pushId,
    site: input.site,
    signal,
    source: input.source,
    points: rows.length,
    from: input.points[0]!.at,
    to: input.points[input.points.length - 1]!.at,
    validUntil: validity[validity.length - 1]!,
    receivedAt: input.receivedAt,
  };
}

export interface StoredPricePoint {
  at: Date;
  usdPerMwh: number;
  validUntil: Date;
}

export interface StoredPriceNow extends StoredPricePoint {
  pushId: string;
  site: string;
  source: string;
  /** When the push arrived. */
  receivedAt: Date;
  brokerId?: string;
  /** The push's later points, up to the lookahead asked for. */
  next: StoredPricePoint[];
}

export interface StoredPriceQuery {
  signal?: StoredPriceSignal;
  /** Only curves pushed for this site (default: any site). */
  site?: string;
  /** How many later points to return with it (default 24). */
  lookahead?: number;
}

/**
 * The pushed price holding at `now`: the point of the newest push that covers `now`, or
 * undefined when no pushed point does.
 */
export async function storedPriceAt(
  db: Database,
  now: Date,
  q: StoredPriceQuery = {},
): Promise<StoredPriceNow | undefined> {
  const signal = q.signal ?? 'energy_usd_per_mwh';
  const [row] = await db
    .select()
    .from(signalReadings)
    .where(
      and(
        eq(signalReadings.signal, signal),
        gte(signalReadings.observedAt, new Date(now.getTime() - MAX_POINT_VALIDITY_MS)),
        lte(signalReadings.observedAt, now),
        eq(statusOf, PUSHED_STATUS),
        sql`${validUntilOf} > ${now}`,
        q.site !== undefined ? eq(dataField('site'), q.site) : undefined,
      ),
    )
    .orderBy(desc(signalReadings.id))
    .limit(1);
  if (!row) return undefined;
  const detail = (row.detail ?? {}) as { validUntil?: string; data?: Record<string, unknown> };
  const data = detail.data ?? {};
  const pushId = String(data.pushId ?? '');
  const lookahead = Math.min(Math.max(Math.trunc(q.lookahead ?? 24), 0), MAX_PUSHED_POINTS);
  const later =
    lookahead === 0
      ? []
      : await db
          .select({
            observedAt: signalReadings.observedAt,
            value: signalReadings.value,
            detail: signalReadings.detail,
          })
          .from(signalReadings)
          .where(
            and(
              eq(signalReadings.signal, signal),
              gt(signalReadings.observedAt, row.observedAt),
              eq(statusOf, PUSHED_STATUS),
              eq(dataField('pushId'), pushId),
            ),
          )
          .orderBy(asc(signalReadings.observedAt))
          .limit(lookahead);
  return {
    at: row.observedAt,
    usdPerMwh: row.value,
    validUntil: new Date(detail.validUntil ?? row.observedAt),
    pushId,
    site: String(data.site ?? ''),
    source: row.source,
    receivedAt: row.fetchedAt,
    ...(typeof data.brokerId === 'string' && { brokerId: data.brokerId }),
    next: later.map((p) => ({
      at: p.observedAt,
      usdPerMwh: p.value,
      validUntil: new Date(((p.detail ?? {}) as { validUntil?: string }).validUntil ?? p.observedAt),
    })),
  };
}

// Signal readings in PostgreSQL (table signal_readings): every reading the hub saw, with what
// became of it, so a plan can say which value it used and a restart can pick up the last good
// values. Fields the table has no column for (status, subject, validity) live in `detail`:
//   { status, reason?, subject?, validUntil?, expiresAt?, sourceName?, ageSeconds?, data? }
// where `data` is the source's own detail.
import { deleteWhere, signalReadings, type Database } from '@switchyard/db';
import { and, asc, desc, eq, gte, inArray, like, lt, lte, sql, type SQL } from 'drizzle-orm';
import { USABLE_STATUSES, type ReadingStatus } from './reading-judge.ts';
import type { RecordedReading, SignalStore } from './signal-hub.ts';
import { isSignalName, SIGNAL_NAMES, type SignalName, type SignalReading } from './signal-types.ts';

/** Statuses of rows the repository writes itself for operator overrides. */
export type OverrideRowStatus = 'override' | 'override-cleared';
/** The status of the points of price curves pushed through the API (stored-price-curve.ts). */
export type PushedRowStatus = 'pushed';
export type StoredStatus = ReadingStatus | OverrideRowStatus | PushedRowStatus;

export interface LatestPerSeriesQuery {
  /** Only readings observed in [since, until]. */
  since: Date;
  until: Date;
  signal?: SignalName;
  source?: string;
  /** At most this many series (default 1000). */
  limit?: number;
}

export interface StoredReading extends SignalReading {
  id: number;
  stale: boolean;
  status: StoredStatus;
  reason?: string;
  sourceName?: string;
  ageSeconds?: number;
}

/** What append() takes: a bare reading (stored as accepted) or one the hub recorded. */
export type AppendableReading = SignalReading &
  Partial<Pick<RecordedReading, 'stale' | 'reason' | 'sourceName' | 'ageSeconds'>> & {
    status?: StoredStatus;
  };

export interface ReadingQuery {
  subject?: string;
  source?: string;
  /** Defaults to the usable statuses (accepted, confirmed, derived). */
  statuses?: readonly StoredStatus[];
}

/** Rows per INSERT (9 parameters each). */
const INSERT_CHUNK = 500;

interface StoredDetail {
  status?: StoredStatus;
  reason?: string;
  subject?: string;
  validUntil?: string;
  expiresAt?: string;
  sourceName?: string;
  ageSeconds?: number;
  data?: Record<string, unknown>;
}

const subjectOf = sql<string | null>`${signalReadings.detail}->>'subject'`;
const statusOf = sql<string | null>`${signalReadings.detail}->>'status'`;

function toDetail(r: AppendableReading): StoredDetail {
  return {
    status: r.status ?? 'accepted',
    ...(r.reason !== undefined && { reason: r.reason }),
    ...(r.subject !== undefined && { subject: r.subject }),
    ...(r.validUntil && { validUntil: r.validUntil.toISOString() }),
    ...(r.expiresAt && { expiresAt: r.expiresAt.toISOString() }),
    ...(r.sourceName !== undefined && { sourceName: r.sourceName }),
    ...(r.ageSeconds !== undefined && { ageSeconds: r.ageSeconds }),
    ...(r.detail !== undefined && { data: r.detail }),
  };
}

function fromRow(row: typeof signalReadings.$inferSelect): StoredReading | undefined {
  // Rows written by other code with unknown signal names are skipped, not guessed at.
  if (!isSignalName(row.signal)) return undefined;
  const d = (row.detail ?? {}) as StoredDetail;
  return {
    id: row.id,
    signal: row.signal as SignalName,
    value: row.value,
    unit: row.unit,
    source: row.source,
    observedAt: row.observedAt,
    fetchedAt: row.fetchedAt,
    stale: row.stale,
    status: d.status ?? 'accepted',
    ...(d.subject !== undefined && { subject: d.subject }),
    ...(d.validUntil !== undefined && { validUntil: new Date(d.validUntil) }),
    ...(d.expiresAt !== undefined && { expiresAt: new Date(d.expiresAt) }),
    ...(d.reason !== undefined && { reason: d.reason }),
    ...(d.sourceName !== undefined && { sourceName: d.sourceName }),
    ...(d.ageSeconds !== undefined && { ageSeconds: d.ageSeconds }),
    ...(d.data !== undefined && { detail: d.data }),
  };
}

function defined<T>(xs: (T | undefined)[]): T[] {
  return xs.filter((x): x is T => x !== undefined);
}

export class SignalRepository implements SignalStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Stores readings (in one transaction); returns how many rows were written. */
  async append(readings: readonly AppendableReading[]): Promise<number> {
    if (readings.length === 0) return 0;
    const rows = readings.map((r) => ({
      observedAt: r.observedAt,
      fetchedAt: r.fetchedAt,
      source: r.source,
      signal: r.signal,
      value: r.value,
      unit: r.unit,
      stale: r.stale ?? false,
      detail: toDetail(r),
    }));
    await this.#db.transaction(async (tx) => {
      for (let i = 0; i < rows.length; i += INSERT_CHUNK)
        await tx.insert(signalReadings).values(rows.slice(i, i + INSERT_CHUNK));
    });
    return rows.length;
  }

  #filters(signal: SignalName, q: ReadingQuery): SQL[] {
    const statuses = q.statuses ?? USABLE_STATUSES;
    return [
      eq(signalReadings.signal, signal),
      inArray(statusOf, [...statuses]),
      ...(q.subject !== undefined ? [eq(subjectOf, q.subject)] : []),
      ...(q.source !== undefined ? [eq(signalReadings.source, q.source)] : []),
    ];
  }

  /** The newest reading of a signal (by observation time), usable ones only by default. */
  async latest(signal: SignalName, q: ReadingQuery = {}): Promise<StoredReading | undefined> {
    const [row] = await this.#db
      .select()
      .from(signalReadings)
      .where(and(...this.#filters(signal, q)))
      .orderBy(desc(signalReadings.observedAt), desc(signalReadings.id))
      .limit(1);
    return row ? fromRow(row) : undefined;
  }

  /** Readings observed in [from, to), oldest first, at most `limit` (default 10,000). */
  async history(
    signal: SignalName,
    from: Date,
    to: Date,
    q: ReadingQuery & { limit?: number } = {},
  ): Promise<StoredReading[]> {
    const rows = await this.#db
      .select()
      .from(signalReadings)
      .where(
        and(
          ...this.#filters(signal, q),
          gte(signalReadings.observedAt, from),
          lt(signalReadings.observedAt, to),
        ),
      )
      .orderBy(asc(signalReadings.observedAt), asc(signalReadings.id))
      .limit(Math.min(Math.max(1, q.limit ?? 10_000), 100_000));
    return defined(rows.map(fromRow));
  }

  /**
   * The newest usable reading per (signal, source, subject) observed since `since`, excluding
   * derived values: what SignalHub.restore() needs after a restart.
   */
  async latestUsable(since: Date): Promise<StoredReading[]> {
    const subjectKey = sql`coalesce(${subjectOf}, '')`;
    const rows = await this.#db
      .selectDistinctOn([signalReadings.signal, signalReadings.source, subjectKey])
      .from(signalReadings)
      .where(and(gte(signalReadings.observedAt, since), inArray(statusOf, ['accepted', 'confirmed'])))
      .orderBy(
        signalReadings.signal,
        signalReadings.source,
        subjectKey,
        desc(signalReadings.observedAt),
        desc(signalReadings.id),
      );
    return defined(rows.map(fromRow));
  }

  /**
   * The newest reading of every (source, signal, subject) observed in [since, until], whatever
   * its status, ordered by signal, subject and source.
   */
  async latestPerSeries(q: LatestPerSeriesQuery): Promise<StoredReading[]> {
    const subjectKey = sql`coalesce(${subjectOf}, '')`;
    const rows = await this.#db
      .selectDistinctOn([signalReadings.signal, subjectKey, signalReadings.source])
      .from(signalReadings)
      .where(
        and(
          gte(signalReadings.observedAt, q.since),
          lte(signalReadings.observedAt, q.until),
          q.signal !== undefined ? eq(signalReadings.signal, q.signal) : undefined,
          q.source !== undefined ? eq(signalReadings.source, q.source) : undefined,
        ),
      )
      .orderBy(
        signalReadings.signal,
        subjectKey,
        signalReadings.source,
        desc(signalReadings.observedAt),
        desc(signalReadings.id),
      )
      .limit(Math.min(Math.max(1, q.limit ?? 1000), 10_000));
    return defined(rows.map(fromRow));
  }

  /**
   * The newest reading of each signal with one of `statuses`, observed in [since, until]: one
   * small indexed query per signal, for a cheap overview of how old each signal is.
   */
  async newestPerSignal(
    since: Date,
    until: Date,
    statuses: readonly StoredStatus[] = [...USABLE_STATUSES, 'override', 'pushed'],
  ): Promise<StoredReading[]> {
    const rows = await Promise.all(
      SIGNAL_NAMES.map(async (signal) => {
        const [row] = await this.#db
          .select()
          .from(signalReadings)
          .where(
            and(
              eq(signalReadings.signal, signal),
              gte(signalReadings.observedAt, since),
              lte(signalReadings.observedAt, until),
              inArray(statusOf, [...statuses]),
            ),
          )
          .orderBy(desc(signalReadings.observedAt), desc(signalReadings.id))
          .limit(1);
        return row ? fromRow(row) : undefined;
      }),
    );
    return defined(rows);
  }

  /** Operator override rows (set and cleared) observed since `since`, newest first. */
  async overrideRows(since: Date, sourcePrefix = 'operator'): Promise<StoredReading[]> {
    const rows = await this.#db
      .select()
      .from(signalReadings)
      .where(
        and(
          like(signalReadings.source, `${sourcePrefix.replaceAll(/[\\%_]/g, (c) => `\\${c}`)}:%`),
          inArray(statusOf, ['override', 'override-cleared']),
          gte(signalReadings.observedAt, since),
        ),
      )
      .orderBy(desc(signalReadings.observedAt), desc(signalReadings.id));
    return defined(rows.map(fromRow));
  }

  /** Deletes readings observed before `before` (retention), in batches; returns how many. */
  prune(before: Date): Promise<number> {
    return deleteWhere(this.#db, 'signal_readings', sql`observed_at < ${before}`);
  }
}

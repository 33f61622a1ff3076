// Grid dispatches: an energy broker's or an operator's order to hold a site's load at or below a
// cap (kind 'cap') or to reduce it by some kW from its load when the order arrived ('curtail-by').
// The effective cap is resolved once, when the dispatch is stored, and kept with the baseline in
// the `performance` document, which also collects how the site did against it while it ran.
//
// Every kW here is site (facility) load, the same quantity as the planner's GridDispatch.capKw.
import type { GridDispatch as PlannerDispatch } from '@switchyard/domain';
import { and, desc, eq, inArray, lt, lte, notInArray, sql, type SQL } from 'drizzle-orm';
import type { Database } from './database.ts';
import { gridDispatches, type DispatchKind } from './schema.ts';
import { afterCursor, keysetPage, pageLimit, UUID } from './keyset.ts';

export const DISPATCH_STATES = ['received', 'acknowledged', 'active', 'completed', 'cancelled'] as const;
export type DispatchState = (typeof DISPATCH_STATES)[number];

/** States a dispatch never leaves. */
export const TERMINAL_DISPATCH_STATES = [
  'completed',
  'cancelled',
] as const satisfies readonly DispatchState[];
/** States in which a dispatch binds the planner while its window is open. */
export const OPEN_DISPATCH_STATES = [
  'received',
  'acknowledged',
  'active',
] as const satisfies readonly DispatchState[];

/** Samples kept in a performance record at most; beyond it the list is thinned evenly. */
export const MAX_PERFORMANCE_SAMPLES = 2000;

/** One metered reading of the site's load while the dispatch runs. */
export interface DispatchSample {
  /** ISO-8601 UTC. */
  at: string;
  kw: number;
}

/**
 * The `performance` document of a dispatch: its resolved cap, the baseline a curtail-by was
 * counted from, and a running summary of the site's metered load against the cap.
 */
export interface DispatchPerformance {
  /** The cap the site is held at or below: kw for 'cap', max(0, baselineKw − kw) for 'curtail-by'. */
  capKw: number;
  /** Curtail-by only: the site's metered load when the dispatch was received. */
  baselineKw?: number;
  /**
   * Samples in time order, at most MAX_PERFORMANCE_SAMPLES: every `sampleStride`-th sample
   * received is kept (the stride doubles each time the list fills up, dropping every other one).
   */
  samples: DispatchSample[];
  sampleStride: number;
  /** The newest sample by time, kept even when thinning left it out of `samples`. */
  lastSample: DispatchSample | null;
  /** Null until the first sample. */
  maxKw: number | null;
  /** Arithmetic mean of every sample received (not only the kept ones). */
  meanKw: number | null;
  /** Samples with kw ≤ capKw. */
  compliantSamples: number;
  totalSamples: number;
  /** compliantSamples / totalSamples; null until the first sample. */
  compliance: number | null;
  /** Time of the earliest sample at or below the cap. */
  firstCompliantAt: string | null;
  /**
   * Energy drawn above the cap, kWh: each sample's excess held until the next sample in time
   * (a sample older than `lastSample` is counted in the statistics but not integrated).
   */
  energyOverCapKwh: number;
}

export interface DispatchRecord {
  id: string;
  /** Null when an operator entered it. */
  brokerId: string | null;
  site: string;
  kind: DispatchKind;
  /** The cap ('cap') or the reduction ('curtail-by'), kW. */
  kw: number;
  /** The effective cap, kW (see DispatchPerformance.capKw). */
  capKw: number;
  baselineKw: number | null;
  startsAt: Date;
  endsAt: Date;
  durationSeconds: number;
  receivedAt: Date;
  acknowledgedAt: Date | null;
  state: DispatchState;
  /** The site load the controller expects to hold while the dispatch runs, kW. */
  expectedKw: number | null;
  performance: DispatchPerformance;
}

export interface CreateDispatchInput {
  site: string;
  kind: DispatchKind;
  kw: number;
  startsAt: Date;
  durationSeconds: number;
  brokerId?: string | null;
  /** Required for 'curtail-by': the site's metered load when the dispatch was received, kW. */
  baselineKw?: number;
}

export interface ListDispatchesOptions {
  site?: string;
  /** Only this broker's dispatches (an energy broker sees its own only). */
  brokerId?: string;
  /** Only dispatches in an open state whose window contains this instant. */
  activeAt?: Date;
  /** 1..500, default 50. */
  limit?: number;
  /** Only dispatches received before this instant. */
  before?: Date;
  /** The id of the last dispatch of the previous page: only the ones listed after it. */
  cursor?: string;
}

export interface DispatchPage {
  items: DispatchRecord[];
  /** Pass as `cursor` for the next (older) page; null on the last. */
  nextCursor: string | null;
}

export interface ActiveDispatchesOptions {
  /** Also dispatches that start within this many ms after `at` (default 0). */
  horizonMs?: number;
}

/** The end of a dispatch's window, as SQL. */
const endsAtSql: SQL = sql`(${gridDispatches.startsAt} + ${gridDispatches.durationSeconds} * interval '1 second')`;

/** The cap a dispatch resolves to, or NaN when a curtail-by has no usable baseline. */
export function resolveCapKw(kind: DispatchKind, kw: number, baselineKw?: number | null): number {
  if (kind === 'cap') return kw;
  if (baselineKw === undefined || baselineKw === null || !Number.isFinite(baselineKw)) return Number.NaN;
  return Math.max(0, baselineKw - kw);
}

/** The performance document of a dispatch that has no samples yet. */
export function emptyPerformance(capKw: number, baselineKw?: number): DispatchPerformance {
  return {
    capKw,
    ...(baselineKw !== undefined ? { baselineKw } : {}),
    samples: [],
    sampleStride: 1,
    lastSample: null,
    maxKw: null,
    meanKw: null,
    compliantSamples: 0,
    totalSamples: 0,
    compliance: null,
    firstCompliantAt: null,
    energyOverCapKwh: 0,
  };
}

/**
 * The performance document with one more sample. Pure: the repository calls it under a row
 * lock. Samples are counted in arrival order; `samples` keeps every `sampleStride`-th one.
 */
export function addPerformanceSample(
  perf: DispatchPerformance,
  sample: { at: Date; siteKw: number },
  maxSamples = MAX_PERFORMANCE_SAMPLES,
): DispatchPerformance {
  const atMs = sample.at.getTime();
  const kw = sample.siteKw;
  const s: DispatchSample = { at: sample.at.toISOString(), kw };
  const n = perf.totalSamples; // this sample's sequence number, from 0
  const total = n + 1;
  const compliant = kw <= perf.capKw;

  let energy = perf.energyOverCapKwh;
  let last = perf.lastSample;
  if (!last || atMs > Date.parse(last.at)) {
    if (last) energy += (Math.max(0, last.kw - perf.capKw) * (atMs - Date.parse(last.at))) / 3_600_000;
    last = s;
  }

  let stride = Math.max(1, perf.sampleStride);
  let samples = perf.samples;
  if (n % stride === 0) {
    samples = [...samples, s];
    // A late sample goes to its place in time; the sort is stable, so equal times keep arrival order.
    if (samples.length > 1 && atMs < Date.parse(samples[samples.length - 2]!.at))
      samples.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    while (samples.length > Math.max(2, maxSamples)) {
      samples = samples.filter((_, i) => i % 2 === 0);
      stride *= 2;
    }
  }

  const firstCompliantAt =
    compliant && (perf.firstCompliantAt === null || atMs < Date.parse(perf.firstCompliantAt))
      ? s.at
      : perf.firstCompliantAt;
  const compliantSamples = perf.compliantSamples + (compliant ? 1 : 0);
  return {
    ...perf,
    samples,
    sampleStride: stride,
    lastSample: last,
    maxKw: perf.maxKw === null ? kw : Math.max(perf.maxKw, kw),
    meanKw: perf.meanKw === null ? kw : perf.meanKw + (kw - perf.meanKw) / total,
    compliantSamples,
    totalSamples: total,
    compliance: compliantSamples / total,
    firstCompliantAt,
    energyOverCapKwh: energy,
  };
}

type Row = typeof gridDispatches.$inferSelect;

function isState(s: string): s is DispatchState {
  return (DISPATCH_STATES as readonly string[]).includes(s);
}

/** The stored document, or one rebuilt from the columns for a row written without it. */
function performanceOf(row: Row): DispatchPerformance {
  const p = row.performance as Partial<DispatchPerformance> | null;
  if (p && typeof p.capKw === 'number') return { ...emptyPerformance(p.capKw, p.baselineKw), ...p };
  return emptyPerformance(resolveCapKw(row.kind, row.kw, p?.baselineKw), p?.baselineKw);
}

function toRecord(row: Row): DispatchRecord {
  const performance = performanceOf(row);
  return {
    id: row.id,
    brokerId: row.brokerId,
    site: row.site,
    kind: row.kind,
    kw: row.kw,
    capKw: performance.capKw,
    baselineKw: performance.baselineKw ?? null,
    startsAt: row.startsAt,
    endsAt: new Date(row.startsAt.getTime() + row.durationSeconds * 1000),
    durationSeconds: row.durationSeconds,
    receivedAt: row.receivedAt,
    acknowledgedAt: row.acknowledgedAt,
    // The column is free text; anything unknown reads as received, the state that binds.
    state: isState(row.state) ? row.state : 'received',
    expectedKw: row.expectedKw,
    performance,
  };
}

function assertFiniteKw(name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new RangeError(`${name} must be a finite number ≥ 0 (got ${String(v)})`);
}

export class DispatchRepository {
  readonly #db: Database;
  readonly #maxSamples: number;

  constructor(db: Database, opts: { maxSamples?: number } = {}) {
    this.#db = db;
    this.#maxSamples = Math.max(2, opts.maxSamples ?? MAX_PERFORMANCE_SAMPLES);
  }

  /** Stores a new dispatch in state 'received' with its cap resolved. */
  async create(input: CreateDispatchInput): Promise<DispatchRecord> {
    assertFiniteKw('kw', input.kw);
    if (!Number.isInteger(input.durationSeconds) || input.durationSeconds <= 0)
      throw new RangeError(`durationSeconds must be a positive integer (got ${input.durationSeconds})`);
    if (Number.isNaN(input.startsAt.getTime())) throw new RangeError('startsAt is not a valid date');
    if (input.kind === 'curtail-by') {
      if (input.baselineKw === undefined)
        throw new RangeError('a curtail-by dispatch needs baselineKw, the site load it is counted from');
      assertFiniteKw('baselineKw', input.baselineKw);
    }
    const baselineKw = input.kind === 'curtail-by' ? input.baselineKw : undefined;
    const performance = emptyPerformance(resolveCapKw(input.kind, input.kw, baselineKw), baselineKw);
    const [row] = await this.#db
      .insert(gridDispatches)
      .values({
        brokerId: input.brokerId ?? null,
        site: input.site,
        kind: input.kind,
        kw: input.kw,
        startsAt: input.startsAt,
        durationSeconds: input.durationSeconds,
        state: 'received',
        performance,
      })
      .returning();
    if (!row) throw new Error('dispatch insert returned no row');
    return toRecord(row);
  }

  async get(id: string): Promise<DispatchRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db.select().from(gridDispatches).where(eq(gridDispatches.id, id));
    return row ? toRecord(row) : undefined;
  }

  /** Newest received first (then by id), at most `limit` (1..500, default 50). */
  async list(opts: ListDispatchesOptions = {}): Promise<DispatchRecord[]> {
    return (await this.page(opts)).items;
  }

  /**
   * As list, a page at a time: the cursor is the last id of the previous page, compared with its
   * receivedAt in SQL at the column's own precision. An unknown cursor reads as the end.
   */
  async page(opts: ListDispatchesOptions = {}): Promise<DispatchPage> {
    const limit = pageLimit(opts.limit);
    const where: SQL[] = [];
    if (opts.site !== undefined) where.push(eq(gridDispatches.site, opts.site));
    if (opts.brokerId !== undefined) {
      if (!UUID.test(opts.brokerId)) return { items: [], nextCursor: null };
      where.push(eq(gridDispatches.brokerId, opts.brokerId));
    }
    if (opts.before) where.push(lt(gridDispatches.receivedAt, opts.before));
    if (opts.cursor !== undefined) {
      const after = await afterCursor(
        this.#db,
        gridDispatches,
        { time: gridDispatches.receivedAt, id: gridDispatches.id },
        opts.cursor,
      );
      if (!after) return { items: [], nextCursor: null };
      where.push(after);
    }
    if (opts.activeAt) {
      where.push(
        inArray(gridDispatches.state, [...OPEN_DISPATCH_STATES]),
        lte(gridDispatches.startsAt, opts.activeAt),
        sql`${endsAtSql} > ${opts.activeAt}`,
      );
    }
    const rows = await this.#db
      .select()
      .from(gridDispatches)
      .where(and(...where))
      .orderBy(desc(gridDispatches.receivedAt), desc(gridDispatches.id))
      .limit(limit + 1);
    const page = keysetPage(rows, limit);
    return { items: page.items.map(toRecord), nextCursor: page.nextCursor };
  }

  /**
   * The site's dispatches in an open state whose window contains `at` or starts within
   * `horizonMs` after it, in the planner's shape, earliest start first. A dispatch whose cap
   * cannot be resolved is left out (create never stores one).
   */
  async active(site: string, at: Date, opts: ActiveDispatchesOptions = {}): Promise<PlannerDispatch[]> {
    const horizon = new Date(at.getTime() + Math.max(0, opts.horizonMs ?? 0));
    const rows = await this.#db
      .select()
      .from(gridDispatches)
      .where(
        and(
          eq(gridDispatches.site, site),
          inArray(gridDispatches.state, [...OPEN_DISPATCH_STATES]),
          lte(gridDispatches.startsAt, horizon),
          sql`${endsAtSql} > ${at}`,
        ),
      )
      .orderBy(gridDispatches.startsAt, gridDispatches.id);
    return rows
      .map(toRecord)
      .filter((r) => Number.isFinite(r.capKw))
      .map((r) => ({
        id: r.id,
        site: r.site,
        capKw: r.capKw,
        startsAt: r.startsAt.getTime(),
        endsAt: r.endsAt.getTime(),
      }));
  }

  /**
   * The controller took the dispatch on and expects to hold the site at `expectedKw`. Moves
   * 'received' to 'acknowledged' (the first acknowledgement's time is kept); a later call only
   * updates expectedKw. Returns the dispatch as it now is; a terminal one is left unchanged.
   */
  async acknowledge(id: string, expectedKw: number): Promise<DispatchRecord | undefined> {
    assertFiniteKw('expectedKw', expectedKw);
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db
      .update(gridDispatches)
      .set({
        expectedKw,
        acknowledgedAt: sql`coalesce(${gridDispatches.acknowledgedAt}, now())`,
        state: sql`case when ${gridDispatches.state} = 'received' then 'acknowledged' else ${gridDispatches.state} end`,
      })
      .where(and(eq(gridDispatches.id, id), notInArray(gridDispatches.state, [...TERMINAL_DISPATCH_STATES])))
      .returning();
    return row ? toRecord(row) : this.get(id);
  }

  /**
   * Moves the dispatch to `state`. A completed or cancelled dispatch keeps its state. Returns
   * the dispatch as it now is (compare its state to see whether it moved), undefined if unknown.
   */
  async setState(id: string, state: DispatchState): Promise<DispatchRecord | undefined> {
    if (!isState(state)) throw new RangeError(`unknown dispatch state ${JSON.stringify(state)}`);
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db
      .update(gridDispatches)
      .set({ state })
      .where(and(eq(gridDispatches.id, id), notInArray(gridDispatches.state, [...TERMINAL_DISPATCH_STATES])))
      .returning();
    return row ? toRecord(row) : this.get(id);
  }

  /** setState(id, 'cancelled'). */
  async cancel(id: string): Promise<DispatchRecord | undefined> {
    return this.setState(id, 'cancelled');
  }

  /** setState(id, 'completed'): the window is over (or the broker released it). */
  async finish(id: string): Promise<DispatchRecord | undefined> {
    return this.setState(id, 'completed');
  }

  /**
   * Adds one metered sample of the site's load to the performance record, under a row lock so
   * that concurrent writers never lose one. Returns the updated record; undefined when the
   * dispatch is unknown or already completed or cancelled (the record is then final).
   */
  async recordPerformance(
    id: string,
    sample: { at: Date; siteKw: number },
  ): Promise<DispatchPerformance | undefined> {
    assertFiniteKw('siteKw', sample.siteKw);
    if (Number.isNaN(sample.at.getTime())) throw new RangeError('sample time is not a valid date');
    if (!UUID.test(id)) return undefined;
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.select().from(gridDispatches).where(eq(gridDispatches.id, id)).for('update');
      if (!row || (TERMINAL_DISPATCH_STATES as readonly string[]).includes(row.state)) return undefined;
      const next = addPerformanceSample(performanceOf(row), sample, this.#maxSamples);
      await tx.update(gridDispatches).set({ performance: next }).where(eq(gridDispatches.id, id));
      return next;
    });
  }
}

// Operator overrides: a fleet or a GPU pool pinned to a mode for a window ("rack-a1 asleep from
// 14:00 to 18:00 while the PDU is serviced"). Rows are never deleted: cancelling stamps
// cancelled_at, so the history stays. Two overrides of the same target never overlap in time:
// create() refuses one that would, naming the override in the way.
import { and, desc, eq, gt, isNull, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { Database } from './database.ts';
import { OVERRIDE_TARGETS, overrides, type OverrideTarget } from './schema.ts';
import { afterCursor, keysetPage, pageLimit, UUID } from './keyset.ts';

export interface OverrideRecord {
  id: string;
  site: string;
  targetKind: OverrideTarget;
  target: string;
  /** A fleet: 'asleep' or one of its profiles; a pool: 'idle', 'serving' or 'hashing'. */
  mode: string;
  startsAt: Date;
  endsAt: Date;
  reason: string;
  /** Who set it: the API key's prefix. */
  createdBy: string;
  createdAt: Date;
  cancelledAt: Date | null;
}

export interface CreateOverrideInput {
  site: string;
  targetKind: OverrideTarget;
  target: string;
  mode: string;
  startsAt: Date;
  endsAt: Date;
  reason: string;
  createdBy: string;
}

export type CreateOverrideResult =
  { ok: true; override: OverrideRecord } | { ok: false; conflict: OverrideRecord };

export interface ListOverridesOptions {
  site?: string;
  /** Only overrides not cancelled and not over at this instant (in force now or still to come). */
  openAt?: Date;
  /** 1..500, default 50. */
  limit?: number;
  /** The id of the last override of the previous page: only older ones. */
  cursor?: string;
}

export interface OverridePage {
  items: OverrideRecord[];
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/** An override in the planner's shape (PlanInput.overrides). */
export interface PlannerOverride {
  id: string;
  kind: OverrideTarget;
  name: string;
  mode: string;
  /** Epoch ms. */
  startsAt: number;
  endsAt: number;
  reason: string;
  by: string;
}

function toRecord(row: typeof overrides.$inferSelect): OverrideRecord {
  return {
    id: row.id,
    site: row.site,
    targetKind: row.targetKind,
    target: row.target,
    mode: row.mode,
    startsAt: row.startsAt,
    endsAt: row.endsAt,
    reason: row.reason,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    cancelledAt: row.cancelledAt,
  };
}

function checkInput(input: CreateOverrideInput): void {
  if (!(OVERRIDE_TARGETS as readonly string[]).includes(input.targetKind))
    throw new RangeError(`override target kind must be one of ${OVERRIDE_TARGETS.join(', ')}`);
  for (const field of ['site', 'target', 'mode', 'reason', 'createdBy'] as const)
    if (typeof input[field] !== 'string' || input[field].length === 0)
      throw new RangeError(`override ${field} must be a non-empty string`);
  if (!(input.endsAt.getTime() > input.startsAt.getTime()))
    throw new RangeError('an override must end after it starts');
}

export class OverrideRepository {
  readonly #db: Database;
  /** `db` may be a transaction, so the override commits together with its audit entry. */
  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Stores an override unless another open override of the same target overlaps its window;
   * then nothing is stored and that override is returned. Creations for one target are
   * serialized (a transaction-scoped advisory lock), so two at once cannot both pass the check.
   */
  async create(input: CreateOverrideInput): Promise<CreateOverrideResult> {
    checkInput(input);
    return this.#db.transaction(async (tx) => {
      const lockKey = `override:${input.site}:${input.targetKind}:${input.target}`;
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${lockKey}))`);
      const [clash] = await tx
        .select()
        .from(overrides)
        .where(
          and(
            eq(overrides.site, input.site),
            eq(overrides.targetKind, input.targetKind),
            eq(overrides.target, input.target),
            isNull(overrides.cancelledAt),
            lt(overrides.startsAt, input.endsAt),
            gt(overrides.endsAt, input.startsAt),
          ),
        )
        .orderBy(overrides.startsAt)
        .limit(1);
      if (clash) return { ok: false, conflict: toRecord(clash) };
      const [row] = await tx.insert(overrides).values(input).returning();
      if (!row) throw new Error('override insert returned no row');
      return { ok: true, override: toRecord(row) };
    });
  }

  async get(id: string): Promise<OverrideRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db.select().from(overrides).where(eq(overrides.id, id));
    return row ? toRecord(row) : undefined;
  }

  /**
   * Cancels an override at `at`: it stops applying at once. One already cancelled is returned
   * unchanged; undefined when there is no such override.
   */
  async cancel(id: string, at: Date): Promise<OverrideRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db
      .update(overrides)
      .set({ cancelledAt: at })
      .where(and(eq(overrides.id, id), isNull(overrides.cancelledAt)))
      .returning();
    return row ? toRecord(row) : this.get(id);
  }

  /** Newest created first, a page at a time. An unknown cursor reads as the end of the list. */
  async list(opts: ListOverridesOptions = {}): Promise<OverridePage> {
    const limit = pageLimit(opts.limit);
    const where: SQL[] = [];
    if (opts.site !== undefined) where.push(eq(overrides.site, opts.site));
    if (opts.openAt) where.push(isNull(overrides.cancelledAt), gt(overrides.endsAt, opts.openAt));
    if (opts.cursor !== undefined) {
      const after = await afterCursor(
        this.#db,
        overrides,
        { time: overrides.createdAt, id: overrides.id },
        opts.cursor,
      );
      if (!after) return { items: [], nextCursor: null };
      where.push(after);
    }
    const rows = await this.#db
      .select()
      .from(overrides)
      .where(and(...where))
      .orderBy(desc(overrides.createdAt), desc(overrides.id))
      .limit(limit + 1);
    const page = keysetPage(rows, limit);
    return { items: page.items.map(toRecord), nextCursor: page.nextCursor };
  }

  /** How many overrides of a site are in force at `at` and how many are still to come. */
  async countOpen(site: string, at: Date): Promise<{ inForce: number; upcoming: number }> {
    const [row] = await this.#db
      .select({
        inForce: sql<number>`count(*) filter (where ${overrides.startsAt} <= ${at})::int`,
        upcoming: sql<number>`count(*) filter (where ${overrides.startsAt} > ${at})::int`,
      })
      .from(overrides)
      .where(and(eq(overrides.site, site), isNull(overrides.cancelledAt), gt(overrides.endsAt, at)));
    return { inForce: Number(row?.inForce ?? 0), upcoming: Number(row?.upcoming ?? 0) };
  }

  /**
   * The site's overrides in force at `at` or starting within `horizonMs` after it, in the
   * planner's shape, earliest start first.
   */
  async active(site: string, at: Date, opts: { horizonMs?: number } = {}): Promise<PlannerOverride[]> {
    const horizon = new Date(at.getTime() + Math.max(0, opts.horizonMs ?? 0));
    const rows = await this.#db
      .select()
      .from(overrides)
      .where(
        and(
          eq(overrides.site, site),
          isNull(overrides.cancelledAt),
          lte(overrides.startsAt, horizon),
          gt(overrides.endsAt, at),
        ),
      )
      .orderBy(overrides.startsAt, overrides.id);
    return rows.map((r) => ({
      id: r.id,
      kind: r.targetKind,
      name: r.target,
      mode: r.mode,
      startsAt: r.startsAt.getTime(),
      endsAt: r.endsAt.getTime(),
      reason: r.reason,
      by: r.createdBy,
    }));
  }
}

export const OVERRIDE_STATES = ['scheduled', 'in-force', 'ended', 'cancelled'] as const;
export type OverrideState = (typeof OVERRIDE_STATES)[number];

/** Whether an override is still to come, in force, over or cancelled at `at`. */
export function overrideState(o: OverrideRecord, at: Date): OverrideState {
  if (o.cancelledAt) return 'cancelled';
  if (o.endsAt.getTime() <= at.getTime()) return 'ended';
  return o.startsAt.getTime() <= at.getTime() ? 'in-force' : 'scheduled';
}

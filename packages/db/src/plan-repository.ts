// Plans with their reasons. A plan is stored whole (so the next leader can resume from its
// memory after a restart) and its changes one row each (so operators can query the reasons).
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from './database.ts';
import type { ActionPhase, ActionState, PLAN_SOLVERS, TARGET_KINDS, TargetKind } from './schema.ts';
import { actions, planChanges, plans } from './schema.ts';
import { afterCursor, keysetPage, pageLimit, UUID } from './keyset.ts';

/** The parts of a planner Plan this repository needs; the domain type satisfies it. */
export interface StorablePlan {
  site: string;
  at: number;
  solver: (typeof PLAN_SOLVERS)[number];
  economics: unknown;
  changes: ReadonlyArray<{
    targetKind: (typeof TARGET_KINDS)[number];
    target: string;
    change: string;
    reason: string;
  }>;
}

export interface SavePlanInput<P extends StorablePlan> {
  plan: P;
  epoch: number;
  /** 'planned' when stored; later 'dispatched', 'converged', 'superseded', 'dropped'. */
  status?: string;
  /** The signals and observations the plan was computed from, for replay. */
  inputs: unknown;
}

export interface StoredPlan<P> {
  id: string;
  createdAt: Date;
  site: string;
  epoch: number;
  solver: string;
  status: string;
  intervalStart: Date;
  plan: P;
  changes: Array<{ seq: number; targetKind: string; target: string; change: string; reason: string }>;
}

/**
 * The parts of the latest plan an overview needs, read without the whole plan document: the
 * fleets' and pools' targets, the site's loads, the prices and the economics.
 */
export interface PlanOverview {
  id: string;
  createdAt: Date;
  site: string;
  epoch: number;
  solver: string;
  status: string;
  intervalStart: Date;
  /** The plan's economics ($/h by use), as stored. */
  economics: unknown;
  /** `plan.fleets`: per fleet its target, expected kW and hashrate. */
  fleets: unknown;
  /** `plan.pools`: per pool its target nodes by mode and expected kW. */
  pools: unknown;
  /** `plan.loads.site`: IT and facility kW, the caps, the current load. */
  siteLoad: unknown;
  /** `plan.prices`: the signal values the plan used. */
  prices: unknown;
  warnings: unknown;
  changeCount: number;
}

/** One step of a plan's sequence, with what became of it. */
export interface ActionRecord {
  id: string;
  planId: string;
  step: number;
  phase: ActionPhase;
  targetKind: TargetKind;
  target: string;
  command: string;
  payload: unknown;
  state: ActionState;
  attempts: number;
  epoch: number;
  jobId: string | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ListActionsOptions {
  planId?: string;
  state?: ActionState;
  targetKind?: TargetKind;
  target?: string;
  /** 1..500, default 50. */
  limit?: number;
  /** The id of the last action of the previous page: only older ones. */
  cursor?: string;
}

export interface PlanPage {
  items: Array<Omit<StoredPlan<never>, 'plan' | 'changes'>>;
  /** Pass as `cursor` for the next (older) page; null on the last. */
  nextCursor: string | null;
}

export interface ActionPage {
  items: ActionRecord[];
  /** Pass as `cursor` for the next (older) page; null on the last. */
  nextCursor: string | null;
}

const actionRecord = (r: typeof actions.$inferSelect): ActionRecord => ({ ...r, payload: r.payload });

export class PlanRepository<P extends StorablePlan = StorablePlan> {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** Stores the plan and every change in one transaction; returns the plan id. */
  async save(input: SavePlanInput<P>): Promise<string> {
    const { plan } = input;
    return this.#db.transaction(async (tx) => {
      const [row] = await tx
        .insert(plans)
        .values({
          site: plan.site,
          epoch: input.epoch,
          solver: plan.solver,
          status: input.status ?? 'planned',
          intervalStart: new Date(plan.at),
          expectedUsdPerHour: plan.economics as object,
          summary: plan as unknown as object,
          inputs: input.inputs as object,
        })
        .returning({ id: plans.id });
      if (!row) throw new Error('plan insert returned no row');
      if (plan.changes.length > 0) {
        await tx.insert(planChanges).values(
          plan.changes.map((c, seq) => ({
            planId: row.id,
            seq,
            targetKind: c.targetKind,
            target: c.target,
            change: c.change,
            reason: c.reason,
          })),
        );
      }
      return row.id;
    });
  }

  async setStatus(id: string, status: string): Promise<void> {
    await this.#db.update(plans).set({ status }).where(eq(plans.id, id));
  }

  async get(id: string): Promise<StoredPlan<P> | undefined> {
    const [row] = await this.#db.select().from(plans).where(eq(plans.id, id));
    return row ? this.#withChanges(row) : undefined;
  }

  async latest(site: string): Promise<StoredPlan<P> | undefined> {
    const [row] = await this.#db
      .select()
      .from(plans)
      .where(eq(plans.site, site))
      .orderBy(desc(plans.createdAt), desc(plans.id))
      .limit(1);
    return row ? this.#withChanges(row) : undefined;
  }

  /**
   * The site's plans newest first (by creation, then id), a page at a time. An unknown cursor
   * reads as the end of the list.
   */
  async list(site: string, opts: { limit?: number; cursor?: string } = {}): Promise<PlanPage> {
    const limit = pageLimit(opts.limit);
    const where: SQL[] = [eq(plans.site, site)];
    if (opts.cursor !== undefined) {
      const after = await afterCursor(this.#db, plans, { time: plans.createdAt, id: plans.id }, opts.cursor);
      if (!after) return { items: [], nextCursor: null };
      where.push(after);
    }
    const rows = await this.#db
      .select({
        id: plans.id,
        createdAt: plans.createdAt,
        site: plans.site,
        epoch: plans.epoch,
        solver: plans.solver,
        status: plans.status,
        intervalStart: plans.intervalStart,
      })
      .from(plans)
      .where(and(...where))
      .orderBy(desc(plans.createdAt), desc(plans.id))
      .limit(limit + 1);
    return keysetPage(rows, limit);
  }

  /** The latest plan of a site in outline (see PlanOverview), or undefined when it has none. */
  async overview(site: string): Promise<PlanOverview | undefined> {
    const [row] = await this.#db
      .select({
        id: plans.id,
        createdAt: plans.createdAt,
        site: plans.site,
        epoch: plans.epoch,
        solver: plans.solver,
        status: plans.status,
        intervalStart: plans.intervalStart,
        economics: plans.expectedUsdPerHour,
        fleets: sql<unknown>`${plans.summary}->'fleets'`,
        pools: sql<unknown>`${plans.summary}->'pools'`,
        siteLoad: sql<unknown>`${plans.summary}->'loads'->'site'`,
        prices: sql<unknown>`${plans.summary}->'prices'`,
        warnings: sql<unknown>`${plans.summary}->'warnings'`,
        changeCount: sql<number>`(select count(*) from ${planChanges} where ${planChanges.planId} = ${plans.id})::int`,
      })
      .from(plans)
      .where(eq(plans.site, site))
      .orderBy(desc(plans.createdAt), desc(plans.id))
      .limit(1);
    return row ? { ...row, changeCount: Number(row.changeCount) } : undefined;
  }

  /** A plan's actions in sequence order (at most `limit`, default 1000). */
  async actionsOf(planId: string, limit = 1000): Promise<ActionRecord[]> {
    if (!UUID.test(planId)) return [];
    const rows = await this.#db
      .select()
      .from(actions)
      .where(eq(actions.planId, planId))
      .orderBy(asc(actions.step), asc(actions.id))
      .limit(Math.min(Math.max(Math.trunc(limit), 1), 10_000));
    return rows.map(actionRecord);
  }

  /**
   * Actions newest first (by creation, then id), filtered, a page at a time. An unknown cursor
   * reads as the end of the list.
   */
  async listActions(opts: ListActionsOptions = {}): Promise<ActionPage> {
    const limit = pageLimit(opts.limit);
    const where: SQL[] = [];
    if (opts.planId !== undefined) {
      if (!UUID.test(opts.planId)) return { items: [], nextCursor: null };
      where.push(eq(actions.planId, opts.planId));
    }
    if (opts.state !== undefined) where.push(eq(actions.state, opts.state));
    if (opts.targetKind !== undefined) where.push(eq(actions.targetKind, opts.targetKind));
    if (opts.target !== undefined) where.push(eq(actions.target, opts.target));
    if (opts.cursor !== undefined) {
      const after = await afterCursor(
        this.#db,
        actions,
        { time: actions.createdAt, id: actions.id },
        opts.cursor,
      );
      if (!after) return { items: [], nextCursor: null };
      where.push(after);
    }
    const rows = await this.#db
      .select()
      .from(actions)
      .where(and(...where))
      .orderBy(desc(actions.createdAt), desc(actions.id))
      .limit(limit + 1);
    const page = keysetPage(rows, limit);
    return { items: page.items.map(actionRecord), nextCursor: page.nextCursor };
  }

  async #withChanges(row: typeof plans.$inferSelect): Promise<StoredPlan<P>> {
    const changes = await this.#db
      .select()
      .from(planChanges)
      .where(eq(planChanges.planId, row.id))
      .orderBy(planChanges.seq);
    return {
      id: row.id,
      createdAt: row.createdAt,
      site: row.site,
      epoch: row.epoch,
      solver: row.solver,
      status: row.status,
      intervalStart: row.intervalStart,
      plan: row.summary as P,
      changes: changes.map((c) => ({
        seq: c.seq,
        targetKind: c.targetKind,
        target: c.target,
        change: c.change as string,
        reason: c.reason,
      })),
    };
  }
}

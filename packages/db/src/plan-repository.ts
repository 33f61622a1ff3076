// Plans with their reasons. A plan is stored whole (so the next leader can resume from its
// memory after a restart) and its changes one row each (so operators can query the reasons).
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Database } from './database.ts';
import type { PLAN_SOLVERS, TARGET_KINDS } from './schema.ts';
import { planChanges, plans } from './schema.ts';

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

  /** Newest first; pass the last createdAt as `before` for the next page. */
  async list(
    site: string,
    opts: { limit?: number; before?: Date } = {},
  ): Promise<Array<Omit<StoredPlan<P>, 'plan' | 'changes'>>> {
    const where = opts.before
      ? and(eq(plans.site, site), lt(plans.createdAt, opts.before))
      : eq(plans.site, site);
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
      .where(where)
      .orderBy(desc(plans.createdAt))
      .limit(Math.min(Math.max(opts.limit ?? 50, 1), 500));
    return rows;
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

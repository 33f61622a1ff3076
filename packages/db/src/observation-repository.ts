// Fleet observations: what the poller saw, aggregated per fleet (never per miner).
import { and, desc, eq, gte, lte, sql } from 'drizzle-orm';
import type { Database } from './database.ts';
import { deleteWhere } from './retention.ts';
import { fleetObservations, type FleetObservation } from './schema.ts';

export interface FleetObservationInput {
  site: string;
  fleet: string;
  byState: Record<string, number>;
  hashrateThs: number;
  powerKw: number;
  /** 'measured', 'estimated', 'nameplate', or 'mixed' when several contributed. */
  powerSource: string;
  maxChipTempC: number | null;
  degraded: number;
}

export class ObservationRepository {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** Stores one poll's aggregates in one statement; a repeated (fleet, time) is ignored. */
  async appendFleetObservations(observedAt: Date, rows: readonly FleetObservationInput[]): Promise<number> {
    if (rows.length === 0) return 0;
    const inserted = await this.#db
      .insert(fleetObservations)
      .values(
        rows.map((r) => ({
          observedAt,
          site: r.site,
          fleet: r.fleet,
          minersByState: r.byState,
          hashrateThs: r.hashrateThs,
          powerKw: r.powerKw,
          powerSource: r.powerSource,
          maxChipTempC: r.maxChipTempC,
          degraded: r.degraded,
        })),
      )
      .onConflictDoNothing()
      .returning({ fleet: fleetObservations.fleet });
    return inserted.length;
  }

  /** The newest observation of every fleet (of one site, and no older than `since`, if given). */
  async latestPerFleet(opts: { site?: string; since?: Date } = {}): Promise<FleetObservation[]> {
    return this.#db
      .selectDistinctOn([fleetObservations.fleet])
      .from(fleetObservations)
      .where(
        and(
          opts.site !== undefined ? eq(fleetObservations.site, opts.site) : undefined,
          opts.since ? gte(fleetObservations.observedAt, opts.since) : undefined,
        ),
      )
      .orderBy(fleetObservations.fleet, desc(fleetObservations.observedAt));
  }

  async history(fleet: string, from: Date, to: Date, limit = 10_000): Promise<FleetObservation[]> {
    return this.#db
      .select()
      .from(fleetObservations)
      .where(
        and(
          eq(fleetObservations.fleet, fleet),
          gte(fleetObservations.observedAt, from),
          lte(fleetObservations.observedAt, to),
        ),
      )
      .orderBy(fleetObservations.observedAt)
      .limit(limit);
  }

  /** Drops observations older than `before`, in batches; returns how many. */
  prune(before: Date): Promise<number> {
    return deleteWhere(this.#db, 'fleet_observations', sql`observed_at < ${before}`);
  }
}

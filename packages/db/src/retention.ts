// Retention: the tables that grow with time — fleet observations (one row per fleet per poll),
// signal readings (one per fetch) and settled webhook deliveries — lose their rows older than
// the policy keeps. Deleted in batches (each one short statement, so a large backlog never holds
// a long transaction or loads every row); plans, actions, orders, dispatches and the audit log
// are records and are kept.
import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Database } from './database.ts';

export interface RetentionPolicy {
  /** Days of fleet observations to keep (0: keep all). */
  observationsDays: number;
  /** Days of signal readings to keep (0: keep all). */
  signalsDays: number;
  /** Days of delivered or failed webhook deliveries to keep (0: keep all; pending ones always stay). */
  deliveriesDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  observationsDays: 30,
  signalsDays: 90,
  deliveriesDays: 30,
};

export const RETAINED_TABLES = ['fleet_observations', 'signal_readings', 'webhook_deliveries'] as const;
export type RetainedTable = (typeof RETAINED_TABLES)[number];

const DAY_MS = 86_400_000;

/** Per table: which rows have expired, given the cut-off instant. */
const EXPIRED: Record<RetainedTable, { days: keyof RetentionPolicy; where: (before: Date) => SQL }> = {
  fleet_observations: { days: 'observationsDays', where: (b) => sql`observed_at < ${b}` },
  signal_readings: { days: 'signalsDays', where: (b) => sql`observed_at < ${b}` },
  webhook_deliveries: {
    days: 'deliveriesDays',
    where: (b) => sql`state <> 'pending' and created_at < ${b}`,
  },
};

/**
 * Deletes what the policy no longer keeps, `batch` rows per statement; returns how many rows
 * each table lost. Safe to run from several processes at once (each batch deletes what it finds).
 */
export async function pruneExpired(
  db: Database,
  policy: RetentionPolicy,
  opts: { now?: Date; batch?: number } = {},
): Promise<Record<RetainedTable, number>> {
  const now = (opts.now ?? new Date()).getTime();
  const batch = Math.max(1, Math.trunc(opts.batch ?? 5000));
  const out = { fleet_observations: 0, signal_readings: 0, webhook_deliveries: 0 };
  for (const table of RETAINED_TABLES) {
    const { days, where } = EXPIRED[table];
    const keep = policy[days];
    if (!(keep > 0)) continue;
    out[table] = await deleteWhere(db, table, where(new Date(now - keep * DAY_MS)), batch);
  }
  return out;
}

/**
 * Deletes a table's rows matching `where`, `batch` rows per statement (each one short, never
 * loading the rows); returns how many went.
 */
export async function deleteWhere(db: Database, table: string, where: SQL, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const [r] = await queryRows<{ n: number }>(
      db,
      sql`with gone as (
            delete from ${sql.identifier(table)}
            where ctid = any(array(select ctid from ${sql.identifier(table)} where ${where} limit ${batch}))
            returning 1
          )
          select count(*)::int as n from gone`,
    );
    const n = Number(r?.n ?? 0);
    total += n;
    if (n < batch) return total;
  }
}

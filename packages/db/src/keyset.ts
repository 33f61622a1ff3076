// Keyset pages, newest first by (creation time, id): the cursor is the id of the last row of the
// previous page, and the rows after it are found by comparing in SQL, at the timestamp column's
// own (microsecond) precision, so rows that share a creation time are neither skipped nor
// repeated. A malformed or unknown cursor reads as the end of the list.
import { eq, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Database } from './database.ts';

/** A UUID as the database writes it (any case). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A page size from a caller: a whole number from 1 to `max` (default 50). */
export function pageLimit(limit: number | undefined, max = 500): number {
  return Math.min(Math.max(Math.trunc(limit ?? 50), 1), max);
}

/**
 * The condition for the rows after the cursor's row in (time desc, id desc) order, or null when
 * the cursor is malformed or names no row.
 */
export async function afterCursor(
  db: Database,
  table: PgTable,
  columns: { time: PgColumn; id: PgColumn },
  cursor: string,
): Promise<SQL | null> {
  if (!UUID.test(cursor)) return null;
  const { time, id } = columns;
  const [row] = await db.select({ id }).from(table).where(eq(id, cursor));
  if (!row) return null;
  // The subquery's own FROM shadows the outer table: its columns are the cursor row's.
  return sql`(${time}, ${id}) < (select ${time}, ${id} from ${table} where ${id} = ${cursor})`;
}

/** The first `limit` of `rows` (fetched with one more), and the cursor of the next page. */
export function keysetPage<T extends { id: string }>(
  rows: readonly T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : [...rows];
  return { items, nextCursor: more ? items[items.length - 1]!.id : null };
}

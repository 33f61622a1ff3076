// Opening the database: PostgreSQL through node-postgres when a URL is given, otherwise an
// embedded PGlite (in memory, or in a data directory) for standalone mode and quick tests.
// Both are driven through the same drizzle query API; see the `Database` type below.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Logger as DrizzleLogger, SQLWrapper } from 'drizzle-orm';
import { drizzle as drizzleNodePg, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite, type PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import * as schema from './schema.ts';

export type Schema = typeof schema;

/**
 * The query interface shared by both drivers.
 *
 * NodePgDatabase<Schema> and PgliteDatabase<Schema> both extend PgDatabase<HKT, Schema>, and
 * differ only in the query-result HKT, which decides what the raw `execute()` returns
 * (pg's QueryResult or PGlite's Results). Widening the HKT to the base PgQueryResultHKT keeps
 * select/insert/update/delete/transaction fully typed (their row types come from the schema,
 * not the driver) while `execute()` returns `unknown`, so no caller can silently depend on one
 * driver's raw result shape; use `queryRows` for raw SQL. The widening is an upcast (the HKT
 * only appears in covariant positions), not a cast, so it is checked by the compiler below.
 */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction opened with `db.transaction(...)`. */
export type Transaction = PgTransaction<PgQueryResultHKT, Schema>;
/** Anything queries can run on: the database or a transaction. */
export type Executor = Database | Transaction;

export type DatabaseDriver = 'pg' | 'pglite';

/** The part of a pino-style logger this package uses. */
export interface DatabaseLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface OpenDatabaseOptions {
  /** postgres://... ; when absent an embedded PGlite is used. */
  url?: string | undefined;
  /** PGlite data directory; `memory://` (the default) keeps everything in memory. */
  pgliteDataDir?: string | undefined;
  /**
   * A PGlite instance to use instead of creating one (pgliteDataDir is then ignored), e.g. one
   * created with extensions or loaded by a test runner; the handle owns it and closes it.
   */
  pglite?: PGlite | undefined;
  logger?: DatabaseLogger | undefined;
  /** Log every SQL statement (text only, never parameters) at debug level. */
  logQueries?: boolean | undefined;
  /** node-postgres pool size (default 10). */
  poolMax?: number | undefined;
  /** Per-statement limit on PostgreSQL (default 15 s); migrations run without it. */
  statementTimeoutMs?: number | undefined;
  /** Reported in pg_stat_activity (default "switchyard"). */
  applicationName?: string | undefined;
}

export interface DatabaseHandle {
  readonly db: Database;
  readonly driver: DatabaseDriver;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Ends the pool or closes PGlite. Safe to call more than once. */
  close(): Promise<void>;
}

type Internals =
  | { driver: 'pg'; pool: pg.Pool; db: NodePgDatabase<Schema>; logger: DatabaseLogger | undefined }
  | { driver: 'pglite'; client: PGlite; db: PgliteDatabase<Schema>; logger: DatabaseLogger | undefined };

const internals = new WeakMap<DatabaseHandle, Internals>();
/** Per-handle queue so that migrateDatabase calls on one handle never interleave. */
const migrationQueues = new WeakMap<DatabaseHandle, Promise<unknown>>();

const fallbackLogger: DatabaseLogger = {
  debug: () => {},
  warn: (obj, msg) => console.warn(msg ?? 'database warning', obj),
};

function queryLogger(logger: DatabaseLogger): DrizzleLogger {
  return { logQuery: (query) => logger.debug({ sql: query }, 'sql') };
}

/** Opens PostgreSQL (when `url` is set) or PGlite. PGlite is ready when this resolves. */
export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  const logger = opts.logger;
  const drizzleLogger = logger && opts.logQueries ? queryLogger(logger) : false;

  let inner: Internals;
  let ping: () => Promise<void>;
  let shut: () => Promise<void>;
  if (opts.url) {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolMax ?? 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: opts.statementTimeoutMs ?? 15_000,
      idle_in_transaction_session_timeout: 60_000,
      application_name: opts.applicationName ?? 'switchyard',
    });
    // An idle client whose connection drops emits 'error' on the pool; unhandled, that would
    // crash the process. The pool discards the client and the next query reconnects.
    pool.on('error', (err) => (logger ?? fallbackLogger).warn({ err }, 'idle PostgreSQL connection failed'));
    const db = drizzleNodePg({ client: pool, schema, logger: drizzleLogger });
    inner = { driver: 'pg', pool, db, logger };
    ping = async () => {
      await pool.query('select 1');
    };
    shut = () => pool.end();
  } else {
    const client = opts.pglite ?? new PGlite(opts.pgliteDataDir ?? 'memory://');
    await client.waitReady;
    const db = drizzlePglite({ client, schema, logger: drizzleLogger });
    inner = { driver: 'pglite', client, db, logger };
    ping = async () => {
      await client.query('select 1');
    };
    shut = () => (client.closed ? Promise.resolve() : client.close());
  }

  let closing: Promise<void> | undefined;
  const handle: DatabaseHandle = {
    // Upcast to the shared interface; see `Database`.
    db: inner.db satisfies Database,
    driver: inner.driver,
    ping,
    close: () => (closing ??= shut()),
  };
  internals.set(handle, inner);
  return handle;
}

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<T extends Record<string, unknown> = Record<string, unknown>>(
  db: Executor,
  query: SQLWrapper | string,
): Promise<T[]> {
  // pg's QueryResult and PGlite's Results both carry the rows in `rows`.
  const result = (await db.execute<T>(query)) as { rows?: T[] } | undefined;
  if (!result || !Array.isArray(result.rows)) throw new Error('unexpected raw query result: no rows array');
  return result.rows;
}

// ---------------------------------------------------------------- migrations

const JOURNAL = path.join('meta', '_journal.json');

function isMigrationsFolder(dir: string): boolean {
  return existsSync(path.join(dir, JOURNAL));
}

/**
 * The repository's top-level migrations/ folder. Found relative to this source file
 * (import.meta.dirname under Node; jest's CommonJS transform turns that into __dirname),
 * else by walking up from the working directory, for layouts that move the source.
 */
export function defaultMigrationsFolder(): string {
  const tried: string[] = [];
  const here: unknown = import.meta.dirname;
  if (typeof here === 'string') {
    const dir = path.resolve(here, '..', '..', '..', 'migrations');
    if (isMigrationsFolder(dir)) return dir;
    tried.push(dir);
  }
  for (let dir = process.cwd(); ;) {
    const candidate = path.join(dir, 'migrations');
    if (isMigrationsFolder(candidate)) return candidate;
    tried.push(candidate);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`no migrations folder (with ${JOURNAL}) found; looked in ${tried.join(', ')}`);
}

export interface MigrateOptions {
  /** Defaults to defaultMigrationsFolder(). */
  migrationsFolder?: string | undefined;
}

// Arbitrary, fixed 63-bit key for the advisory lock that serialises migrators across processes.
const MIGRATION_LOCK_KEY = '7345112905331201';

/**
 * Applies pending migrations. Applied ones are recorded in drizzle.__drizzle_migrations and
 * skipped, so running it again is a no-op. On PostgreSQL a session advisory lock makes
 * concurrent migrators (several replicas starting at once) take turns; the later ones find
 * nothing left to do. Calls on the same handle are queued.
 */
export async function migrateDatabase(handle: DatabaseHandle, opts: MigrateOptions = {}): Promise<void> {
  const inner = internals.get(handle);
  if (!inner) throw new Error('migrateDatabase: not a handle returned by openDatabase');
  const migrationsFolder = opts.migrationsFolder ?? defaultMigrationsFolder();
  if (!isMigrationsFolder(migrationsFolder))
    throw new Error(`${migrationsFolder} is not a migrations folder (no ${JOURNAL})`);

  const previous = migrationQueues.get(handle) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => migrateOnce(inner, migrationsFolder));
  migrationQueues.set(handle, run);
  await run;
}

async function migrateOnce(inner: Internals, migrationsFolder: string): Promise<void> {
  const started = Date.now();
  if (inner.driver === 'pglite') {
    // One PGlite instance is one connection owned by this process: the queue is enough.
    await migratePglite(inner.db, { migrationsFolder });
  } else {
    const client = await inner.pool.connect();
    try {
      // Migrations may legitimately outlast the pool's statement timeout (index builds);
      // waiting for another migrator is bounded by lock_timeout instead.
      await client.query('set statement_timeout = 0');
      await client.query("set lock_timeout = '5min'");
      await client.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      try {
        await migrateNodePg(drizzleNodePg({ client, schema }), { migrationsFolder });
      } finally {
        await client.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
      }
    } finally {
      // Discard this connection rather than return it: the session settings above must not
      // leak into the pool (and closing it also frees the lock if unlocking failed).
      client.release(true);
    }
  }
  inner.logger?.debug(
    { driver: inner.driver, migrationsFolder, ms: Date.now() - started },
    'migrations applied',
  );
}

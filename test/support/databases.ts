// Per-file databases for integration tests. scripts/test starts a private PostgreSQL and
// exports DATABASE_URL; each test file creates its own database from it, so parallel jest
// workers never see each other's rows, and drops it afterwards.
import { randomBytes } from 'node:crypto';
import { migrateDatabase, openDatabase, type DatabaseDriver, type DatabaseHandle } from '@switchyard/db';

export interface TestDatabase {
  /** Connection URL of the new, empty database. */
  url: string;
  /** Drops the database, disconnecting anything still connected. Safe to call twice. */
  drop(): Promise<void>;
}

export function requireDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run tests through ./scripts/test');
  return url;
}

async function withAdmin<T>(fn: (admin: DatabaseHandle) => Promise<T>): Promise<T> {
  const admin = await openDatabase({
    url: requireDatabaseUrl(),
    poolMax: 1,
    applicationName: 'switchyard-tests',
  });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** Creates an empty database named sy_test_<random> on the server DATABASE_URL points at. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = requireDatabaseUrl();
  const name = `sy_test_${randomBytes(8).toString('hex')}`;
  // The name is generated above from [a-z0-9_] only, so quoting it is enough.
  await withAdmin((admin) => admin.db.execute(`create database "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () =>
      (dropped ??= withAdmin(async (admin) => {
        await admin.db.execute(`drop database if exists "${name}" with (force)`);
      })),
  };
}

/** Opens an (unmigrated) PGlite database, in memory unless a data directory is given. */
export async function openPgliteDatabase(dataDir = 'memory://'): Promise<DatabaseHandle> {
  // Jest must run with --experimental-vm-modules (scripts/test sets it): PGlite loads Node
  // built-ins with a dynamic import(), which jest's sandbox refuses otherwise.
  return openDatabase({ pgliteDataDir: dataDir });
}

export interface MigratedDatabase {
  handle: DatabaseHandle;
  /** Closes the handle and, for PostgreSQL, drops the database. */
  cleanup(): Promise<void>;
}

/**
 * A migrated database on the given driver: a fresh PostgreSQL database (needs DATABASE_URL)
 * or an in-memory PGlite.
 */
export async function openMigratedDatabase(driver: DatabaseDriver): Promise<MigratedDatabase> {
  if (driver === 'pglite') {
    const handle = await openPgliteDatabase();
    try {
      await migrateDatabase(handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return { handle, cleanup: () => handle.close() };
  }
  const testDb = await createTestDatabase();
  let handle: DatabaseHandle | undefined;
  try {
    handle = await openDatabase({ url: testDb.url });
    await migrateDatabase(handle);
  } catch (err) {
    await handle?.close();
    await testDb.drop();
    throw err;
  }
  const opened = handle;
  return {
    handle: opened,
    cleanup: async () => {
      await opened.close();
      await testDb.drop();
    },
  };
}

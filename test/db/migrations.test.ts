// The committed migrations build the whole schema on PostgreSQL and on PGlite, applying them
// again (or from several migrators at once) changes nothing, and the constraints hold.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as dbPackage from '@switchyard/db';
import {
  defaultMigrationsFolder,
  migrateDatabase,
  openDatabase,
  queryRows,
  sql,
  type DatabaseDriver,
  type DatabaseHandle,
  type Executor,
} from '@switchyard/db';
import {
  createTestDatabase,
  openMigratedDatabase,
  type MigratedDatabase,
  type TestDatabase,
} from '../support/databases.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const MIGRATIONS = path.join(ROOT, 'migrations');
const DB_INDEX = path.join(ROOT, 'packages', 'db', 'src', 'index.ts');

const EXPECTED_TABLES = [
  'actions',
  'api_keys',
  'audit_log',
  'brokers',
  'fleet_observations',
  'grid_dispatches',
  'inventory_resources',
  'inventory_snapshots',
  'order_events',
  'orders',
  'overrides',
  'plan_changes',
  'plans',
  'policy_versions',
  'quotes',
  'signal_readings',
  'webhook_deliveries',
  'webhooks',
];

const journal = JSON.parse(readFileSync(path.join(MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as {
  entries: { tag: string }[];
};

async function publicTables(db: Executor): Promise<string[]> {
  const rows = await queryRows<{ table_name: string }>(
    db,
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  );
  return rows.map((r) => r.table_name);
}

async function appliedMigrations(db: Executor): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    db,
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return row!.n;
}

/** Columns, constraints and indexes of the public schema, as one comparable list. */
async function schemaFingerprint(db: Executor): Promise<string[]> {
  const columns = await queryRows<{ f: string }>(
    db,
    sql`select table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(column_default, '') as f
        from information_schema.columns where table_schema = 'public'`,
  );
  const constraints = await queryRows<{ f: string }>(
    db,
    sql`select conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid) as f
        from pg_constraint where connamespace = 'public'::regnamespace`,
  );
  const indexes = await queryRows<{ f: string }>(
    db,
    sql`select indexdef as f from pg_indexes where schemaname = 'public'`,
  );
  return [...columns, ...constraints, ...indexes].map((r) => r.f).sort();
}

interface DrizzleColumnLike {
  name: string;
  notNull: boolean;
  getSQLType(): string;
}

/** "table.column type [not null]" for every column of every table the db package exports. */
function schemaColumns(): string[] {
  const out: string[] = [];
  for (const value of Object.values(dbPackage)) {
    if (!value || typeof value !== 'object') continue;
    const table = value as unknown as Record<symbol, unknown>;
    if (table[Symbol.for('drizzle:IsDrizzleTable')] !== true) continue;
    const name = table[Symbol.for('drizzle:Name')] as string;
    for (const c of Object.values(
      table[Symbol.for('drizzle:Columns')] as Record<string, DrizzleColumnLike>,
    )) {
      out.push(`${name}.${c.name} ${c.getSQLType().replace(/,\s+/g, ',')}${c.notNull ? ' not null' : ''}`);
    }
  }
  return out.sort();
}

async function databaseColumns(db: Executor): Promise<string[]> {
  const rows = await queryRows<{ f: string }>(
    db,
    sql`select c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || case when a.attnotnull then ' not null' else '' end as f
        from pg_attribute a join pg_class c on c.oid = a.attrelid
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`,
  );
  return rows.map((r) => r.f).sort();
}

describe('migrations folder', () => {
  test('the journal lists the initial migration and every entry has its SQL file', () => {
    expect(journal.entries.length).toBeGreaterThanOrEqual(1);
    expect(journal.entries[0]!.tag).toBe('0000_initial');
    for (const e of journal.entries)
      expect(readFileSync(path.join(MIGRATIONS, `${e.tag}.sql`), 'utf8')).toMatch(/CREATE TABLE/i);
  });

  test('is found relative to the source under jest (CommonJS), whatever the working directory', () => {
    const cwd = process.cwd();
    process.chdir(os.tmpdir());
    try {
      expect(defaultMigrationsFolder()).toBe(MIGRATIONS);
    } finally {
      process.chdir(cwd);
    }
  });

  test('is found and applied under plain Node (native ESM, .ts run directly)', async () => {
    const script = `
      import { defaultMigrationsFolder, migrateDatabase, openDatabase, queryRows, sql } from ${JSON.stringify(pathToFileURL(DB_INDEX).href)};
      const h = await openDatabase();
      await migrateDatabase(h);
      const rows = await queryRows(h.db, sql\`select table_name from information_schema.tables where table_schema = 'public' order by 1\`);
      await h.close();
      process.stdout.write(JSON.stringify({ folder: defaultMigrationsFolder(), tables: rows.map((r) => r.table_name) }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '--no-warnings', '-e', script],
      {
        cwd: os.tmpdir(),
        timeout: 60_000,
      },
    );
    const out = JSON.parse(stdout) as { folder: string; tables: string[] };
    expect(out.folder).toBe(MIGRATIONS);
    expect(out.tables).toEqual(EXPECTED_TABLES);
  }, 60_000);
});

describe.each<DatabaseDriver>(['pg', 'pglite'])('migrations on %s', (driver) => {
  let m: MigratedDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
    handle = m.handle;
  });
  afterAll(async () => {
    await m?.cleanup();
  });

  test('uses the requested driver and answers pings', async () => {
    expect(handle.driver).toBe(driver);
    await expect(handle.ping()).resolves.toBeUndefined();
  });

  test('create every table', async () => {
    expect(await publicTables(handle.db)).toEqual(EXPECTED_TABLES);
    expect(await appliedMigrations(handle.db)).toBe(journal.entries.length);
  });

  test('match the drizzle schema column for column (no schema change without a migration)', async () => {
    const expected = schemaColumns();
    expect(expected.length).toBeGreaterThan(100);
    expect(await databaseColumns(handle.db)).toEqual(expected);
  });

  test('applying them again is a no-op', async () => {
    const before = await schemaFingerprint(handle.db);
    await migrateDatabase(handle);
    await migrateDatabase(handle);
    expect(await appliedMigrations(handle.db)).toBe(journal.entries.length);
    expect(await schemaFingerprint(handle.db)).toEqual(before);
  });

  test('a folder without a journal is refused', async () => {
    await expect(migrateDatabase(handle, { migrationsFolder: os.tmpdir() })).rejects.toThrow(
      /not a migrations folder/,
    );
  });

  test('concurrent calls on one handle are queued', async () => {
    await Promise.all([migrateDatabase(handle), migrateDatabase(handle), migrateDatabase(handle)]);
    expect(await appliedMigrations(handle.db)).toBe(journal.entries.length);
  });

  test('check constraints reject values outside the enumerations', async () => {
    const db = handle.db;
    await expect(
      db.execute(sql`insert into brokers (name, kind) values ('b-bad', 'storage')`),
    ).rejects.toThrow();
    await db.execute(sql`insert into brokers (name, kind) values ('b-ok', 'compute')`);
    // A broker role needs a broker, and an operator key must not have one.
    await expect(
      db.execute(
        sql`insert into api_keys (prefix, secret_hash, role) values ('sy_a', 'h', 'compute-broker')`,
      ),
    ).rejects.toThrow();
    await expect(
      db.execute(
        sql`insert into api_keys (prefix, secret_hash, role, broker_id) select 'sy_b', 'h', 'operator', id from brokers where name = 'b-ok'`,
      ),
    ).rejects.toThrow();
    await db.execute(
      sql`insert into api_keys (prefix, secret_hash, role, broker_id) select 'sy_c', 'h', 'compute-broker', id from brokers where name = 'b-ok'`,
    );
    await db.execute(sql`insert into api_keys (prefix, secret_hash, role) values ('sy_d', 'h', 'viewer')`);
    await expect(
      db.execute(sql`insert into orders (broker_id, state, tier, gpu_models, gpu_count, max_usd_per_gpu_hour, image)
                     select id, 'lost', 'reserved', array['H100-SXM-80GB'], 8, 2.5, 'img' from brokers where name = 'b-ok'`),
    ).rejects.toThrow();
    await db.execute(sql`insert into orders (broker_id, idempotency_key, tier, gpu_models, gpu_count, max_usd_per_gpu_hour, image)
                         select id, 'k1', 'interruptible', array['H100-SXM-80GB'], 8, 2.5, 'img' from brokers where name = 'b-ok'`);
    // The idempotency key is unique per broker.
    await expect(
      db.execute(sql`insert into orders (broker_id, idempotency_key, tier, gpu_models, gpu_count, max_usd_per_gpu_hour, image)
                     select id, 'k1', 'interruptible', array['H100-SXM-80GB'], 8, 2.5, 'img' from brokers where name = 'b-ok'`),
    ).rejects.toThrow();
    const [order] = await queryRows<{ state: string; args: unknown; max: string }>(
      db,
      sql`select state, args, max_usd_per_gpu_hour::text as max from orders where idempotency_key = 'k1'`,
    );
    expect(order).toEqual({ state: 'pending', args: [], max: '2.5000' });
  });
});

describe('concurrent migrators on one PostgreSQL database', () => {
  let testDb: TestDatabase | undefined;
  const handles: DatabaseHandle[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    for (const h of handles) await h.close();
    await testDb?.drop();
  });

  test('take turns: every one succeeds and each migration is applied once', async () => {
    for (let i = 0; i < 4; i++) handles.push(await openDatabase({ url: testDb!.url, poolMax: 2 }));
    await Promise.all(handles.map((h) => migrateDatabase(h)));
    expect(await publicTables(handles[0]!.db)).toEqual(EXPECTED_TABLES);
    expect(await appliedMigrations(handles[0]!.db)).toBe(journal.entries.length);
  });
});

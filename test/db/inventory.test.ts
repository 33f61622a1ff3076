// Inventory snapshots on PostgreSQL and PGlite: the example farm round-trips unchanged, an
// unchanged inventory is stored once, a change makes a new snapshot, and a failed save leaves
// nothing behind.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  INVENTORY_KINDS,
  InventoryRepository,
  canonicalJson,
  migrateDatabase,
  inventoryContentHash,
  queryRows,
  sql,
  type DatabaseDriver,
  type DatabaseHandle,
} from '@switchyard/db';
import {
  RESOURCE_KINDS,
  farmResources,
  parseFarmYaml,
  validateFarmResources,
  type FarmResource,
} from '@switchyard/domain';
import { openMigratedDatabase, openPgliteDatabase, type MigratedDatabase } from '../support/databases.ts';

const EXAMPLE = path.resolve(import.meta.dirname, '..', '..', 'examples', 'farm.yaml');
const SOURCE = 'file:examples/farm.yaml';

function exampleResources(): FarmResource[] {
  const parsed = parseFarmYaml(readFileSync(EXAMPLE, 'utf8'));
  if (!parsed.ok) throw new Error(`examples/farm.yaml does not parse: ${JSON.stringify(parsed.issues)}`);
  return farmResources(parsed.farm);
}

/** The example farm with one fleet's miner count changed. */
function changedResources(count: number): FarmResource[] {
  return exampleResources().map((r) =>
    r.kind === 'MinerFleet' && r.metadata.name === 'rack-b2'
      ? { ...r, spec: { ...r.spec, endpoints: { ...r.spec.endpoints, count } } }
      : r,
  );
}

async function countRows(handle: DatabaseHandle): Promise<{ snapshots: number; resources: number }> {
  const [row] = await queryRows<{ snapshots: number; resources: number }>(
    handle.db,
    sql`select (select count(*)::int from inventory_snapshots) as snapshots, (select count(*)::int from inventory_resources) as resources`,
  );
  return row!;
}

/** Messages of an error and its causes (drizzle wraps driver errors in DrizzleQueryError). */
function causeMessages(err: unknown): string[] {
  const out: string[] = [];
  for (let e = err; e && typeof e === 'object' && out.length < 10; e = (e as { cause?: unknown }).cause) {
    out.push(String((e as { message?: unknown }).message));
  }
  return out;
}

test('the snapshot kind order covers exactly the domain resource kinds', () => {
  expect([...INVENTORY_KINDS].sort()).toEqual([...RESOURCE_KINDS].sort());
});

test('the example farm is already in snapshot order, so farmResources() is what latest() returns', () => {
  const resources = exampleResources();
  expect(resources.map((r) => r.kind)).toEqual([
    'Site',
    'AllocationPolicy',
    ...Array<string>(17).fill('MinerFleet'),
    'GpuPool',
    'GpuPool',
  ]);
  expect(inventoryContentHash([...resources].reverse())).toBe(inventoryContentHash(resources));
});

describe.each<DatabaseDriver>(['pg', 'pglite'])('inventory snapshots on %s', (driver) => {
  let m: MigratedDatabase;
  let handle: DatabaseHandle;
  let repo: InventoryRepository;

  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
    handle = m.handle;
    repo = new InventoryRepository(handle.db);
  });
  afterAll(async () => {
    await m?.cleanup();
  });
  beforeEach(async () => {
    await handle.db.execute(sql`drop trigger if exists fail_midway on inventory_resources`);
    await handle.db.execute(sql`truncate inventory_snapshots, inventory_resources restart identity`);
  });

  test('latest() is undefined before anything was saved', async () => {
    expect(await repo.latest()).toBeUndefined();
  });

  test('the example farm round-trips unchanged', async () => {
    const resources = exampleResources();
    const saved = await repo.saveSnapshot(resources, SOURCE);
    expect(saved.created).toBe(true);
    expect(saved.contentHash).toMatch(/^[0-9a-f]{64}$/);

    const latest = await repo.latest();
    expect(latest).toBeDefined();
    expect(latest!.id).toBe(saved.id);
    expect(latest!.source).toBe(SOURCE);
    expect(latest!.contentHash).toBe(saved.contentHash);
    expect(latest!.takenAt).toBeInstanceOf(Date);
    expect(Math.abs(latest!.takenAt.getTime() - Date.now())).toBeLessThan(60_000);
    expect(latest!.resources).toEqual(exampleResources());
    // Byte-identical canonical form: no value changed type or precision on the way.
    expect(canonicalJson(latest!.resources)).toBe(canonicalJson(resources));
    expect(inventoryContentHash(latest!.resources)).toBe(saved.contentHash);
    // What comes back still passes the domain's own validation, to the same farm.
    const revalidated = validateFarmResources(latest!.resources);
    expect(revalidated.ok).toBe(true);
    if (revalidated.ok) expect(farmResources(revalidated.farm)).toEqual(resources);

    expect(await countRows(handle)).toEqual({ snapshots: 1, resources: resources.length });
    const [row] = await queryRows<{ resource_count: number }>(
      handle.db,
      sql`select resource_count from inventory_snapshots`,
    );
    expect(row!.resource_count).toBe(resources.length);
  });

  test('saving the same inventory twice (in any order) creates one snapshot', async () => {
    const first = await repo.saveSnapshot(exampleResources(), SOURCE);
    const second = await repo.saveSnapshot(exampleResources(), 'crd');
    const shuffled = await repo.saveSnapshot([...exampleResources()].reverse(), SOURCE);
    expect(first.created).toBe(true);
    expect(second).toEqual({ id: first.id, contentHash: first.contentHash, created: false });
    expect(shuffled).toEqual({ id: first.id, contentHash: first.contentHash, created: false });
    expect(await countRows(handle)).toEqual({ snapshots: 1, resources: exampleResources().length });
    expect((await repo.latest())!.source).toBe(SOURCE);
  });

  test('a changed inventory creates a second snapshot; the first stays readable', async () => {
    const first = await repo.saveSnapshot(exampleResources(), SOURCE);
    const second = await repo.saveSnapshot(changedResources(599), SOURCE);
    expect(second.created).toBe(true);
    expect(second.id).toBeGreaterThan(first.id);
    expect(second.contentHash).not.toBe(first.contentHash);

    const latest = await repo.latest();
    expect(latest!.id).toBe(second.id);
    expect(latest!.resources).toEqual(changedResources(599));
    const fleet = latest!.resources.find((r) => r.kind === 'MinerFleet' && r.metadata.name === 'rack-b2');
    expect(fleet?.kind === 'MinerFleet' ? fleet.spec.endpoints.count : undefined).toBe(599);
    expect((await repo.get(first.id))!.resources).toEqual(exampleResources());
    expect(await repo.get(first.id + 1000)).toBeUndefined();

    // Changing back is a change too: the latest snapshot differs, so a third one is written.
    const third = await repo.saveSnapshot(exampleResources(), SOURCE);
    expect(third.created).toBe(true);
    expect(third.contentHash).toBe(first.contentHash);
    expect((await countRows(handle)).snapshots).toBe(3);
  });

  test('a save failing mid-way leaves no partial snapshot', async () => {
    const first = await repo.saveSnapshot(exampleResources(), SOURCE);
    // Fail on the last fleet, after the snapshot row and the resources before it were inserted.
    await handle.db.execute(sql`
      create or replace function fail_midway() returns trigger language plpgsql as $$
      begin
        if new.name = 'rack-d3' then raise exception 'injected failure at %', new.name; end if;
        return new;
      end $$`);
    await handle.db.execute(
      sql`create trigger fail_midway after insert on inventory_resources for each row execute function fail_midway()`,
    );
    const failure = await repo.saveSnapshot(changedResources(111), SOURCE).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(causeMessages(failure)).toContainEqual(expect.stringMatching(/injected failure at rack-d3/));

    expect(await countRows(handle)).toEqual({ snapshots: 1, resources: exampleResources().length });
    const latest = await repo.latest();
    expect(latest!.id).toBe(first.id);
    expect(latest!.resources).toEqual(exampleResources());

    // Once the cause is gone the same save succeeds, with every resource.
    await handle.db.execute(sql`drop trigger fail_midway on inventory_resources`);
    const retried = await repo.saveSnapshot(changedResources(111), SOURCE);
    expect(retried.created).toBe(true);
    expect((await repo.latest())!.resources).toEqual(changedResources(111));
  });

  test('duplicate resources are refused before anything is written', async () => {
    const resources = exampleResources();
    await expect(repo.saveSnapshot([...resources, resources[5]!], SOURCE)).rejects.toThrow(
      /two MinerFleet resources named "rack-a4"/,
    );
    expect(await countRows(handle)).toEqual({ snapshots: 0, resources: 0 });
  });

  test('concurrent saves of the same new inventory write one snapshot', async () => {
    await repo.saveSnapshot(exampleResources(), SOURCE);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => repo.saveSnapshot(changedResources(42), SOURCE)),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect((await countRows(handle)).snapshots).toBe(2);
  });

  test('an empty inventory is a valid snapshot', async () => {
    const saved = await repo.saveSnapshot([], SOURCE);
    expect(saved.created).toBe(true);
    expect((await repo.latest())!.resources).toEqual([]);
    expect((await repo.saveSnapshot([], SOURCE)).created).toBe(false);
  });
});

describe('a PGlite data directory', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-pglite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('keeps snapshots across close and reopen; migrating again changes nothing', async () => {
    const first = await openPgliteDatabase(dir);
    await migrateDatabase(first);
    const saved = await new InventoryRepository(first.db).saveSnapshot(exampleResources(), SOURCE);
    await first.close();
    await first.close(); // idempotent

    const second = await openPgliteDatabase(dir);
    try {
      await migrateDatabase(second);
      const repo = new InventoryRepository(second.db);
      const latest = await repo.latest();
      expect(latest?.id).toBe(saved.id);
      expect(latest?.resources).toEqual(exampleResources());
      expect((await repo.saveSnapshot(exampleResources(), SOURCE)).created).toBe(false);
    } finally {
      await second.close();
    }
  });
});

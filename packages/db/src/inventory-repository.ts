// Inventory snapshots: the farm's resources (sites, policies, fleets, pools) as last loaded.
// A snapshot is written only when the content changed since the latest one, so reloading an
// unchanged farm file or CRD set costs one read.
import type { FarmResource } from '@switchyard/domain';
import { desc, eq, sql } from 'drizzle-orm';
import { canonicalHash } from './canonical-json.ts';
import type { Database } from './database.ts';
import { INVENTORY_KINDS, inventoryResources, inventorySnapshots, type InventoryKind } from './schema.ts';

export interface SavedSnapshot {
  id: number;
  contentHash: string;
  /** False when the latest snapshot already had this content and nothing was written. */
  created: boolean;
}

export interface InventorySnapshotRecord {
  id: number;
  takenAt: Date;
  source: string;
  contentHash: string;
  /** In snapshot order: Site, AllocationPolicy, MinerFleet, GpuPool, then by name. */
  resources: FarmResource[];
}

/** Rows per INSERT for the resources of one snapshot (5 parameters each). */
const INSERT_CHUNK = 500;

const KIND_RANK = new Map<string, number>(INVENTORY_KINDS.map((k, i) => [k, i]));

function rank(kind: string): number {
  const r = KIND_RANK.get(kind);
  if (r === undefined) throw new Error(`unknown resource kind ${JSON.stringify(kind)}`);
  return r;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Resources in snapshot order (kind order, then name by code point). Does not mutate. */
export function sortResources<T extends { kind: string; metadata: { name: string } }>(
  resources: readonly T[],
): T[] {
  return [...resources].sort(
    (a, b) => rank(a.kind) - rank(b.kind) || compareNames(a.metadata.name, b.metadata.name),
  );
}

/** The content hash a snapshot of these resources gets; independent of their order. */
export function inventoryContentHash(resources: readonly FarmResource[]): string {
  return canonicalHash(sortResources(resources));
}

export class InventoryRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Stores the resources as a new snapshot, in one transaction, unless the latest snapshot
   * has the same content. Concurrent savers are serialised by a table lock, so two processes
   * loading the same farm produce one snapshot.
   */
  async saveSnapshot(resources: readonly FarmResource[], source: string): Promise<SavedSnapshot> {
    const ordered = sortResources(resources);
    for (let i = 1; i < ordered.length; i++) {
      const prev = ordered[i - 1]!;
      const cur = ordered[i]!;
      if (prev.kind === cur.kind && prev.metadata.name === cur.metadata.name) {
        throw new Error(`inventory has two ${cur.kind} resources named ${JSON.stringify(cur.metadata.name)}`);
      }
    }
    const contentHash = canonicalHash(ordered);

    return this.#db.transaction(async (tx) => {
      // Blocks other writers of snapshots (this mode conflicts with itself) but not readers.
      await tx.execute(sql`lock table ${inventorySnapshots} in share row exclusive mode`);
      const [latest] = await tx
        .select({ id: inventorySnapshots.id, contentHash: inventorySnapshots.contentHash })
        .from(inventorySnapshots)
        .orderBy(desc(inventorySnapshots.id))
        .limit(1);
      if (latest && latest.contentHash === contentHash) return { id: latest.id, contentHash, created: false };

      const [snapshot] = await tx
        .insert(inventorySnapshots)
        .values({ source, contentHash, resourceCount: ordered.length })
        .returning({ id: inventorySnapshots.id });
      if (!snapshot) throw new Error('inserting the inventory snapshot returned no row');
      for (let i = 0; i < ordered.length; i += INSERT_CHUNK) {
        await tx.insert(inventoryResources).values(
          ordered.slice(i, i + INSERT_CHUNK).map((r) => ({
            snapshotId: snapshot.id,
            kind: r.kind as InventoryKind,
            name: r.metadata.name,
            apiVersion: r.apiVersion,
            document: r,
          })),
        );
      }
      return { id: snapshot.id, contentHash, created: true };
    });
  }

  /** The most recent snapshot, or undefined when none was ever saved. */
  async latest(): Promise<InventorySnapshotRecord | undefined> {
    const [snapshot] = await this.#db
      .select()
      .from(inventorySnapshots)
      .orderBy(desc(inventorySnapshots.id))
      .limit(1);
    return snapshot ? this.#withResources(snapshot) : undefined;
  }

  /** A snapshot by id, or undefined. */
  async get(id: number): Promise<InventorySnapshotRecord | undefined> {
    const [snapshot] = await this.#db.select().from(inventorySnapshots).where(eq(inventorySnapshots.id, id));
    return snapshot ? this.#withResources(snapshot) : undefined;
  }

  /** Snapshots are immutable once committed, so reading the resources separately is consistent. */
  async #withResources(snapshot: typeof inventorySnapshots.$inferSelect): Promise<InventorySnapshotRecord> {
    const rows = await this.#db
      .select({
        kind: inventoryResources.kind,
        name: inventoryResources.name,
        document: inventoryResources.document,
      })
      .from(inventoryResources)
      .where(eq(inventoryResources.snapshotId, snapshot.id));
    // Stored documents were validated FarmResources when saved; they are returned as stored.
    // Callers that distrust the database can re-check them with validateFarmResources.
    const resources = rows
      .sort((a, b) => rank(a.kind) - rank(b.kind) || compareNames(a.name, b.name))
      .map((r) => r.document as FarmResource);
    return {
      id: snapshot.id,
      takenAt: snapshot.takenAt,
      source: snapshot.source,
      contentHash: snapshot.contentHash,
      resources,
    };
  }
}

// Allocation policy versions set through the API: one row per change, never updated. The newest
// version of a site replaces the farm file's AllocationPolicy spec for that site; the rows
// before it are the history. The spec is stored as given (the API validates it first).
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Database } from './database.ts';
import { policyVersions } from './schema.ts';

export interface PolicyVersionRecord {
  id: number;
  site: string;
  spec: Record<string, unknown>;
  /** Who set it: the API key's prefix. */
  createdBy: string;
  createdAt: Date;
}

export interface SavePolicyInput {
  site: string;
  spec: Record<string, unknown>;
  createdBy: string;
}

export interface PolicyVersionPage {
  items: PolicyVersionRecord[];
  /** Pass as `cursor` for the next (older) page; null on the last. */
  nextCursor: string | null;
}

const toRecord = (r: typeof policyVersions.$inferSelect): PolicyVersionRecord => ({
  id: r.id,
  site: r.site,
  spec: r.spec as Record<string, unknown>,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
});

export class PolicyRepository {
  readonly #db: Database;
  /** `db` may be a transaction, so the version commits together with its audit entry. */
  constructor(db: Database) {
    this.#db = db;
  }

  async save(input: SavePolicyInput): Promise<PolicyVersionRecord> {
    if (typeof input.site !== 'string' || input.site.length === 0)
      throw new RangeError('a policy version needs a site');
    if (input.spec === null || typeof input.spec !== 'object' || Array.isArray(input.spec))
      throw new RangeError('a policy spec must be an object');
    const [row] = await this.#db
      .insert(policyVersions)
      .values({ site: input.site, spec: input.spec, createdBy: input.createdBy })
      .returning();
    if (!row) throw new Error('policy version insert returned no row');
    return toRecord(row);
  }

  /** The site's newest version, or undefined when the API never set one. */
  async latest(site: string): Promise<PolicyVersionRecord | undefined> {
    const [row] = await this.#db
      .select()
      .from(policyVersions)
      .where(eq(policyVersions.site, site))
      .orderBy(desc(policyVersions.id))
      .limit(1);
    return row ? toRecord(row) : undefined;
  }

  /** The site's versions, newest first, a page at a time; an invalid cursor reads as the end. */
  async list(site: string, opts: { limit?: number; cursor?: string } = {}): Promise<PolicyVersionPage> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 50), 1), 500);
    let before: number | undefined;
    if (opts.cursor !== undefined) {
      if (!/^[1-9]\d{0,15}$/.test(opts.cursor)) return { items: [], nextCursor: null };
      before = Number(opts.cursor);
    }
    const rows = await this.#db
      .select()
      .from(policyVersions)
      .where(
        and(eq(policyVersions.site, site), before !== undefined ? lt(policyVersions.id, before) : undefined),
      )
      .orderBy(desc(policyVersions.id))
      .limit(limit + 1);
    const more = rows.length > limit;
    const page = (more ? rows.slice(0, limit) : rows).map(toRecord);
    return { items: page, nextCursor: more ? String(page[page.length - 1]!.id) : null };
  }
}

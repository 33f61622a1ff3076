// The audit log: who changed what, through which key, for which request. Entries are only ever
// appended. The actor is the API key's prefix (or 'cli' / 'system' for writes made without one);
// the key's id and broker are read back by joining api_keys on the prefix, which is unique and
// never reused (keys are revoked, never deleted).
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { Database } from './database.ts';
import { apiKeys, auditLog } from './schema.ts';

const MAX_ACTION_LENGTH = 100;
const MAX_TEXT_LENGTH = 200;

export interface AuditEntryInput {
  /** The API key's prefix, or 'cli' / 'system'. */
  actor: string;
  /** The key's role when the actor is a key; 'system' otherwise. */
  role: string;
  /** Dotted verb: 'key.create', 'dispatch.cancel', ... */
  action: string;
  /** What it acted on: 'key:<id>', 'broker:<id>', 'dispatch:<id>'. */
  target?: string | null;
  detail?: Record<string, unknown> | null;
  requestId?: string | null;
}

export interface AuditRecord {
  /** A string: the identity column counts past 2^53 in principle, and it is the page cursor. */
  id: string;
  at: Date;
  actor: string;
  role: string;
  /** The actor's key and broker, when the actor is a key. */
  keyId: string | null;
  brokerId: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
  requestId: string | null;
}

export interface ListAuditOptions {
  /** 1..500, default 50. */
  limit?: number;
  /** The `nextCursor` of the previous page: only entries older than it. */
  cursor?: string;
  actor?: string;
  action?: string;
  target?: string;
}

export interface AuditPage {
  items: AuditRecord[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

const clip = (s: string | null | undefined, n: number) => (s == null ? null : s.slice(0, n));

export class AuditRepository {
  readonly #db: Database;
  /** `db` may be a transaction, so the entry commits (or not) with the change it records. */
  constructor(db: Database) {
    this.#db = db;
  }

  async append(entry: AuditEntryInput): Promise<AuditRecord> {
    const [row] = await this.#db
      .insert(auditLog)
      .values({
        actor: clip(entry.actor, MAX_TEXT_LENGTH)!,
        role: clip(entry.role, MAX_TEXT_LENGTH)!,
        action: clip(entry.action, MAX_ACTION_LENGTH)!,
        target: clip(entry.target, MAX_TEXT_LENGTH),
        detail: entry.detail ?? null,
        requestId: clip(entry.requestId, MAX_TEXT_LENGTH),
      })
      .returning({ id: auditLog.id });
    if (!row) throw new Error('audit insert returned no row');
    const [record] = await this.#select(eq(auditLog.id, row.id), 1);
    return record!;
  }

  /** Newest first, a page at a time. An invalid cursor reads as the end of the log. */
  async list(opts: ListAuditOptions = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 50), 1), 500);
    const where: SQL[] = [];
    if (opts.cursor !== undefined) {
      if (!/^[1-9]\d{0,15}$/.test(opts.cursor)) return { items: [], nextCursor: null };
      where.push(lt(auditLog.id, Number(opts.cursor)));
    }
    if (opts.actor !== undefined) where.push(eq(auditLog.actor, opts.actor));
    if (opts.action !== undefined) where.push(eq(auditLog.action, opts.action));
    if (opts.target !== undefined) where.push(eq(auditLog.target, opts.target));
    const items = await this.#select(and(...where), limit + 1);
    const more = items.length > limit;
    const page = more ? items.slice(0, limit) : items;
    return { items: page, nextCursor: more ? page[page.length - 1]!.id : null };
  }

  async #select(where: SQL | undefined, limit: number): Promise<AuditRecord[]> {
    const rows = await this.#db
      .select({
        id: auditLog.id,
        at: auditLog.at,
        actor: auditLog.actor,
        role: auditLog.role,
        keyId: apiKeys.id,
        brokerId: apiKeys.brokerId,
        action: auditLog.action,
        target: auditLog.target,
        detail: auditLog.detail,
        requestId: auditLog.requestId,
      })
      .from(auditLog)
      .leftJoin(apiKeys, eq(apiKeys.prefix, auditLog.actor))
      .where(where)
      .orderBy(desc(auditLog.id))
      .limit(limit);
    return rows.map((r) => ({
      ...r,
      id: String(r.id),
      keyId: r.keyId ?? null,
      brokerId: r.brokerId ?? null,
      detail: (r.detail as Record<string, unknown> | null) ?? null,
    }));
  }
}

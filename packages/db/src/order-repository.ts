// Compute orders and their history (tables orders and order_events). An order is placed by a
// compute broker, from a quote or as a bid; the controller moves it through its states (the
// table of allowed moves is @switchyard/brokers' ORDER_TRANSITIONS); every move is one row of
// order_events, written in the same statement as the move itself.
//
// Writes are single SQL statements (data-modifying CTEs), each its own transaction: placing an
// order inserts the order, its first event and its audit entry at once, and takes its quote in
// the same statement; a transition locks the order, checks the state it expects, updates it and
// inserts the event. One round trip each, and nothing half-written on any failure.
//
// Idempotency: (broker_id, idempotency_key) is unique, so of two requests with the same key only
// one inserts; the other finds the stored order and compares request hashes.
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gte, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { AuditEntryInput } from './audit-repository.ts';
import { queryRows, type Database } from './database.ts';
import { orderEvents, orders, ORDER_STATES, type Order, type OrderState, type OrderTier } from './schema.ts';
import { UUID } from './keyset.ts';

/** States an order never leaves. */
export const TERMINAL_ORDER_STATES = [
  'completed',
  'preempted',
  'cancelled',
  'failed',
] as const satisfies readonly OrderState[];
/** States in which an order holds GPUs of its pool. */
export const HOLDING_ORDER_STATES = [
  'admitted',
  'running',
  'preempting',
] as const satisfies readonly OrderState[];
/** States in which an order is charged for its GPUs. */
export const BILLED_ORDER_STATES = ['running', 'preempting'] as const satisfies readonly OrderState[];
/** States the controller works on: pending, admitted, running, preempting. */
export const OPEN_ORDER_STATES = [
  'pending',
  'admitted',
  'running',
  'preempting',
] as const satisfies readonly OrderState[];

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const MAX_REASON_LENGTH = 500;
const MAX_AUDIT_TEXT = 200;
const MAX_AUDIT_ACTION = 100;

export interface OrderRecord {
  id: string;
  brokerId: string;
  state: OrderState;
  tier: OrderTier;
  gpuModels: string[];
  gpuCount: number;
  minVramGib: number;
  /** Money as exact decimal strings with 4 decimals. */
  maxUsdPerGpuHour: string;
  /** The agreed price: the quote's, or a bid's maximum. */
  priceUsdPerGpuHour: string | null;
  durationSeconds: number | null;
  endBy: Date | null;
  noticeSeconds: number;
  image: string;
  args: string[];
  pool: string | null;
  quoteId: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  preemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface OrderEventRecord {
  id: number;
  orderId: string;
  at: Date;
  fromState: OrderState | null;
  toState: OrderState;
  reason: string;
}

/** What an order asks for; a quote fixes these, a bid names them. */
export interface OrderTerms {
  tier: OrderTier;
  gpuModels: string[];
  gpuCount: number;
  minVramGib: number;
  /** USD per GPU-hour, decimal string (at most 4 decimals). */
  maxUsdPerGpuHour: string;
  durationSeconds: number | null;
  endBy: Date | null;
  noticeSeconds: number;
}

interface CreateOrderCommon {
  brokerId: string;
  idempotencyKey: string;
  /** sha256 of the canonical request body. */
  requestHash: string;
  image: string;
  args: string[];
  /** The order's creation time (default now). */
  at?: Date | undefined;
  /** The reason of its first event (default: "placed as a bid" / "placed from quote <id>"). */
  reason?: string | undefined;
  /** Written in the same statement; target and the order's terms are filled in. */
  audit?: AuditEntryInput | undefined;
}

/** A bid: priced at its maximum until the planner admits it. */
export type CreateBidInput = CreateOrderCommon & { bid: OrderTerms };
/** An order from a quote: the quote must be the broker's, unexpired and unused; the order takes it. */
export type CreateFromQuoteInput = CreateOrderCommon & { quoteId: string };
export type CreateOrderInput = CreateBidInput | CreateFromQuoteInput;

export type QuoteProblem = 'not-found' | 'expired' | 'used';

export type CreateOrderResult =
  | { outcome: 'created'; order: OrderRecord; event: OrderEventRecord }
  /** The key was used before with the same body: the stored order. */
  | { outcome: 'replayed'; order: OrderRecord }
  /** The key was used before with another body. */
  | { outcome: 'key-reused'; order: OrderRecord }
  | { outcome: 'quote-unusable'; problem: QuoteProblem };

export interface TransitionExtra {
  /** When it happened (default now). */
  at?: Date | undefined;
  /** admitted: the pool the order goes to. */
  pool?: string | undefined;
  /** preempting: the end of the notice period (required). */
  preemptAt?: Date | undefined;
  /** The agreed price, USD per GPU-hour (decimal string), e.g. on admission. */
  priceUsdPerGpuHour?: string | undefined;
  /** Written in the same statement. */
  audit?: AuditEntryInput | undefined;
}

export type TransitionResult =
  | { ok: true; order: OrderRecord; event: OrderEventRecord }
  /** Nothing was written: no such order, or it is not in one of the expected states. */
  | { ok: false; conflict: 'not-found' }
  | { ok: false; conflict: 'state'; order: OrderRecord };

/** An open order as the controller plans with it (@switchyard/brokers' ActiveOrder). */
export interface ActiveOrderRecord {
  id: string;
  brokerId: string;
  state: OrderState;
  tier: OrderTier;
  gpuModels: string[];
  minVramGib: number;
  gpuCount: number;
  /** The agreed price, or the bid's maximum while it has none, USD per GPU-hour. */
  priceUsdPerGpuHour: number;
  noticeSeconds: number;
  pool: string | null;
  durationSeconds: number | null;
  endBy: Date | null;
  startedAt: Date | null;
  preemptAt: Date | null;
  createdAt: Date;
}

export interface ListActiveOptions {
  /** Only these states (default: pending, admitted, running, preempting). */
  states?: readonly OrderState[];
  /**
   * Only orders placed in these pools, and pending orders placed nowhere (candidates for any
   * site): a site's view. Default: every order.
   */
  pools?: readonly string[];
}

/** A position in the list of orders: after the order created at `createdAt` with id `id`. */
export interface OrderCursor {
  /** The order's created_at to the microsecond, ISO-8601 UTC. */
  createdAt: string;
  id: string;
}

export interface ListOrdersOptions {
  /** Only this broker's orders. */
  brokerId?: string | undefined;
  state?: OrderState | undefined;
  tier?: OrderTier | undefined;
  /** Orders that accept this GPU model. */
  gpuModel?: string | undefined;
  /** Created at or after. */
  createdAfter?: Date | undefined;
  /** Created before. */
  createdBefore?: Date | undefined;
  /** The `next` of the previous page. */
  cursor?: OrderCursor | undefined;
  /** 1..200, default 50. */
  limit?: number | undefined;
}

export interface OrderPage {
  items: OrderRecord[];
  /** Where the next page starts; null on the last page. */
  next: OrderCursor | null;
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** The opaque text of a cursor (base64url JSON). */
export function encodeOrderCursor(c: OrderCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id]), 'utf8').toString('base64url');
}

/** A cursor from its text; undefined when it is not one encodeOrderCursor made. */
export function decodeOrderCursor(text: string): OrderCursor | undefined {
  if (text.length > 200 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(v) || v.length !== 2) return undefined;
    const [createdAt, id] = v as unknown[];
    if (typeof createdAt !== 'string' || !CURSOR_TIME.test(createdAt) || Number.isNaN(Date.parse(createdAt)))
      return undefined;
    if (typeof id !== 'string' || !UUID.test(id)) return undefined;
    return { createdAt, id: id.toLowerCase() };
  } catch {
    return undefined;
  }
}

const isState = (s: unknown): s is OrderState => (ORDER_STATES as readonly unknown[]).includes(s);
const isTerminal = (s: OrderState) => (TERMINAL_ORDER_STATES as readonly string[]).includes(s);
const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

function toDate(v: unknown): Date {
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) throw new Error(`unreadable time ${String(v)}`);
  return d;
}
const toDateOrNull = (v: unknown) => (v === null || v === undefined ? null : toDate(v));
const toNumberOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const toStringOrNull = (v: unknown) => (v === null || v === undefined ? null : String(v));

function argsOf(v: unknown): string[] {
  const parsed: unknown = typeof v === 'string' ? JSON.parse(v) : v;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

function fromRow(r: Order): OrderRecord {
  return {
    id: r.id,
    brokerId: r.brokerId,
    state: r.state,
    tier: r.tier,
    gpuModels: r.gpuModels,
    gpuCount: r.gpuCount,
    minVramGib: r.minVramGib,
    maxUsdPerGpuHour: r.maxUsdPerGpuHour,
    priceUsdPerGpuHour: r.priceUsdPerGpuHour,
    durationSeconds: r.durationSeconds,
    endBy: r.endBy,
    noticeSeconds: r.noticeSeconds,
    image: r.image,
    args: argsOf(r.args),
    pool: r.pool,
    quoteId: r.quoteId,
    idempotencyKey: r.idempotencyKey,
    requestHash: r.requestHash,
    preemptAt: r.preemptAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
  };
}

/** An orders row returned by raw SQL (snake_case, driver text for times and numerics). */
function fromRaw(r: Record<string, unknown>): OrderRecord {
  const state = r.state;
  if (!isState(state)) throw new Error(`order ${String(r.id)} has unknown state ${String(state)}`);
  return {
    id: String(r.id),
    brokerId: String(r.broker_id),
    state,
    tier: r.tier as OrderTier,
    gpuModels: (r.gpu_models as unknown[]).map(String),
    gpuCount: Number(r.gpu_count),
    minVramGib: Number(r.min_vram_gib),
    maxUsdPerGpuHour: String(r.max_usd_per_gpu_hour),
    priceUsdPerGpuHour: toStringOrNull(r.price_usd_per_gpu_hour),
    durationSeconds: toNumberOrNull(r.duration_seconds),
    endBy: toDateOrNull(r.end_by),
    noticeSeconds: Number(r.notice_seconds),
    image: String(r.image),
    args: argsOf(r.args),
    pool: toStringOrNull(r.pool),
    quoteId: toStringOrNull(r.quote_id),
    idempotencyKey: toStringOrNull(r.idempotency_key),
    requestHash: toStringOrNull(r.request_hash),
    preemptAt: toDateOrNull(r.preempt_at),
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
    startedAt: toDateOrNull(r.started_at),
    endedAt: toDateOrNull(r.ended_at),
  };
}

/** The event columns of a raw row (event_id, event_at, event_from, event_to, event_reason). */
function eventFromRaw(r: Record<string, unknown>): OrderEventRecord {
  return {
    id: Number(r.event_id),
    orderId: String(r.id),
    at: toDate(r.event_at),
    fromState: isState(r.event_from) ? r.event_from : null,
    toState: r.event_to as OrderState,
    reason: String(r.event_reason),
  };
}

/** The audit_log insert of a write, from the rows of the CTE `src` (nothing when audit is undefined). */
function auditCte(src: string, audit: AuditEntryInput | undefined, detail: SQL): SQL {
  if (!audit) return sql`select 1 where false`;
  return sql`insert into audit_log (actor, role, action, target, detail, request_id)
    select ${clip(audit.actor, MAX_AUDIT_TEXT)}, ${clip(audit.role, MAX_AUDIT_TEXT)},
      ${clip(audit.action, MAX_AUDIT_ACTION)}, 'order:' || s.id,
      ${detail} || ${JSON.stringify(audit.detail ?? {})}::jsonb,
      ${audit.requestId === undefined || audit.requestId === null ? null : clip(audit.requestId, MAX_AUDIT_TEXT)}
    from ${sql.raw(src)} s returning id`;
}

const textArray = (xs: readonly string[]) =>
  sql`array[${sql.join(
    xs.map((x) => sql`${x}`),
    sql`, `,
  )}]::text[]`;

export class OrderRepository {
  readonly #db: Database;

  /** `db` may be a transaction. */
  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Places an order: the order, its first event (null → pending) and its audit entry in one
   * statement. A key used before answers the stored order (replayed, or key-reused when the
   * request hash differs); an unusable quote writes nothing.
   */
  async create(input: CreateOrderInput): Promise<CreateOrderResult> {
    return this.#create(input, 0);
  }

  async #create(input: CreateOrderInput, attempt: number): Promise<CreateOrderResult> {
    if (!UUID.test(input.brokerId)) throw new RangeError(`broker id ${input.brokerId} is not a UUID`);
    const key = input.idempotencyKey;
    if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
      throw new RangeError(`the idempotency key must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    const at = input.at ?? new Date();
    const id = randomUUID();
    const fromQuote = 'quoteId' in input;
    if (fromQuote && !UUID.test(input.quoteId)) return this.#afterConflict(input, 'not-found', attempt);
    const reason = clip(
      input.reason ?? (fromQuote ? `placed from quote ${input.quoteId}` : 'placed as a bid'),
      MAX_REASON_LENGTH,
    );
    const common = {
      id,
      at: at.toISOString(),
      args: JSON.stringify(input.args),
    };

    const insert = fromQuote
      ? sql`q as (
          select * from quotes
          where id = ${input.quoteId} and broker_id = ${input.brokerId}
            and order_id is null and valid_until > ${common.at}::timestamptz
          for update
        ),
        ins as (
          insert into orders (id, broker_id, idempotency_key, state, tier, gpu_models, gpu_count,
            min_vram_gib, max_usd_per_gpu_hour, price_usd_per_gpu_hour, duration_seconds, end_by,
            notice_seconds, image, args, pool, quote_id, request_hash, created_at, updated_at)
          select ${id}::uuid, q.broker_id, ${key}, 'pending', q.tier, array[q.gpu_model], q.gpu_count,
            coalesce((q.request->>'minVramGiB')::integer, 0),
            coalesce((q.request->>'maxUsdPerGpuHour')::numeric, q.price_usd_per_gpu_hour),
            q.price_usd_per_gpu_hour, q.duration_seconds, q.end_by, q.notice_seconds,
            ${input.image}, ${common.args}::jsonb, q.pool, q.id, ${input.requestHash},
            ${common.at}::timestamptz, ${common.at}::timestamptz
          from q
          on conflict (broker_id, idempotency_key) do nothing
          returning *
        ),
        taken as (update quotes set order_id = ins.id from ins where quotes.id = ins.quote_id returning quotes.id),`
      : this.#bidInsert(input as CreateBidInput, id, common.at, common.args);

    const detail = sql`jsonb_build_object('tier', s.tier, 'gpuCount', s.gpu_count, 'gpuModels', s.gpu_models,
      'pool', s.pool, 'quoteId', s.quote_id, 'priceUsdPerGpuHour', s.price_usd_per_gpu_hour,
      'idempotencyKey', s.idempotency_key)`;
    const rows = await queryRows(
      this.#db,
      sql`with ${insert}
        ev as (
          insert into order_events (order_id, at, from_state, to_state, reason)
          select id, created_at, null, 'pending', ${reason} from ins
          returning id, at, from_state, to_state, reason
        ),
        au as (${auditCte('ins', input.audit, detail)})
        select ins.*, ev.id as event_id, ev.at as event_at, ev.from_state as event_from,
          ev.to_state as event_to, ev.reason as event_reason
        from ins cross join ev`,
    );
    const row = rows[0];
    if (row) return { outcome: 'created', order: fromRaw(row), event: eventFromRaw(row) };
    return this.#afterConflict(input, fromQuote ? null : undefined, attempt);
  }

  #bidInsert(input: CreateBidInput, id: string, at: string, args: string): SQL {
    const b = input.bid;
    if (b.gpuModels.length === 0) throw new RangeError('a bid names at least one GPU model');
    if ((b.durationSeconds === null) === (b.endBy === null))
      throw new RangeError('a bid has exactly one of durationSeconds and endBy');
    return sql`ins as (
      insert into orders (id, broker_id, idempotency_key, state, tier, gpu_models, gpu_count,
        min_vram_gib, max_usd_per_gpu_hour, price_usd_per_gpu_hour, duration_seconds, end_by,
        notice_seconds, image, args, request_hash, created_at, updated_at)
      values (${id}::uuid, ${input.brokerId}::uuid, ${input.idempotencyKey}, 'pending', ${b.tier},
        ${textArray(b.gpuModels)}, ${b.gpuCount}::integer, ${b.minVramGib}::integer,
        ${b.maxUsdPerGpuHour}::numeric, ${b.maxUsdPerGpuHour}::numeric, ${b.durationSeconds}::integer,
        ${b.endBy ? b.endBy.toISOString() : null}::timestamptz, ${b.noticeSeconds}::integer,
        ${input.image}, ${args}::jsonb, ${input.requestHash}, ${at}::timestamptz, ${at}::timestamptz)
      on conflict (broker_id, idempotency_key) do nothing
      returning *
    ),`;
  }

  /**
   * Nothing was inserted: the key was used before (the stored order), or the quote could not be
   * taken (`quoteProblem` null: find out why).
   */
  async #afterConflict(
    input: CreateOrderInput,
    quoteProblem: QuoteProblem | null | undefined,
    attempt: number,
  ): Promise<CreateOrderResult> {
    const [existing] = await this.#db
      .select()
      .from(orders)
      .where(and(eq(orders.brokerId, input.brokerId), eq(orders.idempotencyKey, input.idempotencyKey)));
    if (existing) {
      const order = fromRow(existing);
      return { outcome: order.requestHash === input.requestHash ? 'replayed' : 'key-reused', order };
    }
    if (quoteProblem) return { outcome: 'quote-unusable', problem: quoteProblem };
    if (quoteProblem === undefined) throw new Error('order insert wrote nothing and no order has its key');
    const quoteId = (input as CreateFromQuoteInput).quoteId;
    const rows = await queryRows(
      this.#db,
      sql`select order_id, valid_until <= ${(input.at ?? new Date()).toISOString()}::timestamptz as expired
        from quotes where id = ${quoteId} and broker_id = ${input.brokerId}`,
    );
    const q = rows[0];
    if (!q) return { outcome: 'quote-unusable', problem: 'not-found' };
    if (q.order_id !== null && q.order_id !== undefined)
      return { outcome: 'quote-unusable', problem: 'used' };
    if (q.expired === true || q.expired === 't') return { outcome: 'quote-unusable', problem: 'expired' };
    // Free again (the order that held it was rolled back): try once more.
    if (attempt === 0) return this.#create(input, 1);
    return { outcome: 'quote-unusable', problem: 'used' };
  }

  /** The order, if it exists (and is `brokerId`'s, when given). */
  /** Orders by state and tier, over every broker (for metrics). */
  async countByStateAndTier(): Promise<Array<{ state: OrderState; tier: OrderTier; count: number }>> {
    const rows = await this.#db
      .select({ state: orders.state, tier: orders.tier, count: sql<number>`count(*)::int` })
      .from(orders)
      .groupBy(orders.state, orders.tier);
    return rows.map((r) => ({ state: r.state, tier: r.tier, count: Number(r.count) }));
  }

  /** Order events by the state they moved to, over every broker (for metrics). */
  async countTransitions(): Promise<Array<{ toState: OrderState; count: number }>> {
    const rows = await this.#db
      .select({ toState: orderEvents.toState, count: sql<number>`count(*)::int` })
      .from(orderEvents)
      .groupBy(orderEvents.toState);
    return rows.map((r) => ({ toState: r.toState, count: Number(r.count) }));
  }

  async get(id: string, brokerId?: string): Promise<OrderRecord | undefined> {
    if (!UUID.test(id) || (brokerId !== undefined && !UUID.test(brokerId))) return undefined;
    const where = [eq(orders.id, id), ...(brokerId !== undefined ? [eq(orders.brokerId, brokerId)] : [])];
    const [row] = await this.#db
      .select()
      .from(orders)
      .where(and(...where));
    return row ? fromRow(row) : undefined;
  }

  /** The order's transitions, oldest first. */
  async events(orderId: string): Promise<OrderEventRecord[]> {
    if (!UUID.test(orderId)) return [];
    const rows = await this.#db
      .select()
      .from(orderEvents)
      .where(eq(orderEvents.orderId, orderId))
      .orderBy(asc(orderEvents.id));
    return rows.map((r) => ({
      id: r.id,
      orderId: r.orderId,
      at: r.at,
      fromState: r.fromState,
      toState: r.toState,
      reason: r.reason,
    }));
  }

  /** Newest first, by (created_at, id); pass `next` back as `cursor` for the following page. */
  async list(opts: ListOrdersOptions = {}): Promise<OrderPage> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 50), 1), 200);
    const where: SQL[] = [];
    if (opts.brokerId !== undefined) {
      if (!UUID.test(opts.brokerId)) return { items: [], next: null };
      where.push(eq(orders.brokerId, opts.brokerId));
    }
    if (opts.state !== undefined) where.push(eq(orders.state, opts.state));
    if (opts.tier !== undefined) where.push(eq(orders.tier, opts.tier));
    if (opts.gpuModel !== undefined) where.push(sql`${opts.gpuModel} = any(${orders.gpuModels})`);
    if (opts.createdAfter) where.push(gte(orders.createdAt, opts.createdAfter));
    if (opts.createdBefore) where.push(lt(orders.createdAt, opts.createdBefore));
    if (opts.cursor)
      where.push(
        sql`(${orders.createdAt}, ${orders.id}) < (${opts.cursor.createdAt}::timestamptz, ${opts.cursor.id}::uuid)`,
      );
    const rows = await this.#db
      .select({
        order: orders,
        key: sql<string>`to_char(${orders.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      })
      .from(orders)
      .where(and(...where))
      .orderBy(desc(orders.createdAt), desc(orders.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => fromRow(r.order)),
      next: rows.length > limit && last ? { createdAt: last.key, id: last.order.id } : null,
    };
  }

  /** Open orders, oldest first (creation order), in the shape the controller plans with. */
  async listActive(opts: ListActiveOptions = {}): Promise<ActiveOrderRecord[]> {
    const states = [...(opts.states ?? OPEN_ORDER_STATES)];
    if (states.length === 0) return [];
    const where: SQL[] = [inArray(orders.state, states)];
    if (opts.pools !== undefined) {
      const inPools = opts.pools.length ? inArray(orders.pool, [...opts.pools]) : sql`false`;
      where.push(or(and(eq(orders.state, 'pending'), isNull(orders.pool)), inPools)!);
    }
    const rows = await this.#db
      .select({
        id: orders.id,
        brokerId: orders.brokerId,
        state: orders.state,
        tier: orders.tier,
        gpuModels: orders.gpuModels,
        minVramGib: orders.minVramGib,
        gpuCount: orders.gpuCount,
        price: orders.priceUsdPerGpuHour,
        max: orders.maxUsdPerGpuHour,
        noticeSeconds: orders.noticeSeconds,
        pool: orders.pool,
        durationSeconds: orders.durationSeconds,
        endBy: orders.endBy,
        startedAt: orders.startedAt,
        preemptAt: orders.preemptAt,
        createdAt: orders.createdAt,
      })
      .from(orders)
      .where(and(...where))
      .orderBy(asc(orders.createdAt), asc(orders.id));
    return rows.map(({ price, max, ...r }) => ({ ...r, priceUsdPerGpuHour: Number(price ?? max) }));
  }

  /**
   * Moves an order from one of `from` to `to`, atomically: the order is locked, its state checked,
   * updated (startedAt set on running, endedAt on a terminal state, preemptAt on preempting, the
   * pool on admission and cleared back to pending) and the event inserted, in one statement.
   * Returns the order and its new event, or why nothing was written.
   */
  async transition(
    id: string,
    from: readonly OrderState[],
    to: OrderState,
    reason: string,
    extra: TransitionExtra = {},
  ): Promise<TransitionResult> {
    if (!isState(to)) throw new RangeError(`unknown order state ${JSON.stringify(to)}`);
    const sources = [...new Set(from)];
    if (sources.length === 0 || !sources.every(isState))
      throw new RangeError('transition needs the states it moves from');
    const stuck = sources.filter(isTerminal);
    if (stuck.length) throw new RangeError(`an order never leaves ${stuck.join(', ')}`);
    if (sources.includes(to)) throw new RangeError(`an order does not move from ${to} to itself`);
    if (to === 'preempting' && (!extra.preemptAt || Number.isNaN(extra.preemptAt.getTime())))
      throw new RangeError('a move to preempting needs preemptAt, the end of the notice period');
    if (to === 'admitted' && !extra.pool) throw new RangeError('a move to admitted needs the pool');
    if (!UUID.test(id)) return { ok: false, conflict: 'not-found' };
    const at = (extra.at ?? new Date()).toISOString();
    const detail = sql`jsonb_build_object('from', s.previous_state, 'to', s.state, 'reason', ${clip(reason, MAX_REASON_LENGTH)}::text)`;
    const rows = await queryRows(
      this.#db,
      sql`with cur as (
          select id, state from orders
          where id = ${id} and state in (${sql.join(
            sources.map((s) => sql`${s}`),
            sql`, `,
          )})
          for update
        ),
        upd as (
          update orders o set
            state = ${to},
            updated_at = ${at}::timestamptz,
            started_at = case when ${to === 'running'}::boolean then coalesce(o.started_at, ${at}::timestamptz) else o.started_at end,
            ended_at = case when ${isTerminal(to)}::boolean then ${at}::timestamptz else o.ended_at end,
            preempt_at = case when ${to === 'preempting'}::boolean then ${extra.preemptAt?.toISOString() ?? null}::timestamptz else o.preempt_at end,
            pool = case when ${to === 'pending'}::boolean then null else coalesce(${extra.pool ?? null}::text, o.pool) end,
            price_usd_per_gpu_hour = coalesce(${extra.priceUsdPerGpuHour ?? null}::numeric, o.price_usd_per_gpu_hour)
          from cur where o.id = cur.id
          returning o.*, cur.state as previous_state
        ),
        ev as (
          insert into order_events (order_id, at, from_state, to_state, reason)
          select id, ${at}::timestamptz, previous_state, state, ${clip(reason, MAX_REASON_LENGTH)} from upd
          returning id, at, from_state, to_state, reason
        ),
        au as (${auditCte('upd', extra.audit, detail)})
        select upd.*, ev.id as event_id, ev.at as event_at, ev.from_state as event_from,
          ev.to_state as event_to, ev.reason as event_reason
        from upd cross join ev`,
    );
    const row = rows[0];
    if (row) return { ok: true, order: fromRaw(row), event: eventFromRaw(row) };
    const order = await this.get(id);
    return order ? { ok: false, conflict: 'state', order } : { ok: false, conflict: 'not-found' };
  }

  /**
   * A running order is being taken back: it moves to preempting and keeps its GPUs until
   * `preemptAt`, the end of its notice period. The caller tells the broker
   * (@switchyard/brokers' preemptionNoticeEvent).
   */
  async announcePreemption(
    id: string,
    preemptAt: Date,
    reason: string,
    extra: Omit<TransitionExtra, 'preemptAt'> = {},
  ): Promise<TransitionResult> {
    return this.transition(id, ['running'], 'preempting', reason, { ...extra, preemptAt });
  }
}

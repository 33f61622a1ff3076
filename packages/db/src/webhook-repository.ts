// Brokers' webhooks and their deliveries. A webhook is a URL a compute broker registers to hear of
// its orders (WEBHOOK_EVENTS); its signing secret (`whsec_` and 32 random bytes, base64, the
// Standard Webhooks serialisation) is returned once, by `create`, and read back only by
// `deliveryTarget`, for the worker that signs a delivery. Deleting a webhook stamps deleted_at:
// it gets no new deliveries and its history stays readable.
//
// A delivery is one event for one webhook, unique per (webhook, event id), so an event recorded
// twice is delivered once. Its created_at is the event's own time (the `at` of the envelope).
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { and, asc, count, desc, eq, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { queryRows, type Executor } from './database.ts';
import {
  WEBHOOK_EVENTS,
  brokers,
  webhookDeliveries,
  webhooks,
  type DeliveryState,
  type WebhookEvent,
} from './schema.ts';
import { UUID } from './keyset.ts';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Random bytes in a signing secret (the Standard Webhooks minimum is 24). */
export const WEBHOOK_SECRET_BYTES = 32;
export const MAX_WEBHOOK_URL_LENGTH = 2048;
export const MAX_WEBHOOK_DESCRIPTION_LENGTH = 200;
/** What a stored URL may contain: printable ASCII (an international name goes in as punycode). */
export const WEBHOOK_URL_PATTERN = '^[\\x21-\\x7e]+$';
const URL_CHARS = new RegExp(WEBHOOK_URL_PATTERN);
/** A description: no control characters. */
export const WEBHOOK_DESCRIPTION_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$';
const DESCRIPTION_CHARS = new RegExp(WEBHOOK_DESCRIPTION_PATTERN);
/** Live (not deleted) webhooks one broker may have at once. */
export const MAX_WEBHOOKS_PER_BROKER = 20;
/** An event id: 1 to 200 printable ASCII characters. */
export const MAX_EVENT_ID_LENGTH = 200;
const EVENT_ID = /^[\x21-\x7e]{1,200}$/;
/** The largest event payload a delivery carries, as JSON. */
export const MAX_WEBHOOK_PAYLOAD_BYTES = 64 * 1024;

export const WEBHOOK_ERROR_CODES = [
  /** A field is malformed (url, events, description, event id, payload). */
  'INVALID_INPUT',
  /** No broker with that id. */
  'BROKER_NOT_FOUND',
  /** Webhooks tell of orders: only compute brokers have them. */
  'BROKER_NOT_COMPUTE',
  /** The broker is disabled. */
  'BROKER_DISABLED',
  /** The broker has MAX_WEBHOOKS_PER_BROKER live webhooks already. */
  'TOO_MANY_WEBHOOKS',
] as const;
export type WebhookErrorCode = (typeof WEBHOOK_ERROR_CODES)[number];

export class WebhookStoreError extends Error {
  readonly code: WebhookErrorCode;
  constructor(code: WebhookErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'WebhookStoreError';
  }
}

/** A webhook as lists and lookups show it: never its secret. */
export interface WebhookRecord {
  id: string;
  brokerId: string;
  url: string;
  events: WebhookEvent[];
  description: string | null;
  createdAt: Date;
  deletedAt: Date | null;
}

export interface CreateWebhookInput {
  brokerId: string;
  url: string;
  /** Default: every event. Duplicates are dropped. */
  events?: readonly WebhookEvent[] | undefined;
  description?: string | null | undefined;
}

/** A new webhook and its signing secret, which is returned here and by no listing. */
export interface CreatedWebhook {
  webhook: WebhookRecord;
  secret: string;
}

export interface DeliveryRecord {
  id: string;
  webhookId: string;
  eventId: string;
  event: WebhookEvent;
  /** The event's `data`. */
  payload: Record<string, unknown>;
  state: DeliveryState;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  /** The event's time. */
  createdAt: Date;
  deliveredAt: Date | null;
}

/** What the worker needs to send one delivery: it, and its webhook with the secret. */
export interface DeliveryTarget {
  delivery: DeliveryRecord;
  webhook: WebhookRecord & { secret: string };
}

export interface RecordEventInput {
  brokerId: string;
  eventId: string;
  event: WebhookEvent;
  at: Date;
  payload: Record<string, unknown>;
}

export interface ListWebhooksOptions {
  /** Only this broker's webhooks (a broker's key sees its own only). */
  brokerId?: string | undefined;
  /** Deleted webhooks too (default: live ones only). */
  includeDeleted?: boolean | undefined;
  /** 1..500, default 100. */
  limit?: number | undefined;
}

/** How one attempt (or the decision not to make one) ended. */
export interface DeliveryOutcome {
  /** pending: it will be tried again; delivered; failed: for good. */
  state: DeliveryState;
  /** False when nothing was sent (a deleted webhook): attempts stays as it is. */
  attempted: boolean;
  status?: number | null | undefined;
  error?: string | null | undefined;
}

export interface WebhookRepositoryOptions {
  /** Randomness (tests); defaults to crypto.randomBytes. */
  randomBytes?: (size: number) => Buffer;
}

type WebhookRow = typeof webhooks.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

const isEvent = (e: unknown): e is WebhookEvent =>
  typeof e === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(e);

function toWebhook(r: WebhookRow): WebhookRecord {
  return {
    id: r.id,
    brokerId: r.brokerId,
    url: r.url,
    // Stored in the order WEBHOOK_EVENTS lists them; an unknown value (a newer writer) is left out.
    events: r.events.filter(isEvent),
    description: r.description,
    createdAt: r.createdAt,
    deletedAt: r.deletedAt,
  };
}

function toDelivery(r: DeliveryRow): DeliveryRecord {
  const p = r.payload;
  return {
    id: r.id,
    webhookId: r.webhookId,
    eventId: r.eventId,
    event: r.event,
    payload: p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : {},
    state: r.state,
    attempts: r.attempts,
    lastStatus: r.lastStatus,
    lastError: r.lastError,
    createdAt: r.createdAt,
    deliveredAt: r.deliveredAt,
  };
}

const invalid = (message: string) => new WebhookStoreError('INVALID_INPUT', message);

/** The events as stored: known ones only, each once, in WEBHOOK_EVENTS order; all when absent. */
export function normaliseWebhookEvents(events: readonly string[] | undefined): WebhookEvent[] {
  if (events === undefined) return [...WEBHOOK_EVENTS];
  if (!Array.isArray(events) || events.length === 0) throw invalid('events must name at least one event');
  const unknown = events.find((e) => !isEvent(e));
  if (unknown !== undefined)
    throw invalid(`unknown event ${JSON.stringify(unknown)}: one of ${WEBHOOK_EVENTS.join(', ')}`);
  return WEBHOOK_EVENTS.filter((e) => events.includes(e));
}

function checkUrl(url: unknown): string {
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_WEBHOOK_URL_LENGTH)
    throw invalid(`url must be 1 to ${MAX_WEBHOOK_URL_LENGTH} characters`);
  if (!URL_CHARS.test(url)) throw invalid('url must be printable ASCII, without spaces');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('url is not a valid absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw invalid('url must be http(s)');
  return url;
}

function checkDescription(d: unknown): string | null {
  if (d === undefined || d === null) return null;
  if (typeof d !== 'string' || d.length === 0 || d.length > MAX_WEBHOOK_DESCRIPTION_LENGTH)
    throw invalid(`description must be 1 to ${MAX_WEBHOOK_DESCRIPTION_LENGTH} characters`);
  if (!DESCRIPTION_CHARS.test(d)) throw invalid('description must not contain control characters');
  return d;
}

/** Throws WebhookStoreError INVALID_INPUT unless the event can be recorded. */
export function checkEventInput(e: RecordEventInput): void {
  if (typeof e.eventId !== 'string' || !EVENT_ID.test(e.eventId))
    throw invalid(`event id must be 1 to ${MAX_EVENT_ID_LENGTH} printable ASCII characters without spaces`);
  if (!isEvent(e.event)) throw invalid(`unknown event ${JSON.stringify(e.event)}`);
  if (!(e.at instanceof Date) || Number.isNaN(e.at.getTime())) throw invalid('at must be a valid time');
  if (e.payload === null || typeof e.payload !== 'object' || Array.isArray(e.payload))
    throw invalid('payload must be a JSON object');
  let json: string;
  try {
    json = JSON.stringify(e.payload);
  } catch {
    throw invalid('payload must be serialisable as JSON');
  }
  // PostgreSQL's jsonb cannot hold a NUL character.
  if (json.includes('\\u0000')) throw invalid('payload must not contain NUL characters');
  if (Buffer.byteLength(json) > MAX_WEBHOOK_PAYLOAD_BYTES)
    throw invalid(`payload is over ${MAX_WEBHOOK_PAYLOAD_BYTES / 1024} KiB as JSON`);
}

export class WebhookRepository {
  readonly #db: Executor;
  readonly #randomBytes: (size: number) => Buffer;

  /** `db` may be a transaction, to write together with an audit entry. */
  constructor(db: Executor, opts: WebhookRepositoryOptions = {}) {
    this.#db = db;
    this.#randomBytes = opts.randomBytes ?? cryptoRandomBytes;
  }

  /**
   * Registers a webhook for a compute broker and returns it with its new signing secret. The
   * broker's row is locked while its live webhooks are counted, so concurrent registrations
   * cannot pass MAX_WEBHOOKS_PER_BROKER. Run it in a transaction for the lock to hold.
   */
  async create(input: CreateWebhookInput): Promise<CreatedWebhook> {
    const url = checkUrl(input.url);
    const events = normaliseWebhookEvents(input.events);
    const description = checkDescription(input.description);
    if (typeof input.brokerId !== 'string' || !UUID.test(input.brokerId))
      throw new WebhookStoreError('BROKER_NOT_FOUND', `no broker ${String(input.brokerId)}`);
    const [broker] = await this.#db
      .select()
      .from(brokers)
      .where(eq(brokers.id, input.brokerId))
      .for('update');
    if (!broker) throw new WebhookStoreError('BROKER_NOT_FOUND', `no broker ${input.brokerId}`);
    if (broker.kind !== 'compute')
      throw new WebhookStoreError(
        'BROKER_NOT_COMPUTE',
        `broker ${broker.name} is an energy broker: webhooks tell of orders, which only compute brokers have`,
      );
    if (broker.disabledAt)
      throw new WebhookStoreError('BROKER_DISABLED', `broker ${broker.name} is disabled`);
    const live = await this.countLive(broker.id);
    if (live >= MAX_WEBHOOKS_PER_BROKER)
      throw new WebhookStoreError(
        'TOO_MANY_WEBHOOKS',
        `broker ${broker.name} has ${live} webhooks, the most allowed: delete one first`,
      );
    const secret = `${WEBHOOK_SECRET_PREFIX}${this.#randomBytes(WEBHOOK_SECRET_BYTES).toString('base64')}`;
    const [row] = await this.#db
      .insert(webhooks)
      .values({ brokerId: broker.id, url, secret, events, description })
      .returning();
    if (!row) throw new Error('webhook insert returned no row');
    return { webhook: toWebhook(row), secret };
  }

  async countLive(brokerId: string): Promise<number> {
    if (!UUID.test(brokerId)) return 0;
    const [r] = await this.#db
      .select({ n: count() })
      .from(webhooks)
      .where(and(eq(webhooks.brokerId, brokerId), isNull(webhooks.deletedAt)));
    return r?.n ?? 0;
  }

  /** The webhook, deleted or not; undefined when unknown (or not a UUID). */
  async get(id: string): Promise<WebhookRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db.select().from(webhooks).where(eq(webhooks.id, id));
    return row ? toWebhook(row) : undefined;
  }

  /** Newest first. */
  async list(opts: ListWebhooksOptions = {}): Promise<WebhookRecord[]> {
    const where: SQL[] = [];
    if (opts.brokerId !== undefined) {
      if (!UUID.test(opts.brokerId)) return [];
      where.push(eq(webhooks.brokerId, opts.brokerId));
    }
    if (!opts.includeDeleted) where.push(isNull(webhooks.deletedAt));
    const rows = await this.#db
      .select()
      .from(webhooks)
      .where(and(...where))
      .orderBy(desc(webhooks.createdAt), desc(webhooks.id))
      .limit(Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), 500));
    return rows.map(toWebhook);
  }

  /**
   * Stamps deleted_at; the webhook gets no new deliveries, and its pending ones fail when the
   * worker reaches them. Returns the webhook as it now is (a deleted one unchanged), or undefined.
   */
  async softDelete(id: string): Promise<{ webhook: WebhookRecord; changed: boolean } | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db
      .update(webhooks)
      .set({ deletedAt: sql`now()` })
      .where(and(eq(webhooks.id, id), isNull(webhooks.deletedAt)))
      .returning();
    if (row) return { webhook: toWebhook(row), changed: true };
    const existing = await this.get(id);
    return existing ? { webhook: existing, changed: false } : undefined;
  }

  /**
   * Records one delivery of the event for each live webhook of its broker that subscribes to it
   * (a webhook that already has this event id keeps its delivery), and returns the event's
   * deliveries still pending for live webhooks: new ones and any an earlier call left pending.
   */
  async recordEvent(e: RecordEventInput): Promise<DeliveryRecord[]> {
    checkEventInput(e);
    if (!UUID.test(e.brokerId)) return [];
    await this.#db.execute(sql`
      insert into ${webhookDeliveries} (webhook_id, event_id, event, payload, created_at)
      select ${webhooks.id}, ${e.eventId}, ${e.event}, ${JSON.stringify(e.payload)}::jsonb, ${e.at.toISOString()}::timestamptz
      from ${webhooks}
      where ${webhooks.brokerId} = ${e.brokerId}
        and ${webhooks.deletedAt} is null
        and ${e.event} = any(${webhooks.events})
      on conflict (webhook_id, event_id) do nothing`);
    const rows = await this.#db
      .select({ d: webhookDeliveries })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(
        and(
          eq(webhooks.brokerId, e.brokerId),
          isNull(webhooks.deletedAt),
          eq(webhookDeliveries.eventId, e.eventId),
          eq(webhookDeliveries.state, 'pending'),
        ),
      )
      .orderBy(asc(webhookDeliveries.id));
    return rows.map((r) => toDelivery(r.d));
  }

  /**
   * Records a delivery for one webhook only (a test ping). Returns it; undefined when the webhook
   * is unknown or deleted.
   */
  async recordDelivery(
    webhookId: string,
    e: Omit<RecordEventInput, 'brokerId'>,
  ): Promise<DeliveryRecord | undefined> {
    checkEventInput({ ...e, brokerId: '' });
    if (!UUID.test(webhookId)) return undefined;
    const rows = await queryRows<{ id: string }>(
      this.#db,
      sql`
      insert into ${webhookDeliveries} (webhook_id, event_id, event, payload, created_at)
      select ${webhooks.id}, ${e.eventId}, ${e.event}, ${JSON.stringify(e.payload)}::jsonb, ${e.at.toISOString()}::timestamptz
      from ${webhooks}
      where ${webhooks.id} = ${webhookId} and ${webhooks.deletedAt} is null
      on conflict (webhook_id, event_id) do nothing
      returning id`,
    );
    const id = rows[0]?.id;
    return id === undefined ? undefined : this.getDelivery(id);
  }

  async getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
    return row ? toDelivery(row) : undefined;
  }

  /** The webhook's deliveries, newest event first. */
  async deliveries(webhookId: string, opts: { limit?: number } = {}): Promise<DeliveryRecord[]> {
    if (!UUID.test(webhookId)) return [];
    const rows = await this.#db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.webhookId, webhookId))
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
      .limit(Math.min(Math.max(Math.trunc(opts.limit ?? 20), 1), 500));
    return rows.map(toDelivery);
  }

  /** The delivery and its webhook, with the signing secret: for the worker that sends it. */
  async deliveryTarget(deliveryId: string): Promise<DeliveryTarget | undefined> {
    if (!UUID.test(deliveryId)) return undefined;
    const [row] = await this.#db
      .select({ d: webhookDeliveries, w: webhooks })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(eq(webhookDeliveries.id, deliveryId));
    if (!row) return undefined;
    return { delivery: toDelivery(row.d), webhook: { ...toWebhook(row.w), secret: row.w.secret } };
  }

  /**
   * Records how an attempt ended. Only a pending delivery changes: a late retry never overwrites
   * a delivered or failed one. Returns the delivery as it now is.
   */
  async settle(deliveryId: string, outcome: DeliveryOutcome): Promise<DeliveryRecord | undefined> {
    if (!UUID.test(deliveryId)) return undefined;
    const error = outcome.error === undefined || outcome.error === null ? null : outcome.error.slice(0, 500);
    const [row] = await this.#db
      .update(webhookDeliveries)
      .set({
        state: outcome.state,
        ...(outcome.attempted ? { attempts: sql`${webhookDeliveries.attempts} + 1` } : {}),
        ...(outcome.status !== undefined ? { lastStatus: outcome.status } : {}),
        lastError: error,
        ...(outcome.state === 'delivered' ? { deliveredAt: sql`now()` } : {}),
      })
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.state, 'pending')))
      .returning();
    return row ? toDelivery(row) : this.getDelivery(deliveryId);
  }

  /**
   * Pending deliveries of live webhooks whose event is older than `before` (and, when given, not
   * older than `after`), oldest first: for a sweep that re-enqueues deliveries whose job was lost.
   */
  async pendingDeliveries(opts: { before: Date; after?: Date; limit?: number }): Promise<DeliveryRecord[]> {
    const where: SQL[] = [
      eq(webhookDeliveries.state, 'pending'),
      isNull(webhooks.deletedAt),
      lt(webhookDeliveries.createdAt, opts.before),
    ];
    if (opts.after)
      where.push(sql`${webhookDeliveries.createdAt} > ${opts.after.toISOString()}::timestamptz`);
    const rows = await this.#db
      .select({ d: webhookDeliveries })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(and(...where))
      .orderBy(asc(webhookDeliveries.createdAt))
      .limit(Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), 1000));
    return rows.map((r) => toDelivery(r.d));
  }
}

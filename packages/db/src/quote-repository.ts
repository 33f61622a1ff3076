// Quotes (table quotes): a price for a compute broker's request, valid for a short while, that
// one order may take (OrderRepository.create with a quoteId marks it used in the same
// statement). Also the price readings quotes and capacity are priced from: the latest GPU market
// price per model and the latest energy prices, from signal_readings.
import { and, eq, sql } from 'drizzle-orm';
import type { AuditEntryInput } from './audit-repository.ts';
import { queryRows, type Database } from './database.ts';
import { quotes, type OrderTier, type Quote } from './schema.ts';
import { UUID } from './keyset.ts';

export interface QuoteRecord {
  id: string;
  brokerId: string;
  createdAt: Date;
  validUntil: Date;
  tier: OrderTier;
  gpuModel: string;
  pool: string;
  gpuCount: number;
  /** USD per GPU-hour, exact decimal string with 4 decimals. */
  priceUsdPerGpuHour: string;
  noticeSeconds: number;
  durationSeconds: number | null;
  endBy: Date | null;
  /** The request as the broker sent it. */
  request: Record<string, unknown>;
  /** The order that took it, if one did. */
  orderId: string | null;
}

export interface CreateQuoteInput {
  brokerId: string;
  validUntil: Date;
  tier: OrderTier;
  gpuModel: string;
  pool: string;
  gpuCount: number;
  /** USD per GPU-hour, decimal string (at most 4 decimals). */
  priceUsdPerGpuHour: string;
  noticeSeconds: number;
  durationSeconds: number | null;
  endBy: Date | null;
  /** The broker's request; the order placed from the quote takes minVramGiB and maxUsdPerGpuHour from it. */
  request: Record<string, unknown>;
  /** Creation time (default now). */
  at?: Date | undefined;
  /** Written in the same statement, target `quote:<id>`. */
  audit?: AuditEntryInput | undefined;
}

/** The latest reading of a price signal (one per signal and subject). */
export interface PriceSignalReading {
  signal: string;
  /** The series: the GPU model of a GPU price; null for energy prices. */
  subject: string | null;
  value: number;
  observedAt: Date;
  /** The value stays current until then (price curves). */
  validUntil: Date | null;
}

export interface LatestPricesOptions {
  /** Readings observed after `now` are not yet true and are left out. */
  now: Date;
  /** Readings observed before this are too old to matter. */
  since: Date;
  /** Default: gpu_usd_per_gpu_hour, energy_usd_per_mwh, energy_da_usd_per_mwh. */
  signals?: readonly string[];
}

export const PRICE_SIGNALS = ['gpu_usd_per_gpu_hour', 'energy_usd_per_mwh', 'energy_da_usd_per_mwh'] as const;
/** Reading statuses a price may be taken from (the signal hub's usable ones). */
const USABLE_STATUSES = ['accepted', 'confirmed', 'derived'];
const MAX_AUDIT_TEXT = 200;
const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

function toDate(v: unknown): Date {
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) throw new Error(`unreadable time ${String(v)}`);
  return d;
}

function fromRow(r: Quote): QuoteRecord {
  return {
    id: r.id,
    brokerId: r.brokerId,
    createdAt: r.createdAt,
    validUntil: r.validUntil,
    tier: r.tier,
    gpuModel: r.gpuModel,
    pool: r.pool,
    gpuCount: r.gpuCount,
    priceUsdPerGpuHour: r.priceUsdPerGpuHour,
    noticeSeconds: r.noticeSeconds,
    durationSeconds: r.durationSeconds,
    endBy: r.endBy,
    request: (r.request ?? {}) as Record<string, unknown>,
    orderId: r.orderId,
  };
}

function fromRaw(r: Record<string, unknown>): QuoteRecord {
  const request: unknown = typeof r.request === 'string' ? JSON.parse(r.request) : r.request;
  return {
    id: String(r.id),
    brokerId: String(r.broker_id),
    createdAt: toDate(r.created_at),
    validUntil: toDate(r.valid_until),
    tier: r.tier as OrderTier,
    gpuModel: String(r.gpu_model),
    pool: String(r.pool),
    gpuCount: Number(r.gpu_count),
    priceUsdPerGpuHour: String(r.price_usd_per_gpu_hour),
    noticeSeconds: Number(r.notice_seconds),
    durationSeconds: r.duration_seconds === null ? null : Number(r.duration_seconds),
    endBy: r.end_by === null ? null : toDate(r.end_by),
    request: (request ?? {}) as Record<string, unknown>,
    orderId: r.order_id === null ? null : String(r.order_id),
  };
}

export class QuoteRepository {
  readonly #db: Database;

  /** `db` may be a transaction. */
  constructor(db: Database) {
    this.#db = db;
  }

  /** Stores a quote, with its audit entry in the same statement. */
  async create(input: CreateQuoteInput): Promise<QuoteRecord> {
    if (!UUID.test(input.brokerId)) throw new RangeError(`broker id ${input.brokerId} is not a UUID`);
    if ((input.durationSeconds === null) === (input.endBy === null))
      throw new RangeError('a quote has exactly one of durationSeconds and endBy');
    const at = (input.at ?? new Date()).toISOString();
    const a = input.audit;
    const audit = a
      ? sql`insert into audit_log (actor, role, action, target, detail, request_id)
          select ${clip(a.actor, MAX_AUDIT_TEXT)}, ${clip(a.role, MAX_AUDIT_TEXT)}, ${clip(a.action, 100)},
            'quote:' || ins.id,
            jsonb_build_object('tier', ins.tier, 'pool', ins.pool, 'gpuCount', ins.gpu_count,
              'priceUsdPerGpuHour', ins.price_usd_per_gpu_hour, 'validUntil', ins.valid_until)
              || ${JSON.stringify(a.detail ?? {})}::jsonb,
            ${a.requestId === undefined || a.requestId === null ? null : clip(a.requestId, MAX_AUDIT_TEXT)}
          from ins returning id`
      : sql`select 1 where false`;
    const rows = await queryRows(
      this.#db,
      sql`with ins as (
          insert into quotes (broker_id, created_at, valid_until, tier, gpu_model, pool, gpu_count,
            price_usd_per_gpu_hour, notice_seconds, duration_seconds, end_by, request)
          values (${input.brokerId}::uuid, ${at}::timestamptz, ${input.validUntil.toISOString()}::timestamptz,
            ${input.tier}, ${input.gpuModel}, ${input.pool}, ${input.gpuCount}::integer,
            ${input.priceUsdPerGpuHour}::numeric, ${input.noticeSeconds}::integer,
            ${input.durationSeconds}::integer, ${input.endBy ? input.endBy.toISOString() : null}::timestamptz,
            ${JSON.stringify(input.request)}::jsonb)
          returning *
        ),
        au as (${audit})
        select * from ins`,
    );
    const row = rows[0];
    if (!row) throw new Error('quote insert returned no row');
    return fromRaw(row);
  }

  /** The quote, if it exists (and is `brokerId`'s, when given). */
  async get(id: string, brokerId?: string): Promise<QuoteRecord | undefined> {
    if (!UUID.test(id) || (brokerId !== undefined && !UUID.test(brokerId))) return undefined;
    const where = [eq(quotes.id, id), ...(brokerId !== undefined ? [eq(quotes.brokerId, brokerId)] : [])];
    const [row] = await this.#db
      .select()
      .from(quotes)
      .where(and(...where));
    return row ? fromRow(row) : undefined;
  }

  /**
   * The newest usable reading of each price signal and subject observed in [since, now]: one
   * query on signal_readings (its (signal, observed_at) index).
   */
  async latestPrices(opts: LatestPricesOptions): Promise<PriceSignalReading[]> {
    const signals = [...(opts.signals ?? PRICE_SIGNALS)];
    if (signals.length === 0) return [];
    const list = (xs: readonly string[]) =>
      sql.join(
        xs.map((x) => sql`${x}`),
        sql`, `,
      );
    const rows = await queryRows(
      this.#db,
      sql`select distinct on (signal, coalesce(detail->>'subject', ''))
          signal, detail->>'subject' as subject, value, observed_at, detail->>'validUntil' as valid_until
        from signal_readings
        where signal in (${list(signals)})
          and observed_at >= ${opts.since.toISOString()}::timestamptz
          and observed_at <= ${opts.now.toISOString()}::timestamptz
          and coalesce(detail->>'status', 'accepted') in (${list(USABLE_STATUSES)})
        order by signal, coalesce(detail->>'subject', ''), observed_at desc, id desc`,
    );
    const out: PriceSignalReading[] = [];
    for (const r of rows) {
      const value = Number(r.value);
      if (!Number.isFinite(value)) continue;
      const validUntil = typeof r.valid_until === 'string' ? new Date(r.valid_until) : null;
      out.push({
        signal: String(r.signal),
        subject: r.subject === null || r.subject === undefined ? null : String(r.subject),
        value,
        observedAt: toDate(r.observed_at),
        validUntil: validUntil && !Number.isNaN(validUntil.getTime()) ? validUntil : null,
      });
    }
    return out;
  }
}

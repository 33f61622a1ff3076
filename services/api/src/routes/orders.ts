// The compute-broker routes: capacity and reference prices, quotes, orders (from a quote or as a
// bid, idempotent by key), their history, cancellation and usage. docs/orders.md describes them.
//
// A compute broker's key places orders for its broker and sees only its own orders and quotes
// (another broker's answer 404, as if they did not exist); operators and viewers see every
// order, and operators may cancel any. Every write is one statement with its audit entry
// (OrderRepository, QuoteRepository); after it commits, the broker is told (brokerEvents).
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  canonicalHash,
  decodeOrderCursor,
  encodeOrderCursor,
  HOLDING_ORDER_STATES,
  OrderRepository,
  QuoteRepository,
  type CreateOrderInput,
  type Database,
  type OrderEventRecord,
  type OrderRecord,
  type OrderTier,
  type PriceSignalReading,
  type QuoteRecord,
} from '@switchyard/db';
import {
  capacityOf,
  DEFAULT_NOTICE_SECONDS,
  DEFAULT_PRICING_POLICY,
  energyPriceFor,
  fittingPools,
  isTerminalOrderState,
  MIN_ON_DEMAND_NOTICE_SECONDS,
  orderSourcesOf,
  orderStateEvent,
  orderStateEventId,
  orderUsage,
  quoteFor,
  tierIsPreemptible,
  usdNumber,
  usdString,
  usdUnits,
  type BrokerEvent,
  type BrokerEventSink,
  type Capacity,
  type CapacityPool,
  type EnergyPrice,
  type PriceReading,
  type PriceSource,
  type PricingPolicy,
} from '@switchyard/brokers';
import { HttpProblem } from '../problem.ts';
import { principalOf } from '../auth.ts';
import { auditEntry } from '../audit.ts';
import type { FarmView } from './farm.ts';
import { useTypeBox } from '../schemas/common.ts';
import {
  cancelOrderSchema,
  capacitySchema,
  createOrderSchema,
  createQuoteSchema,
  getOrderSchema,
  IDEMPOTENCY_KEY_PATTERN,
  listOrdersSchema,
  MAX_ORDER_SECONDS,
  MIN_ORDER_SECONDS,
  orderUsageSchema,
  QUOTE_VALID_SECONDS,
} from '../schemas/orders.ts';

/** How long computed capacity is served before it is computed again. */
export const DEFAULT_CAPACITY_TTL_MS = 1000;
/** How long a write waits for the broker-event sink. */
const EVENT_TIMEOUT_MS = 1000;
/** Price readings older than this are not read at all (the freshness limits are shorter). */
const PRICE_LOOKBACK_MS = 48 * 3600_000;

export interface OrderRouteOptions {
  db: Database;
  getFarm: () => FarmView;
  /** Told of every order change after it commits (the webhook outbox); none: nobody is told. */
  brokerEvents?: BrokerEventSink | undefined;
  /** How long capacity is cached, ms (default 1000). */
  capacityTtlMs?: number;
  pricing?: PricingPolicy;
  /** The clock (tests). */
  now?: () => Date;
}

const IDEMPOTENCY_KEY = new RegExp(IDEMPOTENCY_KEY_PATTERN);
const TERM_FIELDS = [
  'gpuModels',
  'minVramGiB',
  'gpuCount',
  'durationSeconds',
  'endBy',
  'tier',
  'maxUsdPerGpuHour',
  'noticeSeconds',
] as const;
const BID_REQUIRED = ['gpuModels', 'gpuCount', 'tier', 'maxUsdPerGpuHour'] as const;

function invalid(field: string, message: string): HttpProblem {
  return new HttpProblem(400, 'validation', 'Request is invalid', `${field} ${message}`, {
    errors: [{ path: `/${field}`, message }],
  });
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const ISO_PARTS =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * An ISO-8601 time with an offset, strictly: a day that does not exist (2026-02-30), or an hour,
 * minute or offset out of range, is refused rather than rolled over as Date.parse does.
 */
export function parseIsoTime(v: string): Date | undefined {
  const m = ISO_PARTS.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec = '0', oh = '0', om = '0'] = m;
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > days) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59 || Number(oh) > 23 || Number(om) > 59)
    return undefined;
  const t = new Date(v);
  return Number.isNaN(t.getTime()) ? undefined : t;
}
const money = (s: string) => usdNumber(usdUnits(s));

/** The broker whose objects the caller sees: its key's, or undefined (all) for operators and viewers. */
function tenantOf(req: FastifyRequest): string | undefined {
  const p = principalOf(req);
  if (p.brokerId !== null) return p.brokerId;
  if (p.role === 'operator' || p.role === 'viewer') return undefined;
  throw new HttpProblem(403, 'forbidden', 'Forbidden', `a key with role ${p.role} acts for no broker`);
}

/** The broker a write is for: always the key's. */
function brokerOf(req: FastifyRequest): string {
  const p = principalOf(req);
  if (p.brokerId === null)
    throw new HttpProblem(403, 'forbidden', 'Forbidden', `a key with role ${p.role} acts for no broker`);
  return p.brokerId;
}

export function orderJson(o: OrderRecord) {
  return {
    id: o.id,
    brokerId: o.brokerId,
    state: o.state,
    tier: o.tier,
    gpuModels: o.gpuModels,
    gpuCount: o.gpuCount,
    minVramGiB: o.minVramGib,
    maxUsdPerGpuHour: money(o.maxUsdPerGpuHour),
    priceUsdPerGpuHour: o.priceUsdPerGpuHour === null ? null : money(o.priceUsdPerGpuHour),
    durationSeconds: o.durationSeconds,
    endBy: iso(o.endBy),
    notice: { preemptible: tierIsPreemptible(o.tier), noticeSeconds: o.noticeSeconds },
    image: o.image,
    args: o.args,
    pool: o.pool,
    quoteId: o.quoteId,
    idempotencyKey: o.idempotencyKey,
    preemptAt: iso(o.preemptAt),
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
    startedAt: iso(o.startedAt),
    endedAt: iso(o.endedAt),
  };
}

function eventJson(e: OrderEventRecord) {
  return {
    id: e.id,
    eventId: orderStateEventId(e.orderId, e.id),
    at: e.at.toISOString(),
    from: e.fromState,
    to: e.toState,
    reason: e.reason,
  };
}

function quoteJson(q: QuoteRecord, nodes: number, source: PriceSource, totalUnits: bigint) {
  return {
    id: q.id,
    tier: q.tier,
    gpuModel: q.gpuModel,
    pool: q.pool,
    gpuCount: q.gpuCount,
    nodes,
    priceUsdPerGpuHour: money(q.priceUsdPerGpuHour),
    priceSource: source,
    totalEstimateUsd: usdNumber(totalUnits),
    durationSeconds: q.durationSeconds,
    endBy: iso(q.endBy),
    notice: { preemptible: tierIsPreemptible(q.tier), noticeSeconds: q.noticeSeconds },
    createdAt: q.createdAt.toISOString(),
    validUntil: q.validUntil.toISOString(),
  };
}

interface TermsInput {
  gpuModels?: string[] | undefined;
  minVramGiB?: number | undefined;
  gpuCount?: number | undefined;
  durationSeconds?: number | undefined;
  endBy?: string | undefined;
  tier?: OrderTier | undefined;
  maxUsdPerGpuHour?: number | undefined;
  noticeSeconds?: number | undefined;
}

interface Terms {
  gpuModels: string[];
  minVramGiB: number;
  gpuCount: number;
  tier: OrderTier;
  maxUsdPerGpuHour: number;
  noticeSeconds: number;
  durationSeconds: number | null;
  endBy: Date | null;
  /** How long it would run from now, seconds (for estimates). */
  seconds: number;
}

/** The checks a schema cannot make: exactly one of duration and end-by, its bounds, notice by tier. */
function termsOf(b: TermsInput, at: Date): Terms {
  for (const f of BID_REQUIRED) if (b[f] === undefined) throw invalid(f, 'is required');
  if ((b.durationSeconds === undefined) === (b.endBy === undefined))
    throw invalid('durationSeconds', 'or endBy: exactly one of them is required');
  let endBy: Date | null = null;
  let seconds = b.durationSeconds ?? 0;
  if (b.endBy !== undefined) {
    endBy = parseIsoTime(b.endBy) ?? null;
    if (!endBy) throw invalid('endBy', 'is not a valid time');
    seconds = (endBy.getTime() - at.getTime()) / 1000;
    if (seconds < MIN_ORDER_SECONDS || seconds > MAX_ORDER_SECONDS)
      throw invalid('endBy', `must be ${MIN_ORDER_SECONDS} s to 90 days from now`);
  }
  const tier = b.tier!;
  const noticeSeconds = b.noticeSeconds ?? DEFAULT_NOTICE_SECONDS[tier];
  if (tier === 'on-demand' && noticeSeconds < MIN_ON_DEMAND_NOTICE_SECONDS)
    throw invalid(
      'noticeSeconds',
      `must be at least ${MIN_ON_DEMAND_NOTICE_SECONDS} for on-demand orders, which are preempted only with notice`,
    );
  return {
    gpuModels: b.gpuModels!,
    minVramGiB: b.minVramGiB ?? 0,
    gpuCount: b.gpuCount!,
    tier,
    maxUsdPerGpuHour: b.maxUsdPerGpuHour!,
    noticeSeconds,
    durationSeconds: b.durationSeconds ?? null,
    endBy,
    seconds,
  };
}

function idempotencyKeyOf(req: FastifyRequest): string {
  const v = req.headers['idempotency-key'];
  if (v === undefined) throw invalid('idempotency-key', 'header is required: a key unique to this order');
  if (typeof v !== 'string' || v.length > 255 || !IDEMPOTENCY_KEY.test(v))
    throw invalid('idempotency-key', 'header must be 1 to 255 printable ASCII characters');
  return v;
}

const QUOTE_PROBLEMS = {
  'not-found': [404, 'quote-not-found', 'Quote not found', 'no such quote'],
  expired: [409, 'quote-expired', 'Quote expired', 'the quote is no longer valid: ask for a new one'],
  used: [409, 'quote-used', 'Quote already used', 'the quote was taken by another order'],
} as const;

const REFUSALS = {
  'no-pool-fits': 'No pool fits',
  'no-capacity': 'No capacity',
  'over-max-price': 'Price above maximum',
} as const;

export const orderRoutes: FastifyPluginAsync<OrderRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const orders = new OrderRepository(opts.db);
  const quotes = new QuoteRepository(opts.db);
  const now = opts.now ?? (() => new Date());
  const policy = opts.pricing ?? DEFAULT_PRICING_POLICY;
  const ttlMs = opts.capacityTtlMs ?? DEFAULT_CAPACITY_TTL_MS;
  const location = (id: string) => `${plugin.prefix}/orders/${id}`;

  // ------------------------------------------------------------ capacity, cached

  interface Computed {
    capacity: Capacity;
    body: string;
  }
  let cache: { until: number; value: Promise<Computed> } | undefined;

  const poolsOf = (): CapacityPool[] => {
    const farm = opts.getFarm().farm;
    const pue = new Map(farm.sites.map((s) => [s.metadata.name, s.spec.pue]));
    return farm.pools.map((p) => ({
      name: p.metadata.name,
      site: p.spec.site,
      gpuModel: p.spec.gpuModel,
      vramGiB: p.spec.vramGiB,
      nodes: p.spec.nodes,
      gpusPerNode: p.spec.gpusPerNode,
      servingKw: p.spec.nodePowerKw.serving,
      pue: pue.get(p.spec.site) ?? 1,
      hashingPayoutUsdPerGpuHour: p.spec.hashing?.enabled ? (p.spec.hashing.payoutUsdPerGpuHour ?? 0) : null,
    }));
  };

  const compute = async (at: Date): Promise<Computed> => {
    const [holding, readings] = await Promise.all([
      orders.listActive({ states: HOLDING_ORDER_STATES }),
      quotes.latestPrices({ now: at, since: new Date(at.getTime() - PRICE_LOOKBACK_MS) }),
    ]);
    const reading = (r: PriceSignalReading): PriceReading => ({
      value: r.value,
      observedAt: r.observedAt,
      validUntil: r.validUntil,
    });
    const one = (signal: string) => {
      const r = readings.find((x) => x.signal === signal);
      return r ? reading(r) : null;
    };
    const market = new Map<string, PriceReading>();
    for (const r of readings)
      if (r.signal === 'gpu_usd_per_gpu_hour' && r.subject !== null) market.set(r.subject, reading(r));
    const energyBySite: Record<string, EnergyPrice> = {};
    for (const s of opts.getFarm().farm.sites)
      energyBySite[s.metadata.name] = energyPriceFor(
        s.spec.energyContract,
        { realTime: one('energy_usd_per_mwh'), dayAhead: one('energy_da_usd_per_mwh') },
        at,
        policy,
      );
    const capacity = capacityOf({ pools: poolsOf(), orders: holding, energyBySite, market, now: at, policy });
    return { capacity, body: JSON.stringify(capacity.report) };
  };

  /** The capacity computed within the last ttlMs; concurrent callers share one computation. */
  const capacity = (at: Date): Promise<Computed> => {
    const t = at.getTime();
    if (cache && t < cache.until) return cache.value;
    const value = compute(at);
    const entry = { until: t + ttlMs, value };
    cache = entry;
    value.catch(() => {
      if (cache === entry) cache = undefined;
    });
    return value;
  };

  // ------------------------------------------------------------ events

  const emit = async (events: BrokerEvent[], req: FastifyRequest) => {
    if (!opts.brokerEvents) return;
    for (const e of events) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          opts.brokerEvents(e),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${EVENT_TIMEOUT_MS} ms`)),
              EVENT_TIMEOUT_MS,
            );
          }),
        ]);
      } catch (err) {
        req.log.warn(
          { err, eventId: e.eventId },
          'broker event not handed over; the broker is not told of it',
        );
      } finally {
        clearTimeout(timer);
      }
    }
  };

  /** The order if the caller may see it; a 404 for an unknown one or another broker's. */
  const visible = async (req: FastifyRequest, id: string): Promise<OrderRecord> => {
    const order = await orders.get(id, tenantOf(req));
    if (!order) throw new HttpProblem(404, 'not-found', 'Not found', `no order ${id}`);
    return order;
  };

  // ------------------------------------------------------------ routes

  app.get('/capacity', { schema: capacitySchema }, async (_req, reply: FastifyReply) => {
    const { body } = await capacity(now());
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.post('/quotes', { schema: createQuoteSchema }, async (req, reply) => {
    const brokerId = brokerOf(req);
    const at = now();
    const terms = termsOf(req.body, at);
    const { capacity: c } = await capacity(at);
    const decision = quoteFor(terms, c.pools, policy);
    if (!decision.ok) throw new HttpProblem(409, decision.code, REFUSALS[decision.code], decision.detail);
    const quote = await quotes.create({
      brokerId,
      at,
      validUntil: new Date(at.getTime() + QUOTE_VALID_SECONDS * 1000),
      tier: terms.tier,
      gpuModel: decision.pool.gpuModel,
      pool: decision.pool.name,
      gpuCount: terms.gpuCount,
      priceUsdPerGpuHour: usdString(decision.priceUnits),
      noticeSeconds: terms.noticeSeconds,
      durationSeconds: terms.durationSeconds,
      endBy: terms.endBy,
      request: { ...req.body },
      audit: auditEntry(req, 'quote.create', 'quote'),
    });
    req.log.info({ quote: quote.id, pool: quote.pool, price: quote.priceUsdPerGpuHour }, 'quote given');
    return reply.code(201).send(quoteJson(quote, decision.nodes, decision.source, decision.totalUnits));
  });

  app.post('/orders', { schema: createOrderSchema, attachValidation: true }, async (req, reply) => {
    const key = idempotencyKeyOf(req);
    if (req.validationError) throw req.validationError;
    const body = req.body;
    const brokerId = brokerOf(req);
    const at = now();
    const common = {
      brokerId,
      idempotencyKey: key,
      requestHash: canonicalHash(body),
      image: body.image,
      args: body.args ?? [],
      at,
      audit: auditEntry(req, 'order.create', 'order', { brokerId }),
    };
    let input: CreateOrderInput;
    if (body.quoteId !== undefined) {
      const extra = TERM_FIELDS.find((f) => body[f] !== undefined);
      if (extra) throw invalid(extra, 'is fixed by the quote: send either quoteId or the terms of a bid');
      input = { ...common, quoteId: body.quoteId.toLowerCase() };
    } else {
      const terms = termsOf(body, at);
      const fit = fittingPools(terms, poolsOf());
      if (!fit.ok) throw new HttpProblem(409, 'no-pool-fits', REFUSALS['no-pool-fits'], fit.detail);
      input = {
        ...common,
        bid: {
          tier: terms.tier,
          gpuModels: terms.gpuModels,
          gpuCount: terms.gpuCount,
          minVramGib: terms.minVramGiB,
          maxUsdPerGpuHour: usdString(usdUnits(terms.maxUsdPerGpuHour)),
          durationSeconds: terms.durationSeconds,
          endBy: terms.endBy,
          noticeSeconds: terms.noticeSeconds,
        },
      };
    }

    const r = await orders.create(input);
    switch (r.outcome) {
      case 'created':
        req.log.info({ order: r.order.id, tier: r.order.tier, quote: r.order.quoteId }, 'order placed');
        await emit([orderStateEvent(r.order, r.event)], req);
        return reply.code(201).header('location', location(r.order.id)).send(orderJson(r.order));
      case 'replayed':
        return reply.code(200).header('idempotent-replayed', 'true').send(orderJson(r.order));
      case 'key-reused':
        throw new HttpProblem(
          422,
          'idempotency-key-reused',
          'Idempotency key reused',
          `the Idempotency-Key was used for order ${r.order.id} with another body; use a new key for a new order`,
        );
      default: {
        const [status, slug, title, detail] = QUOTE_PROBLEMS[r.problem];
        throw new HttpProblem(status, slug, title, `${detail} (${body.quoteId})`);
      }
    }
  });

  app.get('/orders', { schema: listOrdersSchema }, async (req) => {
    const q = req.query;
    const cursor = q.cursor === undefined ? undefined : decodeOrderCursor(q.cursor);
    if (q.cursor !== undefined && !cursor) throw invalid('cursor', 'is not a cursor this API gave');
    const time = (field: 'createdAfter' | 'createdBefore') => {
      const v = q[field];
      if (v === undefined) return undefined;
      const d = parseIsoTime(v);
      if (!d) throw invalid(field, 'is not a valid time');
      return d;
    };
    const page = await orders.list({
      brokerId: tenantOf(req),
      state: q.state,
      tier: q.tier,
      gpuModel: q.gpuModel,
      createdAfter: time('createdAfter'),
      createdBefore: time('createdBefore'),
      cursor,
      limit: q.limit ?? 50,
    });
    return { items: page.items.map(orderJson), nextCursor: page.next ? encodeOrderCursor(page.next) : null };
  });

  app.get('/orders/:id', { schema: getOrderSchema }, async (req) => {
    const order = await visible(req, req.params.id);
    const events = await orders.events(order.id);
    return { ...orderJson(order), events: events.map(eventJson) };
  });

  app.delete('/orders/:id', { schema: cancelOrderSchema }, async (req) => {
    const before = await visible(req, req.params.id);
    const ended = (state: string) =>
      new HttpProblem(
        409,
        'order-ended',
        'Order has ended',
        `order ${before.id} has ended already (${state})`,
      );
    if (isTerminalOrderState(before.state)) throw ended(before.state);
    const p = principalOf(req);
    const r = await orders.transition(
      before.id,
      orderSourcesOf('cancelled'),
      'cancelled',
      `cancelled by ${p.role} ${p.prefix}`,
      {
        at: now(),
        audit: auditEntry(req, 'order.cancel', 'order'),
      },
    );
    if (!r.ok) {
      if (r.conflict === 'state') throw ended(r.order.state);
      throw new HttpProblem(404, 'not-found', 'Not found', `no order ${before.id}`);
    }
    req.log.info({ order: r.order.id, from: r.event.fromState }, 'order cancelled');
    await emit([orderStateEvent(r.order, r.event)], req);
    const events = await orders.events(r.order.id);
    return { ...orderJson(r.order), events: events.map(eventJson) };
  });

  app.get('/orders/:id/usage', { schema: orderUsageSchema }, async (req) => {
    const order = await visible(req, req.params.id);
    const events = await orders.events(order.id);
    const at = now();
    const u = orderUsage({
      gpuCount: order.gpuCount,
      priceUsdPerGpuHour: order.priceUsdPerGpuHour ?? order.maxUsdPerGpuHour,
      transitions: events,
      now: at,
    });
    return {
      orderId: order.id,
      state: order.state,
      asOf: at.toISOString(),
      currency: 'USD' as const,
      gpuCount: u.gpuCount,
      priceUsdPerGpuHour: u.priceUsdPerGpuHour,
      seconds: u.seconds,
      gpuHours: u.gpuHours,
      chargeUsd: u.chargeUsd,
      ongoing: u.ongoing,
      intervals: u.intervals.map((i) => ({
        state: i.state as 'running' | 'preempting',
        startedAt: i.startedAt.toISOString(),
        endedAt: i.endedAt.toISOString(),
        ongoing: i.ongoing,
        seconds: i.seconds,
        gpuHours: i.gpuHours,
        chargeUsd: i.chargeUsd,
      })),
    };
  });
};

// The schemas of the compute-broker routes (routes/orders.ts): capacity, quotes, orders, their
// history and usage. Every input is bounded and closed (additionalProperties: false): a body
// never names a broker, a state, a price it was not quoted, or a pool.
import { Type } from '@sinclair/typebox';
import { MAX_IDEMPOTENCY_KEY_LENGTH, ORDER_STATES, ORDER_TIERS } from '@switchyard/db';
import {
  DateTime,
  IsoTimeInput,
  literals,
  NextCursor,
  Nullable,
  problemResponse,
  StringEnum,
  UuidInput,
  VALIDATION_PROBLEM,
} from './common.ts';

export const MAX_GPU_COUNT = 4096;
export const MIN_ORDER_SECONDS = 60;
export const MAX_ORDER_SECONDS = 90 * 86_400;
export const MAX_USD_PER_GPU_HOUR = 10_000;
export const MAX_NOTICE_SECONDS = 86_400;
export const MAX_VRAM_GIB = 1024;
export const MAX_GPU_MODELS = 16;
export const MAX_IMAGE_LENGTH = 512;
export const MAX_ARGS = 64;
export const MAX_ARG_LENGTH = 1024;
export const MAX_ORDER_PAGE = 200;
/** How long a quote may be taken, seconds. */
export const QUOTE_VALID_SECONDS = 60;

export const GPU_MODEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$';
/**
 * An OCI image reference: [registry[:port]/]path[:tag][@digest], with lower-case path components
 * (docker/distribution's grammar).
 */
export const IMAGE_PATTERN =
  '^(?:[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?' +
  '(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,128})?$';
/** Printable ASCII, no leading or trailing space. */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E](?:[\\x20-\\x7E]*[\\x21-\\x7E])?$';
const CURSOR_PATTERN = '^[A-Za-z0-9_-]{1,200}$';

const TAGS = ['orders'];
const strict = { additionalProperties: false } as const;
const usd = (description: string) => Type.Number({ minimum: 0, description });
const NOT_FOUND = (what: string) => problemResponse(`No such ${what}, or one the caller may not see.`);

// ---------------------------------------------------------------- requests

const TIER_TEXT =
  'reserved: never preempted for price; on-demand: preempted only with notice (at least 60 s); interruptible: preempted with the notice asked for, at a discount.';

const termFields = {
  gpuModels: Type.Array(
    Type.String({ pattern: GPU_MODEL_PATTERN, minLength: 1, maxLength: 64, examples: ['H100-SXM-80GB'] }),
    {
      minItems: 1,
      maxItems: MAX_GPU_MODELS,
      uniqueItems: true,
      description:
        'Acceptable GPU models (GpuPool.spec.gpuModel, compared without case); any of them will do.',
    },
  ),
  minVramGiB: Type.Integer({
    minimum: 0,
    maximum: MAX_VRAM_GIB,
    description: 'Least VRAM per GPU, GiB (default 0).',
  }),
  gpuCount: Type.Integer({ minimum: 1, maximum: MAX_GPU_COUNT, description: 'GPUs wanted.' }),
  durationSeconds: Type.Integer({
    minimum: MIN_ORDER_SECONDS,
    maximum: MAX_ORDER_SECONDS,
    description:
      'How long it runs once started, whole seconds (60 s to 90 days). Exactly one of this and endBy.',
  }),
  endBy: IsoTimeInput(
    'When it must be over: 60 s to 90 days from now. Exactly one of this and durationSeconds.',
  ),
  tier: literals(ORDER_TIERS, TIER_TEXT),
  maxUsdPerGpuHour: Type.Number({
    minimum: 0,
    maximum: MAX_USD_PER_GPU_HOUR,
    description: 'The most the broker pays, USD per GPU-hour (taken to 4 decimals).',
  }),
  noticeSeconds: Type.Integer({
    minimum: 0,
    maximum: MAX_NOTICE_SECONDS,
    description:
      'Warning wanted before a preemption, seconds (default: reserved 3600, on-demand 900, interruptible 120). On-demand needs at least 60.',
  }),
};

export const CreateQuoteBody = Type.Object(
  {
    gpuModels: termFields.gpuModels,
    minVramGiB: Type.Optional(termFields.minVramGiB),
    gpuCount: termFields.gpuCount,
    durationSeconds: Type.Optional(termFields.durationSeconds),
    endBy: Type.Optional(termFields.endBy),
    tier: termFields.tier,
    maxUsdPerGpuHour: termFields.maxUsdPerGpuHour,
    noticeSeconds: Type.Optional(termFields.noticeSeconds),
  },
  { ...strict, description: 'Exactly one of durationSeconds and endBy.' },
);

export const CreateOrderBody = Type.Object(
  {
    quoteId: Type.Optional(
      UuidInput('A quote of this broker, unexpired and unused: the order takes its terms and price.'),
    ),
    image: Type.String({
      pattern: IMAGE_PATTERN,
      minLength: 1,
      maxLength: MAX_IMAGE_LENGTH,
      description: 'The container image, an OCI reference.',
      examples: ['ghcr.io/acme/vllm-server:0.6.3'],
    }),
    args: Type.Optional(
      Type.Array(Type.String({ maxLength: MAX_ARG_LENGTH }), {
        maxItems: MAX_ARGS,
        description: "The container's arguments.",
      }),
    ),
    gpuModels: Type.Optional(termFields.gpuModels),
    minVramGiB: Type.Optional(termFields.minVramGiB),
    gpuCount: Type.Optional(termFields.gpuCount),
    durationSeconds: Type.Optional(termFields.durationSeconds),
    endBy: Type.Optional(termFields.endBy),
    tier: Type.Optional(termFields.tier),
    maxUsdPerGpuHour: Type.Optional(termFields.maxUsdPerGpuHour),
    noticeSeconds: Type.Optional(termFields.noticeSeconds),
  },
  {
    ...strict,
    description:
      'Either { quoteId, image, args? } (the quote fixes everything else), or a bid: gpuModels, gpuCount, tier, maxUsdPerGpuHour, exactly one of durationSeconds and endBy, and optionally minVramGiB and noticeSeconds, with image and args. A bid is priced at its maximum and waits, pending, for the planner.',
  },
);

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    pattern: IDEMPOTENCY_KEY_PATTERN,
    minLength: 1,
    maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
    description:
      'Required. 1 to 255 printable ASCII characters, unique per order: the same key with the same body answers the same order (200, Idempotent-Replayed: true); with another body, 422.',
  }),
});

export const ListOrdersQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ORDER_PAGE, default: 50 })),
    cursor: Type.Optional(
      Type.String({
        pattern: CURSOR_PATTERN,
        maxLength: 200,
        description: 'nextCursor of the previous page.',
      }),
    ),
    state: Type.Optional(literals(ORDER_STATES, 'Only orders in this state.')),
    tier: Type.Optional(literals(ORDER_TIERS, 'Only orders of this tier.')),
    gpuModel: Type.Optional(
      Type.String({
        pattern: GPU_MODEL_PATTERN,
        minLength: 1,
        maxLength: 64,
        description: 'Only orders that accept this GPU model (exact name).',
      }),
    ),
    createdAfter: Type.Optional(IsoTimeInput('Only orders created at or after this time.')),
    createdBefore: Type.Optional(IsoTimeInput('Only orders created before this time.')),
  },
  strict,
);

const OrderParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: "The order's id (a UUID)." }),
});

// ---------------------------------------------------------------- responses

const tierPrices = (description: string) =>
  Type.Object(
    {
      reserved: usd('Reserved, USD per GPU-hour.'),
      'on-demand': usd('On-demand, USD per GPU-hour.'),
      interruptible: usd('Interruptible at its default notice (120 s), USD per GPU-hour.'),
    },
    { description },
  );
const priceSource = StringEnum(
  ['market', 'floor'],
  'market: the fresh market price of the model; floor: max(hashing payout, serving energy cost) plus the margin.',
);
const ForecastPoint = Type.Object({
  horizonSeconds: Type.Integer({ minimum: 1 }),
  at: DateTime(),
  freeGpus: Type.Integer({ minimum: 0 }),
  freeNodes: Type.Integer({ minimum: 0 }),
});
const forecast = Type.Array(ForecastPoint, {
  description: 'Free at +1 h, +6 h and +24 h, counting the orders that will have ended by then.',
});

const PoolCapacity = Type.Object({
  name: Type.String(),
  site: Type.String(),
  gpuModel: Type.String(),
  vramGiB: Type.Integer(),
  gpusPerNode: Type.Integer(),
  nodes: Type.Integer(),
  totalGpus: Type.Integer(),
  freeNodes: Type.Integer({ minimum: 0 }),
  freeGpus: Type.Integer({
    minimum: 0,
    description: 'GPUs on nodes no admitted, running or preempting order holds.',
  }),
  forecast,
  floorUsdPerGpuHour: usd('The least a GPU-hour of this pool is sold for.'),
  prices: tierPrices('Reference prices of this pool.'),
  priceSource,
});

const ModelCapacity = Type.Object({
  gpuModel: Type.String(),
  vramGiB: Type.Integer({ description: 'The most VRAM per GPU among its pools, GiB.' }),
  totalGpus: Type.Integer(),
  freeGpus: Type.Integer({ minimum: 0 }),
  largestOrderGpus: Type.Integer({
    minimum: 0,
    description: 'The most GPUs one order can get now (one pool).',
  }),
  forecast,
  prices: tierPrices('The lowest reference price over its pools.'),
  priceSource,
  marketUsdPerGpuHour: Nullable(usd('The fresh market price used, if any.')),
  pools: Type.Array(PoolCapacity),
});

export const CapacityResponse = Type.Object({
  generatedAt: DateTime('When the figures were computed (they are kept about a second).'),
  energy: Type.Array(
    Type.Object({
      site: Type.String(),
      usdPerMwh: Type.Number(),
      source: StringEnum(['contract', 'signal', 'worst-case']),
    }),
    { description: "The energy price each site's GPU-hours are costed at." },
  ),
  models: Type.Array(ModelCapacity),
});

const Notice = Type.Object({
  preemptible: Type.Boolean({ description: 'false for reserved orders: never preempted for price.' }),
  noticeSeconds: Type.Integer({ minimum: 0, description: 'The warning given before a preemption.' }),
});

export const Quote = Type.Object({
  id: Type.String({ format: 'uuid' }),
  tier: StringEnum(ORDER_TIERS),
  gpuModel: Type.String({ description: 'The model chosen.' }),
  pool: Type.String({ description: 'The GPU pool chosen.' }),
  gpuCount: Type.Integer({ minimum: 1 }),
  nodes: Type.Integer({ minimum: 1, description: 'Whole nodes the order takes.' }),
  priceUsdPerGpuHour: usd('The price, USD per GPU-hour.'),
  priceSource,
  totalEstimateUsd: usd('price × gpuCount × hours (durationSeconds, or until endBy from now).'),
  durationSeconds: Nullable(Type.Integer()),
  endBy: Nullable(DateTime()),
  notice: Notice,
  createdAt: DateTime(),
  validUntil: DateTime('Place an order with quoteId before then.'),
});

const orderProperties = {
  id: Type.String({ format: 'uuid' }),
  brokerId: Type.String({ format: 'uuid' }),
  state: StringEnum(ORDER_STATES),
  tier: StringEnum(ORDER_TIERS),
  gpuModels: Type.Array(Type.String()),
  gpuCount: Type.Integer(),
  minVramGiB: Type.Integer(),
  maxUsdPerGpuHour: usd('The most the broker pays.'),
  priceUsdPerGpuHour: Nullable(usd("The agreed price: the quote's, or a bid's maximum.")),
  durationSeconds: Nullable(Type.Integer()),
  endBy: Nullable(DateTime()),
  notice: Notice,
  image: Type.String(),
  args: Type.Array(Type.String()),
  pool: Nullable(Type.String({ description: 'The pool it is admitted to or runs in.' })),
  quoteId: Nullable(Type.String({ format: 'uuid' })),
  idempotencyKey: Nullable(Type.String()),
  preemptAt: Nullable(DateTime('Under notice: when the GPUs are taken back.')),
  createdAt: DateTime(),
  updatedAt: DateTime(),
  startedAt: Nullable(DateTime()),
  endedAt: Nullable(DateTime()),
};
export const Order = Type.Object(orderProperties);

const OrderEvent = Type.Object({
  id: Type.Integer({ description: 'Increasing.' }),
  eventId: Type.String({ description: 'The id of the order.state webhook event: order:<orderId>:<id>.' }),
  at: DateTime(),
  from: Nullable(StringEnum(ORDER_STATES)),
  to: StringEnum(ORDER_STATES),
  reason: Type.String(),
});

const OrderWithEvents = Type.Object({ ...orderProperties, events: Type.Array(OrderEvent) });

const UsageInterval = Type.Object({
  state: StringEnum(['running', 'preempting']),
  startedAt: DateTime(),
  endedAt: DateTime('now, for the interval still open.'),
  ongoing: Type.Boolean(),
  seconds: Type.Number({ minimum: 0 }),
  gpuHours: Type.Number({ minimum: 0 }),
  chargeUsd: usd('gpuCount × hours × price, to 4 decimals.'),
});

export const Usage = Type.Object({
  orderId: Type.String({ format: 'uuid' }),
  state: StringEnum(ORDER_STATES),
  asOf: DateTime('The time open intervals are counted to.'),
  currency: Type.Literal('USD'),
  gpuCount: Type.Integer(),
  priceUsdPerGpuHour: usd('The price charged.'),
  seconds: Type.Number({ minimum: 0, description: 'Time spent running or preempting.' }),
  gpuHours: Type.Number({ minimum: 0 }),
  chargeUsd: usd('The sum of the intervals’ charges.'),
  ongoing: Type.Boolean({ description: 'Still running or preempting: the figures grow.' }),
  intervals: Type.Array(UsageInterval),
});

// ---------------------------------------------------------------- routes

export const capacitySchema = {
  operationId: 'getCapacity',
  summary: 'GPU capacity and reference prices per model',
  description:
    'Per GPU model: GPUs in all, free now and forecast, and the reference price of each tier (docs/orders.md). Computed at most once a second.',
  tags: TAGS,
  response: { 200: CapacityResponse },
};

export const createQuoteSchema = {
  operationId: 'createQuote',
  summary: 'Ask for a price',
  description: `A price for GPUs now, valid for ${QUOTE_VALID_SECONDS} s: the cheapest pool that fits and has the nodes free. Place an order with its id to take it.`,
  tags: TAGS,
  body: CreateQuoteBody,
  response: {
    201: Type.Object(Quote.properties, { description: 'Quoted.' }),
    400: problemResponse(VALIDATION_PROBLEM),
    409: problemResponse(
      'No quote: no pool fits (no-pool-fits: model, VRAM or size), none has the GPUs free now (no-capacity), or the price is above maxUsdPerGpuHour (over-max-price). `detail` says which.',
    ),
  },
};

export const createOrderSchema = {
  operationId: 'createOrder',
  summary: 'Place an order, from a quote or as a bid',
  description:
    'Needs an Idempotency-Key header. The order starts pending; the broker hears of every change (webhooks, order.state).',
  tags: TAGS,
  headers: IdempotencyHeaders,
  body: CreateOrderBody,
  response: {
    200: Type.Object(orderProperties, {
      description: 'The key was used before with the same body: that order (Idempotent-Replayed: true).',
      headers: { 'idempotent-replayed': { type: 'string', enum: ['true'] } },
    }),
    201: Type.Object(orderProperties, {
      description: 'Placed.',
      headers: { location: { type: 'string', description: 'The new order: /api/v1/orders/{id}.' } },
    }),
    400: problemResponse(`${VALIDATION_PROBLEM} Also a missing or malformed Idempotency-Key.`),
    404: problemResponse('The quote does not exist or is another broker’s (quote-not-found).'),
    409: problemResponse(
      'The quote expired (quote-expired) or was taken (quote-used); or no pool of the farm could ever fit the bid (no-pool-fits).',
    ),
    422: problemResponse('The Idempotency-Key was used with another body (idempotency-key-reused).'),
  },
};

export const listOrdersSchema = {
  operationId: 'listOrders',
  summary: 'Orders, newest first, a page at a time',
  description: 'A compute broker sees only its own.',
  tags: TAGS,
  querystring: ListOrdersQuery,
  response: {
    200: Type.Object({
      items: Type.Array(Order),
      nextCursor: NextCursor(),
    }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};

export const getOrderSchema = {
  operationId: 'getOrder',
  summary: 'One order with its history',
  tags: TAGS,
  params: OrderParams,
  response: { 200: OrderWithEvents, 400: problemResponse(VALIDATION_PROBLEM), 404: NOT_FOUND('order') },
};

export const cancelOrderSchema = {
  operationId: 'cancelOrder',
  summary: 'Cancel an order',
  description:
    'Pending, admitted, running or preempting orders end cancelled at once (a running one ends now).',
  tags: TAGS,
  params: OrderParams,
  response: {
    200: OrderWithEvents,
    400: problemResponse(VALIDATION_PROBLEM),
    404: NOT_FOUND('order'),
    409: problemResponse('The order has ended already (order-ended).'),
  },
};

export const orderUsageSchema = {
  operationId: 'getOrderUsage',
  summary: "An order's GPU-hours and charges",
  description: 'From the time it spent running or preempting (its recorded transitions), at its price.',
  tags: TAGS,
  params: OrderParams,
  response: { 200: Usage, 400: problemResponse(VALIDATION_PROBLEM), 404: NOT_FOUND('order') },
};

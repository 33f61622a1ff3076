// PostgreSQL schema for Switchyard's state: inventory snapshots, market signals, plans and the
// actions that carry them out, per-fleet observations, brokers and their keys, compute quotes and
// orders, brokers' webhooks and their deliveries, operators' overrides and policy versions, grid
// dispatches and the audit log.
//
// Conventions: snake_case SQL names, every timestamp is timestamptz, enumerations are text
// columns guarded by CHECK constraints (adding a value is a plain constraint swap, unlike ALTER
// TYPE ... ADD VALUE, which cannot run inside a migration's transaction on older servers).
// This file only imports drizzle-orm so that drizzle-kit can load it on its own.
import { sql, type SQL } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';

// ---------------------------------------------------------------- enumerations

/** Resource kinds of the farm model, in the order snapshots return them. */
export const INVENTORY_KINDS = ['Site', 'AllocationPolicy', 'MinerFleet', 'GpuPool'] as const;
export type InventoryKind = (typeof INVENTORY_KINDS)[number];

export const PLAN_SOLVERS = ['milp', 'greedy'] as const;
export type PlanSolver = (typeof PLAN_SOLVERS)[number];

export const TARGET_KINDS = ['fleet', 'pool', 'order', 'dispatch'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export const ACTION_PHASES = ['shed', 'confirm', 'add'] as const;
export type ActionPhase = (typeof ACTION_PHASES)[number];

export const ACTION_STATES = ['pending', 'dispatched', 'succeeded', 'failed', 'dropped'] as const;
export type ActionState = (typeof ACTION_STATES)[number];

export const BROKER_KINDS = ['compute', 'energy'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

export const API_KEY_ROLES = ['operator', 'viewer', 'compute-broker', 'energy-broker'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];
/** Roles whose keys act for a broker and so must name one. */
export const BROKER_ROLES = ['compute-broker', 'energy-broker'] as const satisfies readonly ApiKeyRole[];

export const ORDER_STATES = [
  'pending',
  'admitted',
  'running',
  'preempting',
  'completed',
  'preempted',
  'cancelled',
  'failed',
] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export const ORDER_TIERS = ['reserved', 'on-demand', 'interruptible'] as const;
export type OrderTier = (typeof ORDER_TIERS)[number];

export const DISPATCH_KINDS = ['cap', 'curtail-by'] as const;
export type DispatchKind = (typeof DISPATCH_KINDS)[number];

/** What a webhook is told about: an order's state changes, and a preemption notice before it. */
export const WEBHOOK_EVENTS = ['order.state', 'order.preemption-notice'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const DELIVERY_STATES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** What an override pins: a miner fleet or a GPU pool. */
export const OVERRIDE_TARGETS = ['fleet', 'pool'] as const;
export type OverrideTarget = (typeof OVERRIDE_TARGETS)[number];

// ---------------------------------------------------------------- helpers

/** `column IN ('a', 'b', ...)` for a CHECK constraint; the values are this file's constants. */
function oneOf(column: AnyPgColumn, values: readonly string[]): SQL {
  const list = values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ');
  return sql`${column} in (${sql.raw(list)})`;
}

const createdAt = (name = 'created_at') =>
  timestamp(name, { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const updatedAt = () =>
  timestamp('updated_at', { withTimezone: true, mode: 'date' })
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date());

// ---------------------------------------------------------------- inventory

export const inventorySnapshots = pgTable(
  'inventory_snapshots',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    takenAt: createdAt('taken_at'),
    /** Where the inventory came from: 'file:examples/farm.yaml', 'crd', 'api', ... */
    source: text('source').notNull(),
    /** sha256 (hex) of the canonical JSON of the resources in snapshot order. Not unique: an
     *  inventory that changes and then changes back is a new snapshot of earlier content. */
    contentHash: text('content_hash').notNull(),
    resourceCount: integer('resource_count').notNull(),
  },
  (t) => [
    index('inventory_snapshots_content_hash_idx').on(t.contentHash),
    index('inventory_snapshots_taken_at_idx').on(t.takenAt.desc()),
    check('inventory_snapshots_resource_count_check', sql`${t.resourceCount} >= 0`),
    check('inventory_snapshots_content_hash_check', sql`${t.contentHash} ~ '^[0-9a-f]{64}$'`),
  ],
);

export const inventoryResources = pgTable(
  'inventory_resources',
  {
    snapshotId: bigint('snapshot_id', { mode: 'number' })
      .notNull()
      .references(() => inventorySnapshots.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: INVENTORY_KINDS }).notNull(),
    name: text('name').notNull(),
    apiVersion: text('api_version').notNull(),
    /** The whole validated resource document (apiVersion, kind, metadata, spec). */
    document: jsonb('document').notNull(),
  },
  (t) => [
    primaryKey({ name: 'inventory_resources_pk', columns: [t.snapshotId, t.kind, t.name] }),
    check('inventory_resources_kind_check', oneOf(t.kind, INVENTORY_KINDS)),
  ],
);

// ---------------------------------------------------------------- market signals

export const signalReadings = pgTable(
  'signal_readings',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** When the source says the value was true. */
    observedAt: ts('observed_at').notNull(),
    /** When Switchyard fetched it. */
    fetchedAt: ts('fetched_at').notNull().defaultNow(),
    source: text('source').notNull(),
    /** 'btc_usd', 'difficulty', 'hashprice', 'energy_usd_per_mwh', ... */
    signal: text('signal').notNull(),
    value: doublePrecision('value').notNull(),
    unit: text('unit').notNull(),
    stale: boolean('stale').notNull().default(false),
    detail: jsonb('detail'),
  },
  (t) => [
    index('signal_readings_signal_observed_at_idx').on(t.signal, t.observedAt.desc()),
    check('signal_readings_signal_check', sql`${t.signal} <> ''`),
  ],
);

// ---------------------------------------------------------------- plans and actions

export const plans = pgTable(
  'plans',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    createdAt: createdAt(),
    site: text('site').notNull(),
    /** Fencing epoch of the leader that produced the plan. */
    epoch: bigint('epoch', { mode: 'number' }).notNull(),
    solver: text('solver', { enum: PLAN_SOLVERS }).notNull(),
    status: text('status').notNull(),
    intervalStart: ts('interval_start').notNull(),
    /** Expected value per hour by use: { hashing, gpu_hashing, serving, grid, ... } in USD. */
    expectedUsdPerHour: jsonb('expected_usd_per_hour').notNull(),
    summary: jsonb('summary').notNull(),
    /** The signals and observations the plan was computed from, for replay. */
    inputs: jsonb('inputs').notNull(),
  },
  (t) => [
    index('plans_site_created_at_idx').on(t.site, t.createdAt.desc()),
    index('plans_site_interval_start_idx').on(t.site, t.intervalStart.desc()),
    check('plans_solver_check', oneOf(t.solver, PLAN_SOLVERS)),
    check('plans_epoch_check', sql`${t.epoch} >= 0`),
  ],
);

export const planChanges = pgTable(
  'plan_changes',
  {
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    targetKind: text('target_kind', { enum: TARGET_KINDS }).notNull(),
    target: text('target').notNull(),
    change: jsonb('change').notNull(),
    /** Why the planner made the change, for operators. */
    reason: text('reason').notNull(),
  },
  (t) => [
    primaryKey({ name: 'plan_changes_pk', columns: [t.planId, t.seq] }),
    check('plan_changes_target_kind_check', oneOf(t.targetKind, TARGET_KINDS)),
    check('plan_changes_seq_check', sql`${t.seq} >= 0`),
  ],
);

export const actions = pgTable(
  'actions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id, { onDelete: 'cascade' }),
    step: integer('step').notNull(),
    phase: text('phase', { enum: ACTION_PHASES }).notNull(),
    targetKind: text('target_kind', { enum: TARGET_KINDS }).notNull(),
    target: text('target').notNull(),
    command: text('command').notNull(),
    payload: jsonb('payload').notNull(),
    state: text('state', { enum: ACTION_STATES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** Fencing epoch; executors refuse actions from an older epoch. */
    epoch: bigint('epoch', { mode: 'number' }).notNull(),
    /** Queue job id; unique so a re-enqueued action is never run twice. */
    jobId: text('job_id').unique('actions_job_id_unique'),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('actions_plan_id_step_idx').on(t.planId, t.step),
    index('actions_open_idx')
      .on(t.state, t.createdAt)
      .where(sql`${t.state} in ('pending', 'dispatched')`),
    index('actions_target_idx').on(t.targetKind, t.target, t.createdAt.desc()),
    check('actions_phase_check', oneOf(t.phase, ACTION_PHASES)),
    check('actions_target_kind_check', oneOf(t.targetKind, TARGET_KINDS)),
    check('actions_state_check', oneOf(t.state, ACTION_STATES)),
    check('actions_attempts_check', sql`${t.attempts} >= 0`),
    check('actions_step_check', sql`${t.step} >= 0`),
  ],
);

// ---------------------------------------------------------------- observations

/** One row per fleet per observation, aggregated; individual miners are never stored. */
export const fleetObservations = pgTable(
  'fleet_observations',
  {
    observedAt: ts('observed_at').notNull(),
    site: text('site').notNull(),
    fleet: text('fleet').notNull(),
    /** Miner counts by state, e.g. { hashing: 630, sleeping: 4, offline: 6 }. */
    minersByState: jsonb('miners_by_state').$type<Record<string, number>>().notNull(),
    hashrateThs: doublePrecision('hashrate_ths').notNull(),
    powerKw: doublePrecision('power_kw').notNull(),
    /** How power_kw was obtained: 'pdu', 'miner', 'model', ... */
    powerSource: text('power_source').notNull(),
    maxChipTempC: doublePrecision('max_chip_temp_c'),
    /** Miners reporting but impaired (hot, failed boards, throttled). */
    degraded: integer('degraded').notNull().default(0),
  },
  (t) => [
    primaryKey({ name: 'fleet_observations_pk', columns: [t.fleet, t.observedAt] }),
    index('fleet_observations_site_observed_at_idx').on(t.site, t.observedAt.desc()),
    check('fleet_observations_hashrate_check', sql`${t.hashrateThs} >= 0`),
    check('fleet_observations_power_check', sql`${t.powerKw} >= 0`),
    check('fleet_observations_degraded_check', sql`${t.degraded} >= 0`),
  ],
);

// ---------------------------------------------------------------- brokers and keys

export const brokers = pgTable(
  'brokers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull().unique('brokers_name_unique'),
    kind: text('kind', { enum: BROKER_KINDS }).notNull(),
    createdAt: createdAt(),
    disabledAt: ts('disabled_at'),
  },
  (t) => [check('brokers_kind_check', oneOf(t.kind, BROKER_KINDS))],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** The visible, non-secret part of the key, used to look it up. */
    prefix: text('prefix').notNull().unique('api_keys_prefix_unique'),
    /** Hash of the secret part; the secret itself is never stored. */
    secretHash: text('secret_hash').notNull(),
    role: text('role', { enum: API_KEY_ROLES }).notNull(),
    brokerId: uuid('broker_id').references(() => brokers.id, { onDelete: 'restrict' }),
    label: text('label'),
    createdAt: createdAt(),
    lastUsedAt: ts('last_used_at'),
    revokedAt: ts('revoked_at'),
    expiresAt: ts('expires_at'),
  },
  (t) => [
    index('api_keys_broker_id_idx').on(t.brokerId),
    check('api_keys_role_check', oneOf(t.role, API_KEY_ROLES)),
    // Broker keys act for exactly one broker; operator and viewer keys for none.
    check('api_keys_broker_role_check', sql`(${oneOf(t.role, BROKER_ROLES)}) = (${t.brokerId} is not null)`),
  ],
);

// ---------------------------------------------------------------- compute orders

export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    brokerId: uuid('broker_id')
      .notNull()
      .references(() => brokers.id, { onDelete: 'restrict' }),
    /** Client-chosen key; a retried submission with the same key returns the same order. */
    idempotencyKey: text('idempotency_key'),
    state: text('state', { enum: ORDER_STATES }).notNull().default('pending'),
    tier: text('tier', { enum: ORDER_TIERS }).notNull(),
    gpuModels: text('gpu_models').array().notNull(),
    gpuCount: integer('gpu_count').notNull(),
    minVramGib: integer('min_vram_gib').notNull().default(0),
    /** Money as numeric, read back as exact decimal strings. */
    maxUsdPerGpuHour: numeric('max_usd_per_gpu_hour', { precision: 12, scale: 4 }).notNull(),
    priceUsdPerGpuHour: numeric('price_usd_per_gpu_hour', { precision: 12, scale: 4 }),
    durationSeconds: integer('duration_seconds'),
    endBy: ts('end_by'),
    /** Warning the order gets before preemption. */
    noticeSeconds: integer('notice_seconds').notNull().default(0),
    image: text('image').notNull(),
    args: jsonb('args')
      .notNull()
      .default(sql`'[]'::jsonb`),
    pool: text('pool'),
    /** The quote it was placed from, if any (its price is then the quote's). */
    quoteId: uuid('quote_id'),
    /** sha256 of the canonical request body: the same Idempotency-Key with another body is refused. */
    requestHash: text('request_hash'),
    /** Set when a preemption is announced: the order's notice period ends here. */
    preemptAt: ts('preempt_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: ts('started_at'),
    endedAt: ts('ended_at'),
  },
  (t) => [
    unique('orders_broker_idempotency_key_unique').on(t.brokerId, t.idempotencyKey),
    index('orders_state_created_at_idx').on(t.state, t.createdAt),
    index('orders_broker_created_at_idx').on(t.brokerId, t.createdAt.desc()),
    index('orders_pool_idx')
      .on(t.pool)
      .where(sql`${t.pool} is not null`),
    check('orders_state_check', oneOf(t.state, ORDER_STATES)),
    check('orders_tier_check', oneOf(t.tier, ORDER_TIERS)),
    check('orders_gpu_count_check', sql`${t.gpuCount} > 0`),
    check('orders_min_vram_check', sql`${t.minVramGib} >= 0`),
    check('orders_max_price_check', sql`${t.maxUsdPerGpuHour} >= 0`),
    check('orders_price_check', sql`${t.priceUsdPerGpuHour} is null or ${t.priceUsdPerGpuHour} >= 0`),
    check('orders_duration_check', sql`${t.durationSeconds} is null or ${t.durationSeconds} > 0`),
    check('orders_notice_check', sql`${t.noticeSeconds} >= 0`),
    check('orders_gpu_models_check', sql`cardinality(${t.gpuModels}) > 0`),
  ],
);

export const orderEvents = pgTable(
  'order_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    at: createdAt('at'),
    /** Null for the event that creates the order. */
    fromState: text('from_state', { enum: ORDER_STATES }),
    toState: text('to_state', { enum: ORDER_STATES }).notNull(),
    reason: text('reason').notNull(),
  },
  (t) => [
    index('order_events_order_id_idx').on(t.orderId, t.id),
    check(
      'order_events_from_state_check',
      sql`${t.fromState} is null or ${oneOf(t.fromState, ORDER_STATES)}`,
    ),
    check('order_events_to_state_check', oneOf(t.toState, ORDER_STATES)),
  ],
);

// ---------------------------------------------------------------- quotes

export const quotes = pgTable(
  'quotes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    brokerId: uuid('broker_id')
      .notNull()
      .references(() => brokers.id, { onDelete: 'restrict' }),
    createdAt: createdAt(),
    validUntil: ts('valid_until').notNull(),
    tier: text('tier', { enum: ORDER_TIERS }).notNull(),
    gpuModel: text('gpu_model').notNull(),
    pool: text('pool').notNull(),
    gpuCount: integer('gpu_count').notNull(),
    priceUsdPerGpuHour: numeric('price_usd_per_gpu_hour', { precision: 12, scale: 4 }).notNull(),
    noticeSeconds: integer('notice_seconds').notNull(),
    durationSeconds: integer('duration_seconds'),
    endBy: ts('end_by'),
    /** The request as the broker sent it, for the order placed from the quote. */
    request: jsonb('request').notNull(),
    /** Set by the order that used it; a quote buys one order. */
    orderId: uuid('order_id'),
  },
  (t) => [
    index('quotes_broker_created_at_idx').on(t.brokerId, t.createdAt.desc()),
    check('quotes_tier_check', oneOf(t.tier, ORDER_TIERS)),
    check('quotes_gpu_count_check', sql`${t.gpuCount} > 0`),
    check('quotes_price_check', sql`${t.priceUsdPerGpuHour} >= 0`),
    check('quotes_notice_check', sql`${t.noticeSeconds} >= 0`),
  ],
);

// ---------------------------------------------------------------- webhooks

export const webhooks = pgTable(
  'webhooks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    brokerId: uuid('broker_id')
      .notNull()
      .references(() => brokers.id, { onDelete: 'restrict' }),
    url: text('url').notNull(),
    /**
     * The HMAC signing secret. Unlike an API key it cannot be stored as a hash: the server signs
     * every delivery with it. Shown once at registration, never in a listing or a log.
     */
    secret: text('secret').notNull(),
    events: text('events').array().notNull(),
    description: text('description'),
    createdAt: createdAt(),
    deletedAt: ts('deleted_at'),
  },
  (t) => [
    index('webhooks_broker_id_idx').on(t.brokerId),
    check('webhooks_events_check', sql`cardinality(${t.events}) > 0`),
  ],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    /** The event's own id (also sent to the receiver), so a retried enqueue delivers once. */
    eventId: text('event_id').notNull(),
    event: text('event', { enum: WEBHOOK_EVENTS }).notNull(),
    payload: jsonb('payload').notNull(),
    state: text('state', { enum: DELIVERY_STATES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    deliveredAt: ts('delivered_at'),
  },
  (t) => [
    unique('webhook_deliveries_webhook_event_unique').on(t.webhookId, t.eventId),
    index('webhook_deliveries_webhook_created_at_idx').on(t.webhookId, t.createdAt.desc()),
    check('webhook_deliveries_event_check', oneOf(t.event, WEBHOOK_EVENTS)),
    check('webhook_deliveries_state_check', oneOf(t.state, DELIVERY_STATES)),
    check('webhook_deliveries_attempts_check', sql`${t.attempts} >= 0`),
  ],
);

// ---------------------------------------------------------------- operator steering

/** An operator pins a fleet or a pool to a mode for a window; the planner keeps to it. */
export const overrides = pgTable(
  'overrides',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    site: text('site').notNull(),
    targetKind: text('target_kind', { enum: OVERRIDE_TARGETS }).notNull(),
    target: text('target').notNull(),
    /** A fleet: 'asleep' or a profile name; a pool: 'idle', 'serving' or 'hashing'. */
    mode: text('mode').notNull(),
    startsAt: ts('starts_at').notNull(),
    endsAt: ts('ends_at').notNull(),
    reason: text('reason').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    cancelledAt: ts('cancelled_at'),
  },
  (t) => [
    index('overrides_site_ends_at_idx').on(t.site, t.endsAt),
    check('overrides_target_kind_check', oneOf(t.targetKind, OVERRIDE_TARGETS)),
    check('overrides_window_check', sql`${t.endsAt} > ${t.startsAt}`),
  ],
);

/**
 * The allocation policy an operator set through the API, one version per change; the newest
 * replaces the farm file's AllocationPolicy spec for its site.
 */
export const policyVersions = pgTable(
  'policy_versions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    site: text('site').notNull(),
    spec: jsonb('spec').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('policy_versions_site_id_idx').on(t.site, t.id.desc())],
);

// ---------------------------------------------------------------- grid dispatches

export const gridDispatches = pgTable(
  'grid_dispatches',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Null for dispatches entered by an operator rather than an energy broker. */
    brokerId: uuid('broker_id').references(() => brokers.id, { onDelete: 'restrict' }),
    site: text('site').notNull(),
    /** cap: hold site load at or below kw; curtail-by: reduce load by kw from its baseline. */
    kind: text('kind', { enum: DISPATCH_KINDS }).notNull(),
    kw: doublePrecision('kw').notNull(),
    startsAt: ts('starts_at').notNull(),
    durationSeconds: integer('duration_seconds').notNull(),
    receivedAt: createdAt('received_at'),
    acknowledgedAt: ts('acknowledged_at'),
    state: text('state').notNull(),
    expectedKw: doublePrecision('expected_kw'),
    performance: jsonb('performance'),
  },
  (t) => [
    index('grid_dispatches_site_starts_at_idx').on(t.site, t.startsAt),
    index('grid_dispatches_broker_id_idx').on(t.brokerId),
    check('grid_dispatches_kind_check', oneOf(t.kind, DISPATCH_KINDS)),
    check('grid_dispatches_kw_check', sql`${t.kw} >= 0`),
    check('grid_dispatches_duration_check', sql`${t.durationSeconds} > 0`),
  ],
);

// ---------------------------------------------------------------- audit

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: createdAt('at'),
    /** API key prefix, or 'system' for the control loop itself. */
    actor: text('actor').notNull(),
    role: text('role').notNull(),
    action: text('action').notNull(),
    target: text('target'),
    detail: jsonb('detail'),
    requestId: text('request_id'),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at.desc()),
    index('audit_log_actor_at_idx').on(t.actor, t.at.desc()),
    index('audit_log_target_at_idx').on(t.target, t.at.desc()),
  ],
);

// ---------------------------------------------------------------- row types

export type InventorySnapshot = typeof inventorySnapshots.$inferSelect;
export type NewInventorySnapshot = typeof inventorySnapshots.$inferInsert;
export type InventoryResourceRow = typeof inventoryResources.$inferSelect;
export type NewInventoryResourceRow = typeof inventoryResources.$inferInsert;
export type SignalReading = typeof signalReadings.$inferSelect;
export type NewSignalReading = typeof signalReadings.$inferInsert;
export type Plan = typeof plans.$inferSelect;
export type NewPlan = typeof plans.$inferInsert;
export type PlanChange = typeof planChanges.$inferSelect;
export type NewPlanChange = typeof planChanges.$inferInsert;
export type Action = typeof actions.$inferSelect;
export type NewAction = typeof actions.$inferInsert;
export type FleetObservation = typeof fleetObservations.$inferSelect;
export type NewFleetObservation = typeof fleetObservations.$inferInsert;
export type Broker = typeof brokers.$inferSelect;
export type NewBroker = typeof brokers.$inferInsert;
export type ApiKey = typeof apiKeys.$inferSelect;
export type NewApiKey = typeof apiKeys.$inferInsert;
export type Order = typeof orders.$inferSelect;
export type NewOrder = typeof orders.$inferInsert;
export type OrderEvent = typeof orderEvents.$inferSelect;
export type NewOrderEvent = typeof orderEvents.$inferInsert;
export type GridDispatch = typeof gridDispatches.$inferSelect;
export type NewGridDispatch = typeof gridDispatches.$inferInsert;
export type Quote = typeof quotes.$inferSelect;
export type NewQuote = typeof quotes.$inferInsert;
export type Webhook = typeof webhooks.$inferSelect;
export type NewWebhook = typeof webhooks.$inferInsert;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
export type NewWebhookDelivery = typeof webhookDeliveries.$inferInsert;
export type Override = typeof overrides.$inferSelect;
export type NewOverride = typeof overrides.$inferInsert;
export type PolicyVersion = typeof policyVersions.$inferSelect;
export type NewPolicyVersion = typeof policyVersions.$inferInsert;
export type AuditLogEntry = typeof auditLog.$inferSelect;
export type NewAuditLogEntry = typeof auditLog.$inferInsert;

// @switchyard/db: the PostgreSQL adapter (node-postgres or embedded PGlite, via drizzle).
export * from './schema.ts';
export {
  defaultMigrationsFolder,
  migrateDatabase,
  openDatabase,
  queryRows,
  type Database,
  type DatabaseDriver,
  type DatabaseHandle,
  type DatabaseLogger,
  type Executor,
  type MigrateOptions,
  type OpenDatabaseOptions,
  type Schema,
  type Transaction,
} from './database.ts';
export { canonicalHash, canonicalJson } from './canonical-json.ts';
export {
  InventoryRepository,
  inventoryContentHash,
  sortResources,
  type InventorySnapshotRecord,
  type SavedSnapshot,
} from './inventory-repository.ts';
export type { PGlite } from '@electric-sql/pglite';
// The SQL tag of the drizzle-orm instance this package uses, for raw fragments with queryRows.
export { sql } from 'drizzle-orm';
export { ObservationRepository, type FleetObservationInput } from './observation-repository.ts';
export { PlanRepository, type StorablePlan, type SavePlanInput, type StoredPlan } from './plan-repository.ts';
export type {
  ActionPage,
  ActionRecord,
  ListActionsOptions,
  PlanOverview,
  PlanPage,
} from './plan-repository.ts';
export {
  OverrideRepository,
  OVERRIDE_STATES,
  overrideState,
  type CreateOverrideInput,
  type CreateOverrideResult,
  type ListOverridesOptions,
  type OverridePage,
  type OverrideRecord,
  type OverrideState,
  type PlannerOverride,
} from './override-repository.ts';
export {
  PolicyRepository,
  type PolicyVersionPage,
  type PolicyVersionRecord,
  type SavePolicyInput,
} from './policy-repository.ts';
export {
  DispatchRepository,
  DISPATCH_STATES,
  MAX_PERFORMANCE_SAMPLES,
  OPEN_DISPATCH_STATES,
  TERMINAL_DISPATCH_STATES,
  addPerformanceSample,
  emptyPerformance,
  resolveCapKw,
  type ActiveDispatchesOptions,
  type CreateDispatchInput,
  type DispatchPerformance,
  type DispatchPage,
  type DispatchRecord,
  type DispatchSample,
  type DispatchState,
  type ListDispatchesOptions,
} from './dispatch-repository.ts';
export {
  AccessStoreError,
  ACCESS_STORE_ERROR_CODES,
  type AccessStoreErrorCode,
} from './access-store-error.ts';
export {
  BrokerRepository,
  BROKER_NAME_PATTERN,
  type BrokerRecord,
  type CreateBrokerInput,
} from './broker-repository.ts';
export {
  ApiKeyRepository,
  API_KEY_PREFIX,
  BROKER_KIND_OF_ROLE,
  MAX_KEY_LABEL_LENGTH,
  hashApiKeySecret,
  isKeyActive,
  parseApiKeyToken,
  secretMatches,
  type ApiKeyCredentials,
  type ApiKeyRecord,
  type ApiKeyRepositoryOptions,
  type CreateApiKeyInput,
  type IssuedApiKey,
  type RotatedApiKey,
} from './api-key-repository.ts';
export {
  AuditRepository,
  type AuditEntryInput,
  type AuditPage,
  type AuditRecord,
  type ListAuditOptions,
} from './audit-repository.ts';
export {
  OrderRepository,
  BILLED_ORDER_STATES,
  HOLDING_ORDER_STATES,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  OPEN_ORDER_STATES,
  TERMINAL_ORDER_STATES,
  decodeOrderCursor,
  encodeOrderCursor,
  type ActiveOrderRecord,
  type CreateBidInput,
  type CreateFromQuoteInput,
  type CreateOrderInput,
  type CreateOrderResult,
  type ListActiveOptions,
  type ListOrdersOptions,
  type OrderCursor,
  type OrderEventRecord,
  type OrderPage,
  type OrderRecord,
  type OrderTerms,
  type QuoteProblem,
  type TransitionExtra,
  type TransitionResult,
} from './order-repository.ts';
export {
  QuoteRepository,
  PRICE_SIGNALS,
  type CreateQuoteInput,
  type LatestPricesOptions,
  type PriceSignalReading,
  type QuoteRecord,
} from './quote-repository.ts';
export {
  WebhookRepository,
  WebhookStoreError,
  WEBHOOK_ERROR_CODES,
  WEBHOOK_SECRET_BYTES,
  WEBHOOK_SECRET_PREFIX,
  MAX_EVENT_ID_LENGTH,
  MAX_WEBHOOK_DESCRIPTION_LENGTH,
  MAX_WEBHOOK_PAYLOAD_BYTES,
  MAX_WEBHOOK_URL_LENGTH,
  MAX_WEBHOOKS_PER_BROKER,
  WEBHOOK_DESCRIPTION_PATTERN,
  WEBHOOK_URL_PATTERN,
  checkEventInput,
  normaliseWebhookEvents,
  type CreateWebhookInput,
  type CreatedWebhook,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryTarget,
  type ListWebhooksOptions,
  type RecordEventInput,
  type WebhookErrorCode,
  type WebhookRecord,
  type WebhookRepositoryOptions,
} from './webhook-repository.ts';
export {
  DEFAULT_RETENTION,
  RETAINED_TABLES,
  deleteWhere,
  pruneExpired,
  type RetainedTable,
  type RetentionPolicy,
} from './retention.ts';

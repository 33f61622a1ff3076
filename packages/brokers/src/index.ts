export * from './events.ts';
export * from './lifecycle.ts';
export * from './orders/state.ts';
export * from './orders/pricing.ts';
export * from './orders/capacity.ts';
export * from './orders/usage.ts';
export {
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_SIGNATURE_VERSION,
  WEBHOOK_TIMESTAMP_HEADER,
  WEBHOOK_USER_AGENT,
  signWebhook,
  verifyWebhookSignature,
  webhookSignatureHeaders,
  webhookSigningKey,
  type HeaderSource,
  type RawBody,
  type WebhookVerification,
} from './webhooks/signing.ts';
export {
  MAX_WEBHOOK_URL_CHARS,
  WebhookTargetError,
  checkWebhookUrl,
  classifyAddress,
  guardedLookup,
  type AddressClass,
  type WebhookTargetPolicy,
  type WebhookUrlCheck,
} from './webhooks/targets.ts';
export {
  TEST_EVENT_ID_PREFIX,
  TEST_PING_DATA,
  WEBHOOK_PRIORITY,
  WebhookOutbox,
  createWebhookOutbox,
  type OutboxLogger,
  type SweepOptions,
  type WebhookOutboxOptions,
} from './webhooks/outbox.ts';
export {
  DEFAULT_DELIVERY_TIMEOUT_MS,
  createWebhookDeliverHandler,
  deliveryBody,
  isRetryableStatus,
  type DeliveryLogger,
  type DeliveryResult,
  type WebhookDeliveryOptions,
} from './webhooks/delivery.ts';

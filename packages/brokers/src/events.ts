// What brokers are told about their orders, as one event type: the order routes and the controller
// produce them after a change is committed, and the webhook outbox turns each into signed
// deliveries to the broker's registered webhooks.
import type { WebhookEvent } from '@switchyard/db';

export interface BrokerEvent {
  /** Unique per event and stable across retries of the same notification (a delivery is keyed by it). */
  eventId: string;
  /** The tenant whose webhooks hear of it. */
  brokerId: string;
  event: WebhookEvent;
  /** When it happened. */
  at: Date;
  /** The JSON body sent to the receiver, besides the envelope (id, event, at). */
  payload: Record<string, unknown>;
}

/** Takes events after their change is committed; it must not throw for a broker with no webhooks. */
export type BrokerEventSink = (event: BrokerEvent) => Promise<void>;

/** A sink that drops every event (no webhooks wired). */
export const discardBrokerEvents: BrokerEventSink = async () => {};

// The webhook outbox: turns broker events into deliveries. For an event it records one
// webhook_deliveries row per live webhook of the event's broker that subscribes to the event
// (unique per webhook and event id, so an event published twice is delivered once), then enqueues
// one `webhook.deliver` job per pending delivery, with the catalog's options and the deterministic
// job id `webhook~<deliveryId>`.
//
// The rows are the record: once they are written the event will be delivered. Enqueueing may
// fail (Redis away); `publish` then logs it and returns, and `sweep` (run by the worker) enqueues
// every delivery still pending after a while. Enqueueing a delivery whose job exists is a no-op.
//
// Preemption notices are enqueued ahead of order state changes (a higher BullMQ priority), and no
// job is ever delayed on purpose.
import { randomUUID } from 'node:crypto';
import { WebhookRepository, type Database, type DeliveryRecord, type WebhookEvent } from '@switchyard/db';
import {
  JOB_CATALOG,
  jobOptions,
  parsePayload,
  type Backoff,
  type Job,
  type JobQueues,
} from '@switchyard/queue';
import type { BrokerEvent, BrokerEventSink } from '../events.ts';

/** BullMQ priorities (1 is the highest): a notice must not wait behind a burst of state changes. */
export const WEBHOOK_PRIORITY: Readonly<Record<WebhookEvent, number>> = {
  'order.preemption-notice': 1,
  'order.state': 5,
};
/** A test ping's data: nothing but this flag. */
export const TEST_PING_DATA = { test: true } as const;
export const TEST_EVENT_ID_PREFIX = 'test_';

export interface OutboxLogger {
  warn(obj: object, msg: string): void;
}

export interface WebhookOutboxOptions {
  db: Database;
  /** The producer queues (createQueues); the outbox adds to their `webhook` queue. */
  queues: Pick<JobQueues, 'queues'>;
  logger?: OutboxLogger | undefined;
  /**
   * Replaces the catalog's attempts and backoff on the jobs this outbox adds: for tests, which
   * cannot wait out the real schedule.
   */
  retry?: { attempts?: number; backoff?: Backoff } | undefined;
}

export interface SweepOptions {
  /** Only deliveries whose event is at least this old (default 60 s): younger ones are in flight. */
  minAgeMs?: number;
  /** Not deliveries older than this (default 3 days): their retries are long over. */
  maxAgeMs?: number;
  /** At most this many per sweep (default 500). */
  limit?: number;
}

export class WebhookOutbox {
  readonly #repo: WebhookRepository;
  readonly #queues: Pick<JobQueues, 'queues'>;
  readonly #logger: OutboxLogger | undefined;
  readonly #retry: WebhookOutboxOptions['retry'];

  constructor(opts: WebhookOutboxOptions) {
    this.#repo = new WebhookRepository(opts.db);
    this.#queues = opts.queues;
    this.#logger = opts.logger;
    this.#retry = opts.retry;
  }

  /**
   * The BrokerEventSink: records the event's deliveries and enqueues them. Throws when the
   * deliveries cannot be recorded (the database failed, or the event is malformed); never for a
   * broker without webhooks, nor when only the enqueueing failed (see `sweep`).
   */
  readonly publish: BrokerEventSink = async (event: BrokerEvent) => {
    const deliveries = await this.#repo.recordEvent({
      brokerId: event.brokerId,
      eventId: event.eventId,
      event: event.event,
      at: event.at,
      payload: event.payload,
    });
    await this.#enqueueLogged(deliveries);
  };

  /**
   * Adds the deliveries' jobs. Resolves with the jobs; throws when Redis refuses them (the
   * deliveries stay pending for the sweep).
   */
  async enqueue(deliveries: readonly DeliveryRecord[]): Promise<Job[]> {
    const queue = this.#queues.queues[JOB_CATALOG['webhook.deliver'].queue];
    return Promise.all(
      deliveries.map((d) => {
        const data = parsePayload('webhook.deliver', { deliveryId: d.id });
        return queue.add('webhook.deliver', data, {
          ...jobOptions('webhook.deliver', data),
          ...(this.#retry?.attempts !== undefined ? { attempts: this.#retry.attempts } : {}),
          ...(this.#retry?.backoff ? { backoff: { ...this.#retry.backoff } } : {}),
          priority: WEBHOOK_PRIORITY[d.event],
        });
      }),
    );
  }

  /** Enqueues; on failure logs and answers false (the deliveries stay pending for the sweep). */
  async #enqueueLogged(deliveries: readonly DeliveryRecord[]): Promise<boolean> {
    if (deliveries.length === 0) return true;
    try {
      await this.enqueue(deliveries);
      return true;
    } catch (err) {
      this.#logger?.warn(
        { err: (err as Error).message, deliveries: deliveries.map((d) => d.id) },
        'webhook deliveries recorded but not enqueued; the sweep will enqueue them',
      );
      return false;
    }
  }

  /**
   * Sends a test ping to one webhook: a delivery of `event` (one the webhook subscribes to)
   * whose data is `{ test: true }` and whose event id starts with `test_`. Undefined when the
   * webhook is unknown or deleted; `enqueued` is false when Redis refused the job (the sweep
   * sends it later).
   */
  async sendTest(
    webhookId: string,
    event: WebhookEvent,
    at: Date = new Date(),
  ): Promise<{ delivery: DeliveryRecord; enqueued: boolean } | undefined> {
    const delivery = await this.#repo.recordDelivery(webhookId, {
      eventId: `${TEST_EVENT_ID_PREFIX}${randomUUID()}`,
      event,
      at,
      payload: { ...TEST_PING_DATA },
    });
    if (!delivery) return undefined;
    return { delivery, enqueued: await this.#enqueueLogged([delivery]) };
  }

  /**
   * Enqueues pending deliveries of live webhooks whose job may be missing (an enqueue that
   * failed, a Redis that lost data). Jobs that exist are left alone. Returns how many it saw.
   */
  async sweep(opts: SweepOptions = {}, now: Date = new Date()): Promise<number> {
    const t = now.getTime();
    const pending = await this.#repo.pendingDeliveries({
      before: new Date(t - (opts.minAgeMs ?? 60_000)),
      after: new Date(t - (opts.maxAgeMs ?? 3 * 24 * 3600_000)),
      limit: opts.limit ?? 500,
    });
    if (pending.length) await this.enqueue(pending);
    return pending.length;
  }
}

/** The outbox for the API and the controller: `createWebhookOutbox(db, queues).publish` is a BrokerEventSink. */
export function createWebhookOutbox(
  db: Database,
  queues: Pick<JobQueues, 'queues'>,
  opts: Omit<WebhookOutboxOptions, 'db' | 'queues'> = {},
): WebhookOutbox {
  return new WebhookOutbox({ db, queues, ...opts });
}

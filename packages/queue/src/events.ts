// Control events: a Redis pub/sub channel that tells the controller, within milliseconds, that
// something it plans from has changed (a grid dispatch arrived or was cancelled, an override,
// the inventory). An event carries no state of its own: the controller reads the database when
// one arrives. Pub/sub delivers to whoever is subscribed at that moment and keeps nothing, so a
// controller that was away misses the event and finds the change on its next interval.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { connectRedis, redisOptions } from './redis.ts';
import { DEFAULT_PREFIX } from './queues.ts';

/** How long close() waits for QUIT before dropping the connection. */
const CLOSE_TIMEOUT_MS = 2000;

const isoTime = z.iso.datetime({ offset: true });
const name = z.string().min(1).max(253);

export const gridDispatchEventSchema = z.object({
  type: z.literal('grid-dispatch'),
  /** The dispatch's id (grid_dispatches.id). */
  id: z.string().min(1).max(128),
  site: name,
  /** When the change happened, ISO-8601. */
  at: isoTime,
  /** What happened to it; absent means "look again". */
  change: z.enum(['created', 'cancelled', 'updated']).optional(),
});

export const overrideEventSchema = z.object({
  type: z.literal('override'),
  site: name.optional(),
  targetKind: z.enum(['fleet', 'pool']).optional(),
  target: name.optional(),
  at: isoTime.optional(),
});

export const inventoryEventSchema = z.object({
  type: z.literal('inventory'),
  at: isoTime.optional(),
});

/** Unknown fields are dropped, so an older subscriber accepts a newer publisher's events. */
export const controlEventSchema = z.discriminatedUnion('type', [
  gridDispatchEventSchema,
  overrideEventSchema,
  inventoryEventSchema,
]);

export type GridDispatchEvent = z.infer<typeof gridDispatchEventSchema>;
export type OverrideEvent = z.infer<typeof overrideEventSchema>;
export type InventoryEvent = z.infer<typeof inventoryEventSchema>;
export type ControlEvent = z.infer<typeof controlEventSchema>;
export type ControlEventType = ControlEvent['type'];

export interface ControlEventOptions {
  /** Key prefix of this deployment (default DEFAULT_PREFIX); the channel is `${prefix}:events`. */
  prefix?: string;
}

/** The pub/sub channel of a prefix. */
export function controlEventChannel(prefix: string = DEFAULT_PREFIX): string {
  if (prefix.length === 0) throw new RangeError('control event prefix must not be empty');
  return `${prefix}:events`;
}

/** An event that failed validation, on either side of the channel. */
export class ControlEventError extends Error {
  readonly code = 'CONTROL_EVENT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ControlEventError';
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
}

/**
 * Validates and publishes one event on any ordinary (non-subscriber) connection. Resolves to
 * the number of subscribers that received it (0 when no controller is listening).
 */
export async function publishControlEvent(
  redis: Redis,
  event: ControlEvent,
  opts: ControlEventOptions = {},
): Promise<number> {
  const parsed = controlEventSchema.safeParse(event);
  if (!parsed.success) throw new ControlEventError(`invalid control event: ${describeIssues(parsed.error)}`);
  return redis.publish(controlEventChannel(opts.prefix), JSON.stringify(parsed.data));
}

export interface SubscribeControlEventsOptions extends ControlEventOptions {
  /** A message that is not a valid event: it is dropped and reported here. */
  onInvalid?: (raw: string, reason: string) => void;
  /** The handler threw or rejected; the subscription carries on. */
  onError?: (error: unknown, event: ControlEvent) => void;
}

export interface ControlEventSubscription {
  /** The channel listened to. */
  readonly channel: string;
  /** Unsubscribes and closes the subscriber's connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Calls `handler` for every valid event published on the prefix's channel, as each arrives
 * (an async handler is not awaited before the next event, so a slow one never delays a grid
 * dispatch). Resolves once the subscription is in place. The subscriber uses a connection of
 * its own — a new one for a URL, a duplicate of a given client (which stays usable for other
 * commands) — that reconnects and resubscribes by itself after Redis comes back.
 */
export async function subscribeControlEvents(
  redis: string | Redis,
  handler: (event: ControlEvent) => void | Promise<void>,
  opts: SubscribeControlEventsOptions = {},
): Promise<ControlEventSubscription> {
  const channel = controlEventChannel(opts.prefix);
  const onInvalid = opts.onInvalid ?? (() => {});
  const onError = opts.onError ?? (() => {});
  let sub: Redis;
  if (typeof redis === 'string') {
    sub = await connectRedis(redis, 'worker');
  } else {
    sub = redis.duplicate(redisOptions('worker'));
    sub.on('error', () => {
      // Reconnection is automatic; command failures surface where they happen.
    });
    await sub.connect();
  }

  const deliver = (event: ControlEvent) => {
    try {
      const r = handler(event);
      if (r && typeof (r as Promise<void>).then === 'function')
        (r as Promise<void>).catch((e: unknown) => onError(e, event));
    } catch (e) {
      onError(e, event);
    }
  };

  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      onInvalid(message, 'not JSON');
      return;
    }
    const parsed = controlEventSchema.safeParse(json);
    if (!parsed.success) {
      onInvalid(message, describeIssues(parsed.error));
      return;
    }
    deliver(parsed.data);
  });

  try {
    await sub.subscribe(channel);
  } catch (e) {
    sub.disconnect();
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    channel,
    close: () =>
      (closing ??= (async () => {
        // The connection queues commands while Redis is away: do not wait for it then.
        if (sub.status !== 'ready') return sub.disconnect();
        const timer = setTimeout(() => sub.disconnect(), CLOSE_TIMEOUT_MS);
        try {
          await sub.quit();
        } catch {
          sub.disconnect();
        } finally {
          clearTimeout(timer);
        }
      })()),
  };
}

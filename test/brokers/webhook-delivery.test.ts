// Webhook delivery end to end with real parts: PostgreSQL, Redis, a BullMQ worker running the
// webhook.deliver handler, and a real HTTP receiver on 127.0.0.1 that checks each signature
// against the raw body. Events go through the outbox (the BrokerEventSink the order routes and the
// controller call); retries use a short fixed backoff set on the outbox's jobs.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { parseFarmYaml } from '@switchyard/domain';
import {
  BrokerRepository,
  WebhookRepository,
  sql,
  type BrokerRecord,
  type Database,
  type DeliveryRecord,
  type WebhookEvent,
} from '@switchyard/db';
import {
  createWebhookDeliverHandler,
  createWebhookOutbox,
  verifyWebhookSignature,
  WEBHOOK_PRIORITY,
  type BrokerEvent,
  type WebhookDeliveryOptions,
  type WebhookOutbox,
} from '@switchyard/brokers';
import { createQueues, startWorkers, type JobQueues, type RunningWorkers } from '@switchyard/queue';
import { startWorkerService, type RunningWorkerService } from '@switchyard/worker';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { requireRedisUrl } from '../support/redis.ts';
import {
  dropPrefix,
  epochs,
  producer,
  recordingHandlers,
  sleep,
  uniquePrefix,
  waitFinished,
} from '../queue/support.ts';
import { startReceiver, type Receiver } from './receiver.ts';

let m: MigratedDatabase;
let db: Database;
let brokerA: BrokerRecord;
let brokerB: BrokerRecord;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let outbox: WebhookOutbox;
let workers: RunningWorkers | undefined;
let service: RunningWorkerService | undefined;
const receivers: Receiver[] = [];

beforeAll(async () => {
  m = await openMigratedDatabase('pg');
  db = m.handle.db;
  const brokers = new BrokerRepository(db);
  brokerA = await brokers.create({ name: 'compute-a', kind: 'compute' });
  brokerB = await brokers.create({ name: 'compute-b', kind: 'compute' });
});
afterAll(async () => {
  await m?.cleanup();
});

beforeEach(async () => {
  redis = await producer();
  prefix = uniquePrefix();
  queues = createQueues(redis, { prefix });
  outbox = createWebhookOutbox(db, queues, { retry: { backoff: { type: 'fixed', delay: 50 } } });
});
afterEach(async () => {
  await workers?.close({ force: true });
  workers = undefined;
  await service?.close({ force: true });
  service = undefined;
  for (const r of receivers.splice(0)) await r.close();
  // Each test starts without live webhooks: no event reaches an earlier test's (closed) receiver.
  await db.execute(sql`update webhooks set deleted_at = now() where deleted_at is null`);
  await queues.close();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

const repo = () => new WebhookRepository(db);

/** A real BullMQ worker serving the webhook queue with the delivery handler. */
async function startDeliveryWorker(over: Partial<WebhookDeliveryOptions> = {}): Promise<void> {
  workers = await startWorkers({
    connection: requireRedisUrl(),
    handlers: {
      ...recordingHandlers(),
      'webhook.deliver': createWebhookDeliverHandler({ db, targets: { allowLoopback: true }, ...over }),
    },
    queues: ['webhook'],
    prefix,
    handleSignals: false,
  });
}

/** A receiver and a webhook of the broker pointing at it, whose secret the receiver checks with. */
async function hook(
  broker: BrokerRecord,
  opts: { script?: number[]; events?: WebhookEvent[] } = {},
): Promise<{ receiver: Receiver; webhookId: string; secret: string }> {
  const receiver = await startReceiver({ script: opts.script ?? [] });
  receivers.push(receiver);
  const { webhook, secret } = await repo().create({
    brokerId: broker.id,
    url: receiver.url,
    events: opts.events,
  });
  receiver.secret = secret;
  return { receiver, webhookId: webhook.id, secret };
}

const stateEvent = (broker: BrokerRecord, over: Partial<BrokerEvent> = {}): BrokerEvent => ({
  eventId: `order-${randomUUID()}-running`,
  brokerId: broker.id,
  event: 'order.state',
  at: new Date(),
  payload: { orderId: randomUUID(), state: 'running', previousState: 'admitted' },
  ...over,
});

/** The webhook's delivery of the event, once `done` holds for it. */
async function settled(
  webhookId: string,
  eventId: string,
  done: (d: DeliveryRecord) => boolean = (d) => d.state !== 'pending',
  timeoutMs = 15_000,
): Promise<DeliveryRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = (await repo().deliveries(webhookId, { limit: 500 })).find((x) => x.eventId === eventId);
    if (d && done(d)) return d;
    if (Date.now() > deadline) throw new Error(`delivery of ${eventId}: ${JSON.stringify(d)}`);
    await sleep(20);
  }
}

describe('a delivery', () => {
  it('arrives signed; the receiver verifies it against the raw body', async () => {
    await startDeliveryWorker();
    const { receiver, webhookId, secret } = await hook(brokerA);
    const event = stateEvent(brokerA);
    await outbox.publish(event);

    const [got] = await receiver.waitFor(1);
    const d = await settled(webhookId, event.eventId);
    expect(got!.verification).toEqual({ ok: true, id: d.id, timestamp: expect.any(Number) });
    expect(got!.method).toBe('POST');
    expect(got!.path).toBe('/hooks/switchyard?token=t0k3n');
    expect(got!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Switchyard-Webhooks/1',
      'webhook-id': d.id,
    });
    expect(Math.abs(Number(got!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(got!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(got!.body).toEqual({
      id: event.eventId,
      event: 'order.state',
      at: event.at.toISOString(),
      data: event.payload,
    });
    expect(d).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 200, lastError: null });
    expect(d.deliveredAt).toBeInstanceOf(Date);
    // The secret is in neither the body nor any header.
    expect(JSON.stringify(got!.headers) + got!.raw.toString()).not.toContain(secret.slice(6));
  });

  it('fails verification when the body, the secret or the timestamp is not the one signed', async () => {
    await startDeliveryWorker();
    const { receiver, secret } = await hook(brokerA);
    const other = await repo().create({ brokerId: brokerB.id, url: 'https://broker.example/other' });
    await outbox.publish(stateEvent(brokerA));
    const [got] = await receiver.waitFor(1);
    const raw = got!.raw.toString();
    expect(verifyWebhookSignature(secret, got!.headers, raw).ok).toBe(true);

    const tampered = raw.replace('"running"', '"completed"');
    expect(tampered).not.toBe(raw);
    expect(verifyWebhookSignature(secret, got!.headers, tampered)).toEqual({ ok: false, reason: 'no-match' });
    const reparsed = JSON.stringify(JSON.parse(raw), null, 1);
    expect(verifyWebhookSignature(secret, got!.headers, reparsed).ok).toBe(false);
    expect(verifyWebhookSignature(other.secret, got!.headers, raw).ok).toBe(false);
    const later = Date.now() + 10 * 60_000;
    expect(verifyWebhookSignature(secret, got!.headers, raw, 300, later)).toEqual({
      ok: false,
      reason: 'too-old',
    });
  });

  it('is retried after 500s with backoff and arrives on the third attempt', async () => {
    await startDeliveryWorker();
    const { receiver, webhookId } = await hook(brokerA, { script: [500, 503] });
    const event = stateEvent(brokerA);
    await outbox.publish(event);

    const d = await settled(webhookId, event.eventId);
    expect(d).toMatchObject({ state: 'delivered', attempts: 3, lastStatus: 200, lastError: null });
    const got = await receiver.waitFor(3);
    expect(got).toHaveLength(3);
    // One message retried: the same id and body each time, each attempt signed anew.
    expect(new Set(got.map((g) => g.headers['webhook-id']))).toEqual(new Set([d.id]));
    expect(new Set(got.map((g) => g.raw.toString())).size).toBe(1);
    expect(got.every((g) => g.verification?.ok)).toBe(true);
    const job = await waitFinished(queues.queues.webhook, `webhook~${d.id}`);
    expect(job.attemptsMade).toBe(3);
    expect(await job.getState()).toBe('completed');
  });

  it('records the last failure while it is retrying (408 and 429 are retried too)', async () => {
    await startDeliveryWorker();
    const { webhookId } = await hook(brokerA, { script: [429, 408, 500, 500, 500, 500] });
    const slow = createWebhookOutbox(db, queues, { retry: { backoff: { type: 'fixed', delay: 400 } } });
    const event = stateEvent(brokerA);
    await slow.publish(event);
    const pending = await settled(webhookId, event.eventId, (d) => d.attempts === 2);
    expect(pending).toMatchObject({ state: 'pending', lastStatus: 408, lastError: 'HTTP 408' });
    const done = await settled(webhookId, event.eventId);
    expect(done).toMatchObject({ state: 'delivered', attempts: 7, lastStatus: 200 });
  });

  it.each([400, 410, 301])('fails for good at once on %i', async (status) => {
    await startDeliveryWorker();
    const { receiver, webhookId } = await hook(brokerA, { script: [status] });
    const event = stateEvent(brokerA);
    await outbox.publish(event);

    const d = await settled(webhookId, event.eventId);
    expect(d).toMatchObject({ state: 'failed', attempts: 1, lastStatus: status });
    expect(d.lastError).toMatch(new RegExp(`^HTTP ${status}`));
    const job = await waitFinished(queues.queues.webhook, `webhook~${d.id}`);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    await sleep(300);
    expect(receiver.received).toHaveLength(1);
  });

  it('fails once its attempts are used up, naming the network error but never the URL', async () => {
    await startDeliveryWorker();
    const { receiver, webhookId } = await hook(brokerA);
    await receiver.close(); // nothing listens on its port any more
    const twice = createWebhookOutbox(db, queues, {
      retry: { attempts: 2, backoff: { type: 'fixed', delay: 50 } },
    });
    const event = stateEvent(brokerA);
    await twice.publish(event);
    const d = await settled(webhookId, event.eventId);
    expect(d).toMatchObject({ state: 'failed', attempts: 2, lastStatus: null });
    expect(d.lastError).toBe('request failed: ECONNREFUSED');
    const job = await waitFinished(queues.queues.webhook, `webhook~${d.id}`);
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).not.toContain('t0k3n');
  });

  it('times out a receiver that does not answer', async () => {
    await startDeliveryWorker({ timeoutMs: 300 });
    const { receiver, webhookId } = await hook(brokerA);
    receiver.hang = true;
    const once = createWebhookOutbox(db, queues, { retry: { attempts: 1 } });
    const event = stateEvent(brokerA);
    await once.publish(event);
    const d = await settled(webhookId, event.eventId);
    expect(d).toMatchObject({
      state: 'failed',
      attempts: 1,
      lastStatus: null,
      lastError: 'timed out after 300 ms',
    });
  });

  it('refuses, at delivery, a URL the worker policy does not allow (loopback here)', async () => {
    await startDeliveryWorker({ targets: {} });
    const { receiver, webhookId } = await hook(brokerA);
    const event = stateEvent(brokerA);
    await outbox.publish(event);
    const d = await settled(webhookId, event.eventId);
    expect(d).toMatchObject({ state: 'failed', attempts: 1, lastStatus: null });
    expect(d.lastError).toMatch(/^refused: the URL must not point at a loopback host/);
    expect(receiver.received).toHaveLength(0);
  });
});

describe('the outbox', () => {
  it('delivers an event published twice (even at once) exactly once', async () => {
    await startDeliveryWorker();
    const { receiver, webhookId } = await hook(brokerA);
    const event = stateEvent(brokerA);
    await Promise.all([outbox.publish(event), outbox.publish(event)]);
    await settled(webhookId, event.eventId);
    await outbox.publish(event); // after delivery: nothing new
    await sleep(500);
    expect(receiver.received).toHaveLength(1);
    const all = await repo().deliveries(webhookId);
    expect(all.filter((d) => d.eventId === event.eventId)).toHaveLength(1);
  });

  it('sends nothing to a deleted webhook, and fails its pending deliveries unsent', async () => {
    const { receiver, webhookId } = await hook(brokerA);
    // A delivery recorded while the webhook was live, whose job runs after the deletion.
    const early = stateEvent(brokerA);
    const [pending] = await repo().recordEvent(early);
    expect(pending).toBeDefined();
    expect((await repo().softDelete(webhookId))?.changed).toBe(true);

    const late = stateEvent(brokerA);
    await outbox.publish(late);
    expect((await repo().deliveries(webhookId)).map((d) => d.eventId)).toEqual([early.eventId]);

    await startDeliveryWorker();
    await outbox.enqueue([pending!]);
    const d = await settled(webhookId, early.eventId);
    expect(d).toMatchObject({ state: 'failed', attempts: 0, lastError: 'the webhook was deleted' });
    const job = await waitFinished(queues.queues.webhook, `webhook~${d.id}`);
    expect(await job.getState()).toBe('failed');
    expect(receiver.received).toHaveLength(0);
  });

  it("never sends a broker's event to another broker's webhook, nor to a webhook not subscribed to it", async () => {
    await startDeliveryWorker();
    const a = await hook(brokerA);
    const b = await hook(brokerB);
    const aStateOnly = await hook(brokerA, { events: ['order.state'] });
    const notice = stateEvent(brokerA, {
      event: 'order.preemption-notice',
      eventId: `notice-${randomUUID()}`,
      payload: {
        orderId: randomUUID(),
        preemptAt: new Date().toISOString(),
        noticeSeconds: 120,
        reason: 'grid-dispatch',
      },
    });
    await outbox.publish(notice);
    await settled(a.webhookId, notice.eventId);
    await sleep(300);
    expect(a.receiver.received).toHaveLength(1);
    expect(b.receiver.received).toHaveLength(0);
    expect(aStateOnly.receiver.received).toHaveLength(0);
    expect(await repo().deliveries(b.webhookId)).toEqual([]);
    expect(await repo().deliveries(aStateOnly.webhookId)).toEqual([]);
  });

  it('does nothing for a broker without webhooks or an unknown broker', async () => {
    await expect(outbox.publish(stateEvent({ ...brokerB, id: randomUUID() }))).resolves.toBeUndefined();
    await expect(outbox.publish({ ...stateEvent(brokerB), brokerId: 'not-a-uuid' })).resolves.toBeUndefined();
    expect(await queues.queues.webhook.getJobCounts()).toMatchObject({
      waiting: 0,
      prioritized: 0,
      delayed: 0,
    });
  });

  it('refuses malformed events', async () => {
    await expect(outbox.publish(stateEvent(brokerA, { eventId: 'has space' }))).rejects.toThrow(/event id/);
    await expect(outbox.publish(stateEvent(brokerA, { payload: { reason: 'a\u0000b' } }))).rejects.toThrow(
      /NUL/,
    );
    await expect(
      outbox.publish(stateEvent(brokerA, { payload: { blob: 'x'.repeat(70 * 1024) } })),
    ).rejects.toThrow(/64 KiB/);
    await expect(
      outbox.publish(stateEvent(brokerA, { event: 'order.created' as WebhookEvent })),
    ).rejects.toThrow(/unknown event/);
  });

  it('sends a preemption notice at once, ahead of queued state changes', async () => {
    const { receiver, webhookId } = await hook(brokerA);
    // A backlog of state changes waits in the queue before any worker runs.
    const backlog = Array.from({ length: 20 }, () => stateEvent(brokerA));
    for (const e of backlog) await outbox.publish(e);
    const preemptAt = new Date(Date.now() + 300_000).toISOString();
    const notice: BrokerEvent = {
      eventId: `notice-${randomUUID()}`,
      brokerId: brokerA.id,
      event: 'order.preemption-notice',
      at: new Date(),
      payload: { orderId: randomUUID(), preemptAt, noticeSeconds: 300, reason: 'grid-dispatch' },
    };
    await outbox.publish(notice);
    const d = (await repo().deliveries(webhookId)).find((x) => x.eventId === notice.eventId)!;
    const job = await queues.queues.webhook.getJob(`webhook~${d.id}`);
    expect(job?.opts.priority).toBe(WEBHOOK_PRIORITY['order.preemption-notice']);
    expect(job?.opts.delay ?? 0).toBe(0);

    const started = Date.now();
    workers = await startWorkers({
      connection: requireRedisUrl(),
      handlers: {
        ...recordingHandlers(),
        'webhook.deliver': createWebhookDeliverHandler({ db, targets: { allowLoopback: true } }),
      },
      queues: ['webhook'],
      prefix,
      handleSignals: false,
      concurrency: 1,
    });
    const [first] = await receiver.waitFor(1);
    expect(first!.body).toEqual({
      id: notice.eventId,
      event: 'order.preemption-notice',
      at: notice.at.toISOString(),
      data: notice.payload,
    });
    expect(first!.verification?.ok).toBe(true);
    expect(first!.receivedAt - started).toBeLessThan(5000);
    await receiver.waitFor(21);
  });
});

describe('the worker service', () => {
  const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
  if (!parsed.ok) throw new Error('example farm invalid');
  const farm = parsed.farm;

  it('delivers from its database and sweeps up deliveries whose job was never enqueued', async () => {
    const { receiver, webhookId } = await hook(brokerA);
    // Recorded, but never enqueued (as when Redis was away at publish time), two minutes ago.
    const lost = stateEvent(brokerA, { at: new Date(Date.now() - 120_000) });
    await repo().recordEvent(lost);
    service = await startWorkerService({
      redisUrl: requireRedisUrl(),
      farm,
      prefix,
      lease: epochs(1),
      db: m.handle,
      webhookTargets: { allowLoopback: true },
      webhookSweepMs: 100,
      handleSignals: false,
    });
    const [got] = await receiver.waitFor(1);
    expect(got!.body.id).toBe(lost.eventId);
    expect(got!.verification?.ok).toBe(true);
    expect((await settled(webhookId, lost.eventId)).state).toBe('delivered');

    const fresh = stateEvent(brokerA);
    await outbox.publish(fresh);
    expect((await settled(webhookId, fresh.eventId)).state).toBe('delivered');
    expect(receiver.received.map((r) => r.body.id)).toEqual([lost.eventId, fresh.eventId]);
  });
});

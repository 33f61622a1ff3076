// Brokers' webhooks: register (the signing secret is in that response and nowhere else, ever),
// list, read with recent deliveries, delete, and send a test ping.
//
// A compute broker's key acts on its own broker's webhooks only: another broker's answer 404, as
// if they did not exist. Operators act on every webhook, and name the broker of a new one in the
// query (`?brokerId=`); a body never names a broker. Every write is recorded in the audit log.
// URLs are checked against the target policy (docs/webhooks.md) before anything is stored.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  AuditRepository,
  WebhookRepository,
  WebhookStoreError,
  type Database,
  type DeliveryRecord,
  type WebhookEvent,
  type WebhookRecord,
} from '@switchyard/db';
import { checkWebhookUrl, type WebhookOutbox, type WebhookTargetPolicy } from '@switchyard/brokers';
import { auditEntry } from '../audit.ts';
import { principalOf } from '../auth.ts';
import { HttpProblem } from '../problem.ts';
import { useTypeBox } from '../schemas/common.ts';
import {
  createWebhookSchema,
  DEFAULT_RECENT_DELIVERIES,
  deleteWebhookSchema,
  getWebhookSchema,
  listWebhooksSchema,
  testWebhookSchema,
} from '../schemas/webhooks.ts';

export interface WebhookRouteOptions {
  db: Database;
  /** Enqueues test pings; without it POST /webhooks/{id}/test answers 503. */
  outbox?: WebhookOutbox | undefined;
  /** Which URLs webhooks may have (default: https to public hosts only). */
  targets?: WebhookTargetPolicy | undefined;
}

export const SECRET_NOTICE =
  'Store the secret now: it signs every delivery and cannot be shown again (delete the webhook and register a new one to replace it).';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const webhookJson = (w: WebhookRecord) => ({
  id: w.id,
  brokerId: w.brokerId,
  url: w.url,
  events: w.events,
  description: w.description,
  createdAt: w.createdAt.toISOString(),
  deletedAt: iso(w.deletedAt),
});

export const deliveryJson = (d: DeliveryRecord) => ({
  id: d.id,
  eventId: d.eventId,
  event: d.event,
  state: d.state,
  attempts: d.attempts,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: d.createdAt.toISOString(),
  deliveredAt: iso(d.deliveredAt),
});

/** The URL as the audit log keeps it: without its query, which may hold the receiver's token. */
const auditUrl = (url: string) => {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
};

function invalid(field: string, message: string): HttpProblem {
  return new HttpProblem(400, 'validation', 'Request is invalid', `${field} ${message}`, {
    errors: [{ path: `/${field}`, message }],
  });
}

const notFound = (id: string) => new HttpProblem(404, 'not-found', 'Not found', `no webhook ${id}`);

/** A request the repository refused, as a problem document. */
function problemOf(e: unknown): unknown {
  if (!(e instanceof WebhookStoreError)) return e;
  switch (e.code) {
    case 'INVALID_INPUT':
      return new HttpProblem(400, 'validation', 'Request is invalid', e.message, { code: e.code });
    case 'BROKER_NOT_FOUND':
    case 'BROKER_NOT_COMPUTE':
      return new HttpProblem(400, 'validation', 'Request is invalid', e.message, {
        code: e.code,
        errors: [{ path: '/brokerId', message: e.message }],
      });
    case 'BROKER_DISABLED':
      return new HttpProblem(409, 'broker-disabled', 'Conflict', e.message, { code: e.code });
    case 'TOO_MANY_WEBHOOKS':
      return new HttpProblem(409, 'too-many-webhooks', 'Conflict', e.message, { code: e.code });
  }
}

/** The broker whose webhooks the caller may touch: its key's broker, or undefined (all) for operators. */
function tenantOf(req: FastifyRequest): string | undefined {
  const p = principalOf(req);
  if (p.role === 'operator') return undefined;
  if (p.role === 'compute-broker' && p.brokerId !== null) return p.brokerId;
  throw new HttpProblem(403, 'forbidden', 'Forbidden', `a key with role ${p.role} has no webhooks`);
}

export const webhookRoutes: FastifyPluginAsync<WebhookRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const { db } = opts;
  const repo = new WebhookRepository(db);
  const targets = opts.targets ?? {};
  const location = (id: string) => `${plugin.prefix}/webhooks/${id}`;

  /** The webhook if the caller may see it; a 404 for an unknown one or another broker's. */
  const visible = async (req: FastifyRequest, id: string): Promise<WebhookRecord> => {
    const tenant = tenantOf(req);
    const w = await repo.get(id);
    if (!w || (tenant !== undefined && w.brokerId !== tenant)) throw notFound(id);
    return w;
  };

  app.post('/webhooks', { schema: createWebhookSchema }, async (req, reply) => {
    const tenant = tenantOf(req);
    const queryBroker = req.query.brokerId?.toLowerCase();
    if (tenant !== undefined && queryBroker !== undefined)
      throw invalid('brokerId', "is not for a broker's key: it registers webhooks for its own broker");
    const brokerId = tenant ?? queryBroker;
    if (brokerId === undefined)
      throw invalid('brokerId', 'is required of operators: the compute broker the webhook is for');
    const b = req.body;
    const checked = checkWebhookUrl(b.url, targets);
    if (!checked.ok) throw invalid('url', checked.reason);

    const created = await db
      .transaction(async (t) => {
        const c = await new WebhookRepository(t).create({
          brokerId,
          url: b.url,
          events: b.events,
          description: b.description ?? null,
        });
        const w = c.webhook;
        await new AuditRepository(t).append(
          auditEntry(req, 'webhook.create', `webhook:${w.id}`, {
            brokerId: w.brokerId,
            url: auditUrl(w.url),
            events: w.events,
            description: w.description,
          }),
        );
        return c;
      })
      .catch((e: unknown) => {
        throw problemOf(e);
      });
    req.log.info(
      { webhook: created.webhook.id, broker: created.webhook.brokerId, events: created.webhook.events },
      'webhook registered',
    );
    return reply
      .code(201)
      .header('location', location(created.webhook.id))
      .header('cache-control', 'no-store')
      .send({ webhook: webhookJson(created.webhook), secret: created.secret, notice: SECRET_NOTICE });
  });

  app.get('/webhooks', { schema: listWebhooksSchema }, async (req) => {
    const tenant = tenantOf(req);
    const q = req.query;
    const wanted = q.brokerId?.toLowerCase();
    // A broker's key sees its own webhooks; asking for another broker's finds none.
    if (tenant !== undefined && wanted !== undefined && wanted !== tenant) return { items: [] };
    const items = await repo.list({
      brokerId: tenant ?? wanted,
      includeDeleted: q.deleted === true,
      limit: q.limit ?? 100,
    });
    return { items: items.map(webhookJson) };
  });

  app.get('/webhooks/:id', { schema: getWebhookSchema }, async (req) => {
    const w = await visible(req, req.params.id);
    const deliveries = await repo.deliveries(w.id, {
      limit: req.query.deliveries ?? DEFAULT_RECENT_DELIVERIES,
    });
    return { ...webhookJson(w), deliveries: deliveries.map(deliveryJson) };
  });

  app.delete('/webhooks/:id', { schema: deleteWebhookSchema }, async (req) => {
    const w = await visible(req, req.params.id);
    if (w.deletedAt) return webhookJson(w);
    const deleted = await db.transaction(async (t) => {
      const r = await new WebhookRepository(t).softDelete(w.id);
      if (r?.changed)
        await new AuditRepository(t).append(
          auditEntry(req, 'webhook.delete', `webhook:${w.id}`, { brokerId: w.brokerId }),
        );
      return r;
    });
    if (!deleted) throw notFound(w.id);
    req.log.info({ webhook: w.id, broker: w.brokerId }, 'webhook deleted');
    return webhookJson(deleted.webhook);
  });

  app.post('/webhooks/:id/test', { schema: testWebhookSchema }, async (req, reply) => {
    const w = await visible(req, req.params.id);
    if (w.deletedAt) throw new HttpProblem(409, 'webhook-deleted', 'Conflict', `webhook ${w.id} is deleted`);
    const event: WebhookEvent = req.body?.event ?? w.events[0] ?? 'order.state';
    if (!w.events.includes(event))
      throw invalid('event', `is not one this webhook subscribes to (${w.events.join(', ')})`);
    if (!opts.outbox)
      throw new HttpProblem(
        503,
        'webhooks-unavailable',
        'Service unavailable',
        'this API process has no delivery queue: test pings cannot be sent',
      );
    const sent = await opts.outbox.sendTest(w.id, event);
    if (!sent) throw new HttpProblem(409, 'webhook-deleted', 'Conflict', `webhook ${w.id} is deleted`);
    await new AuditRepository(db).append(
      auditEntry(req, 'webhook.test', `webhook:${w.id}`, {
        brokerId: w.brokerId,
        event,
        deliveryId: sent.delivery.id,
      }),
    );
    return reply.code(202).send({ delivery: deliveryJson(sent.delivery), enqueued: sent.enqueued });
  });
};

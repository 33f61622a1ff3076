// Operator routes for tenants and credentials: brokers, API keys (issued, listed, revoked,
// rotated) and the audit log. Every write is recorded in the audit log in the same transaction.
// A key's token is in the response that creates it and nowhere else, ever.
import type { FastifyPluginAsync } from 'fastify';
import {
  AccessStoreError,
  ApiKeyRepository,
  AuditRepository,
  BrokerRepository,
  isKeyActive,
  type ApiKeyRecord,
  type AuditRecord,
  type BrokerRecord,
  type Database,
} from '@switchyard/db';
import { auditEntry } from '../audit.ts';
import { HttpProblem } from '../problem.ts';
import { useTypeBox } from '../schemas/common.ts';
import {
  createBrokerSchema,
  createKeySchema,
  listAuditSchema,
  listBrokersSchema,
  listKeysSchema,
  revokeKeySchema,
  rotateKeySchema,
} from '../schemas/keys.ts';

export interface KeyRouteOptions {
  db: Database;
  /** Called with a key's prefix when it is revoked or rotated, to drop it from the auth cache. */
  forgetKey?: ((prefix: string) => void) | undefined;
  /** The clock (tests). */
  now?: () => Date;
}

export const TOKEN_NOTICE = 'Store the token now: it is not stored and cannot be shown again.';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const brokerJson = (b: BrokerRecord) => ({
  id: b.id,
  name: b.name,
  kind: b.kind,
  createdAt: b.createdAt.toISOString(),
  disabledAt: iso(b.disabledAt),
});

export const keyJson = (k: ApiKeyRecord, now: Date) => ({
  id: k.id,
  prefix: k.prefix,
  role: k.role,
  brokerId: k.brokerId,
  label: k.label,
  active: isKeyActive(k, now),
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: iso(k.lastUsedAt),
  expiresAt: iso(k.expiresAt),
  revokedAt: iso(k.revokedAt),
});

const auditJson = (a: AuditRecord) => ({ ...a, at: a.at.toISOString() });

const STATUS_OF: Record<AccessStoreError['code'], number> = {
  INVALID_INPUT: 400,
  BROKER_MISMATCH: 400,
  BROKER_NOT_FOUND: 400,
  BROKER_NAME_TAKEN: 409,
  BROKER_DISABLED: 409,
  KEY_NOT_ACTIVE: 409,
};

/** A request the repositories refused, as a problem document. */
function problemOf(e: unknown): unknown {
  if (!(e instanceof AccessStoreError)) return e;
  const status = STATUS_OF[e.code];
  const slug = status === 400 ? 'validation' : e.code.toLowerCase().replaceAll('_', '-');
  return new HttpProblem(status, slug, status === 400 ? 'Request is invalid' : 'Conflict', e.message, {
    code: e.code,
  });
}

const notFound = (what: string) => new HttpProblem(404, 'not-found', 'Not found', what);

export const keyRoutes: FastifyPluginAsync<KeyRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const { db } = opts;
  const now = opts.now ?? (() => new Date());
  const forget = (prefix: string) => opts.forgetKey?.(prefix);
  /** Runs the writes and their audit entry in one transaction. */
  const tx = <T>(fn: (t: Database) => Promise<T>): Promise<T> =>
    db.transaction(fn).catch((e: unknown) => {
      throw problemOf(e);
    });

  app.post('/brokers', { schema: createBrokerSchema }, async (req, reply) => {
    const broker = await tx(async (t) => {
      const b = await new BrokerRepository(t).create(req.body);
      await new AuditRepository(t).append(
        auditEntry(req, 'broker.create', `broker:${b.id}`, { name: b.name, kind: b.kind }),
      );
      return b;
    });
    return reply.code(201).send(brokerJson(broker));
  });

  app.get('/brokers', { schema: listBrokersSchema }, async () => ({
    items: (await new BrokerRepository(db).list()).map(brokerJson),
  }));

  app.post('/keys', { schema: createKeySchema }, async (req, reply) => {
    const b = req.body;
    const issued = await tx(async (t) => {
      const created = await new ApiKeyRepository(t, { now }).create({
        role: b.role,
        brokerId: b.brokerId ?? null,
        label: b.label ?? null,
        expiresAt: b.expiresAt === undefined ? null : new Date(b.expiresAt),
      });
      const k = created.key;
      await new AuditRepository(t).append(
        auditEntry(req, 'key.create', `key:${k.id}`, {
          prefix: k.prefix,
          role: k.role,
          brokerId: k.brokerId,
          label: k.label,
          expiresAt: iso(k.expiresAt),
        }),
      );
      return created;
    });
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({ key: keyJson(issued.key, now()), token: issued.token, notice: TOKEN_NOTICE });
  });

  app.get('/keys', { schema: listKeysSchema }, async (req) => {
    const q = req.query;
    const items = await new ApiKeyRepository(db, { now }).list({
      ...(q.brokerId !== undefined ? { brokerId: q.brokerId } : {}),
      activeOnly: q.active === true,
    });
    const at = now();
    return { items: items.map((k) => keyJson(k, at)) };
  });

  app.delete('/keys/:id', { schema: revokeKeySchema }, async (req) => {
    const { id } = req.params;
    const key = await tx(async (t) => {
      const keys = new ApiKeyRepository(t, { now });
      const before = await keys.get(id);
      if (!before) throw notFound(`no key ${id}`);
      if (before.revokedAt) return before;
      const after = (await keys.revoke(id))!;
      await new AuditRepository(t).append(
        auditEntry(req, 'key.revoke', `key:${id}`, { prefix: after.prefix }),
      );
      return after;
    });
    forget(key.prefix);
    return keyJson(key, now());
  });

  app.post('/keys/:id/rotate', { schema: rotateKeySchema }, async (req, reply) => {
    const { id } = req.params;
    const expiresAt = req.body?.expiresAt;
    const rotated = await tx(async (t) => {
      const r = await new ApiKeyRepository(t, { now }).rotate(
        id,
        expiresAt === undefined ? {} : { expiresAt: expiresAt === null ? null : new Date(expiresAt) },
      );
      if (!r) throw notFound(`no key ${id}`);
      await new AuditRepository(t).append(
        auditEntry(req, 'key.rotate', `key:${id}`, {
          prefix: r.previous.prefix,
          newKeyId: r.key.id,
          newPrefix: r.key.prefix,
        }),
      );
      return r;
    });
    forget(rotated.previous.prefix);
    const at = now();
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({
        key: keyJson(rotated.key, at),
        token: rotated.token,
        notice: TOKEN_NOTICE,
        previous: keyJson(rotated.previous, at),
      });
  });

  app.get('/audit', { schema: listAuditSchema }, async (req) => {
    const page = await new AuditRepository(db).list(req.query);
    return { items: page.items.map(auditJson), nextCursor: page.nextCursor };
  });
};

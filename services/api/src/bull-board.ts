// BullMQ's queues in bull-board (@bull-board/fastify) at /admin/queues, for operators only.
//
// Who gets in: the auth hook (auth.ts) treats every url under /admin/queues — the page, its
// assets and the board's API calls — as an operator-only route (access.ts, OPERATOR_PREFIXES),
// whatever bull-board registers there. A browser cannot send an Authorization header when it
// loads a page, so an operator signs in once: POST /admin/session with the key (a form field
// `key`, a JSON body `{ "key": ... }` or the bearer header) sets a session cookie, and requests
// under /admin/queues that carry no Authorization header are checked against it. The cookie is
// HttpOnly, SameSite=Strict, Path=/admin, Secure when the request came over https, and lasts
// 30 minutes. It holds a random id; Redis keeps its SHA-256 with the key it was opened with, so a
// revoked or expired key (or one no longer an operator's) ends its sessions at once.
// GET /admin/login is a small sign-in form; DELETE /admin/session signs out.
//
// The board is read-only: an operator sees every queue, job and error, but cannot add, retry,
// promote or remove jobs from it. Device commands come from the elected controller alone, each
// checked against the power tree and fenced by its epoch; a job added or retried by hand would
// bypass both. None of these routes is in the OpenAPI document.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Redis } from 'ioredis';
import { ApiKeyRepository, AuditRepository, isKeyActive, type Database } from '@switchyard/db';
import { DEFAULT_PREFIX, type JobQueues } from '@switchyard/queue';
import { auditEntry } from './audit.ts';
import type { KeyVerifier, Principal } from './key-verifier.ts';
import { sendProblem } from './problem.ts';

export const ADMIN_QUEUES_PATH = '/admin/queues';
export const ADMIN_SESSION_PATH = '/admin/session';
export const ADMIN_LOGIN_PATH = '/admin/login';
export const ADMIN_COOKIE = 'sy_admin';
export const DEFAULT_ADMIN_SESSION_SECONDS = 30 * 60;

const TYPE_BASE = 'https://switchyard.io/problems/';
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const MAX_FORM_BYTES = 4096;

/** A BullMQ queue, as @switchyard/queue makes them. */
export type BoardQueue = JobQueues['queues'][keyof JobQueues['queues']];

export interface AdminDeps {
  /** The queues shown (e.g. createQueues(redis).queues). */
  queues: readonly BoardQueue[];
  /** Where sessions are kept (any client of the deployment's Redis). */
  redis: Redis;
  /** Redis key prefix of the deployment (default DEFAULT_PREFIX). */
  prefix?: string;
  /** How long a session lasts (default 30 minutes). */
  sessionSeconds?: number;
}

interface StoredSession {
  keyId: string;
  prefix: string;
  role: Principal['role'];
  brokerId: string | null;
}

/** The value of one cookie in a Cookie header, or undefined. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Admin sessions in Redis, looked up by the SHA-256 of the cookie's id. */
export class AdminSessions {
  readonly #redis: Redis;
  readonly #keys: ApiKeyRepository;
  readonly #prefix: string;
  readonly ttlSeconds: number;

  constructor(deps: AdminDeps, db: Database) {
    this.#redis = deps.redis;
    this.#keys = new ApiKeyRepository(db);
    this.#prefix = deps.prefix ?? DEFAULT_PREFIX;
    this.ttlSeconds = deps.sessionSeconds ?? DEFAULT_ADMIN_SESSION_SECONDS;
  }

  #key(id: string): string {
    return `${this.#prefix}:admin-session:${createHash('sha256').update(id).digest('hex')}`;
  }

  /** Opens a session for an operator's key; returns the cookie's id and when it expires. */
  async open(p: Principal, now: Date): Promise<{ id: string; expiresAt: Date }> {
    const id = randomBytes(32).toString('base64url');
    const session: StoredSession = { keyId: p.keyId, prefix: p.prefix, role: p.role, brokerId: p.brokerId };
    await this.#redis.set(this.#key(id), JSON.stringify(session), 'EX', this.ttlSeconds);
    return { id, expiresAt: new Date(now.getTime() + this.ttlSeconds * 1000) };
  }

  /**
   * The principal of the request's session cookie: undefined when it carries none, null when it
   * is unknown, expired, or its key is no longer an active operator key.
   */
  async principal(req: FastifyRequest): Promise<Principal | null | undefined> {
    const id = cookieValue(req.headers.cookie, ADMIN_COOKIE);
    if (id === undefined || id === '') return undefined;
    if (!SESSION_ID.test(id)) return null;
    const raw = await this.#redis.get(this.#key(id));
    if (raw === null) return null;
    const s = JSON.parse(raw) as StoredSession;
    const key = await this.#keys.get(s.keyId);
    if (!key || !isKeyActive(key, new Date()) || key.role !== 'operator') {
      await this.#redis.del(this.#key(id));
      return null;
    }
    return { keyId: key.id, prefix: key.prefix, role: key.role, brokerId: key.brokerId };
  }

  /** Ends the request's session; returns whom it belonged to, if anyone. */
  async close(req: FastifyRequest): Promise<StoredSession | undefined> {
    const id = cookieValue(req.headers.cookie, ADMIN_COOKIE);
    if (id === undefined || !SESSION_ID.test(id)) return undefined;
    const key = this.#key(id);
    const raw = await this.#redis.get(key);
    await this.#redis.del(key);
    return raw === null ? undefined : (JSON.parse(raw) as StoredSession);
  }
}

/** bull-board's own error answer carries the error's message; a 5xx here says nothing more. */
class GuardedFastifyAdapter extends FastifyAdapter {
  readonly #onError: (error: Error) => void;
  constructor(onError: (error: Error) => void) {
    super();
    this.#onError = onError;
  }
  override setErrorHandler(handler: Parameters<FastifyAdapter['setErrorHandler']>[0]): this {
    return super.setErrorHandler((error) => {
      const r = handler(error);
      if ((r.status ?? 500) < 500) return r;
      this.#onError(error);
      return { status: r.status ?? 500, body: { error: { key: 'ERRORS.INTERNAL_SERVER_ERROR' } } };
    });
  }
}

const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchyard queues: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto;">
<h1>Switchyard queues</h1>
<p>Sign in with an operator API key. The session lasts 30 minutes.</p>
<form method="post" action="${ADMIN_SESSION_PATH}">
<label>API key <input type="password" name="key" autocomplete="off" required style="width: 100%"></label>
<p><button type="submit">Sign in</button></p>
</form></body></html>
`;

function isHttps(req: FastifyRequest): boolean {
  const forwarded = req.headers['x-forwarded-proto'];
  return (
    req.protocol === 'https' || (typeof forwarded === 'string' && forwarded.split(',')[0]!.trim() === 'https')
  );
}

function sessionCookie(req: FastifyRequest, value: string, maxAgeSeconds: number): string {
  return [
    `${ADMIN_COOKIE}=${value}`,
    'Path=/admin',
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(isHttps(req) ? ['Secure'] : []),
  ].join('; ');
}

/** The key a sign-in presents: the bearer header, or `key` in a form or JSON body. */
function presentedKey(req: FastifyRequest): string | undefined {
  const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer) return bearer;
  const body = req.body as Record<string, unknown> | null | undefined;
  const key = body && typeof body === 'object' ? body.key : undefined;
  return typeof key === 'string' && key.length > 0 && key.length <= 512 ? key : undefined;
}

function refuse(req: FastifyRequest, reply: FastifyReply, status: 401 | 403, detail: string): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="switchyard"');
  return sendProblem(reply, {
    type: `${TYPE_BASE}${status === 401 ? 'unauthorized' : 'forbidden'}`,
    title: status === 401 ? 'Unauthorized' : 'Forbidden',
    status,
    detail,
    instance: req.url,
  });
}

export interface AdminRouteOptions {
  db: Database;
  deps: AdminDeps;
  sessions: AdminSessions;
  verifier: KeyVerifier;
  now?: () => Date;
}

/** The sign-in form and the session routes (public: they check the key themselves). */
const sessionRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, opts) => {
  const now = opts.now ?? (() => new Date());
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: MAX_FORM_BYTES },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  const hidden = { schema: { hide: true } };

  app.get(ADMIN_LOGIN_PATH, hidden, async (_req, reply) =>
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(LOGIN_PAGE),
  );

  app.post(ADMIN_SESSION_PATH, { ...hidden, bodyLimit: MAX_FORM_BYTES }, async (req, reply) => {
    const token = presentedKey(req);
    if (token === undefined)
      return refuse(
        req,
        reply,
        401,
        'send an operator API key: a form field or JSON member `key`, or Authorization: Bearer',
      );
    const principal = await opts.verifier.verify(token);
    if (!principal) return refuse(req, reply, 401, 'the API key is not valid: unknown, revoked or expired');
    req.principal = principal;
    if (principal.role !== 'operator')
      return refuse(req, reply, 403, `role ${principal.role} may not open an admin session`);
    const at = now();
    const session = await opts.sessions.open(principal, at);
    await new AuditRepository(opts.db).append(
      auditEntry(req, 'admin.session.open', `key:${principal.keyId}`, {
        expiresAt: session.expiresAt.toISOString(),
      }),
    );
    reply
      .header('set-cookie', sessionCookie(req, session.id, opts.sessions.ttlSeconds))
      .header('cache-control', 'no-store');
    if (req.headers['content-type']?.startsWith('application/x-www-form-urlencoded'))
      return reply.code(303).header('location', `${ADMIN_QUEUES_PATH}/`).send();
    return reply
      .code(201)
      .send({ expiresAt: session.expiresAt.toISOString(), board: `${ADMIN_QUEUES_PATH}/` });
  });

  app.delete(ADMIN_SESSION_PATH, hidden, async (req, reply) => {
    const closed = await opts.sessions.close(req);
    if (closed) {
      req.principal = {
        keyId: closed.keyId,
        prefix: closed.prefix,
        role: closed.role,
        brokerId: closed.brokerId,
      };
      await new AuditRepository(opts.db).append(
        auditEntry(req, 'admin.session.close', `key:${closed.keyId}`),
      );
    }
    return reply
      .header('set-cookie', sessionCookie(req, '', 0))
      .code(204)
      .send();
  });
};

/** Registers bull-board at /admin/queues and the session routes; the auth hook guards them. */
export async function registerAdmin(app: FastifyInstance, opts: AdminRouteOptions): Promise<void> {
  const adapter = new GuardedFastifyAdapter((err) => app.log.error({ err }, 'bull-board request failed'));
  adapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({
    queues: opts.deps.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Switchyard queues' } },
  });
  await app.register(adapter.registerPlugin(), { prefix: ADMIN_QUEUES_PATH });
  await app.register(sessionRoutes, opts);
}

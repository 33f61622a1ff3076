// Authentication and authorization, fail-closed, in one onRequest hook:
//   - a route that is public in access.ts passes;
//   - a route with no rule in access.ts is refused to everyone (403);
//   - otherwise the request needs `Authorization: Bearer <key>` (else 401 with WWW-Authenticate),
//     a valid, active key (else 401), and a role the rule allows (else 403); under bull-board's
//     /admin/queues the admin session cookie may stand in for the header (bull-board.ts).
// The verified key is `request.principal`. Requests that match no route are left to the
// not-found handler (404). Keys are checked through a short cache: see key-verifier.ts for how
// long a revocation takes to reach every API process.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyRepository, type Database } from '@switchyard/db';
import { accessRule, routeKey } from './access.ts';
import { KeyVerifier, type Principal } from './key-verifier.ts';
import { HttpProblem, sendProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key; null on public routes. */
    principal: Principal | null;
  }
}

export type { Principal } from './key-verifier.ts';

export interface AuthOptions {
  /** Where keys are looked up. Without a database no key is valid: protected routes answer 401. */
  db?: Database | undefined;
  /** How long a key read from the database is trusted (default 5 s). */
  cacheTtlMs?: number | undefined;
  /** How often last_used_at is written per key, at most (default 1 min). */
  touchIntervalMs?: number | undefined;
  /**
   * Session cookies, for the routes access.ts marks `session` (bull-board under /admin/queues):
   * a request to one without an Authorization header is checked against its cookie instead.
   */
  sessions?: SessionAuth | undefined;
}

/** Resolves a request's session cookie (bull-board.ts, AdminSessions). */
export interface SessionAuth {
  /** The cookie's principal: undefined when the request carries none, null when it is not valid. */
  principal(req: FastifyRequest): Promise<Principal | null | undefined>;
}

const TYPE_BASE = 'https://switchyard.io/problems/';
const REALM = 'Bearer realm="switchyard"';
const MAX_AUTHORIZATION_LENGTH = 512;
const BEARER = /^Bearer +(\S+) *$/i;

/** Route keys (`METHOD url`) registered on each app, for the access-table test. */
const registered = new WeakMap<FastifyInstance, Set<string>>();

/** Every `METHOD url` registered on an app built with registerAuth (HEAD counted as GET). */
export function registeredRouteKeys(app: FastifyInstance): string[] {
  return [...(registered.get(app) ?? [])].sort();
}

function bearerToken(header: string | undefined): string | null {
  if (typeof header !== 'string' || header.length > MAX_AUTHORIZATION_LENGTH) return null;
  return BEARER.exec(header)?.[1] ?? null;
}

function unauthorized(req: FastifyRequest, reply: FastifyReply, presented: boolean): FastifyReply {
  reply.header('www-authenticate', presented ? `${REALM}, error="invalid_token"` : REALM);
  return sendProblem(reply, {
    type: `${TYPE_BASE}unauthorized`,
    title: 'Unauthorized',
    status: 401,
    detail: presented
      ? 'the API key is not valid: unknown, revoked or expired'
      : 'this route needs an API key: send Authorization: Bearer <key>',
    instance: req.url,
  });
}

function forbidden(req: FastifyRequest, reply: FastifyReply, detail: string): FastifyReply {
  return sendProblem(reply, {
    type: `${TYPE_BASE}forbidden`,
    title: 'Forbidden',
    status: 403,
    detail,
    instance: req.url,
  });
}

/** The caller of a protected route (set by the auth hook); 401 if there is none. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new HttpProblem(401, 'unauthorized', 'Unauthorized', 'no API key');
  return req.principal;
}

/**
 * Adds the auth hook to the app; call it before registering routes. Returns the key verifier,
 * whose `forget(prefix)` makes a revocation take effect at once in this process.
 */
export function registerAuth(app: FastifyInstance, opts: AuthOptions = {}): KeyVerifier {
  const keys = opts.db ? new ApiKeyRepository(opts.db) : undefined;
  const verifier = new KeyVerifier({
    lookup: (prefix) => (keys ? keys.credentials(prefix) : Promise.resolve(null)),
    touch: (id, at) => (keys ? keys.touch(id, at) : Promise.resolve()),
    ttlMs: opts.cacheTtlMs,
    touchIntervalMs: opts.touchIntervalMs,
    onTouchError: (err, keyId) => app.log.warn({ err, keyId }, 'could not record the use of an API key'),
  });
  const routes = new Set<string>();
  registered.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) routes.add(routeKey(m, r.url));
  });
  app.addHook('onClose', () => verifier.drain());
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (req, reply) => {
    const url = req.routeOptions.url;
    if (url === undefined || req.is404) return; // no such route: the not-found handler answers
    const rule = accessRule(req.method, url);
    if (rule.kind === 'public') return;
    if (rule.kind === 'unmapped') {
      req.log.error({ route: routeKey(req.method, url) }, 'route has no access rule; refused');
      return forbidden(req, reply, 'no access rule covers this route');
    }
    const token = bearerToken(req.headers.authorization);
    const sessions = token === null && rule.session === true ? opts.sessions : undefined;
    if (token === null && !sessions) return unauthorized(req, reply, false);
    let principal: Principal | null | undefined;
    try {
      principal = sessions ? await sessions.principal(req) : await verifier.verify(token!);
    } catch (err) {
      req.log.warn({ err }, 'API keys could not be read');
      reply.header('retry-after', '1');
      return sendProblem(reply, {
        type: `${TYPE_BASE}auth-unavailable`,
        title: 'Authentication unavailable',
        status: 503,
        detail: 'API keys cannot be checked right now; try again',
        instance: req.url,
      });
    }
    if (principal === undefined) return unauthorized(req, reply, false);
    if (!principal) return unauthorized(req, reply, true);
    req.principal = principal;
    if (!rule.roles.includes(principal.role))
      return forbidden(req, reply, `role ${principal.role} may not ${routeKey(req.method, url)}`);
  });
  return verifier;
}

// Who may call what: the one table of the API's routes and the roles allowed on each. The auth
// hook (auth.ts) consults it on every request; a route that is neither public nor in the table
// is refused to everyone (403), so a route added without an entry fails closed. A test checks
// that every registered route has one.
//
// Keys are `METHOD url`, with the url as fastify registers it (routeOptions.url, parameters as
// `:id`). HEAD is answered as GET.
import type { ApiKeyRole } from '@switchyard/db';

export type Role = ApiKeyRole;

const READERS = ['operator', 'viewer'] as const satisfies readonly Role[];
const OPERATOR = ['operator'] as const satisfies readonly Role[];

/** Routes anyone may call: probes and the API's own description. */
export const PUBLIC_ROUTES: readonly string[] = ['GET /healthz', 'GET /readyz', 'GET /openapi.json'];
/** Url prefixes anyone may GET: the interactive API documentation and its assets. */
export const PUBLIC_PREFIXES: readonly string[] = ['/docs'];

export const ACCESS: Readonly<Record<string, readonly Role[]>> = {
  'GET /api/v1/farm': READERS,
  'GET /api/v1/plans': READERS,
  'GET /api/v1/plans/latest': READERS,

  // An energy broker sees and cancels only its own dispatches (routes/dispatches.ts).
  'POST /api/v1/dispatches': ['operator', 'energy-broker'],
  'GET /api/v1/dispatches': ['operator', 'viewer', 'energy-broker'],
  'GET /api/v1/dispatches/:id': ['operator', 'viewer', 'energy-broker'],
  'DELETE /api/v1/dispatches/:id': ['operator', 'energy-broker'],

  'POST /api/v1/brokers': OPERATOR,
  'GET /api/v1/brokers': OPERATOR,
  'POST /api/v1/keys': OPERATOR,
  'GET /api/v1/keys': OPERATOR,
  'DELETE /api/v1/keys/:id': OPERATOR,
  'POST /api/v1/keys/:id/rotate': OPERATOR,
  'GET /api/v1/audit': OPERATOR,
};

export type AccessRule =
  { kind: 'public' } | { kind: 'roles'; roles: readonly Role[] } | { kind: 'unmapped' };

/** `GET /api/v1/dispatches/:id` for a method and a route url; HEAD counts as GET. */
export function routeKey(method: string, url: string): string {
  const m = method.toUpperCase();
  return `${m === 'HEAD' ? 'GET' : m} ${url}`;
}

function isPublic(key: string, method: string, url: string): boolean {
  if (PUBLIC_ROUTES.includes(key)) return true;
  const m = method.toUpperCase();
  return (m === 'GET' || m === 'HEAD') && PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`));
}

/** The rule for a route: public, the roles allowed, or unmapped (refused to everyone). */
export function accessRule(method: string, url: string): AccessRule {
  const key = routeKey(method, url);
  if (isPublic(key, method, url)) return { kind: 'public' };
  const roles = Object.hasOwn(ACCESS, key) ? ACCESS[key] : undefined;
  return roles ? { kind: 'roles', roles } : { kind: 'unmapped' };
}

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
export const PUBLIC_ROUTES: readonly string[] = [
  'GET /healthz',
  'GET /readyz',
  'GET /openapi.json',
  // For the cluster's Prometheus; the NetworkPolicy decides who reaches it (metrics.ts).
  'GET /metrics',
  // The admin sign-in form and session: they check the presented key themselves (bull-board.ts).
  'GET /admin/login',
  'POST /admin/session',
  'DELETE /admin/session',
];
/** Url prefixes anyone may GET: the interactive API documentation and its assets. */
export const PUBLIC_PREFIXES: readonly string[] = ['/docs'];
/**
 * Url prefixes only operators may reach, by any method: every page, asset and API call that
 * bull-board registers under /admin/queues. They also take the admin session cookie in place of
 * the Authorization header (bull-board.ts).
 */
export const OPERATOR_PREFIXES: readonly string[] = ['/admin/queues'];

export const ACCESS: Readonly<Record<string, readonly Role[]>> = {
  'GET /api/v1/farm': READERS,
  'GET /api/v1/plans': READERS,
  'GET /api/v1/plans/latest': READERS,
  'GET /api/v1/plans/:id': READERS,

  // Operators steer the farm, viewers watch it (routes/operator.ts, docs/operator-api.md).
  'GET /api/v1/status': READERS,
  'GET /api/v1/policy': READERS,
  'PUT /api/v1/policy': OPERATOR,
  'GET /api/v1/policy/versions': READERS,
  'POST /api/v1/overrides': OPERATOR,
  'GET /api/v1/overrides': READERS,
  'GET /api/v1/overrides/:id': READERS,
  'DELETE /api/v1/overrides/:id': OPERATOR,
  'GET /api/v1/actions': READERS,
  'GET /api/v1/signals': READERS,
  // An energy broker's curve is recorded under its broker (routes/prices.ts).
  'POST /api/v1/prices': ['operator', 'energy-broker'],

  // An energy broker sees and cancels only its own dispatches (routes/dispatches.ts).
  'POST /api/v1/dispatches': ['operator', 'energy-broker'],
  'GET /api/v1/dispatches': ['operator', 'viewer', 'energy-broker'],
  'GET /api/v1/dispatches/:id': ['operator', 'viewer', 'energy-broker'],
  'DELETE /api/v1/dispatches/:id': ['operator', 'energy-broker'],

  // A compute broker places orders for its broker and sees and cancels only its own; operators
  // and viewers see every order, and operators may cancel any (routes/orders.ts).
  'GET /api/v1/capacity': ['operator', 'viewer', 'compute-broker'],
  'POST /api/v1/quotes': ['compute-broker'],
  'POST /api/v1/orders': ['compute-broker'],
  'GET /api/v1/orders': ['operator', 'viewer', 'compute-broker'],
  'GET /api/v1/orders/:id': ['operator', 'viewer', 'compute-broker'],
  'DELETE /api/v1/orders/:id': ['operator', 'compute-broker'],
  'GET /api/v1/orders/:id/usage': ['operator', 'viewer', 'compute-broker'],

  // A compute broker acts on its own webhooks only; operators on all (routes/webhooks.ts). Viewers
  // have none: a webhook's URL may carry the receiver's token.
  'POST /api/v1/webhooks': ['operator', 'compute-broker'],
  'GET /api/v1/webhooks': ['operator', 'compute-broker'],
  'GET /api/v1/webhooks/:id': ['operator', 'compute-broker'],
  'DELETE /api/v1/webhooks/:id': ['operator', 'compute-broker'],
  'POST /api/v1/webhooks/:id/test': ['operator', 'compute-broker'],

  'POST /api/v1/brokers': OPERATOR,
  'GET /api/v1/brokers': OPERATOR,
  'POST /api/v1/keys': OPERATOR,
  'GET /api/v1/keys': OPERATOR,
  'DELETE /api/v1/keys/:id': OPERATOR,
  'POST /api/v1/keys/:id/rotate': OPERATOR,
  'GET /api/v1/audit': OPERATOR,
};

export type AccessRule =
  | { kind: 'public' }
  /** `session`: the admin session cookie is taken in place of the Authorization header. */
  | { kind: 'roles'; roles: readonly Role[]; session?: true }
  | { kind: 'unmapped' };

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
  if (OPERATOR_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`)))
    return { kind: 'roles', roles: OPERATOR, session: true };
  const roles = Object.hasOwn(ACCESS, key) ? ACCESS[key] : undefined;
  return roles ? { kind: 'roles', roles } : { kind: 'unmapped' };
}

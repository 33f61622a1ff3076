import { describe, expect, it } from '@jest/globals';
import { API_KEY_ROLES } from '@switchyard/db';
import { ACCESS, accessRule, routeKey } from './access.ts';

describe('access table', () => {
  it.each([
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['HEAD', '/healthz'],
    ['GET', '/openapi.json'],
    ['GET', '/docs'],
    ['GET', '/docs/'],
    ['GET', '/docs/static/*'],
  ])('%s %s is public', (method, url) => {
    expect(accessRule(method, url)).toEqual({ kind: 'public' });
  });

  it.each([
    ['POST', '/healthz'],
    ['POST', '/docs/json'],
    ['GET', '/docsx'],
    ['GET', '/api/v1/unknown'],
    ['PATCH', '/api/v1/dispatches/:id'],
    ['GET', 'toString'],
    ['GET', '/api/v1/farm/'],
  ])('%s %s has no rule: refused to everyone', (method, url) => {
    expect(accessRule(method, url)).toEqual({ kind: 'unmapped' });
  });

  it('answers HEAD as GET', () => {
    expect(routeKey('head', '/api/v1/farm')).toBe('GET /api/v1/farm');
    expect(accessRule('HEAD', '/api/v1/farm')).toEqual(accessRule('GET', '/api/v1/farm'));
  });

  it('names only known roles, each route at least one, and gives key management to operators alone', () => {
    for (const [route, roles] of Object.entries(ACCESS)) {
      expect(route).toMatch(/^(GET|POST|PUT|PATCH|DELETE) \/api\/v1\//);
      expect(roles.length).toBeGreaterThan(0);
      for (const r of roles) expect(API_KEY_ROLES).toContain(r);
      if (/\/(keys|brokers|audit)\b/.test(route)) expect(roles).toEqual(['operator']);
    }
  });
});

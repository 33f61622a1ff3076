// The OpenAPI document: what the API serves at /openapi.json is docs/openapi.json byte for byte
// (scripts/openapi writes it), it is a well-formed OpenAPI 3.1 document, every route the app
// registers is in it, and what it says about keys matches access.ts. The app is built as
// scripts/openapi builds it: embedded PGlite and the example farm.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { accessRule } from '@switchyard/api';
import { buildDocumentedApp, type DocumentedApp } from '../../services/api/src/openapi-app.ts';

const COMMITTED = 'docs/openapi.json';
const REGENERATE = 'run scripts/openapi and commit docs/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PROBLEM = 'application/problem+json';

type Schema = Record<string, unknown>;
interface Media {
  schema?: Schema;
}
interface Operation {
  operationId?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Array<{ name?: string; in?: string; schema?: Schema }>;
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, { description?: string; content?: Record<string, Media> }>;
}
interface Spec {
  openapi: string;
  info: { title: string; version: string };
  security?: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, Schema> };
}

function operations(spec: Spec): Array<{ key: string; path: string; method: string; op: Operation }> {
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })),
  );
}

/** `{id}` in an OpenAPI path is `:id` in fastify's. */
const fastifyUrl = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Every route in fastify's router as `METHOD url`, read from printRoutes' tree (each line is a
 * node: its path below its parent's, and its methods). HEAD routes are left out: fastify adds
 * one for every GET. A wildcard is printed without the static segment before it (`/docs/*` for
 * `/docs/static/*`), which only matters under /docs, left out below.
 */
function registeredRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    stack.length = m[1]!.length / 4;
    stack.push(m[2]!);
    for (const method of m[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') out.push(`${method} ${stack.join('')}`);
    }
  }
  return out;
}

/** Where a request schema lets through a string, number or body object without bounds. */
function unbounded(schema: Schema | undefined, at: string, body: boolean, out: string[]): void {
  if (!schema) return;
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const [i, s] of ((schema[k] as Schema[] | undefined) ?? []).entries())
      unbounded(s, `${at}/${k}/${i}`, body, out);
  }
  if (Array.isArray(schema.enum) || 'const' in schema) return;
  const types = [schema.type].flat();
  if (types.includes('string') && typeof schema.maxLength !== 'number')
    out.push(`${at}: a string without maxLength`);
  if (types.includes('number') || types.includes('integer')) {
    if (schema.minimum === undefined && schema.exclusiveMinimum === undefined)
      out.push(`${at}: a number without a minimum`);
    if (schema.maximum === undefined && schema.exclusiveMaximum === undefined)
      out.push(`${at}: a number without a maximum`);
  }
  if (types.includes('object')) {
    if (body && schema.additionalProperties !== false)
      out.push(`${at}: a body object without additionalProperties: false`);
    for (const [name, s] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {}))
      unbounded(s, `${at}/${name}`, body, out);
  }
  if (types.includes('array')) unbounded(schema.items as Schema | undefined, `${at}/items`, body, out);
}

describe('OpenAPI document', () => {
  let built: DocumentedApp;
  let served: string;
  let spec: Spec;

  beforeAll(async () => {
    built = await buildDocumentedApp();
    const r = await built.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('application/json');
    served = r.body;
    spec = JSON.parse(served) as Spec;
  });
  afterAll(async () => {
    await built.close();
  });

  it('is docs/openapi.json, byte for byte', () => {
    let committed: string;
    try {
      committed = readFileSync(COMMITTED, 'utf8');
    } catch {
      throw new Error(`${COMMITTED} is missing: ${REGENERATE}`);
    }
    if (served === committed) return;
    let old: Spec | undefined;
    try {
      old = JSON.parse(committed) as Spec;
    } catch {
      // Not JSON: regenerating fixes that too.
    }
    const now = new Set(operations(spec).map((o) => o.key));
    const before = new Set(old ? operations(old).map((o) => o.key) : []);
    const added = [...now].filter((k) => !before.has(k));
    const removed = [...before].filter((k) => !now.has(k));
    throw new Error(
      [
        `${COMMITTED} differs from the document the API serves at /openapi.json: ${REGENERATE}.`,
        ...(added.length ? [`  operations the API has that the file lacks: ${added.join(', ')}`] : []),
        ...(removed.length ? [`  operations in the file the API no longer has: ${removed.join(', ')}`] : []),
        ...(added.length + removed.length === 0
          ? ['  same operations: a schema, a description or the document around them changed.']
          : []),
      ].join('\n'),
    );
  });

  it('is an OpenAPI 3.1 document of the Switchyard API, with bearer keys', () => {
    const pkg = JSON.parse(readFileSync('services/api/package.json', 'utf8')) as { version: string };
    expect(spec.openapi).toBe('3.1.0');
    expect(spec.info).toMatchObject({ title: 'Switchyard API', version: pkg.version });
    expect(spec.components.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(spec.security).toEqual([{ bearerAuth: [] }]);
    expect(spec.components.schemas?.Problem).toMatchObject({
      type: 'object',
      required: ['type', 'title', 'status'],
    });
  });

  it('gives every operation an id, a success answer, a 4xx problem and schemas for its inputs', () => {
    const problems: string[] = [];
    const ids = new Map<string, string>();
    const refs: string[] = [];
    JSON.stringify(spec, (k, v: unknown) => {
      if (k === '$ref' && typeof v === 'string') refs.push(v);
      return v;
    });
    for (const { key, op } of operations(spec)) {
      if (!op.operationId) problems.push(`${key}: no operationId`);
      else if (ids.has(op.operationId))
        problems.push(`${key}: operationId also used by ${ids.get(op.operationId)}`);
      else ids.set(op.operationId, key);
      if (!op.tags?.length) problems.push(`${key}: no tag`);
      const codes = Object.keys(op.responses ?? {});
      if (!codes.some((c) => /^2/.test(c))) problems.push(`${key}: no success response`);
      const problem4xx = codes.filter((c) => /^4/.test(c) && op.responses![c]!.content?.[PROBLEM]?.schema);
      if (problem4xx.length === 0) problems.push(`${key}: no 4xx response with an ${PROBLEM} schema`);
      for (const p of op.parameters ?? []) {
        if (!p.name || !p.in || !p.schema) problems.push(`${key}: parameter ${p.name ?? '?'} has no schema`);
      }
      if (op.requestBody) {
        const media = Object.entries(op.requestBody.content ?? {});
        if (media.length === 0) problems.push(`${key}: a request body without content`);
        for (const [type, m] of media)
          if (!m.schema) problems.push(`${key}: request body ${type} has no schema`);
      }
    }
    for (const ref of refs) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
      if (!name || !spec.components.schemas?.[name]) problems.push(`$ref ${ref} leads nowhere`);
    }
    expect(problems).toEqual([]);
    expect(ids.size).toBeGreaterThan(0);
  });

  it('bounds every string and number a client sends, and refuses unknown body fields', () => {
    const problems: string[] = [];
    for (const { key, op } of operations(spec)) {
      for (const p of op.parameters ?? []) unbounded(p.schema, `${key} ${p.in} ${p.name}`, false, problems);
      for (const [type, m] of Object.entries(op.requestBody?.content ?? {}))
        unbounded(m.schema, `${key} body (${type})`, true, problems);
    }
    expect(problems).toEqual([]);
  });

  it('documents every route the app registers but the document itself and /docs', () => {
    const routes = registeredRoutes(built.app);
    expect(routes).toContain('GET /healthz');
    expect(routes).toContain('GET /openapi.json');
    const documented = new Set(operations(spec).map((o) => o.key));
    const missing = routes
      .filter((r) => !/ \/docs(\/|$)/.test(r) && r !== 'GET /openapi.json')
      .filter((r) => {
        const [method, url] = r.split(' ') as [string, string];
        return !documented.has(`${method} ${openApiPath(url)}`);
      });
    if (missing.length > 0) {
      throw new Error(
        `routes missing from the OpenAPI document: ${missing.join(', ')}. A route registered before ` +
          'registerOpenApi (openapi.ts) or hidden is left out; otherwise ' +
          `${REGENERATE}.`,
      );
    }
    // And nothing is documented that the app does not serve.
    const registered = new Set(routes);
    const unserved = operations(spec).filter(
      (o) => !registered.has(`${o.method.toUpperCase()} ${fastifyUrl(o.path)}`),
    );
    expect(unserved.map((o) => o.key)).toEqual([]);
  });

  it('says which routes need a key exactly as access.ts does', () => {
    const wrong = operations(spec)
      .filter(({ method, path, op }) => {
        const isPublic = accessRule(method, fastifyUrl(path)).kind === 'public';
        const needsNoKey = Array.isArray(op.security) && op.security.length === 0;
        return isPublic !== needsNoKey;
      })
      .map((o) => o.key);
    expect(wrong).toEqual([]);
    expect(spec.paths['/healthz']?.get?.security).toEqual([]);
    expect(spec.paths['/api/v1/dispatches']?.post?.responses?.['401']).toBeDefined();
  });

  it('serves Swagger UI at /docs without a key', async () => {
    const r = await built.app.inject({ method: 'GET', url: '/docs' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/html');
  });
});

// The read-only plan routes, against PGlite with a plan the greedy planner made.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { parseFarmYaml, planGreedy, type Plan } from '@switchyard/domain';
import { planInput } from '@switchyard/domain/testing';
import { migrateDatabase, openDatabase, PlanRepository, type DatabaseHandle } from '@switchyard/db';
import { createLogger } from '@switchyard/telemetry';
import { buildApp } from '@switchyard/api';
import { issueTestKey } from '../support/api-keys.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;

describe('GET /api/v1/plans', () => {
  let db: DatabaseHandle;
  let app: FastifyInstance;
  let headers: { authorization: string };
  beforeAll(async () => {
    db = await openDatabase({});
    await migrateDatabase(db);
    headers = (await issueTestKey(db.db, 'viewer')).headers;
    app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [],
      db: db.db,
      getFarm: () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() }),
    });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('answers 404 before the first plan, then the latest plan with its reasons', async () => {
    const none = await app.inject({ headers, method: 'GET', url: '/api/v1/plans/latest' });
    expect(none.statusCode).toBe(404);
    expect(none.headers['content-type']).toContain('application/problem+json');
    const plan: Plan = planGreedy(planInput(farm).energy(400).build());
    const id = await new PlanRepository<Plan>(db.db).save({ plan, epoch: 2, inputs: {} });
    const r = await app.inject({ headers, method: 'GET', url: '/api/v1/plans/latest?site=west-1' });
    expect(r.statusCode).toBe(200);
    const body = r.json() as { id: string; epoch: number; changes: Array<{ reason: string }> };
    expect(body.id).toBe(id);
    expect(body.epoch).toBe(2);
    expect(body.changes.map((c) => c.reason)).toEqual(plan.changes.map((c) => c.reason));
    const list = await app.inject({ headers, method: 'GET', url: '/api/v1/plans?limit=5' });
    expect((list.json() as { items: Array<{ id: string }> }).items.map((p) => p.id)).toEqual([id]);
  });

  it('pages through the plans with a cursor, newest first', async () => {
    const plan: Plan = planGreedy(planInput(farm).energy(300).build());
    const repo = new PlanRepository<Plan>(db.db);
    const all = (await repo.list(plan.site, { limit: 500 })).items.map((p) => p.id);
    for (let i = 0; i < 3; i++) all.unshift(await repo.save({ plan, epoch: 3 + i, inputs: {} }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await app.inject({
        headers,
        method: 'GET',
        url: `/api/v1/plans?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      });
      expect(r.statusCode).toBe(200);
      const page = r.json() as { items: Array<{ id: string }>; nextCursor: string | null };
      seen.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor;
    } while (cursor !== null && seen.length < 100);
    expect(new Set(seen)).toEqual(new Set(all));
    expect(seen).toHaveLength(all.length);
  });

  it.each([
    ['/api/v1/plans?limit=0'],
    ['/api/v1/plans?limit=abc'],
    ['/api/v1/plans?cursor=12'],
    ['/api/v1/plans/latest?site=Bad_Site'],
  ])('rejects %s with a 400 problem', async (url) => {
    const r = await app.inject({ headers, method: 'GET', url });
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
  });
});

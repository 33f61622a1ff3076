// The API against real dependencies: embedded PGlite and PostgreSQL from the test scripts, and a
// real Redis. Built as a plugin and driven with app.inject, plus one real HTTP server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { farmResources, parseFarmYaml, type Farm } from '@switchyard/domain';
import { InventoryRepository, migrateDatabase, openDatabase, type DatabaseHandle } from '@switchyard/db';
import { connectRedis, checkEvictionPolicy, RedisPolicyError } from '@switchyard/queue';
import { apiEnvSchema, parseEnv } from '@switchyard/config';
import { createLogger } from '@switchyard/telemetry';
import { buildApp, startApi } from '@switchyard/api';
import type { Redis } from 'ioredis';
import { requireRedisUrl, startPrivateRedis } from '../support/redis.ts';
import { issueTestKey } from '../support/api-keys.ts';

const logger = createLogger({ level: 'silent' });
const farmText = readFileSync('examples/farm.yaml', 'utf8');
const parsed = parseFarmYaml(farmText);
if (!parsed.ok) throw new Error('example farm invalid');
const farm: Farm = parsed.farm;

describe('API app (inject)', () => {
  let db: DatabaseHandle;
  let redis: Redis;
  let app: FastifyInstance;
  let redisUp = true;
  let headers: { authorization: string };

  beforeAll(async () => {
    db = await openDatabase({});
    await migrateDatabase(db);
    const saved = await new InventoryRepository(db.db).saveSnapshot(
      farmResources(farm),
      'file:examples/farm.yaml',
    );
    redis = await connectRedis(requireRedisUrl(), 'check');
    headers = (await issueTestKey(db.db, 'viewer')).headers;
    app = await buildApp({
      logger,
      db: db.db,
      getFarm: () => ({
        farm,
        snapshotId: saved.id,
        source: 'file:examples/farm.yaml',
        loadedAt: new Date('2026-11-21T00:00:00Z'),
      }),
      readiness: [
        { name: 'database', check: () => db.ping() },
        {
          name: 'redis',
          check: async () => {
            if (!redisUp) throw new Error('connection refused');
            await redis.ping();
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await app.close();
    await redis.quit();
    await db.close();
  });

  it('GET /healthz answers 200', async () => {
    const r = await app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with each check', async () => {
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(200);
    const body = r.json() as { status: string; checks: Record<string, { status: string }> };
    expect(body.status).toBe('ready');
    expect(body.checks.database?.status).toBe('ok');
    expect(body.checks.redis?.status).toBe('ok');
  });

  it('GET /readyz answers 503 as a problem document when a dependency fails', async () => {
    redisUp = false;
    try {
      const r = await app.inject({ method: 'GET', url: '/readyz' });
      expect(r.statusCode).toBe(503);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json()).toMatchObject({
        status: 503,
        title: 'Not ready',
        detail: 'failing: redis',
        checks: { redis: { status: 'failing', error: 'connection refused' }, database: { status: 'ok' } },
      });
    } finally {
      redisUp = true;
    }
  });

  it('GET /api/v1/farm returns the validated inventory', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/farm', headers });
    expect(r.statusCode).toBe(200);
    const body = r.json() as {
      summary: Record<string, number>;
      resources: unknown[];
      source: string;
      snapshotId: string;
    };
    expect(body.summary).toEqual({
      sites: 1,
      fleets: 17,
      miners: 10_000,
      gpuPools: 2,
      gpuNodes: 56,
      gpus: 448,
      policies: 1,
    });
    expect(body.resources).toEqual(JSON.parse(JSON.stringify(farmResources(farm))));
    expect(body.source).toBe('file:examples/farm.yaml');
    expect(body.snapshotId).toMatch(/^\d+$/);
  });

  it('unknown routes answer a 404 problem document', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/nope?x=1' });
    expect(r.statusCode).toBe(404);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ status: 404, title: 'Not found', detail: 'No route GET /api/v1/nope' });
  });
});

describe('Redis eviction policy check', () => {
  it('accepts noeviction (the scripts start Redis that way)', async () => {
    const redis = await connectRedis(requireRedisUrl(), 'check');
    try {
      expect(await checkEvictionPolicy(redis, 'refuse', () => {})).toBe('noeviction');
    } finally {
      await redis.quit();
    }
  });

  it('refuses, or warns when told to, on an evicting Redis', async () => {
    const priv = await startPrivateRedis(['--maxmemory-policy', 'allkeys-lru']);
    const redis = await connectRedis(priv.url, 'check');
    try {
      await expect(checkEvictionPolicy(redis, 'refuse', () => {})).rejects.toThrow(RedisPolicyError);
      const warnings: string[] = [];
      expect(await checkEvictionPolicy(redis, 'warn', (m) => warnings.push(m))).toBe('allkeys-lru');
      expect(warnings[0]).toContain('"allkeys-lru"');
    } finally {
      redis.disconnect();
      await priv.stop();
    }
  });
});

describe('startApi (real HTTP, real PostgreSQL)', () => {
  it('serves health, readiness and the farm, stores the inventory, and closes cleanly', async () => {
    const { createTestDatabase } = await import('../support/databases.ts');
    const testDb = await createTestDatabase();
    const env = parseEnv(apiEnvSchema, {
      REDIS_URL: requireRedisUrl(),
      DATABASE_URL: testDb.url,
      PORT: '0',
      LOG_LEVEL: 'silent',
    });
    const api = await startApi(env, logger);
    try {
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
      const anonymous = await fetch(`${api.url}/api/v1/farm`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="switchyard"');
      // On PostgreSQL the API issues no key itself: keys come from `switchyard keys create`.
      expect(api.bootstrapToken).toBeUndefined();
      const keyDb = await openDatabase({ url: testDb.url });
      const key = await issueTestKey(keyDb.db, 'viewer').finally(() => keyDb.close());
      const farmRes = await fetch(`${api.url}/api/v1/farm`, { headers: key.headers });
      expect(farmRes.status).toBe(200);
      expect(((await farmRes.json()) as { summary: { miners: number } }).summary.miners).toBe(10_000);
      const check = await openDatabase({ url: testDb.url });
      try {
        const latest = await new InventoryRepository(check.db).latest();
        expect(latest?.resources).toEqual(farmResources(farm));
      } finally {
        await check.close();
      }
    } finally {
      await api.close();
      await api.close(); // idempotent
      await testDb.drop();
    }
    await expect(fetch(`${api.url}/healthz`)).rejects.toThrow();
  });

  it('refuses to start on an evicting Redis and leaves nothing open', async () => {
    const priv = await startPrivateRedis(['--maxmemory-policy', 'volatile-lru']);
    try {
      const env = parseEnv(apiEnvSchema, { REDIS_URL: priv.url, PORT: '0', LOG_LEVEL: 'silent' });
      await expect(startApi(env, logger)).rejects.toThrow(/maxmemory-policy is "volatile-lru"/);
    } finally {
      await priv.stop();
    }
  });
});

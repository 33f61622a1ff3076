// Fuzzing the whole API: the real app wired as startApi wires it (PostgreSQL; a private Redis for
// the webhook queues, bull-board's sessions and the rate limiter; rate limits and load shedding on
// but set far above what the test sends), keys for every role, and at least 10,000 malformed
// requests generated from the served OpenAPI document at run time (so a route added later is
// fuzzed too) plus hand-written nasties (test/support/fuzz/). Sent with app.inject.
//
// Every answer must be below 500, and every 4xx a problem document; no request to a write may
// succeed (each is invalid for certain: see requests.ts), and nothing may change: every table's
// rows are hashed before and after (api_keys.last_used_at aside), as are Redis's keys (the rate
// limiter's counters aside), and no control event may be published.
//
// FUZZ_SEED=<n> replays a run (the seed is printed); FUZZ_REQUESTS=<n> sends more.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Redis } from 'ioredis';
import { parseFarmYaml } from '@switchyard/domain';
import { API_KEY_ROLES, ApiKeyRepository, BrokerRepository, queryRows, type Database } from '@switchyard/db';
import { connectRedis, createQueues, type ControlEvent, type JobQueues } from '@switchyard/queue';
import { createWebhookOutbox } from '@switchyard/brokers';
import { createLogger } from '@switchyard/telemetry';
import { buildApp, connectRateLimitRedis, DEFAULT_LOAD_SHEDDING } from '@switchyard/api';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { issueTestKey } from '../support/api-keys.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/redis.ts';
import { createRng, fuzzSeed } from '../support/fuzz/prng.ts';
import { operationsOf, type Operation, type Spec } from '../support/fuzz/openapi.ts';
import {
  isWrite,
  nastyRequest,
  operationRequest,
  type FuzzKeys,
  type FuzzRequest,
} from '../support/fuzz/requests.ts';

const TOTAL = Math.max(10_000, Number(process.env.FUZZ_REQUESTS ?? 10_000));
const CONCURRENCY = 8;
const PROBLEM = 'application/problem+json';
const RATE_LIMIT_NAMESPACE = 'fuzz:rate-limit:';
const SEED = fuzzSeed();

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;

interface Outcome {
  req: FuzzRequest;
  status: number;
  failure?: string;
}

/** Every table's row count and a hash of its rows (api_keys.last_used_at left out). */
async function snapshotTables(db: Database): Promise<Record<string, string>> {
  const tables = await queryRows<{ name: string }>(
    db,
    `select table_name as name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await queryRows<{ n: number; h: string }>(
      db,
      `select count(*)::int as n,
              md5(coalesce(string_agg(r, E'\\n' order by r), '')) as h
         from (select (to_jsonb(t) - 'last_used_at')::text as r from "${name.replace(/"/g, '""')}" t) s`,
    );
    out[name] = `${row?.n} rows, ${row?.h}`;
  }
  return out;
}

async function redisKeys(redis: Redis): Promise<string[]> {
  const keys = await redis.keys('*');
  return keys.filter((k) => !k.startsWith(RATE_LIMIT_NAMESPACE)).sort();
}

/** What is wrong with an answer, or undefined. */
function judge(
  req: FuzzRequest,
  status: number,
  headers: Record<string, unknown>,
  body: string,
): string | undefined {
  if (status >= 500) return `${status}: ${body.slice(0, 300)}`;
  if (status >= 400) {
    const type = String(headers['content-type'] ?? '');
    if (!type.startsWith(PROBLEM)) return `${status} with content-type ${type}: ${body.slice(0, 200)}`;
    if (req.method === 'HEAD') return undefined;
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return `${status}: a problem document that is not JSON: ${body.slice(0, 200)}`;
    }
    if (p.status !== status || typeof p.type !== 'string' || typeof p.title !== 'string')
      return `${status}: not a problem document: ${body.slice(0, 200)}`;
    return undefined;
  }
  if (isWrite(req.method)) return `${status}: a malformed write was accepted: ${body.slice(0, 200)}`;
  return undefined;
}

describe(`API fuzz (seed ${SEED}, ${TOTAL} requests; replay with FUZZ_SEED=${SEED})`, () => {
  let m: MigratedDatabase;
  let db: Database;
  let privateRedis: PrivateRedis;
  let limiterRedis: Redis;
  let queueRedis: Redis;
  let queues: JobQueues;
  let app: FastifyInstance;
  let ops: Operation[];
  const keys: FuzzKeys = { byRole: {}, refused: [] };
  const published: ControlEvent[] = [];
  let logText = '';

  beforeAll(async () => {
    console.log(`API fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${TOTAL} requests`);
    m = await openMigratedDatabase('pg');
    db = m.handle.db;
    privateRedis = await startPrivateRedis();
    limiterRedis = await connectRateLimitRedis(privateRedis.url);
    queueRedis = await connectRedis(privateRedis.url, 'producer');
    queues = createQueues(queueRedis);
    const brokers = new BrokerRepository(db);
    const compute = await brokers.create({ name: 'fuzz-compute', kind: 'compute' });
    const energy = await brokers.create({ name: 'fuzz-energy', kind: 'energy' });
    for (const role of API_KEY_ROLES) {
      const brokerId =
        role === 'compute-broker' ? compute.id : role === 'energy-broker' ? energy.id : undefined;
      keys.byRole[role] = (await issueTestKey(db, role, brokerId)).token;
    }
    const revoked = await issueTestKey(db, 'operator');
    await new ApiKeyRepository(db).revoke(revoked.id);
    const [prefix] = keys.byRole.operator!.split('.');
    keys.refused.push(revoked.token, `${prefix}.${'A'.repeat(43)}`);

    const out = new PassThrough();
    out.on('data', (c: Buffer) => (logText += c.toString()));
    // Wired as startApi wires it: webhook deliveries and bull-board on the (private) Redis.
    const outbox = createWebhookOutbox(db, queues);
    app = await buildApp({
      logger: createLogger({ level: 'error', destination: out }),
      webhookOutbox: outbox,
      brokerEvents: outbox.publish,
      admin: { queues: Object.values(queues.queues), redis: queueRedis },
      readiness: [{ name: 'database', check: () => m.handle.ping() }],
      db,
      getFarm: () => ({ farm, snapshotId: 1, source: 'fuzz', loadedAt: new Date() }),
      publishEvent: async (e) => void published.push(e),
      hardening: {
        rateLimit: {
          windowMs: 60_000,
          perKey: 1e9,
          operator: 1e9,
          anonymous: 1e9,
          redis: limiterRedis,
          namespace: RATE_LIMIT_NAMESPACE,
        },
        loadShedding: { ...DEFAULT_LOAD_SHEDDING, maxEventLoopDelayMs: 60_000, maxHeapUsedBytes: 0 },
      },
    });
    await app.ready();
    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Spec>();
    ops = operationsOf(spec);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await queues?.close();
    queueRedis?.disconnect();
    limiterRedis?.disconnect();
    await privateRedis?.stop();
    await m?.cleanup();
  });

  it('answers every malformed request with a problem document, never a 5xx, and changes nothing', async () => {
    expect(ops.length).toBeGreaterThanOrEqual(15);
    const rng = createRng(SEED);
    const tablesBefore = await snapshotTables(db);
    const redisBefore = await redisKeys(limiterRedis);
    const allRoles = [...API_KEY_ROLES];

    // The requests, drawn up front so the seed alone decides them.
    const requests: FuzzRequest[] = [];
    for (let i = 0; requests.length < TOTAL; i++) {
      requests.push(
        rng.chance(0.12)
          ? nastyRequest(ops, rng, keys)
          : operationRequest(ops[i % ops.length]!, rng, { keys, allRoles }),
      );
    }

    const outcomes: Outcome[] = [];
    const unsendable: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const req = requests[next++]!;
        let res;
        try {
          res = await app.inject({
            method: req.method as 'GET',
            url: req.url,
            headers: req.headers,
            ...(req.payload !== undefined ? { payload: req.payload } : {}),
          });
        } catch (e) {
          // The client library refused to send it (e.g. a header no HTTP client could send).
          unsendable.push(`${req.label}: ${(e as Error).message}`);
          continue;
        }
        const failure = judge(req, res.statusCode, res.headers, res.body);
        outcomes.push({ req, status: res.statusCode, ...(failure ? { failure } : {}) });
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - t0) / 1000;

    const byStatus: Record<number, number> = {};
    for (const o of outcomes) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
    const byOperation = new Map<string, number>();
    for (const o of outcomes) {
      const id = o.req.label.split(':')[0]!;
      byOperation.set(id, (byOperation.get(id) ?? 0) + 1);
    }
    console.log(
      `API fuzz: ${outcomes.length} answers in ${seconds.toFixed(1)} s over ${ops.length} operations ` +
        `(${unsendable.length} not sendable); by status ${JSON.stringify(byStatus)}`,
    );

    const failures = outcomes.filter((o) => o.failure);
    const report = failures
      .slice(0, 15)
      .map(
        (f) =>
          `${f.req.method} ${f.req.url.slice(0, 160)} [${f.req.label.slice(0, 200)}] -> ${f.failure} (seed ${SEED})`,
      );
    expect(report).toEqual([]);
    expect(outcomes.length).toBeGreaterThanOrEqual(10_000);
    // Every operation of the document was fuzzed.
    for (const op of ops) expect(byOperation.get(op.operationId) ?? 0).toBeGreaterThan(0);

    // Nothing changed: no row anywhere, no Redis key, no control event, no polluted prototype.
    expect(await snapshotTables(db)).toEqual(tablesBefore);
    expect(await redisKeys(limiterRedis)).toEqual(redisBefore);
    expect(published).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // And nothing was logged as an error (a 5xx is, with its cause).
    expect(
      logText
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(0, 5),
    ).toEqual([]);
  }, 120_000);
});

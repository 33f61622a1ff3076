// API benchmark: the real API server (`switchyard api`, in its own process, so the load generator
// does not share its event loop) on real PostgreSQL and Redis, driven by autocannon from this
// process over loopback HTTP with a compute-broker key:
//   capacity  GET /api/v1/capacity
//   orders    POST /api/v1/orders, an on-demand bid for 8 H100s, a new Idempotency-Key per request
// Each gets a warm-up, then a measured run. Every non-2xx answer counts as an error; req/s counts
// 2xx answers only. The server runs as deployed (rate limits on, load shedding on), with its
// per-key rate limit set above what the benchmark sends (API_RATE_LIMIT_PER_KEY) and LOG_LEVEL
// warn (info logs two lines per request).
//
// Writes bench/results/api.json. Run with ./scripts/bench api. BENCH_API_DURATION (s, default 10),
// BENCH_API_CONNECTIONS (default 16), BENCH_API_CPU_PROF=1 (the server writes a .cpuprofile to
// $TMPDIR/switchyard-bench-api-profiles/).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import autocannon, { type Result } from 'autocannon';
import { Redis } from 'ioredis';
import { ApiKeyRepository, BrokerRepository, migrateDatabase, openDatabase, queryRows } from '@switchyard/db';

const redisUrl = process.env.REDIS_URL;
const databaseUrl = process.env.DATABASE_URL;
if (!redisUrl || !databaseUrl) throw new Error('run through ./scripts/bench api (REDIS_URL, DATABASE_URL)');

const DURATION = Number(process.env.BENCH_API_DURATION ?? 10);
const WARMUP = 3;
const CONNECTIONS = Number(process.env.BENCH_API_CONNECTIONS ?? 16);
const CPU_PROF = process.env.BENCH_API_CPU_PROF === '1';
const PROFILE_DIR = `${os.tmpdir()}/switchyard-bench-api-profiles`;
const TARGETS = { capacityReqPerSec: 3000, ordersReqPerSec: 800, capacityP99Ms: 50, ordersP99Ms: 50 };
const RATE_LIMIT_PER_KEY = 1_000_000_000;

const ORDER = {
  gpuModels: ['H100-SXM-80GB'],
  gpuCount: 8,
  durationSeconds: 3600,
  tier: 'on-demand',
  maxUsdPerGpuHour: 5,
  // On-demand orders are preempted only with notice: at least 60 s (MIN_ON_DEMAND_NOTICE_SECONDS).
  noticeSeconds: 300,
  image: 'ghcr.io/example/llm:1',
  args: [],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

// A database of its own, dropped at the end: every run starts with no orders.
const admin = await openDatabase({ url: databaseUrl, poolMax: 1, applicationName: 'switchyard-bench' });
const dbName = `sy_bench_api_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
await admin.db.execute(`create database "${dbName}"`);
const benchUrl = new URL(databaseUrl);
benchUrl.pathname = `/${dbName}`;
const db = await openDatabase({ url: benchUrl.toString(), poolMax: 2 });
await migrateDatabase(db);
const broker = await new BrokerRepository(db.db).create({ name: 'bench-compute', kind: 'compute' });
const { token } = await new ApiKeyRepository(db.db).create({
  role: 'compute-broker',
  brokerId: broker.id,
  label: 'bench api',
});
const [pgVersion] = await queryRows<{ v: string }>(db.db, "select current_setting('server_version') as v");
const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
await redis.connect();
const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
// The limiter's counters of earlier runs.
for (const k of await redis.keys('switchyard:rate-limit:*')) await redis.del(k);

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
if (CPU_PROF) mkdirSync(PROFILE_DIR, { recursive: true });
let stopping = false;
let serverLog = '';
const server: ChildProcess = spawn(
  process.execPath,
  [
    ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    'services/cli/src/main.ts',
    'api',
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
  ],
  {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: benchUrl.toString(),
      REDIS_URL: redisUrl,
      LOG_LEVEL: 'warn',
      API_RATE_LIMIT: 'true',
      API_RATE_LIMIT_PER_KEY: String(RATE_LIMIT_PER_KEY),
    },
  },
);
const keep = (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-8000));
server.stdout?.on('data', keep);
server.stderr?.on('data', keep);
server.once('exit', (code, sig) => {
  if (!stopping) console.error(`API server exited early (${code ?? sig}):\n${serverLog}`);
});

async function waitReady() {
  for (const t0 = Date.now(); ;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > 60_000) throw new Error(`API server not ready after 60 s:\n${serverLog}`);
    await sleep(200);
  }
}

const auth = { authorization: `Bearer ${token}` };
const orderBody = JSON.stringify(ORDER);

function run(kind: 'capacity' | 'orders', seconds: number): Promise<Result> {
  const request: autocannon.Request =
    kind === 'capacity'
      ? { method: 'GET', path: '/api/v1/capacity', headers: auth }
      : {
          method: 'POST',
          path: '/api/v1/orders',
          headers: { ...auth, 'content-type': 'application/json' },
          body: orderBody,
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': randomUUID() } }),
        };
  return autocannon({
    url: base,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
    requests: [request],
  });
}

function summary(r: Result) {
  const ok = r['2xx'];
  return {
    reqPerSec: round(ok / r.duration),
    latencyMs: {
      mean: round(r.latency.mean, 2),
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
    },
    requests: r.requests.total,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(
      Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0]),
    ),
    connections: r.connections,
    durationSeconds: round(r.duration, 2),
  };
}

try {
  await waitReady();
  const probe = await fetch(`${base}/api/v1/orders`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: orderBody,
  });
  if (probe.status !== 201)
    throw new Error(`POST /api/v1/orders answered ${probe.status}: ${await probe.text()}`);
  const cap = await fetch(`${base}/api/v1/capacity`, { headers: auth });
  if (cap.status !== 200) throw new Error(`GET /api/v1/capacity answered ${cap.status}: ${await cap.text()}`);
  // The limiter counts (in Redis) every request of the runs below.
  const rateLimitHeader = cap.headers.get('ratelimit-policy');
  if (rateLimitHeader === null)
    throw new Error('the API answered without RateLimit headers: is the limiter on?');

  console.error(`capacity: warm-up ${WARMUP} s, then ${DURATION} s with ${CONNECTIONS} connections`);
  await run('capacity', WARMUP);
  const capacity = summary(await run('capacity', DURATION));
  console.error(`capacity: ${JSON.stringify(capacity)}`);

  console.error(`orders: warm-up ${WARMUP} s, then ${DURATION} s with ${CONNECTIONS} connections`);
  const warm = await run('orders', WARMUP);
  const orders = summary(await run('orders', DURATION));
  const [stored] = await queryRows<{ n: number }>(db.db, 'select count(*)::int as n from orders');
  // Every 201 is one stored order: the probe, the warm-up's and the run's.
  const created = 1 + (warm.statusCodeStats?.['201']?.count ?? 0) + (orders.statusCodes['201'] ?? 0);
  console.error(`orders: ${JSON.stringify(orders)}`);

  const results = {
    benchmark: 'api',
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      postgres: pgVersion?.v,
      redis: redisVersion,
    },
    setup: {
      server:
        '`switchyard api` in its own process (examples/farm.yaml), PostgreSQL and Redis on this machine, LOG_LEVEL=warn',
      load: `autocannon in the benchmark process, ${CONNECTIONS} connections, no pipelining, ${WARMUP} s warm-up then ${DURATION} s per route`,
      rateLimit: `on (RateLimit-Policy ${rateLimitHeader}), per key ${RATE_LIMIT_PER_KEY.toLocaleString('en-US')} requests a minute (API_RATE_LIMIT_PER_KEY): above what the benchmark sends, so every request pays for its Redis count but none is refused`,
      loadShedding: 'on, defaults (event-loop delay 1 s, 90 % of the heap)',
      orderBody: ORDER,
      counting:
        'req/s counts 2xx answers only; every non-2xx answer is an error; latencies are of every answer. ordersStoredInAll exceeds answered201InAll by the requests in flight when each run stopped (at most one per connection and run), which the server completed unwatched',
    },
    capacityReqPerSec: capacity.reqPerSec,
    capacityP99Ms: capacity.latencyMs.p99,
    ordersReqPerSec: orders.reqPerSec,
    ordersP99Ms: orders.latencyMs.p99,
    capacity,
    orders: { ...orders, ordersStoredInAll: stored?.n ?? 0, answered201InAll: created },
    targets: TARGETS,
    met: {
      capacityReqPerSec: capacity.reqPerSec >= TARGETS.capacityReqPerSec,
      capacityP99Ms: capacity.latencyMs.p99 <= TARGETS.capacityP99Ms,
      ordersReqPerSec: orders.reqPerSec >= TARGETS.ordersReqPerSec,
      ordersP99Ms: orders.latencyMs.p99 <= TARGETS.ordersP99Ms,
      noErrors: capacity.non2xx + capacity.errors + orders.non2xx + orders.errors === 0,
    },
  };
  writeFileSync('bench/results/api.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
} finally {
  stopping = true;
  server.kill('SIGTERM');
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      server.kill('SIGKILL');
      resolve();
    }, 15_000);
    server.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    if (server.exitCode !== null || server.signalCode !== null) {
      clearTimeout(t);
      resolve();
    }
  });
  redis.disconnect();
  await db.close();
  await admin.db.execute(`drop database if exists "${dbName}" with (force)`).catch(() => undefined);
  await admin.close();
}

// Grid dispatch benchmark on the example farm (10,000 simulated miners, sleep time 3 s), with real
// PostgreSQL and Redis. The simulator and a worker run as their own processes (as deployed); the
// controller runs in this process. Measures, from the simulator's ground-truth change log:
//   firstCommand*Ms     a dispatch stored and announced (as the API does) → the first device
//                       command changing a miner, repeated on a fully awake farm
//   curtail10kSeconds   a dispatch below every miner's sleep draw → all 10,000 miners asleep at
//                       their sleep draw in the simulator's own power readings
//   batched vs per-miner the same 10,000-miner curtailment enqueued as one job per batch (≤ 1,024
//                       miners of one fleet) and as one job per miner, side by side in this run
// Writes bench/results/dispatch.json. Run with ./scripts/bench dispatch.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { parseFarmYaml } from '@switchyard/domain';
import { DispatchRepository, migrateDatabase, openDatabase } from '@switchyard/db';
import {
  connectRedis,
  createFlowProducer,
  DEFAULT_PREFIX,
  enqueuePhase,
  MAX_BATCH_TARGETS,
  publishControlEvent,
  QueueEvents,
  RedisLeaderLease,
  JOB_CATALOG,
  type CatalogJob,
  type PhaseSummary,
} from '@switchyard/queue';
import { pollTargets } from '@switchyard/miners';
import { startControllerService, type CycleRecord, type PhaseRecord } from '@switchyard/controller';
import { toSimHost } from '@switchyard/simulator';
import { SimulatorClusterDriver } from '@switchyard/cluster';
import { FixedValueSource, SignalHub } from '@switchyard/signals';

const FARM_FILE = 'examples/farm.yaml';
const SLEEP_SECONDS = 3;
const WAKE_SECONDS = 5;
const PORT_OFFSET = 10_000;
const REPS = Number(process.env.BENCH_DISPATCH_REPS ?? 20);
const redisUrl = process.env.REDIS_URL;
const databaseUrl = process.env.DATABASE_URL;
if (!redisUrl || !databaseUrl)
  throw new Error('run through ./scripts/bench dispatch (REDIS_URL, DATABASE_URL)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Sockets in TIME_WAIT on this machine. Every miner command is a short TCP connection, and with
// 10,000 simulated miners on the bench's own kernel both ends of each stay in TIME_WAIT for 60 s.
// At the kernel's cap (tcp_max_tw_buckets) every connect() becomes several times costlier, which
// is an artefact of simulating the whole farm on one machine: measurements start once it drains.
const timeWait = () => {
  const m = /TCP: .*\btw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return m ? Number(m[1]) : 0;
};
async function drainTimeWait(below = 20_000, maxMs = 90_000): Promise<number> {
  const t0 = Date.now();
  while (timeWait() > below && Date.now() - t0 < maxMs) await sleep(1000);
  return timeWait();
}
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const children: ChildProcess[] = [];
function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const c = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let tail = '';
  c.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
  c.once('exit', (code, sig) => {
    if (!stopping) console.error(`${name} exited early (${code ?? sig}):\n${tail}`);
  });
  children.push(c);
  return c;
}
let stopping = false;

const parsed = parseFarmYaml(readFileSync(FARM_FILE, 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
// The example farm with a policy that lets a fleet be shed and restored again at once (no dwell,
// no ramp wait, a daily cycle budget that twenty rounds cannot exhaust, a token wear cost): each
// round below is a dispatch and its end, carried out by the controller both ways.
const farm = {
  ...parsed.farm,
  policies: parsed.farm.policies.map((p) => ({
    ...p,
    spec: {
      ...p.spec,
      minDwellSeconds: 0,
      rampKwPerMin: 1_000_000,
      maxCyclesPerDay: 288,
      wearCostUsdPerCycle: 0.005,
    },
  })),
};
const site = farm.sites[0]?.metadata.name as string;
const minerCount = pollTargets(farm).length;
const sleepKwFloor = farm.fleets.reduce(
  (n, f) => n + ((f.spec.sleepW ?? 30) * (f.spec.endpoints.count ?? 0)) / 1000,
  0,
);

const httpPort = await freePort();
const simUrl = `http://127.0.0.1:${httpPort}`;
const sim = (path: string, body?: unknown) =>
  fetch(`${simUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  }).then(async (r) => {
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<Record<string, unknown>>;
  });

const db = await openDatabase({ url: databaseUrl });
await migrateDatabase(db);
const dispatches = new DispatchRepository(db.db);
const redis = await connectRedis(redisUrl, 'producer');
// The queues of this Redis are the benchmark's own: clear the default prefix's leftovers.
for (const k of await redis.keys('{switchyard}*')) await redis.del(k);

start('simulator', [
  'services/simulator/src/main.ts',
  '--farm',
  FARM_FILE,
  '--sleep-seconds',
  String(SLEEP_SECONDS),
  '--wake-seconds',
  String(WAKE_SECONDS),
  '--http-port',
  String(httpPort),
  '--port-offset',
  String(PORT_OFFSET),
  '--workers',
  '2',
]);
for (let t0 = Date.now(); ;) {
  try {
    if ((await fetch(`${simUrl}/healthz`)).ok) break;
  } catch {
    /* not up yet */
  }
  if (Date.now() - t0 > 90_000) throw new Error('simulator did not start');
  await sleep(250);
}
const WORKERS = Number(process.env.BENCH_DISPATCH_WORKERS ?? 1);
for (let i = 0; i < WORKERS; i++)
  start(`worker ${i + 1}`, ['services/cli/src/main.ts', 'worker', '--farm', FARM_FILE, '--sim-url', simUrl], {
    REDIS_URL: redisUrl,
    SIM_ADDRESSES: 'true',
    SIM_PORT_OFFSET: String(PORT_OFFSET),
    LOG_LEVEL: 'warn',
  });

// Prices at which every miner and GPU earns: without a dispatch the plan keeps the farm awake.
const hub = new SignalHub({
  sources: [
    {
      source: new FixedValueSource(
        [
          { signal: 'btc_usd', value: 95_000 },
          { signal: 'difficulty', value: 1.1e14 },
          { signal: 'fees_btc_per_block', value: 0.05 },
          { signal: 'energy_usd_per_mwh', value: 20 },
        ],
        { name: 'bench-fixed' },
      ),
      trusted: true,
    },
  ],
});
await hub.refresh();
const cycles: CycleRecord[] = [];
const phases: PhaseRecord[] = [];
const warnings: string[] = [];
const handedOff: CycleRecord[] = [];
// When each device job became active in a worker (the worker's own clock is this machine's).
const deviceActiveAt: number[] = [];
const deviceEventsRedis = await connectRedis(redisUrl, 'worker');
const deviceEvents = new QueueEvents(JOB_CATALOG['device.batch'].queue, {
  connection: deviceEventsRedis,
  prefix: DEFAULT_PREFIX,
});
deviceEvents.on('active', () => deviceActiveAt.push(Date.now()));
await deviceEvents.waitUntilReady();
const controller = await startControllerService({
  farm,
  site,
  redisUrl,
  db,
  signals: hub,
  // Only dispatches drive cycles here; the interval stays out of the way.
  intervalMs: 3_600_000,
  pollEveryMs: 0,
  autoStart: false,
  mapHost: toSimHost,
  mapPort: (p) => (p < 1024 ? p + PORT_OFFSET : p),
  cluster: new SimulatorClusterDriver({ baseUrl: simUrl }),
  confirmTimeoutMs: 60_000,
  fenceGraceMs: 3500,
  onCycle: (r) => cycles.push(r),
  onDispatching: (r) => handedOff.push(r),
  onPhase: (r) => phases.push(r),
  onWarning: (m) => warnings.push(m),
});

async function wakeAll() {
  await sim('/sim/miners/control', { action: 'wake' });
  await sleep((WAKE_SECONDS + 1) * 1000);
}

async function firstChangeAfter(t0: number, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await sim(`/sim/changes?since=${t0}&via=protocol&limit=0`)) as {
      first: { at: number } | null;
    };
    if (r.first) return r.first.at;
    if (Date.now() > deadline) return null;
    await sleep(20);
  }
}

/** Stores a dispatch and announces it, as `POST /api/v1/dispatches` does. */
async function dispatch(capKw: number, durationSeconds: number) {
  const d = await dispatches.create({ site, kind: 'cap', kw: capKw, startsAt: new Date(), durationSeconds });
  await publishControlEvent(redis, { type: 'grid-dispatch', id: d.id, site, at: new Date().toISOString() });
  return d;
}

async function waitCycle(n: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (cycles.length < n && Date.now() < deadline) await sleep(20);
}

try {
  await wakeAll();
  await controller.refresh();
  const pue = farm.sites[0]?.spec.pue ?? 1;

  // 1. Dispatch → first device command, on an awake farm; each a 10 % cut for 10 minutes.
  const firstMs: number[] = [];
  const toDispatchMs: number[] = [];
  const toWorkerMs: number[] = [];
  const stages: Array<CycleRecord['stagesMs']> = [];
  const awakeKw = async () => ((await sim('/sim/miners')) as { totals: { powerKw: number } }).totals.powerKw;
  // One cycle without a dispatch first: the farm as the plan wants it at these prices.
  await controller.trigger('manual');
  await sleep((WAKE_SECONDS + 2) * 1000);
  await controller.refresh();
  const fullKw = await awakeKw();
  const restoredFraction: number[] = [];
  for (let i = 0; i < REPS; i++) {
    // A cut of 10 % of the load the controller sees right now.
    const load = (await controller.refresh()).fleets.reduce((n, f) => n + f.powerKw, 0);
    const before = cycles.length;
    const handedBefore = handedOff.length;
    const t0 = Date.now();
    const d = await dispatch(Math.round(load * pue * 0.9), 600);
    const first = await firstChangeAfter(t0, 10_000);
    if (first === null)
      throw new Error(
        `rep ${i}: no device command within 10 s of the dispatch\n${JSON.stringify({ cycles: cycles.slice(-3), phases: phases.slice(-6), warnings: warnings.slice(-10) }, null, 1)}`,
      );
    firstMs.push(first - t0);
    const rec = handedOff.slice(handedBefore).find((c) => c.trigger === 'grid-dispatch');
    if (rec?.toDispatchMs !== undefined) toDispatchMs.push(rec.toDispatchMs);
    stages.push(rec?.stagesMs);
    const active = deviceActiveAt.find((t) => t >= t0);
    if (active !== undefined) toWorkerMs.push(active - t0);
    console.error(
      `rep ${i + 1}/${REPS}: first command ${first - t0} ms; handed to the queues ${Math.round(rec?.toDispatchMs ?? -1)} ms; first device job active ${active === undefined ? '?' : active - t0} ms; stages ${JSON.stringify(rec?.stagesMs)}`,
    );
    // Let the dispatch's cycle finish (shed, confirm), then end the dispatch: the controller
    // restores the farm itself, and the next round starts from a farm at full power again.
    await waitCycle(before + 1, 90_000);
    const ended = cycles.length;
    await dispatches.cancel(d.id);
    await publishControlEvent(redis, { type: 'grid-dispatch', id: d.id, site, at: new Date().toISOString() });
    await waitCycle(ended + 1, 90_000);
    await sleep((WAKE_SECONDS + 1) * 1000);
    restoredFraction.push(round((await awakeKw()) / fullKw, 3));
  }

  // 2. Curtail everything: a cap below the miners' sleep draw.
  await wakeAll();
  await sleep((WAKE_SECONDS + 1) * 1000);
  const curtailTimeWaitAtStart = await drainTimeWait();
  await controller.refresh();
  const c0 = Date.now();
  const phasesBefore = phases.length;
  const all = await dispatch(Math.round(sleepKwFloor * 0.5), 600);
  let curtailMs = Number.NaN;
  for (;;) {
    const p = (await sim('/sim/power')) as { fleets: Array<{ powerKw: number }> };
    const kw = p.fleets.reduce((n, f) => n + f.powerKw, 0);
    const c = (await sim(`/sim/changes?since=${c0}&via=protocol&limit=0`)) as {
      byKind: Record<string, number>;
    };
    if ((c.byKind.sleep ?? 0) >= minerCount && kw <= sleepKwFloor * 1.05) {
      curtailMs = Date.now() - c0;
      break;
    }
    if (Date.now() - c0 > 120_000) {
      const m = (await sim('/sim/miners')) as {
        fleets: Array<{ fleet: string; states: Record<string, number> }>;
      };
      throw new Error(
        `not all asleep after 120 s (${kw} kW, ${JSON.stringify(c.byKind)})\n` +
          JSON.stringify({
            fleets: m.fleets.filter((f) => (f.states.sleeping ?? 0) < 600).map((f) => [f.fleet, f.states]),
            cycles: cycles.slice(-4),
            phases: phases.slice(-8),
            warnings: warnings.slice(-8),
          }),
      );
    }
    await sleep(100);
  }
  const curtailPhases = phases.slice(phasesBefore).map((p) => `${p.kind}:${p.status}:${p.jobs}`);
  await dispatches.cancel(all.id);
  await controller.close();
  await sleep(500);

  // 3. The same curtailment as one job per batch vs one job per miner, enqueued directly.
  const lease = new RedisLeaderLease({ redis, ttlMs: 60_000 });
  if (!(await lease.acquire())) throw new Error('could not take the lease for the job-rate run');
  const epoch = lease.epoch() as number;
  const flow = createFlowProducer(redis, {});
  const eventsRedis = await connectRedis(redisUrl, 'worker');
  const planEvents = new QueueEvents(JOB_CATALOG['plan.phase'].queue, {
    connection: eventsRedis,
    prefix: DEFAULT_PREFIX,
  });
  await planEvents.waitUntilReady();
  const targetsByFleet = new Map<string, Array<{ host: string; port: number }>>();
  for (const t of pollTargets(farm)) {
    const l = targetsByFleet.get(t.fleet) ?? [];
    l.push({ host: t.host, port: t.port });
    targetsByFleet.set(t.fleet, l);
  }
  async function curtail(kind: 'batched' | 'per-miner') {
    await wakeAll();
    await sleep((WAKE_SECONDS + 1) * 1000);
    const timeWaitAtStart = await drainTimeWait();
    const planId = `bench-${kind}-${randomUUID().slice(0, 8)}`;
    const jobs: CatalogJob[] = [];
    for (const f of farm.fleets) {
      const targets = targetsByFleet.get(f.metadata.name) ?? [];
      const size = kind === 'batched' ? MAX_BATCH_TARGETS : 1;
      for (let i = 0; i < targets.length; i += size)
        jobs.push({
          name: 'device.batch',
          payload: {
            planId,
            stepId: `${f.metadata.name}.${i / size}`,
            epoch,
            fleet: f.metadata.name,
            feed: f.spec.feed,
            driver: f.spec.driver,
            action: 'sleep',
            targets: targets.slice(i, i + size),
            ...(f.spec.credentialsSecret && { credentialsRef: f.spec.credentialsSecret.name }),
          },
        });
    }
    const t0 = performance.now();
    const parent = await enqueuePhase(flow, { planId, stepId: 'shed', epoch, phase: 'shed', jobs });
    const summary = (await parent.waitUntilFinished(planEvents, 600_000)) as PhaseSummary;
    const seconds = (performance.now() - t0) / 1000;
    return {
      jobs: jobs.length,
      seconds: round(seconds, 2),
      jobsPerSecond: round(jobs.length / seconds),
      minersPerSecond: round(minerCount / seconds),
      status: summary.status,
      timeWaitAtStart,
    };
  }
  const batched = await curtail('batched');
  const perMiner = await curtail('per-miner');
  await planEvents.close();
  eventsRedis.disconnect();
  await flow.close();
  await lease.release();

  const results = {
    benchmark: 'dispatch',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
    setup: {
      farm: FARM_FILE,
      miners: minerCount,
      simulatorSleepSeconds: SLEEP_SECONDS,
      simulatorWakeSeconds: WAKE_SECONDS,
      processes: `simulator (parent + 2 hosts), ${WORKERS} worker${WORKERS === 1 ? '' : 's'} (default concurrency), controller in the bench`,
      reps: REPS,
      note: 'times are wall-clock: the dispatch is stored in PostgreSQL and announced on Redis at t0; the first command is the first change in the simulator’s log',
      timeWait:
        'the curtailment and both job-rate runs start once this machine has fewer than 20,000 sockets in TIME_WAIT (up to 90 s): with the whole farm simulated on one kernel, both ends of every short miner connection wait out TIME_WAIT here, and at the kernel cap (tcp_max_tw_buckets) each connect() costs several times more; …TimeWaitAtStart is the count when the run started',
    },
    firstCommandP50Ms: quantile(firstMs, 0.5),
    firstCommandP99Ms: quantile(firstMs, 0.99),
    firstCommandMaxMs: Math.max(...firstMs),
    firstCommandMs: firstMs,
    breakdown: {
      note: 'p50 over the reps: dispatch → sequence handed to the queues (snapshot from the last poll, plan, persist, sequence), → first device.batch active in the worker, → first miner changed',
      toQueuesP50Ms: toDispatchMs.length ? round(quantile(toDispatchMs, 0.5)) : null,
      toWorkerP50Ms: toWorkerMs.length ? round(quantile(toWorkerMs, 0.5)) : null,
      stagesMsP50: {
        snapshot: round(
          quantile(
            stages.map((x) => x?.snapshot ?? 0),
            0.5,
          ),
        ),
        plan: round(
          quantile(
            stages.map((x) => x?.plan ?? 0),
            0.5,
          ),
        ),
        persist: round(
          quantile(
            stages.map((x) => x?.persist ?? 0),
            0.5,
          ),
        ),
        sequence: round(
          quantile(
            stages.map((x) => x?.sequence ?? 0),
            0.5,
          ),
        ),
      },
    },
    restoredFractionAfterEachRound: restoredFraction,
    curtail10kSeconds: round(curtailMs / 1000, 2),
    curtailPhases,
    curtailTimeWaitAtStart,
    batchedJobsPerSecond: batched.jobsPerSecond,
    perMinerJobsPerSecond: perMiner.jobsPerSecond,
    batched,
    perMiner,
    batchedOverPerMinerMinerRate: round(batched.minersPerSecond / perMiner.minersPerSecond, 2),
    targets: { firstCommandP99Ms: 500, curtail10kSeconds: 15 },
  };
  writeFileSync('bench/results/dispatch.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
} finally {
  stopping = true;
  await deviceEvents.close().catch(() => undefined);
  deviceEventsRedis.disconnect();
  await controller.close().catch(() => undefined);
  await hub.close();
  for (const c of children) c.kill('SIGTERM');
  await sleep(3000);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  redis.disconnect();
  await db.close();
}

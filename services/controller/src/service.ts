// The controller as a process: a leader lease in Redis, the farm poller, the planner with
// HiGHS, the plan repository and the BullMQ producers, wired into one ControlLoop. Only the
// leader runs cycles; a follower keeps trying to acquire the lease.
import type { Farm, Plan } from '@switchyard/domain';
import { migrateDatabase, openDatabase, PlanRepository, type DatabaseHandle } from '@switchyard/db';
import { createMinerDriver, FleetPoller, type MinerDriver, type PollTarget } from '@switchyard/miners';
import {
  connectRedis,
  createFlowProducer,
  DEFAULT_PREFIX,
  JOB_CATALOG,
  RedisLeaderLease,
} from '@switchyard/queue';
import { HighsSolver } from '@switchyard/solver';
import type { SignalHub } from '@switchyard/signals';
import { QueueEvents } from '@switchyard/queue';
import { ControlLoop, type CycleRecord, type CycleTrigger } from './control-loop.ts';
import {
  createControllerPorts,
  type ControllerInput,
  type ControllerSequence,
  type PhaseRecord,
} from './ports.ts';

export interface ControllerServiceOptions {
  farm: Farm;
  site: string;
  redisUrl: string;
  /** PostgreSQL URL; without it an in-memory PGlite database (migrated at start). */
  databaseUrl?: string | undefined;
  /** An open database to share (embedded PGlite is one process's); not closed by close(). */
  db?: DatabaseHandle | undefined;
  signals: Pick<SignalHub, 'current'>;
  intervalMs: number;
  /** Farm address → the address to dial (the simulator serves 10.a.b.c on 127.a.b.c). */
  mapHost?: (host: string) => string;
  /** Farm port → the port to dial (the simulator adds an offset to ports below 1024). */
  mapPort?: (port: number) => number;
  prefix?: string;
  leaseTtlMs?: number;
  pollTimeoutMs?: number;
  confirmTimeoutMs?: number;
  phaseTimeoutMs?: number;
  planTimeLimitMs?: number;
  /** Use the greedy planner only (no HiGHS worker). */
  greedy?: boolean;
  /** Start cycles right away (default true); false: call `trigger` yourself. */
  autoStart?: boolean;
  onCycle?: (r: CycleRecord) => void;
  onPhase?: (r: PhaseRecord) => void;
  onWarning?: (message: string) => void;
}

export interface RunningController {
  loop: ControlLoop<ControllerInput, Plan, ControllerSequence>;
  lease: RedisLeaderLease;
  db: DatabaseHandle;
  plans: PlanRepository<Plan>;
  /** Acquires the lease if free, then runs a cycle now (or right after the running one). */
  trigger(reason?: CycleTrigger): Promise<void>;
  close(): Promise<void>;
}

export async function startControllerService(o: ControllerServiceOptions): Promise<RunningController> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const mapHost = o.mapHost ?? ((h: string) => h);
  const mapPort = o.mapPort ?? ((p: number) => p);
  const shared = o.db;
  const db = shared ?? (await openDatabase(o.databaseUrl ? { url: o.databaseUrl } : {}));
  const closers: Array<() => Promise<unknown>> = shared ? [] : [() => db.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    await migrateDatabase(db);
    const redis = await connectRedis(o.redisUrl, 'producer');
    closers.push(async () => redis.disconnect());
    const flowProducer = createFlowProducer(redis, { prefix });
    closers.push(() => flowProducer.close());
    // QueueEvents blocks on a stream read: its own connection, which waits for Redis.
    const eventsRedis = await connectRedis(o.redisUrl, 'worker');
    closers.push(async () => eventsRedis.disconnect());
    const planEvents = new QueueEvents(JOB_CATALOG['plan.phase'].queue, { connection: eventsRedis, prefix });
    planEvents.on('error', () => undefined);
    closers.push(() => planEvents.close());
    await planEvents.waitUntilReady();
    const solver = o.greedy ? undefined : new HighsSolver();
    if (solver) closers.push(() => solver.close());
    const plans = new PlanRepository<Plan>(db.db);
    const lease = new RedisLeaderLease({ redis, prefix, ttlMs: o.leaseTtlMs ?? 15_000 });
    closers.push(() => lease.release());

    const poller = new FleetPoller({
      createDriver: (t: PollTarget): MinerDriver =>
        createMinerDriver(t.driver, {
          host: mapHost(t.host),
          port: mapPort(t.port),
          timeoutMs: o.pollTimeoutMs ?? 3000,
        }),
      // The ports own the per-miner view; the poller only runs inside their snapshot.
      onTelemetry: (t, tel) => ports.recordTelemetry(t, tel),
    });
    closers.push(() => poller.close());
    const ports = createControllerPorts({
      farm: o.farm,
      site: o.site,
      poller,
      hub: o.signals,
      solver,
      plans,
      flowProducer,
      planEvents,
      ...(o.confirmTimeoutMs !== undefined && { confirmTimeoutMs: o.confirmTimeoutMs }),
      ...(o.phaseTimeoutMs !== undefined && { phaseTimeoutMs: o.phaseTimeoutMs }),
      ...(o.planTimeLimitMs !== undefined && { planTimeLimitMs: o.planTimeLimitMs }),
      ...(o.onPhase && { onPhase: o.onPhase }),
      ...(o.onWarning && { onWarning: o.onWarning }),
    });
    const loop = new ControlLoop<ControllerInput, Plan, ControllerSequence>(
      { ...ports, lease },
      { intervalMs: o.intervalMs, ...(o.onCycle && { onCycle: o.onCycle }) },
    );
    closers.push(() => loop.stop());

    const tryAcquire = () => lease.acquire().catch(() => false);
    await tryAcquire();
    // A follower (or a leader that lost its lease) keeps trying; the epoch grows on every win.
    const campaign = setInterval(
      () => {
        if (!lease.isLeader()) void tryAcquire();
      },
      Math.max(100, Math.floor(lease.ttlMs / 3)),
    );
    campaign.unref();
    closers.push(async () => clearInterval(campaign));
    if (o.autoStart ?? true) loop.start();

    let closing: Promise<void> | undefined;
    return {
      loop,
      lease,
      db,
      plans,
      async trigger(reason = 'manual') {
        if (!lease.isLeader()) await tryAcquire();
        await loop.trigger(reason);
      },
      close: () => (closing ??= closeAll()),
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

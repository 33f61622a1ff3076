// The worker service: every job of the catalog served by one process (`switchyard worker`).
// device.batch drives the miners through their firmware drivers; device.confirm and
// telemetry.poll read them through a FleetPoller; signals.fetch calls an injected refresh;
// kube.action sets GPU node modes through a ClusterDriver (the simulator's API in standalone
// mode); webhook.deliver sends brokers' signed webhook deliveries, read from the database, and a
// periodic sweep enqueues deliveries whose job was lost (see docs/worker.md).
import type { Registry } from '@switchyard/telemetry';
import { createWorkerMetrics } from './metrics.ts';
import { SimulatorClusterDriver, type ClusterDriver } from '@switchyard/cluster';
import type { Farm } from '@switchyard/domain';
import { ObservationRepository, openDatabase, type DatabaseHandle } from '@switchyard/db';
import {
  createWebhookDeliverHandler,
  createWebhookOutbox,
  type WebhookTargetPolicy,
} from '@switchyard/brokers';
import {
  FACTORY_CREDENTIALS,
  FleetPoller,
  createMinerDriver,
  pollTargets,
  type MinerCredentials,
  type MinerDriver,
} from '@switchyard/miners';
import type { MinerDriverName } from '@switchyard/domain';
import {
  RedisLeaderLease,
  connectRedis,
  createQueues,
  createDeviceBatchHandler,
  createPlanPhaseHandler,
  startWorkers,
  type EpochSource,
  type HarnessLogger,
  type JobHandlers,
  type QueueName,
  type RunningWorkers,
} from '@switchyard/queue';
import {
  createConfirmHandler,
  createSignalsFetchHandler,
  createTelemetryPollHandler,
  unavailableHandler,
  type FleetPoll,
} from './handlers.ts';
import { createKubeActionHandler } from './kube-handler.ts';

export interface WorkerServiceOptions {
  redisUrl: string;
  farm: Farm;
  /**
   * PostgreSQL URL; given, telemetry.poll stores fleet observations there, and webhook.deliver
   * reads its deliveries there (without a database it fails for good).
   */
  databaseUrl?: string | undefined;
  /** An open database to share instead (embedded PGlite is one process's); not closed by close(). */
  db?: DatabaseHandle | undefined;
  /** Which hosts webhook deliveries may reach (default: https to public hosts only). */
  webhookTargets?: WebhookTargetPolicy | undefined;
  /** How often pending webhook deliveries without a job are enqueued again (default 60 s; 0: never). */
  webhookSweepMs?: number | undefined;
  /** Jobs at once per queue (default: the harness's per-queue defaults). */
  concurrency?: number | Partial<Record<QueueName, number>> | undefined;
  /** Farm address → address to dial (for the simulator, its toSimHost: 10.b.c.d → 127.b.c.d). */
  mapHost?: ((host: string) => string) | undefined;
  /** Added to miner ports below 1024 (the simulator's port offset when it cannot bind them). */
  portOffset?: number | undefined;
  /** Resolves a fleet's credentialsSecret name; without it batches that name one fail for good. */
  resolveCredentials?: ((ref: string, driver: MinerDriverName) => Promise<MinerCredentials>) | undefined;
  /** Where the worker's metrics go (see metrics.ts); none when absent. */
  metrics?: Registry | undefined;
  /** Per-request miner timeout (default 3000 ms). */
  minerTimeoutMs?: number | undefined;
  /** Queue prefix (default the harness's {switchyard}). */
  prefix?: string | undefined;
  /** Where fenced jobs' epochs are checked; default the Redis leader lease's counter. */
  lease?: EpochSource | undefined;
  /** signals.fetch: refreshes one source; default reports "skipped" (no source wired here). */
  refreshSignals?: ((source: string, signal: AbortSignal) => Promise<unknown>) | undefined;
  /** kube.action: the GPU cluster. Without it (and without simUrl) kube.action fails for good. */
  clusterDriver?: ClusterDriver | undefined;
  /** The simulator's API (e.g. http://127.0.0.1:9090): kube.action drives its GPU nodes. */
  simUrl?: string | undefined;
  /** device.confirm's poll interval (default 1000 ms). */
  confirmIntervalMs?: number | undefined;
  evictionCheck?: 'refuse' | 'warn' | undefined;
  /** Close on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean | undefined;
  logger?: HarnessLogger | undefined;
  /** Replaces handlers (tests); a handler set to undefined is missing and the harness refuses. */
  handlerOverrides?: Partial<Record<keyof JobHandlers, unknown>> | undefined;
}

export interface RunningWorkerService {
  workers: RunningWorkers;
  /** Stops taking jobs, waits for running ones, then closes pollers, Redis and the database. */
  close(opts?: { force?: boolean }): Promise<void>;
}

/**
 * Enqueues, every `everyMs`, pending webhook deliveries whose job may be missing (an enqueue that
 * failed while Redis was away). Returns its cleanup.
 */
async function startWebhookSweep(
  opts: WorkerServiceOptions,
  db: DatabaseHandle,
  everyMs: number,
): Promise<() => Promise<unknown>> {
  const redis = await connectRedis(opts.redisUrl, 'producer');
  const queues = createQueues(redis, opts.prefix ? { prefix: opts.prefix } : {});
  const outbox = createWebhookOutbox(db.db, queues);
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    outbox
      .sweep()
      .catch((err: unknown) => opts.logger?.warn({ err: (err as Error).message }, 'webhook sweep failed'))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await queues.close();
    await redis.quit();
  };
}

/** The simulator serves farm address a.b.c.d on 127.b.c.d. */

export async function startWorkerService(opts: WorkerServiceOptions): Promise<RunningWorkerService> {
  const clusterDriver =
    opts.clusterDriver ?? (opts.simUrl ? new SimulatorClusterDriver({ baseUrl: opts.simUrl }) : undefined);
  const mapHost = opts.mapHost ?? ((h: string) => h);
  const portOffset = opts.portOffset ?? 0;
  const timeoutMs = opts.minerTimeoutMs ?? 3000;
  const mapPort = (p: number) => p + (p < 1024 ? portOffset : 0);
  const driverFor = (t: {
    host: string;
    port: number;
    driver: MinerDriverName;
    credentials: MinerCredentials;
  }): MinerDriver =>
    createMinerDriver(t.driver, {
      host: t.host,
      port: mapPort(t.port),
      // Antminer's web UI (sleep, wake, low power) answers on port 80, mapped like the others.
      webPort: mapPort(80),
      timeoutMs,
      credentials: t.credentials,
    });

  // One poller for reads (confirm and telemetry): it keeps a driver per miner between polls.
  const poller = new FleetPoller({
    createDriver: (t) => driverFor({ ...t, credentials: FACTORY_CREDENTIALS[t.driver] }),
    mapHost,
  });
  const allTargets = pollTargets(opts.farm, mapHost);
  const poll: FleetPoll = (fleets) => {
    const wanted = new Set(fleets);
    return poller.poll(
      opts.farm,
      allTargets.filter((t) => wanted.has(t.fleet)),
    );
  };

  const cleanups: Array<() => Promise<unknown>> = [() => poller.close()];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    let db: DatabaseHandle | undefined = opts.db;
    if (!db && opts.databaseUrl) {
      db = await openDatabase({ url: opts.databaseUrl, applicationName: 'switchyard-worker' });
      const handle = db;
      cleanups.push(() => handle.close());
    }
    let lease = opts.lease;
    if (!lease) {
      const redis = await connectRedis(opts.redisUrl, 'producer');
      cleanups.push(() => redis.quit());
      lease = new RedisLeaderLease({
        redis,
        ...(opts.prefix ? { prefix: opts.prefix } : {}),
        autoRenew: false,
      });
    }
    const refresh =
      opts.refreshSignals ??
      (async (source: string) => {
        opts.logger?.warn({ source }, 'signals.fetch: no signal source is wired into this worker');
        return { status: 'skipped', reason: 'no signal source is wired into this worker' };
      });
    const handlers: Record<string, unknown> = {
      'device.batch': createDeviceBatchHandler({
        createDriver: (t) => driverFor({ ...t, host: mapHost(t.host) }),
        ...(opts.resolveCredentials ? { resolveCredentials: opts.resolveCredentials } : {}),
      }),
      'device.confirm': createConfirmHandler({
        farm: opts.farm,
        poll,
        ...(opts.confirmIntervalMs ? { intervalMs: opts.confirmIntervalMs } : {}),
      }),
      'plan.phase': createPlanPhaseHandler(),
      'telemetry.poll': createTelemetryPollHandler({
        farm: opts.farm,
        poll,
        ...(db ? { observations: new ObservationRepository(db.db) } : {}),
      }),
      'signals.fetch': createSignalsFetchHandler({ refresh }),
      'kube.action': createKubeActionHandler({ driver: clusterDriver }),
      'webhook.deliver': db
        ? createWebhookDeliverHandler({
            db: db.db,
            targets: opts.webhookTargets,
            ...(opts.logger ? { logger: opts.logger } : {}),
          })
        : unavailableHandler('webhook.deliver', 'it has no database to read deliveries from'),
    };
    const sweepMs = opts.webhookSweepMs ?? 60_000;
    if (db && sweepMs > 0) cleanups.push(await startWebhookSweep(opts, db, sweepMs));
    for (const [name, h] of Object.entries(opts.handlerOverrides ?? {})) {
      if (h === undefined) delete handlers[name];
      else handlers[name] = h;
    }
    const workers = await startWorkers({
      connection: opts.redisUrl,
      handlers,
      lease,
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      ...(opts.prefix ? { prefix: opts.prefix } : {}),
      ...(opts.evictionCheck ? { evictionCheck: opts.evictionCheck } : {}),
      ...(opts.handleSignals !== undefined ? { handleSignals: opts.handleSignals } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    if (opts.metrics) createWorkerMetrics(opts.metrics).attach(workers);
    let closing: Promise<void> | undefined;
    const close = (closeOpts: { force?: boolean } = {}) =>
      (closing ??= workers.close(closeOpts).finally(cleanup));
    return { workers, close };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

// The worker service: every job of the catalog served by one process (`switchyard worker`).
// device.batch drives the miners through their firmware drivers; device.confirm and
// telemetry.poll read them through a FleetPoller; signals.fetch calls an injected refresh;
// kube.action sets GPU node modes through a ClusterDriver (the simulator's API in standalone
// mode); webhook.deliver fails for good until its issue lands (see docs/worker.md).
import { SimulatorClusterDriver, type ClusterDriver } from '@switchyard/cluster';
import type { Farm } from '@switchyard/domain';
import { ObservationRepository, openDatabase, type DatabaseHandle } from '@switchyard/db';
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
  notImplementedHandler,
  type FleetPoll,
} from './handlers.ts';
import { createKubeActionHandler } from './kube-handler.ts';

export interface WorkerServiceOptions {
  redisUrl: string;
  farm: Farm;
  /** PostgreSQL URL; given, telemetry.poll stores fleet observations there. */
  databaseUrl?: string | undefined;
  /** Jobs at once per queue (default: the harness's per-queue defaults). */
  concurrency?: number | Partial<Record<QueueName, number>> | undefined;
  /** Farm address → address to dial (for the simulator, its toSimHost: 10.b.c.d → 127.b.c.d). */
  mapHost?: ((host: string) => string) | undefined;
  /** Added to miner ports below 1024 (the simulator's port offset when it cannot bind them). */
  portOffset?: number | undefined;
  /** Resolves a fleet's credentialsSecret name; without it batches that name one fail for good. */
  resolveCredentials?: ((ref: string, driver: MinerDriverName) => Promise<MinerCredentials>) | undefined;
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
    let db: DatabaseHandle | undefined;
    if (opts.databaseUrl) {
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
      'webhook.deliver': notImplementedHandler('webhook.deliver', 'signed delivery is not built yet'),
    };
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
    let closing: Promise<void> | undefined;
    const close = (closeOpts: { force?: boolean } = {}) =>
      (closing ??= workers.close(closeOpts).finally(cleanup));
    return { workers, close };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

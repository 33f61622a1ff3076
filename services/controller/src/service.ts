// The controller as a process: a leader lease in Redis, the farm poller, the planner with
// HiGHS, the plan repository and the BullMQ producers, wired into one ControlLoop. Only the
// leader runs cycles; a follower keeps trying to acquire the lease.
//
// Between cycles the leader keeps polling the farm in the background. Each poll feeds the
// event triggers (a jump in faulted or offline miners, a large price move) and, while a grid
// dispatch is in force, the dispatch's performance record (metered site load against the cap).
// A grid dispatch arrives as an event on Redis and starts a cycle at once, planned from the last
// poll.
import type { Farm, GridDispatch, MinerDriverName, Override, Plan } from '@switchyard/domain';
import {
  DispatchRepository,
  migrateDatabase,
  ObservationRepository,
  openDatabase,
  pruneExpired,
  DEFAULT_RETENTION,
  type RetainedTable,
  type RetentionPolicy,
  PlanRepository,
  type Database,
  type DatabaseHandle,
} from '@switchyard/db';
import {
  createMinerDriver,
  FACTORY_CREDENTIALS,
  FleetPoller,
  type MinerCredentials,
  type MinerDriver,
  type PollTarget,
} from '@switchyard/miners';
import {
  connectRedis,
  createFlowProducer,
  createQueues,
  DEFAULT_PREFIX,
  type JobQueues,
  JOB_CATALOG,
  RedisLeaderLease,
  type LeaderLease,
} from '@switchyard/queue';
import { HighsSolver } from '@switchyard/solver';
import type { SignalHub } from '@switchyard/signals';
import { QueueEvents, subscribeControlEvents } from '@switchyard/queue';
import { toObservationRows, type PollResult } from '@switchyard/miners';
import type { ClusterDriver, GpuNodeState } from '@switchyard/cluster';
import { ControlLoop, type CycleRecord, type CycleTrigger } from './control-loop.ts';
import { createControllerMetrics } from './metrics.ts';
import { gpuDraw, type GpuDraw } from './gpu-draw.ts';
import { nodeLoadReader, OverLimitWatch, type NodeLoad } from './node-loads.ts';
import type { Registry } from '@switchyard/telemetry';
import { databaseOrders, databaseOverrides, databasePolicy } from './order-store.ts';
import { createWebhookOutbox, type BrokerEventSink } from '@switchyard/brokers';
import {
  createControllerPorts,
  type ControllerOrders,
  type ControllerPortsOptions,
  type ControllerInput,
  type ControllerSequence,
  type PhaseRecord,
} from './ports.ts';

/** One poll with its GPU draw and node loads. */
interface PollReading {
  result: PollResult;
  gpu: GpuDraw;
  loads: NodeLoad[];
}

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
  /** See ControllerPortsOptions.fenceGraceMs. */
  fenceGraceMs?: number;
  planTimeLimitMs?: number;
  /**
   * The leader lease (default: one in Redis, `leaseTtlMs` long). In a cluster: a
   * coordination.k8s.io Lease (KubeLeaderLease), whose transitions are the fencing epoch.
   */
  lease?: ControllerLease | undefined;
  /** Use the greedy planner only (no HiGHS worker). */
  greedy?: boolean;
  /** Start cycles right away (default true); false: call `trigger` yourself. */
  autoStart?: boolean;
  /**
   * Credentials for reading a fleet's miners, by its credentialsSecret (read once at start);
   * fleets without one use their firmware's factory credentials. Without a resolver every fleet
   * uses factory credentials.
   */
  resolveCredentials?: (ref: string, driver: MinerDriverName) => Promise<MinerCredentials>;
  /** GPU nodes (e.g. a SimulatorClusterDriver in standalone mode); without one, pool steps are skipped. */
  cluster?: ClusterDriver | undefined;
  /** Background polling period while leading (default min(interval, 10 s); 0 turns it off). */
  pollEveryMs?: number;
  /** Grid dispatches: where they are stored and their performance is recorded (default: the database's). */
  dispatches?: DispatchSource;
  /**
   * Compute orders: read and moved by the plans (default: the database's orders; `null` for none).
   */
  orders?: ControllerOrders | null;
  /** The allocation policy set through the API (default: the database's; `null`: the farm file's). */
  policy?: (() => Promise<Record<string, unknown> | undefined>) | null;
  /** Operators' overrides in force or to come (default: the database's; `null` for none). */
  overrides?: (() => Promise<Override[]>) | null;
  /**
   * Told of every order transition recorded (default: the webhook outbox on this database and
   * Redis; `null` for none).
   */
  brokerEvents?: BrokerEventSink | null;
  /** See ControllerPortsOptions.noticeLeadMs (default 15 s). */
  noticeLeadMs?: number;
  /** Listen for control events (grid dispatches, inventory changes) on Redis (default true). */
  listenForEvents?: boolean;
  /** A price (energy or hashprice) moving by this fraction since the last plan triggers a cycle (default 0.2). */
  priceMoveFraction?: number;
  /** This many more faulted or offline miners than at the last plan trigger a cycle (default max(5, 1 %)). */
  faultJump?: number;
  onCycle?: (r: CycleRecord) => void;
  /** Where the controller's metrics go (see metrics.ts); none when absent. */
  metrics?: Registry | undefined;
  /** A cycle handed its sequence to the queues (its record so far). */
  onDispatching?: (r: CycleRecord) => void;
  onPhase?: (r: PhaseRecord) => void;
  onWarning?: (message: string) => void;
  /** Told how many rows each retention run deleted. */
  onPruned?: (byTable: Record<RetainedTable, number>) => void;
  /**
   * How long fleet observations, signal readings and settled webhook deliveries are kept; the
   * leader deletes older rows every `retentionEveryMs` (default 1 h). Default DEFAULT_RETENTION;
   * null: never.
   */
  retention?: RetentionPolicy | null;
  retentionEveryMs?: number;
  /**
   * The leader stores its fleet observations (what `GET /status` shows and a curtail-by
   * dispatch counts from) at most this often (default 10 s); 0: never.
   */
  observationEveryMs?: number;
}

/** What the controller needs of the dispatch store (DispatchRepository satisfies it). */
export interface DispatchSource {
  active(site: string, at: Date, opts?: { horizonMs?: number }): Promise<GridDispatch[]>;
  recordPerformance(id: string, sample: { at: Date; siteKw: number }): Promise<unknown>;
  acknowledge?(id: string, expectedKw: number): Promise<unknown>;
  /** The dispatch's window began (state 'active'). */
  setState?(id: string, state: 'active'): Promise<unknown>;
  /** The dispatch's window is over (state 'completed'). */
  finish?(id: string): Promise<unknown>;
}

/** The leader lease the controller campaigns for; `ttlMs` paces its campaign. */
export type ControllerLease = LeaderLease & { readonly ttlMs: number };

export interface RunningController {
  loop: ControlLoop<ControllerInput, Plan, ControllerSequence>;
  lease: ControllerLease;
  db: DatabaseHandle;
  plans: PlanRepository<Plan>;
  /** Acquires the lease if free, then runs a cycle now (or right after the running one). */
  trigger(reason?: CycleTrigger): Promise<void>;
  /** Re-reads the grid dispatches in force, then runs a dispatch cycle at once. */
  gridDispatch(): Promise<void>;
  /** Polls the farm now; the next cycle (a grid dispatch's included) plans from this poll. */
  refresh(): Promise<PollResult>;
  /** Miners with a command outstanding. */
  inFlightCount(): number;
  /** The last poll of the miners, with when it finished. */
  lastPoll(): { result: PollResult; at: Date } | undefined;
  /** GPU nodes as of the last poll (null: the cluster could not be read). */
  lastNodes(): GpuNodeState[] | null;
  close(): Promise<void>;
}

/** The lease given, else one in Redis. */
function leaseOf(
  o: ControllerServiceOptions,
  redis: Awaited<ReturnType<typeof connectRedis>>,
  prefix: string,
): ControllerLease {
  return o.lease ?? new RedisLeaderLease({ redis, prefix, ttlMs: o.leaseTtlMs ?? 15_000 });
}

/** Orders, overrides and the broker-event sink: the options', else the database's and the outbox. */
function brokerPorts(
  o: ControllerServiceOptions,
  db: Database,
  queues: JobQueues,
): Pick<ControllerPortsOptions, 'orders' | 'overrides' | 'policy' | 'brokerEvents' | 'noticeLeadMs'> {
  const sitePools = o.farm.pools.filter((p) => p.spec.site === o.site).map((p) => p.metadata.name);
  const warn = o.onWarning ?? (() => undefined);
  return {
    ...(o.noticeLeadMs !== undefined && { noticeLeadMs: o.noticeLeadMs }),
    orders: o.orders === undefined ? databaseOrders(db, sitePools) : (o.orders ?? undefined),
    overrides: o.overrides === undefined ? databaseOverrides(db, o.site) : (o.overrides ?? undefined),
    policy: o.policy === undefined ? databasePolicy(db, o.site) : (o.policy ?? undefined),
    brokerEvents:
      o.brokerEvents === undefined
        ? createWebhookOutbox(db, queues, {
            logger: { warn: (obj, msg) => warn(`${msg} ${JSON.stringify(obj)}`) },
          }).publish
        : (o.brokerEvents ?? undefined),
  };
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
    // Order transitions tell the brokers through their webhooks (the worker delivers them).
    const jobQueues = createQueues(redis, { prefix });
    closers.push(() => jobQueues.close());
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
    const lease = leaseOf(o, redis, prefix);
    closers.push(() => lease.release());

    // Reads need credentials too (Braiins OS logs in; Whatsminer signs with the password).
    const fleetCredentials = await resolveFleetCredentials(o.farm, o.resolveCredentials, o.onWarning);
    const poller = new FleetPoller({
      createDriver: (t: PollTarget): MinerDriver =>
        createMinerDriver(t.driver, {
          host: mapHost(t.host),
          port: mapPort(t.port),
          // Antminer's web UI (miner mode) answers on port 80, mapped like the others.
          webPort: mapPort(80),
          credentials: fleetCredentials.get(t.fleet) ?? FACTORY_CREDENTIALS[t.driver],
          timeoutMs: o.pollTimeoutMs ?? 3000,
        }),
      // The ports own the per-miner view; the poller only runs inside their snapshot.
      onTelemetry: (t, tel) => ports.recordTelemetry(t, tel),
    });
    closers.push(() => poller.close());
    const warn = o.onWarning ?? (() => undefined);
    const dispatchStore: DispatchSource = o.dispatches ?? new DispatchRepository(db.db);
    const siteSpec = o.farm.sites.find((x) => x.metadata.name === o.site);
    const pue = siteSpec?.spec.pue ?? 1;
    let active: GridDispatch[] = [];
    const refreshDispatches = async () => {
      try {
        active = await dispatchStore.active(o.site, new Date(), { horizonMs: o.intervalMs });
      } catch (e) {
        // Keep the last known list: a dispatch already in force stays in force.
        warn(`could not read grid dispatches: ${(e as Error).message}`);
      }
    };
    const metrics = o.metrics
      ? createControllerMetrics(o.metrics, {
          farm: o.farm,
          site: o.site,
          lease,
          signals: () => o.signals.current(new Date()),
          inFlight: () => ports.inFlightCount(),
        })
      : undefined;
    if (metrics) {
      const off = lease.onLost(() => metrics.leadership('lost'));
      closers.push(async () => off());
    }
    // Node loads past what any plan allows, watched on every poll (the cycles' own and the
    // background ones): shed now, not at the next interval.
    const overLimitWatch = new OverLimitWatch();
    const nodeLoads = nodeLoadReader(o.farm, o.site);
    // Each poll's GPU draw and node loads, worked out once: the watch, the metrics and the
    // dispatch record all read them.
    const readPoll = (result: PollResult, nodes: GpuNodeState[] | null): PollReading => {
      const gpu = gpuDraw(o.farm, o.site, nodes);
      return { result, gpu, loads: nodeLoads(result, gpu) };
    };
    let lastReading: PollReading | undefined;
    let watchPoll: (r: PollReading) => void = () => undefined;
    const ports = createControllerPorts({
      onPoll: (result, nodes) => watchPoll((lastReading = readPoll(result, nodes))),
      farm: o.farm,
      site: o.site,
      poller,
      hub: o.signals,
      dispatches: () => active,
      ...brokerPorts(o, db.db, jobQueues),
      cluster: o.cluster,
      solver,
      plans,
      flowProducer,
      planEvents,
      ...(o.confirmTimeoutMs !== undefined && { confirmTimeoutMs: o.confirmTimeoutMs }),
      ...(o.phaseTimeoutMs !== undefined && { phaseTimeoutMs: o.phaseTimeoutMs }),
      ...(o.fenceGraceMs !== undefined && { fenceGraceMs: o.fenceGraceMs }),
      ...(o.planTimeLimitMs !== undefined && { planTimeLimitMs: o.planTimeLimitMs }),
      onPhase: (r) => {
        metrics?.observePhase(r);
        o.onPhase?.(r);
      },
      ...(o.onWarning && { onWarning: o.onWarning }),
    });
    // What the last plan was made with: the triggers compare against it.
    let planned: { energy: number | null; hashprice: number | null; faults: number } | undefined;
    const faultsOf = (r: PollResult) => r.fleets.reduce((n, f) => n + f.byState.fault + f.byState.offline, 0);
    const acknowledged = new Set<string>();
    const loop = new ControlLoop<ControllerInput, Plan, ControllerSequence>(
      {
        ...ports,
        lease,
        async plan(input) {
          const t0 = performance.now();
          const plan = await ports.plan(input);
          metrics?.observePlan(
            plan,
            performance.now() - t0,
            input.trigger ?? 'manual',
            solver !== undefined && input.trigger !== 'grid-dispatch',
          );
          return plan;
        },
        async snapshot(trigger) {
          // Every cycle sees the dispatches in force (one query); the fast path has just read them.
          if (trigger !== 'grid-dispatch') await refreshDispatches();
          return ports.snapshot(trigger);
        },
        async persist(plan, input, epoch, trigger) {
          const id = await ports.persist(plan, input, epoch, trigger);
          const sig = input.plan.signals;
          planned = {
            energy: sig.energyUsdPerMwh.stale ? null : sig.energyUsdPerMwh.value,
            hashprice:
              sig.hashpriceUsdPerThDay && !sig.hashpriceUsdPerThDay.stale
                ? sig.hashpriceUsdPerThDay.value
                : null,
            faults: ports.lastPoll() ? faultsOf((ports.lastPoll() as { result: PollResult }).result) : 0,
          };
          for (const d of input.plan.dispatches) {
            if (acknowledged.has(d.id) || !dispatchStore.acknowledge) continue;
            acknowledged.add(d.id);
            void dispatchStore
              .acknowledge(d.id, plan.loads.site.facilityKw)
              .catch((e: Error) => warn(`could not acknowledge dispatch ${d.id}: ${e.message}`));
          }
          return id;
        },
      },
      {
        intervalMs: o.intervalMs,
        onCycle: (r) => {
          metrics?.observeCycle(r);
          o.onCycle?.(r);
        },
        onDispatching: (r) => {
          metrics?.observeDispatching(r);
          o.onDispatching?.(r);
        },
      },
    );
    closers.push(() => loop.stop());

    watchPoll = ({ result, loads }) => {
      if (!lease.isLeader()) return;
      const over = overLimitWatch.check(loads, ports.safetyMarginPct(), Date.now());
      if (over.length === 0) return;
      warn(
        `over the limit: ${over.map((n) => `${n.node} at ${n.loadKw.toFixed(1)} of ${n.limitKw} kW`).join(', ')}; re-planning now`,
      );
      // A cycle already planning from this poll (or a later one) answers it.
      void loop.trigger('over-limit', { observedAt: result.startedAt });
    };
    const tryAcquire = async () => {
      const was = lease.isLeader();
      const won = await lease.acquire().catch(() => false);
      // A new leader plans at once from what it observes, not at its next interval.
      if (won && !was) {
        metrics?.leadership('won');
        ports.forgetMemory();
        overLimitWatch.reset();
        if (o.autoStart ?? true) void loop.trigger('leadership');
      }
      return won;
    };
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
    await refreshDispatches();

    // Background telemetry while leading: performance records and event triggers.
    const pollEveryMs = o.pollEveryMs ?? Math.min(o.intervalMs, 10_000);
    const priceMove = o.priceMoveFraction ?? 0.2;
    let activeNow = '';
    const wasInForce = new Map<string, GridDispatch>();
    let ticking = false;
    const moved = (then: number | null, nowV: number | null | undefined) =>
      then !== null &&
      nowV !== null &&
      nowV !== undefined &&
      Math.abs(nowV - then) > priceMove * Math.max(Math.abs(then), 1);
    const storeObservations = observationWriter(db.db, o.observationEveryMs ?? 10_000, warn);
    const tick = async () => {
      if (ticking || !lease.isLeader()) return;
      ticking = true;
      try {
        const result = await ports.refresh();
        storeObservations(result);
        await refreshDispatches();
        const at = new Date();
        const inForce = active.filter((d) => d.startsAt <= at.getTime() && d.endsAt > at.getTime());
        for (const d of inForce)
          if (!wasInForce.has(d.id))
            void dispatchStore
              .setState?.(d.id, 'active')
              .catch((e: Error) => warn(`dispatch ${d.id}: ${e.message}`));
        for (const [id, d] of wasInForce)
          if (d.endsAt <= at.getTime())
            void dispatchStore.finish?.(id).catch((e: Error) => warn(`dispatch ${id}: ${e.message}`));
        wasInForce.clear();
        for (const d of inForce) wasInForce.set(d.id, d);
        // Metered site load: the miners' draw and the GPU nodes' (a node not read counts at its
        // pool's highest draw), times the site's PUE.
        const { gpu, loads } =
          lastReading?.result === result ? lastReading : readPoll(result, ports.lastNodes());
        const siteKw = (result.fleets.reduce((n, f) => n + f.powerKw, 0) + gpu.totalKw) * pue;
        if (metrics) {
          metrics.observePoll(result, gpu, loads);
          metrics.observeDispatches(inForce, siteKw, at.getTime());
        }
        for (const d of inForce)
          void dispatchStore
            .recordPerformance(d.id, { at, siteKw })
            .catch((e: Error) => warn(`could not record dispatch ${d.id}'s performance: ${e.message}`));
        const ids = inForce
          .map((d) => d.id)
          .sort()
          .join(',');
        if (ids !== activeNow) {
          // A dispatch began or ended: plan for it now, not at the next interval.
          activeNow = ids;
          void loop.trigger('grid-dispatch');
          return;
        }
        if (!planned) return;
        const faultJump =
          o.faultJump ?? Math.max(5, Math.ceil(result.fleets.reduce((n, f) => n + f.miners, 0) / 100));
        if (faultsOf(result) - planned.faults >= faultJump) {
          planned.faults = faultsOf(result); // once per jump, not on every poll
          void loop.trigger('device-fault');
          return;
        }
        const sig = o.signals.current(at);
        if (
          moved(planned.energy, sig['energy_usd_per_mwh']?.value) ||
          moved(planned.hashprice, sig['hashprice_usd_per_th_day']?.value)
        ) {
          planned.energy = null;
          planned.hashprice = null;
          void loop.trigger('price-move');
        }
      } catch (e) {
        warn(`background poll failed: ${(e as Error).message}`);
      } finally {
        ticking = false;
      }
    };
    // Retention, by the leader only (one process deletes, the others need not).
    closers.push(
      startRetention(o, {
        db: db.db,
        isLeader: () => lease.isLeader(),
        onPruned: (byTable) => metrics?.observePruned(byTable),
        warn,
      }),
    );

    if (pollEveryMs > 0) {
      const poll = setInterval(() => void tick(), pollEveryMs);
      poll.unref();
      closers.push(async () => clearInterval(poll));
    }

    const gridDispatch = async () => {
      await refreshDispatches();
      if (!lease.isLeader()) await tryAcquire();
      await loop.trigger('grid-dispatch');
    };
    if (o.listenForEvents ?? true) {
      const sub = await subscribeControlEvents(
        o.redisUrl,
        (event) => {
          if (event.type === 'grid-dispatch' && (event.site === undefined || event.site === o.site))
            void gridDispatch();
          else if (event.type === 'inventory') void loop.trigger('inventory');
        },
        { prefix, onInvalid: (m: string) => warn(`ignored a malformed control event: ${m}`) },
      );
      closers.push(() => sub.close());
    }
    if (o.autoStart ?? true) loop.start();

    let closing: Promise<void> | undefined;
    return {
      loop,
      lease,
      db,
      plans,
      gridDispatch,
      refresh: () => ports.refresh(),
      inFlightCount: () => ports.inFlightCount(),
      lastPoll: () => ports.lastPoll(),
      lastNodes: () => ports.lastNodes(),
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

/** Each fleet's credentials for reads: its Secret through the resolver, else factory defaults. */
async function resolveFleetCredentials(
  farm: Farm,
  resolve: ControllerServiceOptions['resolveCredentials'],
  warn: ((m: string) => void) | undefined,
): Promise<Map<string, MinerCredentials>> {
  const out = new Map<string, MinerCredentials>();
  for (const f of farm.fleets) {
    const ref = f.spec.credentialsSecret?.name;
    const factory: MinerCredentials = FACTORY_CREDENTIALS[f.spec.driver];
    let creds = factory;
    if (ref && resolve)
      creds = await resolve(ref, f.spec.driver).catch((e: Error) => {
        warn?.(`fleet ${f.metadata.name}: ${e.message}; reading with factory credentials`);
        return factory;
      });
    out.set(f.metadata.name, creds);
  }
  return out;
}

/**
 * Runs pruneExpired under `retention` (default DEFAULT_RETENTION; null: never) every
 * `retentionEveryMs` (default 1 h) while leading, one run at a time; returns its closer.
 */
function startRetention(
  opts: Pick<ControllerServiceOptions, 'retention' | 'retentionEveryMs' | 'onPruned'>,
  o: {
    db: DatabaseHandle['db'];
    isLeader: () => boolean;
    onPruned: (byTable: Record<RetainedTable, number>) => void;
    warn: (message: string) => void;
  },
): () => Promise<void> {
  const policy = opts.retention === undefined ? DEFAULT_RETENTION : opts.retention;
  if (!policy) return async () => undefined;
  let pruning: Promise<void> | undefined;
  const prune = () => {
    if (pruning || !o.isLeader()) return;
    pruning = pruneExpired(o.db, policy)
      .then((byTable) => {
        o.onPruned(byTable);
        opts.onPruned?.(byTable);
      })
      .catch((e: Error) => o.warn(`retention run failed: ${e.message}`))
      .finally(() => (pruning = undefined));
  };
  const timer = setInterval(prune, opts.retentionEveryMs ?? 3_600_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await pruning;
  };
}

/**
 * Stores a poll's fleet observations, at most once per `everyMs` (0: never), without waiting:
 * a slow or failed write is a warning, never a late poll.
 */
function observationWriter(
  db: DatabaseHandle['db'],
  everyMs: number,
  warn: (message: string) => void,
): (result: PollResult) => void {
  const repo = new ObservationRepository(db);
  let lastAt = -Infinity;
  return (result) => {
    const at = result.startedAt.getTime();
    if (!(everyMs > 0) || at - lastAt < everyMs || result.fleets.length === 0) return;
    lastAt = at;
    void repo
      .appendFleetObservations(result.startedAt, toObservationRows(result.fleets))
      .catch((e: Error) => warn(`could not store fleet observations: ${e.message}`));
  };
}

// The controller in a Kubernetes cluster: the farm read from the switchyard.io custom resources
// (KubeFarmSource), leadership on a coordination.k8s.io Lease, GPU nodes through the Kubernetes
// driver, the order lifecycle carried out as Jobs (an order that runs gets its Job; one that ends
// loses it, with the inference grace period), and status written back to the resources after
// every cycle (fleets' hashrate, power and miners by state; pools' nodes by mode; the site's last
// plan); each hashing pool gets its GPU-hashing DaemonSet (it runs on the nodes in hashing mode);
// and in-cluster users' InferenceOrder resources are taken as orders of the `cluster` broker,
// their status kept.
import type { KubeConfig } from '@kubernetes/client-node';
import {
  KubeFarmSource,
  KubeLeaderLease,
  KubernetesClusterDriver,
  KubeStatusWriter,
  KubeWorkloads,
  PrometheusGpuPower,
  type GpuNodeState,
} from '@switchyard/cluster';
import { OrderRepository, openDatabase, type Database, type DatabaseHandle } from '@switchyard/db';
import { POOL_MODES, type Farm, type Plan } from '@switchyard/domain';
import type { CycleRecord } from './control-loop.ts';
import { databaseOrders } from './order-store.ts';
import { InferenceOrderReconciler } from './inference-orders.ts';
import type { ControllerOrders } from './ports.ts';
import { startControllerService, type ControllerServiceOptions, type RunningController } from './service.ts';

const TERMINAL = new Set(['completed', 'preempted', 'cancelled', 'failed']);
/** Inference servers drain in about a minute (preStop, then the server's own shutdown). */
const ORDER_GRACE_SECONDS = 60;

export interface ClusterControllerOptions extends Omit<
  ControllerServiceOptions,
  'farm' | 'cluster' | 'lease' | 'orders' | 'site'
> {
  kubeConfig: KubeConfig;
  /** Where the Lease and the orders' Jobs live (the release namespace). */
  namespace: string;
  /** The site to plan (default: the only, or first, Site resource). */
  site?: string;
  leaseName?: string;
  holderId?: string;
  /** The node driver's transition time (default its own, 90 s). */
  transitionSeconds?: number;
  /** Prometheus with dcgm-exporter's metrics: measured GPU power (default: estimated). */
  prometheusUrl?: string | undefined;
}

export interface RunningClusterController {
  /** The running controller (a new one after the resources change). */
  readonly controller: RunningController;
  /** The farm it plans with. */
  readonly farm: Farm;
  source: KubeFarmSource;
  lease: KubeLeaderLease;
  status: KubeStatusWriter;
  workloads: KubeWorkloads;
  /** Writes the resources' status from the last poll, node listing and plan (also after every cycle). */
  writeStatus(planId?: string): Promise<void>;
  /** InferenceOrder resources to orders, and their status back. */
  inferenceOrders: InferenceOrderReconciler;
  /** Settles once the restarts the resources' changes started are done. */
  reloaded(): Promise<void>;
  close(): Promise<void>;
}

/** Nodes by mode per pool, with the unreadable and unknown ones as unavailable. */
export function poolCounts(nodes: readonly GpuNodeState[], pool: string): Record<string, number> {
  const counts: Record<string, number> = { serving: 0, hashing: 0, idle: 0, unavailable: 0 };
  for (const n of nodes) {
    if (n.pool !== pool) continue;
    if (n.ready && n.mode && (POOL_MODES as readonly string[]).includes(n.mode)) counts[n.mode]! += 1;
    else counts.unavailable! += 1;
  }
  return counts;
}

/** The database's orders, with each order's Job started when it runs and stopped when it ends. */
function ordersWithJobs(
  inner: ControllerOrders,
  db: Database,
  farm: Farm,
  workloads: KubeWorkloads,
  warn: (m: string) => void,
): ControllerOrders {
  const repo = new OrderRepository(db);
  return {
    active: () => inner.active(),
    async apply(t) {
      const events = await inner.apply(t);
      if (!events) return events;
      try {
        if (t.to === 'running') {
          const order = await repo.get(t.orderId);
          const pool = farm.pools.find((p) => p.metadata.name === order?.pool);
          if (order && pool) await workloads.startOrder(order, pool);
        } else if (TERMINAL.has(t.to)) {
          await workloads.stopOrder(t.orderId, { gracePeriodSeconds: ORDER_GRACE_SECONDS });
        }
      } catch (e) {
        warn(
          `order ${t.orderId}: its Job was not ${t.to === 'running' ? 'started' : 'stopped'}: ${(e as Error).message}`,
        );
      }
      return events;
    },
  };
}

export async function startClusterController(o: ClusterControllerOptions): Promise<RunningClusterController> {
  const warn = o.onWarning ?? (() => undefined);
  // Declared before the source starts: its first change may come at any await below.
  let controller: RunningController | undefined;
  let closing = false;
  let reloading: Promise<void> = Promise.resolve();
  const source = new KubeFarmSource({
    kubeConfig: o.kubeConfig,
    onInvalid: (issues) =>
      warn(`the switchyard.io resources are not a valid farm: ${issues.map((i) => i.message).join('; ')}`),
    onError: (e) => warn(`farm resources: ${e.message}`),
    onChange: (f) => void reload(f),
  });
  const farm = await source.start();
  let current = farm;
  const site = o.site ?? farm.sites[0]?.metadata.name;
  if (!site || !farm.sites.some((s) => s.metadata.name === site)) {
    await source.close();
    throw new Error(`no Site "${site ?? ''}" among the switchyard.io resources`);
  }
  const ownDb: DatabaseHandle | undefined = o.db
    ? undefined
    : await openDatabase(o.databaseUrl ? { url: o.databaseUrl } : {});
  const db = (o.db ?? ownDb) as DatabaseHandle;
  const lease = new KubeLeaderLease({
    kubeConfig: o.kubeConfig,
    namespace: o.namespace,
    ...(o.leaseName && { name: o.leaseName }),
    ...(o.holderId && { holderId: o.holderId }),
    leaseDurationSeconds: Math.max(1, Math.ceil((o.leaseTtlMs ?? 15_000) / 1000)),
  });
  const workloads = new KubeWorkloads({ kubeConfig: o.kubeConfig, namespace: o.namespace });
  const status = new KubeStatusWriter({
    kubeConfig: o.kubeConfig,
    onError: (e, target) => warn(`status of ${target.kind} ${target.name}: ${e.message}`),
  });

  async function writeStatus(planId?: string): Promise<void> {
    if (!controller) return;
    const poll = controller.lastPoll();
    const writes: Array<Promise<unknown>> = [];
    for (const f of poll?.result.fleets ?? []) {
      const meta = source.meta('MinerFleet', f.fleet);
      if (!meta) continue;
      const miners = { ...f.byState, unknown: 0 };
      writes.push(
        status.writeFleet(
          f.fleet,
          { hashrateThs: f.hashrateThs, powerKw: f.powerKw, miners, observedAt: poll!.at },
          meta.generation,
        ),
      );
    }
    const nodes = controller.lastNodes();
    for (const pool of current.pools.filter((p) => p.spec.site === site).map((p) => p.metadata.name)) {
      const meta = source.meta('GpuPool', pool);
      if (!meta || nodes === null) continue;
      writes.push(
        status.writePool(
          pool,
          { nodes: poolCounts(nodes, pool) as never, observedAt: new Date() },
          meta.generation,
        ),
      );
    }
    const stored = planId ? await controller.plans.get(planId) : undefined;
    const siteMeta = source.meta('Site', site as string);
    if (stored && siteMeta) {
      const plan = stored.plan as Plan;
      writes.push(
        status.writeSite(
          site as string,
          {
            lastPlan: {
              planId: stored.id,
              at: stored.createdAt,
              solver: plan.solver,
              netUsdPerHour: plan.economics.netUsdPerHour,
              facilityKw: plan.loads.site.facilityKw,
            },
          },
          siteMeta.generation,
        ),
      );
    }
    await Promise.all(writes);
  }

  const gpuPower = o.prometheusUrl
    ? new PrometheusGpuPower({ url: o.prometheusUrl, onError: (m) => warn(m) })
    : undefined;
  const startFor = (f: Farm) => {
    const pools = f.pools.filter((p) => p.spec.site === site).map((p) => p.metadata.name);
    return startControllerService({
      ...o,
      farm: f,
      site,
      db,
      lease,
      cluster: new KubernetesClusterDriver({
        kubeConfig: o.kubeConfig,
        farm: f,
        ...(o.transitionSeconds !== undefined && { transitionSeconds: o.transitionSeconds }),
        ...(gpuPower && { gpuPower }),
      }),
      orders: ordersWithJobs(databaseOrders(db.db, pools), db.db, f, workloads, warn),
      onCycle: (r: CycleRecord) => {
        o.onCycle?.(r);
        if (r.outcome === 'dispatched') {
          void writeStatus(r.planId).catch((e: Error) => warn(`status not written: ${e.message}`));
          void stopEndedJobs().catch((e: Error) => warn(`order Jobs not swept: ${e.message}`));
        }
      },
    });
  };

  // A change to the resources restarts the controller on the new farm (one restart at a time;
  // the lease is released and taken again, so the epoch moves on and old work is fenced off).
  function reload(next: Farm): Promise<void> {
    reloading = reloading.then(async () => {
      if (closing) return;
      if (!next.sites.some((x) => x.metadata.name === site)) {
        warn(`the resources no longer have Site "${site}"; keeping the farm as it was`);
        return;
      }
      // Still starting: it starts on the newest farm.
      if (!controller) {
        current = next;
        return;
      }
      const old = controller;
      controller = undefined;
      await old.close();
      try {
        controller = await startFor(next);
        current = next;
        await ensureHashing(next);
        warn(`the switchyard.io resources changed: the controller restarted on the new farm`);
      } catch (e) {
        warn(`could not restart on the changed farm, staying on the last one: ${(e as Error).message}`);
        controller = await startFor(current);
      }
    });
    return reloading;
  }

  /**
   * Jobs of orders that are unknown or ended without a transition of the loop's own (cancelled through the API,
   * or ended while no controller led) are stopped, with the inference grace period.
   */
  async function stopEndedJobs(): Promise<void> {
    const repo = new OrderRepository(db.db);
    for (const id of await workloads.orderJobIds()) {
      const order = await repo.get(id);
      if (order && !TERMINAL.has(order.state)) continue;
      await workloads.stopOrder(id, { gracePeriodSeconds: ORDER_GRACE_SECONDS });
    }
  }

  /** Each of the site's hashing pools gets its GPU-hashing DaemonSet (kept by server-side apply). */
  async function ensureHashing(f: Farm): Promise<void> {
    for (const p of f.pools.filter((x) => x.spec.site === site && x.spec.hashing?.enabled))
      await workloads
        .ensureHashing(p)
        .catch((e: Error) => warn(`GPU-hashing DaemonSet of ${p.metadata.name}: ${e.message}`));
  }

  // In-cluster users' InferenceOrder resources become orders of the `cluster` broker.
  const inferenceOrders = new InferenceOrderReconciler({
    kubeConfig: o.kubeConfig,
    db: db.db,
    onError: (e, ref) => warn(`InferenceOrder ${ref ? `${ref.namespace}/${ref.name}` : ''}: ${e.message}`),
    // A cancelled order (its resource deleted) loses its Job too.
    onCancelled: async (order) => {
      await workloads.stopOrder(order.id, { gracePeriodSeconds: ORDER_GRACE_SECONDS });
    },
  });

  try {
    controller = await startFor(current);
    await ensureHashing(current);
    await inferenceOrders.start();
  } catch (e) {
    await inferenceOrders.close();
    await controller?.close();
    await source.close();
    await ownDb?.close();
    throw e;
  }
  return {
    get controller() {
      return controller as RunningController;
    },
    get farm() {
      return current;
    },
    reloaded: () => reloading,
    source,
    lease,
    status,
    workloads,
    writeStatus,
    inferenceOrders,
    async close() {
      closing = true;
      await inferenceOrders.close();
      await reloading;
      await controller?.close();
      await status.close();
      await source.close();
      await ownDb?.close();
    },
  };
}

// The GPU workloads in a cluster, with the real @kubernetes/client-node client: brokers' orders
// as Jobs (manifests.ts), each pool's GPU hashing as a DaemonSet, and the drain of a node's pods
// through the eviction API, which honours PodDisruptionBudgets. Every call is idempotent, so a
// retried kube.action job does no harm:
//
//   startOrder   create the order's Job; one that exists already counts as started
//   stopOrder    delete the Job (foreground) and, with a grace period, the order's pods with it
//   orderStatus  pending | running | succeeded | failed, from the Job's status; null without a Job
//   ensureHashing  server-side apply of the pool's hashing DaemonSet (created or updated in place)
//   drainNode    evict our pods on a node; a budget's refusal (429) is reported, never forced
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  type KubeConfig,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import type { GpuPool } from '@switchyard/domain';
import { ClusterError } from '../errors.ts';
import { clusterErrorFromKube, isAlreadyExists, isNotFound, kubeStatusOf } from './api-errors.ts';
import { callOptions } from './call-options.ts';
import {
  gpuHashingDaemonSetManifest,
  hashingDaemonSetName,
  isLabelValue,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  ORDER_LABEL,
  orderJobManifest,
  orderJobName,
  type WorkloadManifestOptions,
  type WorkloadOrder,
} from './manifests.ts';

export interface KubeWorkloadsOptions extends Omit<WorkloadManifestOptions, 'now'> {
  kubeConfig: KubeConfig;
  /** The field manager of server-side apply (default "switchyard"). */
  fieldManager?: string;
  /** Longest one API call may take (default 10 000 ms). */
  requestTimeoutMs?: number;
  /** "Now" when a Job is made, for an order's endBy (default the current time). */
  clock?: () => Date;
}

export interface WorkloadCallOptions {
  signal?: AbortSignal | undefined;
}

export interface StartOrderResult {
  namespace: string;
  name: string;
  /** False: the Job was there already (a retry, or another worker was first). */
  created: boolean;
}

export interface StopOrderOptions extends WorkloadCallOptions {
  /**
   * Grace period of the order's pods. A Job's delete options do not reach its pods (the garbage
   * collector deletes them with their own terminationGracePeriodSeconds), so with this set the
   * pods are deleted too, with it. Without it the pods keep the Job's (60 s by default).
   */
  gracePeriodSeconds?: number;
}

export interface StopOrderResult {
  name: string;
  /** False: there was no Job (stopped before, or never started). */
  deleted: boolean;
}

export const ORDER_JOB_PHASES = ['pending', 'running', 'succeeded', 'failed'] as const;
export type OrderJobPhase = (typeof ORDER_JOB_PHASES)[number];

export interface OrderJobStatus {
  name: string;
  phase: OrderJobPhase;
  /** The reason of the Complete/Failed condition, e.g. DeadlineExceeded, BackoffLimitExceeded. */
  reason?: string;
  message?: string;
  active: number;
  ready: number;
  succeeded: number;
  failed: number;
  /** Being deleted: its pods are terminating. */
  deleting: boolean;
}

export interface EnsureHashingResult {
  namespace: string;
  name: string;
  created: boolean;
  generation: number;
}

export interface DrainOptions extends WorkloadCallOptions {
  /** Which of our pods (label selector, e.g. "switchyard.io/order"); empty: all of ours. */
  podSelector: string;
  /** Grace period of the evicted pods (default their own). */
  gracePeriodSeconds?: number;
}

export interface DrainResult {
  node: string;
  /** Evictions the API server accepted: the pods are terminating. */
  evicted: string[];
  /** Refused by a PodDisruptionBudget: the pods keep running. */
  blocked: Array<{ pod: string; message: string }>;
  /** Already terminating, or gone before their eviction. */
  gone: string[];
}

// A node name is a DNS-1123 subdomain; anything else must not reach a field selector.
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function phaseOf(job: V1Job): Pick<OrderJobStatus, 'phase' | 'reason' | 'message'> {
  const conditions = (job.status?.conditions ?? []).filter((c) => c.status === 'True');
  // Complete/Failed are final; SuccessCriteriaMet/FailureTarget come first while pods terminate.
  const done = conditions.find((c) => c.type === 'Complete' || c.type === 'SuccessCriteriaMet');
  const failed = conditions.find((c) => c.type === 'Failed' || c.type === 'FailureTarget');
  const terminal = failed ?? done;
  if (terminal)
    return {
      phase: terminal === failed ? 'failed' : 'succeeded',
      ...(terminal.reason ? { reason: terminal.reason } : {}),
      ...(terminal.message ? { message: terminal.message } : {}),
    };
  const s = job.status ?? {};
  // `ready` counts Ready pods; a server too old to report it only says how many are active.
  const up = s.ready ?? s.active ?? 0;
  return { phase: up > 0 ? 'running' : 'pending' };
}

/** The message of a PodDisruptionBudget's refusal, or undefined when the error is another one. */
export function disruptionBudgetRefusal(e: unknown): string | undefined {
  const status = kubeStatusOf(e);
  if (status?.code !== 429) return undefined;
  let causes: Array<{ reason?: unknown; message?: unknown }> = [];
  try {
    const body = (e as { body?: unknown }).body;
    const doc = (typeof body === 'string' ? JSON.parse(body) : body) as {
      details?: { causes?: typeof causes };
    };
    causes = doc.details?.causes ?? [];
  } catch {
    /* not a Status document: judged by the message below */
  }
  const cause = causes.find((c) => c.reason === 'DisruptionBudget');
  if (cause) return typeof cause.message === 'string' && cause.message ? cause.message : status.message;
  // API priority and fairness also answers 429; only a budget's refusal names one.
  return /disruption budget/i.test(status.message) ? status.message : undefined;
}

export class KubeWorkloads {
  readonly namespace: string;
  readonly #batch: BatchV1Api;
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #manifests: WorkloadManifestOptions;
  readonly #fieldManager: string;
  readonly #timeoutMs: number;
  readonly #clock: () => Date;

  constructor(opts: KubeWorkloadsOptions) {
    const { kubeConfig, fieldManager, requestTimeoutMs, clock, ...manifests } = opts;
    if (!opts.namespace) throw new ClusterError('invalid-config', 'KubeWorkloads needs a namespace');
    this.namespace = opts.namespace;
    this.#manifests = manifests;
    this.#fieldManager = fieldManager ?? 'switchyard';
    this.#timeoutMs = requestTimeoutMs ?? 10_000;
    if (!(this.#timeoutMs > 0)) throw new ClusterError('invalid-config', 'requestTimeoutMs must be positive');
    this.#clock = clock ?? (() => new Date());
    this.#batch = kubeConfig.makeApiClient(BatchV1Api);
    this.#apps = kubeConfig.makeApiClient(AppsV1Api);
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
  }

  #call(opts: WorkloadCallOptions, extra: Parameters<typeof callOptions>[0] = {}) {
    return callOptions({ signal: opts.signal, timeoutMs: this.#timeoutMs, ...extra });
  }

  #fail(what: string, opts: WorkloadCallOptions): (e: unknown) => never {
    return (e: unknown) => {
      throw clusterErrorFromKube(e, what, opts.signal);
    };
  }

  /** Creates the order's Job on `pool`; a Job of the same order already there counts as started. */
  async startOrder(
    order: WorkloadOrder,
    pool: GpuPool,
    opts: WorkloadCallOptions = {},
  ): Promise<StartOrderResult> {
    const body = orderJobManifest(order, pool, { ...this.#manifests, now: this.#clock() });
    const name = body.metadata?.name as string;
    const what = `creating Job ${this.namespace}/${name}`;
    try {
      await this.#batch.createNamespacedJob({ namespace: this.namespace, body }, this.#call(opts));
      return { namespace: this.namespace, name, created: true };
    } catch (e) {
      if (!isAlreadyExists(e)) throw clusterErrorFromKube(e, what, opts.signal);
    }
    const existing = await this.#batch
      .readNamespacedJob({ name, namespace: this.namespace }, this.#call(opts))
      .catch(this.#fail(`${what}: reading the existing Job`, opts));
    const owner = existing.metadata?.labels?.[ORDER_LABEL];
    if (owner !== order.id)
      throw new ClusterError('invalid-request', `${what}: it exists and belongs to order "${owner ?? '?'}"`, {
        status: 409,
      });
    if (existing.metadata?.deletionTimestamp)
      throw new ClusterError('busy', `${what}: the order's previous Job is still being deleted`, {
        status: 409,
      });
    return { namespace: this.namespace, name, created: false };
  }

  /** Deletes the order's Job (and, with a grace period, its pods); a missing Job is no error. */
  async stopOrder(orderId: string, opts: StopOrderOptions = {}): Promise<StopOrderResult> {
    if (!isLabelValue(orderId)) throw new ClusterError('invalid-request', `"${orderId}" is not an order id`);
    const name = orderJobName(orderId);
    const grace = opts.gracePeriodSeconds;
    if (grace !== undefined && !(Number.isInteger(grace) && grace >= 0))
      throw new ClusterError(
        'invalid-request',
        `gracePeriodSeconds must be a whole number ≥ 0 (got ${grace})`,
      );
    let deleted = true;
    try {
      // Foreground: the Job stays, marked for deletion, until its pods are gone, and the Job
      // controller makes no new ones meanwhile; orderStatus shows it as deleting.
      await this.#batch.deleteNamespacedJob(
        {
          name,
          namespace: this.namespace,
          propagationPolicy: 'Foreground',
          ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
        },
        this.#call(opts),
      );
    } catch (e) {
      if (!isNotFound(e))
        throw clusterErrorFromKube(e, `deleting Job ${this.namespace}/${name}`, opts.signal);
      deleted = false;
    }
    // Also after a 404: a stop that failed here before left the pods behind.
    if (grace !== undefined)
      await this.#core
        .deleteCollectionNamespacedPod(
          {
            namespace: this.namespace,
            labelSelector: `${ORDER_LABEL}=${orderId},${MANAGED_BY_LABEL}=${MANAGED_BY}`,
            gracePeriodSeconds: grace,
          },
          this.#call(opts),
        )
        .catch(this.#fail(`deleting the pods of order ${orderId}`, opts));
    return { name, deleted };
  }

  /** The order's Job as a phase; null when it has no Job (never started, stopped or expired). */
  /** The order ids of the order Jobs in the namespace (managed by Switchyard). */
  async orderJobIds(opts: WorkloadCallOptions = {}): Promise<string[]> {
    const list = await this.#batch
      .listNamespacedJob(
        { namespace: this.namespace, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${ORDER_LABEL}` },
        this.#call(opts),
      )
      .catch((e: unknown) => {
        throw clusterErrorFromKube(e, 'listing the order Jobs', opts.signal);
      });
    return list.items.map((j) => j.metadata?.labels?.[ORDER_LABEL]).filter((x): x is string => !!x);
  }

  async orderStatus(orderId: string, opts: WorkloadCallOptions = {}): Promise<OrderJobStatus | null> {
    const name = orderJobName(orderId);
    let job: V1Job;
    try {
      job = await this.#batch.readNamespacedJob({ name, namespace: this.namespace }, this.#call(opts));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw clusterErrorFromKube(e, `reading Job ${this.namespace}/${name}`, opts.signal);
    }
    const s = job.status ?? {};
    return {
      name,
      ...phaseOf(job),
      active: s.active ?? 0,
      ready: s.ready ?? 0,
      succeeded: s.succeeded ?? 0,
      failed: s.failed ?? 0,
      deleting: Boolean(job.metadata?.deletionTimestamp),
    };
  }

  /** Creates or updates in place (server-side apply, forced) the pool's hashing DaemonSet. */
  async ensureHashing(pool: GpuPool, opts: WorkloadCallOptions = {}): Promise<EnsureHashingResult> {
    const body = gpuHashingDaemonSetManifest(pool, this.#manifests);
    const name = hashingDaemonSetName(pool.metadata.name);
    const res = await this.#apps
      .patchNamespacedDaemonSetWithHttpInfo(
        { name, namespace: this.namespace, body, fieldManager: this.#fieldManager, force: true },
        this.#call(opts, { patch: PatchStrategy.ServerSideApply }),
      )
      .catch(this.#fail(`applying DaemonSet ${this.namespace}/${name}`, opts));
    return {
      namespace: this.namespace,
      name,
      created: res.httpStatusCode === 201,
      generation: res.data.metadata?.generation ?? 0,
    };
  }

  /** Our pods on `node` that `podSelector` matches, every page. */
  async #podsOn(node: string, podSelector: string, opts: WorkloadCallOptions): Promise<V1Pod[]> {
    const labelSelector = [`${MANAGED_BY_LABEL}=${MANAGED_BY}`, podSelector.trim()].filter(Boolean).join(',');
    const pods: V1Pod[] = [];
    let next: string | undefined;
    do {
      const page = await this.#core
        .listNamespacedPod(
          {
            namespace: this.namespace,
            fieldSelector: `spec.nodeName=${node}`,
            labelSelector,
            limit: 500,
            ...(next ? { _continue: next } : {}),
          },
          this.#call(opts),
        )
        .catch(this.#fail(`listing the pods on node ${node}`, opts));
      pods.push(...page.items);
      next = page.metadata?._continue || undefined;
    } while (next);
    return pods;
  }

  /**
   * Evicts our pods on `node` that `podSelector` matches, one eviction each. A refusal by a
   * PodDisruptionBudget (429) is reported in `blocked` and the pod is left running; any other
   * failure stops the drain with a ClusterError, and draining again carries on where it stopped.
   */
  async drainNode(node: string, opts: DrainOptions): Promise<DrainResult> {
    if (!NODE_NAME.test(node)) throw new ClusterError('invalid-request', `"${node}" is not a node name`);
    const result: DrainResult = { node, evicted: [], blocked: [], gone: [] };
    for (const pod of await this.#podsOn(node, opts.podSelector, opts)) {
      const name = pod.metadata?.name as string;
      if (pod.metadata?.deletionTimestamp) {
        result.gone.push(name);
        continue;
      }
      try {
        await this.#core.createNamespacedPodEviction(
          {
            name,
            namespace: this.namespace,
            body: {
              apiVersion: 'policy/v1',
              kind: 'Eviction',
              metadata: { name, namespace: this.namespace },
              ...(opts.gracePeriodSeconds !== undefined
                ? { deleteOptions: { gracePeriodSeconds: opts.gracePeriodSeconds } }
                : {}),
            },
          },
          this.#call(opts),
        );
        result.evicted.push(name);
      } catch (e) {
        const refusal = disruptionBudgetRefusal(e);
        if (refusal !== undefined) result.blocked.push({ pod: name, message: refusal });
        else if (isNotFound(e)) result.gone.push(name);
        else
          throw clusterErrorFromKube(e, `evicting pod ${this.namespace}/${name} from ${node}`, opts.signal);
      }
    }
    return result;
  }
}

// InferenceOrder custom resources (namespaced, switchyard.io/v1alpha1) as compute orders: users in
// the cluster order GPU time as brokers do, through one broker row, `cluster`, that stands for
// them all. Each resource becomes one bid order, placed with the idempotency key
// `k8s:<metadata.uid>`, and its status follows the order (state, pool, times, a Ready condition).
//
// A poll, not an informer: every `intervalMs` (and on `syncOnce()`) the reconciler lists every
// InferenceOrder of the cluster, places the orders that are missing, writes the statuses that
// changed, and cancels the open orders of the `cluster` broker whose resource is gone. A fresh
// list each time is also what makes deletion safe without a finalizer: a resource deleted while
// the controller was down is noticed on the next list, and nothing can block a namespace's
// deletion. An order placed after the list began is never cancelled by that list's sweep.
//
// Orders are immutable: a spec that no longer matches its order (the request hash differs)
// changes nothing in the order book and sets the condition SpecChanged=True instead.
//
// Nothing throws out of a sync: a failed list, a failed write or a failed database call goes to
// `onError`, and the next sync tries again. Syncs run one at a time; a syncOnce() called during
// one runs after it.
import { CustomObjectsApi, PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_NOTICE_SECONDS, orderSourcesOf, usdString, usdUnits } from '@switchyard/brokers';
import {
  callOptions,
  ClusterError,
  clusterErrorFromKube,
  isNotFound,
  rfc3339,
  statusPatch,
} from '@switchyard/cluster';
import {
  AccessStoreError,
  BrokerRepository,
  canonicalHash,
  OrderRepository,
  TERMINAL_ORDER_STATES,
  type Database,
  type OrderRecord,
  type OrderTerms,
} from '@switchyard/db';
import {
  CONDITION_READY,
  CRD_DEFINITIONS,
  CRD_GROUP,
  CRD_VERSION,
  inferenceOrderSpecSchema,
  inferenceOrderStatusSchema,
  ORDER_BOUNDS,
  pathToString,
  type Condition,
  type ConditionStatus,
  type InferenceOrderSpec,
} from '@switchyard/domain';
import { isDeepStrictEqual } from 'node:util';

/** The broker that stands for the cluster's own users. */
export const CLUSTER_BROKER_NAME = 'cluster';
/** The condition set while a resource's spec no longer matches its (immutable) order. */
export const CONDITION_SPEC_CHANGED = 'SpecChanged';
/** The reason of the event that cancels an order whose resource was deleted. */
export const INFERENCE_ORDER_DELETED_REASON = 'InferenceOrder deleted';

const KEY_PREFIX = 'k8s:';
const PLURAL = CRD_DEFINITIONS.InferenceOrder.plural;
const TERMINAL = new Set<string>(TERMINAL_ORDER_STATES);

export interface InferenceOrderReconcilerOptions {
  kubeConfig: KubeConfig;
  /** The order book (a DatabaseHandle's db). */
  db: Database;
  /** A list, write or database call that failed; the next sync tries again. */
  onError?: (error: Error, resource?: InferenceOrderRef) => void;
  /** Time between syncs after start() (default 10 s). */
  intervalMs?: number;
  /** Deadline of one API call (default 10 s). */
  requestTimeoutMs?: number;
  /** The field manager of the status writes (default "switchyard-controller"). */
  fieldManager?: string;
  /**
   * An order was cancelled because its resource is gone, e.g. to stop its Job (a running order's
   * workload is not stopped by the order book alone). What it throws goes to onError.
   */
  onCancelled?: (order: OrderRecord) => void | Promise<void>;
  /** Wall clock: orders' creation time and conditions' transition time (default Date.now). */
  now?: () => number;
}

export interface InferenceOrderRef {
  namespace: string;
  name: string;
}

export interface InferenceOrderSyncResult {
  /** Resources listed. */
  resources: number;
  /** Orders placed. */
  created: number;
  /** Statuses written. */
  statusWritten: number;
  /** Orders cancelled because their resource is gone. */
  cancelled: number;
  /** Failures reported to onError. */
  errors: number;
  /** False when the resources could not be listed (nothing else was done). */
  listed: boolean;
}

type Status = Record<string, unknown>;

interface InferenceOrderObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string | Date;
  };
  spec?: unknown;
  status?: Status;
}

/** What a resource's spec orders: the bid, and the hash that ties the order to the spec. */
export interface InferenceOrderRequest {
  bid: OrderTerms;
  image: string;
  args: string[];
  requestHash: string;
}

export type RequestOutcome = { ok: true; request: InferenceOrderRequest } | { ok: false; message: string };

/**
 * The order a spec asks for. An `endBy` must lie 60 s to 90 days after the resource was created
 * (the moment the cluster took it), so the answer is the same on every sync. Pure.
 */
export function inferenceOrderRequest(spec: unknown, createdAt: Date): RequestOutcome {
  const parsed = inferenceOrderSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length ? `spec.${pathToString(first.path)}: ` : 'spec: ';
    return { ok: false, message: `${where}${first?.message ?? 'invalid'}` };
  }
  const s: InferenceOrderSpec = parsed.data;
  let endBy: Date | null = null;
  if (s.endBy !== undefined) {
    endBy = new Date(s.endBy);
    const seconds = (endBy.getTime() - createdAt.getTime()) / 1000;
    if (!(seconds >= ORDER_BOUNDS.minOrderSeconds && seconds <= ORDER_BOUNDS.maxOrderSeconds))
      return {
        ok: false,
        message: `spec.endBy: must be ${ORDER_BOUNDS.minOrderSeconds} s to 90 days after the resource was created`,
      };
  }
  const bid: OrderTerms = {
    tier: s.tier,
    gpuModels: [...s.gpuModels],
    gpuCount: s.gpuCount,
    minVramGib: s.minVramGiB,
    maxUsdPerGpuHour: usdString(usdUnits(s.maxUsdPerGpuHour)),
    durationSeconds: s.durationSeconds ?? null,
    endBy,
    noticeSeconds: s.noticeSeconds ?? DEFAULT_NOTICE_SECONDS[s.tier],
  };
  const image = s.image;
  const args = [...(s.args ?? [])];
  // The hash of the order's terms as placed, not of the spec's text: fields the API server
  // defaults, or a reordered document, do not count as a change.
  const requestHash = canonicalHash({ ...bid, endBy: endBy?.toISOString() ?? null, image, args });
  return { ok: true, request: { bid, image, args, requestHash } };
}

const READY_REASONS: Record<string, string> = {
  pending: 'Pending',
  admitted: 'Admitted',
  running: 'Running',
  preempting: 'Preempting',
  completed: 'Completed',
  preempted: 'Preempted',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

const READY_MESSAGES: Record<string, string> = {
  pending: 'the order waits for the planner',
  admitted: 'the order has GPUs of its pool and is starting',
  running: 'the order is running',
  preempting: 'the order is being taken back at preemptAt',
  completed: 'the order has completed',
  preempted: 'the order was preempted',
  cancelled: 'the order was cancelled',
  failed: 'the order failed',
};

interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * `prev` with the given conditions replaced or added (and those in `drop` removed); a condition's
 * transition time moves only when its status does. Pure.
 */
export function withConditions(
  prev: readonly Condition[] | undefined,
  set: readonly ConditionInput[],
  drop: readonly string[],
  generation: number,
  now: number,
): Condition[] {
  let list = (prev ?? []).filter((c) => !drop.includes(c.type));
  for (const c of set) {
    const old = list.find((o) => o.type === c.type);
    const next: Condition = {
      ...c,
      observedGeneration: generation,
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : rfc3339(now),
    };
    list = old ? list.map((o) => (o === old ? next : o)) : [...list, next];
  }
  return list;
}

/** The status of a resource whose order is `order`. Pure. */
export function orderStatus(
  prev: Status | undefined,
  order: OrderRecord,
  specMatches: boolean,
  generation: number,
  now: number,
): Status {
  const prevConditions = prev?.conditions as Condition[] | undefined;
  const hadSpecChanged = (prevConditions ?? []).some((c) => c.type === CONDITION_SPEC_CHANGED);
  const set: ConditionInput[] = [
    {
      type: CONDITION_READY,
      status: order.state === 'running' ? 'True' : 'False',
      reason: READY_REASONS[order.state] ?? 'Unknown',
      message: READY_MESSAGES[order.state] ?? '',
    },
  ];
  if (!specMatches)
    set.push({
      type: CONDITION_SPEC_CHANGED,
      status: 'True',
      reason: 'OrderImmutable',
      message:
        'the spec differs from the order placed for it, which cannot change; delete and re-create the InferenceOrder to order anew',
    });
  else if (hadSpecChanged)
    set.push({
      type: CONDITION_SPEC_CHANGED,
      status: 'False',
      reason: 'SpecMatchesOrder',
      message: 'the spec is the order placed for it',
    });
  return {
    observedGeneration: generation,
    conditions: withConditions(prevConditions, set, [], generation, now),
    state: order.state,
    orderId: order.id,
    ...(order.pool ? { pool: order.pool } : {}),
    ...(order.startedAt ? { startedAt: rfc3339(order.startedAt) } : {}),
    ...(order.endedAt ? { endedAt: rfc3339(order.endedAt) } : {}),
    ...(order.state === 'preempting' && order.preemptAt ? { preemptAt: rfc3339(order.preemptAt) } : {}),
  };
}

/** The status of a resource no order can be placed for. Pure. */
export function invalidStatus(prev: Status | undefined, message: string, generation: number, now: number) {
  const ready = { type: CONDITION_READY, status: 'False' as const, reason: 'InvalidSpec', message };
  return {
    observedGeneration: generation,
    conditions: withConditions(prev?.conditions as Condition[] | undefined, [ready], [], generation, now),
  };
}

const toError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

export class InferenceOrderReconciler {
  readonly #api: CustomObjectsApi;
  readonly #orders: OrderRepository;
  readonly #brokers: BrokerRepository;
  readonly #opts: InferenceOrderReconcilerOptions;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #fieldManager: string;
  readonly #now: () => number;
  /** Order ids by resource uid, as placed or found. */
  readonly #orderIds = new Map<string, string>();
  #brokerId: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #queued: Promise<InferenceOrderSyncResult> | undefined;
  #started = false;
  #closed = false;

  constructor(opts: InferenceOrderReconcilerOptions) {
    this.#opts = opts;
    this.#api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#orders = new OrderRepository(opts.db);
    this.#brokers = new BrokerRepository(opts.db);
    this.#intervalMs = opts.intervalMs ?? 10_000;
    this.#timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.#fieldManager = opts.fieldManager ?? 'switchyard-controller';
    this.#now = opts.now ?? (() => Date.now());
    for (const [name, v] of Object.entries({
      intervalMs: this.#intervalMs,
      requestTimeoutMs: this.#timeoutMs,
    }))
      if (!(v > 0)) throw new ClusterError('invalid-config', `${name} must be positive (got ${v})`);
  }

  /** Syncs now, then every intervalMs until close(). Never rejects. */
  async start(): Promise<InferenceOrderSyncResult> {
    if (this.#started) throw new Error('InferenceOrderReconciler.start() was called already');
    this.#started = true;
    const first = await this.syncOnce();
    if (!this.#closed) this.#schedule();
    return first;
  }

  /**
   * One sync (after the one running, if any; calls made meanwhile share it). Never rejects:
   * failures go to onError and are counted in the result.
   */
  syncOnce(): Promise<InferenceOrderSyncResult> {
    if (this.#queued) return this.#queued;
    const run = this.#tail
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#sync();
      });
    this.#queued = run;
    this.#tail = run;
    return run;
  }

  /** Stops the poll and waits for the sync in progress. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#tail.catch(() => undefined);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.syncOnce().finally(() => this.#schedule());
    }, this.#intervalMs);
    this.#timer.unref();
  }

  // --- One sync --------------------------------------------------------------------------------

  async #sync(): Promise<InferenceOrderSyncResult> {
    const result: InferenceOrderSyncResult = {
      resources: 0,
      created: 0,
      statusWritten: 0,
      cancelled: 0,
      errors: 0,
      listed: false,
    };
    if (this.#closed) return result;
    const report = (e: unknown, ref?: InferenceOrderRef) => {
      result.errors++;
      this.#report(toError(e), ref);
    };
    let brokerId: string;
    let items: InferenceOrderObject[];
    const listStarted = new Date(this.#now());
    try {
      brokerId = await this.#clusterBroker();
      items = await this.#list();
    } catch (e) {
      report(e);
      return result;
    }
    result.listed = true;
    result.resources = items.length;
    const liveUids = new Set<string>();
    for (const obj of items) {
      if (this.#closed) return result;
      const ref = { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' };
      const uid = obj.metadata?.uid;
      if (!uid) continue;
      liveUids.add(uid);
      try {
        await this.#reconcile(obj, uid, ref, brokerId, result);
      } catch (e) {
        report(e, ref);
      }
    }
    try {
      await this.#sweep(brokerId, liveUids, listStarted, result, report);
    } catch (e) {
      report(e);
    }
    return result;
  }

  async #clusterBroker(): Promise<string> {
    if (this.#brokerId) return this.#brokerId;
    const find = async () => (await this.#brokers.list()).find((b) => b.name === CLUSTER_BROKER_NAME);
    let broker = await find();
    if (!broker) {
      try {
        broker = await this.#brokers.create({ name: CLUSTER_BROKER_NAME, kind: 'compute' });
      } catch (e) {
        // Another controller created it first.
        if (!(e instanceof AccessStoreError && e.code === 'BROKER_NAME_TAKEN')) throw e;
        broker = await find();
        if (!broker) throw e;
      }
    }
    if (broker.kind !== 'compute')
      throw new Error(
        `the broker ${CLUSTER_BROKER_NAME} is a ${broker.kind} broker: InferenceOrders need a compute broker of that name`,
      );
    this.#brokerId = broker.id;
    return broker.id;
  }

  async #list(): Promise<InferenceOrderObject[]> {
    try {
      const list = (await this.#api.listClusterCustomObject(
        { group: CRD_GROUP, version: CRD_VERSION, plural: PLURAL },
        callOptions({ timeoutMs: this.#timeoutMs }),
      )) as { items?: InferenceOrderObject[] };
      return list.items ?? [];
    } catch (e) {
      throw clusterErrorFromKube(e, `GET /apis/${CRD_GROUP}/${CRD_VERSION}/${PLURAL}`);
    }
  }

  async #reconcile(
    obj: InferenceOrderObject,
    uid: string,
    ref: InferenceOrderRef,
    brokerId: string,
    result: InferenceOrderSyncResult,
  ): Promise<void> {
    const generation = obj.metadata?.generation ?? 0;
    const createdAt = new Date(obj.metadata?.creationTimestamp ?? this.#now());
    const wanted = inferenceOrderRequest(obj.spec, createdAt);
    let order = await this.#existing(obj, uid, brokerId);
    if (!order && wanted.ok) {
      const r = await this.#orders.create({
        brokerId,
        idempotencyKey: `${KEY_PREFIX}${uid}`,
        requestHash: wanted.request.requestHash,
        bid: wanted.request.bid,
        image: wanted.request.image,
        args: wanted.request.args,
        at: new Date(this.#now()),
        reason: `placed by InferenceOrder ${ref.namespace}/${ref.name}`,
        audit: {
          actor: 'system',
          role: 'system',
          action: 'order.create',
          detail: { namespace: ref.namespace, name: ref.name, uid },
        },
      });
      if (r.outcome === 'quote-unusable') throw new Error('a bid was refused as a quote');
      if (r.outcome === 'created') result.created++;
      order = r.order;
    }
    const now = this.#now();
    let next: Status;
    if (order) {
      this.#orderIds.set(uid, order.id);
      const matches = wanted.ok && wanted.request.requestHash === order.requestHash;
      next = orderStatus(obj.status, order, matches, generation, now);
    } else next = invalidStatus(obj.status, wanted.ok ? '' : wanted.message, generation, now);
    if (await this.#writeStatus(obj, ref, next)) result.statusWritten++;
  }

  /** The resource's order when it is known (by uid, or from status.orderId), checked to be it. */
  async #existing(
    obj: InferenceOrderObject,
    uid: string,
    brokerId: string,
  ): Promise<OrderRecord | undefined> {
    const statusId = obj.status?.orderId;
    const id = this.#orderIds.get(uid) ?? (typeof statusId === 'string' ? statusId : undefined);
    if (!id) return undefined;
    const order = await this.#orders.get(id, brokerId);
    return order && order.idempotencyKey === `${KEY_PREFIX}${uid}` ? order : undefined;
  }

  /** Writes `next` when it differs from the resource's status; true when written. */
  async #writeStatus(obj: InferenceOrderObject, ref: InferenceOrderRef, next: Status): Promise<boolean> {
    const prev = obj.status ?? {};
    if (isDeepStrictEqual(prev, next)) return false;
    const checked = inferenceOrderStatusSchema.safeParse(next);
    if (!checked.success) {
      const first = checked.error.issues[0];
      throw new ClusterError(
        'invalid-request',
        `status of InferenceOrder ${ref.namespace}/${ref.name}: ${first ? pathToString(first.path) : ''}: ${first?.message ?? 'invalid'}`,
      );
    }
    try {
      await this.#api.patchNamespacedCustomObjectStatus(
        {
          group: CRD_GROUP,
          version: CRD_VERSION,
          plural: PLURAL,
          namespace: ref.namespace,
          name: ref.name,
          body: statusPatch(prev, next),
          fieldManager: this.#fieldManager,
        },
        callOptions({ timeoutMs: this.#timeoutMs, patch: PatchStrategy.MergePatch }),
      );
      return true;
    } catch (e) {
      if (isNotFound(e)) return false; // deleted since the list: the sweep of a later sync sees it
      throw clusterErrorFromKube(e, `PATCH status of InferenceOrder ${ref.namespace}/${ref.name}`);
    }
  }

  /** Cancels the open orders of the cluster broker whose resource is gone. */
  async #sweep(
    brokerId: string,
    liveUids: ReadonlySet<string>,
    listStarted: Date,
    result: InferenceOrderSyncResult,
    report: (e: unknown) => void,
  ): Promise<void> {
    const live = new Set(
      [...liveUids].map((u) => this.#orderIds.get(u)).filter((id): id is string => id !== undefined),
    );
    for (const [uid] of this.#orderIds) if (!liveUids.has(uid)) this.#orderIds.delete(uid);
    const open = await this.#orders.listActive();
    for (const o of open) {
      if (this.#closed) return;
      // Placed after the list began: its resource may be newer than the list.
      if (o.brokerId !== brokerId || live.has(o.id) || o.createdAt >= listStarted) continue;
      try {
        const order = await this.#orders.get(o.id, brokerId);
        const uid = order?.idempotencyKey?.startsWith(KEY_PREFIX)
          ? order.idempotencyKey.slice(KEY_PREFIX.length)
          : undefined;
        if (!order || uid === undefined || liveUids.has(uid) || TERMINAL.has(order.state)) continue;
        const r = await this.#orders.transition(
          order.id,
          orderSourcesOf('cancelled'),
          'cancelled',
          INFERENCE_ORDER_DELETED_REASON,
          {
            at: new Date(this.#now()),
            audit: { actor: 'system', role: 'system', action: 'order.cancel', detail: { uid } },
          },
        );
        if (r.ok) {
          result.cancelled++;
          await this.#opts.onCancelled?.(r.order);
        }
        // A state conflict: it moved meanwhile (ended, or still open: the next sync tries again).
      } catch (e) {
        report(e);
      }
    }
  }

  #report(e: Error, ref?: InferenceOrderRef): void {
    try {
      this.#opts.onError?.(e, ref);
    } catch {
      /* a failing error callback must not stop the sync */
    }
  }
}

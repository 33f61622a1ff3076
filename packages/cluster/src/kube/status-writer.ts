// Status written back to the farm's custom resources (cluster mode): a fleet's hashrate, power and
// miners by state, a pool's nodes by mode, a site's last plan, a policy's acceptance. Each status
// carries the observedGeneration it reflects and a `Ready` condition (metav1.Condition).
//
// Writes go to the /status subresource as JSON merge patches (application/merge-patch+json, set
// explicitly: the client would send JSON patch). This process owns those statuses, so every patch
// holds the whole status: fields it no longer has are sent as null, and `conditions` (a list,
// which a merge patch replaces) keeps the conditions of other types as they were read.
//
// Writing never fails the caller: each write resolves with an outcome, and failures go to
// onError; the next write for the resource tries again. A status equal to the last one written
// (or, on the first write for a resource, to the one read from the cluster) is not sent again,
// unless `rewriteAfterMs` has passed since. A 404 means the resource is gone: what is known of it
// is dropped. Writes for one resource run one at a time, and a write that is still waiting is
// replaced by a newer one for the same resource; at most `concurrency` calls are in flight.
import { CustomObjectsApi, PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import {
  allocationPolicyStatusSchema,
  CONDITION_READY,
  CRD_DEFINITIONS,
  CRD_GROUP,
  CRD_VERSION,
  gpuPoolStatusSchema,
  minerFleetStatusSchema,
  pathToString,
  siteStatusSchema,
  type Condition,
  type ConditionStatus,
  type FleetMinerState,
  type PoolNodeMode,
} from '@switchyard/domain';
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { ClusterError } from '../errors.ts';
import { clusterErrorFromKube, isNotFound } from './api-errors.ts';
import { callOptions } from './call-options.ts';
import type { FarmKind } from './farm-source.ts';

/** A time as given by the caller: a Date, epoch milliseconds or an RFC 3339 string. */
export type TimeInput = Date | number | string;

export interface FleetStatusInput {
  hashrateThs: number;
  powerKw: number;
  /** Miners by state: all six counts. */
  miners: Record<FleetMinerState, number>;
  observedAt: TimeInput;
}

export interface PoolStatusInput {
  /** Nodes by mode: all four counts. */
  nodes: Record<PoolNodeMode, number>;
  powerKw?: number | undefined;
  observedAt: TimeInput;
}

export interface SiteStatusInput {
  lastPlan: {
    planId: string;
    at: TimeInput;
    solver: 'milp' | 'greedy';
    netUsdPerHour: number;
    facilityKw: number;
  };
}

/** The Ready condition to write (status defaults to True). */
export interface ReadyInput {
  status?: ConditionStatus;
  /** CamelCase, e.g. Observed, InvalidSpec. */
  reason: string;
  message?: string;
}

export type StatusWriteOutcome = 'written' | 'unchanged' | 'not-found' | 'failed' | 'closed';

export interface StatusTarget {
  kind: FarmKind;
  name: string;
}

export interface KubeStatusWriterOptions {
  kubeConfig: KubeConfig;
  /** A write that failed (it is tried again by the next write for the resource). */
  onError?: (error: ClusterError, target: StatusTarget) => void;
  /** Calls in flight at most (default 4). */
  concurrency?: number;
  /** Deadline of one call (default 10 s). */
  requestTimeoutMs?: number;
  /** An unchanged status is sent again after this long (default 10 min; a recreated resource). */
  rewriteAfterMs?: number;
  /** The field manager of the writes (default "switchyard-controller"). */
  fieldManager?: string;
  /** Wall clock, for lastTransitionTime (default Date.now). */
  now?: () => number;
}

type Status = Record<string, unknown>;

const STATUS_SCHEMAS: Record<FarmKind, z.ZodType> = {
  Site: siteStatusSchema,
  MinerFleet: minerFleetStatusSchema,
  GpuPool: gpuPoolStatusSchema,
  AllocationPolicy: allocationPolicyStatusSchema,
};

const DEFAULT_READY: Record<FarmKind, ReadyInput> = {
  Site: { reason: 'Planned', message: 'plans are made for this site' },
  MinerFleet: { reason: 'Observed', message: 'the fleet is read and controlled' },
  GpuPool: { reason: 'Observed', message: "the pool's nodes are read and controlled" },
  AllocationPolicy: { reason: 'Accepted', message: 'the policy is in force' },
};

/** RFC 3339 with whole seconds, as the API server writes metav1.Time. Pure. */
export function rfc3339(t: TimeInput): string {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t); // left for the schema check to refuse
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The conditions to write: `prev` with its Ready condition replaced (or added). The transition
 * time moves only when Ready's status changes. Pure.
 */
export function withReady(
  prev: readonly Condition[] | undefined,
  ready: ReadyInput,
  generation: number,
  now: TimeInput,
): Condition[] {
  const list = prev ?? [];
  const old = list.find((c) => c.type === CONDITION_READY);
  const status = ready.status ?? 'True';
  const next: Condition = {
    type: CONDITION_READY,
    status,
    observedGeneration: generation,
    lastTransitionTime: old && old.status === status ? old.lastTransitionTime : rfc3339(now),
    reason: ready.reason,
    message: ready.message ?? '',
  };
  return old ? list.map((c) => (c === old ? next : c)) : [...list, next];
}

/** The merge patch that turns status `prev` into `next`: next, and null for what it drops. Pure. */
export function statusPatch(prev: Status | undefined, next: Status): { status: Status } {
  const removed = Object.keys(prev ?? {}).filter((k) => !(k in next));
  return { status: { ...next, ...Object.fromEntries(removed.map((k) => [k, null])) } };
}

interface Known {
  status: Status;
  /** When it was last written or read (this.#now()). */
  at: number;
}

interface Slot {
  running: boolean;
  pending:
    { job: () => Promise<StatusWriteOutcome>; waiters: Array<(o: StatusWriteOutcome) => void> } | undefined;
}

export class KubeStatusWriter {
  readonly #api: CustomObjectsApi;
  readonly #onError: KubeStatusWriterOptions['onError'];
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #rewriteAfterMs: number;
  readonly #fieldManager: string;
  readonly #now: () => number;
  readonly #known = new Map<string, Known>();
  readonly #slots = new Map<string, Slot>();
  readonly #draining = new Set<Promise<void>>();
  #active = 0;
  readonly #waiting: Array<() => void> = [];
  #closed = false;

  constructor(opts: KubeStatusWriterOptions) {
    this.#api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#onError = opts.onError;
    this.#concurrency = opts.concurrency ?? 4;
    if (!(Number.isInteger(this.#concurrency) && this.#concurrency >= 1))
      throw new ClusterError(
        'invalid-config',
        `concurrency must be a whole number ≥ 1 (got ${this.#concurrency})`,
      );
    this.#timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.#rewriteAfterMs = opts.rewriteAfterMs ?? 10 * 60_000;
    this.#fieldManager = opts.fieldManager ?? 'switchyard-controller';
    this.#now = opts.now ?? (() => Date.now());
  }

  writeFleet(name: string, s: FleetStatusInput, generation: number, ready?: ReadyInput) {
    const status = {
      observedAt: rfc3339(s.observedAt),
      hashrateThs: s.hashrateThs,
      powerKw: s.powerKw,
      miners: { ...s.miners },
    };
    return this.#write('MinerFleet', name, status, generation, ready);
  }

  writePool(name: string, s: PoolStatusInput, generation: number, ready?: ReadyInput) {
    const status = {
      observedAt: rfc3339(s.observedAt),
      nodes: { ...s.nodes },
      ...(s.powerKw !== undefined ? { powerKw: s.powerKw } : {}),
    };
    return this.#write('GpuPool', name, status, generation, ready);
  }

  writeSite(name: string, s: SiteStatusInput, generation: number, ready?: ReadyInput) {
    const status = { lastPlan: { ...s.lastPlan, at: rfc3339(s.lastPlan.at) } };
    return this.#write('Site', name, status, generation, ready);
  }

  writePolicy(name: string, generation: number, ready?: ReadyInput) {
    return this.#write('AllocationPolicy', name, {}, generation, ready);
  }

  /** Forgets what is known of a resource's status: the next write reads it again. */
  forget(kind: FarmKind, name: string): void {
    this.#known.delete(`${kind}/${name}`);
  }

  /** Lets the writes in flight finish; later writes resolve 'closed'. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining.size > 0) await Promise.all([...this.#draining]);
  }

  // --- One write -------------------------------------------------------------------------------

  #write(
    kind: FarmKind,
    name: string,
    fields: Status,
    generation: number,
    ready: ReadyInput = DEFAULT_READY[kind],
  ): Promise<StatusWriteOutcome> {
    if (this.#closed) return Promise.resolve('closed');
    const key = `${kind}/${name}`;
    return this.#enqueue(key, () => this.#send({ kind, name }, fields, generation, ready));
  }

  async #send(
    target: StatusTarget,
    fields: Status,
    generation: number,
    ready: ReadyInput,
  ): Promise<StatusWriteOutcome> {
    const key = `${target.kind}/${target.name}`;
    const ref = {
      group: CRD_GROUP,
      version: CRD_VERSION,
      plural: CRD_DEFINITIONS[target.kind].plural,
      name: target.name,
    };
    const what = `status of ${key}`;
    try {
      const known = this.#known.get(key) ?? (await this.#read(key, ref));
      const conditions = withReady(
        known.status.conditions as Condition[] | undefined,
        ready,
        generation,
        this.#now(),
      );
      const next: Status = { ...fields, observedGeneration: generation, conditions };
      const checked = STATUS_SCHEMAS[target.kind].safeParse(next);
      if (!checked.success) {
        const first = checked.error.issues[0];
        const where = first ? pathToString(first.path) : '';
        throw new ClusterError(
          'invalid-request',
          `${what}: ${where ? `${where}: ` : ''}${first?.message ?? 'invalid'}`,
        );
      }
      if (isDeepStrictEqual(known.status, next) && this.#now() - known.at < this.#rewriteAfterMs)
        return 'unchanged';
      const written = (await this.#api.patchClusterCustomObjectStatus(
        { ...ref, body: statusPatch(known.status, next), fieldManager: this.#fieldManager },
        callOptions({ timeoutMs: this.#timeoutMs, patch: PatchStrategy.MergePatch }),
      )) as { status?: Status };
      this.#known.set(key, { status: written.status ?? next, at: this.#now() });
      return 'written';
    } catch (e) {
      if (isNotFound(e)) {
        this.#known.delete(key);
        return 'not-found';
      }
      const err = e instanceof ClusterError ? e : clusterErrorFromKube(e, `PATCH ${what}`);
      try {
        this.#onError?.(err, target);
      } catch {
        /* a failing error callback must not fail the caller either */
      }
      return 'failed';
    }
  }

  /** The status on the cluster, for the first write to a resource. */
  async #read(key: string, ref: { group: string; version: string; plural: string; name: string }) {
    const obj = (await this.#api
      .getClusterCustomObjectStatus(ref, callOptions({ timeoutMs: this.#timeoutMs }))
      .catch((e: unknown) => {
        throw isNotFound(e) ? e : clusterErrorFromKube(e, `GET status of ${key}`);
      })) as { status?: Status };
    const known: Known = { status: obj.status ?? {}, at: this.#now() };
    this.#known.set(key, known);
    return known;
  }

  // --- Ordering and concurrency ----------------------------------------------------------------

  #enqueue(key: string, job: () => Promise<StatusWriteOutcome>): Promise<StatusWriteOutcome> {
    return new Promise((resolve) => {
      let slot = this.#slots.get(key);
      if (!slot) this.#slots.set(key, (slot = { running: false, pending: undefined }));
      if (slot.pending) {
        slot.pending.job = job; // a newer status supersedes one that was not sent yet
        slot.pending.waiters.push(resolve);
      } else slot.pending = { job, waiters: [resolve] };
      if (!slot.running) {
        const run = this.#drain(key, slot);
        this.#draining.add(run);
        void run.finally(() => this.#draining.delete(run));
      }
    });
  }

  async #drain(key: string, slot: Slot): Promise<void> {
    slot.running = true;
    while (slot.pending) {
      const { job, waiters } = slot.pending;
      slot.pending = undefined;
      const outcome = await this.#limited(job);
      for (const w of waiters) w(outcome);
    }
    slot.running = false;
    this.#slots.delete(key);
  }

  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing call hands its place straight to the next waiting one.
    if (this.#active < this.#concurrency) this.#active++;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

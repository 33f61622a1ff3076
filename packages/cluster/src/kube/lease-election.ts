// Leader election on a coordination.k8s.io/v1 Lease, with the fencing contract of the queue's
// LeaderLease (packages/queue/src/lease.ts): one leader at a time, an epoch that grows with every
// acquisition, and loss noticed at once.
//
// The Lease's fields, as client-go's leader election writes them:
//   holderIdentity        the leader ("" once released)
//   leaseDurationSeconds  how long the others wait before taking over a silent leader
//   acquireTime/renewTime microsecond timestamps (MicroTime) of the last takeover and renewal
//   leaseTransitions      incremented on every acquisition: the epoch, the fencing token
// Every write carries the resourceVersion it was computed from, so of two contenders writing
// the same version one gets 409 Conflict and loses. The Lease is created with
// leaseTransitions 1, so that epoch 0 means that nobody has led yet; a contender that recreates a
// deleted Lease starts after the highest epoch it has seen, so the standbys, which read the Lease
// on every try, keep the epoch growing across a deletion.
//
// When is the Lease free? A contender takes it over when its holder is empty, or when the Lease
// has not changed (same resourceVersion) for leaseDurationSeconds by the contender's own
// monotonic clock since it first saw that version: as client-go does, so that the machines'
// wall clocks need not agree. renewTime is written for people and tools, never trusted.
//
// The leader presumes the lease lost at sentAt + duration − drift by its monotonic clock, where
// sentAt is when its last successful write was sent. A contender first sees that write after it
// landed, so it takes over later than the old leader stops, whatever happened to the network.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  CoordinationV1Api,
  PatchStrategy,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
} from '@kubernetes/client-node';
import { clusterErrorFromKube, isAlreadyExists, isConflict, isNotFound } from './api-errors.ts';
import { callOptions } from './call-options.ts';

export type ClusterLeaseLossReason = 'renew-rejected' | 'expired';

/**
 * The queue's LeaderLease, restated so this package does not depend on the queue package (the
 * shapes are identical; test/cluster/lease-election.test.ts checks that they stay assignable).
 */
export interface ClusterLeaderLease {
  acquire(): Promise<boolean>;
  renew(): Promise<boolean>;
  release(): Promise<void>;
  epoch(): number | null;
  isLeader(): boolean;
  currentEpoch(): Promise<number>;
  onLost(cb: (reason: ClusterLeaseLossReason, epoch: number) => void): () => void;
  bump?(): Promise<number | null>;
}

export interface KubeLeaseOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The Lease's name (default "switchyard-controller"). */
  name?: string;
  /** Unique per process (default host/pid/random; the host is the Pod's name in a cluster). */
  holderId?: string;
  /** Lease duration in whole seconds (default 15): a crashed leader is replaced this long after. */
  leaseDurationSeconds?: number;
  /** Renewal period while leading (default a third of the duration); used when autoRenew is on. */
  renewEveryMs?: number;
  /** Renew in the background after acquiring (default true). */
  autoRenew?: boolean;
  /** Allowance for this machine's clock running slower than the others' (default 1 %, ≥ 10 ms). */
  driftMs?: number;
  /** Longest one API call may take (default renewEveryMs): a hung call must not block renewals. */
  requestTimeoutMs?: number;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** Wall-clock milliseconds for acquireTime and renewTime (default Date.now). */
  wallClock?: () => number;
}

type SpecChange = Partial<
  Pick<
    NonNullable<V1Lease['spec']>,
    'holderIdentity' | 'leaseDurationSeconds' | 'leaseTransitions' | 'acquireTime' | 'renewTime'
  >
>;

export class KubeLeaderLease implements ClusterLeaderLease {
  readonly holderId: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationSeconds: number;
  /** The duration in ms (what the controller's campaign timer reads). */
  readonly ttlMs: number;
  readonly #api: CoordinationV1Api;
  readonly #renewEveryMs: number;
  readonly #autoRenew: boolean;
  readonly #driftMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #wall: () => number;
  readonly #listeners = new Set<(reason: ClusterLeaseLossReason, epoch: number) => void>();
  #epoch: number | null = null;
  /** The Lease as of our last successful write: its resourceVersion guards the next one. */
  #lease: V1Lease | undefined;
  #deadline = 0;
  /** The version of someone else's Lease we are waiting out, and since when we have seen it. */
  #observed: { rv: string; at: number } | undefined;
  /** The highest leaseTransitions seen: where a recreated Lease starts counting. */
  #highest = 0;
  #renewTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #renewing: Promise<boolean> | undefined;
  /** Writes run one at a time, so a renewal and a bump never race each other's version. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: KubeLeaseOptions) {
    this.namespace = opts.namespace;
    this.name = opts.name ?? 'switchyard-controller';
    this.holderId = opts.holderId ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    if (this.holderId === '') throw new Error('holderId must not be empty');
    this.leaseDurationSeconds = opts.leaseDurationSeconds ?? 15;
    if (!(Number.isInteger(this.leaseDurationSeconds) && this.leaseDurationSeconds >= 1))
      throw new Error('leaseDurationSeconds must be a whole number ≥ 1');
    this.ttlMs = this.leaseDurationSeconds * 1000;
    this.#renewEveryMs = opts.renewEveryMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.#renewEveryMs > 0 && this.#renewEveryMs < this.ttlMs))
      throw new Error('renewEveryMs must be positive and shorter than the lease duration');
    this.#autoRenew = opts.autoRenew ?? true;
    this.#driftMs = opts.driftMs ?? Math.max(10, Math.floor(this.ttlMs / 100));
    this.#timeoutMs = opts.requestTimeoutMs ?? this.#renewEveryMs;
    this.#now = opts.now ?? (() => performance.now());
    this.#wall = opts.wallClock ?? (() => Date.now());
    this.#api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  get #what(): string {
    return `Lease ${this.namespace}/${this.name}`;
  }

  async acquire(): Promise<boolean> {
    if (this.#epoch !== null) return this.renew();
    return this.#serial(() => this.#acquire());
  }

  async #acquire(): Promise<boolean> {
    const lease = await this.#read();
    if (!lease) return this.#create();
    if (!this.#takeable(lease)) return false;
    const spec = lease.spec ?? {};
    const now = new V1MicroTime(this.#wall());
    const sentAt = this.#now();
    const taken = await this.#patch(lease, {
      holderIdentity: this.holderId,
      leaseDurationSeconds: this.leaseDurationSeconds,
      leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
      acquireTime: now,
      renewTime: now,
    }).catch((e: unknown) => {
      // Someone else wrote first (409), or the Lease went away (404): not ours this time.
      if (isConflict(e) || isNotFound(e)) return undefined;
      throw clusterErrorFromKube(e, `${this.#what}: take over`);
    });
    return taken ? this.#won(taken, sentAt) : false;
  }

  async #create(): Promise<boolean> {
    const now = new V1MicroTime(this.#wall());
    const sentAt = this.#now();
    try {
      const created = await this.#api.createNamespacedLease(
        {
          namespace: this.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.name, namespace: this.namespace },
            spec: {
              holderIdentity: this.holderId,
              leaseDurationSeconds: this.leaseDurationSeconds,
              leaseTransitions: this.#highest + 1,
              acquireTime: now,
              renewTime: now,
            },
          },
        },
        callOptions({ timeoutMs: this.#timeoutMs }),
      );
      return this.#won(created, sentAt);
    } catch (e) {
      if (isAlreadyExists(e) || isConflict(e)) return false;
      throw clusterErrorFromKube(e, `${this.#what}: create`);
    }
  }

  /** Free, ours from before, or silent for a whole lease duration as seen from here. */
  #takeable(lease: V1Lease): boolean {
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder === '' || holder === this.holderId) return true;
    const rv = lease.metadata?.resourceVersion ?? '';
    const now = this.#now();
    if (this.#observed?.rv !== rv) this.#observed = { rv, at: now };
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
    return now - this.#observed.at >= durationMs;
  }

  #won(lease: V1Lease, sentAt: number): boolean {
    this.#lease = lease;
    this.#epoch = lease.spec?.leaseTransitions ?? 0;
    this.#highest = Math.max(this.#highest, this.#epoch);
    this.#observed = undefined;
    this.#extendTo(sentAt);
    if (this.#autoRenew) {
      clearInterval(this.#renewTimer);
      this.#renewTimer = setInterval(() => void this.renew().catch(() => undefined), this.#renewEveryMs);
      this.#renewTimer.unref();
    }
    return true;
  }

  renew(): Promise<boolean> {
    // One renewal at a time: a slow one must not race the next tick.
    return (this.#renewing ??= this.#serial(() => this.#renew()).finally(() => (this.#renewing = undefined)));
  }

  async #renew(): Promise<boolean> {
    if (!this.isLeader()) {
      if (this.#epoch !== null) this.#lose('expired');
      return false;
    }
    const epoch = this.#epoch as number;
    const sentAt = this.#now();
    let renewed: V1Lease | 'lost';
    try {
      renewed = await this.#write(epoch, { renewTime: new V1MicroTime(this.#wall()) });
    } catch {
      // The API server did not answer: still leader until the local deadline (the expiry timer).
      return false;
    }
    if (this.#epoch !== epoch) return false; // lost or released while the call was in flight
    if (renewed === 'lost') {
      this.#lose('renew-rejected');
      return false;
    }
    this.#lease = renewed;
    this.#extendTo(sentAt);
    return true;
  }

  /**
   * Moves this leader to a new epoch (leaseTransitions + 1) while keeping the Lease: the workers
   * drop every job dispatched under the old one. Null when the Lease is not ours (onLost fires).
   */
  async bump(): Promise<number | null> {
    return this.#serial(async () => {
      if (!this.isLeader()) {
        if (this.#epoch !== null) this.#lose('expired');
        return null;
      }
      const epoch = this.#epoch as number;
      const sentAt = this.#now();
      const res = await this.#write(epoch, {
        leaseTransitions: epoch + 1,
        renewTime: new V1MicroTime(this.#wall()),
      }).catch((e: unknown) => {
        throw clusterErrorFromKube(e, `${this.#what}: bump`);
      });
      if (this.#epoch !== epoch) return null;
      if (res === 'lost') {
        this.#lose('renew-rejected');
        return null;
      }
      this.#lease = res;
      this.#epoch = res.spec?.leaseTransitions ?? epoch + 1;
      this.#highest = Math.max(this.#highest, this.#epoch);
      this.#extendTo(sentAt);
      return this.#epoch;
    });
  }

  async release(): Promise<void> {
    const epoch = this.#epoch;
    this.#stop();
    if (epoch === null) return;
    // Leadership ends here, before the write: nothing is done under this epoch any more.
    await this.#serial(() =>
      this.#write(epoch, {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: new V1MicroTime(this.#wall()),
      }),
    ).catch(() => undefined);
  }

  epoch(): number | null {
    return this.isLeader() ? this.#epoch : null;
  }

  isLeader(): boolean {
    return this.#epoch !== null && this.#now() < this.#deadline;
  }

  async currentEpoch(): Promise<number> {
    const lease = await this.#read();
    return lease?.spec?.leaseTransitions ?? 0;
  }

  onLost(cb: (reason: ClusterLeaseLossReason, epoch: number) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  // --- API calls -------------------------------------------------------------------------------

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      const lease = await this.#api.readNamespacedLease(
        { name: this.name, namespace: this.namespace },
        callOptions({ timeoutMs: this.#timeoutMs }),
      );
      this.#highest = Math.max(this.#highest, lease.spec?.leaseTransitions ?? 0);
      return lease;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw clusterErrorFromKube(e, `${this.#what}: read`);
    }
  }

  /** A merge patch of the spec that only applies to `base`'s resourceVersion. */
  #patch(base: V1Lease, spec: SpecChange): Promise<V1Lease> {
    return this.#api.patchNamespacedLease(
      {
        name: this.name,
        namespace: this.namespace,
        body: { metadata: { resourceVersion: base.metadata?.resourceVersion }, spec },
      },
      callOptions({ timeoutMs: this.#timeoutMs, patch: PatchStrategy.MergePatch }),
    );
  }

  /**
   * Writes `spec` over our Lease. A 409 means the Lease changed since our last write: when it is
   * still ours (our holder and our epoch: nobody took it over in between) the write is tried again
   * on the new version; otherwise, or when the Lease is gone, it is 'lost'.
   */
  async #write(epoch: number, spec: SpecChange): Promise<V1Lease | 'lost'> {
    let base = this.#lease;
    for (let attempt = 0; base; attempt++) {
      try {
        return await this.#patch(base, spec);
      } catch (e) {
        if (isNotFound(e)) return 'lost';
        if (!isConflict(e) || attempt > 0) throw e;
      }
      base = await this.#read();
      if (base?.spec?.holderIdentity !== this.holderId || base.spec.leaseTransitions !== epoch) return 'lost';
    }
    return 'lost';
  }

  // --- Local clock -----------------------------------------------------------------------------

  #extendTo(sentAt: number): void {
    this.#deadline = sentAt + this.ttlMs - this.#driftMs;
    this.#armExpiry();
  }

  /** Fires onLost at the local deadline unless a renewal moved it; stops at once, no grace. */
  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = setTimeout(
      () => {
        if (this.#epoch === null) return;
        if (this.isLeader())
          this.#armExpiry(); // the timer fired a little early
        else this.#lose('expired');
      },
      Math.max(1, Math.ceil(this.#deadline - this.#now())),
    );
    this.#expiryTimer.unref();
  }

  #lose(reason: ClusterLeaseLossReason): void {
    const epoch = this.#epoch;
    if (epoch === null) return;
    this.#stop();
    for (const cb of [...this.#listeners]) {
      try {
        cb(reason, epoch);
      } catch {
        /* a listener's failure must not keep the others from stopping */
      }
    }
  }

  #stop(): void {
    this.#epoch = null;
    this.#deadline = 0;
    clearInterval(this.#renewTimer);
    clearTimeout(this.#expiryTimer);
    this.#renewTimer = undefined;
    this.#expiryTimer = undefined;
  }
}

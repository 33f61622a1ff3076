// The leader lease in Redis: one key holding "<holder>|<epoch>" with a PX TTL, set only when
// absent (SET NX PX), and a counter INCR'd on every successful acquisition: the fencing token.
// Both keys share the queues' hash tag, so the scripts run on Redis Cluster too.
//
// The lease is presumed lost at sentAt + ttl − drift by the local monotonic clock, where sentAt
// is when the acquiring or renewing command was sent: Redis starts the TTL later than that, so
// the old leader always stops before Redis lets anyone else in.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LeaderLease, LeaseLossReason } from './lease.ts';
import { DEFAULT_PREFIX, assertHashTaggedPrefix } from './queues.ts';

// KEYS[1] lease, KEYS[2] epoch counter; ARGV[1] holder, ARGV[2] ttl ms → the new epoch, or 0.
const ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
return epoch`;
// KEYS[1] lease; ARGV[1] "<holder>|<epoch>", ARGV[2] ttl ms → 1 when extended.
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
// KEYS[1] lease, KEYS[2] epoch counter; ARGV[1] "<holder>|<epoch>", ARGV[2] holder, ARGV[3] ttl
// ms → the new epoch while the lease is still ours, else 0. A leader moves to a new epoch without
// letting go, so every job it dispatched before is dropped by the workers' fence.
const BUMP = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. epoch, 'PX', ARGV[3])
return epoch`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisLeaseOptions {
  /** A fail-fast connection (connectRedis(url, 'producer')): a renewal must not hang. */
  redis: Redis;
  /** Hash-tagged key prefix, as the queues' (default "{switchyard}"). */
  prefix?: string;
  /** Lease name (default "leader"). */
  name?: string;
  /** Unique per process (default host/pid/random). */
  holderId?: string;
  /** Lease duration (default 15 s). A new leader is elected at most this long after a crash. */
  ttlMs?: number;
  /** Renewal period while leading (default ttl / 3); used when autoRenew is on. */
  renewEveryMs?: number;
  /** Renew in the background after acquiring (default true). */
  autoRenew?: boolean;
  /** Allowance for the local clock running slower than Redis's (default 1 % of ttl, ≥ 10 ms). */
  driftMs?: number;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
}

export class RedisLeaderLease implements LeaderLease {
  readonly holderId: string;
  readonly key: string;
  readonly epochKey: string;
  readonly ttlMs: number;
  readonly #redis: Redis;
  readonly #renewEveryMs: number;
  readonly #autoRenew: boolean;
  readonly #driftMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<(reason: LeaseLossReason, epoch: number) => void>();
  #epoch: number | null = null;
  #value = '';
  #deadline = 0;
  #renewTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #renewing: Promise<boolean> | undefined;

  constructor(opts: RedisLeaseOptions) {
    const prefix = assertHashTaggedPrefix(opts.prefix ?? DEFAULT_PREFIX);
    const name = opts.name ?? 'leader';
    this.key = `${prefix}:lease:${name}`;
    this.epochKey = `${prefix}:lease:${name}:epoch`;
    this.holderId = opts.holderId ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    if (this.holderId.includes('|')) throw new Error('holderId must not contain "|"');
    this.ttlMs = opts.ttlMs ?? 15_000;
    if (!(Number.isInteger(this.ttlMs) && this.ttlMs >= 100))
      throw new Error('ttlMs must be an integer ≥ 100');
    this.#renewEveryMs = opts.renewEveryMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.#renewEveryMs > 0 && this.#renewEveryMs < this.ttlMs))
      throw new Error('renewEveryMs must be positive and shorter than ttlMs');
    this.#autoRenew = opts.autoRenew ?? true;
    this.#driftMs = opts.driftMs ?? Math.max(10, Math.floor(this.ttlMs / 100));
    this.#now = opts.now ?? (() => performance.now());
    this.#redis = opts.redis;
  }

  async acquire(): Promise<boolean> {
    if (this.#epoch !== null) return this.renew();
    const sentAt = this.#now();
    const epoch = Number(
      await this.#redis.eval(ACQUIRE, 2, this.key, this.epochKey, this.holderId, this.ttlMs),
    );
    if (!(epoch > 0)) return false;
    this.#epoch = epoch;
    this.#value = `${this.holderId}|${epoch}`;
    this.#extendTo(sentAt);
    if (this.#autoRenew) {
      this.#renewTimer = setInterval(() => void this.renew().catch(() => undefined), this.#renewEveryMs);
      this.#renewTimer.unref();
    }
    return true;
  }

  renew(): Promise<boolean> {
    // One renewal at a time: a slow one must not race the next tick.
    return (this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined)));
  }

  async #renew(): Promise<boolean> {
    if (!this.isLeader()) {
      if (this.#epoch !== null) this.#lose('expired');
      return false;
    }
    const sentAt = this.#now();
    let extended: boolean;
    try {
      extended = Number(await this.#redis.eval(RENEW, 1, this.key, this.#value, this.ttlMs)) === 1;
    } catch {
      // Redis unreachable: still leader until the local deadline, which the expiry timer enforces.
      return false;
    }
    if (this.#epoch === null) return false; // lost or released while the call was in flight
    if (!extended) {
      this.#lose('renew-rejected');
      return false;
    }
    this.#extendTo(sentAt);
    return true;
  }

  /**
   * Moves this leader to a new epoch while keeping the lease: every job dispatched under the old
   * epoch is dropped by the workers' fence before it actuates anything more. Used when a grid
   * dispatch preempts a plan in progress. Returns the new epoch, or null when the lease is not
   * ours (onLost fires then).
   */
  async bump(): Promise<number | null> {
    if (!this.isLeader()) {
      if (this.#epoch !== null) this.#lose('expired');
      return null;
    }
    const sentAt = this.#now();
    const epoch = Number(
      await this.#redis.eval(BUMP, 2, this.key, this.epochKey, this.#value, this.holderId, this.ttlMs),
    );
    if (this.#epoch === null) return null;
    if (!(epoch > 0)) {
      this.#lose('renew-rejected');
      return null;
    }
    this.#epoch = epoch;
    this.#value = `${this.holderId}|${epoch}`;
    this.#extendTo(sentAt);
    return epoch;
  }

  async release(): Promise<void> {
    const value = this.#value;
    const held = this.#epoch !== null;
    this.#stop();
    if (held) await this.#redis.eval(RELEASE, 1, this.key, value).catch(() => undefined);
  }

  epoch(): number | null {
    return this.isLeader() ? this.#epoch : null;
  }

  isLeader(): boolean {
    return this.#epoch !== null && this.#now() < this.#deadline;
  }

  async currentEpoch(): Promise<number> {
    return Number((await this.#redis.get(this.epochKey)) ?? 0);
  }

  onLost(cb: (reason: LeaseLossReason, epoch: number) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

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

  #lose(reason: LeaseLossReason): void {
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

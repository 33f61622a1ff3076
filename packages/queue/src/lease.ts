// Fencing: only the elected leader plans and dispatches (product safety rule 4). Leadership is a
// lease with a fencing token, the epoch: every acquisition gets a higher epoch, every fenced job
// carries the epoch of the leader that dispatched it, and workers compare it with the current
// epoch right before actuating. A job from a replaced leader is dropped, never retried.
// Implementations: RedisLeaderLease (redis-lease.ts) in standalone mode; the Kubernetes Lease
// will implement the same interface in a cluster.
import { StaleEpochError } from './errors/stale-epoch-error.ts';

/** What workers need: the latest epoch handed out. */
export interface EpochSource {
  currentEpoch(): Promise<number>;
}

export type LeaseLossReason = 'renew-rejected' | 'expired';

export interface LeaderLease extends EpochSource {
  /** Tries to become leader; true when this instance holds the lease afterwards. */
  acquire(): Promise<boolean>;
  /** Extends the lease; false (and onLost fires) when it is no longer ours. */
  renew(): Promise<boolean>;
  /** Gives the lease up at once (on shutdown), if it is still ours. Idempotent. */
  release(): Promise<void>;
  /** This instance's epoch while it leads; null otherwise. */
  epoch(): number | null;
  /** True while the lease is held and, by the local clock, not yet expired. */
  isLeader(): boolean;
  /** The latest epoch handed out to any leader: what workers compare a job's epoch with. */
  currentEpoch(): Promise<number>;
  /**
   * Called once each time leadership is lost (a rejected renewal, or the lease ran out before
   * it could be renewed). The leader must stop dispatching at once. Returns an unsubscribe.
   */
  onLost(cb: (reason: LeaseLossReason, epoch: number) => void): () => void;
  /**
   * Moves the leader to a new epoch without letting go (optional): everything dispatched under
   * the old epoch is dropped by the workers. Null when the lease is no longer held.
   */
  bump?(): Promise<number | null>;
}

/**
 * Throws StaleEpochError unless the job's epoch is the current one. Called right before a
 * worker actuates anything; the harness turns the error into a dropped (completed) job.
 */
export async function assertCurrentEpoch(source: EpochSource, jobEpoch: number): Promise<number> {
  const current = await source.currentEpoch();
  if (jobEpoch !== current) throw new StaleEpochError(jobEpoch, current);
  return current;
}

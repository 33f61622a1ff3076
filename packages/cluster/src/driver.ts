// The seam between the control plane and whatever runs the GPU nodes. Standalone mode fills it
// with the simulator's HTTP API (simulator-driver.ts); cluster mode will fill it with Kubernetes
// (node labels, cordons, the hashing DaemonSet). Callers only ever see pool modes.
import type { PoolMode } from '@switchyard/domain';

/** One GPU node of a pool as the cluster reports it now. */
export interface GpuNodeState {
  pool: string;
  /** The node's name (unique in the cluster). */
  node: string;
  /** The mode it is in (or was last set to); null when it cannot be told (unlabelled, unreadable). */
  mode: PoolMode | null;
  /** Draw at the wall now (kW), or null when nothing meters it. */
  powerKw: number | null;
  gpuModel: string;
  gpus: number;
  /** Schedulable and reporting; false for cordoned, NotReady or unreachable nodes. */
  ready: boolean;
  /** Its draw is still following the last mode change. */
  transitioning: boolean;
  /** Seconds until the transition ends, when known (0 once settled). */
  transitionRemainingS: number | null;
  /** The mode it was in before its last change, when the driver knows it. */
  fromMode?: PoolMode | null;
}

export interface ClusterCallOptions {
  /** Aborts the call (the job's attempt timed out or the worker is closing). */
  signal?: AbortSignal | undefined;
}

export interface SetNodeModeResult {
  /** False when the node already was in the mode: nothing was sent. */
  changed: boolean;
  /** The node after the call. */
  node: GpuNodeState;
}

export interface ClusterDriver {
  /** The GPU nodes of one pool (or of every pool), sorted by pool then node name. */
  listNodes(pool?: string, opts?: ClusterCallOptions): Promise<GpuNodeState[]>;
  /**
   * Puts one node into a mode. Idempotent: a node already in the mode is left alone and the
   * result says `changed: false`. Throws ClusterError (see `permanent`) when it cannot.
   */
  setNodeMode(
    pool: string,
    node: string,
    mode: PoolMode,
    opts?: ClusterCallOptions,
  ): Promise<SetNodeModeResult>;
}

// The ClusterDriver of cluster mode: GPU nodes as Kubernetes Nodes. A pool's nodes are those its
// GpuPool's nodeSelector matches (GPU Feature Discovery labels such as nvidia.com/gpu.product,
// plus switchyard.io/pool). A node's mode is its `switchyard.io/mode` label, and a taint of the
// same key keeps every workload but the mode's own off it:
//
//   serving  taint switchyard.io/mode=serving:NoSchedule  brokers' inference Jobs tolerate it
//   hashing  taint switchyard.io/mode=hashing:NoSchedule  the GPU-hashing DaemonSet tolerates it
//   idle     taint switchyard.io/mode=idle:NoSchedule     nothing of ours runs
//
// A mode change rewrites the label, the taint and the `switchyard.io/mode-changed-at`
// annotation in one merge patch that carries the node's resourceVersion, so a concurrent writer
// makes it fail with 409 and it is read and tried again, never applied over a newer node.
// Cordoned (unschedulable) and NotReady nodes are not ready: the sequencer does not move them.
// Draw is dcgm-exporter's measured GPU power (through Prometheus, when given) plus the pool's idle
// figure, else estimated from the pool's nodePowerKw for the node's mode.
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Node,
  type V1Taint,
} from '@kubernetes/client-node';
import { POOL_MODES, type Farm, type GpuPool, type PoolMode } from '@switchyard/domain';
import type { ClusterCallOptions, ClusterDriver, GpuNodeState, SetNodeModeResult } from './driver.ts';
import { ClusterError } from './errors.ts';
import { clusterErrorFromKube } from './kube/api-errors.ts';

export const MODE_LABEL = 'switchyard.io/mode';
export const MODE_TAINT = 'switchyard.io/mode';
export const MODE_CHANGED_ANNOTATION = 'switchyard.io/mode-changed-at';
/** The mode before the last change: while the change settles the node is in flight from it. */
export const MODE_FROM_ANNOTATION = 'switchyard.io/mode-from';
/** Allocatable GPUs as the NVIDIA device plugin reports them. */
const GPU_RESOURCE = 'nvidia.com/gpu';

export interface KubernetesClusterDriverOptions {
  kubeConfig: KubeConfig;
  farm: Farm;
  /**
   * GPU power measured by dcgm-exporter (through Prometheus). A node with a reading draws its
   * GPUs' measured power plus its pool's idle figure (the host, counted generously); one without
   * draws its pool's figure for its mode.
   */
  gpuPower?: { nodeKw(): Promise<Map<string, number>> } | undefined;
  /**
   * Drains a node before it leaves serving (e.g. evicting the orders' pods with PodDisruptionBudgets
   * respected); a node it cannot empty yet is not moved: the call fails as busy and is retried.
   */
  drain?: ((node: string) => Promise<{ blocked: Array<{ pod: string; message: string }> }>) | undefined;
  /** How long a node's draw follows a mode change (default 90 s: a model server's load time). */
  transitionSeconds?: number;
  now?: () => Date;
}

const isPoolMode = (m: unknown): m is PoolMode => (POOL_MODES as readonly unknown[]).includes(m);
const nodeOrder = new Intl.Collator('en', { numeric: true }).compare;

/** `k=v,k2=v2` for a label selector. */
export function selectorOf(labels: Record<string, string>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function matches(node: V1Node, labels: Record<string, string>): boolean {
  const have = node.metadata?.labels ?? {};
  return Object.entries(labels).every(([k, v]) => have[k] === v);
}

function isReady(node: V1Node): boolean {
  if (node.spec?.unschedulable) return false;
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The node's taints with ours set to `mode` (others kept as they are). */
export function taintsFor(node: V1Node, mode: PoolMode): V1Taint[] {
  const others = (node.spec?.taints ?? []).filter((t) => t.key !== MODE_TAINT);
  return [...others, { key: MODE_TAINT, value: mode, effect: 'NoSchedule' }];
}

export class KubernetesClusterDriver implements ClusterDriver {
  readonly #api: CoreV1Api;
  readonly #pools: Map<string, GpuPool>;
  readonly #transitionMs: number;
  readonly #now: () => Date;
  readonly #gpuPower: KubernetesClusterDriverOptions['gpuPower'];
  readonly #drain: KubernetesClusterDriverOptions['drain'];

  constructor(opts: KubernetesClusterDriverOptions) {
    this.#gpuPower = opts.gpuPower;
    this.#drain = opts.drain;
    this.#api = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.#pools = new Map(opts.farm.pools.map((p) => [p.metadata.name, p]));
    const s = opts.transitionSeconds ?? 90;
    if (!(s >= 0)) throw new ClusterError('invalid-config', `transitionSeconds must be 0 or more (got ${s})`);
    this.#transitionMs = s * 1000;
    this.#now = opts.now ?? (() => new Date());
  }

  #pool(name: string): GpuPool {
    const p = this.#pools.get(name);
    if (!p) throw new ClusterError('not-found', `no GpuPool "${name}" in the farm`);
    return p;
  }

  #state(pool: GpuPool, node: V1Node, measuredGpuKw?: number): GpuNodeState {
    const mode = node.metadata?.labels?.[MODE_LABEL];
    const known = isPoolMode(mode) ? mode : null;
    const changedAt = Date.parse(node.metadata?.annotations?.[MODE_CHANGED_ANNOTATION] ?? '');
    const remainingMs = Number.isFinite(changedAt)
      ? changedAt + this.#transitionMs - this.#now().getTime()
      : 0;
    const allocatable = Number(node.status?.allocatable?.[GPU_RESOURCE]);
    const from = node.metadata?.annotations?.[MODE_FROM_ANNOTATION];
    return {
      pool: pool.metadata.name,
      node: node.metadata?.name ?? '',
      mode: known,
      powerKw:
        measuredGpuKw !== undefined
          ? Math.round((measuredGpuKw + pool.spec.nodePowerKw.idle) * 1000) / 1000
          : known
            ? pool.spec.nodePowerKw[known]
            : null,
      gpuModel: pool.spec.gpuModel,
      gpus: Number.isInteger(allocatable) && allocatable > 0 ? allocatable : pool.spec.gpusPerNode,
      ready: isReady(node),
      transitioning: remainingMs > 0,
      transitionRemainingS: Math.max(0, Math.ceil(remainingMs / 1000)),
      fromMode: isPoolMode(from) ? from : null,
    };
  }

  async listNodes(pool?: string, opts: ClusterCallOptions = {}): Promise<GpuNodeState[]> {
    const pools = pool === undefined ? [...this.#pools.values()] : [this.#pool(pool)];
    const out: GpuNodeState[] = [];
    const measured = this.#gpuPower
      ? await this.#gpuPower.nodeKw().catch(() => new Map<string, number>())
      : undefined;
    for (const p of pools) {
      if (opts.signal?.aborted) throw new ClusterError('aborted', `listing ${p.metadata.name}: aborted`);
      const what = `listing the nodes of ${p.metadata.name}`;
      const list = await this.#api
        .listNode({ labelSelector: selectorOf(p.spec.nodeSelector) })
        .catch((e: unknown) => {
          throw clusterErrorFromKube(e, what, opts.signal);
        });
      for (const n of list.items)
        if (n.metadata?.name) out.push(this.#state(p, n, measured?.get(n.metadata.name)));
    }
    return out.sort((a, b) => (a.pool === b.pool ? nodeOrder(a.node, b.node) : a.pool < b.pool ? -1 : 1));
  }

  /** Empties a node leaving serving; pods a PodDisruptionBudget keeps make it busy (retried). */
  async #drainFirst(node: string, what: string, signal: AbortSignal | undefined): Promise<void> {
    if (!this.#drain) return;
    const d = await this.#drain(node).catch((e: unknown) => {
      throw clusterErrorFromKube(e, `${what}: draining`, signal);
    });
    if (d.blocked.length > 0)
      throw new ClusterError(
        'busy',
        `${what}: ${d.blocked.length} pod(s) kept by a PodDisruptionBudget (${d.blocked[0]!.message})`,
      );
  }

  async setNodeMode(
    pool: string,
    node: string,
    mode: PoolMode,
    opts: ClusterCallOptions = {},
  ): Promise<SetNodeModeResult> {
    const p = this.#pool(pool);
    if (!isPoolMode(mode)) throw new ClusterError('invalid-request', `"${String(mode)}" is not a pool mode`);
    if (mode === 'hashing' && !p.spec.hashing?.enabled)
      throw new ClusterError('not-allowed', `GpuPool "${pool}" does not allow hashing`);
    const what = `setting ${node} of ${pool} to ${mode}`;
    // Two tries: a 409 means the node changed under us; read it again and decide again.
    for (let attempt = 0; ; attempt++) {
      if (opts.signal?.aborted) throw new ClusterError('aborted', `${what}: aborted`);
      const current = await this.#api.readNode({ name: node }).catch((e: unknown) => {
        throw clusterErrorFromKube(e, what, opts.signal);
      });
      if (!matches(current, p.spec.nodeSelector))
        throw new ClusterError(
          'not-found',
          `node "${node}" is not in GpuPool "${pool}" (its labels do not match)`,
        );
      if (
        current.metadata?.labels?.[MODE_LABEL] === mode &&
        (current.spec?.taints ?? []).some((t) => t.key === MODE_TAINT && t.value === mode)
      )
        return { changed: false, node: this.#state(p, current) };
      if (!isReady(current))
        throw new ClusterError('not-ready', `${what}: the node is cordoned or not Ready`);
      if (current.metadata?.labels?.[MODE_LABEL] === 'serving' && mode !== 'serving')
        await this.#drainFirst(node, what, opts.signal);
      const patch = {
        metadata: {
          resourceVersion: current.metadata?.resourceVersion,
          labels: { [MODE_LABEL]: mode },
          annotations: {
            [MODE_CHANGED_ANNOTATION]: this.#now().toISOString(),
            [MODE_FROM_ANNOTATION]: isPoolMode(current.metadata?.labels?.[MODE_LABEL])
              ? current.metadata?.labels?.[MODE_LABEL]
              : null,
          },
        },
        spec: { taints: taintsFor(current, mode) },
      };
      try {
        const updated = await this.#api.patchNode(
          { name: node, body: patch },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return { changed: true, node: this.#state(p, updated) };
      } catch (e) {
        const err = clusterErrorFromKube(e, what, opts.signal);
        if (err.status === 409 && attempt === 0) continue;
        throw err;
      }
    }
  }
}

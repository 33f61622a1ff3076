// The Kubernetes objects of the GPU workloads, as pure functions of an order or a pool: a
// broker's inference order is a batch/v1 Job that runs only on the pool's serving nodes, and GPU
// hashing is one apps/v1 DaemonSet per pool that runs only on its hashing nodes. Where a workload
// may run is said twice, as the mode label (node affinity or nodeSelector) and as the toleration
// of the mode's taint (kube-driver.ts), so a node leaving a mode takes new pods of that mode no
// more. Priority classes rank inference above hashing, so the scheduler preempts hashing for it.
import { createHash } from 'node:crypto';
import type {
  V1Container,
  V1DaemonSet,
  V1Job,
  V1NodeSelectorRequirement,
  V1PodSecurityContext,
  V1SecurityContext,
  V1Toleration,
} from '@kubernetes/client-node';
import type { GpuPool } from '@switchyard/domain';
import { ClusterError } from '../errors.ts';
import { MODE_LABEL, MODE_TAINT } from '../kube-driver.ts';

export const ORDER_LABEL = 'switchyard.io/order';
export const BROKER_LABEL = 'switchyard.io/broker';
export const POOL_LABEL = 'switchyard.io/pool';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'switchyard';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** The component label of order pods and of hashing pods. */
export const INFERENCE_COMPONENT = 'inference';
export const HASHING_COMPONENT = 'gpu-hashing';
/** Annotations that tell a person what the Job was made for. */
export const TIER_ANNOTATION = 'switchyard.io/tier';
export const GPU_COUNT_ANNOTATION = 'switchyard.io/gpu-count';
/** The chart's PriorityClasses (values.yaml priorityClasses.*.name). */
export const DEFAULT_INFERENCE_PRIORITY_CLASS = 'switchyard-inference';
export const DEFAULT_HASHING_PRIORITY_CLASS = 'switchyard-gpu-hashing';
const GPU_RESOURCE = 'nvidia.com/gpu';

/** What a Job needs to know of an order (a structural subset of the database's OrderRecord). */
export interface WorkloadOrder {
  id: string;
  brokerId: string;
  tier: string;
  gpuCount: number;
  image: string;
  args: readonly string[];
  durationSeconds: number | null;
  endBy: Date | null;
}

export interface WorkloadManifestOptions {
  /** Where the Jobs and DaemonSets live (the release namespace). */
  namespace: string;
  /** PriorityClass of order pods (default "switchyard-inference"). */
  inferencePriorityClassName?: string;
  /** PriorityClass of hashing pods when the pool names none (default "switchyard-gpu-hashing"). */
  hashingPriorityClassName?: string;
  /** An order pod's grace period: preStop sleep, SIGTERM, server shutdown (default 60). */
  terminationGracePeriodSeconds?: number;
  /** preStop sleep of order pods, so endpoints stop sending before SIGTERM (default 15; 0: none). */
  preStopSleepSeconds?: number;
  /** Retries of an order's failed pods; disruptions do not count (default 2). */
  backoffLimit?: number;
  /** How long a finished Job stays readable (default 3600). */
  ttlSecondsAfterFinished?: number;
  /** A hashing pod's grace period: it only has to let go of the GPUs (default 10). */
  hashingGracePeriodSeconds?: number;
  /** UID and GID the containers run as (default 1000; pods never run as root). */
  runAsUser?: number;
  /** More tolerations for every pod (e.g. a cluster's own nvidia.com/gpu taint). */
  extraTolerations?: readonly V1Toleration[];
  /** "Now", to turn an order's endBy into a deadline (default the current time). */
  now?: Date;
}

// A Kubernetes label value: at most 63 characters, alphanumeric at both ends.
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Whether `v` can be a label's value (and so part of a label selector) as it is. */
export const isLabelValue = (v: string): boolean => v !== '' && LABEL_VALUE.test(v);

function labelValue(v: string, what: string): string {
  if (!isLabelValue(v))
    throw new ClusterError('invalid-request', `${what} "${v}" cannot be a Kubernetes label value`);
  return v;
}

/**
 * `prefix` + the id as a DNS-1123 label of at most 63 characters. An id that is already a valid
 * lowercase label and fits is used whole (a UUID does); any other gets a hash of the original
 * appended, so two ids never share a name.
 */
export function dnsNameFor(prefix: string, id: string): string {
  const whole = `${prefix}${id}`;
  if (whole.length <= 63 && DNS_LABEL.test(whole)) return whole;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 10);
  const safe = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63 - prefix.length - hash.length - 1)
    .replace(/-+$/, '');
  return safe ? `${prefix}${safe}-${hash}` : `${prefix}${hash}`;
}

/** The Job of an order: deterministic, so a second start finds the first. */
export const orderJobName = (orderId: string): string => dnsNameFor('order-', orderId);
/** The hashing DaemonSet of a pool. */
export const hashingDaemonSetName = (pool: string): string => dnsNameFor('gpu-hashing-', pool);

/** How an order's GPUs are spread: one pod per node, equal shares, each on a node of its own. */
export function orderPlacement(gpuCount: number, gpusPerNode: number): { pods: number; gpusPerPod: number } {
  if (!(Number.isInteger(gpuCount) && gpuCount >= 1))
    throw new ClusterError('invalid-request', `gpuCount must be a whole number ≥ 1 (got ${gpuCount})`);
  const pods = Math.ceil(gpuCount / gpusPerNode);
  // ceil(g/n) > P/2 whenever n ≥ 2, so two pods of one order never fit on one node.
  return { pods, gpusPerPod: Math.ceil(gpuCount / pods) };
}

/** Seconds the order may run: its duration, or what is left until its endBy; undefined: no end. */
export function orderDeadlineSeconds(order: WorkloadOrder, now: Date): number | undefined {
  if (order.durationSeconds !== null) return order.durationSeconds;
  if (order.endBy === null) return undefined;
  const left = Math.ceil((order.endBy.getTime() - now.getTime()) / 1000);
  if (left < 1)
    throw new ClusterError('invalid-request', `order ${order.id} ended at ${order.endBy.toISOString()}`);
  return left;
}

function podSecurity(uid: number): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function containerSecurity(readOnlyRoot: boolean): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: readOnlyRoot,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  };
}

const modeToleration = (mode: 'serving' | 'hashing'): V1Toleration => ({
  key: MODE_TAINT,
  operator: 'Equal',
  value: mode,
  effect: 'NoSchedule',
});

const sortedEntries = (m: Record<string, string>) =>
  Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The pool's selector and the serving mode, as one nodeSelectorTerm (all must hold). */
function servingNodeRequirements(pool: GpuPool): V1NodeSelectorRequirement[] {
  return [
    ...sortedEntries(pool.spec.nodeSelector)
      .filter(([k]) => k !== MODE_LABEL)
      .map(([key, v]) => ({ key, operator: 'In', values: [v] })),
    { key: MODE_LABEL, operator: 'In', values: ['serving'] },
  ];
}

function orderLabels(order: WorkloadOrder, pool: GpuPool): Record<string, string> {
  return {
    [ORDER_LABEL]: labelValue(order.id, 'order id'),
    [BROKER_LABEL]: labelValue(order.brokerId, 'broker id'),
    [POOL_LABEL]: labelValue(pool.metadata.name, 'pool name'),
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [COMPONENT_LABEL]: INFERENCE_COMPONENT,
  };
}

function orderContainer(order: WorkloadOrder, gpus: number, preStop: number): V1Container {
  if (order.image.trim() === '') throw new ClusterError('invalid-request', `order ${order.id} has no image`);
  return {
    name: 'inference',
    image: order.image,
    ...(order.args.length > 0 ? { args: [...order.args] } : {}),
    resources: { limits: { [GPU_RESOURCE]: String(gpus) } },
    ...(preStop > 0 ? { lifecycle: { preStop: { sleep: { seconds: preStop } } } } : {}),
    // Inference servers write caches and compile kernels into their image's directories.
    securityContext: containerSecurity(false),
    // NCCL and tensor-parallel servers need more shared memory than the runtime's 64 MiB.
    volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
  };
}

/**
 * The Job of a broker's order on `pool`: one pod per node the order needs (Indexed, so each
 * knows its JOB_COMPLETION_INDEX), each with an equal share of the GPUs, on the pool's serving
 * nodes only. Evictions and preemptions (the DisruptionTarget condition) do not count against
 * the backoff limit. The Job stops by itself at the order's end (activeDeadlineSeconds).
 */
export function orderJobManifest(order: WorkloadOrder, pool: GpuPool, opts: WorkloadManifestOptions): V1Job {
  const { pods, gpusPerPod } = orderPlacement(order.gpuCount, pool.spec.gpusPerNode);
  const deadline = orderDeadlineSeconds(order, opts.now ?? new Date());
  const labels = orderLabels(order, pool);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: orderJobName(order.id),
      namespace: opts.namespace,
      labels,
      annotations: { [TIER_ANNOTATION]: order.tier, [GPU_COUNT_ANNOTATION]: String(order.gpuCount) },
    },
    spec: {
      completions: pods,
      parallelism: pods,
      completionMode: 'Indexed',
      backoffLimit: opts.backoffLimit ?? 2,
      ...(deadline !== undefined ? { activeDeadlineSeconds: deadline } : {}),
      ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished ?? 3600,
      podFailurePolicy: {
        rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }],
      },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          priorityClassName: opts.inferencePriorityClassName ?? DEFAULT_INFERENCE_PRIORITY_CLASS,
          terminationGracePeriodSeconds: opts.terminationGracePeriodSeconds ?? 60,
          // A broker's code gets no credentials to this cluster.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: servingNodeRequirements(pool) }],
              },
            },
          },
          tolerations: [modeToleration('serving'), ...(opts.extraTolerations ?? [])],
          securityContext: podSecurity(opts.runAsUser ?? 1000),
          containers: [orderContainer(order, gpusPerPod, opts.preStopSleepSeconds ?? 15)],
          volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }],
        },
      },
    },
  };
}

/**
 * The GPU-hashing DaemonSet of `pool`: a pod on every node of the pool labelled hashing, holding
 * all of the node's GPUs at the lowest priority. When a node leaves hashing its label no longer
 * matches and the DaemonSet controller removes the pod.
 */
export function gpuHashingDaemonSetManifest(pool: GpuPool, opts: WorkloadManifestOptions): V1DaemonSet {
  const name = pool.metadata.name;
  const hashing = pool.spec.hashing;
  if (!hashing?.enabled) throw new ClusterError('not-allowed', `GpuPool "${name}" does not allow hashing`);
  if (!hashing.image) throw new ClusterError('invalid-config', `GpuPool "${name}" has no hashing.image`);
  const selector = { [POOL_LABEL]: labelValue(name, 'pool name'), [COMPONENT_LABEL]: HASHING_COMPONENT };
  const labels = { ...selector, [MANAGED_BY_LABEL]: MANAGED_BY };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: hashingDaemonSetName(name), namespace: opts.namespace, labels },
    spec: {
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { ...pool.spec.nodeSelector, [MODE_LABEL]: 'hashing' },
          tolerations: [modeToleration('hashing'), ...(opts.extraTolerations ?? [])],
          priorityClassName:
            hashing.priorityClassName ?? opts.hashingPriorityClassName ?? DEFAULT_HASHING_PRIORITY_CLASS,
          terminationGracePeriodSeconds: opts.hashingGracePeriodSeconds ?? 10,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(opts.runAsUser ?? 1000),
          containers: [
            {
              name: 'hasher',
              image: hashing.image,
              ...(hashing.args?.length ? { args: [...hashing.args] } : {}),
              resources: { limits: { [GPU_RESOURCE]: String(pool.spec.gpusPerNode) } },
              securityContext: containerSecurity(true),
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

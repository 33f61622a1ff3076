// The GPU workloads with the real @kubernetes/client-node client against the fake API server:
// an order's Job (labels, placement, priority, GPUs) created once however often it is started;
// a stop that deletes the Job and the order's pods with the grace period asked for; the order's
// phase from the Job's status as the Job controller would write it; a pool's hashing DaemonSet
// applied and updated in place; a drain that evicts only our matching pods on one node and
// reports what a PodDisruptionBudget keeps; failures as ClusterErrors. The manifests are also
// checked against the Kubernetes schemas (kubernetes-models).
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { CoreV1Api } from '@kubernetes/client-node';
import {
  ClusterError,
  KubeWorkloads,
  gpuHashingDaemonSetManifest,
  orderJobManifest,
  orderJobName,
  type KubeWorkloadsOptions,
  type WorkloadOrder,
} from '@switchyard/cluster';
import type { GpuPool } from '@switchyard/domain';
import { gpuFarm } from '../support/kube/gpu-farm.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import type { KubeObject } from '../support/kube/objects.ts';

const farm = gpuFarm();
const poolNamed = (name: string) => farm.pools.find((p) => p.metadata.name === name) as GpuPool;
const hpool = poolNamed('hpool');
const nohash = poolNamed('nohash');

const NS = 'switchyard';
const ORDER_A = '0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f';
const ORDER_B = '5e1d2c3b-4a59-4687-8776-655443322110';
const BROKER = '7d9e8f10-1112-4314-9516-171819202122';
const order = (id = ORDER_A, over: Partial<WorkloadOrder> = {}): WorkloadOrder => ({
  id,
  brokerId: BROKER,
  tier: 'on-demand',
  gpuCount: 8,
  image: 'vllm/vllm-openai:v0.9.1',
  args: ['--model', 'meta-llama/Llama-3.1-8B-Instruct'],
  durationSeconds: 3600,
  endBy: null,
  ...over,
});

let api: FakeApiServer;
beforeEach(async () => {
  api = await startFakeApiServer({ namespaces: ['default', NS] });
});
afterEach(() => api.close());

const workloads = (over: Partial<KubeWorkloadsOptions> = {}) =>
  new KubeWorkloads({ kubeConfig: api.kubeConfig({ user: 'worker' }), namespace: NS, ...over });
const job = (id = ORDER_A) => api.find('batch/v1', 'Job', orderJobName(id), NS);

async function failure(p: Promise<unknown>): Promise<ClusterError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof ClusterError)) throw new Error(`expected a ClusterError, got ${String(e)}`);
  return e;
}

/** A pod of ours on `node`, Running and Ready unless told otherwise. */
function pod(name: string, node: string, labels: Record<string, string>, ready = true): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'switchyard', ...labels } },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'x' }] },
    status: ready
      ? { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }
      : { phase: 'Pending' },
  };
}
const orderPod = (name: string, node: string, id = ORDER_A) =>
  pod(name, node, { 'switchyard.io/order': id, 'app.kubernetes.io/component': 'inference' });
const podNames = () => api.list('v1', 'Pod', NS).map((p) => p.metadata.name);

describe('the manifests against the Kubernetes schemas', () => {
  it('validate with kubernetes-models', () => {
    const now = new Date();
    const objects = [
      orderJobManifest(order(), hpool, { namespace: NS, now }),
      orderJobManifest(order(ORDER_B, { gpuCount: 20, durationSeconds: null }), hpool, {
        namespace: NS,
        now,
        extraTolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      }),
      gpuHashingDaemonSetManifest(hpool, { namespace: NS }),
    ];
    const r = spawnSync(process.execPath, ['test/crds/kube-models-check.ts'], {
      input: JSON.stringify(objects),
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`kube-models-check.ts failed: ${r.stderr}`);
    expect(JSON.parse(r.stdout)).toEqual([null, null, null]);
  });
});

describe('startOrder', () => {
  it('creates the Job with the order’s labels, placement, priority and GPUs', async () => {
    const res = await workloads().startOrder(order(ORDER_A, { gpuCount: 12 }), hpool);
    expect(res).toEqual({ namespace: NS, name: `order-${ORDER_A}`, created: true });
    const stored = job()!;
    expect(stored.metadata.labels).toEqual({
      'switchyard.io/order': ORDER_A,
      'switchyard.io/broker': BROKER,
      'switchyard.io/pool': 'hpool',
      'app.kubernetes.io/managed-by': 'switchyard',
      'app.kubernetes.io/component': 'inference',
    });
    const spec = stored.spec as Required<NonNullable<ReturnType<typeof orderJobManifest>['spec']>>;
    expect([spec.completions, spec.parallelism, spec.activeDeadlineSeconds]).toEqual([2, 2, 3600]);
    const podSpec = spec.template.spec!;
    expect(podSpec.priorityClassName).toBe('switchyard-inference');
    expect(podSpec.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'nvidia.com/gpu.product', operator: 'In', values: ['NVIDIA-H100-80GB-HBM3'] },
                { key: 'switchyard.io/pool', operator: 'In', values: ['hpool'] },
                { key: 'switchyard.io/mode', operator: 'In', values: ['serving'] },
              ],
            },
          ],
        },
      },
    });
    expect(podSpec.tolerations).toEqual([
      { key: 'switchyard.io/mode', operator: 'Equal', value: 'serving', effect: 'NoSchedule' },
    ]);
    expect(podSpec.containers[0]?.resources).toEqual({ limits: { 'nvidia.com/gpu': '6' } });
    expect(podSpec.containers[0]?.image).toBe('vllm/vllm-openai:v0.9.1');
    expect(podSpec.terminationGracePeriodSeconds).toBe(60);
    expect(podSpec.containers[0]?.lifecycle).toEqual({ preStop: { sleep: { seconds: 15 } } });
    // Sent as the worker, to the configured namespace.
    const posts = api.requestsMatching({ method: 'POST' });
    expect(posts.map((r) => [r.user, r.path])).toEqual([['worker', `/apis/batch/v1/namespaces/${NS}/jobs`]]);
  });

  it('is idempotent: a second start finds the Job and creates nothing', async () => {
    const w = workloads();
    await w.startOrder(order(), hpool);
    const first = job()!.metadata.resourceVersion;
    expect(await w.startOrder(order(), hpool)).toMatchObject({ created: false });
    expect(await workloads().startOrder(order(), hpool)).toMatchObject({ created: false });
    expect(api.list('batch/v1', 'Job', NS)).toHaveLength(1);
    expect(job()!.metadata.resourceVersion).toBe(first);
  });

  it('refuses a Job of that name that is another order’s, and waits out one being deleted', async () => {
    const foreign = orderJobManifest(order(), hpool, { namespace: NS }) as KubeObject;
    foreign.metadata.labels = { ...foreign.metadata.labels, 'switchyard.io/order': ORDER_B };
    api.seed(foreign);
    const other = await failure(workloads().startOrder(order(), hpool));
    expect([other.code, other.permanent]).toEqual(['invalid-request', true]);
    expect(other.message).toContain(ORDER_B);

    const stuck = orderJobManifest(order(ORDER_B), hpool, { namespace: NS }) as KubeObject;
    stuck.metadata.finalizers = ['example.com/hold'];
    api.seed(stuck);
    await workloads().stopOrder(ORDER_B);
    const busy = await failure(workloads().startOrder(order(ORDER_B), hpool));
    expect([busy.code, busy.permanent]).toEqual(['busy', false]);
  });

  it('refuses an order that cannot be a Job before calling the API', async () => {
    const e = await failure(workloads().startOrder(order('Not A Label'), hpool));
    expect([e.code, e.permanent]).toEqual(['invalid-request', true]);
    expect(api.requests).toHaveLength(0);
  });
});

describe('stopOrder', () => {
  it('deletes the Job in the foreground and the order’s pods with the grace period', async () => {
    const w = workloads();
    await w.startOrder(order(), hpool);
    api.seed(orderPod('a-0', 'gpu-1'));
    api.seed(orderPod('a-1', 'gpu-2'));
    api.seed(orderPod('b-0', 'gpu-1', ORDER_B));
    expect(await w.stopOrder(ORDER_A, { gracePeriodSeconds: 30 })).toEqual({
      name: `order-${ORDER_A}`,
      deleted: true,
    });
    expect(job()).toBeUndefined();
    const [del, pods] = api.requestsMatching({ method: 'DELETE' });
    expect(del?.path).toBe(`/apis/batch/v1/namespaces/${NS}/jobs/order-${ORDER_A}`);
    expect(del?.query.get('gracePeriodSeconds')).toBe('30');
    expect(del?.query.get('propagationPolicy')).toBe('Foreground');
    expect(pods?.path).toBe(`/api/v1/namespaces/${NS}/pods`);
    expect(pods?.query.get('gracePeriodSeconds')).toBe('30');
    expect(pods?.query.get('labelSelector')).toBe(
      `switchyard.io/order=${ORDER_A},app.kubernetes.io/managed-by=switchyard`,
    );
    expect(podNames()).toEqual(['b-0']);
  });

  it('is idempotent: a missing Job is no error, and its leftover pods still go', async () => {
    api.seed(orderPod('a-0', 'gpu-1'));
    expect(await workloads().stopOrder(ORDER_A, { gracePeriodSeconds: 5 })).toMatchObject({
      deleted: false,
    });
    expect(podNames()).toEqual([]);
  });

  it('without a grace period leaves the pods to the Job’s own', async () => {
    await workloads().startOrder(order(), hpool);
    await workloads().stopOrder(ORDER_A);
    const deletes = api.requestsMatching({ method: 'DELETE' });
    expect(deletes).toHaveLength(1);
    expect(deletes[0]?.query.has('gracePeriodSeconds')).toBe(false);
    const bad = await failure(workloads().stopOrder(ORDER_A, { gracePeriodSeconds: -1 }));
    expect(bad.code).toBe('invalid-request');
  });
});

describe('orderStatus', () => {
  /** Writes the Job's status as the Job controller would. */
  const setStatus = (status: Record<string, unknown>) => api.seed({ ...job()!, status });

  it('follows the Job’s status: pending, running, succeeded, failed; null without a Job', async () => {
    const w = workloads();
    expect(await w.orderStatus(ORDER_A)).toBeNull();
    await w.startOrder(order(), hpool);
    expect(await w.orderStatus(ORDER_A)).toEqual({
      name: `order-${ORDER_A}`,
      phase: 'pending',
      active: 0,
      ready: 0,
      succeeded: 0,
      failed: 0,
      deleting: false,
    });
    setStatus({ active: 1, ready: 0, startTime: '2026-12-01T12:00:00Z' });
    expect(await w.orderStatus(ORDER_A)).toMatchObject({ phase: 'pending', active: 1 });
    setStatus({ active: 1, ready: 1, startTime: '2026-12-01T12:00:00Z' });
    expect(await w.orderStatus(ORDER_A)).toMatchObject({ phase: 'running', ready: 1 });
    setStatus({
      succeeded: 1,
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached' },
        { type: 'Complete', status: 'True', reason: 'CompletionsReached' },
      ],
    });
    expect(await w.orderStatus(ORDER_A)).toMatchObject({
      phase: 'succeeded',
      reason: 'CompletionsReached',
      succeeded: 1,
    });
    setStatus({
      failed: 1,
      conditions: [
        {
          type: 'Failed',
          status: 'True',
          reason: 'DeadlineExceeded',
          message: 'Job was active longer than specified deadline',
        },
      ],
    });
    expect(await w.orderStatus(ORDER_A)).toMatchObject({
      phase: 'failed',
      reason: 'DeadlineExceeded',
      message: 'Job was active longer than specified deadline',
    });
  });

  it('reports a Job whose deletion waits on its pods as deleting', async () => {
    await workloads().startOrder(order(), hpool);
    api.seed({ ...job()!, metadata: { ...job()!.metadata, finalizers: ['foregroundDeletion'] } });
    await workloads().stopOrder(ORDER_A);
    expect(await workloads().orderStatus(ORDER_A)).toMatchObject({ deleting: true });
  });
});

describe('ensureHashing', () => {
  const daemonSets = () => api.list('apps/v1', 'DaemonSet', NS);

  it('creates the pool’s DaemonSet, then updates it in place when the image changes', async () => {
    const w = workloads();
    const first = await w.ensureHashing(hpool);
    expect(first).toEqual({ namespace: NS, name: 'gpu-hashing-hpool', created: true, generation: 1 });
    const ds = daemonSets();
    expect(ds).toHaveLength(1);
    const spec = gpuHashingDaemonSetManifest(hpool, { namespace: NS }).spec;
    expect(ds[0]?.spec).toEqual(spec);
    const rv = ds[0]?.metadata.resourceVersion;

    // The same again changes nothing.
    expect(await w.ensureHashing(hpool)).toMatchObject({ created: false, generation: 1 });
    expect(daemonSets()[0]?.metadata.resourceVersion).toBe(rv);

    const upgraded: GpuPool = {
      ...hpool,
      spec: {
        ...hpool.spec,
        hashing: { ...hpool.spec.hashing!, image: 'ghcr.io/switchyard/gpu-hasher:1.5.0' },
      },
    };
    expect(await w.ensureHashing(upgraded)).toMatchObject({ created: false, generation: 2 });
    const after = daemonSets();
    expect(after).toHaveLength(1);
    expect(after[0]?.metadata.uid).toBe(ds[0]?.metadata.uid);
    const containers = (after[0]?.spec as typeof spec)?.template.spec?.containers;
    expect(containers?.[0]?.image).toBe('ghcr.io/switchyard/gpu-hasher:1.5.0');

    const patches = api.requestsMatching({ method: 'PATCH' });
    expect(patches).toHaveLength(3);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect([p.query.get('fieldManager'), p.query.get('force')]).toEqual(['switchyard', 'true']);
    }
  });

  it('refuses a pool that does not allow hashing, without calling the API', async () => {
    const e = await failure(workloads().ensureHashing(nohash));
    expect([e.code, e.permanent]).toEqual(['not-allowed', true]);
    expect(api.requests).toHaveLength(0);
  });
});

describe('drainNode', () => {
  beforeEach(() => {
    api.seed(orderPod('a-0', 'gpu-1'));
    api.seed(orderPod('a-1', 'gpu-2'));
    api.seed(orderPod('b-0', 'gpu-1', ORDER_B));
    api.seed(pod('hash-gpu-1', 'gpu-1', { 'app.kubernetes.io/component': 'gpu-hashing' }));
    // Someone else's pod on the node: not ours to evict.
    api.seed({ ...orderPod('theirs', 'gpu-1'), metadata: { name: 'theirs', namespace: NS, labels: {} } });
  });

  it('evicts our matching pods on that node only', async () => {
    const r = await workloads().drainNode('gpu-1', {
      podSelector: 'switchyard.io/order',
      gracePeriodSeconds: 45,
    });
    expect(r).toEqual({ node: 'gpu-1', evicted: ['a-0', 'b-0'], blocked: [], gone: [] });
    expect(podNames()).toEqual(['a-1', 'hash-gpu-1', 'theirs']);
    const evictions = api.requestsMatching({ method: 'POST' });
    expect(evictions.map((e) => e.path)).toEqual([
      `/api/v1/namespaces/${NS}/pods/a-0/eviction`,
      `/api/v1/namespaces/${NS}/pods/b-0/eviction`,
    ]);
    expect(JSON.parse(evictions[0]!.body)).toEqual({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'a-0', namespace: NS },
      deleteOptions: { gracePeriodSeconds: 45 },
    });
    // Draining again finds nothing more to do.
    expect(await workloads().drainNode('gpu-1', { podSelector: 'switchyard.io/order' })).toMatchObject({
      evicted: [],
    });
  });

  it('reports a pod its PodDisruptionBudget keeps as blocked, and keeps it', async () => {
    api.seed({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'order-b', namespace: NS },
      spec: { minAvailable: 1, selector: { matchLabels: { 'switchyard.io/order': ORDER_B } } },
    });
    const r = await workloads().drainNode('gpu-1', { podSelector: 'app.kubernetes.io/component=inference' });
    expect(r.evicted).toEqual(['a-0']);
    expect(r.blocked).toEqual([
      { pod: 'b-0', message: 'The disruption budget order-b needs 1 healthy pods and has 1 currently' },
    ]);
    expect(podNames()).toContain('b-0');
  });

  it('counts pods already terminating as gone and evicts nothing of theirs', async () => {
    const held = orderPod('a-2', 'gpu-1');
    held.metadata.finalizers = ['example.com/hold'];
    api.seed(held);
    // Deleted, held by its finalizer: it has a deletionTimestamp and is terminating.
    await api.kubeConfig().makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'a-2', namespace: NS });
    const r = await workloads().drainNode('gpu-1', { podSelector: `switchyard.io/order=${ORDER_A}` });
    expect(r).toEqual({ node: 'gpu-1', evicted: ['a-0'], blocked: [], gone: ['a-2'] });
  });

  it('refuses a node name that is not one', async () => {
    const e = await failure(workloads().drainNode('gpu-1,x=y', { podSelector: '' }));
    expect(e.code).toBe('invalid-request');
    expect(api.requests).toHaveLength(0);
  });
});

describe('failures', () => {
  it('map to transient or permanent ClusterErrors', async () => {
    const w = workloads();
    api.fail({ method: 'POST', status: 500 });
    const down = await failure(w.startOrder(order(), hpool));
    expect([down.code, down.permanent, down.status]).toEqual(['server-error', false, 500]);
    expect(down.message).toContain(`creating Job ${NS}/order-${ORDER_A}: 500`);

    api.fail({ method: 'DELETE', status: 403 });
    const rbac = await failure(w.stopOrder(ORDER_A));
    expect([rbac.code, rbac.permanent, rbac.status]).toEqual(['invalid-config', true, 403]);

    api.fail({ method: 'PATCH', status: 403 });
    expect((await failure(w.ensureHashing(hpool))).code).toBe('invalid-config');

    api.fail({ method: 'GET', status: 503 });
    expect((await failure(w.orderStatus(ORDER_A))).code).toBe('server-error');

    // A 429 that is not a budget's refusal (API priority and fairness) is "busy", not "blocked".
    api.seed(orderPod('a-0', 'gpu-1'));
    api.fail({ method: 'POST', path: /\/eviction$/, status: 429, retryAfterSeconds: 1 });
    const throttled = await failure(w.drainNode('gpu-1', { podSelector: '' }));
    expect([throttled.code, throttled.permanent]).toEqual(['busy', false]);
    expect(podNames()).toEqual(['a-0']);
  });

  it('stop at the caller’s abort', async () => {
    const ac = new AbortController();
    api.pause({ method: 'POST' });
    const p = workloads().startOrder(order(), hpool, { signal: ac.signal });
    ac.abort();
    expect((await failure(p)).code).toBe('aborted');
  });
});

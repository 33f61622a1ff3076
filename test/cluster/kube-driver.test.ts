// The Kubernetes ClusterDriver with the real @kubernetes/client-node client against the fake API
// server: a pool's nodes are those its nodeSelector matches; a mode change sets the label, the
// taint and the changed-at annotation in one merge patch, keeps other taints, is a no-op when
// the node is there already, retries once on a 409 and refuses nodes of other pools, cordoned
// nodes and hashing where the pool does not allow it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { ClusterError } from '@switchyard/cluster';
import {
  KubernetesClusterDriver,
  KubeWorkloads,
  ORDER_LABEL,
  MODE_CHANGED_ANNOTATION,
  MODE_LABEL,
  MODE_TAINT,
} from '@switchyard/cluster';
import { gpuFarm } from '../support/kube/gpu-farm.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { gpuNode } from '../support/kube/fixtures.ts';

const farm = gpuFarm();

let server: FakeApiServer;
let clock = Date.parse('2026-12-01T12:00:00Z');

beforeAll(async () => {
  server = await startFakeApiServer();
});
afterAll(() => server?.close());

const driver = () =>
  new KubernetesClusterDriver({
    kubeConfig: server.kubeConfig(),
    farm,
    transitionSeconds: 60,
    now: () => new Date(clock),
  });
const node = (name: string) => server.find('v1', 'Node', name)!;

beforeEach(() => {
  clock = Date.parse('2026-12-01T12:00:00Z');
  for (const [name, labels] of [
    ['gpu-10', { 'switchyard.io/pool': 'hpool', [MODE_LABEL]: 'hashing' }],
    ['gpu-2', { 'switchyard.io/pool': 'hpool' }],
    ['gpu-3', { 'switchyard.io/pool': 'hpool', [MODE_LABEL]: 'serving' }],
    ['other', { 'switchyard.io/pool': 'nohash', 'nvidia.com/gpu.product': 'NVIDIA-A100' }],
    ['cpu-1', {}],
  ] as const) {
    const n = gpuNode(name, labels);
    if (name === 'gpu-3')
      n.spec = { taints: [{ key: 'example.com/maintenance', value: 'x', effect: 'NoExecute' }] };
    if (name === 'cpu-1') n.metadata!.labels = { 'kubernetes.io/os': 'linux' };
    server.seed(n);
  }
});

describe('KubernetesClusterDriver', () => {
  it('lists a pool’s nodes by its selector, in node order, with mode, gpus and estimated draw', async () => {
    const nodes = await driver().listNodes('hpool');
    expect(nodes.map((n) => [n.node, n.mode, n.gpus, n.powerKw, n.ready, n.transitioning])).toEqual([
      ['gpu-2', null, 8, null, true, false],
      ['gpu-3', 'serving', 8, 10.2, true, false],
      ['gpu-10', 'hashing', 8, 8.4, true, false],
    ]);
    const all = await driver().listNodes();
    expect(all.map((n) => `${n.pool}/${n.node}`)).toEqual([
      'hpool/gpu-2',
      'hpool/gpu-3',
      'hpool/gpu-10',
      'nohash/other',
    ]);
  });

  it('sets label, taint and changed-at in one patch, keeping other taints; then it is a no-op', async () => {
    const d = driver();
    const r = await d.setNodeMode('hpool', 'gpu-3', 'hashing');
    expect(r.changed).toBe(true);
    expect(r.node).toMatchObject({
      mode: 'hashing',
      powerKw: 8.4,
      transitioning: true,
      transitionRemainingS: 60,
    });
    const n = node('gpu-3');
    expect(n.metadata?.labels?.[MODE_LABEL]).toBe('hashing');
    expect(n.metadata?.annotations?.[MODE_CHANGED_ANNOTATION]).toBe(new Date(clock).toISOString());
    expect((n.spec as { taints: unknown[] }).taints).toEqual([
      { key: 'example.com/maintenance', value: 'x', effect: 'NoExecute' },
      { key: MODE_TAINT, value: 'hashing', effect: 'NoSchedule' },
    ]);
    const patches = server.requestsMatching({ method: 'PATCH' });
    expect(patches.length).toBe(1);
    const again = await d.setNodeMode('hpool', 'gpu-3', 'hashing');
    expect(again.changed).toBe(false);
    expect(server.requestsMatching({ method: 'PATCH' }).length).toBe(1);
    // The draw settles after the transition time.
    clock += 61_000;
    expect((await d.listNodes('hpool')).find((x) => x.node === 'gpu-3')).toMatchObject({
      transitioning: false,
    });
  });

  it('reads again and retries once when the node changed under it (409)', async () => {
    server.fail({ method: 'PATCH', status: 409, times: 1 });
    const r = await driver().setNodeMode('hpool', 'gpu-2', 'serving');
    expect(r.changed).toBe(true);
    expect(node('gpu-2').metadata?.labels?.[MODE_LABEL]).toBe('serving');
  });

  it('refuses what it must not do, with permanent or transient errors as fits', async () => {
    const d = driver();
    const err = async (p: Promise<unknown>) =>
      (await p.then(
        () => null,
        (e: unknown) => e,
      )) as ClusterError;
    const notInPool = await err(d.setNodeMode('hpool', 'other', 'idle'));
    expect([notInPool.code, notInPool.permanent]).toEqual(['not-found', true]);
    const missing = await err(d.setNodeMode('hpool', 'gpu-404', 'idle'));
    expect([missing.code, missing.permanent]).toEqual(['not-found', true]);
    const noHash = await err(d.setNodeMode('nohash', 'other', 'hashing'));
    expect([noHash.code, noHash.permanent]).toEqual(['not-allowed', true]);
    const unknownPool = await err(d.setNodeMode('nopool', 'gpu-2', 'idle'));
    expect(unknownPool.code).toBe('not-found');
    // A cordoned node is not ready: not moved, and listed as not ready.
    const cordoned = node('gpu-2');
    cordoned.spec = { ...(cordoned.spec ?? {}), unschedulable: true };
    server.seed(cordoned);
    const nr = await err(d.setNodeMode('hpool', 'gpu-2', 'serving'));
    expect([nr.code, nr.permanent]).toEqual(['not-ready', false]);
    expect((await d.listNodes('hpool')).find((x) => x.node === 'gpu-2')?.ready).toBe(false);
    // A server error is transient.
    server.fail({ method: 'GET', status: 503, times: 1 });
    const down = await err(d.listNodes('hpool'));
    expect([down.code, down.permanent]).toEqual(['server-error', false]);
  });

  it('drains a node leaving serving first, and leaves it serving while a PodDisruptionBudget keeps a pod', async () => {
    const workloads = new KubeWorkloads({ kubeConfig: server.kubeConfig(), namespace: 'default' });
    const d = new KubernetesClusterDriver({
      kubeConfig: server.kubeConfig(),
      farm,
      drain: (n) => workloads.drainNode(n, { podSelector: ORDER_LABEL }),
    });
    const orderPod = (name: string, order: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: 'default',
        labels: { [ORDER_LABEL]: order, 'app.kubernetes.io/managed-by': 'switchyard' },
      },
      spec: { nodeName: 'gpu-3', containers: [{ name: 'c', image: 'x' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    server.seed(orderPod('kept-0', 'kept'));
    server.seed({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'kept', namespace: 'default' },
      spec: { minAvailable: 1, selector: { matchLabels: { [ORDER_LABEL]: 'kept' } } },
    });
    const blocked = (await d.setNodeMode('hpool', 'gpu-3', 'idle').then(
      () => null,
      (e: unknown) => e,
    )) as ClusterError;
    expect([blocked.code, blocked.permanent]).toEqual(['busy', false]);
    expect(blocked.message).toMatch(/PodDisruptionBudget/);
    expect(node('gpu-3').metadata?.labels?.[MODE_LABEL]).toBe('serving');
    // Once the budget allows it, the pod is evicted and the node moves.
    server.seed({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'kept', namespace: 'default' },
      spec: { minAvailable: 0, selector: { matchLabels: { [ORDER_LABEL]: 'kept' } } },
    });
    const r = await d.setNodeMode('hpool', 'gpu-3', 'idle');
    expect(r.changed).toBe(true);
    expect(server.find('v1', 'Pod', 'kept-0', 'default')).toBeUndefined();
  });
});

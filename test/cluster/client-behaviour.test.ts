// The real @kubernetes/client-node 2.x against the fake API server: the calls cluster mode makes
// (nodes, Jobs, custom resources and their status, Leases), the pitfalls PROTOCOLS.md warns of
// (a patch's content type, ApiException bodies, informers after 410 Gone and dropped watches),
// and how failures map to ClusterErrors.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ApiException,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type KubeConfig,
  type KubernetesObject,
  type V1Node,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  callOptions,
  ClusterError,
  clusterErrorFromKube,
  isAlreadyExists,
  isConflict,
  isNotFound,
  kubeConfigFor,
  kubeStatusOf,
} from '@switchyard/cluster';
import type { FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { startFakeApiServer } from '../support/kube/fake-apiserver.ts';
import { chartCrds, gpuNode, widget, widgetCrd, WIDGET_GROUP } from '../support/kube/fixtures.ts';
import type { KubeObject } from '../support/kube/objects.ts';

const ROOT = join(__dirname, '..', '..');
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let api: FakeApiServer;
let kc: KubeConfig;

beforeEach(async () => {
  api = await startFakeApiServer({ namespaces: ['default', 'switchyard'], crds: [widgetCrd] });
  kc = api.kubeConfig({ user: 'controller' });
});
afterEach(() => api.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

describe('CoreV1Api: GPU nodes', () => {
  beforeEach(() => {
    api.seed(gpuNode('gpu-1', { 'switchyard.io/pool': 'h100' }));
    api.seed(gpuNode('gpu-2', { 'switchyard.io/pool': 'h100' }));
    api.seed(gpuNode('cpu-1', { 'nvidia.com/gpu.product': 'none' }));
  });

  it('lists by label selector and merge-patches labels, taints and the cordon', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const list = await core.listNode({ labelSelector: 'switchyard.io/pool=h100' });
    expect(list.items.map((n) => n.metadata?.name)).toEqual(['gpu-1', 'gpu-2']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(list.items[0]?.status?.allocatable?.['nvidia.com/gpu']).toBe('8');
    const patched = await core.patchNode(
      {
        name: 'gpu-1',
        body: {
          metadata: {
            labels: { 'switchyard.io/mode': 'serving' },
            resourceVersion: list.items[0]?.metadata?.resourceVersion,
          },
          spec: {
            unschedulable: true,
            taints: [{ key: 'switchyard.io/mode', value: 'serving', effect: 'NoSchedule' }],
          },
        },
      },
      merge,
    );
    expect(patched.metadata?.labels?.['switchyard.io/mode']).toBe('serving');
    expect(patched.spec).toEqual({
      unschedulable: true,
      taints: [{ key: 'switchyard.io/mode', value: 'serving', effect: 'NoSchedule' }],
    });
    expect(patched.metadata?.generation).toBe(2);
    // the same patch from the old version now conflicts
    const stale = await rejection(
      core.patchNode(
        {
          name: 'gpu-1',
          body: {
            metadata: { resourceVersion: list.items[0]?.metadata?.resourceVersion },
            spec: { unschedulable: false },
          },
        },
        merge,
      ),
    );
    expect(stale).toBeInstanceOf(ApiException);
    expect(isConflict(stale)).toBe(true);
    expect(typeof (stale as ApiException<unknown>).body).toBe('string'); // the raw Status text
    const cordoned = await core.listNode({ fieldSelector: 'spec.unschedulable=true' });
    expect(cordoned.items.map((n) => n.metadata?.name)).toEqual(['gpu-1']);
  });

  it('sends a patch as JSON patch unless told otherwise, which a merge body cannot be', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const e = await rejection(core.patchNode({ name: 'gpu-1', body: { spec: { unschedulable: true } } }));
    expect(kubeStatusOf(e)).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect(api.requestsMatching({ method: 'PATCH' })[0]?.contentType).toBe('application/json-patch+json');
    const ok = await core.patchNode({
      name: 'gpu-1',
      body: [{ op: 'add', path: '/spec/unschedulable', value: true }],
    });
    expect(ok.spec?.unschedulable).toBe(true);
  });
});

describe('BatchV1Api: inference Jobs', () => {
  it('creates and deletes a Job with a grace period', async () => {
    const batch = kc.makeApiClient(BatchV1Api);
    const job = await batch.createNamespacedJob({
      namespace: 'switchyard',
      body: {
        metadata: {
          generateName: 'order-',
          labels: { 'switchyard.io/order': 'o-1', 'switchyard.io/broker': 'acme' },
        },
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              priorityClassName: 'switchyard-inference',
              containers: [
                {
                  name: 'infer',
                  image: 'vllm/vllm-openai:latest',
                  resources: { limits: { 'nvidia.com/gpu': '8' } },
                },
              ],
            },
          },
        },
        status: { active: 5 },
      },
    });
    const name = job.metadata?.name as string;
    expect(name).toMatch(/^order-/);
    expect(job.status).toBeUndefined(); // status is not the client's to set
    const listed = await batch.listNamespacedJob({
      namespace: 'switchyard',
      labelSelector: 'switchyard.io/order=o-1',
    });
    expect(listed.items).toHaveLength(1);
    const status = await batch.deleteNamespacedJob({
      name,
      namespace: 'switchyard',
      gracePeriodSeconds: 60,
      propagationPolicy: 'Background',
    });
    expect(status.status).toBe('Success');
    expect(api.requestsMatching({ method: 'DELETE' })[0]?.query.get('gracePeriodSeconds')).toBe('60');
    const gone = await rejection(batch.readNamespacedJob({ name, namespace: 'switchyard' }));
    expect(isNotFound(gone)).toBe(true);
    const dup = await rejection(
      batch.createNamespacedJob({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }),
    );
    expect(kubeStatusOf(dup)).toMatchObject({ code: 404, message: 'namespaces "nowhere" not found' });
  });
});

describe('CustomObjectsApi: Switchyard resources and their status', () => {
  const ref = { group: WIDGET_GROUP, version: 'v1', namespace: 'default', plural: 'widgets' };

  it('creates, reads, merge-patches and writes status', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const created = (await custom.createNamespacedCustomObject({
      ...ref,
      body: widget('w1', { size: 2 }),
    })) as KubeObject;
    expect(created.metadata.generation).toBe(1);
    const again = await rejection(custom.createNamespacedCustomObject({ ...ref, body: widget('w1') }));
    expect(isAlreadyExists(again)).toBe(true);
    const patched = (await custom.patchNamespacedCustomObject(
      { ...ref, name: 'w1', body: { spec: { mode: 'hashing' } } },
      merge,
    )) as KubeObject;
    expect(patched.spec).toEqual({ size: 2, mode: 'hashing' });
    expect(patched.metadata.generation).toBe(2);
    const withStatus = (await custom.replaceNamespacedCustomObjectStatus({
      ...ref,
      name: 'w1',
      body: { ...patched, status: { phase: 'Ready', observedGeneration: 2 } },
    })) as KubeObject;
    expect(withStatus.status).toEqual({ phase: 'Ready', observedGeneration: 2 });
    expect(withStatus.metadata.generation).toBe(2);
    const read = (await custom.getNamespacedCustomObject({ ...ref, name: 'w1' })) as KubeObject;
    expect(read).toEqual(withStatus);
  });

  it('refuses a patch without the merge content type, and strategic merge', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ ...ref, body: widget('w1') });
    const plain = await rejection(
      custom.patchNamespacedCustomObject({ ...ref, name: 'w1', body: { spec: { size: 3 } } }),
    );
    expect(kubeStatusOf(plain)?.code).toBe(400);
    const smp = await rejection(
      custom.patchNamespacedCustomObject(
        { ...ref, name: 'w1', body: { spec: { size: 3 } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(kubeStatusOf(smp)).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
    const err = clusterErrorFromKube(smp, 'PATCH widget w1');
    expect(err).toMatchObject({ code: 'invalid-request', status: 415, permanent: true });
    expect(err.message).toMatch(
      /^PATCH widget w1: 415 UnsupportedMediaType: the body of the request was in an unknown format/,
    );
  });

  it('applies with a field manager through callOptions', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const applied = (await custom.patchNamespacedCustomObject(
      {
        ...ref,
        name: 'w2',
        body: widget('w2', { size: 4 }),
        fieldManager: 'switchyard-controller',
        force: true,
      },
      callOptions({ patch: PatchStrategy.ServerSideApply }),
    )) as KubeObject;
    expect(applied.spec).toEqual({ size: 4, mode: 'idle' });
    expect(applied.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: 'switchyard-controller', operation: 'Apply' }),
    ]);
  });

  it('serves the chart’s CRDs and takes the example farm as custom resources', async () => {
    const crds = chartCrds(ROOT);
    if (crds.length === 0) return; // the chart's CRDs are generated elsewhere; nothing to load yet
    for (const crd of crds) api.registerCrd(crd);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const docs = parseAllDocuments(readFileSync(join(ROOT, 'examples/farm.yaml'), 'utf8')).map(
      (d) => d.toJS() as KubeObject,
    );
    for (const doc of docs) {
      const [group, version] = (doc.apiVersion as string).split('/') as [string, string];
      const kind = api.resources
        .kinds()
        .find((k) => k.group === group && k.version === version && k.kind === doc.kind);
      expect(kind).toBeDefined();
      const body = kind?.namespaced
        ? { ...doc, metadata: { ...doc.metadata, namespace: 'switchyard' } }
        : doc;
      await (kind?.namespaced
        ? custom.createNamespacedCustomObject({
            group,
            version,
            plural: kind.plural,
            namespace: 'switchyard',
            body,
          })
        : custom.createClusterCustomObject({ group, version, plural: kind?.plural as string, body }));
    }
    const stored = api.resources
      .kinds()
      .filter((k) => k.group === 'switchyard.io')
      .flatMap((k) => api.list(`${k.group}/${k.version}`, k.kind));
    expect(stored).toHaveLength(docs.length);
  });
});

describe('CoordinationV1Api: Leases', () => {
  it('refuses a replace from a stale resourceVersion with 409', async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const now = new V1MicroTime(Date.now());
    const lease = await coord.createNamespacedLease({
      namespace: 'switchyard',
      body: {
        metadata: { name: 'leader' },
        spec: {
          holderIdentity: 'a',
          leaseDurationSeconds: 2,
          renewTime: now,
          acquireTime: now,
          leaseTransitions: 1,
        },
      },
    });
    expect(typeof lease.spec?.renewTime).toBe('string'); // MicroTime is not turned back into a Date
    const mine = await coord.replaceNamespacedLease({
      name: 'leader',
      namespace: 'switchyard',
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } },
    });
    expect(mine.spec?.holderIdentity).toBe('b');
    const late = await rejection(
      coord.replaceNamespacedLease({
        name: 'leader',
        namespace: 'switchyard',
        body: { ...lease, spec: { ...lease.spec, holderIdentity: 'c' } },
      }),
    );
    expect(isConflict(late)).toBe(true);
    expect(clusterErrorFromKube(late, 'PUT lease')).toMatchObject({
      code: 'busy',
      status: 409,
      permanent: false,
    });
    // a plain Date is sent with milliseconds, which a real server cannot decode as MicroTime
    const plain = await rejection(
      coord.replaceNamespacedLease({
        name: 'leader',
        namespace: 'switchyard',
        body: { ...mine, spec: { ...mine.spec, renewTime: new Date() as V1MicroTime } },
      }),
    );
    expect(kubeStatusOf(plain)?.code).toBe(400);
  });
});

describe('informers', () => {
  function nodeInformer() {
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1Node>(kc, '/api/v1/nodes', () => core.listNode());
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (n) => seen.push(`add ${n.metadata?.name}`));
    informer.on('update', (n) => seen.push(`update ${n.metadata?.name}`));
    informer.on('delete', (n) => seen.push(`delete ${n.metadata?.name}`));
    informer.on('error', (e) => errors.push(e));
    return {
      informer,
      seen,
      errors,
      lists: () => api.requestsMatching({ path: '/api/v1/nodes', method: 'GET', watch: false }).length,
    };
  }

  it('sees adds, updates and deletes', async () => {
    api.seed(gpuNode('gpu-1'));
    const { informer, seen } = nodeInformer();
    await informer.start();
    try {
      expect(seen).toEqual(['add gpu-1']);
      api.seed(gpuNode('gpu-2'));
      api.seed(gpuNode('gpu-1', { 'switchyard.io/mode': 'idle' }));
      await kc.makeApiClient(CoreV1Api).deleteNode({ name: 'gpu-2' });
      await until(() => seen.length === 4, 'four events');
      expect(seen).toEqual(['add gpu-1', 'add gpu-2', 'update gpu-1', 'delete gpu-2']);
      expect(informer.list().map((n) => n.metadata?.name)).toEqual(['gpu-1']);
      expect(informer.get('gpu-1')?.metadata?.labels?.['switchyard.io/mode']).toBe('idle');
    } finally {
      await informer.stop();
    }
  });

  it('lists again after 410 Gone, as an ERROR event on an open watch or on reconnecting', async () => {
    api.seed(gpuNode('gpu-1'));
    const { informer, seen, errors, lists } = nodeInformer();
    await informer.start();
    try {
      expect(lists()).toBe(1);
      // an open watch told its history is gone
      api.compact({ expireWatches: true });
      await until(() => lists() === 2 && api.watchCount() === 1, 'a second list and a new watch');
      api.seed(gpuNode('gpu-2'));
      await until(() => seen.includes('add gpu-2'), 'gpu-2 added');
      // a reconnect from a forgotten version, missing a delete that happened meanwhile
      const pause = api.pause({ watch: true });
      api.dropWatches();
      await kc.makeApiClient(CoreV1Api).deleteNode({ name: 'gpu-1' });
      api.compact();
      pause.resume();
      await until(() => seen.includes('delete gpu-1'), 'gpu-1 deleted after the re-list');
      expect(lists()).toBe(3);
      expect(errors).toEqual([]);
      expect(informer.list().map((n) => n.metadata?.name)).toEqual(['gpu-2']);
    } finally {
      await informer.stop();
    }
  });

  it('lists again when the reconnect itself is refused with HTTP 410', async () => {
    await api.close();
    api = await startFakeApiServer({ goneAs: 'status' });
    kc = api.kubeConfig({ user: 'controller' });
    api.seed(gpuNode('gpu-1'));
    const { informer, seen, lists } = nodeInformer();
    await informer.start();
    try {
      const pause = api.pause({ watch: true });
      api.dropWatches();
      api.seed(gpuNode('gpu-2'));
      api.compact();
      pause.resume();
      await until(
        () => seen.includes('add gpu-2') && lists() === 2 && api.watchCount() === 1,
        'gpu-2 from a re-list, then a watch',
      );
      expect(api.requestsMatching({ watch: true }).map((r) => r.status)).toEqual([200, 410, 200]);
    } finally {
      await informer.stop();
    }
  });

  it('reconnects by itself after a clean close, but stops on a reset until restarted', async () => {
    const { informer, seen, errors } = nodeInformer();
    await informer.start();
    try {
      api.dropWatches();
      await until(() => api.watchCount() === 1, 'a new watch');
      api.seed(gpuNode('gpu-1'));
      await until(() => seen.includes('add gpu-1'), 'gpu-1 after the reconnect');
      // a reset connection is an error: the informer reports it and stops watching
      api.dropWatches({ abrupt: true });
      await until(() => errors.length === 1, 'the error callback');
      api.seed(gpuNode('gpu-2'));
      await sleep(100);
      expect(api.watchCount()).toBe(0);
      expect(seen).not.toContain('add gpu-2');
      await informer.start(); // what a controller must do on 'error'
      await until(() => seen.includes('add gpu-2'), 'gpu-2 after the restart');
    } finally {
      await informer.stop();
    }
  });

  it('gets the events a stalled watch held once the stall ends', async () => {
    const { informer, seen } = nodeInformer();
    await informer.start();
    try {
      const stall = api.pause({ watch: true });
      api.seed(gpuNode('gpu-1'));
      await sleep(100);
      expect(seen).toEqual([]);
      stall.resume();
      await until(() => seen.includes('add gpu-1'), 'the held event');
    } finally {
      await informer.stop();
    }
  });

  it('watches custom resources', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: WIDGET_GROUP, version: 'v1', namespace: 'default', plural: 'widgets' };
    const informer = makeInformer<KubernetesObject>(
      kc,
      `/apis/${WIDGET_GROUP}/v1/namespaces/default/widgets`,
      () => custom.listNamespacedCustomObject(ref),
    );
    const seen: string[] = [];
    informer.on('change', (o) => seen.push(`${o.metadata?.name}@${o.metadata?.resourceVersion}`));
    await informer.start();
    try {
      await custom.createNamespacedCustomObject({ ...ref, body: widget('w1') });
      await custom.patchNamespacedCustomObject({ ...ref, name: 'w1', body: { spec: { size: 5 } } }, merge);
      await until(() => seen.length === 2, 'add and update');
    } finally {
      await informer.stop();
    }
  });
});

describe('errors and configuration', () => {
  it('maps statuses, timeouts, aborts and an unreachable server to ClusterErrors', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const cases: Array<[number, string]> = [
      [404, 'not-found'],
      [410, 'busy'],
      [429, 'busy'],
      [500, 'server-error'],
      [403, 'invalid-config'],
      [422, 'invalid-request'],
    ];
    for (const [status, code] of cases) {
      api.fail({ path: '/api/v1/nodes', status, retryAfterSeconds: status === 429 ? 2 : undefined });
      const e = clusterErrorFromKube(await rejection(core.listNode()), 'GET nodes');
      expect([status, e.code, e.status]).toEqual([status, code, status]);
    }
    api.fail({ path: '/api/v1/pods', status: 429, retryAfterSeconds: 2 });
    expect(kubeStatusOf(await rejection(core.listPodForAllNamespaces()))?.retryAfterSeconds).toBe(2);

    api.pause({ path: '/api/v1/nodes' });
    const slow = await rejection(core.listNode(undefined, callOptions({ timeoutMs: 100 })));
    expect(clusterErrorFromKube(slow, 'GET nodes')).toMatchObject({ code: 'timeout' });
    const ac = new AbortController();
    const pending = rejection(core.listNode(undefined, callOptions({ signal: ac.signal })));
    ac.abort();
    expect(clusterErrorFromKube(await pending, 'GET nodes', ac.signal)).toMatchObject({ code: 'aborted' });
    api.resume();

    const url = api.url;
    await api.close();
    const down = kubeConfigFor({ server: url }).makeApiClient(CoreV1Api);
    const e = clusterErrorFromKube(await rejection(down.listNode()), 'GET nodes');
    expect(e).toMatchObject({ code: 'unreachable' });
    expect(e.message).toBe('GET nodes: unreachable (ECONNREFUSED)');
  });

  it('builds a KubeConfig for a URL and refuses what is not one', () => {
    const k = kubeConfigFor({ server: 'https://10.0.0.1:6443/', token: 't', namespace: 'switchyard' });
    expect(k.getCurrentCluster()).toMatchObject({ server: 'https://10.0.0.1:6443', skipTLSVerify: false });
    expect(k.getCurrentUser()).toMatchObject({ token: 't' });
    expect(k.getContextObject(k.getCurrentContext())?.namespace).toBe('switchyard');
    expect(kubeConfigFor({ server: 'http://127.0.0.1:1' }).getCurrentCluster()?.skipTLSVerify).toBe(true);
    for (const server of ['not a url', 'ftp://x', 'https://u:p@x']) {
      expect(() => kubeConfigFor({ server })).toThrow(ClusterError);
    }
  });
});

// InferenceOrderReconciler with the real @kubernetes/client-node client against the fake API server
// serving the chart's generated CRDs (which checks every status written against the CRD's status
// schema), and the order book in a real PostgreSQL database: resources become bid orders of the
// `cluster` broker, idempotently; statuses follow the orders; a deleted resource cancels its order;
// a changed spec leaves the order alone and says so; failures go to onError.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import { callOptions, kubeStatusOf } from '@switchyard/cluster';
import { BrokerRepository, OrderRepository, sql, type OrderRecord } from '@switchyard/db';
import { CRD_API_VERSION, CRD_GROUP, CRD_VERSION } from '@switchyard/domain';
import {
  InferenceOrderReconciler,
  inferenceOrderRequest,
  type InferenceOrderReconcilerOptions,
  type InferenceOrderRef,
} from '@switchyard/controller';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { chartCrds } from '../support/kube/fixtures.ts';
import type { KubeObject } from '../support/kube/objects.ts';

const CRDS = chartCrds(join(__dirname, '..', '..'));
const REF = { group: CRD_GROUP, version: CRD_VERSION, plural: 'inferenceorders' };
const merge = callOptions({ patch: PatchStrategy.MergePatch });

let m: MigratedDatabase;
let api: FakeApiServer;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let orders: OrderRepository;
let errors: Array<{ error: Error; resource: InferenceOrderRef | undefined }>;
const reconcilers: InferenceOrderReconciler[] = [];

function reconciler(opts: Partial<InferenceOrderReconcilerOptions> = {}): InferenceOrderReconciler {
  const r = new InferenceOrderReconciler({
    kubeConfig: kc,
    db: m.handle.db,
    onError: (error, resource) => errors.push({ error, resource }),
    ...opts,
  });
  reconcilers.push(r);
  return r;
}

const spec = (over: Record<string, unknown> = {}) => ({
  gpuModels: ['H100-SXM-80GB', 'H200-SXM-141GB'],
  gpuCount: 16,
  minVramGiB: 80,
  durationSeconds: 7200,
  tier: 'on-demand',
  maxUsdPerGpuHour: 3.25,
  noticeSeconds: 600,
  image: 'ghcr.io/acme/vllm-server:0.6.3',
  args: ['--model', 'meta-llama/Llama-3.1-70B-Instruct'],
  ...over,
});

async function place(namespace: string, name: string, s: Record<string, unknown>): Promise<KubeObject> {
  return (await custom.createNamespacedCustomObject({
    ...REF,
    namespace,
    body: { apiVersion: CRD_API_VERSION, kind: 'InferenceOrder', metadata: { name, namespace }, spec: s },
  })) as KubeObject;
}

const stored = (namespace: string, name: string) =>
  api.find(CRD_API_VERSION, 'InferenceOrder', name, namespace) as KubeObject;
const statusOf = (namespace: string, name: string) =>
  (stored(namespace, name).status ?? {}) as Record<string, unknown>;
const conditionOf = (namespace: string, name: string, type: string) =>
  ((statusOf(namespace, name).conditions ?? []) as Array<Record<string, unknown>>).find(
    (c) => c.type === type,
  );
const statusPatches = () =>
  api.requestsMatching({ method: 'PATCH', path: /\/inferenceorders\/[^/]+\/status$/ });

async function clusterOrders(): Promise<OrderRecord[]> {
  const broker = (await new BrokerRepository(m.handle.db).list()).find((b) => b.name === 'cluster');
  if (!broker) return [];
  return (await orders.list({ brokerId: broker.id, limit: 200 })).items;
}

async function orderOf(namespace: string, name: string): Promise<OrderRecord> {
  const id = statusOf(namespace, name).orderId as string;
  const order = await orders.get(id);
  if (!order) throw new Error(`no order for ${namespace}/${name}`);
  return order;
}

beforeAll(async () => {
  m = await openMigratedDatabase('pg');
  orders = new OrderRepository(m.handle.db);
});
afterAll(async () => {
  await m?.cleanup();
});
beforeEach(async () => {
  await m.handle.db.execute(sql`truncate brokers, orders, order_events, audit_log restart identity cascade`);
  api = await startFakeApiServer({ namespaces: ['ml-team', 'research'], crds: CRDS });
  kc = api.kubeConfig({ user: 'controller' });
  custom = kc.makeApiClient(CustomObjectsApi);
  errors = [];
});
afterEach(async () => {
  for (const r of reconcilers.splice(0)) await r.close();
  await api.close();
});

const inTwoHours = () => new Date(Date.now() + 2 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const SWEEP = () => ({
  gpuModels: ['A100-SXM-40GB'],
  gpuCount: 2,
  endBy: inTwoHours(),
  tier: 'interruptible',
  maxUsdPerGpuHour: 0.5,
  image: `registry.local:5000/research/sweep@sha256:${'a'.repeat(64)}`,
});

describe('InferenceOrderReconciler', () => {
  it('places one bid order per resource, across namespaces, with the spec’s terms', async () => {
    const llama = await place('ml-team', 'llama-eval', spec());
    const sweepSpec = SWEEP();
    const sweep = await place('research', 'sweep', sweepSpec);
    const r = reconciler();
    expect(await r.syncOnce()).toEqual({
      listed: true,
      resources: 2,
      created: 2,
      statusWritten: 2,
      cancelled: 0,
      errors: 0,
    });
    const [b] = await new BrokerRepository(m.handle.db).list();
    expect(b).toMatchObject({ name: 'cluster', kind: 'compute' });
    expect(await clusterOrders()).toHaveLength(2);

    const a = await orderOf('ml-team', 'llama-eval');
    expect(a).toMatchObject({
      brokerId: b?.id,
      state: 'pending',
      tier: 'on-demand',
      gpuModels: ['H100-SXM-80GB', 'H200-SXM-141GB'],
      gpuCount: 16,
      minVramGib: 80,
      maxUsdPerGpuHour: '3.2500',
      priceUsdPerGpuHour: '3.2500',
      durationSeconds: 7200,
      endBy: null,
      noticeSeconds: 600,
      image: 'ghcr.io/acme/vllm-server:0.6.3',
      args: ['--model', 'meta-llama/Llama-3.1-70B-Instruct'],
      idempotencyKey: `k8s:${llama.metadata.uid}`,
    });
    const s = await orderOf('research', 'sweep');
    expect(s).toMatchObject({
      tier: 'interruptible',
      gpuModels: ['A100-SXM-40GB'],
      gpuCount: 2,
      minVramGib: 0, // the CRD's default
      maxUsdPerGpuHour: '0.5000',
      durationSeconds: null,
      endBy: new Date(sweepSpec.endBy),
      noticeSeconds: 120, // the tier's default
      args: [],
      idempotencyKey: `k8s:${sweep.metadata.uid}`,
    });
    expect((await orders.events(s.id))[0]?.reason).toBe('placed by InferenceOrder research/sweep');

    // the statuses, written through /status as merge patches the server accepted
    expect(statusOf('ml-team', 'llama-eval')).toEqual({
      observedGeneration: 1,
      state: 'pending',
      orderId: a.id,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          observedGeneration: 1,
          lastTransitionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
          reason: 'Pending',
          message: 'the order waits for the planner',
        },
      ],
    });
    const patches = statusPatches();
    expect(patches.map((p) => [p.path, p.contentType, p.status, p.query.get('fieldManager')])).toEqual(
      expect.arrayContaining([
        [
          '/apis/switchyard.io/v1alpha1/namespaces/ml-team/inferenceorders/llama-eval/status',
          'application/merge-patch+json',
          200,
          'switchyard-controller',
        ],
        [
          '/apis/switchyard.io/v1alpha1/namespaces/research/inferenceorders/sweep/status',
          'application/merge-patch+json',
          200,
          'switchyard-controller',
        ],
      ]),
    );
    expect(stored('ml-team', 'llama-eval').metadata.generation).toBe(1);
    expect(errors).toEqual([]);
  });

  it('syncing again, or from a second reconciler, places nothing more and writes nothing', async () => {
    await place('ml-team', 'llama-eval', spec());
    await place('research', 'sweep', SWEEP());
    // two reconcilers at once: one broker row, one order per resource
    const [x, y] = await Promise.all([reconciler().syncOnce(), reconciler().syncOnce()]);
    expect((x?.created ?? 0) + (y?.created ?? 0)).toBe(2);
    expect(await new BrokerRepository(m.handle.db).list()).toHaveLength(1);
    const r = reconciler();
    expect(await r.syncOnce()).toMatchObject({ created: 0, statusWritten: 0, errors: 0 });
    expect(await r.syncOnce()).toMatchObject({ created: 0, statusWritten: 0, errors: 0 });
    expect(await clusterOrders()).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('follows the order through its states on the next sync', async () => {
    await place('ml-team', 'llama-eval', spec());
    const r = reconciler();
    await r.syncOnce();
    const id = (await orderOf('ml-team', 'llama-eval')).id;

    expect(await orders.transition(id, ['pending'], 'admitted', 'fits', { pool: 'h100-a' })).toMatchObject({
      ok: true,
    });
    expect(await r.syncOnce()).toMatchObject({ statusWritten: 1, errors: 0 });
    expect(statusOf('ml-team', 'llama-eval')).toMatchObject({ state: 'admitted', pool: 'h100-a' });
    expect(conditionOf('ml-team', 'llama-eval', 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Admitted',
    });

    const started = await orders.transition(id, ['admitted'], 'running', 'job started');
    await r.syncOnce();
    expect(statusOf('ml-team', 'llama-eval')).toMatchObject({
      state: 'running',
      startedAt: (started as { order: OrderRecord }).order.startedAt!.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    expect(conditionOf('ml-team', 'llama-eval', 'Ready')).toMatchObject({
      status: 'True',
      reason: 'Running',
    });

    await orders.announcePreemption(id, new Date('2099-01-01T00:10:00Z'), 'a reserved order needs it');
    await r.syncOnce();
    expect(statusOf('ml-team', 'llama-eval')).toMatchObject({
      state: 'preempting',
      preemptAt: '2099-01-01T00:10:00Z',
    });

    await orders.transition(id, ['preempting'], 'preempted', 'notice over');
    await r.syncOnce();
    const status = statusOf('ml-team', 'llama-eval');
    expect(status).toMatchObject({ state: 'preempted', pool: 'h100-a', endedAt: expect.any(String) });
    expect(status).not.toHaveProperty('preemptAt'); // dropped with a null in the merge patch
    expect(conditionOf('ml-team', 'llama-eval', 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Preempted',
    });
    expect(errors).toEqual([]);
  });

  it('cancels the order of a deleted resource, and only that one', async () => {
    await place('ml-team', 'llama-eval', spec());
    await place('research', 'sweep', SWEEP());
    const told: OrderRecord[] = [];
    const r = reconciler({ onCancelled: (o) => void told.push(o) });
    await r.syncOnce();
    const gone = await orderOf('ml-team', 'llama-eval');
    const kept = await orderOf('research', 'sweep');
    await custom.deleteNamespacedCustomObject({ ...REF, namespace: 'ml-team', name: 'llama-eval' });
    expect(await r.syncOnce()).toMatchObject({ resources: 1, cancelled: 1, errors: 0 });
    expect(await orders.get(gone.id)).toMatchObject({ state: 'cancelled', endedAt: expect.any(Date) });
    expect((await orders.events(gone.id)).at(-1)).toMatchObject({
      fromState: 'pending',
      toState: 'cancelled',
      reason: 'InferenceOrder deleted',
    });
    expect(told.map((o) => [o.id, o.state])).toEqual([[gone.id, 'cancelled']]);
    expect(await orders.get(kept.id)).toMatchObject({ state: 'pending' });
    expect(await r.syncOnce()).toMatchObject({ cancelled: 0 });

    // a reconciler that never saw it (a restart) still notices; an ended order is left alone
    await orders.transition(kept.id, ['pending'], 'failed', 'image pull failed');
    await custom.deleteNamespacedCustomObject({ ...REF, namespace: 'research', name: 'sweep' });
    await place('research', 'again', spec({ tier: 'reserved', noticeSeconds: undefined }));
    const fresh = reconciler();
    expect(await fresh.syncOnce()).toMatchObject({ resources: 1, created: 1, cancelled: 0, errors: 0 });
    expect(await orders.get(kept.id)).toMatchObject({ state: 'failed' });
    expect(await orderOf('research', 'again')).toMatchObject({ state: 'pending', noticeSeconds: 3600 });
    expect(errors).toEqual([]);
  });

  it('leaves the order as placed when the spec changes, and sets SpecChanged', async () => {
    await place('ml-team', 'llama-eval', spec());
    const r = reconciler();
    await r.syncOnce();
    const before = await orderOf('ml-team', 'llama-eval');
    await custom.patchNamespacedCustomObject(
      { ...REF, namespace: 'ml-team', name: 'llama-eval', body: { spec: { gpuCount: 32 } } },
      merge,
    );
    expect(stored('ml-team', 'llama-eval').metadata.generation).toBe(2);
    expect(await r.syncOnce()).toMatchObject({ created: 0, statusWritten: 1, errors: 0 });
    expect(await orderOf('ml-team', 'llama-eval')).toEqual(before);
    expect(await clusterOrders()).toHaveLength(1);
    expect(statusOf('ml-team', 'llama-eval')).toMatchObject({ observedGeneration: 2, orderId: before.id });
    expect(conditionOf('ml-team', 'llama-eval', 'SpecChanged')).toMatchObject({
      status: 'True',
      reason: 'OrderImmutable',
      observedGeneration: 2,
    });
    // a restarted reconciler (nothing cached) sees the same
    expect(await reconciler().syncOnce()).toMatchObject({ created: 0, statusWritten: 0, errors: 0 });

    // changed back: the condition turns False
    await custom.patchNamespacedCustomObject(
      { ...REF, namespace: 'ml-team', name: 'llama-eval', body: { spec: { gpuCount: 16 } } },
      merge,
    );
    await r.syncOnce();
    expect(conditionOf('ml-team', 'llama-eval', 'SpecChanged')).toMatchObject({
      status: 'False',
      reason: 'SpecMatchesOrder',
      observedGeneration: 3,
    });
    expect(errors).toEqual([]);
  });

  it('never sees an invalid resource: the API server refuses it', async () => {
    const refused = async (s: Record<string, unknown>) =>
      kubeStatusOf(
        await place('ml-team', 'bad', s).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
    expect(await refused(spec({ endBy: inTwoHours() }))).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(await refused(spec({ tier: 'premium' }))).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(await refused(spec({ gpuCount: 0 }))).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(await refused(spec({ image: 'Not An Image' }))).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(await reconciler().syncOnce()).toMatchObject({ listed: true, resources: 0, created: 0 });
    expect(await clusterOrders()).toEqual([]);
  });

  it('refuses an end-by out of bounds of the resource’s creation with a status, placing nothing', async () => {
    await place('ml-team', 'late', spec({ durationSeconds: undefined, endBy: '2099-01-01T00:00:00Z' }));
    expect(await reconciler().syncOnce()).toMatchObject({ created: 0, statusWritten: 1, errors: 0 });
    expect(statusOf('ml-team', 'late')).not.toHaveProperty('orderId');
    expect(conditionOf('ml-team', 'late', 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(conditionOf('ml-team', 'late', 'Ready')?.message).toMatch(/^spec\.endBy: must be 60 s to 90 days/);
    expect(await clusterOrders()).toEqual([]);
    // the reconciler checks the spec with the schema's own rules too (the CEL rule on notice)
    expect(inferenceOrderRequest(spec({ noticeSeconds: 30 }), new Date())).toEqual({
      ok: false,
      message: 'spec.noticeSeconds: on-demand orders need at least 60 s of notice',
    });
  });

  it('reports failures to onError without throwing, and catches up on the next sync', async () => {
    await place('ml-team', 'llama-eval', spec());
    const r = reconciler({ requestTimeoutMs: 300 });
    api.fail({ method: 'GET', path: /\/inferenceorders$/, status: 500 });
    expect(await r.syncOnce()).toMatchObject({ listed: false, errors: 1, created: 0 });
    expect(errors.map((e) => (e.error as { code?: string }).code)).toEqual(['server-error']);
    api.fail({ method: 'PATCH', path: /\/status$/, status: 'hang' });
    expect(await r.syncOnce()).toMatchObject({ created: 1, statusWritten: 0, errors: 1 });
    expect(errors[1]?.resource).toEqual({ namespace: 'ml-team', name: 'llama-eval' });
    expect(errors[1]?.error.message).toMatch(/^PATCH status of InferenceOrder ml-team\/llama-eval: /);
    expect(await r.syncOnce()).toMatchObject({ created: 0, statusWritten: 1, errors: 0 });
    expect(statusOf('ml-team', 'llama-eval')).toMatchObject({ state: 'pending' });
    expect(await clusterOrders()).toHaveLength(1);
  });

  it('polls after start() until close()', async () => {
    const r = reconciler({ intervalMs: 50 });
    expect(await r.start()).toMatchObject({ listed: true, resources: 0 });
    await place('ml-team', 'llama-eval', spec());
    const end = Date.now() + 3000;
    while (!statusOf('ml-team', 'llama-eval').orderId && Date.now() < end)
      await new Promise((res) => setTimeout(res, 20));
    expect(statusOf('ml-team', 'llama-eval')).toMatchObject({ state: 'pending' });
    await r.close();
    await r.close();
    const lists = api.requestsMatching({ method: 'GET', path: /\/inferenceorders$/ }).length;
    await new Promise((res) => setTimeout(res, 150));
    expect(api.requestsMatching({ method: 'GET', path: /\/inferenceorders$/ })).toHaveLength(lists);
  });
});

// KubeStatusWriter with the real @kubernetes/client-node client against the fake API server serving
// the chart's generated CRDs, whose status schemas the server checks every write against: merge
// patches to /status, observedGeneration, the Ready condition's transition time, skipped
// unchanged writes, 404s, failures retried by the next write, and bounded concurrency.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import {
  callOptions,
  kubeStatusOf,
  KubeStatusWriter,
  type ClusterError,
  type FarmKind,
  type FleetStatusInput,
  type KubeStatusWriterOptions,
  type StatusTarget,
} from '@switchyard/cluster';
import {
  CRD_API_VERSION,
  CRD_DEFINITIONS,
  CRD_GROUP,
  CRD_VERSION,
  parseFarmYaml,
  toCustomResource,
  type FarmResource,
} from '@switchyard/domain';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { chartCrds } from '../support/kube/fixtures.ts';
import type { KubeObject } from '../support/kube/objects.ts';

const ROOT = join(__dirname, '..', '..');
const parsed = parseFarmYaml(readFileSync(join(ROOT, 'examples/farm.yaml'), 'utf8'));
if (!parsed.ok) throw new Error('examples/farm.yaml does not load');
const FARM = parsed.farm;
const CRDS = chartCrds(ROOT);
const T0 = Date.parse('2026-03-01T12:00:00Z');

let api: FakeApiServer;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let clock: number;
let errors: Array<{ error: ClusterError; target: StatusTarget }>;
const writers: KubeStatusWriter[] = [];

const ref = (kind: FarmKind) => ({
  group: CRD_GROUP,
  version: CRD_VERSION,
  plural: CRD_DEFINITIONS[kind].plural,
});
const merge = callOptions({ patch: PatchStrategy.MergePatch });
const stored = (kind: FarmKind, name: string) => api.find(CRD_API_VERSION, kind, name) as KubeObject;
const statusOf = (kind: FarmKind, name: string) => stored(kind, name).status as Record<string, unknown>;
const patches = () => api.requestsMatching({ method: 'PATCH', path: /\/status$/ });
const asObject = (r: FarmResource) => toCustomResource(r) as unknown as KubeObject;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function writer(opts: Partial<KubeStatusWriterOptions> = {}): KubeStatusWriter {
  const w = new KubeStatusWriter({
    kubeConfig: kc,
    now: () => clock,
    onError: (error, target) => errors.push({ error, target }),
    ...opts,
  });
  writers.push(w);
  return w;
}

const fleet = (over: Partial<FleetStatusInput> = {}): FleetStatusInput => ({
  hashrateThs: 64000.5,
  powerKw: 2100.25,
  miners: { hashing: 600, sleeping: 20, ramping: 5, offline: 10, fault: 3, unknown: 2 },
  observedAt: new Date(T0),
  ...over,
});

beforeEach(async () => {
  api = await startFakeApiServer({ namespaces: ['default'], crds: CRDS });
  kc = api.kubeConfig({ user: 'controller' });
  custom = kc.makeApiClient(CustomObjectsApi);
  clock = T0;
  errors = [];
  for (const r of [...FARM.sites, ...FARM.policies, ...FARM.fleets, ...FARM.pools]) api.seed(asObject(r));
});
afterEach(async () => {
  for (const w of writers.splice(0)) await w.close();
  await api.close();
});

describe('KubeStatusWriter', () => {
  it('writes a fleet’s status through /status as a merge patch, with observedGeneration and Ready', async () => {
    const w = writer();
    expect(await w.writeFleet('rack-a1', fleet(), 1)).toBe('written');
    expect(statusOf('MinerFleet', 'rack-a1')).toEqual({
      observedAt: '2026-03-01T12:00:00Z',
      hashrateThs: 64000.5,
      powerKw: 2100.25,
      miners: { hashing: 600, sleeping: 20, ramping: 5, offline: 10, fault: 3, unknown: 2 },
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 1,
          lastTransitionTime: '2026-03-01T12:00:00Z',
          reason: 'Observed',
          message: 'the fleet is read and controlled',
        },
      ],
    });
    const [patch] = patches();
    expect(patch?.path).toBe('/apis/switchyard.io/v1alpha1/minerfleets/rack-a1/status');
    expect(patch?.contentType).toBe('application/merge-patch+json');
    expect(patch?.query.get('fieldManager')).toBe('switchyard-controller');
    expect(patch?.status).toBe(200);
    // the first write read the status it would replace
    expect(api.requestsMatching({ method: 'GET', path: /\/minerfleets\/rack-a1\/status$/ })).toHaveLength(1);
    expect(stored('MinerFleet', 'rack-a1').metadata.generation).toBe(1); // status is not spec
    expect(errors).toEqual([]);
  });

  it('skips unchanged writes; lastTransitionTime moves only when Ready’s status does', async () => {
    const w = writer();
    await w.writeFleet('rack-a1', fleet(), 1);
    clock += 60_000;
    expect(await w.writeFleet('rack-a1', fleet(), 1)).toBe('unchanged');
    expect(patches()).toHaveLength(1);
    expect(await w.writeFleet('rack-a1', fleet({ hashrateThs: 65000, observedAt: clock }), 1)).toBe(
      'written',
    );
    const ready = () => (statusOf('MinerFleet', 'rack-a1').conditions as Array<Record<string, unknown>>)[0];
    expect(statusOf('MinerFleet', 'rack-a1').hashrateThs).toBe(65000);
    expect(ready()?.lastTransitionTime).toBe('2026-03-01T12:00:00Z');
    clock += 60_000;
    const down = { status: 'False' as const, reason: 'Unreachable', message: 'no miner answers' };
    expect(await w.writeFleet('rack-a1', fleet({ observedAt: clock }), 1, down)).toBe('written');
    expect(ready()).toMatchObject({
      status: 'False',
      reason: 'Unreachable',
      lastTransitionTime: '2026-03-01T12:02:00Z',
    });
    clock += 60_000;
    expect(await w.writeFleet('rack-a1', fleet({ observedAt: clock }), 1, down)).toBe('written');
    expect(ready()?.lastTransitionTime).toBe('2026-03-01T12:02:00Z');
    expect(patches()).toHaveLength(4);
  });

  it('sets observedGeneration from the source after a spec change', async () => {
    const w = writer();
    await w.writeFleet('rack-a1', fleet(), 1);
    await custom.patchClusterCustomObject(
      { ...ref('MinerFleet'), name: 'rack-a1', body: { spec: { endpoints: { count: 600 } } } },
      merge,
    );
    const generation = stored('MinerFleet', 'rack-a1').metadata.generation as number;
    expect(generation).toBe(2);
    expect(await w.writeFleet('rack-a1', fleet(), generation)).toBe('written');
    expect(statusOf('MinerFleet', 'rack-a1')).toMatchObject({
      observedGeneration: 2,
      conditions: [expect.objectContaining({ observedGeneration: 2 })],
    });
  });

  it('writes pools (dropping a field no longer given), sites and policies', async () => {
    const w = writer();
    const nodes = { serving: 3, hashing: 2, idle: 1, unavailable: 0 };
    expect(await w.writePool('h100-a', { nodes, powerKw: 52.5, observedAt: T0 }, 1)).toBe('written');
    expect(statusOf('GpuPool', 'h100-a')).toMatchObject({
      nodes,
      powerKw: 52.5,
      observedAt: '2026-03-01T12:00:00Z',
    });
    expect(await w.writePool('h100-a', { nodes, observedAt: T0 + 10_000 }, 1)).toBe('written');
    expect(statusOf('GpuPool', 'h100-a')).not.toHaveProperty('powerKw');
    expect(JSON.parse(patches()[1]?.body ?? '{}')).toMatchObject({ status: { powerKw: null } });

    const lastPlan = {
      planId: 'plan-000042',
      at: '2026-03-01T11:59:30.250Z',
      solver: 'milp' as const,
      netUsdPerHour: -120.5,
      facilityKw: 41000,
    };
    expect(await w.writeSite('west-1', { lastPlan }, 1)).toBe('written');
    expect(statusOf('Site', 'west-1')).toMatchObject({
      lastPlan: { ...lastPlan, at: '2026-03-01T11:59:30Z' },
      observedGeneration: 1,
      conditions: [expect.objectContaining({ type: 'Ready', status: 'True', reason: 'Planned' })],
    });
    expect(await w.writePolicy('west-1-default', 1)).toBe('written');
    expect(statusOf('AllocationPolicy', 'west-1-default')).toMatchObject({
      observedGeneration: 1,
      conditions: [expect.objectContaining({ reason: 'Accepted' })],
    });
    expect(errors).toEqual([]);
  });

  it('is checked against the CRDs’ status schemas: the server refuses an invalid status', async () => {
    const e = await custom
      .patchClusterCustomObjectStatus(
        {
          ...ref('MinerFleet'),
          name: 'rack-a1',
          body: { status: { hashrateThs: -1, miners: { hashing: 'many' }, conditions: [{ type: 'Ready' }] } },
        },
        merge,
      )
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(kubeStatusOf(e)).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(kubeStatusOf(e)?.message).toMatch(/hashrateThs/);
    // the writer refuses it before sending, and says why
    const w = writer();
    expect(await w.writeFleet('rack-a1', fleet({ hashrateThs: Number.NaN }), 1)).toBe('failed');
    expect(errors[0]?.error).toMatchObject({ code: 'invalid-request' });
    expect(errors[0]?.error.message).toMatch(/^status of MinerFleet\/rack-a1: hashrateThs: /);
    expect(errors[0]?.target).toEqual({ kind: 'MinerFleet', name: 'rack-a1' });
    expect(await w.writeFleet('rack-a1', fleet(), 1, { reason: 'not camel case' })).toBe('failed');
    expect(patches()).toHaveLength(1); // only the deliberate one above
  });

  it('drops a deleted resource on 404 without reporting an error', async () => {
    const w = writer();
    expect(await w.writeFleet('rack-b2', fleet(), 1)).toBe('written');
    await custom.deleteClusterCustomObject({ ...ref('MinerFleet'), name: 'rack-b2' });
    expect(await w.writeFleet('rack-b2', fleet({ powerKw: 1 }), 1)).toBe('not-found');
    expect(await w.writeFleet('no-such-fleet', fleet(), 1)).toBe('not-found');
    expect(errors).toEqual([]);
    // recreated: written again in full
    api.seed(asObject(FARM.fleets.find((f) => f.metadata.name === 'rack-b2') as FarmResource));
    expect(await w.writeFleet('rack-b2', fleet(), 1)).toBe('written');
    expect(statusOf('MinerFleet', 'rack-b2')).toMatchObject({ hashrateThs: 64000.5, observedGeneration: 1 });
  });

  it('reports a conflict, a 500 and a timeout, and tries again on the next write', async () => {
    const w = writer({ requestTimeoutMs: 200 });
    await w.writeFleet('rack-a1', fleet(), 1);
    const cases: Array<[number | 'hang', string]> = [
      [409, 'busy'],
      [500, 'server-error'],
      ['hang', 'timeout'],
    ];
    for (const [status, code] of cases) {
      errors = [];
      clock += 10_000;
      const next = fleet({ observedAt: clock });
      api.fail({ method: 'PATCH', path: /\/status$/, status, message: 'the object has been modified' });
      expect(await w.writeFleet('rack-a1', next, 1)).toBe('failed');
      expect(errors.map((e) => e.error.code)).toEqual([code]);
      expect(errors[0]?.error.message).toMatch(/^PATCH status of MinerFleet\/rack-a1: /);
      // the same status again is not skipped: it never landed
      expect(await w.writeFleet('rack-a1', next, 1)).toBe('written');
      expect(statusOf('MinerFleet', 'rack-a1').observedAt).toBe(
        new Date(clock).toISOString().replace('.000', ''),
      );
    }
  });

  it('after a restart, reads the status first: no rewrite, and the transition time kept', async () => {
    await writer().writeFleet('rack-a1', fleet(), 1);
    clock += 3_600_000;
    const again = writer();
    expect(await again.writeFleet('rack-a1', fleet(), 1)).toBe('unchanged');
    expect(await again.writeFleet('rack-a1', fleet({ observedAt: clock }), 1)).toBe('written');
    const [ready] = statusOf('MinerFleet', 'rack-a1').conditions as Array<Record<string, unknown>>;
    expect(ready?.lastTransitionTime).toBe('2026-03-01T12:00:00Z');
    // a condition someone else keeps is left in place
    await custom.patchClusterCustomObjectStatus(
      {
        ...ref('MinerFleet'),
        name: 'rack-a2',
        body: {
          status: {
            conditions: [
              {
                type: 'Audited',
                status: 'True',
                lastTransitionTime: '2026-01-01T00:00:00Z',
                reason: 'Checked',
                message: '',
              },
            ],
          },
        },
      },
      merge,
    );
    await again.writeFleet('rack-a2', fleet(), 1);
    expect(
      (statusOf('MinerFleet', 'rack-a2').conditions as Array<{ type: string }>).map((c) => c.type),
    ).toEqual(['Audited', 'Ready']);
  });

  it('rewrites an unchanged status after rewriteAfterMs', async () => {
    const w = writer({ rewriteAfterMs: 60_000 });
    await w.writeFleet('rack-a1', fleet(), 1);
    clock += 30_000;
    expect(await w.writeFleet('rack-a1', fleet(), 1)).toBe('unchanged');
    clock += 30_000;
    expect(await w.writeFleet('rack-a1', fleet(), 1)).toBe('written');
  });

  it('keeps at most `concurrency` calls in flight and sends only the newest of queued writes', async () => {
    const w = writer({ concurrency: 2 });
    const names = FARM.fleets.slice(0, 6).map((f) => f.metadata.name);
    // learn the current statuses first, so that what follows is one PATCH per write
    await Promise.all(names.map((n) => w.writeFleet(n, fleet(), 1)));
    const pause = api.pause({ method: 'PATCH' });
    const pending = () => patches().filter((r) => r.status === undefined).length;
    const outcomes = names.map((n, i) => w.writeFleet(n, fleet({ powerKw: 100 + i }), 1));
    await until(() => pending() === 2, 'two PATCHes in flight');
    await sleep(50);
    expect(pending()).toBe(2);
    // rack-a1 is in flight: two more writes for it, the first superseded by the second
    const later = [
      w.writeFleet(names[0] as string, fleet({ powerKw: 1 }), 1),
      w.writeFleet(names[0] as string, fleet({ powerKw: 2 }), 1),
    ];
    pause.resume();
    expect(await Promise.all([...outcomes, ...later])).toEqual(Array(8).fill('written'));
    expect(statusOf('MinerFleet', names[0] as string).powerKw).toBe(2);
    expect(patches()).toHaveLength(6 + 6 + 1);
    await w.close();
    expect(await w.writePolicy('west-1-default', 1)).toBe('closed');
  });
});

// KubeFarmSource with the real @kubernetes/client-node client against the fake API server serving
// the chart's generated CRDs: examples/farm.yaml applied as custom resources gives the same Farm
// as the YAML loader; changes, deletions and invalid changes reach the callbacks; the source
// recovers from 410 Gone, dropped and reset watches, stalled watches and a paused server.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import {
  callOptions,
  ClusterError,
  InvalidFarmError,
  KubeFarmSource,
  type FarmKind,
  type KubeFarmSourceOptions,
  type RestartReason,
} from '@switchyard/cluster';
import {
  CRD_DEFINITIONS,
  CRD_GROUP,
  CRD_VERSION,
  parseFarmYaml,
  toCustomResource,
  type Farm,
  type FarmIssue,
  type FarmResource,
} from '@switchyard/domain';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { chartCrds } from '../support/kube/fixtures.ts';
import type { KubeObject } from '../support/kube/objects.ts';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = readFileSync(join(ROOT, 'examples/farm.yaml'), 'utf8');
const parsed = parseFarmYaml(EXAMPLE);
if (!parsed.ok) throw new Error('examples/farm.yaml does not load');
const EXAMPLE_FARM: Farm = parsed.farm;
const CRDS = chartCrds(ROOT);
const FLEETS = `/apis/${CRD_GROUP}/${CRD_VERSION}/minerfleets`;

let api: FakeApiServer;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let source: KubeFarmSource | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const ref = (kind: FarmKind) => ({
  group: CRD_GROUP,
  version: CRD_VERSION,
  plural: CRD_DEFINITIONS[kind].plural,
});
const merge = callOptions({ patch: PatchStrategy.MergePatch });

async function applyFarm(resources: FarmResource[]): Promise<void> {
  for (const r of resources)
    await custom.createClusterCustomObject({ ...ref(r.kind as FarmKind), body: toCustomResource(r) });
}

function exampleResources(): FarmResource[] {
  return [...EXAMPLE_FARM.sites, ...EXAMPLE_FARM.policies, ...EXAMPLE_FARM.fleets, ...EXAMPLE_FARM.pools];
}

interface Seen {
  farms: Farm[];
  invalid: FarmIssue[][];
  errors: Error[];
  restarts: Array<[FarmKind, RestartReason]>;
}

function open(opts: Partial<KubeFarmSourceOptions> = {}): { source: KubeFarmSource; seen: Seen } {
  const seen: Seen = { farms: [], invalid: [], errors: [], restarts: [] };
  source = new KubeFarmSource({
    kubeConfig: kc,
    debounceMs: 30,
    backoff: { initialMs: 50, maxMs: 200 },
    onChange: (f) => seen.farms.push(f),
    onInvalid: (i) => seen.invalid.push(i),
    onError: (e) => seen.errors.push(e),
    onRestart: (k, r) => seen.restarts.push([k, r]),
    ...opts,
  });
  return { source, seen };
}

const fleetCount = (f: Farm | undefined, name: string) =>
  f?.fleets.find((x) => x.metadata.name === name)?.spec.endpoints;
const lastFarm = (seen: Seen) => seen.farms.at(-1);

async function setFleetCount(name: string, count: number): Promise<void> {
  await custom.patchClusterCustomObject(
    { ...ref('MinerFleet'), name, body: { spec: { endpoints: { count } } } },
    merge,
  );
}

beforeEach(async () => {
  api = await startFakeApiServer({ namespaces: ['default'], crds: CRDS });
  kc = api.kubeConfig({ user: 'controller' });
  custom = kc.makeApiClient(CustomObjectsApi);
});
afterEach(async () => {
  await source?.close();
  source = undefined;
  await api.close();
});

describe('KubeFarmSource: the farm from custom resources', () => {
  it('serves the chart’s CRDs (they are generated before this test runs)', () => {
    expect(CRDS.map((c) => c.metadata.name).sort()).toEqual(
      ['allocationpolicies', 'gpupools', 'inferenceorders', 'minerfleets', 'sites'].map(
        (p) => `${p}.${CRD_GROUP}`,
      ),
    );
  });

  it('gives the same Farm as examples/farm.yaml, with generations and resourceVersions', async () => {
    await applyFarm(exampleResources());
    const { source: s } = open();
    const farm = await s.start();
    expect(farm).toEqual(EXAMPLE_FARM);
    expect(s.current()).toBe(farm);
    expect(s.issues()).toEqual([]);
    const meta = s.meta('MinerFleet', 'rack-a1');
    expect(meta?.generation).toBe(1);
    expect(meta?.resourceVersion).toBe(
      api.find(`${CRD_GROUP}/${CRD_VERSION}`, 'MinerFleet', 'rack-a1')?.metadata.resourceVersion,
    );
    expect(meta?.uid).toEqual(expect.any(String));
    expect(s.meta('MinerFleet', 'nope')).toBeUndefined();
    // one informer (one watch) per kind
    expect(api.watchCount()).toBe(4);
  });

  it('fires onChange on a spec update and a deletion, not on a status write', async () => {
    await applyFarm(exampleResources());
    const { source: s, seen } = open();
    await s.start();
    await setFleetCount('rack-a1', 600);
    await until(() => seen.farms.length === 1, 'the updated farm');
    expect(fleetCount(lastFarm(seen), 'rack-a1')).toEqual({ cidr: '10.11.0.0/22', count: 600 });
    expect(s.current()).toBe(lastFarm(seen));
    expect(s.meta('MinerFleet', 'rack-a1')?.generation).toBe(2);
    // status and metadata-only writes change nothing the farm is made of
    await custom.patchClusterCustomObjectStatus(
      { ...ref('MinerFleet'), name: 'rack-a1', body: { status: { hashrateThs: 70000 } } },
      merge,
    );
    await sleep(150);
    expect(seen.farms).toHaveLength(1);
    await custom.deleteClusterCustomObject({ ...ref('MinerFleet'), name: 'rack-b4' });
    await until(() => seen.farms.length === 2, 'the farm without rack-b4');
    expect(lastFarm(seen)?.fleets.map((f) => f.metadata.name)).not.toContain('rack-b4');
    expect(lastFarm(seen)?.fleets).toHaveLength(EXAMPLE_FARM.fleets.length - 1);
    expect(s.meta('MinerFleet', 'rack-b4')).toBeUndefined();
    expect(seen.invalid).toEqual([]);
  });

  it('keeps the last valid farm on an invalid change, reports it once, and recovers', async () => {
    await applyFarm(exampleResources());
    const { source: s, seen } = open();
    const first = await s.start();
    await custom.patchClusterCustomObject(
      { ...ref('MinerFleet'), name: 'rack-a2', body: { spec: { site: 'nowhere' } } },
      merge,
    );
    await until(() => seen.invalid.length === 1, 'the issues');
    expect(seen.invalid[0]).toEqual([
      expect.objectContaining({
        document: 'MinerFleet/rack-a2',
        path: 'spec.site',
        message: 'Site "nowhere" is not defined',
      }),
    ]);
    expect(s.current()).toBe(first);
    expect(s.issues()).toBe(seen.invalid[0]);
    expect(s.meta('MinerFleet', 'rack-a2')?.generation).toBe(1); // the farm's, not the invalid one's
    // an unrelated status write does not report the same issues again
    await custom.patchClusterCustomObjectStatus(
      { ...ref('MinerFleet'), name: 'rack-a2', body: { status: { powerKw: 1 } } },
      merge,
    );
    await sleep(150);
    expect(seen.invalid).toHaveLength(1);
    expect(seen.farms).toEqual([]);
    // put back as it was: the farm is valid again (the same farm, still announced)
    await custom.patchClusterCustomObject(
      { ...ref('MinerFleet'), name: 'rack-a2', body: { spec: { site: 'west-1' } } },
      merge,
    );
    await until(() => seen.farms.length === 1, 'the farm again');
    expect(lastFarm(seen)).toEqual(EXAMPLE_FARM);
    expect(s.issues()).toEqual([]);
    expect(s.meta('MinerFleet', 'rack-a2')?.generation).toBe(3);
  });

  it('refuses to start without the CRDs, or with an invalid farm', async () => {
    const bare = await startFakeApiServer();
    try {
      const s = new KubeFarmSource({ kubeConfig: bare.kubeConfig() });
      const e = await s.start().then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ClusterError);
      expect(e).toMatchObject({ code: 'not-found', status: 404 });
      expect((e as Error).message).toMatch(
        /^the CustomResourceDefinition \w+\.switchyard\.io is not installed \(GET \/apis\/switchyard\.io\/v1alpha1\/\w+: 404\)/,
      );
      await s.close();
    } finally {
      await bare.close();
    }
    await applyFarm(EXAMPLE_FARM.fleets.slice(0, 2)); // fleets without their site
    const { source: s } = open();
    const e = await s.start().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(InvalidFarmError);
    expect((e as InvalidFarmError).issues).toContainEqual(
      expect.objectContaining({ document: 'MinerFleet/rack-a1', path: 'spec.site' }),
    );
    expect((e as Error).message).toMatch(
      /^the farm in the cluster is not valid:\n {2}MinerFleet\/rack-a1 spec\.site: /,
    );
    expect(api.watchCount()).toBe(0);
  });
});

describe('KubeFarmSource: watches that fail', () => {
  it('re-lists after 410 Gone and reconnects after dropped watches', async () => {
    await applyFarm(exampleResources());
    const { source: s, seen } = open();
    await s.start();
    const lists = () => api.requestsMatching({ path: FLEETS, method: 'GET', watch: false }).length;
    const before = lists();
    // open watches told their history is gone: each informer lists again
    api.compact({ expireWatches: true });
    await until(() => lists() === before + 1 && api.watchCount() === 4, 'a re-list and new watches');
    await setFleetCount('rack-a1', 500);
    await until(() => fleetCount(lastFarm(seen), 'rack-a1')?.count === 500, 'the change after 410');
    // a clean close: the client reconnects from where it was
    api.dropWatches();
    await until(() => api.watchCount() === 4, 'reconnected watches');
    await setFleetCount('rack-a1', 400);
    await until(() => fleetCount(lastFarm(seen), 'rack-a1')?.count === 400, 'the change after a drop');
    // a missed deletion while the watches are down, and history forgotten meanwhile
    const hold = api.pause({ watch: true });
    api.dropWatches();
    await custom.deleteClusterCustomObject({ ...ref('MinerFleet'), name: 'rack-d3' });
    api.compact();
    hold.resume();
    await until(
      () => lastFarm(seen)?.fleets.every((f) => f.metadata.name !== 'rack-d3') === true,
      'the deletion seen by a re-list',
    );
    expect(seen.errors).toEqual([]);
    expect(seen.restarts).toEqual([]);
  });

  it('restarts an informer that stopped on a reset watch, with backoff after failed lists', async () => {
    await applyFarm(exampleResources());
    const { source: s, seen } = open();
    await s.start();
    // the restart's first list fails too: a second restart, later
    api.fail({ path: FLEETS, method: 'GET', watch: false, status: 500 });
    api.dropWatches({ abrupt: true, path: FLEETS });
    await until(() => seen.restarts.length >= 2 && api.watchCount() === 4, 'two restarts and a watch');
    expect(seen.restarts.slice(0, 2)).toEqual([
      ['MinerFleet', 'error'],
      ['MinerFleet', 'error'],
    ]);
    expect(seen.errors.map((e) => (e as ClusterError).code)).toEqual(['unreachable', 'server-error']);
    expect(seen.errors[1]?.message).toMatch(/^watch \/apis\/switchyard\.io\/v1alpha1\/minerfleets: 500/);
    await setFleetCount('rack-c1', 320);
    await until(() => fleetCount(lastFarm(seen), 'rack-c1')?.count === 320, 'the change after restarts');
  });

  it('restarts a stalled watch, and lists again while the watch stays stalled', async () => {
    await applyFarm(exampleResources());
    const { source: s, seen } = open({ stallMs: 400 });
    await s.start();
    const stall = api.pause({ watch: true });
    await setFleetCount('rack-b1', 100);
    await until(
      () => fleetCount(lastFarm(seen), 'rack-b1')?.count === 100,
      'the change through a list',
      3000,
    );
    expect(seen.restarts).toContainEqual(['MinerFleet', 'stalled']);
    stall.resume();
    await until(() => api.watchCount() === 4, 'watches again');
    await setFleetCount('rack-b1', 200);
    await until(() => fleetCount(lastFarm(seen), 'rack-b1')?.count === 200, 'a change through the watch');
  });

  it('recovers from a paused API server once it answers again', async () => {
    await applyFarm(exampleResources());
    const { source: s, seen } = open({ stallMs: 300, requestTimeoutMs: 200 });
    await s.start();
    const paused = api.pause();
    // written behind the server's back, as another API server replica would
    const fleet = api.find(`${CRD_GROUP}/${CRD_VERSION}`, 'MinerFleet', 'rack-a5') as KubeObject;
    api.seed({
      ...fleet,
      spec: { ...(fleet.spec as object), endpoints: { cidr: '10.11.16.0/22', count: 10 } },
    });
    await until(() => seen.errors.length >= 2, 'lists timing out while paused', 3000);
    expect(seen.errors.every((e) => (e as ClusterError).code === 'timeout')).toBe(true);
    expect(s.current()).toEqual(EXAMPLE_FARM); // the last farm stays
    paused.resume();
    await until(() => fleetCount(lastFarm(seen), 'rack-a5')?.count === 10, 'the change after the pause');
    await setFleetCount('rack-a5', 11);
    await until(() => fleetCount(lastFarm(seen), 'rack-a5')?.count === 11, 'a later change');
  });

  it('closes twice without harm and ignores changes after close', async () => {
    await applyFarm(exampleResources());
    const { source: s, seen } = open();
    await s.start();
    await s.close();
    await s.close();
    await until(() => api.watchCount() === 0, 'the watches closed');
    await setFleetCount('rack-a1', 1);
    await sleep(100);
    expect(seen.farms).toEqual([]);
  });
});

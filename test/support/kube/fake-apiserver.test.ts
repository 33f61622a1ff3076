// The fake API server on the wire (plain fetch): the real server's answers for each verb, its
// Status errors, resourceVersions and watches, and the test hooks. The real client against it is
// in test/cluster/client-behaviour.test.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { FakeApiServer } from './fake-apiserver.ts';
import { startFakeApiServer, type FakeApiServerOptions } from './fake-apiserver.ts';
import { gpuNode, rawWatch, widget, widgetCrd, WIDGET_GROUP } from './fixtures.ts';
import type { KubeObject } from './objects.ts';

let api: FakeApiServer;

async function start(opts: FakeApiServerOptions = {}) {
  await api?.close();
  api = await startFakeApiServer({ namespaces: ['default', 'switchyard'], crds: [widgetCrd], ...opts });
}

beforeEach(() => start());
afterEach(() => api.close());

type Body = KubeObject & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Body; headers: Headers }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': contentType } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Body, headers: res.headers };
}

const W = `/apis/${WIDGET_GROUP}/v1/namespaces/default/widgets`;
const MERGE = 'application/merge-patch+json';
const JSONPATCH = 'application/json-patch+json';
const APPLY = 'application/apply-patch+yaml';

describe('discovery', () => {
  it('lists the core and group versions and their resources', async () => {
    expect((await call('GET', '/api')).body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const core = (await call('GET', '/api/v1')).body;
    const names = (core.resources as Array<{ name: string }>).map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['nodes', 'nodes/status', 'pods', 'namespaces', 'events']));
    const groups = (await call('GET', '/apis')).body.groups as Array<{ name: string }>;
    expect(groups.map((g) => g.name)).toEqual(
      expect.arrayContaining(['batch', 'coordination.k8s.io', WIDGET_GROUP]),
    );
    const crd = (await call('GET', `/apis/${WIDGET_GROUP}/v1`)).body;
    expect(crd.resources).toEqual([
      expect.objectContaining({ name: 'widgets', kind: 'Widget', namespaced: true, shortNames: ['wd'] }),
      expect.objectContaining({ name: 'widgets/status' }),
    ]);
    expect((await call('GET', '/apis/nope.io/v1/things')).status).toBe(404);
  });
});

describe('create and get', () => {
  it('fills in name, uid, creationTimestamp, generation and resourceVersion', async () => {
    const res = await call('POST', W, { ...widget(''), metadata: { generateName: 'w-' } });
    expect(res.status).toBe(201);
    const meta = res.body.metadata;
    expect(meta.name).toMatch(/^w-[a-z0-9]{5}$/);
    expect(meta.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(meta.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(meta.generation).toBe(1);
    expect(Number(meta.resourceVersion)).toBeGreaterThan(0);
    expect(res.body.spec).toEqual({ size: 1, mode: 'idle' }); // the schema's default
    const got = await call('GET', `${W}/${meta.name}`);
    expect(got.body).toEqual(res.body);
  });

  it('answers with Status documents: AlreadyExists, NotFound, Invalid, missing namespace', async () => {
    await call('POST', W, widget('a'));
    const dup = await call('POST', W, widget('a'));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'AlreadyExists',
      code: 409,
      message: `widgets.${WIDGET_GROUP} "a" already exists`,
    });
    const missing = await call('GET', `${W}/nope`);
    expect(missing.body).toMatchObject({
      reason: 'NotFound',
      code: 404,
      details: { name: 'nope', group: WIDGET_GROUP, kind: 'widgets' },
    });
    const bad = await call('POST', W, widget('Bad_Name'));
    expect(bad.body).toMatchObject({ reason: 'Invalid', code: 422 });
    expect(bad.body.details.causes[0].field).toBe('metadata.name');
    const noNs = await call(
      'POST',
      `/apis/${WIDGET_GROUP}/v1/namespaces/ghost/widgets`,
      widget('a', { size: 1 }, 'ghost'),
    );
    expect(noNs.body).toMatchObject({ code: 404, message: 'namespaces "ghost" not found' });
    const wrongKind = await call('POST', W, { ...widget('b'), kind: 'Gadget' });
    expect(wrongKind.status).toBe(400);
  });

  it('prunes undeclared fields and validates against the CRD schema', async () => {
    const ok = await call('POST', W, widget('p', { size: 2, junk: 1, extra: { kept: true } }));
    expect(ok.body.spec).toEqual({ size: 2, mode: 'idle', extra: { kept: true } });
    const bad = await call('POST', W, widget('q', { size: 0, mode: 'turbo', tags: 'x' }));
    expect(bad.status).toBe(422);
    const fields = (bad.body.details.causes as Array<{ field: string; reason: string }>).map((c) => [
      c.field,
      c.reason,
    ]);
    expect(fields).toEqual(
      expect.arrayContaining([
        ['spec.size', 'FieldValueInvalid'],
        ['spec.mode', 'FieldValueNotSupported'],
        ['spec.tags', 'FieldValueInvalid'],
      ]),
    );
    const missing = await call('POST', W, widget('r', {}));
    expect(missing.body.details.causes).toEqual([
      expect.objectContaining({ field: 'spec.size', reason: 'FieldValueRequired' }),
    ]);
  });
});

describe('update', () => {
  it('refuses a stale resourceVersion with 409 and a custom resource without one with 422', async () => {
    const created = (await call('POST', W, widget('u'))).body;
    const first = await call('PUT', `${W}/u`, { ...created, spec: { size: 2 } });
    expect(first.status).toBe(200);
    const stale = await call('PUT', `${W}/u`, { ...created, spec: { size: 3 } });
    expect(stale.body).toMatchObject({
      code: 409,
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on widgets.${WIDGET_GROUP} "u": the object has been modified; please apply your changes to the latest version and try again`,
    });
    const { resourceVersion: _rv, ...meta } = created.metadata;
    expect((await call('PUT', `${W}/u`, { ...created, metadata: meta })).status).toBe(422);
  });

  it('bumps generation on spec changes only, ignores status on the main endpoint, and skips no-ops', async () => {
    const c = (await call('POST', W, widget('g'))).body;
    const labelled = (await call('PUT', `${W}/g`, { ...c, metadata: { ...c.metadata, labels: { a: 'b' } } }))
      .body;
    expect(labelled.metadata.generation).toBe(1);
    const withStatus = (await call('PUT', `${W}/g`, { ...labelled, status: { phase: 'Sneaky' } })).body;
    expect(withStatus.status).toBeUndefined();
    expect(withStatus.metadata.resourceVersion).toBe(labelled.metadata.resourceVersion); // nothing changed
    const resized = (await call('PUT', `${W}/g`, { ...labelled, spec: { size: 5 } })).body;
    expect(resized.metadata.generation).toBe(2);
    expect(Number(resized.metadata.resourceVersion)).toBeGreaterThan(
      Number(labelled.metadata.resourceVersion),
    );
  });

  it('writes only status through /status, bumping resourceVersion but not generation', async () => {
    const c = (await call('POST', W, widget('s'))).body;
    const res = await call('PUT', `${W}/s/status`, {
      ...c,
      spec: { size: 99 },
      status: { phase: 'Ready', observedGeneration: 1 },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toEqual({ phase: 'Ready', observedGeneration: 1 });
    expect(res.body.spec.size).toBe(1);
    expect(res.body.metadata.generation).toBe(1);
    expect(Number(res.body.metadata.resourceVersion)).toBeGreaterThan(Number(c.metadata.resourceVersion));
    const patched = await call('PATCH', `${W}/s/status`, { status: { phase: 'Done' } }, MERGE);
    expect(patched.body.status).toEqual({ phase: 'Done', observedGeneration: 1 });
    expect((await call('GET', `/api/v1/namespaces/default/configmaps/x/status`)).status).toBe(404);
  });

  it('creates a missing Lease on PUT (as Leases allow) but not a missing Node', async () => {
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'l' },
      spec: { holderIdentity: 'a' },
    };
    expect(
      (await call('PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/l', lease)).status,
    ).toBe(200);
    expect((await call('PUT', '/api/v1/nodes/n1', gpuNode('n1'))).status).toBe(404);
  });
});

describe('patch', () => {
  it('merge-patches, and takes a resourceVersion in the patch as a precondition', async () => {
    const c = (await call('POST', W, widget('m', { size: 1, tags: ['a'] }))).body;
    const res = await call(
      'PATCH',
      `${W}/m`,
      { metadata: { labels: { x: 'y' } }, spec: { tags: null, size: 4 } },
      MERGE,
    );
    expect(res.body.spec).toEqual({ size: 4, mode: 'idle' });
    expect(res.body.metadata.labels).toEqual({ x: 'y' });
    const stale = await call(
      'PATCH',
      `${W}/m`,
      { metadata: { resourceVersion: c.metadata.resourceVersion }, spec: { size: 5 } },
      MERGE,
    );
    expect(stale.body).toMatchObject({ code: 409, reason: 'Conflict' });
  });

  it('applies JSON patches: 400 for a body that is not a list, 422 when an operation fails', async () => {
    await call('POST', W, widget('j', { size: 1, tags: ['a'] }));
    const res = await call(
      'PATCH',
      `${W}/j`,
      [
        { op: 'add', path: '/spec/tags/-', value: 'b' },
        { op: 'replace', path: '/spec/size', value: 3 },
        { op: 'test', path: '/spec/mode', value: 'idle' },
      ],
      JSONPATCH,
    );
    expect(res.body.spec).toEqual({ size: 3, mode: 'idle', tags: ['a', 'b'] });
    expect((await call('PATCH', `${W}/j`, { spec: { size: 2 } }, JSONPATCH)).status).toBe(400);
    expect(
      (await call('PATCH', `${W}/j`, [{ op: 'test', path: '/spec/size', value: 9 }], JSONPATCH)).status,
    ).toBe(422);
    expect((await call('PATCH', `${W}/j`, [{ op: 'remove', path: '/spec/nothing' }], JSONPATCH)).status).toBe(
      422,
    );
  });

  it('refuses strategic merge for custom resources (415) and any patch sent as application/json', async () => {
    await call('POST', W, widget('k'));
    const smp = await call(
      'PATCH',
      `${W}/k`,
      { spec: { size: 2 } },
      'application/strategic-merge-patch+json',
    );
    expect(smp.body).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
    expect(smp.body.message).toContain('application/merge-patch+json');
    expect((await call('PATCH', `${W}/k`, { spec: { size: 2 } }, 'application/json')).status).toBe(415);
    await call('POST', '/api/v1/nodes', gpuNode('n1'));
    const node = await call(
      'PATCH',
      '/api/v1/nodes/n1',
      { spec: { unschedulable: true } },
      'application/strategic-merge-patch+json',
    );
    expect(node.body.spec).toEqual({ unschedulable: true });
  });
});

describe('server-side apply', () => {
  const cfg = (spec: Record<string, unknown>) => JSON.stringify(widget('a', spec));

  it('needs a field manager, creates, and conflicts with another manager unless forced', async () => {
    expect((await call('PATCH', `${W}/a`, cfg({ size: 1 }), APPLY)).body).toMatchObject({ code: 422 });
    const created = await call('PATCH', `${W}/a?fieldManager=alice`, cfg({ size: 1, tags: ['x'] }), APPLY);
    expect(created.status).toBe(201);
    expect(created.body.metadata.managedFields).toEqual([
      expect.objectContaining({
        manager: 'alice',
        operation: 'Apply',
        fieldsV1: { 'f:spec': { 'f:size': {}, 'f:tags': {} } },
      }),
    ]);
    const same = await call('PATCH', `${W}/a?fieldManager=bob`, cfg({ size: 1 }), APPLY);
    expect(same.status).toBe(200); // same value: no conflict, both own it
    const clash = await call('PATCH', `${W}/a?fieldManager=bob`, cfg({ size: 2 }), APPLY);
    expect(clash.body).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(clash.body.details.causes).toEqual([
      expect.objectContaining({
        reason: 'FieldManagerConflict',
        field: '.spec.size',
        message: 'conflict with "alice"',
      }),
    ]);
    const forced = await call('PATCH', `${W}/a?fieldManager=bob&force=true`, cfg({ size: 2 }), APPLY);
    expect(forced.body.spec.size).toBe(2);
    // alice no longer owns size, so applying without it leaves bob's value; her tags go away
    const again = await call('PATCH', `${W}/a?fieldManager=alice`, cfg({ mode: 'idle' }), APPLY);
    expect(again.body.spec).toEqual({ size: 2, mode: 'idle' });
  });

  it('lets updates take the fields they change without conflicts', async () => {
    await call('PATCH', `${W}/a?fieldManager=alice`, cfg({ size: 1 }), APPLY);
    await call('PATCH', `${W}/a?fieldManager=carol`, { spec: { size: 7 } }, MERGE);
    const clash = await call('PATCH', `${W}/a?fieldManager=alice`, cfg({ size: 1 }), APPLY);
    expect(clash.body.details.causes[0].message).toBe('conflict with "carol"');
  });
});

describe('delete', () => {
  it('answers Status, 404 when missing, and checks preconditions', async () => {
    const c = (await call('POST', W, widget('d'))).body;
    const pre = await call('DELETE', `${W}/d`, { preconditions: { uid: 'other' } });
    expect(pre.body).toMatchObject({ code: 409, reason: 'Conflict' });
    const res = await call('DELETE', `${W}/d?gracePeriodSeconds=30`);
    expect(res.body).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'd', kind: 'widgets', uid: c.metadata.uid },
    });
    expect((await call('DELETE', `${W}/d`)).body).toMatchObject({ code: 404, reason: 'NotFound' });
  });

  it('keeps an object with finalizers, marked for deletion, until they are removed', async () => {
    await call('POST', W, { ...widget('f'), metadata: { name: 'f', finalizers: ['switchyard.io/cleanup'] } });
    const marked = await call('DELETE', `${W}/f`);
    expect(marked.status).toBe(202);
    expect(marked.body.metadata.deletionTimestamp).toBeDefined();
    expect((await call('GET', `${W}/f`)).status).toBe(200);
    await call('PATCH', `${W}/f`, { metadata: { finalizers: null } }, MERGE);
    expect((await call('GET', `${W}/f`)).status).toBe(404);
  });

  it('empties a namespace it deletes', async () => {
    await call(
      'POST',
      `/apis/${WIDGET_GROUP}/v1/namespaces/switchyard/widgets`,
      widget('n', { size: 1 }, 'switchyard'),
    );
    await call('DELETE', '/api/v1/namespaces/switchyard');
    expect(api.list(`${WIDGET_GROUP}/v1`, 'Widget', 'switchyard')).toEqual([]);
  });
});

describe('list', () => {
  beforeEach(async () => {
    for (const [name, labels] of [
      ['gpu-1', { 'switchyard.io/pool': 'h100', 'switchyard.io/mode': 'hashing' }],
      ['gpu-2', { 'switchyard.io/pool': 'h100', 'switchyard.io/mode': 'serving' }],
      ['gpu-3', { 'switchyard.io/pool': 'a100' }],
    ] as const)
      api.seed(gpuNode(name, labels));
  });

  const names = async (query: string) =>
    ((await call('GET', `/api/v1/nodes?${query}`)).body.items as KubeObject[]).map((n) => n.metadata.name);

  it('filters by label and field selectors', async () => {
    expect(await names('labelSelector=switchyard.io/pool=h100')).toEqual(['gpu-1', 'gpu-2']);
    expect(await names('labelSelector=switchyard.io/pool=h100,switchyard.io/mode!=hashing')).toEqual([
      'gpu-2',
    ]);
    expect(
      await names(`labelSelector=${encodeURIComponent('switchyard.io/mode in (hashing,idle)')}`),
    ).toEqual(['gpu-1']);
    expect(await names(`labelSelector=${encodeURIComponent('!switchyard.io/mode')}`)).toEqual(['gpu-3']);
    expect(await names('labelSelector=switchyard.io/mode')).toEqual(['gpu-1', 'gpu-2']);
    expect(await names('fieldSelector=metadata.name=gpu-2')).toEqual(['gpu-2']);
    expect((await call('GET', '/api/v1/nodes?fieldSelector=spec.podCIDR=x')).status).toBe(400);
    expect((await call('GET', `/api/v1/nodes?labelSelector=${encodeURIComponent('a in (b')}`)).status).toBe(
      400,
    );
  });

  it('carries the list resourceVersion; built-in items have no kind, custom ones do', async () => {
    const list = (await call('GET', '/api/v1/nodes')).body;
    expect(list).toMatchObject({ kind: 'NodeList', apiVersion: 'v1' });
    expect(Number(list.metadata.resourceVersion)).toBe(api.store.resourceVersion);
    expect(list.items[0].kind).toBeUndefined();
    await call('POST', W, widget('w'));
    expect((await call('GET', W)).body.items[0]).toMatchObject({
      kind: 'Widget',
      apiVersion: `${WIDGET_GROUP}/v1`,
    });
    expect((await call('GET', `/apis/${WIDGET_GROUP}/v1/widgets`)).body.items).toHaveLength(1); // all namespaces
  });

  it('pages with limit and continue', async () => {
    const first = (await call('GET', '/api/v1/nodes?limit=2')).body;
    expect(first.items.map((n: KubeObject) => n.metadata.name)).toEqual(['gpu-1', 'gpu-2']);
    expect(first.metadata.remainingItemCount).toBe(1);
    const rest = (await call('GET', `/api/v1/nodes?limit=2&continue=${first.metadata.continue}`)).body;
    expect(rest.items.map((n: KubeObject) => n.metadata.name)).toEqual(['gpu-3']);
    expect(rest.metadata.continue).toBeUndefined();
    api.compact();
    expect((await call('GET', `/api/v1/nodes?limit=2&continue=${first.metadata.continue}`)).status).toBe(410);
  });
});

describe('watch', () => {
  const watchUrl = (query: string) => `${api.url}${W}?watch=1&${query}`;

  it('streams the current state without a resourceVersion, and changes from one', async () => {
    const a = (await call('POST', W, widget('a'))).body;
    const fromNow = await rawWatch(watchUrl(''));
    await fromNow.waitFor(1);
    const b = (await call('POST', W, widget('b'))).body;
    await call('PATCH', `${W}/a`, { spec: { size: 2 } }, MERGE);
    await call('DELETE', `${W}/b`);
    const events = await fromNow.waitFor(4);
    expect(events.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['ADDED', 'a'],
      ['ADDED', 'b'],
      ['MODIFIED', 'a'],
      ['DELETED', 'b'],
    ]);
    expect(events[3]?.object.kind).toBe('Widget');
    const replay = await rawWatch(watchUrl(`resourceVersion=${a.metadata.resourceVersion}`));
    const again = await replay.waitFor(3);
    expect(again.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(again[0]?.object.metadata.uid).toBe(b.metadata.uid);
    const rvs = again.map((e) => Number(e.object.metadata.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((x, y) => x - y));
    fromNow.close();
    replay.close();
  });

  it('turns label changes into ADDED and DELETED for a selecting watch', async () => {
    await call('POST', W, widget('a'));
    const w = await rawWatch(watchUrl(`labelSelector=role=gpu&resourceVersion=${api.store.resourceVersion}`));
    await call('PATCH', `${W}/a`, { metadata: { labels: { role: 'gpu' } } }, MERGE);
    await call('PATCH', `${W}/a`, { spec: { size: 3 } }, MERGE);
    await call('PATCH', `${W}/a`, { metadata: { labels: { role: null } } }, MERGE);
    expect((await w.waitFor(3)).map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    w.close();
  });

  it('answers a forgotten resourceVersion with an ERROR event carrying 410, or with HTTP 410', async () => {
    const rv = (await call('POST', W, widget('a'))).body.metadata.resourceVersion;
    api.compact();
    const w = await rawWatch(watchUrl(`resourceVersion=${rv}`));
    expect(w.status).toBe(200);
    await w.ended;
    expect(w.events).toEqual([
      { type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) },
    ]);
    expect(w.events[0]?.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    // a fresh list gives a version that can be watched again
    const list = (await call('GET', W)).body;
    const ok = await rawWatch(watchUrl(`resourceVersion=${list.metadata.resourceVersion}`));
    await call('POST', W, widget('b'));
    expect((await ok.waitFor(1))[0]?.type).toBe('ADDED');
    ok.close();
    await start({ goneAs: 'status' });
    await call('POST', W, widget('a'));
    api.compact();
    expect((await call('GET', `${W}?watch=true&resourceVersion=1`)).body).toMatchObject({
      code: 410,
      reason: 'Expired',
    });
  });

  it('ends open watches on compact({ expireWatches }), on timeoutSeconds and on dropWatches', async () => {
    const expiring = await rawWatch(watchUrl(`resourceVersion=${api.store.resourceVersion}`));
    await waitUntil(() => api.watchCount() === 1);
    api.compact({ expireWatches: true });
    await expiring.ended;
    expect(expiring.events.map((e) => [e.type, e.object.code])).toEqual([['ERROR', 410]]);

    const t0 = Date.now();
    const timed = await rawWatch(watchUrl('timeoutSeconds=1'));
    await timed.ended;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    const dropped = await rawWatch(watchUrl(''), { authorization: 'Bearer alice' });
    const other = await rawWatch(watchUrl(''), { authorization: 'Bearer bob' });
    await waitUntil(() => api.watchCount() === 2);
    expect(api.dropWatches({ user: 'alice' })).toBe(1);
    await dropped.ended;
    expect(api.watchCount()).toBe(1);
    other.close();
  });

  it('sends bookmarks when asked to', async () => {
    await start({ bookmarkIntervalMs: 50 });
    const w = await rawWatch(watchUrl('allowWatchBookmarks=true'));
    const [ev] = await w.waitFor(1);
    expect(ev).toEqual({
      type: 'BOOKMARK',
      object: {
        apiVersion: `${WIDGET_GROUP}/v1`,
        kind: 'Widget',
        metadata: { resourceVersion: String(api.store.resourceVersion) },
      },
    });
    w.close();
  });
});

describe('test hooks', () => {
  it('pauses requests (all, or one user’s) until resumed, and holds watch events', async () => {
    const w = await rawWatch(`${api.url}${W}?watch=1&resourceVersion=${api.store.resourceVersion}`, {
      authorization: 'Bearer alice',
    });
    await waitUntil(() => api.watchCount() === 1);
    const p = api.pause({ user: 'alice' });
    let answered = false;
    const held = call('GET', W, undefined, undefined, { authorization: 'Bearer alice' }).then(
      (r) => ((answered = true), r),
    );
    expect((await call('GET', W, undefined, undefined, { authorization: 'Bearer bob' })).status).toBe(200);
    await call('POST', W, widget('a'));
    await sleep(100);
    expect(answered).toBe(false);
    expect(w.events).toEqual([]);
    p.resume();
    expect((await held).status).toBe(200);
    expect((await w.waitFor(1))[0]?.type).toBe('ADDED');
    w.close();
  });

  it('injects failures for the next requests and logs every request', async () => {
    api.fail({ path: '/api/v1/nodes', status: 500, times: 2 });
    api.fail({ path: '/api/v1/pods', status: 429, retryAfterSeconds: 3 });
    expect((await call('GET', '/api/v1/nodes')).body).toMatchObject({ code: 500, reason: 'InternalError' });
    expect((await call('GET', '/api/v1/nodes')).status).toBe(500);
    expect((await call('GET', '/api/v1/nodes')).status).toBe(200);
    const busy = await call('GET', '/api/v1/pods');
    expect(busy.body).toMatchObject({
      code: 429,
      reason: 'TooManyRequests',
      details: { retryAfterSeconds: 3 },
    });
    expect(busy.headers.get('retry-after')).toBe('3');
    api.fail({ path: '/api/v1/nodes', status: 'reset' });
    await expect(fetch(`${api.url}/api/v1/nodes`)).rejects.toThrow();
    const log = api.requestsMatching({ path: '/api/v1/nodes' });
    expect(log.map((r) => r.status)).toEqual([500, 500, 200, undefined]);
    expect(log[0]).toMatchObject({ method: 'GET', watch: false });
  });
});

describe('kinds', () => {
  it('refuses a Lease time without microseconds, as the typed decoder does', async () => {
    const lease = (renewTime: string) => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'l' },
      spec: { holderIdentity: 'a', renewTime, leaseDurationSeconds: 1 },
    });
    const path = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    const bad = await call('POST', path, lease('2026-01-01T00:00:00.123Z'));
    expect(bad.body).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect((await call('POST', path, lease('2026-01-01T00:00:00.123456Z'))).status).toBe(201);
    const zero = await call('PUT', `${path}/l`, {
      ...lease('2026-01-01T00:00:00.123456Z'),
      spec: { leaseDurationSeconds: 0 },
    });
    expect(zero.body).toMatchObject({ code: 422, reason: 'Invalid' });
  });

  it('serves a CRD created over HTTP and forgets its objects when it is deleted', async () => {
    const crd = structuredClone(widgetCrd);
    crd.metadata.name = `gadgets.${WIDGET_GROUP}`;
    Object.assign(crd.spec.names, {
      plural: 'gadgets',
      singular: 'gadget',
      kind: 'Gadget',
      listKind: 'GadgetList',
      shortNames: [],
    });
    crd.spec.scope = 'Cluster';
    const created = await call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    expect(created.body.status.conditions).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'Established', status: 'True' })]),
    );
    const g = await call('POST', `/apis/${WIDGET_GROUP}/v1/gadgets`, {
      apiVersion: `${WIDGET_GROUP}/v1`,
      kind: 'Gadget',
      metadata: { name: 'g' },
      spec: { size: 1 },
    });
    expect(g.status).toBe(201);
    expect(g.body.metadata.namespace).toBeUndefined();
    await call('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.${WIDGET_GROUP}`);
    expect((await call('GET', `/apis/${WIDGET_GROUP}/v1/gadgets`)).status).toBe(404);
    const badCrd = await call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      ...crd,
      metadata: { name: 'wrong' },
    });
    expect(badCrd.status).toBe(400);
  });

  it('registers a kind without a CRD object', async () => {
    api.registerKind({
      group: 'switchyard.io',
      version: 'v1alpha1',
      plural: 'probes',
      kind: 'Probe',
      namespaced: false,
      statusSubresource: true,
    });
    const res = await call('POST', '/apis/switchyard.io/v1alpha1/probes', {
      apiVersion: 'switchyard.io/v1alpha1',
      kind: 'Probe',
      metadata: { name: 'p' },
      spec: { any: 1 },
      status: { x: 1 },
    });
    expect(res.body).toMatchObject({ spec: { any: 1 } });
    expect(res.body.status).toBeUndefined();
  });

  it('evicts a pod only when its PodDisruptionBudget allows it', async () => {
    const pod = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', labels: { app: 'infer' } },
      spec: { containers: [{ name: 'c', image: 'x' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    api.seed(pod('p1'));
    api.seed(pod('p2'));
    api.seed({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'infer', namespace: 'default' },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'infer' } } },
    });
    const evict = (name: string) =>
      call('POST', `/api/v1/namespaces/default/pods/${name}/eviction`, {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name, namespace: 'default' },
      });
    expect((await evict('p1')).status).toBe(201);
    const refused = await evict('p2');
    expect(refused.body).toMatchObject({ code: 429, reason: 'TooManyRequests' });
    expect(refused.body.details.causes[0].message).toBe(
      'The disruption budget infer needs 1 healthy pods and has 1 currently',
    );
    expect(api.list('v1', 'Pod', 'default').map((p) => p.metadata.name)).toEqual(['p2']);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

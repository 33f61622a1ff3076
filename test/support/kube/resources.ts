// The verbs of the fake API server over the store, with the real server's rules for each:
// create (generateName, uid, creationTimestamp, generation 1), update (409 on a stale
// resourceVersion, status kept off the main endpoint when there is a /status subresource,
// generation bumped on spec changes only, no-op writes change nothing), patch (merge, JSON,
// apply; strategic merge refused for custom resources), delete (preconditions, finalizers),
// and eviction of Pods against their PodDisruptionBudgets.
import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import {
  managedFields,
  recordUpdate,
  serverSideApply,
  type ManagerEntry,
  type WriteContext,
} from './apply.ts';
import { apiVersionOf, builtinKinds, kindsFromCrd, storageKey, type ResourceKind } from './kinds.ts';
import {
  clone,
  isObject,
  jsonEqual,
  nsName,
  rfc3339,
  specPart,
  type JsonObject,
  type KubeObject,
} from './objects.ts';
import { jsonPatch, mergePatch } from './patch.ts';
import { admitCustomResource } from './schema.ts';
import { matchesSelectorObject, type LabelSelectorObject, type ObjectPredicate } from './selectors.ts';
import {
  alreadyExists,
  badRequest,
  conflict,
  expired,
  invalid,
  modifiedConflict,
  namespaceNotFound,
  notFound,
  StatusError,
  successStatus,
  unsupportedMediaType,
  type KubeStatus,
  type StatusCause,
} from './status.ts';
import type { Entry, ObjectStore } from './store.ts';

export interface WriteOptions {
  /** The field manager: ?fieldManager=, else the client's User-Agent product. */
  manager: string;
  /** Whether the request named a field manager (server-side apply requires one). */
  managerGiven: boolean;
  dryRun: boolean;
  force?: boolean;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

const SERVER_META = [
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'generation',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
];
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

const cloneOwners = (owners: ManagerEntry[]) => owners.map((o) => ({ ...o, fields: new Set(o.fields) }));

function metadataCauses(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const name = obj.metadata.name ?? '';
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253)
    out.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    });
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!LABEL_KEY.test(k))
      out.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.labels',
        message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'`,
      });
    if (typeof v !== 'string' || !LABEL_VALUE.test(v) || v.length > 63)
      out.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.labels',
        message: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
  }
  return out;
}

/** The pieces of a request body every write checks first. */
function checkBody(kind: ResourceKind, body: unknown, requireTypeMeta: boolean): KubeObject {
  if (!isObject(body)) throw badRequest('the body of the request is not a JSON object');
  const want = apiVersionOf(kind);
  if (requireTypeMeta && (!body.apiVersion || !body.kind))
    throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body).slice(0, 200)}'`);
  if (body.apiVersion !== undefined && body.apiVersion !== want)
    throw badRequest(
      `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${want})`,
    );
  if (body.kind !== undefined && body.kind !== kind.kind)
    throw badRequest(
      `the kind in the data (${String(body.kind)}) does not match the expected kind (${kind.kind})`,
    );
  if (body.metadata !== undefined && !isObject(body.metadata)) throw badRequest('metadata must be an object');
  const obj = clone(body) as KubeObject;
  obj.metadata ??= {};
  obj.apiVersion = want;
  obj.kind = kind.kind;
  return obj;
}

function checkNamespace(kind: ResourceKind, obj: KubeObject, ns: string | undefined): void {
  if (!kind.namespaced) {
    delete obj.metadata.namespace;
    return;
  }
  if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== ns)
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  obj.metadata.namespace = ns;
}

function parsePatchBody(contentType: string, raw: string): unknown {
  try {
    return contentType === PATCH_TYPES.apply ? parseYaml(raw) : JSON.parse(raw);
  } catch (e) {
    throw badRequest(`error decoding patch: ${(e as Error).message}`);
  }
}

function hasDirective(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasDirective);
  if (!isObject(v)) return false;
  return Object.entries(v).some(([k, child]) => k.startsWith('$') || hasDirective(child));
}

export class Resources {
  readonly store: ObjectStore;
  readonly #kinds = new Map<string, ResourceKind>();
  readonly #strictNamespaces: boolean;
  readonly #clock: () => number;

  constructor(store: ObjectStore, opts: { strictNamespaces: boolean; clock: () => number }) {
    this.store = store;
    this.#strictNamespaces = opts.strictNamespaces;
    this.#clock = opts.clock;
    for (const k of builtinKinds()) this.registerKind(k);
  }

  registerKind(kind: ResourceKind): void {
    this.#kinds.set(`${kind.group}/${kind.version}/${kind.plural}`, kind);
  }

  lookup(group: string, version: string, plural: string): ResourceKind | undefined {
    return this.#kinds.get(`${group}/${version}/${plural}`);
  }

  kinds(): ResourceKind[] {
    return [...this.#kinds.values()];
  }

  kindOf(group: string, plural: string): ResourceKind | undefined {
    return this.kinds().find((k) => k.group === group && k.plural === plural);
  }

  /** The object as a client of `kind`'s version sees it (a CRD's versions share storage). */
  view(kind: ResourceKind, obj: KubeObject): KubeObject {
    return { ...clone(obj), apiVersion: apiVersionOf(kind), kind: kind.kind };
  }

  #entry(kind: ResourceKind, ns: string | undefined, name: string): Entry | undefined {
    return this.store.get(storageKey(kind), nsName(kind.namespaced ? ns : undefined, name));
  }

  #requireNamespace(kind: ResourceKind, ns: string | undefined): void {
    if (!kind.namespaced) return;
    if (!ns) throw badRequest('a namespace is required for a namespaced resource');
    const nsKind = this.lookup('', 'v1', 'namespaces') as ResourceKind;
    const entry = this.store.get(storageKey(nsKind), ns);
    if (entry?.obj.metadata.deletionTimestamp)
      throw new StatusError(
        403,
        'Forbidden',
        `unable to create new content in namespace ${ns} because it is being terminated`,
      );
    if (entry) return;
    if (this.#strictNamespaces) throw namespaceNotFound(ns);
    this.create(
      nsKind,
      undefined,
      { metadata: { name: ns } },
      { manager: 'fake-apiserver', managerGiven: true, dryRun: false },
    );
  }

  get(kind: ResourceKind, ns: string | undefined, name: string): KubeObject {
    const e = this.#entry(kind, ns, name);
    if (!e) throw notFound(kind, name);
    return this.view(kind, e.obj);
  }

  /** Matching objects in key order, with the list's resourceVersion; limit/continue paginate. */
  list(
    kind: ResourceKind,
    ns: string | undefined,
    match: ObjectPredicate,
    page: { limit?: number; continueToken?: string } = {},
  ): { items: KubeObject[]; resourceVersion: string; continueToken?: string; remaining?: number } {
    let after = '';
    if (page.continueToken) {
      let token: { rv: number; after: string };
      try {
        token = JSON.parse(Buffer.from(page.continueToken, 'base64url').toString()) as {
          rv: number;
          after: string;
        };
      } catch {
        throw badRequest('continue key is not valid');
      }
      if (token.rv < this.store.oldestWatchable)
        throw expired(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      after = token.after;
    }
    const all = this.store
      .entries(storageKey(kind))
      .filter((e) => !ns || e.obj.metadata.namespace === ns)
      .filter((e) => match(e.obj))
      .map((e) => ({ id: nsName(e.obj.metadata.namespace, e.obj.metadata.name as string), obj: e.obj }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .filter((e) => e.id > after);
    const taken = page.limit && page.limit > 0 ? all.slice(0, page.limit) : all;
    const items = taken.map((e) => {
      const v = this.view(kind, e.obj);
      // Typed lists of built-in kinds carry no kind or apiVersion on their items.
      if (!kind.custom) {
        delete v.apiVersion;
        delete v.kind;
      }
      return v;
    });
    const resourceVersion = String(this.store.resourceVersion);
    if (taken.length === all.length) return { items, resourceVersion };
    const last = taken[taken.length - 1] as { id: string };
    const continueToken = Buffer.from(
      JSON.stringify({ rv: this.store.resourceVersion, after: last.id }),
    ).toString('base64url');
    return { items, resourceVersion, continueToken, remaining: all.length - taken.length };
  }

  create(
    kind: ResourceKind,
    ns: string | undefined,
    body: unknown,
    opts: WriteOptions,
    owners?: ManagerEntry[],
  ): KubeObject {
    const obj = checkBody(kind, body, kind.custom);
    checkNamespace(kind, obj, ns);
    this.#requireNamespace(kind, obj.metadata.namespace);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) {
      meta.name =
        meta.generateName +
        Array.from({ length: 5 }, () => NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)]).join('');
    }
    if (!meta.name)
      throw invalid(kind, '', [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ]);
    if (this.#entry(kind, meta.namespace, meta.name)) throw alreadyExists(kind, meta.name);
    for (const f of SERVER_META) delete meta[f];
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.#clock());
    meta.generation = 1;
    if (kind.onCreate) kind.onCreate(obj);
    else if (kind.statusSubresource) delete obj.status;
    const own = owners ?? [];
    if (!owners) recordUpdate(own, undefined, obj, this.#writeContext(kind, opts));
    if (kind.group === 'apiextensions.k8s.io') this.#prepareCrd(obj);
    return this.#commit(kind, undefined, obj, own, opts);
  }

  #writeContext(kind: ResourceKind, opts: WriteOptions, subresource?: 'status'): WriteContext {
    return {
      manager: opts.manager,
      apiVersion: apiVersionOf(kind),
      statusSeparate: kind.statusSubresource,
      now: this.#clock(),
      ...(subresource ? { subresource } : {}),
    };
  }

  /** The object a write proposes, from the body and the stored object's server-owned fields. */
  #candidate(kind: ResourceKind, existing: KubeObject, body: KubeObject, subresource?: 'status'): KubeObject {
    if (subresource === 'status') {
      const out = clone(existing);
      if (body.status === undefined) delete out.status;
      else out.status = clone(body.status);
      return out;
    }
    const out = clone(body);
    for (const f of SERVER_META) {
      if (existing.metadata[f] === undefined) delete out.metadata[f];
      else out.metadata[f] = clone(existing.metadata[f]);
    }
    out.metadata.name = existing.metadata.name;
    if (kind.namespaced) out.metadata.namespace = existing.metadata.namespace;
    if (kind.statusSubresource) {
      if (existing.status === undefined) delete out.status;
      else out.status = clone(existing.status);
    }
    return out;
  }

  update(
    kind: ResourceKind,
    ns: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions,
    subresource?: 'status',
  ): KubeObject {
    const obj = checkBody(kind, body, kind.custom);
    if (obj.metadata.name !== name)
      throw badRequest(
        `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${name})`,
      );
    checkNamespace(kind, obj, ns);
    const existing = this.#entry(kind, ns, name);
    if (!existing) {
      if (kind.createOnUpdate && !subresource) return this.create(kind, ns, obj, opts);
      throw notFound(kind, name);
    }
    const rv = obj.metadata.resourceVersion;
    if (rv === undefined || rv === '') {
      if (kind.custom)
        throw invalid(kind, name, [
          {
            reason: 'FieldValueInvalid',
            field: 'metadata.resourceVersion',
            message: 'Invalid value: 0x0: must be specified for an update',
          },
        ]);
    } else if (rv !== existing.obj.metadata.resourceVersion) throw modifiedConflict(kind, name);
    const next = this.#candidate(kind, existing.obj, obj, subresource);
    const owners = cloneOwners(existing.owners);
    recordUpdate(owners, existing.obj, next, this.#writeContext(kind, opts, subresource));
    return this.#commit(kind, existing, next, owners, opts);
  }

  patch(
    kind: ResourceKind,
    ns: string | undefined,
    name: string,
    contentType: string,
    raw: string,
    opts: WriteOptions,
    subresource?: 'status',
  ): KubeObject {
    const accepted = [
      PATCH_TYPES.json,
      PATCH_TYPES.merge,
      PATCH_TYPES.apply,
      ...(kind.custom ? [] : [PATCH_TYPES.strategic]),
    ];
    if (!(accepted as string[]).includes(contentType)) throw unsupportedMediaType(accepted);
    if (contentType !== PATCH_TYPES.apply && opts.force !== undefined)
      throw invalid(kind, name, [
        {
          reason: 'FieldValueForbidden',
          field: 'force',
          message: 'Forbidden: may not be specified for non-apply patch',
        },
      ]);
    const patch = parsePatchBody(contentType, raw);
    if (contentType === PATCH_TYPES.apply) return this.#apply(kind, ns, name, patch, opts, subresource);
    const existing = this.#entry(kind, ns, name);
    if (!existing) throw notFound(kind, name);
    const current = this.view(kind, existing.obj);
    let patched: unknown;
    if (contentType === PATCH_TYPES.json) patched = jsonPatch(current, patch);
    else {
      if (!isObject(patch)) throw badRequest('a merge patch must be a JSON object');
      if (contentType === PATCH_TYPES.strategic && hasDirective(patch))
        throw badRequest(
          'strategic merge patch directives ($patch, $retainKeys, ...) are not emulated by this server',
        );
      patched = mergePatch(current, patch);
    }
    const obj = checkBody(kind, patched, false);
    // A resourceVersion in the patch is a precondition, as in an update.
    if (obj.metadata.resourceVersion !== existing.obj.metadata.resourceVersion)
      throw modifiedConflict(kind, name);
    const next = this.#candidate(kind, existing.obj, obj, subresource);
    const owners = cloneOwners(existing.owners);
    recordUpdate(owners, existing.obj, next, this.#writeContext(kind, opts, subresource));
    return this.#commit(kind, existing, next, owners, opts);
  }

  #apply(
    kind: ResourceKind,
    ns: string | undefined,
    name: string,
    patch: unknown,
    opts: WriteOptions,
    subresource?: 'status',
  ): KubeObject {
    if (!opts.managerGiven)
      throw new StatusError(
        422,
        'Invalid',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    const config = checkBody(kind, patch, true);
    if (config.metadata.name !== undefined && config.metadata.name !== name)
      throw badRequest(
        `the name of the object (${config.metadata.name}) does not match the name on the URL (${name})`,
      );
    config.metadata.name = name;
    checkNamespace(kind, config, ns);
    const existing = this.#entry(kind, ns, name);
    if (!existing && subresource) throw notFound(kind, name);
    const rv = config.metadata.resourceVersion;
    if (rv !== undefined && rv !== existing?.obj.metadata.resourceVersion) throw modifiedConflict(kind, name);
    const owners = cloneOwners(existing?.owners ?? []);
    const ctx = { ...this.#writeContext(kind, opts, subresource), force: opts.force === true };
    const merged = serverSideApply(existing?.obj, config, owners, ctx);
    merged.apiVersion = apiVersionOf(kind);
    merged.kind = kind.kind;
    merged.metadata.name = name;
    if (!existing) return this.create(kind, ns, merged, opts, owners);
    return this.#commit(
      kind,
      existing,
      this.#candidate(kind, existing.obj, merged, subresource),
      owners,
      opts,
    );
  }

  /** Admission, then the write: a new resourceVersion and a watch event, unless nothing changed. */
  #commit(
    kind: ResourceKind,
    existing: Entry | undefined,
    obj: KubeObject,
    owners: ManagerEntry[],
    opts: WriteOptions,
  ): KubeObject {
    kind.decode?.(obj);
    const causes = metadataCauses(obj);
    if (kind.custom) causes.push(...admitCustomResource(obj, kind.schema));
    if (kind.validate) causes.push(...kind.validate(obj));
    if (causes.length > 0) throw invalid(kind, obj.metadata.name ?? '', causes);
    const isCrd = kind.group === 'apiextensions.k8s.io';
    if (isCrd) kindsFromCrd(obj); // 400 for a definition the fake cannot serve
    const key = storageKey(kind);
    const id = nsName(obj.metadata.namespace, obj.metadata.name as string);
    if (existing) {
      const strip = (o: KubeObject) => ({
        ...o,
        metadata: { ...o.metadata, managedFields: undefined, resourceVersion: undefined },
      });
      if (jsonEqual(strip(existing.obj), strip(obj))) return this.view(kind, existing.obj);
      const gen = existing.obj.metadata.generation ?? 1;
      obj.metadata.generation = jsonEqual(specPart(existing.obj), specPart(obj)) ? gen : gen + 1;
    }
    if (opts.dryRun) return this.view(kind, obj);
    obj.metadata.resourceVersion = String(this.store.nextResourceVersion());
    obj.metadata.managedFields = managedFields(owners);
    if (existing && obj.metadata.deletionTimestamp && (obj.metadata.finalizers ?? []).length === 0) {
      this.#removeEntry(kind, existing, obj);
      return this.view(kind, obj);
    }
    this.store.put(key, id, { obj, owners }, existing ? 'MODIFIED' : 'ADDED', existing?.obj);
    if (isCrd) this.#registerCrd(obj);
    return this.view(kind, obj);
  }

  delete(
    kind: ResourceKind,
    ns: string | undefined,
    name: string,
    del: DeleteOptions,
    opts: WriteOptions,
  ): { code: number; body: KubeObject | KubeStatus } {
    const existing = this.#entry(kind, ns, name);
    if (!existing) throw notFound(kind, name);
    const meta = existing.obj.metadata;
    const pre = del.preconditions ?? {};
    if (pre.uid !== undefined && pre.uid !== meta.uid)
      throw conflict(
        kind,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid ?? ''}`,
      );
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== meta.resourceVersion)
      throw conflict(
        kind,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion ?? ''}`,
      );
    const status = successStatus({
      name,
      group: kind.group,
      kind: kind.plural,
      ...(meta.uid ? { uid: meta.uid } : {}),
    });
    if (opts.dryRun) return { code: 200, body: status };
    const last = clone(existing.obj);
    if ((meta.finalizers ?? []).length > 0) {
      // Finalizers hold the object: it is marked for deletion and stays until they are removed.
      if (meta.deletionTimestamp) return { code: 202, body: this.view(kind, existing.obj) };
      last.metadata.deletionTimestamp = rfc3339(this.#clock());
      last.metadata.deletionGracePeriodSeconds = del.gracePeriodSeconds ?? 0;
      last.metadata.resourceVersion = String(this.store.nextResourceVersion());
      this.store.put(
        storageKey(kind),
        nsName(meta.namespace, name),
        { obj: last, owners: existing.owners },
        'MODIFIED',
        existing.obj,
      );
      return { code: 202, body: this.view(kind, last) };
    }
    if (del.gracePeriodSeconds !== undefined && del.gracePeriodSeconds > 0) {
      last.metadata.deletionTimestamp = rfc3339(this.#clock());
      last.metadata.deletionGracePeriodSeconds = del.gracePeriodSeconds;
    }
    this.#removeEntry(kind, existing, last);
    return { code: 200, body: status };
  }

  /** Removes the object (and what it contains); `last` gets the deletion's resourceVersion. */
  #removeEntry(kind: ResourceKind, existing: Entry, last: KubeObject): void {
    const meta = existing.obj.metadata;
    if (kind.plural === 'namespaces') this.#emptyNamespace(meta.name as string);
    if (kind.group === 'apiextensions.k8s.io') this.#unregisterCrd(existing.obj);
    // After the cascade, so that the history stays in resourceVersion order.
    last.metadata.resourceVersion = String(this.store.nextResourceVersion());
    this.store.remove(storageKey(kind), nsName(meta.namespace, meta.name as string), last);
  }

  #dropAll(key: string, filter: (e: Entry) => boolean): void {
    for (const e of this.store.entries(key).filter(filter)) {
      const last = clone(e.obj);
      last.metadata.resourceVersion = String(this.store.nextResourceVersion());
      this.store.remove(key, nsName(e.obj.metadata.namespace, e.obj.metadata.name as string), last);
    }
  }

  #emptyNamespace(ns: string): void {
    const keys = new Set(
      this.kinds()
        .filter((k) => k.namespaced)
        .map(storageKey),
    );
    for (const key of keys) this.#dropAll(key, (e) => e.obj.metadata.namespace === ns);
  }

  deleteCollection(
    kind: ResourceKind,
    ns: string | undefined,
    match: ObjectPredicate,
    del: DeleteOptions,
    opts: WriteOptions,
  ): KubeObject {
    const items = this.store
      .entries(storageKey(kind))
      .filter((e) => (!ns || e.obj.metadata.namespace === ns) && match(e.obj))
      .map((e) => e.obj);
    for (const o of items)
      this.delete(kind, o.metadata.namespace, o.metadata.name as string, { ...del, preconditions: {} }, opts);
    return {
      apiVersion: apiVersionOf(kind),
      kind: kind.listKind,
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items: [],
    };
  }

  // --- CustomResourceDefinitions -------------------------------------------------------------

  #prepareCrd(crd: KubeObject): void {
    const kinds = kindsFromCrd(crd); // 400 for a CRD the fake cannot serve
    const spec = crd.spec as JsonObject;
    const t = rfc3339(this.#clock());
    crd.status = {
      acceptedNames: spec.names,
      storedVersions: [(kinds.find((k) => k) as ResourceKind).version],
      conditions: [
        {
          type: 'NamesAccepted',
          status: 'True',
          reason: 'NoConflicts',
          message: 'no conflicts found',
          lastTransitionTime: t,
        },
        {
          type: 'Established',
          status: 'True',
          reason: 'InitialNamesAccepted',
          message: 'the initial names have been accepted',
          lastTransitionTime: t,
        },
      ],
    };
  }

  #registerCrd(crd: KubeObject): void {
    for (const k of kindsFromCrd(crd)) this.registerKind(k);
  }

  #unregisterCrd(crd: KubeObject): void {
    const kinds = kindsFromCrd(crd);
    const first = kinds[0];
    if (!first) return;
    this.#dropAll(storageKey(first), () => true);
    for (const k of kinds) this.#kinds.delete(`${k.group}/${k.version}/${k.plural}`);
  }

  // --- Eviction ------------------------------------------------------------------------------

  /** POST pods/{name}/eviction: deletes the pod unless a PodDisruptionBudget forbids it (429). */
  evict(ns: string, name: string, body: unknown, opts: WriteOptions): KubeStatus {
    const pods = this.lookup('', 'v1', 'pods') as ResourceKind;
    const pdbs = this.lookup('policy', 'v1', 'poddisruptionbudgets') as ResourceKind;
    const pod = this.#entry(pods, ns, name);
    if (!pod) throw notFound(pods, name);
    const labels = pod.obj.metadata.labels ?? {};
    const budgets = this.store
      .entries(storageKey(pdbs))
      .filter((e) => e.obj.metadata.namespace === ns)
      .filter((e) =>
        matchesSelectorObject(
          (e.obj.spec as JsonObject | undefined)?.selector as LabelSelectorObject,
          labels,
        ),
      );
    if (budgets.length > 1)
      throw new StatusError(
        500,
        'InternalError',
        'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      );
    const budget = budgets[0];
    if (budget && isHealthy(pod.obj)) {
      const sel = (budget.obj.spec as JsonObject).selector as LabelSelectorObject;
      const members = this.store
        .entries(storageKey(pods))
        .filter(
          (e) => e.obj.metadata.namespace === ns && matchesSelectorObject(sel, e.obj.metadata.labels ?? {}),
        );
      const healthy = members.filter((e) => isHealthy(e.obj)).length;
      const desired = desiredHealthy(budget.obj.spec as JsonObject, members.length);
      if (healthy - desired <= 0)
        throw new StatusError(
          429,
          'TooManyRequests',
          "Cannot evict pod as it would violate the pod's disruption budget.",
          {
            causes: [
              {
                reason: 'DisruptionBudget',
                message: `The disruption budget ${budget.obj.metadata.name ?? ''} needs ${desired} healthy pods and has ${healthy} currently`,
              },
            ],
          },
        );
    }
    const del = isObject(body) && isObject(body.deleteOptions) ? (body.deleteOptions as DeleteOptions) : {};
    this.delete(pods, ns, name, del, opts);
    return { ...successStatus({}), code: 201 };
  }
}

function isHealthy(pod: KubeObject): boolean {
  const status = isObject(pod.status) ? pod.status : {};
  const conditions = Array.isArray(status.conditions) ? (status.conditions as JsonObject[]) : [];
  return (
    !pod.metadata.deletionTimestamp &&
    status.phase === 'Running' &&
    conditions.some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

function scaled(v: unknown, total: number): number {
  if (typeof v === 'string' && v.endsWith('%')) return Math.ceil((Number(v.slice(0, -1)) / 100) * total);
  return Number(v);
}

function desiredHealthy(spec: JsonObject, expected: number): number {
  if (spec.minAvailable !== undefined) return scaled(spec.minAvailable, expected);
  if (spec.maxUnavailable !== undefined) return expected - scaled(spec.maxUnavailable, expected);
  return expected;
}

// The farm of cluster mode: Site, MinerFleet, GpuPool and AllocationPolicy custom resources,
// read with the real client and validated by the domain's own rules (validateFarmResources), so a
// farm from the cluster is the same `Farm` standalone mode loads from a YAML file.
//
// One informer per kind keeps it current. This source keeps its own copy of each kind's objects:
// replaced whole by every successful list (the informer's first one, its re-lists after 410 Gone,
// and every restart's), changed by add/update/delete events. A change to what the farm is made of
// (spec, labels, annotations, generation) rebuilds the farm after a short quiet period; a status
// write does not. An invalid set of resources keeps the last valid farm and reports the issues.
//
// The client's informer re-lists by itself on 410 Gone and reconnects when the server closes a
// watch, but any other error (a reset connection, a failed list) stops it for good: such an
// informer is retired and a new one started after a backoff. A kind that has had no event and no
// successful list for `stallMs` is restarted the same way (a hung watch, or a quiet cluster, where
// the restart's list is a periodic resync). A retired informer's callbacks are ignored.
import {
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import {
  CRD_API_VERSION,
  CRD_DEFINITIONS,
  CRD_GROUP,
  CRD_VERSION,
  crdCollectionPath,
  crdName,
  formatIssue,
  validateFarmResources,
  type Farm,
  type FarmIssue,
} from '@switchyard/domain';
import { isDeepStrictEqual } from 'node:util';
import { ClusterError } from '../errors.ts';
import { clusterErrorFromKube, isNotFound } from './api-errors.ts';
import { callOptions } from './call-options.ts';

/** The kinds a farm is made of, in the order their documents are validated. */
export const FARM_KINDS = ['Site', 'AllocationPolicy', 'MinerFleet', 'GpuPool'] as const;
export type FarmKind = (typeof FARM_KINDS)[number];

/** Written by `kubectl apply`: the whole object again, longer than a farm annotation may be. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** What the status writer needs of a resource in the current farm. */
export interface ResourceMeta {
  /** metadata.generation: the spec version the farm holds (the status's observedGeneration). */
  generation: number;
  resourceVersion: string;
  uid: string | undefined;
}

export type RestartReason = 'error' | 'stalled';

export interface KubeFarmSourceOptions {
  kubeConfig: KubeConfig;
  /** A new valid farm (also after an invalid spell ends). Called after start() resolved. */
  onChange?: (farm: Farm) => void;
  /** The resources no longer make a valid farm; the last valid one stays current. */
  onInvalid?: (issues: FarmIssue[]) => void;
  /** A watch or list failure (the informer is restarted), or a callback that threw. */
  onError?: (error: Error, kind?: FarmKind) => void;
  /** An informer was replaced by a new one. */
  onRestart?: (kind: FarmKind, reason: RestartReason) => void;
  /** Quiet period before a change rebuilds the farm (default 200 ms; at most 10× under churn). */
  debounceMs?: number;
  /** A kind with no event and no successful list for this long is restarted (default 5 min). */
  stallMs?: number;
  /** Deadline of one list call (default 30 s). */
  requestTimeoutMs?: number;
  /** Restart backoff after a failure: doubles from initialMs up to maxMs (default 500 ms, 30 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
}

/** The cluster's resources do not make a valid farm. */
export class InvalidFarmError extends Error {
  readonly issues: FarmIssue[];
  constructor(issues: FarmIssue[]) {
    const shown = issues.slice(0, 10).map((i) => `  ${formatIssue(i)}`);
    const more = issues.length > 10 ? [`  … and ${issues.length - 10} more`] : [];
    super(['the farm in the cluster is not valid:', ...shown, ...more].join('\n'));
    this.name = 'InvalidFarmError';
    this.issues = issues;
  }
}

interface CustomObject extends KubernetesObject {
  spec?: unknown;
}

/** A farm document as the domain validates it: no namespace, status or server-set metadata. */
export interface FarmResourceDocument {
  apiVersion: string;
  kind: FarmKind;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
}

/** A custom resource as the document of a farm file. Pure. */
export function customResourceToDocument(
  kind: FarmKind,
  obj: {
    metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: unknown;
  },
): FarmResourceDocument {
  const m = obj.metadata ?? {};
  const annotations = Object.entries(m.annotations ?? {}).filter(([k]) => k !== LAST_APPLIED_ANNOTATION);
  const labels = Object.entries(m.labels ?? {});
  return {
    apiVersion: CRD_API_VERSION,
    kind,
    metadata: {
      name: m.name ?? '',
      ...(labels.length ? { labels: Object.fromEntries(labels) } : {}),
      ...(annotations.length ? { annotations: Object.fromEntries(annotations) } : {}),
    },
    spec: obj.spec,
  };
}

/** Delay before restart number `attempt` (1, 2, ...): initial × 2^(attempt−1), capped. Pure. */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

interface Handle {
  informer: Informer<CustomObject>;
  retired: boolean;
}

interface KindState {
  kind: FarmKind;
  objects: Map<string, CustomObject>;
  handle: Handle | undefined;
  lastActivity: number;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

const byName = (a: CustomObject, b: CustomObject) =>
  (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1;
const docKey = (kind: FarmKind, o: CustomObject) =>
  `${o.metadata?.generation ?? ''} ${JSON.stringify(customResourceToDocument(kind, o))}`;

export class KubeFarmSource {
  readonly #kc: KubeConfig;
  readonly #api: CustomObjectsApi;
  readonly #opts: KubeFarmSourceOptions;
  readonly #debounceMs: number;
  readonly #stallMs: number;
  readonly #timeoutMs: number;
  readonly #backoffInitial: number;
  readonly #backoffMax: number;
  readonly #now: () => number;
  readonly #kinds: Map<FarmKind, KindState>;
  #farm: Farm | undefined;
  #meta = new Map<string, ResourceMeta>();
  #issues: FarmIssue[] = [];
  #issuesKey = '';
  #debounce: NodeJS.Timeout | undefined;
  #firstPending = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(opts: KubeFarmSourceOptions) {
    this.#kc = opts.kubeConfig;
    this.#opts = opts;
    this.#api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#debounceMs = opts.debounceMs ?? 200;
    this.#stallMs = opts.stallMs ?? 5 * 60_000;
    this.#timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#backoffInitial = opts.backoff?.initialMs ?? 500;
    this.#backoffMax = opts.backoff?.maxMs ?? 30_000;
    this.#now = opts.now ?? (() => performance.now());
    for (const [name, v] of Object.entries({
      debounceMs: this.#debounceMs,
      stallMs: this.#stallMs,
      requestTimeoutMs: this.#timeoutMs,
    }))
      if (!(v > 0)) throw new ClusterError('invalid-config', `${name} must be positive (got ${v})`);
    this.#kinds = new Map(
      FARM_KINDS.map((kind) => [
        kind,
        {
          kind,
          objects: new Map(),
          handle: undefined,
          lastActivity: 0,
          failures: 0,
          restartTimer: undefined,
        },
      ]),
    );
  }

  /**
   * Lists every kind, validates the farm and starts watching. Rejects with a ClusterError
   * (`not-found` when a CRD is not installed) or an InvalidFarmError.
   */
  async start(): Promise<Farm> {
    if (this.#started) throw new Error('KubeFarmSource.start() was called already');
    this.#started = true;
    const lists = await Promise.all(FARM_KINDS.map((k) => this.#initialList(k)));
    FARM_KINDS.forEach((kind, i) => this.#replace(kind, lists[i] ?? []));
    const res = validateFarmResources(this.#documents().map((d) => d.doc));
    if (!res.ok) throw new InvalidFarmError(res.issues);
    this.#accept(res.farm);
    if (this.#closed) return res.farm;
    await Promise.all(FARM_KINDS.map((k) => this.#startInformer(k)));
    const every = Math.max(10, Math.min(Math.floor(this.#stallMs / 4), 30_000));
    this.#stallTimer = setInterval(() => this.#checkStalls(), every);
    this.#stallTimer.unref();
    return res.farm;
  }

  /** The last valid farm. */
  current(): Farm {
    if (!this.#farm) throw new Error('KubeFarmSource.current() before start() resolved');
    return this.#farm;
  }

  /** Why the resources as they are now do not make a valid farm ([] when they do). */
  issues(): FarmIssue[] {
    return this.#issues;
  }

  /** generation, resourceVersion and uid of a resource as the current farm holds it. */
  meta(kind: FarmKind, name: string): ResourceMeta | undefined {
    return this.#meta.get(`${kind}/${name}`);
  }

  /** Stops every informer and timer. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#stallTimer);
    const stops: Array<Promise<void>> = [];
    for (const s of this.#kinds.values()) {
      clearTimeout(s.restartTimer);
      if (s.handle) stops.push(this.#retire(s.handle));
      s.handle = undefined;
    }
    await Promise.all(stops);
  }

  // --- Listing and watching --------------------------------------------------------------------

  #list(kind: FarmKind): Promise<KubernetesListObject<CustomObject>> {
    return this.#api.listClusterCustomObject(
      { group: CRD_GROUP, version: CRD_VERSION, plural: CRD_DEFINITIONS[kind].plural },
      callOptions({ timeoutMs: this.#timeoutMs }),
    ) as Promise<KubernetesListObject<CustomObject>>;
  }

  async #initialList(kind: FarmKind): Promise<CustomObject[]> {
    try {
      return (await this.#list(kind)).items;
    } catch (e) {
      if (isNotFound(e))
        throw new ClusterError(
          'not-found',
          `the CustomResourceDefinition ${crdName(kind)} is not installed (GET ${crdCollectionPath(kind)}: 404); install the chart's CRDs`,
          { status: 404, cause: e },
        );
      throw clusterErrorFromKube(e, `GET ${crdCollectionPath(kind)}`);
    }
  }

  async #startInformer(kind: FarmKind): Promise<void> {
    const state = this.#kinds.get(kind) as KindState;
    const handle: Handle = {
      retired: false,
      informer: makeInformer<CustomObject>(this.#kc, crdCollectionPath(kind), async () => {
        const list = await this.#list(kind);
        if (!handle.retired) this.#listed(state, list.items);
        return list;
      }),
    };
    // A retired informer may still deliver (a watch that connected after stop()): stop it again.
    const live = (): boolean => {
      if (!handle.retired) return !this.#closed;
      void handle.informer.stop();
      return false;
    };
    handle.informer.on('add', (o) => live() && this.#upsert(state, o));
    handle.informer.on('update', (o) => live() && this.#upsert(state, o));
    handle.informer.on('delete', (o) => live() && this.#remove(state, o));
    handle.informer.on('error', (e: unknown) => live() && this.#failed(state, handle, e));
    state.handle = handle;
    state.lastActivity = this.#now();
    await handle.informer.start().catch((e: unknown) => this.#failed(state, handle, e));
  }

  #retire(handle: Handle): Promise<void> {
    handle.retired = true;
    return handle.informer.stop().catch(() => undefined);
  }

  #failed(state: KindState, handle: Handle, e: unknown): void {
    if (this.#closed || handle.retired || state.handle !== handle) return;
    void this.#retire(handle);
    state.failures++;
    this.#report(clusterErrorFromKube(e, `watch ${crdCollectionPath(state.kind)}`), state.kind);
    const delay = backoffDelayMs(state.failures, this.#backoffInitial, this.#backoffMax);
    this.#scheduleRestart(state, 'error', delay);
  }

  #scheduleRestart(state: KindState, reason: RestartReason, delayMs: number): void {
    if (this.#closed || state.restartTimer) return;
    state.restartTimer = setTimeout(() => {
      state.restartTimer = undefined;
      if (this.#closed) return;
      if (state.handle && !state.handle.retired) void this.#retire(state.handle);
      this.#call(() => this.#opts.onRestart?.(state.kind, reason), state.kind);
      void this.#startInformer(state.kind);
    }, delayMs);
  }

  #checkStalls(): void {
    const now = this.#now();
    for (const s of this.#kinds.values()) {
      if (s.restartTimer || now - s.lastActivity < this.#stallMs) continue;
      s.lastActivity = now; // the new informer gets a whole period of its own
      this.#scheduleRestart(s, 'stalled', 0);
    }
  }

  // --- The objects and the farm ----------------------------------------------------------------

  #alive(state: KindState): void {
    state.lastActivity = this.#now();
    state.failures = 0;
  }

  #replace(kind: FarmKind, items: CustomObject[]): void {
    const state = this.#kinds.get(kind) as KindState;
    state.objects = new Map(items.map((o) => [o.metadata?.name ?? '', o]));
  }

  #listed(state: KindState, items: CustomObject[]): void {
    this.#alive(state);
    const before = state.objects;
    this.#replace(state.kind, items);
    const same =
      before.size === state.objects.size &&
      [...state.objects].every(([n, o]) => {
        const b = before.get(n);
        return b !== undefined && docKey(state.kind, b) === docKey(state.kind, o);
      });
    if (!same) this.#schedule();
  }

  #upsert(state: KindState, obj: CustomObject): void {
    this.#alive(state);
    const name = obj.metadata?.name ?? '';
    const prev = state.objects.get(name);
    state.objects.set(name, obj);
    if (!prev || docKey(state.kind, prev) !== docKey(state.kind, obj)) this.#schedule();
  }

  #remove(state: KindState, obj: CustomObject): void {
    this.#alive(state);
    if (state.objects.delete(obj.metadata?.name ?? '')) this.#schedule();
  }

  #schedule(): void {
    if (this.#closed || !this.#farm) return;
    const now = this.#now();
    if (!this.#debounce) this.#firstPending = now;
    clearTimeout(this.#debounce);
    // Wait for a quiet spell, but never longer than ten of them after the first change.
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#firstPending + 10 * this.#debounceMs - now));
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#rebuild();
    }, wait);
  }

  #documents(): Array<{ doc: FarmResourceDocument; obj: CustomObject }> {
    return FARM_KINDS.flatMap((kind) =>
      [...(this.#kinds.get(kind) as KindState).objects.values()]
        .sort(byName)
        .map((obj) => ({ doc: customResourceToDocument(kind, obj), obj })),
    );
  }

  #rebuild(): void {
    if (this.#closed) return;
    const entries = this.#documents();
    const res = validateFarmResources(entries.map((e) => e.doc));
    if (!res.ok) {
      this.#issues = res.issues;
      const key = JSON.stringify(res.issues);
      if (key === this.#issuesKey) return;
      this.#issuesKey = key;
      this.#call(() => this.#opts.onInvalid?.(res.issues));
      return;
    }
    const recovered = this.#issuesKey !== '';
    const changed = !isDeepStrictEqual(res.farm, this.#farm);
    this.#accept(res.farm, entries);
    if (changed || recovered) this.#call(() => this.#opts.onChange?.(res.farm));
  }

  #accept(farm: Farm, entries = this.#documents()): void {
    this.#farm = farm;
    this.#issues = [];
    this.#issuesKey = '';
    this.#meta = new Map(
      entries.map(({ doc, obj }) => [
        `${doc.kind}/${doc.metadata.name}`,
        {
          generation: obj.metadata?.generation ?? 0,
          resourceVersion: obj.metadata?.resourceVersion ?? '',
          uid: obj.metadata?.uid,
        },
      ]),
    );
  }

  #report(e: Error, kind?: FarmKind): void {
    const cb = this.#opts.onError;
    if (!cb) return;
    try {
      cb(e, kind);
    } catch {
      /* the error callback itself failed: nothing left to tell */
    }
  }

  /** Runs a caller's callback; what it throws goes to onError, never into an informer. */
  #call(fn: () => void, kind?: FarmKind): void {
    try {
      fn();
    } catch (e) {
      this.#report(e instanceof Error ? e : new Error(String(e)), kind);
    }
  }
}

// A local, in-memory Kubernetes API server for tests, on 127.0.0.1 and a random port, that
// @kubernetes/client-node talks to like a real one: list/get/create/update/patch/delete/watch of
// core Nodes, Pods, Namespaces, Events, ConfigMaps, apps Deployments and DaemonSets, batch Jobs,
// coordination Leases, PriorityClasses, PodDisruptionBudgets and custom resources from CRDs,
// with resourceVersions, 409 Conflict, 410 Gone and /status subresources (resources.ts says
// how each verb behaves). Test hooks: compact(), pause()/resume(), dropWatches(), fail(), and a
// request log. What it does not emulate is listed in docs/cluster.md.
//
//   const api = await startFakeApiServer({ namespaces: ['switchyard'], crds });
//   const kc = api.kubeConfig({ user: 'controller-a' });   // the user is the bearer token
//   ...
//   await api.close();
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigFor } from '@switchyard/cluster';
import { apiVersionOf, customKind, resourceList, type KindRegistration, type ResourceKind } from './kinds.ts';
import { isObject, type JsonObject, type KubeObject } from './objects.ts';
import { Resources, type DeleteOptions, type WriteOptions } from './resources.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import {
  badRequest,
  expired,
  methodNotAllowed,
  pathNotFound,
  StatusError,
  type KubeStatus,
} from './status.ts';
import { ObjectStore } from './store.ts';
import { WatchStream } from './watch.ts';

export interface FakeApiServerOptions {
  /** Namespaces that exist from the start (default: default, kube-system). */
  namespaces?: string[];
  /** Creating in a namespace that does not exist is a 404, as on a real server (default true). */
  strictNamespaces?: boolean;
  /** CustomResourceDefinition objects to serve from the start. */
  crds?: unknown[];
  /** Changes kept for watches; older resourceVersions get 410 (default 10 000). */
  historyLimit?: number;
  /**
   * How a watch from a forgotten resourceVersion is refused: 'event' (HTTP 200, then one ERROR
   * event with a 410 Status, then the end: what the real watch cache does) or 'status' (HTTP 410).
   */
  goneAs?: 'event' | 'status';
  /** BOOKMARK events this often to watches that allow them (default 0: none). */
  bookmarkIntervalMs?: number;
  /** Ends every watch after this long, as the real server's request timeout does (default none). */
  watchTimeoutSeconds?: number;
  /** Wall clock for timestamps (default Date.now). */
  clock?: () => number;
}

export interface RequestRecord {
  /** Wall-clock ms when the request arrived. */
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
  /** The bearer token (or basic-auth user name) the client sent. */
  user: string | undefined;
  contentType: string | undefined;
  body: string;
  watch: boolean;
  /** The HTTP status answered; undefined while pending (or never answered). */
  status?: number;
}

export interface RequestFilter {
  user?: string;
  method?: string;
  /** A path prefix, or a pattern the path must match. */
  path?: string | RegExp;
  /** Whether watches match (default: both watches and other requests). */
  watch?: boolean;
}

export interface Fault extends RequestFilter {
  /** How many matching requests fail (default 1). */
  times?: number;
  /** An HTTP status answered with a Status document, 'reset' (the socket is destroyed) or 'hang'. */
  status: number | 'reset' | 'hang';
  retryAfterSeconds?: number;
  message?: string;
}

interface RequestInfo {
  method: string;
  path: string;
  user: string | undefined;
  watch: boolean;
}

interface PauseEntry {
  filter: RequestFilter;
  waiters: Array<() => void>;
}

export interface Pause {
  resume(): void;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  408: 'Timeout',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function matches(f: RequestFilter, r: RequestInfo): boolean {
  if (f.user !== undefined && f.user !== r.user) return false;
  if (f.method !== undefined && f.method.toUpperCase() !== r.method) return false;
  if (f.watch !== undefined && f.watch !== r.watch) return false;
  if (typeof f.path === 'string' && !r.path.startsWith(f.path)) return false;
  if (f.path instanceof RegExp && !f.path.test(r.path)) return false;
  return true;
}

function userOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? '';
  if (auth.startsWith('Bearer ')) return auth.slice(7);
  if (auth.startsWith('Basic ')) return Buffer.from(auth.slice(6), 'base64').toString().split(':')[0];
  return undefined;
}

const isWatch = (q: URLSearchParams) => q.get('watch') === 'true' || q.get('watch') === '1';

interface Target {
  kind: ResourceKind;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export class FakeApiServer {
  readonly store: ObjectStore;
  readonly resources: Resources;
  readonly requests: RequestRecord[] = [];
  url = '';
  readonly #opts: FakeApiServerOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<WatchStream>();
  readonly #pauses = new Set<PauseEntry>();
  readonly #faults: Array<Fault & { times: number }> = [];
  readonly #hanging = new Set<ServerResponse>();
  #closed = false;

  private constructor(opts: FakeApiServerOptions) {
    this.#opts = opts;
    this.store = new ObjectStore(opts.historyLimit !== undefined ? { historyLimit: opts.historyLimit } : {});
    this.resources = new Resources(this.store, {
      strictNamespaces: opts.strictNamespaces ?? true,
      clock: opts.clock ?? (() => Date.now()),
    });
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const api = new FakeApiServer(opts);
    const admin = api.#admin();
    const nsKind = api.resources.lookup('', 'v1', 'namespaces') as ResourceKind;
    for (const ns of opts.namespaces ?? ['default', 'kube-system'])
      api.resources.create(nsKind, undefined, { metadata: { name: ns } }, admin);
    for (const crd of opts.crds ?? []) api.registerCrd(crd);
    await new Promise<void>((resolve, reject) => {
      api.#server.once('error', reject);
      api.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = api.#server.address() as { port: number };
    api.url = `http://127.0.0.1:${addr.port}`;
    return api;
  }

  /** A KubeConfig for this server; `user` becomes the bearer token that tells clients apart. */
  kubeConfig(opts: { user?: string; namespace?: string } = {}): KubeConfig {
    return kubeConfigFor({
      server: this.url,
      ...(opts.user ? { token: opts.user } : {}),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
    });
  }

  #admin(manager = 'fake-apiserver'): WriteOptions {
    return { manager, managerGiven: true, dryRun: false };
  }

  // --- Test hooks: kinds and objects -----------------------------------------------------------

  /** Serves the kinds a CustomResourceDefinition declares (stored like one created over HTTP). */
  registerCrd(crd: unknown): KubeObject {
    const kind = this.resources.lookup(
      'apiextensions.k8s.io',
      'v1',
      'customresourcedefinitions',
    ) as ResourceKind;
    return this.resources.create(kind, undefined, crd, this.#admin());
  }

  registerKind(reg: KindRegistration): ResourceKind {
    const kind = customKind(reg);
    this.resources.registerKind(kind);
    return kind;
  }

  #kindOf(apiVersion: string, kindName: string): ResourceKind {
    const k = this.resources.kinds().find((x) => apiVersionOf(x) === apiVersion && x.kind === kindName);
    if (!k) throw new Error(`the fake API server does not serve ${apiVersion} ${kindName}`);
    return k;
  }

  /**
   * Creates or replaces an object as a kubelet or another controller would, status included
   * (written through /status where the kind has one). Returns the stored object.
   */
  seed(obj: KubeObject): KubeObject {
    const kind = this.#kindOf(obj.apiVersion ?? '', obj.kind ?? '');
    const ns = kind.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const name = obj.metadata.name as string;
    const opts = this.#admin('fake-apiserver-seed');
    let current = this.find(obj.apiVersion ?? '', obj.kind ?? '', name, ns);
    current = current
      ? this.resources.update(
          kind,
          ns,
          name,
          { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion } },
          opts,
        )
      : this.resources.create(kind, ns, obj, opts);
    if (kind.statusSubresource && obj.status !== undefined)
      current = this.resources.update(kind, ns, name, { ...current, status: obj.status }, opts, 'status');
    return current;
  }

  /** The stored object, or undefined. */
  find(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject | undefined {
    const k = this.#kindOf(apiVersion, kind);
    try {
      return this.resources.get(k, namespace, name);
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return undefined;
      throw e;
    }
  }

  /** Every stored object of a kind (in one namespace, or all). */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    return this.resources.list(this.#kindOf(apiVersion, kind), namespace, () => true).items;
  }

  // --- Test hooks: misbehaviour ----------------------------------------------------------------

  /**
   * Forgets the change history: a watch or continue token from any resourceVersion handed out
   * so far gets 410. With expireWatches, open watches also get an ERROR 410 event and end.
   */
  compact(opts: { expireWatches?: boolean } = {}): void {
    this.store.compact();
    if (!opts.expireWatches) return;
    for (const w of [...this.#watches]) {
      w.send('ERROR', this.#goneStatus(0));
      w.end();
    }
  }

  /** Ends open watches (all, or those matching): cleanly, or by resetting their connections. */
  dropWatches(opts: { abrupt?: boolean } & RequestFilter = {}): number {
    const hit = [...this.#watches].filter((w) =>
      matches(opts, { method: 'GET', path: w.spec.path, user: w.spec.user, watch: true }),
    );
    for (const w of hit) w.end(opts.abrupt === true);
    return hit.length;
  }

  /** Open watches (all, or those matching). */
  watchCount(filter: RequestFilter = {}): number {
    return [...this.#watches].filter((w) =>
      matches(filter, { method: 'GET', path: w.spec.path, user: w.spec.user, watch: true }),
    ).length;
  }

  /**
   * Stalls matching requests (default: all): new ones wait unanswered, open watches hold their
   * events, until the returned handle (or resume()) lets them go.
   */
  pause(filter: RequestFilter = {}): Pause {
    const entry: PauseEntry = { filter, waiters: [] };
    this.#pauses.add(entry);
    for (const w of this.#watches) if (this.#watchPaused(w)) w.hold();
    return { resume: () => this.#unpause(entry) };
  }

  /** Lifts every pause. */
  resume(): void {
    for (const p of [...this.#pauses]) this.#unpause(p);
  }

  #unpause(entry: PauseEntry): void {
    if (!this.#pauses.delete(entry)) return;
    for (const w of entry.waiters.splice(0)) w();
    for (const w of this.#watches) if (!this.#watchPaused(w)) w.resume();
  }

  #watchPaused(w: WatchStream): boolean {
    const info = { method: 'GET', path: w.spec.path, user: w.spec.user, watch: true };
    return [...this.#pauses].some((p) => matches(p.filter, info));
  }

  /** The next `times` matching requests fail as told. */
  fail(fault: Fault): void {
    this.#faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /** Requests in the log matching a filter. */
  requestsMatching(filter: RequestFilter): RequestRecord[] {
    return this.requests.filter((r) => matches(filter, r));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    for (const w of [...this.#watches]) w.end(true);
    for (const res of this.#hanging) res.socket?.destroy();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  // --- HTTP ------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const record: RequestRecord = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      user: userOf(req),
      contentType: req.headers['content-type'],
      body: '',
      watch: isWatch(url.searchParams),
    };
    this.requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    record.body = Buffer.concat(chunks).toString();
    await this.#waitWhilePaused(record);
    if (this.#closed) return;
    if (this.#injectFault(record, res)) return;
    try {
      this.#route(record, req, res);
      if (res.headersSent) record.status = res.statusCode; // a watch: answered, still streaming
    } catch (e) {
      const err = e instanceof StatusError ? e : new StatusError(500, 'InternalError', (e as Error).message);
      if (!res.headersSent) this.#json(res, err.code, err.toStatus());
    }
  }

  async #waitWhilePaused(r: RequestInfo): Promise<void> {
    for (;;) {
      const p = [...this.#pauses].find((x) => matches(x.filter, r));
      if (!p) return;
      await new Promise<void>((resolve) => p.waiters.push(resolve));
    }
  }

  #injectFault(r: RequestInfo, res: ServerResponse): boolean {
    const f = this.#faults.find((x) => x.times > 0 && matches(x, r));
    if (!f) return false;
    f.times--;
    if (f.status === 'reset') res.socket?.destroy();
    else if (f.status === 'hang') this.#hanging.add(res);
    else {
      const reason = REASONS[f.status] ?? 'InternalError';
      const err = new StatusError(
        f.status,
        reason,
        f.message ?? `injected ${f.status} ${reason}`,
        f.retryAfterSeconds ? { retryAfterSeconds: f.retryAfterSeconds } : undefined,
      );
      if (f.retryAfterSeconds) res.setHeader('retry-after', String(f.retryAfterSeconds));
      this.#json(res, f.status, err.toStatus());
    }
    return true;
  }

  #json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #route(r: RequestRecord, req: IncomingMessage, res: ServerResponse): void {
    const segs = r.path.split('/').filter(Boolean).map(decodeURIComponent);
    const discovery = this.#discovery(segs);
    if (discovery) {
      if (r.method !== 'GET') throw methodNotAllowed(r.method);
      return this.#json(res, 200, discovery);
    }
    const target = this.#target(segs);
    if (!target) throw pathNotFound();
    const { code, body } = this.#dispatch(r, target, req, res);
    if (body !== undefined) this.#json(res, code, body);
  }

  #discovery(segs: string[]): JsonObject | undefined {
    const kinds = this.resources.kinds();
    const [a, b, c] = segs;
    if (segs.length === 1 && a === 'version')
      return {
        major: '1',
        minor: '34',
        gitVersion: 'v1.34.0-switchyard-fake',
        platform: `${process.platform}/${process.arch}`,
      };
    if (segs.length === 1 && a === 'api')
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [
          { clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace('http://', '') },
        ],
      };
    if (segs.length === 2 && a === 'api' && b === 'v1')
      return resourceList(
        'v1',
        kinds.filter((k) => k.group === ''),
      );
    if (a !== 'apis' || segs.length > 3) return undefined;
    const groups = new Map<string, Set<string>>();
    for (const k of kinds.filter((x) => x.group !== ''))
      (groups.get(k.group) ?? groups.set(k.group, new Set()).get(k.group))?.add(k.version);
    const groupDoc = (name: string) => {
      const versions = [...(groups.get(name) ?? [])].map((v) => ({
        groupVersion: `${name}/${v}`,
        version: v,
      }));
      return { kind: 'APIGroup', apiVersion: 'v1', name, versions, preferredVersion: versions[0] };
    };
    if (segs.length === 1)
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups.keys()].sort().map(groupDoc) };
    if (!groups.has(b as string)) return undefined;
    if (segs.length === 2) return groupDoc(b as string);
    const inVersion = kinds.filter((k) => k.group === b && k.version === c);
    return inVersion.length ? resourceList(`${b}/${c}`, inVersion) : undefined;
  }

  /** /api/v1/... or /apis/{group}/{version}/...: the kind, namespace, name and subresource. */
  #target(segs: string[]): Target | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 3)
      [group, version, rest] = ['', segs[1] as string, segs.slice(2)];
    else if (segs[0] === 'apis' && segs.length >= 4)
      [group, version, rest] = [segs[1] as string, segs[2] as string, segs.slice(3)];
    else return undefined;
    const lookup = (plural: string | undefined) =>
      plural ? this.resources.lookup(group, version, plural) : undefined;
    const isNsObject =
      rest[0] === 'namespaces' &&
      group === '' &&
      (rest.length <= 2 || rest[2] === 'status' || rest[2] === 'finalize');
    if (rest[0] === 'namespaces' && !isNsObject && rest.length >= 3) {
      const kind = lookup(rest[2]);
      if (!kind?.namespaced || rest.length > 5) return undefined;
      return {
        kind,
        namespace: rest[1] as string,
        ...(rest[3] ? { name: rest[3] } : {}),
        ...(rest[4] ? { subresource: rest[4] } : {}),
      };
    }
    const kind = lookup(rest[0]);
    if (!kind || rest.length > 3) return undefined;
    // A namespaced kind without a namespace: only its collection, across all namespaces.
    if (kind.namespaced && rest.length > 1) return undefined;
    return { kind, ...(rest[1] ? { name: rest[1] } : {}), ...(rest[2] ? { subresource: rest[2] } : {}) };
  }

  #writeOptions(r: RequestRecord, req: IncomingMessage): WriteOptions {
    const fm = r.query.get('fieldManager');
    const ua = (req.headers['user-agent'] ?? '').split('/')[0] || 'unknown';
    const force = r.query.get('force');
    return {
      manager: fm || ua,
      managerGiven: Boolean(fm),
      dryRun: r.query.get('dryRun') === 'All',
      ...(force !== null ? { force: force === 'true' || force === '1' } : {}),
    };
  }

  #body(r: RequestRecord): unknown {
    if (r.body === '') return undefined;
    try {
      return JSON.parse(r.body);
    } catch (e) {
      throw badRequest(`error decoding the request body: ${(e as Error).message}`);
    }
  }

  #dispatch(
    r: RequestRecord,
    t: Target,
    req: IncomingMessage,
    res: ServerResponse,
  ): { code: number; body?: unknown } {
    const { kind, namespace: ns, name, subresource: sub } = t;
    const opts = this.#writeOptions(r, req);
    if (sub !== undefined && sub !== 'status' && !(sub === 'eviction' && kind.plural === 'pods'))
      throw pathNotFound();
    if (sub === 'status' && !kind.statusSubresource) throw pathNotFound();
    const status = sub === 'status' ? ('status' as const) : undefined;
    if (!name) return this.#collection(r, t, opts, res);
    switch (r.method) {
      case 'GET':
        return { code: 200, body: this.resources.get(kind, ns, name) };
      case 'PUT':
        return { code: 200, body: this.resources.update(kind, ns, name, this.#body(r), opts, status) };
      case 'PATCH': {
        const existed = this.#exists(kind, ns, name);
        const contentType = (r.contentType ?? '').split(';')[0]?.trim() ?? '';
        const out = this.resources.patch(kind, ns, name, contentType, r.body, opts, status);
        return { code: existed ? 200 : 201, body: out };
      }
      case 'DELETE':
        return this.resources.delete(kind, ns, name, this.#deleteOptions(r), opts);
      case 'POST':
        if (sub === 'eviction')
          return { code: 201, body: this.resources.evict(ns as string, name, this.#body(r), opts) };
        throw methodNotAllowed(r.method);
      default:
        throw methodNotAllowed(r.method);
    }
  }

  #exists(kind: ResourceKind, ns: string | undefined, name: string): boolean {
    try {
      this.resources.get(kind, ns, name);
      return true;
    } catch {
      return false;
    }
  }

  #deleteOptions(r: RequestRecord): DeleteOptions {
    const body = this.#body(r);
    const b = isObject(body) ? body : {};
    const q = r.query.get('gracePeriodSeconds');
    const grace =
      q !== null ? Number(q) : typeof b.gracePeriodSeconds === 'number' ? b.gracePeriodSeconds : undefined;
    return {
      ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
      ...(isObject(b.preconditions)
        ? { preconditions: b.preconditions as DeleteOptions['preconditions'] }
        : {}),
    };
  }

  #collection(
    r: RequestRecord,
    t: Target,
    opts: WriteOptions,
    res: ServerResponse,
  ): { code: number; body?: unknown } {
    const { kind, namespace: ns } = t;
    const labelMatch = parseLabelSelector(r.query.get('labelSelector'));
    const fieldMatch = parseFieldSelector(r.query.get('fieldSelector'), kind.selectableFields);
    const match = (o: KubeObject) => labelMatch(o) && fieldMatch(o);
    switch (r.method) {
      case 'GET': {
        if (r.watch) {
          this.#watch(r, t, match, res);
          return { code: 200 };
        }
        const limit = Number(r.query.get('limit') ?? 0);
        const cont = r.query.get('continue');
        const page = this.resources.list(kind, ns, match, {
          ...(limit > 0 ? { limit } : {}),
          ...(cont ? { continueToken: cont } : {}),
        });
        const metadata = {
          resourceVersion: page.resourceVersion,
          ...(page.continueToken ? { continue: page.continueToken, remainingItemCount: page.remaining } : {}),
        };
        return {
          code: 200,
          body: { kind: kind.listKind, apiVersion: apiVersionOf(kind), metadata, items: page.items },
        };
      }
      case 'POST':
        return { code: 201, body: this.resources.create(kind, ns, this.#body(r), opts) };
      case 'DELETE':
        return {
          code: 200,
          body: this.resources.deleteCollection(kind, ns, match, this.#deleteOptions(r), opts),
        };
      default:
        throw methodNotAllowed(r.method);
    }
  }

  #goneStatus(rv: number): KubeStatus {
    return expired(`too old resource version: ${rv} (${this.store.oldestWatchable})`).toStatus();
  }

  #watch(r: RequestRecord, t: Target, match: (o: KubeObject) => boolean, res: ServerResponse): void {
    const rvParam = r.query.get('resourceVersion');
    const from = rvParam && rvParam !== '0' ? Number(rvParam) : undefined;
    if (from !== undefined && !Number.isFinite(from))
      throw badRequest(`invalid resource version: ${rvParam}`);
    const backlog = from === undefined ? undefined : this.store.since(from);
    if (backlog === 'expired' && (this.#opts.goneAs ?? 'event') === 'status')
      throw expired(this.#goneStatus(from as number).message as string);
    const kind = t.kind;
    const stream = new WatchStream(
      { kind, namespace: t.namespace, match, user: r.user, path: r.path },
      res,
      (o) => this.resources.view(kind, o),
    );
    if (backlog === 'expired') {
      stream.send('ERROR', this.#goneStatus(from as number));
      stream.end();
      return;
    }
    this.#watches.add(stream);
    stream.onClose(() => this.#watches.delete(stream));
    if (this.#watchPaused(stream)) stream.hold();
    if (backlog === undefined) {
      // No resourceVersion: the current state as ADDED events, then the changes.
      for (const o of this.resources.list(kind, t.namespace, match).items)
        stream.send('ADDED', this.resources.view(kind, o));
    } else for (const ev of backlog) stream.deliver(ev);
    stream.onClose(this.store.subscribe((ev) => stream.deliver(ev)));
    this.#watchTimers(r, stream);
  }

  #watchTimers(r: RequestRecord, stream: WatchStream): void {
    const requested = Number(r.query.get('timeoutSeconds') ?? 0);
    const cap = this.#opts.watchTimeoutSeconds ?? 0;
    const seconds = requested > 0 && cap > 0 ? Math.min(requested, cap) : requested || cap;
    if (seconds > 0) {
      const t = setTimeout(() => stream.end(), seconds * 1000);
      stream.onClose(() => clearTimeout(t));
    }
    const every = this.#opts.bookmarkIntervalMs ?? 0;
    if (every > 0 && r.query.get('allowWatchBookmarks') === 'true') {
      const kind = stream.spec.kind;
      const i = setInterval(
        () =>
          stream.send('BOOKMARK', {
            apiVersion: apiVersionOf(kind),
            kind: kind.kind,
            metadata: { resourceVersion: String(this.store.resourceVersion) },
          }),
        every,
      );
      stream.onClose(() => clearInterval(i));
    }
  }
}

export const startFakeApiServer = (opts?: FakeApiServerOptions) => FakeApiServer.start(opts);

// The ClusterDriver of standalone mode: the farm simulator's GPU nodes over its HTTP API
// (GET /sim/gpu?pool=, POST /sim/gpu/:pool/:node/mode; see docs/simulator.md). The simulator's
// node modes are the pool modes (idle, serving, hashing); its nodes are always ready.
import { POOL_MODES, type PoolMode } from '@switchyard/domain';
import { redactUrl } from '@switchyard/telemetry';
import { z } from 'zod';
import type { ClusterCallOptions, ClusterDriver, GpuNodeState, SetNodeModeResult } from './driver.ts';
import { ClusterError } from './errors.ts';

export const DEFAULT_CLUSTER_TIMEOUT_MS = 5000;

export interface SimulatorClusterDriverOptions {
  /** The simulator's API, e.g. http://127.0.0.1:9090 (RunningSimulator.url). */
  baseUrl: string;
  /** Longest one request may take (default 5000 ms). */
  timeoutMs?: number | undefined;
  /** Replaces the global fetch (tests). */
  fetch?: typeof fetch | undefined;
}

const simNode = z.object({
  pool: z.string(),
  node: z.string(),
  mode: z.string(),
  powerKw: z.number().nullable().optional(),
  transitionRemainingS: z.number().nullable().optional(),
  gpuModel: z.string(),
  gpus: z.number(),
});
const simNodes = z.object({ nodes: z.array(simNode) });
const problem = z.object({ title: z.string().optional(), detail: z.string().optional() });

const isPoolMode = (m: string): m is PoolMode => (POOL_MODES as readonly string[]).includes(m);
const nodeOrder = new Intl.Collator('en', { numeric: true }).compare;

function toState(n: z.infer<typeof simNode>): GpuNodeState {
  const remaining = n.transitionRemainingS ?? null;
  return {
    pool: n.pool,
    node: n.node,
    mode: isPoolMode(n.mode) ? n.mode : null,
    powerKw: n.powerKw ?? null,
    gpuModel: n.gpuModel,
    gpus: n.gpus,
    ready: true,
    transitioning: remaining !== null && remaining > 0,
    transitionRemainingS: remaining,
  };
}

/** The errno of a fetch failure ("fetch failed" hides it in its cause). */
function errnoOf(e: unknown): string | undefined {
  let c: unknown = e;
  for (let i = 0; i < 4 && c; i++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}

export class SimulatorClusterDriver implements ClusterDriver {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #label: string;

  constructor(opts: SimulatorClusterDriverOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new ClusterError('invalid-config', `simulator URL "${redactUrl(opts.baseUrl)}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ClusterError('invalid-config', `simulator URL ${redactUrl(opts.baseUrl)} is not http(s)`);
    this.baseUrl = url.toString().replace(/\/+$/, '');
    const t = opts.timeoutMs ?? DEFAULT_CLUSTER_TIMEOUT_MS;
    if (!Number.isFinite(t) || t <= 0)
      throw new ClusterError('invalid-config', `timeoutMs must be positive (got ${t})`);
    this.timeoutMs = t;
    this.#fetch = opts.fetch ?? fetch;
    this.#label = `simulator at ${redactUrl(this.baseUrl)}`;
  }

  async listNodes(pool?: string, opts: ClusterCallOptions = {}): Promise<GpuNodeState[]> {
    const path = pool === undefined ? '/sim/gpu' : `/sim/gpu?pool=${encodeURIComponent(pool)}`;
    const body = await this.#request('GET', path, undefined, opts.signal);
    const parsed = simNodes.safeParse(body);
    if (!parsed.success)
      throw new ClusterError('bad-response', `${this.#label}: GET ${path}: not a GPU node list`);
    return parsed.data.nodes
      .map(toState)
      .sort((a, b) => nodeOrder(a.pool, b.pool) || nodeOrder(a.node, b.node));
  }

  async setNodeMode(
    pool: string,
    node: string,
    mode: PoolMode,
    opts: ClusterCallOptions = {},
  ): Promise<SetNodeModeResult> {
    if (!isPoolMode(mode))
      throw new ClusterError(
        'invalid-request',
        `mode must be one of ${POOL_MODES.join(', ')} (got "${mode}")`,
      );
    const current = (await this.listNodes(pool, opts)).find((n) => n.node === node);
    if (!current)
      throw new ClusterError('not-found', `${this.#label}: no GPU node "${node}" in GpuPool "${pool}"`);
    if (current.mode === mode) return { changed: false, node: current };
    const path = `/sim/gpu/${encodeURIComponent(pool)}/${encodeURIComponent(node)}/mode`;
    const body = await this.#request('POST', path, { mode }, opts.signal);
    const parsed = simNode.safeParse(body);
    if (!parsed.success)
      throw new ClusterError('bad-response', `${this.#label}: POST ${path}: not a GPU node`);
    return { changed: true, node: toState(parsed.data) };
  }

  async #request(
    method: 'GET' | 'POST',
    path: string,
    json: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const what = `${this.#label}: ${method} ${path}`;
    if (signal?.aborted) throw new ClusterError('aborted', `${what}: aborted`, { cause: signal.reason });
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
        signal: combined,
      });
      text = await res.text();
    } catch (e) {
      if (signal?.aborted) throw new ClusterError('aborted', `${what}: aborted`, { cause: e });
      if (timeout.aborted)
        throw new ClusterError('timeout', `${what}: no answer within ${this.timeoutMs} ms`, { cause: e });
      const errno = errnoOf(e);
      throw new ClusterError('unreachable', `${what}: unreachable${errno ? ` (${errno})` : ''}`, {
        cause: e,
      });
    }
    let body: unknown = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      if (res.ok)
        throw new ClusterError('bad-response', `${what}: the answer is not JSON`, { status: res.status });
    }
    if (res.ok) return body;
    const p = problem.safeParse(body);
    const reason = p.success
      ? [p.data.title, p.data.detail].filter(Boolean).join(': ') || res.statusText
      : res.statusText;
    const message = `${what}: ${res.status}${reason ? ` ${reason}` : ''}`;
    throw new ClusterError(codeOfStatus(res.status), message, { status: res.status });
  }
}

function codeOfStatus(status: number): ClusterError['code'] {
  if (status === 404) return 'not-found';
  if (status === 409) return 'not-allowed';
  if (status === 408) return 'timeout';
  if (status === 429) return 'busy';
  if (status >= 400 && status < 500) return 'invalid-request';
  return 'server-error';
}

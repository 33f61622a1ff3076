// GPU power as dcgm-exporter reports it, read through Prometheus' HTTP API: one instant query,
// `sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)` (watts per node), bounded in time and checked.
// dcgm-exporter reports 9223372036854775794 for fields a GPU does not support: such samples, and
// any that are not finite or are absurd for a node, are left out, so the caller falls back to its
// estimate for that node. A failed query returns an empty map for the same reason.
import { redactUrl } from '@switchyard/telemetry';

export interface PrometheusGpuPowerOptions {
  /** Prometheus' base URL, e.g. http://prometheus-operated.monitoring:9090. */
  url: string;
  /** The query (default: GPU watts summed per node by dcgm-exporter's Hostname label). */
  query?: string;
  /** The label naming the node in the answer (default "Hostname"). */
  nodeLabel?: string;
  /** Longest the query may take (default 3000 ms). */
  timeoutMs?: number;
  /** Told why a query gave nothing (the estimate stands in). */
  onError?: (message: string) => void;
  fetch?: typeof fetch;
}

export const DEFAULT_GPU_POWER_QUERY = 'sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)';
/** No node draws more than this from its GPUs (a sanity bound, kW). */
const MAX_NODE_GPU_KW = 50;

interface PromVector {
  status?: string;
  data?: {
    resultType?: string;
    result?: Array<{ metric?: Record<string, string>; value?: [number, string] }>;
  };
}

export class PrometheusGpuPower {
  readonly #o: Required<Omit<PrometheusGpuPowerOptions, 'onError' | 'fetch'>> &
    Pick<PrometheusGpuPowerOptions, 'onError'>;
  readonly #fetch: typeof fetch;

  constructor(o: PrometheusGpuPowerOptions) {
    if (!/^https?:\/\/[^/]/.test(o.url)) throw new Error(`Prometheus URL ${redactUrl(o.url)} is not http(s)`);
    this.#o = {
      url: o.url.replace(/\/+$/, ''),
      query: o.query ?? DEFAULT_GPU_POWER_QUERY,
      nodeLabel: o.nodeLabel ?? 'Hostname',
      timeoutMs: o.timeoutMs ?? 3000,
      onError: o.onError,
    };
    this.#fetch = o.fetch ?? fetch;
  }

  /** GPU kW per node name; nodes without a usable sample are absent. */
  async nodeKw(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const url = `${this.#o.url}/api/v1/query?query=${encodeURIComponent(this.#o.query)}`;
    let body: PromVector;
    try {
      const res = await this.#fetch(url, { signal: AbortSignal.timeout(this.#o.timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = (await res.json()) as PromVector;
    } catch (e) {
      this.#o.onError?.(`GPU power query to ${redactUrl(this.#o.url)} failed: ${(e as Error).message}`);
      return out;
    }
    if (body.status !== 'success' || body.data?.resultType !== 'vector' || !Array.isArray(body.data.result)) {
      this.#o.onError?.(`GPU power query to ${redactUrl(this.#o.url)}: not an instant vector`);
      return out;
    }
    for (const r of body.data.result) {
      const node = r.metric?.[this.#o.nodeLabel];
      const watts = Number(r.value?.[1]);
      const kw = watts / 1000;
      if (typeof node === 'string' && node && Number.isFinite(kw) && kw >= 0 && kw <= MAX_NODE_GPU_KW)
        out.set(node, kw);
    }
    return out;
  }
}

// GPU market reference prices from a Vast.ai-style offers search: per GPU model, the median of
// dph_total / num_gpus over on-demand offers with reliability2 at or above a threshold.
import { z } from 'zod';
import { httpJson, joinUrl } from '../http-client.ts';
import { SignalSourceError, toSignalSourceError } from '../signal-source-error.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';
import { median, quantile } from '../units.ts';

export interface VastGpuModel {
  /** The farm's name for the model (GpuPool.spec.gpuModel), used as the reading's subject. */
  subject: string;
  /** The marketplace's gpu_name, e.g. "H100 SXM". */
  gpuName: string;
}

export interface VastSourceOptions {
  /** https://console.vast.ai */
  baseUrl: string;
  models: readonly VastGpuModel[];
  apiKey?: string;
  /** Offers below this reliability2 are ignored (default 0.95). */
  minReliability?: number;
  /** Fewer usable offers than this gives no price for the model (default 3). */
  minOffers?: number;
  /** POST a JSON query (default) or GET with ?q=<json>. */
  method?: 'POST' | 'GET';
  /** Offers asked for per model (default 256). */
  limit?: number;
  path?: string;
  name?: string;
  maxBytes?: number;
}

export const vastOfferSchema = z
  .object({
    dph_total: z.number(),
    gpu_name: z.string(),
    num_gpus: z.number(),
    min_bid: z.number().nullable().optional(),
    reliability2: z.number().nullable().optional(),
  })
  .loose();

export const vastOffersSchema = z.object({ offers: z.array(z.unknown()) }).loose();

export type VastOffer = z.infer<typeof vastOfferSchema>;

export interface GpuPriceSummary {
  usdPerGpuHour: number;
  offers: number;
  ignored: number;
  p25: number;
  p75: number;
  minBidPerGpuHour?: number;
}

/** Same model name regardless of case, spaces and underscores ("RTX_4090" = "rtx 4090"). */
export function sameGpuName(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .toLowerCase()
      .replace(/[\s_-]+/g, ' ')
      .trim();
  return norm(a) === norm(b);
}

/** The reference price of one model from raw offers, or undefined with too few usable ones. */
export function summarizeOffers(
  raw: readonly unknown[],
  gpuName: string,
  minReliability: number,
  minOffers: number,
): GpuPriceSummary | undefined {
  const perGpu: number[] = [];
  const bids: number[] = [];
  let ignored = 0;
  for (const item of raw) {
    const o = vastOfferSchema.safeParse(item);
    const ok =
      o.success &&
      sameGpuName(o.data.gpu_name, gpuName) &&
      Number.isInteger(o.data.num_gpus) &&
      o.data.num_gpus >= 1 &&
      Number.isFinite(o.data.dph_total) &&
      o.data.dph_total > 0 &&
      (o.data.reliability2 ?? 0) >= minReliability;
    if (!ok || !o.success) {
      ignored++;
      continue;
    }
    perGpu.push(o.data.dph_total / o.data.num_gpus);
    if (typeof o.data.min_bid === 'number' && o.data.min_bid > 0) bids.push(o.data.min_bid / o.data.num_gpus);
  }
  if (perGpu.length < minOffers) return undefined;
  return {
    usdPerGpuHour: median(perGpu),
    offers: perGpu.length,
    ignored,
    p25: quantile(perGpu, 0.25),
    p75: quantile(perGpu, 0.75),
    ...(bids.length > 0 && { minBidPerGpuHour: median(bids) }),
  };
}

export class VastGpuPriceSource implements SignalSource {
  readonly name: string;
  readonly signals = ['gpu_usd_per_gpu_hour'] as const;
  readonly #opts: VastSourceOptions;

  constructor(opts: VastSourceOptions) {
    if (opts.models.length === 0) throw new Error('VastGpuPriceSource needs at least one GPU model');
    this.name = opts.name ?? 'vast.ai';
    this.#opts = opts;
  }

  #query(gpuName: string, minReliability: number): Record<string, unknown> {
    return {
      gpu_name: { eq: gpuName },
      rentable: { eq: true },
      reliability2: { gte: minReliability },
      type: 'on-demand',
      limit: this.#opts.limit ?? 256,
    };
  }

  async #offers(ctx: SignalFetchContext, model: VastGpuModel, minReliability: number): Promise<unknown[]> {
    const o = this.#opts;
    const url = joinUrl(o.baseUrl, o.path ?? '/api/v0/bundles/');
    const query = JSON.stringify(this.#query(model.gpuName, minReliability));
    const headers: Record<string, string> = {};
    if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
    const post = (o.method ?? 'POST') === 'POST';
    if (post) headers['content-type'] = 'application/json';
    else url.searchParams.set('q', query);
    const res = await httpJson(url, vastOffersSchema, {
      signal: ctx.signal,
      method: post ? 'POST' : 'GET',
      headers,
      ...(post && { body: query }),
      maxBytes: o.maxBytes ?? 8 * 1024 * 1024,
    });
    return res.offers;
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const minReliability = this.#opts.minReliability ?? 0.95;
    const minOffers = this.#opts.minOffers ?? 3;
    const results = await Promise.allSettled(
      this.#opts.models.map((m) => this.#offers(ctx, m, minReliability)),
    );
    const out: SignalReading[] = [];
    const errors: SignalSourceError[] = [];
    this.#opts.models.forEach((model, i) => {
      const r = results[i]!;
      if (r.status === 'rejected') {
        errors.push(toSignalSourceError(r.reason));
        ctx.warn?.(`${this.name} ${model.gpuName} failed`, r.reason);
        return;
      }
      const s = summarizeOffers(r.value, model.gpuName, minReliability, minOffers);
      if (!s) {
        ctx.warn?.(`${this.name}: fewer than ${minOffers} usable ${model.gpuName} offers`);
        return;
      }
      out.push({
        signal: 'gpu_usd_per_gpu_hour',
        subject: model.subject,
        value: s.usdPerGpuHour,
        unit: SIGNAL_UNITS.gpu_usd_per_gpu_hour,
        source: this.name,
        observedAt: ctx.now,
        fetchedAt: ctx.now,
        detail: { gpuName: model.gpuName, ...s },
      });
    });
    if (out.length === 0) {
      if (errors.length > 0) throw errors.find((e) => e.retryable) ?? errors[0]!;
      throw new SignalSourceError('NO_DATA', `${this.name}: not enough usable offers for any model`);
    }
    return out;
  }
}

// Luxor Hashrate Index: hashprice in USD per PH/s per day, converted to USD per TH/s per day.
// Enabled only when an API key is configured.
import { z } from 'zod';
import { httpJson, joinUrl } from '../http-client.ts';
import { SignalSourceError } from '../signal-source-error.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';
import { parseFeedTimestamp, perPhToPerTh } from '../units.ts';

export interface LuxorSourceOptions {
  /** https://api.hashrateindex.com */
  baseUrl: string;
  apiKey: string;
  name?: string;
  /** Readings dated further ahead than this are ignored (clock skew), ms. */
  futureSkewMs?: number;
}

export const luxorHashpriceSchema = z.object({
  data: z.array(
    z
      .object({
        price: z.union([
          z.number(),
          z
            .string()
            .regex(/^-?\d+(\.\d+)?$/)
            .transform(Number),
        ]),
        timestamp: z.string(),
      })
      .loose(),
  ),
});

export class LuxorHashpriceSource implements SignalSource {
  readonly name: string;
  readonly signals = ['hashprice_usd_per_th_day'] as const;
  readonly #opts: LuxorSourceOptions;

  constructor(opts: LuxorSourceOptions) {
    if (!opts.apiKey) throw new Error('LuxorHashpriceSource needs an API key');
    this.name = opts.name ?? 'luxor';
    this.#opts = opts;
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const url = joinUrl(this.#opts.baseUrl, '/v1/hashrateindex/hashprice');
    url.search = new URLSearchParams({
      span: '1D',
      bucket: '1H',
      currency: 'USD',
      hashunit: 'PHS',
    }).toString();
    const body = await httpJson(url, luxorHashpriceSchema, {
      signal: ctx.signal,
      headers: { 'X-Hi-Api-Key': this.#opts.apiKey },
      maxBytes: 1024 * 1024,
    });
    const limit = ctx.now.getTime() + (this.#opts.futureSkewMs ?? 5 * 60_000);
    let latest: { at: Date; price: number } | undefined;
    for (const p of body.data) {
      const at = parseFeedTimestamp(p.timestamp);
      if (!at)
        throw new SignalSourceError(
          'MALFORMED',
          `${this.name}: bad timestamp ${JSON.stringify(p.timestamp)}`,
        );
      if (at.getTime() <= limit && (!latest || at > latest.at)) latest = { at, price: p.price };
    }
    if (!latest) throw new SignalSourceError('NO_DATA', `${this.name}: no hashprice points`);
    return [
      {
        signal: 'hashprice_usd_per_th_day',
        value: perPhToPerTh(latest.price),
        unit: SIGNAL_UNITS.hashprice_usd_per_th_day,
        source: this.name,
        observedAt: latest.at,
        fetchedAt: ctx.now,
        detail: { usdPerPhDay: latest.price, points: body.data.length },
      },
    ];
  }
}

// CoinGecko simple price: BTC in USD with the time CoinGecko last updated it.
import { z } from 'zod';
import { httpJson, joinUrl } from '../http-client.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';
import { fromUnixSeconds } from '../units.ts';

export interface CoinGeckoSourceOptions {
  /** https://api.coingecko.com (demo and public) or https://pro-api.coingecko.com (pro). */
  baseUrl: string;
  apiKey?: string;
  /** Header carrying the key: x-cg-demo-api-key (default) or x-cg-pro-api-key. */
  apiKeyHeader?: string;
  name?: string;
}

export const coinGeckoPriceSchema = z.object({
  bitcoin: z.object({ usd: z.number(), last_updated_at: z.number().optional() }).loose(),
});

export class CoinGeckoSource implements SignalSource {
  readonly name: string;
  readonly signals = ['btc_usd'] as const;
  readonly #opts: CoinGeckoSourceOptions;

  constructor(opts: CoinGeckoSourceOptions) {
    this.name = opts.name ?? 'coingecko';
    this.#opts = opts;
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const url = joinUrl(this.#opts.baseUrl, '/api/v3/simple/price');
    url.search = new URLSearchParams({
      ids: 'bitcoin',
      vs_currencies: 'usd',
      include_last_updated_at: 'true',
    }).toString();
    const headers: Record<string, string> = {};
    if (this.#opts.apiKey) headers[this.#opts.apiKeyHeader ?? 'x-cg-demo-api-key'] = this.#opts.apiKey;
    const body = await httpJson(url, coinGeckoPriceSchema, {
      signal: ctx.signal,
      headers,
      maxBytes: 64 * 1024,
    });
    const updated = body.bitcoin.last_updated_at;
    return [
      {
        signal: 'btc_usd',
        value: body.bitcoin.usd,
        unit: SIGNAL_UNITS.btc_usd,
        source: this.name,
        observedAt: updated === undefined ? ctx.now : fromUnixSeconds(updated),
        fetchedAt: ctx.now,
      },
    ];
  }
}

// Energy prices that brokers pushed through the API (POST /prices), read from the database: the
// API stores each curve in signal_readings (stored-price-curve.ts) and every refresh of the
// controller's hub reads the point holding now, so a curve pushed to any API process reaches the
// controller without a restart. Nothing covers now: no reading, and the last value ages into
// staleness like any other source's.
import type { Database } from '@switchyard/db';
import { storedPriceAt, STORED_PRICES_SOURCE, type StoredPriceSignal } from '../stored-price-curve.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';

export interface StoredPriceSourceOptions {
  db: Database;
  /** Only curves pushed for this site (the controller's); default any. */
  site?: string;
  signal?: StoredPriceSignal;
  name?: string;
  /** Later points given in the reading's detail (default 24). */
  lookahead?: number;
}

export class StoredPriceSource implements SignalSource {
  readonly name: string;
  readonly signals: readonly [StoredPriceSignal];
  readonly #opts: StoredPriceSourceOptions;

  constructor(opts: StoredPriceSourceOptions) {
    this.#opts = opts;
    this.name = opts.name ?? STORED_PRICES_SOURCE;
    this.signals = [opts.signal ?? 'energy_usd_per_mwh'];
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const signal = this.signals[0];
    const p = await storedPriceAt(this.#opts.db, ctx.now, {
      signal,
      ...(this.#opts.site !== undefined && { site: this.#opts.site }),
      lookahead: this.#opts.lookahead ?? 24,
    });
    if (!p) return [];
    return [
      {
        signal,
        value: p.usdPerMwh,
        unit: SIGNAL_UNITS[signal],
        source: p.source,
        observedAt: p.at,
        fetchedAt: ctx.now,
        validUntil: p.validUntil,
        detail: {
          pushId: p.pushId,
          site: p.site,
          receivedAt: p.receivedAt.toISOString(),
          ...(p.brokerId !== undefined && { brokerId: p.brokerId }),
          next: p.next.map((n) => ({ at: n.at.toISOString(), usdPerMwh: n.usdPerMwh })),
        },
      },
    ];
  }
}

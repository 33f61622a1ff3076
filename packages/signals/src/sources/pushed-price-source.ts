// Energy prices pushed to Switchyard (an energy broker's price curve via POST /prices): the API
// calls push(); the hub's refresh reads the point holding at `now`. A newer curve replaces the
// old one over the time span it covers and leaves the rest.
import { curveValueAt, normalizeCurve, type CurvePoint } from '../price-curve.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';

export interface PushedPricePoint {
  at: Date;
  usdPerMwh: number;
}

export interface PushedPriceSourceOptions {
  name?: string;
  signal?: 'energy_usd_per_mwh' | 'energy_da_usd_per_mwh';
  /** How long the last point holds (default 1 h, or the curve's own spacing). */
  defaultStepMs?: number;
  /** Largest curve accepted in one push (default 2000 points). */
  maxPoints?: number;
  /** Points older than this before `now` are forgotten (default 2 days). */
  retainMs?: number;
}

export class PushedPriceSource implements SignalSource {
  readonly name: string;
  readonly signals: readonly ['energy_usd_per_mwh'] | readonly ['energy_da_usd_per_mwh'];
  readonly #opts: PushedPriceSourceOptions;
  #curve: CurvePoint[] = [];

  constructor(opts: PushedPriceSourceOptions = {}) {
    this.#opts = opts;
    this.name = opts.name ?? 'pushed';
    this.signals = [opts.signal ?? 'energy_usd_per_mwh'];
  }

  /**
   * Takes a curve; throws (changing nothing) on an empty or oversized curve, an invalid time
   * or a non-finite price. Bounds are checked by the hub like any other reading. `by` names
   * the sender for provenance (`pushed:<by>`).
   */
  push(curve: readonly PushedPricePoint[], opts: { by?: string } = {}): { accepted: number } {
    const max = this.#opts.maxPoints ?? 2000;
    if (curve.length === 0) throw new Error('empty price curve');
    if (curve.length > max) throw new Error(`price curve of ${curve.length} points exceeds ${max}`);
    for (const p of curve) {
      if (!(p.at instanceof Date) || Number.isNaN(p.at.getTime()))
        throw new Error('price curve point has no valid time');
      if (!Number.isFinite(p.usdPerMwh))
        throw new Error(`price ${p.usdPerMwh} at ${p.at.toISOString()} is not finite`);
    }
    const source = opts.by ? `${this.name}:${opts.by}` : this.name;
    const incoming = normalizeCurve(curve.map((p) => ({ at: p.at, value: p.usdPerMwh, source })));
    const from = incoming[0]!.at.getTime();
    const to = incoming[incoming.length - 1]!.at.getTime();
    const kept = this.#curve.filter((p) => p.at.getTime() < from || p.at.getTime() > to);
    this.#curve = normalizeCurve([...kept, ...incoming]);
    return { accepted: incoming.length };
  }

  /** The stored curve (for the API's GET and for tests). */
  curve(): readonly CurvePoint[] {
    return this.#curve;
  }

  fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const retain = this.#opts.retainMs ?? 2 * 86_400_000;
    this.#curve = this.#curve.filter((p) => p.at.getTime() >= ctx.now.getTime() - retain);
    const at = curveValueAt(this.#curve, ctx.now, this.#opts.defaultStepMs ?? 3_600_000, 24);
    // Nothing covers now: say nothing, and let the last value age into staleness.
    if (!at) return Promise.resolve([]);
    const signal = this.signals[0];
    return Promise.resolve([
      {
        signal,
        value: at.point.value,
        unit: SIGNAL_UNITS[signal],
        source: at.point.source ?? this.name,
        observedAt: at.point.at,
        fetchedAt: ctx.now,
        validUntil: at.validUntil,
        detail: { next: at.next.map((p) => ({ at: p.at.toISOString(), usdPerMwh: p.value })) },
      },
    ]);
  }
}

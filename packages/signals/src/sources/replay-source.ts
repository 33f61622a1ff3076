// Replays a price history (the backtest CSV format) as live signals, sped up: for the demo that
// `./scripts/start` runs, and for tests of the control loop. The replayed clock starts at the
// history's first row when the source is created and runs `speed` times faster than real time.
import type { HistoryRow } from '@switchyard/domain';
import { subsidyAt } from '@switchyard/domain';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalName,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';

export interface ReplaySourceOptions {
  rows: readonly HistoryRow[];
  /** Real time (epoch ms) at which the replay starts (default: when the source is made). */
  startRealMs?: number;
  /** History seconds per real second (e.g. 3600: an hour of prices each second). */
  speed: number;
  /** Start over from the first row when the history runs out (default true). */
  loop?: boolean;
  /** GPU models to publish the history's GPU price for. */
  gpuModels?: readonly string[];
}

export class ReplaySource implements SignalSource {
  readonly name = 'replay';
  readonly signals: readonly SignalName[] = [
    'btc_usd',
    'difficulty',
    'fees_btc_per_block',
    'subsidy_btc',
    'energy_usd_per_mwh',
    'gpu_usd_per_gpu_hour',
    'ambient_c',
  ];
  readonly #rows: readonly HistoryRow[];
  readonly #startReal: number;
  readonly #speed: number;
  readonly #loop: boolean;
  readonly #gpuModels: readonly string[];

  constructor(opts: ReplaySourceOptions) {
    if (opts.rows.length === 0) throw new Error('replay needs at least one history row');
    if (!(opts.speed > 0)) throw new Error('replay speed must be positive');
    this.#rows = [...opts.rows].sort((a, b) => a.time - b.time);
    this.#startReal = opts.startRealMs ?? Date.now();
    this.#speed = opts.speed;
    this.#loop = opts.loop ?? true;
    this.#gpuModels = opts.gpuModels ?? [];
  }

  /** The history row in force at real time `now`. */
  rowAt(now: Date): HistoryRow {
    const first = (this.#rows[0] as HistoryRow).time;
    const last = (this.#rows[this.#rows.length - 1] as HistoryRow).time;
    let t = first + Math.max(0, now.getTime() - this.#startReal) * this.#speed;
    if (this.#loop && last > first) t = first + ((t - first) % (last - first));
    // Binary search for the last row at or before t.
    let lo = 0;
    let hi = this.#rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#rows[mid] as HistoryRow).time <= t) lo = mid;
      else hi = mid - 1;
    }
    return this.#rows[lo] as HistoryRow;
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const row = this.rowAt(ctx.now);
    const reading = (signal: SignalName, value: number, subject?: string): SignalReading => ({
      signal,
      value,
      unit: SIGNAL_UNITS[signal],
      source: 'replay',
      // The replayed value is current now; the history time is kept for the record.
      observedAt: ctx.now,
      fetchedAt: ctx.now,
      ...(subject ? { subject } : {}),
      detail: { historyTime: new Date(row.time).toISOString(), line: row.line },
    });
    const out = [
      reading('btc_usd', row.btcUsd),
      reading('difficulty', row.difficulty),
      reading('fees_btc_per_block', row.feesBtcPerBlock),
      reading('subsidy_btc', row.subsidyBtc ?? subsidyAt(new Date(row.time))),
      reading('energy_usd_per_mwh', row.energyUsdPerMwh),
    ];
    if (row.gpuUsdPerGpuHour !== null)
      for (const m of this.#gpuModels) out.push(reading('gpu_usd_per_gpu_hour', row.gpuUsdPerGpuHour, m));
    if (row.ambientC !== null) out.push(reading('ambient_c', row.ambientC));
    return out;
  }
}

// The vocabulary shared by every signal source and the hub: which signals exist, their units,
// what one reading looks like, and the SignalSource interface adapters implement.

export const SIGNAL_NAMES = [
  'btc_usd',
  'difficulty',
  'network_hashrate_ehs',
  'fees_btc_per_block',
  'subsidy_btc',
  'hashprice_usd_per_th_day',
  'energy_usd_per_mwh',
  'energy_da_usd_per_mwh',
  'gpu_usd_per_gpu_hour',
  'ambient_c',
] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

/** The unit every reading of a signal is expressed in; sources convert before returning. */
export const SIGNAL_UNITS: Readonly<Record<SignalName, string>> = {
  btc_usd: 'USD/BTC',
  difficulty: '1',
  network_hashrate_ehs: 'EH/s',
  fees_btc_per_block: 'BTC/block',
  subsidy_btc: 'BTC/block',
  hashprice_usd_per_th_day: 'USD/(TH/s)/day',
  energy_usd_per_mwh: 'USD/MWh',
  energy_da_usd_per_mwh: 'USD/MWh',
  gpu_usd_per_gpu_hour: 'USD/GPU/h',
  ambient_c: 'degC',
};

/** Signals that come in several series, one per subject (the GPU model for GPU prices). */
export const SUBJECT_SIGNALS: ReadonlySet<SignalName> = new Set(['gpu_usd_per_gpu_hour']);

export function isSignalName(s: string): s is SignalName {
  return (SIGNAL_NAMES as readonly string[]).includes(s);
}

export interface SignalReading {
  signal: SignalName;
  value: number;
  unit: string;
  /** Provenance: the source's name, optionally qualified (`pushed:acme`, `operator:alice`). */
  source: string;
  /** When the source says the value was true. */
  observedAt: Date;
  /** When Switchyard fetched it (the hub's clock). */
  fetchedAt: Date;
  /** The series within the signal, e.g. the GPU model of a GPU price. */
  subject?: string;
  /**
   * The value stays current until this time (a settlement interval, a curve point, an override);
   * its age counts from here rather than from observedAt.
   */
  validUntil?: Date;
  /** The value must not be used at all after this time (operator overrides). */
  expiresAt?: Date;
  detail?: Record<string, unknown>;
}

/** Key of one series: the signal name, or `signal:subject`. */
export type SeriesKey = string;

export function seriesKey(signal: SignalName, subject?: string): SeriesKey {
  return subject === undefined ? signal : `${signal}:${subject}`;
}

/** The last accepted reading of each series this source produced, keyed by seriesKey(). */
export type LastGood = ReadonlyMap<SeriesKey, SignalReading>;

export interface SignalFetchContext {
  /** The hub's clock for this cycle; sources never read the wall clock. */
  now: Date;
  /** Aborted on timeout or shutdown; pass it to every request. */
  signal: AbortSignal;
  last?: LastGood;
  /** Reports a partial failure (one endpoint of several) without failing the whole fetch. */
  warn?: (message: string, error?: unknown) => void;
}

/**
 * One market-data adapter. `fetch` returns readings in the units of SIGNAL_UNITS, for signals
 * listed in `signals`, or throws (preferably a SignalSourceError, which says whether a retry
 * can help). Sanity checks, staleness and retries are the hub's job, not the source's.
 */
export interface SignalSource {
  readonly name: string;
  readonly signals: readonly SignalName[];
  fetch(ctx: SignalFetchContext): Promise<SignalReading[]>;
}

// The SignalHub runs the sources and keeps, per source and series, the last good reading and
// any held jump. Each refresh fetches the sources that are due (each bounded by a timeout and a
// few retries with backoff), judges every reading (reading-judge.ts), records it, and hands the
// record to the store. `current(now)` then says which value to use for every signal and why.
import { abortableSleep, type Sleep } from './abortable-sleep.ts';
import {
  chooseCurrent,
  deriveHashprice,
  readingAgeSeconds,
  readingFreshness,
  scheduledSubsidy,
  type Candidate,
  type CurrentSignal,
  type CurrentSignals,
} from './current-signals.ts';
import { judgeReading, type HeldReading, type ReadingStatus } from './reading-judge.ts';
import { DEFAULT_SIGNAL_POLICY, type SignalPolicy } from './signal-policy.ts';
import { SignalSourceError, toSignalSourceError, type SignalErrorCode } from './signal-source-error.ts';
import {
  SIGNAL_UNITS,
  SUBJECT_SIGNALS,
  isSignalName,
  seriesKey,
  type SeriesKey,
  type SignalName,
  type SignalReading,
  type SignalSource,
} from './signal-types.ts';

export interface SourceRegistration {
  source: SignalSource;
  /** Limit on one attempt, in ms (default: the hub's). */
  timeoutMs?: number;
  /** Further attempts after a retryable failure (default: the hub's). */
  retries?: number;
  /** First backoff in ms; doubles per retry up to maxBackoffMs, with jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** The source is fetched at most this often (seconds); 0 = every refresh. */
  minIntervalSeconds?: number;
  /** Operator-entered values: skip the difference and jump rules (bounds still apply). */
  trusted?: boolean;
  /** Each successful fetch is the complete set: series it no longer returns are dropped. */
  snapshot?: boolean;
}

export interface RetryDefaults {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryDefaults = {
  timeoutMs: 5000,
  retries: 2,
  backoffMs: 500,
  maxBackoffMs: 5000,
};

/** A reading as the hub recorded it: what happened to it and how old it was on arrival. */
export interface RecordedReading extends SignalReading {
  status: ReadingStatus;
  reason?: string;
  /** Already older than the soft limit when fetched. */
  stale: boolean;
  ageSeconds: number;
  /** The registered source that produced it (derived values: `derived`). */
  sourceName: string;
}

/** Where recorded readings go (SignalRepository implements it). */
export interface SignalStore {
  append(readings: readonly RecordedReading[]): Promise<unknown>;
}

export interface SignalHubLogger {
  warn(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export interface SourceFailure {
  code: SignalErrorCode;
  message: string;
  retryable: boolean;
}

export interface SourceFetchReport {
  name: string;
  /** Not due yet (minIntervalSeconds). */
  skipped: boolean;
  ok: boolean;
  attempts: number;
  readings: number;
  durationMs: number;
  error?: SourceFailure;
  warnings: string[];
}

export interface RefreshReport {
  at: Date;
  sources: SourceFetchReport[];
  readings: RecordedReading[];
}

export interface SourceStatus {
  name: string;
  lastAttemptAt?: Date;
  lastSuccessAt?: Date;
  consecutiveFailures: number;
  lastError?: SourceFailure & { at: Date };
}

export interface SignalHubOptions {
  /** In priority order: for each series the first fresh reading wins. */
  sources: readonly SourceRegistration[];
  policy?: SignalPolicy;
  store?: SignalStore;
  clock?: () => Date;
  sleep?: Sleep;
  /** 0..1, for backoff jitter. */
  random?: () => number;
  logger?: SignalHubLogger;
  retry?: Partial<RetryDefaults>;
  /** Series reported even before any reading (e.g. each GPU model's price). */
  expect?: readonly { signal: SignalName; subject?: string }[];
  /** Derive hashprice from difficulty, fees, subsidy and BTC price (default true). */
  deriveHashprice?: boolean;
  /** How many recorded readings history() keeps (default 2000). */
  historyLimit?: number;
}

interface SeriesState {
  lastGood?: SignalReading;
  held?: HeldReading;
}

interface RegistrationState {
  reg: Required<Omit<SourceRegistration, 'trusted' | 'snapshot'>> & { trusted: boolean; snapshot: boolean };
  series: Map<SeriesKey, SeriesState>;
  status: SourceStatus;
}

type FetchOutcome =
  | { ok: true; readings: SignalReading[]; attempts: number; warnings: string[] }
  | { ok: false; error: SignalSourceError; attempts: number; warnings: string[] };

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function describeError(err: SignalSourceError): SourceFailure {
  return { code: err.code, message: err.message, retryable: err.retryable };
}

export class SignalHub {
  readonly policy: SignalPolicy;
  readonly #regs: RegistrationState[];
  readonly #store: SignalStore | undefined;
  readonly #clock: () => Date;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #logger: SignalHubLogger | undefined;
  readonly #expect: readonly { signal: SignalName; subject?: string }[];
  readonly #derive: boolean;
  readonly #historyLimit: number;
  readonly #history: RecordedReading[] = [];
  readonly #closing = new AbortController();
  #inflight: Promise<RefreshReport> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;

  constructor(opts: SignalHubOptions) {
    this.policy = opts.policy ?? DEFAULT_SIGNAL_POLICY;
    const retry = { ...DEFAULT_RETRY, ...opts.retry };
    const names = new Set<string>();
    this.#regs = opts.sources.map((r) => {
      if (names.has(r.source.name))
        throw new Error(`two signal sources named ${JSON.stringify(r.source.name)}`);
      names.add(r.source.name);
      return {
        reg: {
          source: r.source,
          timeoutMs: r.timeoutMs ?? retry.timeoutMs,
          retries: Math.max(0, Math.floor(r.retries ?? retry.retries)),
          backoffMs: r.backoffMs ?? retry.backoffMs,
          maxBackoffMs: r.maxBackoffMs ?? retry.maxBackoffMs,
          minIntervalSeconds: r.minIntervalSeconds ?? 0,
          trusted: r.trusted ?? false,
          snapshot: r.snapshot ?? false,
        },
        series: new Map(),
        status: { name: r.source.name, consecutiveFailures: 0 },
      };
    });
    this.#store = opts.store;
    this.#clock = opts.clock ?? (() => new Date());
    this.#sleep = opts.sleep ?? abortableSleep;
    this.#random = opts.random ?? Math.random;
    this.#logger = opts.logger;
    this.#expect = opts.expect ?? [];
    this.#derive = opts.deriveHashprice ?? true;
    this.#historyLimit = opts.historyLimit ?? 2000;
  }

  /** Names of the registered sources, in priority order. */
  get sourceNames(): string[] {
    return this.#regs.map((r) => r.reg.source.name);
  }

  /**
   * Fetches every due source (all of them with `force`, or only those named in `only`), judges
   * and records the readings, and persists them. A plain call made during a run shares it; a
   * call with `force` or `only` (e.g. right after an override is set) runs after it, so it sees
   * what changed in between.
   */
  refresh(
    now: Date = this.#clock(),
    opts: { force?: boolean; only?: readonly string[] } = {},
  ): Promise<RefreshReport> {
    if (this.#closing.signal.aborted) return Promise.reject(new Error('SignalHub is closed'));
    const running = this.#inflight;
    if (running && (opts.force || opts.only))
      return running.catch(() => {}).then(() => this.refresh(now, opts));
    if (running) return running;
    const run = this.#refresh(now, opts).finally(() => {
      if (this.#inflight === run) this.#inflight = undefined;
    });
    this.#inflight = run;
    return run;
  }

  async #refresh(now: Date, opts: { force?: boolean; only?: readonly string[] }): Promise<RefreshReport> {
    const due = this.#regs.filter((s) => this.#isDue(s, now, opts));
    const outcomes = await Promise.all(
      this.#regs.map(async (s) => {
        if (!due.includes(s)) return { s, outcome: undefined, durationMs: 0 };
        const started = Date.now();
        const outcome = await this.#fetchWithRetry(s, now);
        return { s, outcome, durationMs: Date.now() - started };
      }),
    );
    const recorded: RecordedReading[] = [];
    const reports: SourceFetchReport[] = [];
    for (const { s, outcome, durationMs } of outcomes) {
      const name = s.reg.source.name;
      if (!outcome) {
        reports.push({ name, skipped: true, ok: true, attempts: 0, readings: 0, durationMs, warnings: [] });
        continue;
      }
      s.status.lastAttemptAt = now;
      if (outcome.ok) {
        s.status.lastSuccessAt = now;
        s.status.consecutiveFailures = 0;
        const got = this.#ingest(s, outcome.readings, now);
        recorded.push(...got);
        reports.push({
          name,
          skipped: false,
          ok: true,
          attempts: outcome.attempts,
          readings: got.length,
          durationMs,
          warnings: outcome.warnings,
        });
      } else {
        s.status.consecutiveFailures++;
        s.status.lastError = { ...describeError(outcome.error), at: now };
        this.#logger?.warn(
          { source: name, code: outcome.error.code, attempts: outcome.attempts, err: outcome.error.message },
          'signal source failed',
        );
        reports.push({
          name,
          skipped: false,
          ok: false,
          attempts: outcome.attempts,
          readings: 0,
          durationMs,
          error: describeError(outcome.error),
          warnings: outcome.warnings,
        });
      }
    }
    const derived = this.#recordDerived(now, recorded);
    if (derived) recorded.push(derived);
    this.#remember(recorded);
    await this.#persist(recorded);
    return { at: now, sources: reports, readings: recorded };
  }

  #isDue(s: RegistrationState, now: Date, opts: { force?: boolean; only?: readonly string[] }): boolean {
    if (opts.only && !opts.only.includes(s.reg.source.name)) return false;
    if (opts.force || s.reg.minIntervalSeconds <= 0 || !s.status.lastAttemptAt) return true;
    return now.getTime() - s.status.lastAttemptAt.getTime() >= s.reg.minIntervalSeconds * 1000;
  }

  #backoffMs(s: RegistrationState, attempt: number): number {
    const base = Math.min(s.reg.maxBackoffMs, s.reg.backoffMs * 2 ** attempt);
    return base * (0.5 + this.#random() / 2);
  }

  async #fetchWithRetry(s: RegistrationState, now: Date): Promise<FetchOutcome> {
    const warnings: string[] = [];
    const last = new Map<SeriesKey, SignalReading>();
    for (const [k, v] of s.series) if (v.lastGood) last.set(k, v.lastGood);
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(s.reg.timeoutMs);
      const signal = AbortSignal.any([this.#closing.signal, timeout]);
      try {
        const work = s.reg.source.fetch({
          now,
          signal,
          last,
          warn: (message, error) =>
            warnings.push(
              error === undefined ? message : `${message}: ${toSignalSourceError(error).message}`,
            ),
        });
        const readings = await raceAbort(work, signal);
        return { ok: true, readings, attempts: attempt + 1, warnings };
      } catch (err) {
        const error = timeout.aborted
          ? new SignalSourceError('TIMEOUT', `${s.reg.source.name}: no answer within ${s.reg.timeoutMs} ms`, {
              cause: err,
            })
          : this.#closing.signal.aborted
            ? new SignalSourceError('ABORTED', `${s.reg.source.name}: hub closing`, { cause: err })
            : toSignalSourceError(err);
        if (!error.retryable || attempt >= s.reg.retries || this.#closing.signal.aborted)
          return { ok: false, error, attempts: attempt + 1, warnings };
        warnings.push(`attempt ${attempt + 1} failed (${error.code}): ${error.message}`);
        try {
          await this.#sleep(this.#backoffMs(s, attempt), this.#closing.signal);
        } catch {
          return { ok: false, error, attempts: attempt + 1, warnings };
        }
      }
    }
  }

  /** A reading a source should never have produced (wrong signal or unit, not a Date). */
  #malformed(s: RegistrationState, r: SignalReading): string | undefined {
    if (!isSignalName(r.signal) || !s.reg.source.signals.includes(r.signal))
      return `source does not declare signal ${JSON.stringify(r.signal)}`;
    if (r.unit !== SIGNAL_UNITS[r.signal])
      return `unit ${JSON.stringify(r.unit)} is not ${SIGNAL_UNITS[r.signal]}`;
    if (!(r.observedAt instanceof Date) || Number.isNaN(r.observedAt.getTime()))
      return 'observedAt is not a time';
    if (typeof r.value !== 'number') return 'value is not a number';
    if (SUBJECT_SIGNALS.has(r.signal) !== (r.subject !== undefined))
      return SUBJECT_SIGNALS.has(r.signal) ? 'a subject is required' : 'this signal takes no subject';
    return undefined;
  }

  #ingest(s: RegistrationState, readings: readonly SignalReading[], now: Date): RecordedReading[] {
    const out: RecordedReading[] = [];
    const seen = new Set<SeriesKey>();
    for (const raw of readings) {
      const r: SignalReading = { ...raw, fetchedAt: raw.fetchedAt ?? now };
      const malformed = this.#malformed(s, r);
      const key = seriesKey(r.signal, r.subject);
      const state = s.series.get(key) ?? {};
      const verdict = malformed
        ? { status: 'rejected' as const, reason: malformed }
        : judgeReading({
            reading: r,
            now,
            policy: this.policy,
            lastGood: state.lastGood,
            held: state.held,
            trusted: s.reg.trusted,
          });
      if (verdict.status === 'accepted' || verdict.status === 'confirmed') {
        state.lastGood = r;
        delete state.held;
        seen.add(key);
      } else if (verdict.status === 'held') {
        state.held = { reading: r, heldSince: now };
        seen.add(key);
      }
      if (!malformed) s.series.set(key, state);
      out.push({
        ...r,
        status: verdict.status,
        ...(verdict.reason !== undefined && { reason: verdict.reason }),
        stale: !malformed && isSignalName(r.signal) && readingFreshness(r, now, this.policy) !== 'fresh',
        ageSeconds: Math.round(readingAgeSeconds(r, now)),
        sourceName: s.reg.source.name,
      });
    }
    if (s.reg.snapshot) for (const key of [...s.series.keys()]) if (!seen.has(key)) s.series.delete(key);
    return out;
  }

  #recordDerived(now: Date, recorded: readonly RecordedReading[]): RecordedReading | undefined {
    if (!this.#derive) return undefined;
    const inputs: readonly SignalName[] = ['btc_usd', 'difficulty', 'fees_btc_per_block'];
    if (
      !recorded.some(
        (r) => inputs.includes(r.signal) && (r.status === 'accepted' || r.status === 'confirmed'),
      )
    )
      return undefined;
    const cur = this.#currentBase(now);
    const d = deriveHashprice(
      { btcUsd: cur.btc_usd, difficulty: cur.difficulty, fees: cur.fees_btc_per_block },
      now,
      this.policy,
    );
    if (!d) return undefined;
    return {
      ...d.reading,
      status: 'derived',
      stale: d.freshness !== 'fresh',
      ageSeconds: Math.round(readingAgeSeconds(d.reading, now)),
      sourceName: 'derived',
    };
  }

  #remember(recorded: readonly RecordedReading[]): void {
    this.#history.push(...recorded);
    if (this.#history.length > this.#historyLimit)
      this.#history.splice(0, this.#history.length - this.#historyLimit);
  }

  async #persist(recorded: readonly RecordedReading[]): Promise<void> {
    if (!this.#store || recorded.length === 0) return;
    try {
      await this.#store.append(recorded);
    } catch (err) {
      // Losing the record of some readings must not stop the hub from using them.
      this.#logger?.warn(
        { err: err instanceof Error ? err.message : String(err), readings: recorded.length },
        'could not persist signal readings',
      );
    }
  }

  /** The series keys to report: expected ones, every signal a source declares, and all seen. */
  #seriesKeys(): Map<SeriesKey, { signal: SignalName; subject?: string }> {
    const keys = new Map<SeriesKey, { signal: SignalName; subject?: string }>();
    const add = (signal: SignalName, subject?: string) =>
      keys.set(seriesKey(signal, subject), subject === undefined ? { signal } : { signal, subject });
    for (const e of this.#expect) add(e.signal, e.subject);
    for (const s of this.#regs) {
      for (const signal of s.reg.source.signals) if (!SUBJECT_SIGNALS.has(signal)) add(signal);
      for (const st of s.series.values()) {
        const r = st.lastGood ?? st.held?.reading;
        if (r) add(r.signal, r.subject);
      }
    }
    add('subsidy_btc');
    if (this.#derive) add('hashprice_usd_per_th_day');
    return keys;
  }

  #candidates(key: SeriesKey): Candidate[] {
    const out: Candidate[] = [];
    for (const s of this.#regs) {
      const st = s.series.get(key);
      // A jump is only ever held against a last good value, so lastGood is set whenever held is.
      if (st?.lastGood) out.push({ reading: st.lastGood, held: st.held });
    }
    return out;
  }

  /** Every series except hashprice, which depends on them. */
  #currentBase(now: Date): CurrentSignals {
    const out: CurrentSignals = {};
    for (const [key, { signal, subject }] of this.#seriesKeys()) {
      if (signal === 'hashprice_usd_per_th_day') continue;
      const candidates = this.#candidates(key);
      if (signal === 'subsidy_btc') candidates.push(scheduledSubsidy(now));
      out[key] = chooseCurrent(signal, subject, candidates, this.policy, now);
    }
    return out;
  }

  /** The value to use for every series now, with its provenance, age and flags. */
  current(now: Date = this.#clock()): CurrentSignals {
    const out = this.#currentBase(now);
    if (this.#seriesKeys().has('hashprice_usd_per_th_day')) {
      const candidates = this.#candidates('hashprice_usd_per_th_day');
      if (this.#derive) {
        const inputs = { btcUsd: out.btc_usd, difficulty: out.difficulty, fees: out.fees_btc_per_block };
        const derived = deriveHashprice(inputs, now, this.policy);
        // Lowest priority: a fresh Luxor reading (or override) wins over the derivation.
        if (derived) candidates.push(derived);
      }
      out.hashprice_usd_per_th_day = chooseCurrent(
        'hashprice_usd_per_th_day',
        undefined,
        candidates,
        this.policy,
        now,
      );
    }
    return out;
  }

  /** One series' current value (a worst-case entry when the series is unknown). */
  get(signal: SignalName, subject?: string, now: Date = this.#clock()): CurrentSignal {
    const key = seriesKey(signal, subject);
    return this.current(now)[key] ?? chooseCurrent(signal, subject, [], this.policy, now);
  }

  /**
   * Seeds last good values, e.g. from SignalRepository.latestUsable() at start, so a restart
   * does not forget what was known. A reading goes to the source whose name equals its
   * `source` or prefixes it (`pushed` for `pushed:acme`); others are ignored. Returns how many
   * were taken.
   */
  restore(readings: readonly SignalReading[]): number {
    let taken = 0;
    for (const r of readings) {
      const s = this.#regs.find(
        (x) => r.source === x.reg.source.name || r.source.startsWith(`${x.reg.source.name}:`),
      );
      // Snapshot sources (overrides) say afresh on every fetch what holds; never resurrect them.
      if (!s || s.reg.snapshot || this.#malformed(s, r)) continue;
      const key = seriesKey(r.signal, r.subject);
      const state = s.series.get(key) ?? {};
      if (state.lastGood && state.lastGood.observedAt.getTime() >= r.observedAt.getTime()) continue;
      state.lastGood = r;
      s.series.set(key, state);
      taken++;
    }
    return taken;
  }

  /** Recorded readings, oldest first (bounded; see historyLimit). */
  history(filter: { signal?: SignalName; source?: string } = {}): RecordedReading[] {
    return this.#history.filter(
      (r) =>
        (!filter.signal || r.signal === filter.signal) && (!filter.source || r.sourceName === filter.source),
    );
  }

  sourceStatus(): SourceStatus[] {
    return this.#regs.map((s) => ({ ...s.status }));
  }

  /** Refreshes now and then every `intervalMs` until close(); failures are logged, not thrown. */
  start(intervalMs: number): void {
    if (this.#timer || this.#closing.signal.aborted) return;
    const tick = () => {
      this.refresh()
        .catch((err: unknown) => this.#logger?.warn({ err: String(err) }, 'signal refresh failed'))
        .finally(() => {
          if (!this.#closing.signal.aborted) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Stops the loop, aborts fetches in flight and waits for them. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new Error('SignalHub closed'));
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#inflight?.catch(() => {});
    })();
    return this.#closed;
  }
}

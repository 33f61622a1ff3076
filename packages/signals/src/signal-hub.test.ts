// The hub's mechanics with sources that live in memory (real implementations of SignalSource,
// scripted per call): retries and backoff, timeouts of sources that never answer, readings a
// source should not have produced, snapshot sources, restore, scheduling and persistence.
import { describe, expect, test } from '@jest/globals';
import { SignalHub, type RecordedReading, type SignalStore } from './signal-hub.ts';
import { SignalSourceError } from './signal-source-error.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalName,
  type SignalReading,
  type SignalSource,
} from './signal-types.ts';

const NOW = new Date('2026-03-18T19:00:00Z');

type Step = SignalReading[] | Error | 'hang';

/** Answers each fetch with the next scripted step (the last one repeats). */
class ScriptedSource implements SignalSource {
  readonly name: string;
  readonly signals: readonly SignalName[];
  readonly calls: SignalFetchContext[] = [];
  readonly #steps: Step[];
  constructor(name: string, signals: SignalName[], steps: Step[]) {
    this.name = name;
    this.signals = signals;
    this.#steps = steps;
  }
  fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    this.calls.push(ctx);
    const step = this.#steps[Math.min(this.calls.length - 1, this.#steps.length - 1)]!;
    if (step === 'hang') return new Promise(() => {}); // ignores its abort signal on purpose
    if (step instanceof Error) return Promise.reject(step);
    return Promise.resolve(step.map((r) => ({ ...r, fetchedAt: ctx.now })));
  }
}

const btc = (value: number, at = NOW, source = 'scripted'): SignalReading => ({
  signal: 'btc_usd',
  value,
  unit: SIGNAL_UNITS.btc_usd,
  source,
  observedAt: at,
  fetchedAt: at,
});
const transient = () => new SignalSourceError('HTTP_STATUS', 'HTTP 503', { status: 503, retryable: true });

function recordingSleep() {
  const sleeps: number[] = [];
  return { sleeps, sleep: (ms: number) => (sleeps.push(ms), Promise.resolve()) };
}

describe('retries', () => {
  test('retryable failures are retried with doubling, capped, jittered backoff', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], [transient(), transient(), transient(), [btc(1)]]);
    const { sleeps, sleep } = recordingSleep();
    const hub = new SignalHub({
      sources: [{ source: s, retries: 3, backoffMs: 100, maxBackoffMs: 300 }],
      sleep,
      random: () => 1,
    });
    const report = await hub.refresh(NOW);
    expect(report.sources[0]).toMatchObject({ ok: true, attempts: 4 });
    expect(sleeps).toEqual([100, 200, 300]);
    expect(report.sources[0]!.warnings).toHaveLength(3);
  });

  test('the number of attempts is bounded', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], [transient()]);
    const { sleeps, sleep } = recordingSleep();
    const hub = new SignalHub({ sources: [{ source: s, retries: 2 }], sleep, random: () => 0 });
    const report = await hub.refresh(NOW);
    expect(report.sources[0]).toMatchObject({ ok: false, attempts: 3 });
    expect(s.calls).toHaveLength(3);
    expect(sleeps).toEqual([250, 500]);
  });

  test('permanent failures are not retried; unknown errors are', async () => {
    const permanent = new ScriptedSource('p', ['btc_usd'], [new SignalSourceError('MALFORMED', 'bad body')]);
    const unknown = new ScriptedSource('u', ['btc_usd'], [new Error('boom'), [btc(1)]]);
    const hub = new SignalHub({
      sources: [{ source: permanent }, { source: unknown }],
      sleep: () => Promise.resolve(),
    });
    const report = await hub.refresh(NOW);
    expect(report.sources[0]).toMatchObject({ ok: false, attempts: 1, error: { code: 'MALFORMED' } });
    expect(report.sources[1]).toMatchObject({ ok: true, attempts: 2 });
  });

  test('a source that never answers (and ignores its signal) is cut off at its timeout', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], ['hang']);
    const hub = new SignalHub({ sources: [{ source: s, timeoutMs: 50, retries: 1, backoffMs: 1 }] });
    const started = Date.now();
    const report = await hub.refresh(NOW);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(report.sources[0]).toMatchObject({
      ok: false,
      attempts: 2,
      error: { code: 'TIMEOUT', retryable: true },
    });
    expect(s.calls[0]!.signal.aborted).toBe(true);
  });
});

describe('readings', () => {
  test('readings a source should not have produced are recorded as rejected', async () => {
    const bad: SignalReading[] = [
      { ...btc(1), unit: 'EUR/BTC' },
      { ...btc(1), signal: 'difficulty', unit: '1' },
      { ...btc(1), observedAt: new Date('nope') },
      {
        signal: 'gpu_usd_per_gpu_hour',
        value: 2,
        unit: SIGNAL_UNITS.gpu_usd_per_gpu_hour,
        source: 's',
        observedAt: NOW,
        fetchedAt: NOW,
      },
    ];
    const s = new ScriptedSource('s', ['btc_usd', 'gpu_usd_per_gpu_hour'], [bad]);
    const hub = new SignalHub({ sources: [{ source: s }] });
    const report = await hub.refresh(NOW);
    expect(report.readings.map((r) => [r.status, r.reason])).toEqual([
      ['rejected', 'unit "EUR/BTC" is not USD/BTC'],
      ['rejected', 'source does not declare signal "difficulty"'],
      ['rejected', 'observedAt is not a time'],
      ['rejected', 'a subject is required'],
    ]);
    expect(hub.current(NOW).btc_usd).toMatchObject({ assumeWorst: true });
  });

  test('the source gets its own last good readings', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], [[btc(63_700)]]);
    const hub = new SignalHub({ sources: [{ source: s }] });
    await hub.refresh(NOW);
    await hub.refresh(NOW);
    expect(s.calls[1]!.last!.get('btc_usd')).toMatchObject({ value: 63_700 });
  });

  test('a snapshot source drops series it stops returning', async () => {
    const s = new ScriptedSource('ops', ['btc_usd'], [[btc(70_000)], []]);
    const hub = new SignalHub({ sources: [{ source: s, snapshot: true, trusted: true }] });
    await hub.refresh(NOW);
    expect(hub.current(NOW).btc_usd!.value).toBe(70_000);
    await hub.refresh(NOW);
    expect(hub.current(NOW).btc_usd).toMatchObject({ assumeWorst: true });
  });

  test('restore seeds last good values by source name, never for snapshot sources', () => {
    const market = new ScriptedSource('pushed', ['btc_usd'], [[]]);
    const ops = new ScriptedSource('operator', ['btc_usd'], [[]]);
    const hub = new SignalHub({ sources: [{ source: ops, snapshot: true }, { source: market }] });
    const taken = hub.restore([
      btc(64_000, NOW, 'pushed:acme'),
      btc(63_000, new Date(NOW.getTime() - 60_000), 'pushed:acme'),
      btc(99_000, NOW, 'operator:alice'),
      btc(1, NOW, 'unknown'),
    ]);
    expect(taken).toBe(1);
    expect(hub.current(NOW).btc_usd).toMatchObject({ value: 64_000, source: 'pushed:acme' });
  });

  test('history keeps the newest readings up to its limit and filters', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], [[btc(1)], [btc(2)], [btc(3)]]);
    const hub = new SignalHub({ sources: [{ source: s }], historyLimit: 2, deriveHashprice: false });
    for (let i = 0; i < 3; i++) await hub.refresh(NOW);
    expect(hub.history().map((r) => r.value)).toEqual([2, 3]);
    expect(hub.history({ source: 'other' })).toEqual([]);
  });
});

describe('scheduling and persistence', () => {
  test('a source is not asked again before its minimum interval, unless forced', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], [[btc(1)]]);
    const hub = new SignalHub({ sources: [{ source: s, minIntervalSeconds: 300 }] });
    await hub.refresh(NOW);
    const later = new Date(NOW.getTime() + 60_000);
    const report = await hub.refresh(later);
    expect(report.sources[0]).toMatchObject({ skipped: true });
    await hub.refresh(later, { force: true });
    await hub.refresh(new Date(later.getTime() + 301_000));
    expect(s.calls).toHaveLength(3);
  });

  test('only: refreshes just the named sources', async () => {
    const a = new ScriptedSource('a', ['btc_usd'], [[btc(1)]]);
    const b = new ScriptedSource('b', ['btc_usd'], [[btc(1)]]);
    const hub = new SignalHub({ sources: [{ source: a }, { source: b }] });
    await hub.refresh(NOW, { only: ['b'] });
    expect([a.calls.length, b.calls.length]).toEqual([0, 1]);
  });

  test('a targeted refresh asked for during a run runs after it', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], [[btc(1)]]);
    const hub = new SignalHub({ sources: [{ source: s }] });
    const [r1, r2] = await Promise.all([hub.refresh(NOW), hub.refresh(NOW, { only: ['s'] })]);
    expect(r1).not.toBe(r2);
    expect(s.calls).toHaveLength(2);
  });

  test('concurrent refreshes share one run', async () => {
    const s = new ScriptedSource('s', ['btc_usd'], [[btc(1)]]);
    const hub = new SignalHub({ sources: [{ source: s }] });
    const [r1, r2] = await Promise.all([hub.refresh(NOW), hub.refresh(NOW)]);
    expect(r1).toBe(r2);
    expect(s.calls).toHaveLength(1);
  });

  test('readings reach the store; a failing store is logged and does not stop the hub', async () => {
    const stored: RecordedReading[] = [];
    const good: SignalStore = { append: (rs) => (stored.push(...rs), Promise.resolve()) };
    const warnings: string[] = [];
    const broken: SignalStore = { append: () => Promise.reject(new Error('database is down')) };
    const s = new ScriptedSource('s', ['btc_usd'], [[btc(63_700)]]);
    await new SignalHub({ sources: [{ source: s }], store: good, deriveHashprice: false }).refresh(NOW);
    expect(stored).toMatchObject([
      { signal: 'btc_usd', value: 63_700, status: 'accepted', sourceName: 's', ageSeconds: 0 },
    ]);
    const hub = new SignalHub({
      sources: [{ source: s }],
      store: broken,
      logger: { warn: (_o, msg) => warnings.push(msg) },
    });
    await hub.refresh(NOW);
    expect(warnings).toEqual(['could not persist signal readings']);
    expect(hub.current(NOW).btc_usd!.value).toBe(63_700);
  });

  test('two sources with one name are refused', () => {
    const s = new ScriptedSource('s', ['btc_usd'], [[]]);
    expect(() => new SignalHub({ sources: [{ source: s }, { source: s }] })).toThrow(
      /two signal sources named "s"/,
    );
  });
});

// The behaviour every HTTP signal source must show through the hub, run against its fake server
// over real sockets: success, timeout, 5xx with retries, malformed and oversized bodies, absurd
// values, soft and hard staleness, stale timestamps, and the jump-hold-then-confirm rule.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import {
  DEFAULT_SIGNAL_POLICY,
  SignalHub,
  seriesKey,
  worstCaseValue,
  type SignalName,
  type SignalSource,
  type SourceRegistration,
} from '../../packages/signals/src/index.ts';
import type { FakeServer } from '../support/fake-signal-servers.ts';

/** A settable clock shared by the hub and the fake servers. */
export class TestClock {
  t: Date;
  constructor(iso: string) {
    this.t = new Date(iso);
  }
  readonly now = (): Date => this.t;
  set(iso: string | Date): void {
    this.t = new Date(iso);
  }
  advance(seconds: number): Date {
    this.t = new Date(this.t.getTime() + seconds * 1000);
    return this.t;
  }
}

/** A weekday afternoon in 2026 (CDT), well inside the 3.125 BTC subsidy era. */
export const START = '2026-03-18T19:07:00.000Z';

export interface SourceContract<S> {
  title: string;
  start(clock: () => Date): Promise<FakeServer<S>>;
  source(fake: FakeServer<S>): SignalSource;
  signal: SignalName;
  subject?: string;
  /** The value the fake serves now, in the signal's unit. */
  expected(fake: FakeServer<S>): number;
  /** Multiplies the value the fake serves. */
  scale(fake: FakeServer<S>, factor: number): void;
  /** A path every attempt requests (to count retries)... */
  probePath: string;
  /** ...this many times (default 1). */
  probeHitsPerAttempt?: number;
  /** HTTP requests one fetch makes. */
  requestsPerFetch: number;
  /** The fake can date its data in the past (mode `stale`). */
  staleTimestamps: boolean;
}

export function fastRetry(source: SignalSource, extra: Partial<SourceRegistration> = {}): SourceRegistration {
  return { source, timeoutMs: 1500, retries: 2, backoffMs: 5, maxBackoffMs: 20, ...extra };
}

export function describeSourceContract<S>(c: SourceContract<S>): void {
  describe(`${c.title}: source contract`, () => {
    const clock = new TestClock(START);
    const key = seriesKey(c.signal, c.subject);
    const limits = DEFAULT_SIGNAL_POLICY.staleness[c.signal];
    let fake: FakeServer<S>;
    let initial: S;

    /** Seconds until the last reading's validity window ends (age counts from there). */
    const stillValidSeconds = (hub: SignalHub) => {
      const until = hub.history({ signal: c.signal }).at(-1)?.validUntil;
      return until ? Math.max(0, (until.getTime() - clock.now().getTime()) / 1000) : 0;
    };

    const hubWith = (extra: Partial<SourceRegistration> = {}) =>
      new SignalHub({
        sources: [fastRetry(c.source(fake), extra)],
        deriveHashprice: false,
        clock: clock.now,
      });

    beforeAll(async () => {
      fake = await c.start(clock.now);
      initial = structuredClone(fake.state);
    });
    afterAll(() => fake.close());
    beforeEach(() => {
      fake.state = structuredClone(initial);
      fake.mode = 'ok';
      fake.failNext = 0;
      fake.requests.length = 0;
      clock.set(START);
    });

    test('success: the documented answer becomes a fresh reading', async () => {
      const hub = hubWith();
      const report = await hub.refresh();
      expect(report.sources[0]).toMatchObject({ ok: true, attempts: 1 });
      const cur = hub.current()[key]!;
      expect(cur.value).toBeCloseTo(c.expected(fake), 6);
      expect(cur).toMatchObject({ stale: false, assumeWorst: false });
      expect(cur.source.startsWith(c.source(fake).name)).toBe(true);
      expect(cur.ageSeconds).toBeLessThan(limits.softSeconds);
      expect(hub.history({ signal: c.signal }).every((r) => r.status === 'accepted')).toBe(true);
    });

    test('timeout: a slow answer is cut off at the limit, retried, then the fetch fails', async () => {
      fake.mode = 'slow';
      fake.delayMs = 3000;
      const hub = hubWith({ timeoutMs: 150, retries: 1 });
      const started = Date.now();
      const report = await hub.refresh();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(report.sources[0]).toMatchObject({ ok: false, attempts: 2, error: { code: 'TIMEOUT' } });
      expect(hub.current()[key] ?? hub.get(c.signal, c.subject)).toMatchObject({ assumeWorst: true });
    });

    test('5xx: retried with backoff up to the limit, then the fetch fails', async () => {
      fake.mode = 'error';
      const hub = hubWith({ retries: 2 });
      const report = await hub.refresh();
      expect(report.sources[0]).toMatchObject({
        ok: false,
        attempts: 3,
        error: { code: 'HTTP_STATUS', retryable: true },
      });
      expect(fake.requestsTo(c.probePath)).toHaveLength(3 * (c.probeHitsPerAttempt ?? 1));
      expect(hub.sourceStatus()[0]).toMatchObject({
        consecutiveFailures: 1,
        lastError: { code: 'HTTP_STATUS' },
      });
    });

    test('5xx once: the retry succeeds', async () => {
      fake.failNext = c.requestsPerFetch;
      const hub = hubWith();
      const report = await hub.refresh();
      expect(report.sources[0]).toMatchObject({ ok: true, attempts: 2 });
      expect(hub.current()[key]!.value).toBeCloseTo(c.expected(fake), 6);
    });

    test('malformed: a body that is not JSON fails at once, without retries', async () => {
      fake.mode = 'not-json';
      const hub = hubWith();
      const report = await hub.refresh();
      expect(report.sources[0]).toMatchObject({
        ok: false,
        attempts: 1,
        error: { code: 'MALFORMED', retryable: false },
      });
    });

    test('malformed: a body of the wrong shape fails at once, without retries', async () => {
      fake.mode = 'wrong-shape';
      const hub = hubWith();
      const report = await hub.refresh();
      expect(report.sources[0]).toMatchObject({ ok: false, attempts: 1, error: { code: 'MALFORMED' } });
    });

    test('an oversized body is cut off and refused', async () => {
      fake.mode = 'huge';
      const hub = hubWith();
      const report = await hub.refresh();
      expect(report.sources[0]).toMatchObject({ ok: false, error: { code: 'BODY_TOO_LARGE' } });
    });

    test('absurd values are rejected and the last good value stays in use', async () => {
      const hub = hubWith();
      await hub.refresh();
      const good = c.expected(fake);
      fake.mode = 'absurd';
      clock.advance(60);
      await hub.refresh();
      const rejected = hub.history({ signal: c.signal }).filter((r) => r.status === 'rejected');
      expect(rejected.length).toBeGreaterThan(0);
      expect(rejected[0]!.reason).toMatch(/outside|from the last good/);
      const cur = hub.current()[key]!;
      expect(cur.value).toBeCloseTo(good, 6);
      expect(cur.stale).toBe(false);
    });

    test('soft staleness: past the soft limit the last good value is used, flagged stale with its age', async () => {
      const hub = hubWith();
      await hub.refresh();
      const good = c.expected(fake);
      clock.advance(stillValidSeconds(hub) + limits.softSeconds + 60);
      fake.mode = 'error';
      await hub.refresh();
      const cur = hub.current()[key]!;
      expect(cur).toMatchObject({ stale: true, assumeWorst: false });
      expect(cur.value).toBeCloseTo(good, 6);
      expect(cur.ageSeconds).toBeGreaterThan(limits.softSeconds);
      expect(cur.reason).toMatch(/soft limit/);
    });

    test('hard staleness: past the hard limit the consumer assumes the worst', async () => {
      const hub = hubWith();
      await hub.refresh();
      const good = c.expected(fake);
      clock.advance(stillValidSeconds(hub) + limits.hardSeconds + 60);
      fake.mode = 'error';
      await hub.refresh();
      const cur = hub.current()[key]!;
      expect(cur).toMatchObject({ stale: true, assumeWorst: true, source: 'worst-case' });
      expect(cur.value).toBe(worstCaseValue(c.signal, DEFAULT_SIGNAL_POLICY));
      expect(cur.lastGood?.value).toBeCloseTo(good, 6);
      expect(cur.reason).toMatch(/hard limit/);
    });

    if (c.staleTimestamps) {
      test('stale timestamps: the reading is kept but flagged stale from the start', async () => {
        fake.staleSeconds = Math.round((limits.softSeconds + limits.hardSeconds) / 2);
        fake.mode = 'stale';
        const hub = hubWith();
        await hub.refresh();
        const recorded = hub.history({ signal: c.signal }).filter((r) => r.subject === c.subject);
        expect(recorded.at(-1)).toMatchObject({ status: 'accepted', stale: true });
        expect(recorded.at(-1)!.ageSeconds).toBeGreaterThan(limits.softSeconds);
        expect(hub.current()[key]).toMatchObject({ stale: true, assumeWorst: false });
      });
    }

    test('jump: a move beyond ×3 is held until a second reading confirms it', async () => {
      const hub = hubWith();
      await hub.refresh();
      const before = c.expected(fake);
      c.scale(fake, 4);
      const after = c.expected(fake);
      clock.advance(30);
      await hub.refresh();
      let cur = hub.current()[key]!;
      expect(cur.value).toBeCloseTo(before, 6);
      expect(cur.heldJump?.value).toBeCloseTo(after, 6);
      expect(hub.history({ signal: c.signal }).at(-1)).toMatchObject({ status: 'held' });
      clock.advance(30);
      await hub.refresh();
      cur = hub.current()[key]!;
      expect(cur.value).toBeCloseTo(after, 6);
      expect(cur.heldJump).toBeUndefined();
      expect(
        hub
          .history({ signal: c.signal })
          .filter((r) => r.subject === c.subject)
          .at(-1),
      ).toMatchObject({
        status: 'confirmed',
      });
    });

    test('jump: a one-off spike is dropped when the next reading is back to normal', async () => {
      const hub = hubWith();
      await hub.refresh();
      const before = c.expected(fake);
      c.scale(fake, 4);
      clock.advance(30);
      await hub.refresh();
      c.scale(fake, 1 / 4);
      clock.advance(30);
      await hub.refresh();
      const cur = hub.current()[key]!;
      expect(cur.value).toBeCloseTo(before, 6);
      expect(cur.heldJump).toBeUndefined();
    });
  });
}

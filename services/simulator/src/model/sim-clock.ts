// Simulated time. Sim time advances `speed` simulated seconds per real second from an anchor:
//   sim(now) = simAnchorMs + (real(now) - realAnchorMs) * speed
// The anchor is plain data (ClockParams), so worker processes compute the same sim time as the
// parent from the same epoch and speed. Real time comes from an injectable source; the default
// is the wall clock made monotonic (performance.timeOrigin + performance.now()), which agrees
// across processes on one machine to a millisecond or so.

/** Real milliseconds since the Unix epoch. */
export type RealTimeSource = () => number;

export const monotonicWallClock: RealTimeSource = () => performance.timeOrigin + performance.now();

export interface ClockParams {
  /** Real time (ms since epoch) at the anchor. */
  realAnchorMs: number;
  /** Simulated time (ms since epoch) at the anchor. */
  simAnchorMs: number;
  /** Simulated seconds per real second (> 0). */
  speed: number;
}

export const MAX_SPEED = 100_000;

export function checkSpeed(speed: number): string | null {
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed <= 0 || speed > MAX_SPEED)
    return `speed must be a number in (0, ${MAX_SPEED}], got ${String(speed)}`;
  return null;
}

export class SimClock {
  readonly realNow: RealTimeSource;
  #params: ClockParams;

  /**
   * A clock starting now (sim time = real time at start unless `simStartMs` is given), or one
   * continuing from `params` (a worker process joining the parent's clock).
   */
  constructor(
    opts: {
      speed?: number;
      simStartMs?: number;
      params?: ClockParams;
      realNow?: RealTimeSource;
    } = {},
  ) {
    this.realNow = opts.realNow ?? monotonicWallClock;
    if (opts.params) {
      this.#params = { ...opts.params };
    } else {
      const real = this.realNow();
      this.#params = { realAnchorMs: real, simAnchorMs: opts.simStartMs ?? Math.round(real), speed: 1 };
    }
    if (opts.speed !== undefined) this.#params.speed = opts.speed;
    const err = checkSpeed(this.#params.speed);
    if (err) throw new RangeError(err);
  }

  /** Current simulated time, ms since the Unix epoch. */
  now(): number {
    const p = this.#params;
    return p.simAnchorMs + (this.realNow() - p.realAnchorMs) * p.speed;
  }

  get speed(): number {
    return this.#params.speed;
  }

  /** The anchor, to hand to another process (or to compare). */
  params(): ClockParams {
    return { ...this.#params };
  }

  /** Changes the speed from now on; sim time stays continuous. Returns the new parameters. */
  setSpeed(speed: number): ClockParams {
    const err = checkSpeed(speed);
    if (err) throw new RangeError(err);
    const real = this.realNow();
    this.#params = { realAnchorMs: real, simAnchorMs: this.now(), speed };
    return this.params();
  }

  /** Adopts parameters computed elsewhere (the parent's setSpeed). */
  setParams(params: ClockParams): void {
    const err = checkSpeed(params.speed);
    if (err) throw new RangeError(err);
    this.#params = { ...params };
  }

  /** Real milliseconds until the sim time reaches `simMs` (0 when already past). */
  realDelayUntil(simMs: number): number {
    return Math.max(0, (simMs - this.now()) / this.#params.speed);
  }
}

/**
 * Resolves once `ms` simulated milliseconds have passed on `clock`. Re-checks at least once a
 * real second, so a speed change while sleeping is honoured. Rejects with the signal's reason
 * when aborted.
 */
export function sleepSim(clock: SimClock, ms: number, signal?: AbortSignal): Promise<void> {
  const until = clock.now() + Math.max(0, ms);
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (timer) clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const step = () => {
      const wait = clock.realDelayUntil(until);
      if (wait <= 0) {
        signal?.removeEventListener('abort', onAbort);
        resolve();
        return;
      }
      timer = setTimeout(step, Math.min(1000, Math.max(1, Math.ceil(wait))));
    };
    step();
  });
}

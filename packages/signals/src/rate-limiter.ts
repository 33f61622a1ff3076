// A client-side sliding-window limiter: at most `limit` grants in any `windowMs`. Waiters are
// served in arrival order. Used for ERCOT's public API (30 requests per minute per key), shared
// by every source that uses the same key.
import { abortableSleep, type Sleep } from './abortable-sleep.ts';

export interface RateLimiterOptions {
  limit: number;
  windowMs: number;
  /**
   * Extra wait before a slot is reused. A grant is recorded when the request leaves here but
   * the server counts it when it arrives, later; without a margin the server's window can still
   * hold a request ours has already let go. Default: 2% of the window.
   */
  marginMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  sleep?: Sleep;
}

export class RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly marginMs: number;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  /** Times of the grants inside the current window, oldest first. */
  #granted: number[] = [];
  #queue: Promise<void> = Promise.resolve();

  constructor(opts: RateLimiterOptions) {
    if (!(opts.limit >= 1) || !(opts.windowMs > 0))
      throw new Error('RateLimiter: limit >= 1 and windowMs > 0');
    this.limit = Math.floor(opts.limit);
    this.windowMs = opts.windowMs;
    this.marginMs = Math.max(0, opts.marginMs ?? opts.windowMs * 0.02);
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? abortableSleep;
  }

  /** Resolves when a request may be sent; rejects if the signal aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.#queue.then(() => this.#waitForSlot(signal));
    // The next waiter queues behind this one whether it succeeds or is aborted.
    this.#queue = turn.catch(() => {});
    return turn;
  }

  /** Grants left right now (for metrics and tests). */
  available(): number {
    this.#expire(this.#now());
    return this.limit - this.#granted.length;
  }

  #expire(now: number): void {
    const span = this.windowMs + this.marginMs;
    while (this.#granted.length > 0 && this.#granted[0]! <= now - span) this.#granted.shift();
  }

  async #waitForSlot(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.#now();
      this.#expire(now);
      if (this.#granted.length < this.limit) {
        this.#granted.push(now);
        return;
      }
      await this.#sleep(this.#granted[0]! + this.windowMs + this.marginMs - now, signal);
    }
  }
}

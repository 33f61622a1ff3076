// The controller's cycle: snapshot → plan → persist → sequence → dispatch, on every interval and
// at once on events (a grid dispatch, a large price move, device faults, an inventory change).
// Level-triggered: each cycle starts from what is observed, so a lost or failed action is
// corrected by the next one. Only the leader runs cycles; losing the lease stops dispatching at
// once, mid-cycle included.

export type CycleTrigger =
  | 'interval'
  | 'grid-dispatch'
  /** A background poll saw a power-tree node loaded past what any plan allows. */
  | 'over-limit'
  | 'price-move'
  | 'device-fault'
  | 'inventory'
  | 'manual'
  /** This instance just became the leader. */
  | 'leadership'
  /** The last cycle failed or stopped short: try again soon rather than at the next interval. */
  | 'retry';

/** The urgent triggers, each with what it tells the cycle it preempts. */
const PREEMPTED_BY: Partial<Record<CycleTrigger, string>> = {
  'grid-dispatch': 'preempted by a grid dispatch',
  'over-limit': 'preempted by a power-tree node over its limit',
};

/**
 * Triggers that cannot wait: they preempt the running cycle, outrank whatever else is pending,
 * and plan from the last background poll with the fast solver.
 */
export const URGENT_TRIGGERS: ReadonlySet<CycleTrigger> = new Set(
  Object.keys(PREEMPTED_BY) as CycleTrigger[],
);

/** Everything a cycle reads, taken at one instant. */
export interface CycleSnapshot<Input> {
  at: Date;
  /** When the telemetry it was built from was taken (default: `at`). */
  observedAt?: Date;
  input: Input;
}

export interface TriggerOptions {
  /**
   * When the observation behind the trigger was taken. A running cycle whose snapshot is as new
   * (or not yet taken) already answers it: it is neither preempted nor followed by another.
   */
  observedAt?: Date;
}

/** The ports the loop drives. Each is implemented by an adapter the service wires in. */
export interface ControlPorts<Input, Plan, Sequence> {
  /** Leadership: the loop acts only while `isLeader()`, with `epoch()` on every command. */
  lease: {
    isLeader(): boolean;
    epoch(): number | null;
    onLost(cb: () => void): () => void;
    /** A new epoch under the same lease (fences off an abandoned cycle's queued jobs). */
    bump?(): Promise<number | null>;
  };
  snapshot(trigger: CycleTrigger): Promise<CycleSnapshot<Input>>;
  plan(input: Input): Promise<Plan>;
  persist(plan: Plan, input: Input, epoch: number, trigger: CycleTrigger): Promise<string>;
  sequence(plan: Plan, input: Input, planId: string): Sequence;
  /**
   * Hands the sequence to the queues; must check `stillLeader()` before each enqueue and stop
   * waiting as soon as `signal` aborts (a grid dispatch preempting the cycle).
   */
  dispatch(
    sequence: Sequence,
    planId: string,
    epoch: number,
    stillLeader: () => boolean,
    signal: AbortSignal,
  ): Promise<void>;
}

export interface CycleRecord {
  trigger: CycleTrigger;
  startedAt: Date;
  durationMs: number;
  outcome: 'dispatched' | 'not-leader' | 'lost-lease' | 'preempted' | 'failed';
  planId?: string;
  epoch?: number;
  /** Milliseconds from the trigger to the sequence being handed to dispatch. */
  toDispatchMs?: number;
  /** Milliseconds spent in each port before dispatch. */
  stagesMs?: { snapshot: number; plan: number; persist: number; sequence: number };
  error?: string;
}

export interface ControlLoopOptions {
  intervalMs: number;
  /**
   * After a cycle fails or a phase stops short, the next cycle runs this soon (default 1 s),
   * doubling on every further failure up to the interval, unless another trigger comes first.
   */
  retryAfterMs?: number;
  /** Called when a cycle hands its sequence to dispatch (before any phase runs). */
  onDispatching?: (r: CycleRecord) => void;
  /** Called after every cycle (logging, metrics). */
  onCycle?: (r: CycleRecord) => void;
  now?: () => Date;
}

export class ControlLoop<Input, Plan, Sequence> {
  readonly #ports: ControlPorts<Input, Plan, Sequence>;
  readonly #opts: ControlLoopOptions;
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #running: Promise<void> | undefined;
  /** Triggers that arrived while a cycle ran; they coalesce into one follow-up cycle. */
  #pending: CycleTrigger | undefined;
  /** When the running cycle's telemetry was taken (undefined until its snapshot). */
  #observedAt: Date | undefined;
  #stopped = false;
  #lostDuringCycle = false;
  /** Aborts the running cycle's dispatch when a grid dispatch preempts it. */
  #abort: AbortController | undefined;
  /** The last cycle stopped short of its plan: its queued jobs must be fenced off. */
  #abandoned = false;
  /** When each pending trigger first arrived (performance.now), for the trigger → dispatch time. */
  readonly #triggeredAt = new Map<CycleTrigger, number>();
  readonly #unsubscribe: () => void;

  constructor(ports: ControlPorts<Input, Plan, Sequence>, opts: ControlLoopOptions) {
    this.#ports = ports;
    this.#opts = opts;
    this.#unsubscribe = ports.lease.onLost(() => {
      this.#lostDuringCycle = true;
    });
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => this.trigger('interval'), this.#opts.intervalMs);
    this.#timer.unref?.();
    this.trigger('interval');
  }

  /**
   * Runs a cycle now, or right after the one in progress. An urgent trigger (a grid dispatch, a
   * node over its limit) outranks whatever else is pending and preempts the running cycle: that
   * cycle stops waiting on its phases, and the urgent cycle follows at once under a new epoch.
   */
  trigger(reason: CycleTrigger, opts: TriggerOptions = {}): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (
      this.#running &&
      opts.observedAt &&
      (this.#observedAt === undefined || this.#observedAt >= opts.observedAt)
    )
      return this.#running;
    if (!this.#triggeredAt.has(reason)) this.#triggeredAt.set(reason, performance.now());
    if (this.#running) {
      // A dispatch outranks an over-limit (its cycle sheds from the same poll), both outrank the rest.
      const rank = (r: CycleTrigger | undefined) =>
        r === 'grid-dispatch' ? 2 : r && URGENT_TRIGGERS.has(r) ? 1 : 0;
      if (rank(reason) >= rank(this.#pending)) this.#pending = reason;
      const preempted = PREEMPTED_BY[reason];
      if (preempted) this.#abort?.abort(new Error(preempted));
      return this.#running;
    }
    // Every trigger that arrived so far is served by this cycle.
    const at = this.#triggeredAt.get(reason) ?? performance.now();
    this.#triggeredAt.clear();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#running = this.#cycle(reason, at).finally(() => {
      this.#running = undefined;
      const next = this.#pending;
      this.#pending = undefined;
      if (next && !this.#stopped) void this.trigger(next);
    });
    return this.#running;
  }

  async #cycle(trigger: CycleTrigger, triggeredAt: number): Promise<void> {
    const now = this.#opts.now ?? (() => new Date());
    const startedAt = now();
    const t0 = performance.now();
    const done = (r: Omit<CycleRecord, 'trigger' | 'startedAt' | 'durationMs'>) =>
      this.#opts.onCycle?.({ trigger, startedAt, durationMs: performance.now() - t0, ...r });
    let epoch = this.#ports.lease.epoch();
    if (!this.#ports.lease.isLeader() || epoch === null) return done({ outcome: 'not-leader' });
    this.#lostDuringCycle = false;
    const abort = new AbortController();
    this.#abort = abort;
    try {
      if (this.#abandoned && this.#ports.lease.bump) {
        // The previous cycle stopped short: fence off what it still had queued.
        const bumped = await this.#ports.lease.bump();
        if (bumped === null) return done({ outcome: 'lost-lease' });
        epoch = bumped;
      }
      this.#abandoned = false;
      const cycleEpoch = epoch;
      // Leadership must hold for the whole cycle under the same epoch.
      const stillLeader = () =>
        !this.#lostDuringCycle &&
        this.#ports.lease.isLeader() &&
        this.#ports.lease.epoch() === cycleEpoch &&
        !abort.signal.aborted;
      const outcome = (): CycleRecord['outcome'] =>
        abort.signal.aborted ? 'preempted' : stillLeader() ? 'dispatched' : 'lost-lease';
      let mark = performance.now();
      const lap = () => {
        const t = performance.now();
        const ms = Math.round((t - mark) * 10) / 10;
        mark = t;
        return ms;
      };
      const snap = await this.#ports.snapshot(trigger);
      this.#observedAt = snap.observedAt ?? snap.at;
      const snapshotMs = lap();
      const plan = await this.#ports.plan(snap.input);
      const planMs = lap();
      if (!stillLeader()) return done({ outcome: outcome(), epoch });
      const planId = await this.#ports.persist(plan, snap.input, epoch, trigger);
      const persistMs = lap();
      const seq = this.#ports.sequence(plan, snap.input, planId);
      const stagesMs = { snapshot: snapshotMs, plan: planMs, persist: persistMs, sequence: lap() };
      if (!stillLeader()) return done({ outcome: outcome(), planId, epoch, stagesMs });
      const toDispatchMs = performance.now() - triggeredAt;
      this.#opts.onDispatching?.({
        trigger,
        startedAt,
        durationMs: performance.now() - t0,
        outcome: 'dispatched',
        planId,
        epoch,
        toDispatchMs,
        stagesMs,
      });
      try {
        await this.#ports.dispatch(seq, planId, epoch, stillLeader, abort.signal);
      } catch (e) {
        if (!abort.signal.aborted) throw e;
      }
      const result = outcome();
      if (result !== 'dispatched') this.#abandoned = true;
      else this.#failures = 0;
      if (result === 'preempted') this.#scheduleRetry();
      return done({ outcome: result, planId, epoch, toDispatchMs, stagesMs });
    } catch (e) {
      this.#abandoned = true;
      this.#scheduleRetry();
      return done({ outcome: 'failed', epoch, error: (e as Error).message });
    } finally {
      this.#abort = undefined;
      this.#observedAt = undefined;
    }
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retryTimer) return;
    const first = this.#opts.retryAfterMs ?? 1000;
    const ms = Math.min(this.#opts.intervalMs, first * 2 ** Math.min(10, this.#failures));
    this.#failures += 1;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.trigger('retry');
    }, ms);
    this.#retryTimer.unref?.();
  }

  /** Stops the timer and waits for a running cycle. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#timer = undefined;
    this.#unsubscribe();
    this.#abort?.abort(new Error('the controller is stopping'));
    await this.#running;
  }
}

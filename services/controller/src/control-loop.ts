// The controller's cycle: snapshot → plan → persist → sequence → dispatch, on every interval and
// at once on events (a grid dispatch, a large price move, device faults, an inventory change).
// Level-triggered: each cycle starts from what is observed, so a lost or failed action is
// corrected by the next one. Only the leader runs cycles; losing the lease stops dispatching at
// once, mid-cycle included.

export type CycleTrigger =
  'interval' | 'grid-dispatch' | 'price-move' | 'device-fault' | 'inventory' | 'manual';

/** Everything a cycle reads, taken at one instant. */
export interface CycleSnapshot<Input> {
  at: Date;
  input: Input;
}

/** The ports the loop drives. Each is implemented by an adapter the service wires in. */
export interface ControlPorts<Input, Plan, Sequence> {
  /** Leadership: the loop acts only while `isLeader()`, with `epoch()` on every command. */
  lease: { isLeader(): boolean; epoch(): number | null; onLost(cb: () => void): () => void };
  snapshot(trigger: CycleTrigger): Promise<CycleSnapshot<Input>>;
  plan(input: Input): Promise<Plan>;
  persist(plan: Plan, input: Input, epoch: number, trigger: CycleTrigger): Promise<string>;
  sequence(plan: Plan, input: Input, planId: string): Sequence;
  /** Hands the sequence to the queues; must check `stillLeader()` before each enqueue. */
  dispatch(sequence: Sequence, planId: string, epoch: number, stillLeader: () => boolean): Promise<void>;
}

export interface CycleRecord {
  trigger: CycleTrigger;
  startedAt: Date;
  durationMs: number;
  outcome: 'dispatched' | 'not-leader' | 'lost-lease' | 'failed';
  planId?: string;
  error?: string;
}

export interface ControlLoopOptions {
  intervalMs: number;
  /** Called after every cycle (logging, metrics). */
  onCycle?: (r: CycleRecord) => void;
  now?: () => Date;
}

export class ControlLoop<Input, Plan, Sequence> {
  readonly #ports: ControlPorts<Input, Plan, Sequence>;
  readonly #opts: ControlLoopOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Triggers that arrived while a cycle ran; they coalesce into one follow-up cycle. */
  #pending: CycleTrigger | undefined;
  #stopped = false;
  #lostDuringCycle = false;
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
   * Runs a cycle now, or right after the one in progress. A grid dispatch outranks whatever
   * else is pending so the follow-up cycle is labelled (and prioritised) as one.
   */
  trigger(reason: CycleTrigger): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      if (this.#pending !== 'grid-dispatch') this.#pending = reason;
      return this.#running;
    }
    this.#running = this.#cycle(reason).finally(() => {
      this.#running = undefined;
      const next = this.#pending;
      this.#pending = undefined;
      if (next && !this.#stopped) void this.trigger(next);
    });
    return this.#running;
  }

  async #cycle(trigger: CycleTrigger): Promise<void> {
    const now = this.#opts.now ?? (() => new Date());
    const startedAt = now();
    const t0 = performance.now();
    const done = (r: Omit<CycleRecord, 'trigger' | 'startedAt' | 'durationMs'>) =>
      this.#opts.onCycle?.({ trigger, startedAt, durationMs: performance.now() - t0, ...r });
    const epoch = this.#ports.lease.epoch();
    if (!this.#ports.lease.isLeader() || epoch === null) return done({ outcome: 'not-leader' });
    this.#lostDuringCycle = false;
    // Leadership must hold for the whole cycle under the same epoch.
    const stillLeader = () =>
      !this.#lostDuringCycle && this.#ports.lease.isLeader() && this.#ports.lease.epoch() === epoch;
    try {
      const snap = await this.#ports.snapshot(trigger);
      const plan = await this.#ports.plan(snap.input);
      if (!stillLeader()) return done({ outcome: 'lost-lease' });
      const planId = await this.#ports.persist(plan, snap.input, epoch, trigger);
      const seq = this.#ports.sequence(plan, snap.input, planId);
      if (!stillLeader()) return done({ outcome: 'lost-lease', planId });
      await this.#ports.dispatch(seq, planId, epoch, stillLeader);
      return done({ outcome: stillLeader() ? 'dispatched' : 'lost-lease', planId });
    } catch (e) {
      return done({ outcome: 'failed', error: (e as Error).message });
    }
  }

  /** Stops the timer and waits for a running cycle. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe();
    await this.#running;
  }
}

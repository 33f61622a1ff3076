// Operator overrides: values an operator sets by hand ("energy is 4000 until 18:00"), each with
// an expiry. Register this source first and with `trusted` and `snapshot` so an active override
// wins over every other source and a cleared one stops applying at the next refresh.
import { randomUUID } from 'node:crypto';
import {
  SIGNAL_NAMES,
  SIGNAL_UNITS,
  SUBJECT_SIGNALS,
  type SignalFetchContext,
  type SignalName,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';

export interface OperatorOverride {
  id: string;
  signal: SignalName;
  subject?: string;
  value: number;
  setAt: Date;
  expiresAt: Date;
  /** Who set it (API key prefix, user name). */
  setBy: string;
  reason: string;
}

export type NewOperatorOverride = Omit<OperatorOverride, 'id' | 'setAt'> & { setAt?: Date };

/** Where overrides live: memory here, the database in DatabaseOverrideStore. */
export interface OverrideStore {
  /** Overrides in force at `now`; for one series the newest wins. */
  active(now: Date): Promise<OperatorOverride[]>;
}

export function validateOverride(o: NewOperatorOverride, now: Date): void {
  if (!Number.isFinite(o.value)) throw new Error('override value must be a finite number');
  if (SUBJECT_SIGNALS.has(o.signal) !== (o.subject !== undefined))
    throw new Error(
      `override of ${o.signal}: ${SUBJECT_SIGNALS.has(o.signal) ? 'needs' : 'takes no'} subject`,
    );
  if (!(o.expiresAt.getTime() > now.getTime())) throw new Error('override must expire in the future');
  if (!o.setBy || !o.reason) throw new Error('override needs setBy and a reason');
}

/** Keeps the newest override per series. */
export function newestPerSeries(overrides: readonly OperatorOverride[]): OperatorOverride[] {
  const best = new Map<string, OperatorOverride>();
  for (const o of overrides) {
    const key = `${o.signal}\u0000${o.subject ?? ''}`;
    const cur = best.get(key);
    if (!cur || o.setAt.getTime() >= cur.setAt.getTime()) best.set(key, o);
  }
  return [...best.values()];
}

export class InMemoryOverrideStore implements OverrideStore {
  readonly #items = new Map<string, OperatorOverride>();
  readonly #clock: () => Date;

  constructor(opts: { clock?: () => Date } = {}) {
    this.#clock = opts.clock ?? (() => new Date());
  }

  set(o: NewOperatorOverride): OperatorOverride {
    const setAt = o.setAt ?? this.#clock();
    validateOverride(o, setAt);
    const full: OperatorOverride = { ...o, id: randomUUID(), setAt };
    this.#items.set(full.id, full);
    return full;
  }

  /** Removes an override; true when it existed. */
  clear(id: string): boolean {
    return this.#items.delete(id);
  }

  list(): OperatorOverride[] {
    return [...this.#items.values()];
  }

  active(now: Date): Promise<OperatorOverride[]> {
    for (const [id, o] of this.#items) if (o.expiresAt.getTime() <= now.getTime()) this.#items.delete(id);
    return Promise.resolve(newestPerSeries([...this.#items.values()]));
  }
}

export class OperatorOverrideSource implements SignalSource {
  readonly name: string;
  readonly signals: readonly SignalName[] = SIGNAL_NAMES;
  readonly #store: OverrideStore;

  constructor(store: OverrideStore, opts: { name?: string } = {}) {
    this.name = opts.name ?? 'operator';
    this.#store = store;
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const active = await this.#store.active(ctx.now);
    return active.map((o) => ({
      signal: o.signal,
      ...(o.subject !== undefined && { subject: o.subject }),
      value: o.value,
      unit: SIGNAL_UNITS[o.signal],
      source: `${this.name}:${o.setBy}`,
      observedAt: o.setAt,
      fetchedAt: ctx.now,
      // Current for its whole life, and never used after it.
      validUntil: o.expiresAt,
      expiresAt: o.expiresAt,
      detail: { overrideId: o.id, setBy: o.setBy, reason: o.reason },
    }));
  }
}

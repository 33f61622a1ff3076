// Operator overrides kept in signal_readings, so every process sees the same overrides (the API
// sets them, the controller's hub reads them) and they survive restarts. Setting one writes an
// `override` row; clearing writes an `override-cleared` row naming it.
import { randomUUID } from 'node:crypto';
import {
  newestPerSeries,
  validateOverride,
  type NewOperatorOverride,
  type OperatorOverride,
  type OverrideStore,
} from './sources/operator-override-source.ts';
import type { SignalRepository, StoredReading } from './signal-repository.ts';
import { SIGNAL_UNITS } from './signal-types.ts';

/** Overrides last at most this long, which also bounds how far back active() looks. */
export const MAX_OVERRIDE_SECONDS = 7 * 86_400;

export class DatabaseOverrideStore implements OverrideStore {
  readonly #repo: SignalRepository;
  readonly #clock: () => Date;
  readonly #prefix: string;

  constructor(repo: SignalRepository, opts: { clock?: () => Date; sourcePrefix?: string } = {}) {
    this.#repo = repo;
    this.#clock = opts.clock ?? (() => new Date());
    this.#prefix = opts.sourcePrefix ?? 'operator';
  }

  async set(o: NewOperatorOverride): Promise<OperatorOverride> {
    const setAt = o.setAt ?? this.#clock();
    validateOverride(o, setAt);
    if (o.expiresAt.getTime() - setAt.getTime() > MAX_OVERRIDE_SECONDS * 1000)
      throw new Error(`override must expire within ${MAX_OVERRIDE_SECONDS / 86_400} days`);
    const full: OperatorOverride = { ...o, id: randomUUID(), setAt };
    await this.#repo.append([
      {
        signal: full.signal,
        ...(full.subject !== undefined && { subject: full.subject }),
        value: full.value,
        unit: SIGNAL_UNITS[full.signal],
        source: `${this.#prefix}:${full.setBy}`,
        observedAt: setAt,
        fetchedAt: setAt,
        validUntil: full.expiresAt,
        expiresAt: full.expiresAt,
        status: 'override',
        detail: { overrideId: full.id, setBy: full.setBy, reason: full.reason },
      },
    ]);
    return full;
  }

  /** Ends an override early; false when no active override has that id. */
  async clear(id: string, by: string): Promise<boolean> {
    const now = this.#clock();
    const target = (await this.active(now)).find((o) => o.id === id);
    if (!target) return false;
    await this.#repo.append([
      {
        signal: target.signal,
        ...(target.subject !== undefined && { subject: target.subject }),
        value: target.value,
        unit: SIGNAL_UNITS[target.signal],
        source: `${this.#prefix}:${by}`,
        observedAt: now,
        fetchedAt: now,
        status: 'override-cleared',
        detail: { overrideId: id, clearedBy: by },
      },
    ]);
    return true;
  }

  async active(now: Date): Promise<OperatorOverride[]> {
    const since = new Date(now.getTime() - MAX_OVERRIDE_SECONDS * 1000);
    const rows = await this.#repo.overrideRows(since, this.#prefix);
    const cleared = new Set(
      rows.filter((r) => r.status === 'override-cleared').map((r) => String(r.detail?.overrideId)),
    );
    const live = rows
      .filter((r) => r.status === 'override' && r.expiresAt && r.expiresAt.getTime() > now.getTime())
      .map(toOverride)
      .filter((o): o is OperatorOverride => o !== undefined && !cleared.has(o.id));
    return newestPerSeries(live);
  }
}

function toOverride(r: StoredReading): OperatorOverride | undefined {
  const d = r.detail ?? {};
  if (typeof d.overrideId !== 'string' || !r.expiresAt) return undefined;
  return {
    id: d.overrideId,
    signal: r.signal,
    ...(r.subject !== undefined && { subject: r.subject }),
    value: r.value,
    setAt: r.observedAt,
    expiresAt: r.expiresAt,
    setBy: typeof d.setBy === 'string' ? d.setBy : r.source.split(':').slice(1).join(':'),
    reason: typeof d.reason === 'string' ? d.reason : '',
  };
}

// Values from configuration: a fixed-price energy contract, a negotiated GPU rate, a fallback
// GPU reference price. Always current; the hub still checks them against the bounds.
import {
  SIGNAL_UNITS,
  SUBJECT_SIGNALS,
  type SignalFetchContext,
  type SignalName,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';

export interface FixedValue {
  signal: SignalName;
  value: number;
  subject?: string;
}

export class FixedValueSource implements SignalSource {
  readonly name: string;
  readonly signals: readonly SignalName[];
  readonly #values: readonly FixedValue[];

  constructor(values: readonly FixedValue[], opts: { name?: string } = {}) {
    for (const v of values) {
      if (SUBJECT_SIGNALS.has(v.signal) !== (v.subject !== undefined))
        throw new Error(
          `fixed value for ${v.signal}: ${SUBJECT_SIGNALS.has(v.signal) ? 'needs' : 'takes no'} subject`,
        );
    }
    this.name = opts.name ?? 'fixed';
    this.#values = values.map((v) => ({ ...v }));
    this.signals = [...new Set(values.map((v) => v.signal))];
  }

  fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    return Promise.resolve(
      this.#values.map((v) => ({
        signal: v.signal,
        ...(v.subject !== undefined && { subject: v.subject }),
        value: v.value,
        unit: SIGNAL_UNITS[v.signal],
        source: this.name,
        observedAt: ctx.now,
        fetchedAt: ctx.now,
        detail: { configured: true },
      })),
    );
  }
}

// A price curve is a list of points, each value holding from its time until the next point.
// Used for pushed broker curves and tabular feeds: "the value for now" is the latest point at
// or before now, valid until the following point.

export interface CurvePoint {
  at: Date;
  value: number;
  /** Who supplied the point (pushed curves keep per-point provenance). */
  source?: string;
}

export interface CurveValue {
  point: CurvePoint;
  /** When the point stops holding: the next point's time, or its time plus the curve's step. */
  validUntil: Date;
  /** Up to `lookahead` later points, for consumers that plan ahead. */
  next: CurvePoint[];
}

/** Sorted by time, one point per instant (the last one given wins). */
export function normalizeCurve(points: readonly CurvePoint[]): CurvePoint[] {
  const byTime = new Map<number, CurvePoint>();
  for (const p of points) byTime.set(p.at.getTime(), p);
  return [...byTime.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** The usual spacing of a sorted curve (median gap), or undefined with fewer than 2 points. */
export function curveStepMs(sorted: readonly CurvePoint[]): number | undefined {
  if (sorted.length < 2) return undefined;
  const gaps: number[] = [];
  for (let i = 1; i < sorted.length; i++) gaps.push(sorted[i]!.at.getTime() - sorted[i - 1]!.at.getTime());
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}

/**
 * The point holding at `now` in a sorted curve, or undefined when the curve starts after now.
 * The last point holds for one step (the curve's spacing, else `defaultStepMs`).
 */
export function curveValueAt(
  sorted: readonly CurvePoint[],
  now: Date,
  defaultStepMs: number,
  lookahead = 0,
): CurveValue | undefined {
  const t = now.getTime();
  let i = -1;
  for (let k = 0; k < sorted.length && sorted[k]!.at.getTime() <= t; k++) i = k;
  if (i < 0) return undefined;
  const point = sorted[i]!;
  const following = sorted[i + 1];
  const step = curveStepMs(sorted) ?? defaultStepMs;
  const validUntil = following ? following.at : new Date(point.at.getTime() + step);
  return { point, validUntil, next: sorted.slice(i + 1, i + 1 + lookahead) };
}

import { describe, expect, test } from '@jest/globals';
import { curveStepMs, curveValueAt, normalizeCurve } from './price-curve.ts';

const t = (m: number) => new Date(Date.UTC(2026, 2, 18, 19, m));

describe('price curves', () => {
  const curve = normalizeCurve([
    { at: t(30), value: 3 },
    { at: t(0), value: 1 },
    { at: t(15), value: 2 },
    { at: t(15), value: 2.5 },
  ]);

  test('sorted, one point per instant (the last given wins)', () => {
    expect(curve.map((p) => p.value)).toEqual([1, 2.5, 3]);
    expect(curveStepMs(curve)).toBe(15 * 60_000);
  });

  test('the point holding now is valid until the next one; the last holds one step', () => {
    expect(curveValueAt(curve, t(20), 3_600_000)).toMatchObject({ point: { value: 2.5 }, validUntil: t(30) });
    expect(curveValueAt(curve, t(50), 3_600_000)).toMatchObject({ point: { value: 3 }, validUntil: t(45) });
    expect(curveValueAt(curve, t(0), 3_600_000, 5)!.next.map((p) => p.value)).toEqual([2.5, 3]);
  });

  test('nothing holds before the first point; a single point holds for the default step', () => {
    expect(curveValueAt(curve, t(-1), 3_600_000)).toBeUndefined();
    expect(curveValueAt([{ at: t(0), value: 9 }], t(10), 3_600_000)!.validUntil).toEqual(t(60));
  });
});

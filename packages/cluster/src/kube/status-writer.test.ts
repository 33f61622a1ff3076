// The pure parts of the status writer: metav1.Time formatting, the Ready condition's transition
// time, and the merge patch that replaces a whole status.
import { describe, expect, it } from '@jest/globals';
import type { Condition } from '@switchyard/domain';
import { rfc3339, statusPatch, withReady } from './status-writer.ts';

const T0 = '2026-03-01T12:00:00Z';
const T1 = Date.parse('2026-03-01T12:05:00.750Z');

describe('rfc3339', () => {
  it.each([
    [new Date('2026-03-01T12:00:00.999Z'), '2026-03-01T12:00:00Z'],
    [Date.parse('2026-03-01T12:00:01Z'), '2026-03-01T12:00:01Z'],
    ['2026-03-01T13:00:00+01:00', '2026-03-01T12:00:00Z'],
    ['not a time', 'not a time'],
  ])('%p → %s', (input, out) => {
    expect(rfc3339(input)).toBe(out);
  });
});

const ready = (status: Condition['status'], at = T0): Condition => ({
  type: 'Ready',
  status,
  observedGeneration: 1,
  lastTransitionTime: at,
  reason: 'Observed',
  message: '',
});
const other: Condition = {
  type: 'Audited',
  status: 'True',
  lastTransitionTime: '2026-01-01T00:00:00Z',
  reason: 'Checked',
  message: '',
};

describe('withReady', () => {
  it.each<[string, Condition[] | undefined, Condition['status'], string]>([
    ['no conditions yet: now', undefined, 'True', '2026-03-01T12:05:00Z'],
    ['same status: kept', [ready('True')], 'True', T0],
    ['status changed: now', [ready('True')], 'False', '2026-03-01T12:05:00Z'],
    ['Unknown to True: now', [ready('Unknown')], 'True', '2026-03-01T12:05:00Z'],
  ])('lastTransitionTime, %s', (_, prev, status, at) => {
    const [c] = withReady(prev, { status, reason: 'Observed' }, 2, T1);
    expect(c).toEqual({
      type: 'Ready',
      status,
      observedGeneration: 2,
      lastTransitionTime: at,
      reason: 'Observed',
      message: '',
    });
  });

  it('replaces Ready in place and keeps the other conditions', () => {
    const out = withReady([ready('True'), other], { status: 'False', reason: 'Gone', message: 'm' }, 3, T1);
    expect(out.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'Gone'],
      ['Audited', 'True', 'Checked'],
    ]);
    expect(withReady([other], { reason: 'Observed' }, 1, T1).map((c) => c.type)).toEqual([
      'Audited',
      'Ready',
    ]);
  });
});

describe('statusPatch', () => {
  it('sends the whole status, and null for fields it no longer has', () => {
    expect(statusPatch({ a: 1, powerKw: 3, conditions: [] }, { a: 2, conditions: [] })).toEqual({
      status: { a: 2, conditions: [], powerKw: null },
    });
    expect(statusPatch(undefined, { a: 1 })).toEqual({ status: { a: 1 } });
  });
});

import { describe, expect, test } from '@jest/globals';
import { ercotDayAheadInterval, ercotRealTimeInterval } from './sources/ercot-source.ts';
import { addDays, zoneOffsetMinutes, zonedDate, zonedWallTimeToInstant } from './zoned-time.ts';

const CHI = 'America/Chicago';

describe('wall times in Central Prevailing Time', () => {
  test('offsets in winter and summer', () => {
    expect(zoneOffsetMinutes(Date.parse('2026-01-15T12:00:00Z'), CHI)).toBe(-360);
    expect(zoneOffsetMinutes(Date.parse('2026-07-15T12:00:00Z'), CHI)).toBe(-300);
  });

  test.each([
    ['an ordinary summer time', '2026-07-15', 14 * 60, false, '2026-07-15T19:00:00.000Z'],
    ['midnight in winter', '2026-01-15', 0, false, '2026-01-15T06:00:00.000Z'],
    ['the first 01:30 when DST ends', '2026-11-01', 90, false, '2026-11-01T06:30:00.000Z'],
    ['the repeated 01:30 when DST ends', '2026-11-01', 90, true, '2026-11-01T07:30:00.000Z'],
    [
      'a time in the spring gap (read with the old offset)',
      '2026-03-08',
      150,
      false,
      '2026-03-08T08:30:00.000Z',
    ],
    ['just after the spring gap', '2026-03-08', 180, false, '2026-03-08T08:00:00.000Z'],
  ])('%s', (_name, date, minutes, later, iso) =>
    expect(zonedWallTimeToInstant(date, minutes, CHI, later).toISOString()).toBe(iso),
  );

  test('local dates and date arithmetic', () => {
    expect(zonedDate(new Date('2026-03-19T04:30:00Z'), CHI)).toBe('2026-03-18');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(() => zonedWallTimeToInstant('18/03/2026', 0, CHI)).toThrow(/bad date/);
  });
});

describe('ERCOT intervals', () => {
  const rt = (deliveryDate: string, deliveryHour: number, deliveryInterval: number, DSTFlag = false) =>
    ercotRealTimeInterval({
      deliveryDate,
      deliveryHour,
      deliveryInterval,
      DSTFlag,
      settlementPoint: 'HB_WEST',
      settlementPointPrice: 1,
    });

  test('hour ending 14, interval 4 is 13:45–14:00 local', () => {
    const { start, end } = rt('2026-03-18', 14, 4);
    expect([start.toISOString(), end.toISOString()]).toEqual([
      '2026-03-18T18:45:00.000Z',
      '2026-03-18T19:00:00.000Z',
    ]);
  });

  test('hour ending 24, interval 4 ends at the next local midnight', () => {
    expect(rt('2026-01-15', 24, 4).end.toISOString()).toBe('2026-01-16T06:00:00.000Z');
  });

  test('the repeated hour ending 02 when DST ends: DSTFlag picks the second one', () => {
    expect(rt('2026-11-01', 2, 1, false).start.toISOString()).toBe('2026-11-01T06:00:00.000Z');
    expect(rt('2026-11-01', 2, 1, true).start.toISOString()).toBe('2026-11-01T07:00:00.000Z');
  });

  test('day-ahead hour ending 15:00 is 14:00–15:00 local', () => {
    const { start, end } = ercotDayAheadInterval({
      deliveryDate: '2026-03-18',
      hourEnding: '15:00',
      DSTFlag: false,
      settlementPoint: 'HB_WEST',
      settlementPointPrice: 1,
    });
    expect([start.toISOString(), end.toISOString()]).toEqual([
      '2026-03-18T19:00:00.000Z',
      '2026-03-18T20:00:00.000Z',
    ]);
  });
});

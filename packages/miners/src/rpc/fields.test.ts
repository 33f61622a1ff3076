import { describe, expect, test } from '@jest/globals';
import {
  bool,
  canonicalKey,
  chainRateThs,
  field,
  hashrate5sThs,
  hashrateAvgThs,
  indexedKeys,
  maxTemperature,
  num,
  numberList,
  parseStatus,
  sectionEntries,
  statusOk,
  temperature,
  toThs,
} from './fields.ts';

describe('field: spellings and typos', () => {
  test('exact names first, then canonical matches', () => {
    const o = { 'GHS 5s': '1', GHS_5s: '2' };
    expect(field(o, 'GHS 5s')).toBe('1');
    expect(field({ GHS_5s: 2 }, 'GHS 5s')).toBe(2);
    expect(field({ ghs5s: 3 }, 'GHS 5s')).toBe(3);
  });

  test('stock devs "Tenperature" reads as Temperature', () => {
    expect(field({ Tenperature: 65 }, 'Temperature')).toBe(65);
    expect(canonicalKey('Tenperature')).toBe('temperature');
  });

  test('"Pool Stale%%" reads as "Pool Stale%"', () => {
    expect(field({ 'Pool Stale%%': 0.5 }, 'Pool Stale%')).toBe(0.5);
  });

  test('only own properties, never the prototype', () => {
    expect(field({}, 'constructor')).toBeUndefined();
    expect(field({}, '__proto__')).toBeUndefined();
    expect(field(null, 'a')).toBeUndefined();
    expect(field([1], '0')).toBeUndefined();
  });
});

describe('numbers', () => {
  test('numbers and numeric strings', () => {
    expect(num(1234.5)).toBe(1234.5);
    expect(num('1234.5')).toBe(1234.5);
    expect(num(' 12 ')).toBe(12);
    expect(num('1e3')).toBe(1000);
  });

  test.each([
    ['abc'],
    ['0x10'],
    ['Infinity'],
    [''],
    [null],
    [undefined],
    [Number.NaN],
    [Infinity],
    [{}],
    ['1'.repeat(50)],
  ])('rejects %p', (v) => {
    expect(num(v)).toBeNull();
  });

  test('bool accepts the firmware forms', () => {
    expect([bool(true), bool('Y'), bool('true'), bool(1)]).toEqual([true, true, true, true]);
    expect([bool(false), bool('N'), bool('false'), bool(0)]).toEqual([false, false, false, false]);
    expect(bool('maybe')).toBeNull();
  });

  test('numberList splits "a-b-c-d" sensor strings', () => {
    expect(numberList('52-52-68-68')).toEqual([52, 52, 68, 68]);
    expect(numberList('52 53,54')).toEqual([52, 53, 54]);
    expect(numberList([1, '2', 'x'])).toEqual([1, 2]);
    expect(numberList('')).toEqual([]);
  });

  test('temperatures: absent sensors (0, -64) and absurd values are null', () => {
    expect(temperature(65)).toBe(65);
    expect(temperature(0)).toBeNull();
    expect(temperature(-64)).toBeNull();
    expect(temperature(400)).toBeNull();
    expect(maxTemperature('52-0-68-67')).toBe(68);
    expect(maxTemperature('0-0-0-0')).toBeNull();
  });
});

describe('hashrate units', () => {
  test('toThs', () => {
    expect(toThs(110000, 'GH')).toBeCloseTo(110);
    expect(toThs(110000000, 'MH/s')).toBeCloseTo(110);
    expect(toThs(110, 'THS')).toBe(110);
    expect(toThs(0.11, 'PH')).toBeCloseTo(110);
    expect(toThs(1, 'furlongs')).toBeNull();
  });

  test('"GHS 5s" as string, GHS_5s, MHS 5s and THS 5s', () => {
    expect(hashrate5sThs({ 'GHS 5s': '110123.45' })).toBeCloseTo(110.12345);
    expect(hashrate5sThs({ GHS_5s: 95000 })).toBeCloseTo(95);
    expect(hashrate5sThs({ 'MHS 5s': 104000000 })).toBeCloseTo(104);
    expect(hashrate5sThs({ 'THS 5s': 200.1 })).toBeCloseTo(200.1);
    expect(hashrateAvgThs({ 'GHS av': 109876.5 })).toBeCloseTo(109.8765);
    expect(hashrateAvgThs({ 'MHS av': '1000000' })).toBeCloseTo(1);
  });

  test('implausible or missing hashrates are null', () => {
    expect(hashrate5sThs({ 'GHS 5s': 1e12 })).toBeNull();
    expect(hashrate5sThs({ 'GHS 5s': -5 })).toBeNull();
    expect(hashrate5sThs({ 'GHS 5s': null })).toBeNull();
    expect(hashrate5sThs({})).toBeNull();
  });

  test('chain_rate<n> in rate_unit, default GH', () => {
    const stats = { chain_rate1: '36700.10', chain_rate2: 36000, rate_unit: 'GH' };
    expect(chainRateThs(stats, 1)).toBeCloseTo(36.7001);
    expect(chainRateThs({ chain_rate1: 36.7, rate_unit: 'TH' }, 1)).toBeCloseTo(36.7);
    expect(chainRateThs({ chain_rate1: '36700' }, 1)).toBeCloseTo(36.7);
    expect(chainRateThs({}, 1)).toBeNull();
  });

  test('indexedKeys finds chain_rate1..n, ignores look-alikes', () => {
    expect(
      indexedKeys({ chain_rate1: 1, chain_rate3: 1, chain_rateideal1: 1, chain_rate: 1 }, ['chain_rate']),
    ).toEqual([1, 3]);
    expect(indexedKeys({ fan1: 1, fan_num: 4, fan12: 2 }, ['fan'])).toEqual([1, 12]);
  });
});

describe('STATUS', () => {
  test('list form', () => {
    const s = parseStatus({
      STATUS: [{ STATUS: 'S', When: 1700000000, Code: 11, Msg: 'Summary', Description: 'cgminer 4.11.1' }],
    });
    expect(s).toEqual({
      status: 'S',
      code: 11,
      msg: 'Summary',
      description: 'cgminer 4.11.1',
      when: 1700000000,
    });
    expect(statusOk(s)).toBe(true);
  });

  test('error reply: the STATUS section alone with "E"', () => {
    const s = parseStatus({
      STATUS: [{ STATUS: 'E', When: 1, Code: 14, Msg: 'Invalid command', Description: '' }],
      id: 1,
    });
    expect(s?.status).toBe('E');
    expect(s?.code).toBe(14);
    expect(statusOk(s)).toBe(false);
  });

  test("Whatsminer's string form", () => {
    const s = parseStatus({
      STATUS: 'S',
      When: 1700000000,
      Code: 131,
      Msg: 'API command OK',
      Description: '',
    });
    expect(s).toMatchObject({ status: 'S', code: 131, msg: 'API command OK', description: null });
    const st = parseStatus({ STATUS: 'S', Code: 131, Msg: { salt: 'BQ5hoXV9', time: '3567' } });
    expect(st?.msg).toBe('{"salt":"BQ5hoXV9","time":"3567"}');
  });

  test('codes as strings; no STATUS → null', () => {
    expect(parseStatus({ STATUS: [{ STATUS: 'W', Code: '7' }] })?.code).toBe(7);
    expect(parseStatus({})).toBeNull();
    expect(parseStatus({ STATUS: [] })).toBeNull();
    expect(parseStatus('S')).toBeNull();
  });

  test('sectionEntries keeps objects only', () => {
    expect(sectionEntries({ POOLS: [{ a: 1 }, 'x', null, [1], { b: 2 }] }, 'POOLS')).toEqual([
      { a: 1 },
      { b: 2 },
    ]);
    expect(sectionEntries({ POOLS: 'x' }, 'POOLS')).toEqual([]);
  });
});

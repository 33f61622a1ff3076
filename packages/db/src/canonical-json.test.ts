import { describe, expect, test } from '@jest/globals';
import { canonicalHash, canonicalJson } from './canonical-json.ts';

describe('canonicalJson', () => {
  test('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, 2], c: null } })).toBe('{"a":{"c":null,"d":[3,1,2]},"b":1}');
    expect(canonicalJson({ a: { c: null, d: [3, 1, 2] }, b: 1 })).toBe(
      canonicalJson({ b: 1, a: { d: [3, 1, 2], c: null } }),
    );
  });

  test('sorts keys by UTF-16 code units, not locale', () => {
    expect(canonicalJson({ b: 0, B: 0, a: 0, é: 0, '10': 0, '9': 0 })).toBe(
      '{"10":0,"9":0,"B":0,"a":0,"b":0,"é":0}',
    );
  });

  test('writes scalars as JSON does, without whitespace', () => {
    expect(canonicalJson('a "q"\n')).toBe(JSON.stringify('a "q"\n'));
    expect(canonicalJson([true, false, null, 1.5, -0, 1e21, 0.1])).toBe('[true,false,null,1.5,0,1e+21,0.1]');
    expect(canonicalJson(new Date('2026-01-02T03:04:05.000Z'))).toBe('"2026-01-02T03:04:05.000Z"');
  });

  test('leaves out undefined members, as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
    expect(canonicalJson({ a: undefined, b: 2 })).toBe(canonicalJson({ b: 2 }));
  });

  test('rejects what JSON cannot represent', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(/NaN/);
    expect(() => canonicalJson({ a: [1, Infinity] })).toThrow(/\$\.a\[1\] is Infinity/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson([undefined])).toThrow(/undefined/);
    expect(() => canonicalJson(() => 1)).toThrow(/function/);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => canonicalJson(loop)).toThrow(/circular/);
  });

  test('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  test('round-trips through JSON.parse to an equal value', () => {
    const value = { z: [1, { y: 'two', x: [null, true] }], a: { nested: { deep: 3.25 } } };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });
});

describe('canonicalHash', () => {
  test('is the hex sha256 of the canonical text and ignores key order', () => {
    expect(canonicalHash({})).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(canonicalHash({ a: 1, b: 2 })).toBe(canonicalHash({ b: 2, a: 1 }));
    expect(canonicalHash({ a: 1 })).not.toBe(canonicalHash({ a: 2 }));
  });
});

import { describe, expect, test } from '@jest/globals';
import { getJsonPath, parseJsonPath } from './json-path.ts';

describe('JSON paths', () => {
  const doc = { data: { rows: [{ p: 1 }, { p: 2 }] }, list: [[10, 20]] };

  test.each<[string, unknown]>([
    ['', doc],
    ['data.rows', doc.data.rows],
    ['data.rows[1].p', 2],
    ['list[0][1]', 20],
    ['data.missing', undefined],
    ['data.rows.p', undefined],
    ['list[3]', undefined],
  ])('%j', (path, value) => expect(getJsonPath(doc, path)).toEqual(value));

  test('never follows inherited properties', () => {
    expect(getJsonPath({}, '__proto__')).toBeUndefined();
    expect(getJsonPath({}, 'constructor.name')).toBeUndefined();
  });

  test('malformed segments are refused', () => {
    expect(parseJsonPath('a.b[2]')).toEqual(['a', 'b', 2]);
    expect(() => parseJsonPath('a[0]b')).toThrow(/bad JSON path segment/);
    expect(() => parseJsonPath('a[x]')).toThrow(/bad JSON path segment/);
  });
});

import { describe, expect, test } from '@jest/globals';
import { CsvError, parseCsv, parseCsvRecords } from './csv.ts';

describe('parseCsv', () => {
  test.each<[string, string, string[][]]>([
    [
      'plain rows',
      'a,b\n1,2\n',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'CRLF and no final newline',
      'a,b\r\n1,2',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'a byte-order mark',
      '\uFEFFa,b\n1,2',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'quoted delimiters, quotes and line breaks',
      'a,b\n"x, y","say ""hi""\nthere"\n',
      [
        ['a', 'b'],
        ['x, y', 'say "hi"\nthere'],
      ],
    ],
    [
      'empty fields, quoted or not',
      'a,b,c\n,"",x\n',
      [
        ['a', 'b', 'c'],
        ['', '', 'x'],
      ],
    ],
    ['blank lines skipped', 'a\n\n1\r\n\r\n2\n', [['a'], ['1'], ['2']]],
    ['a lone quoted empty field is a row', 'a\n""\n', [['a'], ['']]],
    ['quotes inside an unquoted field kept', 'a\nx"y\n', [['a'], ['x"y']]],
  ])('%s', (_name, text, rows) => expect(parseCsv(text)).toEqual(rows));

  test('another delimiter', () => {
    expect(parseCsv('time;price\n2026-03-18T19:00Z;"45,3"\n', { delimiter: ';' })).toEqual([
      ['time', 'price'],
      ['2026-03-18T19:00Z', '45,3'],
    ]);
  });

  test('an unterminated quote names the line it started on', () => {
    expect(() => parseCsv('a\n1\n"oops\n2\n')).toThrow(new CsvError('unterminated quoted field', 3));
  });

  test('text after a closing quote is an error', () => {
    expect(() => parseCsv('a\n"x"y\n')).toThrow(/text after a closing quote/);
  });

  test('a delimiter that is a quote or line break is refused', () => {
    expect(() => parseCsv('a', { delimiter: '"' })).toThrow(/delimiter/);
  });
});

describe('parseCsvRecords', () => {
  test('keys by trimmed header names', () => {
    expect(parseCsvRecords(' time , price \n2026-03-18T19:00:00Z,45.3\n')).toEqual([
      { time: '2026-03-18T19:00:00Z', price: '45.3' },
    ]);
  });

  test('a row with the wrong number of fields is an error', () => {
    expect(() => parseCsvRecords('time,price\n2026-03-18T19:00:00Z\n')).toThrow(
      /record 1 has 1 fields where the header has 2/,
    );
  });

  test('an empty file has no records', () => {
    expect(parseCsvRecords('')).toEqual([]);
  });
});

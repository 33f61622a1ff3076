import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { MinerError } from '../driver.ts';
import { parseLenientJson, repairJson } from './lenient-json.ts';

function malformed(text: string): MinerError {
  try {
    parseLenientJson(text, { host: '10.0.0.9' });
  } catch (err) {
    expect(err).toBeInstanceOf(MinerError);
    return err as MinerError;
  }
  throw new Error(`expected ${JSON.stringify(text.slice(0, 40))} to be rejected`);
}

describe('parseLenientJson: the broken forms real firmware sends', () => {
  test('strict JSON passes through unchanged', () => {
    const reply = {
      STATUS: [{ STATUS: 'S', Code: 11 }],
      SUMMARY: [{ 'GHS 5s': '110.5', Elapsed: 7 }],
      id: 1,
    };
    expect(parseLenientJson(JSON.stringify(reply))).toEqual(reply);
  });

  test('bmminer `}{`: adjacent objects without a comma', () => {
    const text =
      '{"STATUS":[{"STATUS":"S","When":1700000000,"Code":70,"Msg":"BMMiner stats","Description":"bmminer 1.0.0"}],' +
      '"STATS":[{"BMMiner":"1.0.0","Miner":"uart_trans.1.3","CompileTime":"Thu Feb 10 17:22:32 CST 2022","Type":"Antminer S19 Pro"}' +
      '{"STATS":0,"ID":"BC50","Elapsed":3600,"GHS 5s":"110123.45","chain_rate1":"36700.10","temp_chip1":"52-52-68-68"}],"id":1}';
    const v = parseLenientJson(text) as { STATS: Array<Record<string, unknown>> };
    expect(v.STATS).toHaveLength(2);
    expect(v.STATS[1]?.chain_rate1).toBe('36700.10');
  });

  test('bmminer `[,{`: a comma before the first element', () => {
    expect(parseLenientJson('{"POOLS":[,{"URL":"a"},{"URL":"b"}],"id":1}')).toEqual({
      POOLS: [{ URL: 'a' }, { URL: 'b' }],
      id: 1,
    });
  });

  test('btminer trailing `,}` and `,]`', () => {
    expect(parseLenientJson('{"a":[1,2,],"b":{"c":1,},}')).toEqual({ a: [1, 2], b: { c: 1 } });
  });

  test('doubled and stray commas are dropped', () => {
    expect(parseLenientJson('{"a":[1,,2],,"b":3}')).toEqual({ a: [1, 2], b: 3 });
  });

  test('btminer raw newlines and control characters inside strings', () => {
    const text = '{"STATUS":"S","Msg":"line one\nline two\r\tend\u0001","Code":131}';
    expect(parseLenientJson(text)).toEqual({
      STATUS: 'S',
      Msg: 'line one\nline two\r\tend\u0001',
      Code: 131,
    });
  });

  test('Avalon bare inf, -inf, nan become null', () => {
    expect(parseLenientJson('{"MHS 5s":inf,"MHS av":-inf,"Temp":nan,"x":-nan,"y":Infinity,"z":NaN}')).toEqual(
      {
        'MHS 5s': null,
        'MHS av': null,
        Temp: null,
        x: null,
        y: null,
        z: null,
      },
    );
  });

  test('"Pool Stale%%" keys survive parsing (field() reads them as "Pool Stale%")', () => {
    expect(parseLenientJson('{"Pool Stale%%":0.0}')).toEqual({ 'Pool Stale%%': 0 });
  });

  test('a trailing NUL and garbage after the reply are ignored', () => {
    expect(parseLenientJson('{"id":1}\u0000\u0000garbage{"x":')).toEqual({ id: 1 });
    expect(parseLenientJson('{"id":1}   }}]] trailing')).toEqual({ id: 1 });
  });

  test('leading whitespace, byte-order mark and NULs are skipped', () => {
    expect(parseLenientJson('\ufeff \r\n\u0000{"id":1}')).toEqual({ id: 1 });
  });

  test('a lone backslash in a string is kept literally', () => {
    // \q and \x are not JSON escapes (\t would be a tab).
    expect(parseLenientJson('{"path":"C:\\qemu\\x"}')).toEqual({ path: 'C:\\qemu\\x' });
  });

  test('lenient numbers: leading plus, trailing dot, leading dot', () => {
    expect(parseLenientJson('[+1,2.,.5,1e3,-0.25]')).toEqual([1, 2, 0.5, 1000, -0.25]);
  });

  test('True/False/NULL in any case', () => {
    expect(parseLenientJson('[True,FALSE,Null]')).toEqual([true, false, null]);
  });
});

describe('parseLenientJson: validates strictly after repair', () => {
  test.each([
    ['truncated object', '{"STATUS":[{"STATUS":"S"'],
    ['truncated string', '{"Msg":"abc'],
    ['empty', ''],
    ['only NUL', '\u0000'],
    ['plain text', 'Invalid command'],
    ['HTML', '<html><body>401</body></html>'],
    ['unknown bare word', '{"a":undefined}'],
    ['hex number', '{"a":0x10}'],
    ['mismatched brackets', '{"a":[1,2}'],
    ['single quotes', "{'a':1}"],
    ['missing colon', '{"a" 1}'],
    ['stray colon', '[1:2]'],
  ])('%s → MinerError malformed', (_name, text) => {
    const err = malformed(text);
    expect(err.code).toBe('malformed');
    expect(err.host).toBe('10.0.0.9');
  });

  test('nesting deeper than the limit is rejected', () => {
    expect(malformed(`${'['.repeat(65)}${']'.repeat(65)}`).code).toBe('malformed');
    expect(parseLenientJson(`${'['.repeat(64)}${']'.repeat(64)}`)).toBeDefined();
  });

  test('text longer than maxLength is rejected without being scanned', () => {
    expect(() => parseLenientJson(`{"a":"${'x'.repeat(200)}"}`, { maxLength: 100 })).toThrow(MinerError);
  });

  test('repairJson output is strict JSON', () => {
    const repaired = repairJson('{"a":[,{"b":1}{"c":inf},],"d":"x\ny",}');
    expect(repaired).toBe('{"a":[{"b":1},{"c":null}],"d":"x\\ny"}');
    expect(() => JSON.parse(repaired)).not.toThrow();
  });
});

describe('parseLenientJson: properties', () => {
  const check = (text: string) => {
    try {
      parseLenientJson(text);
    } catch (err) {
      if (!(err instanceof MinerError) || err.code !== 'malformed') throw err;
    }
  };

  test('never throws anything but MinerError("malformed") on random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => check(s)),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'{}[],:"\\ntrueinfa01.-+e \u0000'.split('')), maxLength: 300 }),
        (s) => check(s),
      ),
      { numRuns: 3000 },
    );
  });

  test('never throws anything but MinerError on mutated valid replies', () => {
    const mutate = fc.tuple(
      fc.json({ maxDepth: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.string({ minLength: 1, maxLength: 1 })), { maxLength: 8 }),
    );
    fc.assert(
      fc.property(mutate, ([json, edits]) => {
        let s = json;
        for (const [pos, kind, ch] of edits) {
          const at = s.length === 0 ? 0 : pos % s.length;
          if (kind === 0)
            s = s.slice(0, at) + s.slice(at + 1); // delete
          else if (kind === 1)
            s = s.slice(0, at) + ch + s.slice(at); // insert
          else if (kind === 2)
            s = s.slice(0, at); // truncate
          else s = s.slice(0, at) + '\u0000' + s.slice(at); // NUL
        }
        check(s);
      }),
      { numRuns: 3000 },
    );
  });

  test('valid JSON parses to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
        expect(parseLenientJson(JSON.stringify(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 1000 },
    );
  });

  test('bounded work: pathological 1 MiB inputs finish quickly', () => {
    const mib = 1024 * 1024;
    const inputs = [
      '['.repeat(mib),
      `{"a":"${'\\'.repeat(mib)}`,
      '1'.repeat(mib),
      `[${'1,'.repeat(mib / 2)}]`,
      `[${'{}'.repeat(mib / 2)}]`,
      `{"a":"${'x'.repeat(mib)}"}`,
      ','.repeat(mib),
      `[${'"\u0001",'.repeat(mib / 4)}]`,
    ];
    for (const text of inputs) {
      const t0 = performance.now();
      check(text);
      // Quadratic work on 1 MiB would take minutes; linear work takes milliseconds.
      expect(performance.now() - t0).toBeLessThan(5000);
    }
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toCompactJson } from '../../lib/format/json-text.ts';

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe('toCompactJson', () => {
  it('removes whitespace outside strings only', () => {
    expect(toCompactJson(' {\n\t"a b" : [ 1 , "x  y\\n" , { } , [ ] , true , false , null ]\r\n} ')).toBe(
      '{"a b":[1,"x  y\\n",{},[],true,false,null]}',
    );
    expect(toCompactJson('  42  ')).toBe('42');
    expect(toCompactJson('[1 ,2]')).toBe('[1,2]');
  });

  it('returns the input itself when there is nothing to remove', () => {
    const text = '{"a":[1,2,{"b":"c d"}]}';
    expect(toCompactJson(text)).toBe(text);
    expect(toCompactJson('"just a string"')).toBe('"just a string"');
  });

  it('keeps numbers lexeme for lexeme', () => {
    for (const n of [
      '12345678901234567890.000000001',
      '-0',
      '0.10',
      '1E+400',
      '1e-400',
      '-123456789012345678901234567890',
      '2.50e3',
      '0e0',
    ]) {
      expect(toCompactJson(n)).toBe(n);
      expect(toCompactJson(`[ ${n} ]`)).toBe(`[${n}]`);
    }
    expect(toCompactJson('{"amount": 12345678901234567890.000000001}')).toBe('{"amount":12345678901234567890.000000001}');
  });

  it('keeps strings verbatim, escapes as written', () => {
    const text = '["\\u00e9\\/\\"\\\\\\b\\f\\n\\r\\t", "é😀", "\\uD83D\\uDE00", "\\ud800"]';
    expect(toCompactJson(text)).toBe(text.replace(/", "/g, '","'));
  });

  it('handles any depth without recursion (100k nesting)', () => {
    const depth = 100_000;
    expect(toCompactJson('['.repeat(depth) + ']'.repeat(depth))).toBe('['.repeat(depth) + ']'.repeat(depth));
    const objects = '{"a": '.repeat(depth) + '1' + ' }'.repeat(depth);
    expect(toCompactJson(objects)).toBe('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
    expect(toCompactJson('['.repeat(depth) + ']'.repeat(depth - 1))).toBeUndefined();
  });

  it('rejects text that is not exactly one JSON value', () => {
    const invalid = [
      '',
      ' ',
      '1 2',
      '{} {}',
      '[1,]',
      '[,1]',
      '{"a":1,}',
      '{"a"}',
      '{"a" 1}',
      '{1:2}',
      "{'a':1}",
      '[1 2]',
      '{"a":1 "b":2}',
      '01',
      '-',
      '+1',
      '1.',
      '.5',
      '1e',
      '1e+',
      '-01',
      '0x10',
      'NaN',
      'Infinity',
      '-Infinity',
      'tru',
      'nul',
      'True',
      'undefined',
      '"abc',
      '"a\nb"',
      '"a\u0000b"',
      '"\\x41"',
      '"\\u12G4"',
      '"\\u123"',
      '"\\"',
      "'a'",
      '\ufeff{}',
      '\u00a0{}',
      '\f{}',
      '{}\u2028',
      '[',
      ']',
      '{',
      '}',
      '[[]',
      '[]]',
      '{"a":}',
      '{:1}',
      '{"a":1}}',
      '"\\',
      '[1,2',
      'nulll',
      'truee',
      '1.0.0',
      '--1',
    ];
    for (const text of invalid) {
      expect(parses(text), JSON.stringify(text)).toBe(false);
      expect(toCompactJson(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('property: compacting JSON.stringify(v, null, 2) gives JSON.stringify(v)', () => {
    fc.assert(
      fc.property(fc.json(), fc.constantFrom(0, 1, 2, '\t', ' \r\n '), (json, indent) => {
        const v: unknown = JSON.parse(json);
        expect(toCompactJson(` ${JSON.stringify(v, null, indent)}\n`)).toBe(JSON.stringify(v));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: random whitespace between tokens is removed, nothing else', () => {
    const ws = fc.stringMatching(/^[ \t\r\n]{0,3}$/);
    fc.assert(
      fc.property(fc.json(), fc.infiniteStream(ws), (json, spaces) => {
        // Tokenise the compact text (strings, numbers and literals whole) and pad each token.
        const compact = JSON.stringify(JSON.parse(json));
        const tokens = compact.match(/"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null|[{}[\],:]/g) ?? [];
        expect(tokens.join('')).toBe(compact);
        const padded = tokens.map((t) => spaces.next().value + t).join('') + spaces.next().value;
        expect(parses(padded)).toBe(true);
        expect(toCompactJson(padded)).toBe(compact);
      }),
      { numRuns: 500 },
    );
  });

  it('fuzz: undefined exactly when JSON.parse throws (random strings)', () => {
    const alphabet = fc.constantFrom(...'{}[],:"\\ \n\t01-+.eEtrufalsn9u\u0000\u001fA\u00e9\u2028'.split(''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 30 }),
          fc.array(alphabet, { maxLength: 30 }).map((a) => a.join('')),
        ),
        (text) => {
          const result = toCompactJson(text);
          expect(result === undefined).toBe(!parses(text));
          if (result !== undefined) expect(JSON.parse(result)).toEqual(JSON.parse(text));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('fuzz: undefined exactly when JSON.parse throws (mutations of valid JSON)', () => {
    const alphabet = fc.constantFrom(...'{}[],:"\\ \n\t0123456789-+.eEtrufalsn\u0000\u001f\ud800xyz'.split(''));
    const edit = fc.tuple(fc.nat(), alphabet, fc.constantFrom('insert', 'replace', 'delete'));
    fc.assert(
      fc.property(fc.json(), fc.constantFrom(0, 2), fc.array(edit, { minLength: 1, maxLength: 3 }), (json, indent, edits) => {
        let text = JSON.stringify(JSON.parse(json), null, indent);
        for (const [at, ch, how] of edits) {
          const i = at % (text.length + 1);
          if (how === 'insert') text = text.slice(0, i) + ch + text.slice(i);
          else if (how === 'replace') text = text.slice(0, i) + ch + text.slice(i + 1);
          else text = text.slice(0, i) + text.slice(i + 1);
        }
        const result = toCompactJson(text);
        expect(result === undefined, JSON.stringify(text)).toBe(!parses(text));
        if (result !== undefined) {
          expect(JSON.parse(result)).toEqual(JSON.parse(text));
          expect(result).not.toMatch(/^[ \t\r\n]|[ \t\r\n]$/);
        }
      }),
      { numRuns: 20_000 },
    );
  });
});

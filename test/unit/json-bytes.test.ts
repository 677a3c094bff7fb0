import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactJsonInto } from '../../lib/format/json-bytes.ts';
import { forceFallbackForTests } from '../../lib/format/json-validator.ts';
import { toCompactJson } from '../../lib/format/json-text.ts';

/** The byte version's answer for a text, as a string (undefined when invalid), through a dirty buffer at an offset. */
function compact(text: string, at = 3): string | undefined {
  const src = Buffer.from(text, 'utf8');
  const dst = Buffer.alloc(src.length + at + 8, 0xaa);
  const end = compactJsonInto(src, dst, at);
  if (end < 0) return undefined;
  expect(dst.subarray(0, at).every((b) => b === 0xaa)).toBe(true); // nothing written before `at`
  return dst.toString('utf8', at, end);
}

/**
 * Asserts that the byte version agrees with toCompactJson (the string version, itself fuzzed
 * against JSON.parse) on the text the UTF-8 bytes stand for (a lone surrogate becomes U+FFFD).
 */
function agrees(text: string): void {
  const decoded = Buffer.from(text, 'utf8').toString('utf8');
  expect(compact(text), JSON.stringify(text)).toBe(toCompactJson(decoded));
}

// Twice: as it runs (the WebAssembly side validates compact input and compacts input with
// whitespace, the JS minifier takes only nesting deeper than 1024), and with the JS minifier
// alone (as without WebAssembly), so both stay checked against the oracle.
describe.each(['with the WebAssembly fast path', 'JS minifier only'])(
  'compactJsonInto (bytes) agrees with toCompactJson (text), %s',
  (mode) => {
    beforeAll(() => forceFallbackForTests(mode === 'JS minifier only'));
    afterAll(() => forceFallbackForTests(false));

    it('examples: whitespace, numbers, strings, literals, invalid texts', () => {
      const texts = [
        ' {\n\t"a b" : [ 1 , "x  y\\n" , { } , [ ] , true , false , null ]\r\n} ',
        '  42  ',
        '[1 ,2]',
        '{"a":[1,2,{"b":"c d"}]}',
        '"just a string"',
        '12345678901234567890.000000001',
        '-0',
        '0.10',
        '1E+400',
        '1e-400',
        '2.50e3',
        '0e0',
        '{"amount": 12345678901234567890.000000001}',
        '["\\u00e9\\/\\"\\\\\\b\\f\\n\\r\\t", "é😀", "\\uD83D\\uDE00", "\\ud800"]',
        '{"é": "ü", "😀" : [ "日本" ] }',
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
        'f',
        'fals',
        't',
        'n',
        '"\\u',
        '"\\u0',
        '"\\u00',
        '"\\u000',
        '"\\u0000',
        '"\\u0000"',
        '1e5 ',
        ' [ ] ',
        '{ }',
        '[ 1 ]',
        '{"a" : 1 , "b" : [ ] }',
      ];
      for (const text of texts) agrees(text);
    });

    it('any depth (100k nesting), no recursion', () => {
      const depth = 100_000;
      agrees('['.repeat(depth) + ']'.repeat(depth));
      agrees('{"a": '.repeat(depth) + '1' + ' }'.repeat(depth));
      agrees('['.repeat(depth) + ']'.repeat(depth - 1));
      agrees('[ '.repeat(depth) + ' ]'.repeat(depth));
    });

    it('copies compact input as is, long runs and short', () => {
      const long = JSON.stringify({ s: 'x'.repeat(5000), a: Array.from({ length: 300 }, (_, i) => i) });
      agrees(long);
      agrees(JSON.stringify(JSON.parse(long), null, 2));
    });

    it('property: pretty-printed JSON of any value and indent', () => {
      fc.assert(
        fc.property(fc.json(), fc.constantFrom(0, 1, 2, '\t', ' \r\n '), (json, indent) =>
          agrees(` ${JSON.stringify(JSON.parse(json), null, indent)}\n`),
        ),
        { numRuns: 2000 },
      );
    });

    it('fuzz: random strings over the grammar alphabet, and any strings', () => {
      const alphabet = fc.constantFrom(...'{}[],:"\\ \n\t\r01-+.eEtrufalsn9u\u0000\u001fA\u00e9\u2028😀'.split(''));
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ maxLength: 30 }),
            fc.array(alphabet, { maxLength: 30 }).map((a) => a.join('')),
          ),
          (text) => agrees(text),
        ),
        { numRuns: 20_000 },
      );
    });

    it('fuzz: mutations of valid JSON', () => {
      const alphabet = fc.constantFrom(...'{}[],:"\\ \n\t0123456789-+.eEtrufalsn\u0000\u001fxyzé'.split(''));
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
          agrees(text);
        }),
        { numRuns: 20_000 },
      );
    });
  },
);

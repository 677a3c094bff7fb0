/** The WebAssembly side's compaction (whitespace outside strings) agrees with the JS minifier: see json-validator.test.ts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactJsonVerdict, compactJsonInWasm } from '../../lib/format/json-validator.ts';
import { show, last, bytes, jsonText, longString, run, agrees, agreesAfter } from '../support/json-validator-agreement.ts';

/** A random whitespace run of 1 to `max` bytes (the four JSON whitespace bytes, mostly spaces). */
const whitespaceRun = (max: number) =>
  fc.array(fc.constantFrom(' ', ' ', ' ', '\n', '\t', '\r'), { minLength: 1, maxLength: max }).map((a) => a.join(''));

/** Inserts `runs` (position, whitespace) into `text`'s bytes; positions are taken modulo the length + 1. */
function insertWhitespace(src: Uint8Array, runs: readonly (readonly [number, string])[]): Uint8Array {
  let bytes = [...src];
  for (const [at, ws] of runs) {
    const i = at % (bytes.length + 1);
    bytes = [...bytes.slice(0, i), ...Buffer.from(ws, 'latin1'), ...bytes.slice(i)];
  }
  return Uint8Array.from(bytes);
}

describe('WebAssembly compaction (whitespace outside strings)', () => {
  it('examples: whitespace between tokens goes, whitespace in tokens is invalid, strings keep theirs', () => {
    const compacted: [string, string | undefined][] = [
      [' 1', '1'],
      ['1 ', '1'],
      ['\t\n\r 1 \r\n\t', '1'],
      [' {} ', '{}'],
      ['[ ]', '[]'],
      ['{ }', '{}'],
      [' [ [ ] , { } ] ', '[[],{}]'],
      ['{ "a b" : [ 1 , "x  y\\n" , true , false , null , -1.5e+3 ] }', '{"a b":[1,"x  y\\n",true,false,null,-1.5e+3]}'],
      ['{\n\t"a":\r\n1\n}', '{"a":1}'],
      ['"a b"', '"a b"'],
      [' " a\\" b " ', '" a\\" b "'],
      ['[ "\\\\" , "\\u0020 " ]', '["\\\\","\\u0020 "]'],
      // Whitespace inside a token, or between two values.
      ['1 2', undefined],
      ['tr ue', undefined],
      ['fal se', undefined],
      ['nu ll', undefined],
      ['- 1', undefined],
      ['1 .5', undefined],
      ['1. 5', undefined],
      ['1.5 e3', undefined],
      ['1e 3', undefined],
      ['1e+ 3', undefined],
      ['1 e3', undefined],
      ['-0 1', undefined],
      ['[1 2]', undefined],
      ['[ 1 2 ]', undefined],
      ['{"a" "b"}', undefined],
      ['{"a":1 "b":2}', undefined],
      ['"a" "b"', undefined],
      ['{} {}', undefined],
      ['[ ] [ ]', undefined],
      ['[1 , ]', undefined],
      ['{ "a" : }', undefined],
      ['{ , }', undefined],
      ['[ , 1]', undefined],
      ['{ "a" , 1 }', undefined],
      ['{ 1 : 2 }', undefined],
      ['{ "a" : 1 , }', undefined],
      // Whitespace only, empty, other bytes that are not JSON whitespace.
      ['', undefined],
      [' ', undefined],
      ['\n\t\r ', undefined],
      [' '.repeat(100), undefined],
      ['\f1', undefined],
      ['1\u000b', undefined],
      ['[1,\u0001 2]', undefined],
      ['[ 1\u0000]', undefined],
      ['{ "a":\u00a01}', undefined],
      [' "a\tb" ', undefined],
      [' "a\nb" ', undefined],
      ['[ "a', undefined],
      ['[ "a\\', undefined],
    ];
    for (const [text, expected] of compacted) {
      const src = bytes(text);
      agrees(src);
      expect(run(src)?.toString('utf8'), JSON.stringify(text)).toBe(expected);
      expect(compactJsonInWasm(src), JSON.stringify(text)).toBe(
        expected === undefined ? CompactJsonVerdict.INVALID : Buffer.byteLength(expected),
      );
    }
  });

  it('property: pretty-printed JSON (indent 1 to 4 spaces, tabs) is compacted by the wasm side to JSON.stringify', () => {
    const indent = fc.constantFrom<string | number>(1, 2, 3, 4, '\t', '\t\t', ' \r\n ');
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), fc.json({ stringUnit: 'grapheme' }), fc.json({ stringUnit: 'binary', depthSize: 'medium' })),
        indent,
        fc.boolean(),
        (json, ind, framed) => {
          const value: unknown = JSON.parse(json);
          const pretty = JSON.stringify(value, null, ind);
          const src = bytes(framed ? `\n ${pretty} \r\n` : pretty);
          agrees(src);
          const compact = bytes(JSON.stringify(value));
          if (last.length !== compact.length || !run(src)?.equals(compact))
            expect(run(src)?.toString(), show(src)).toBe(compact.toString());
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('property: whitespace runs inserted at random byte positions (valid and invalid results)', () => {
    let valid = 0;
    let invalid = 0;
    fc.assert(
      fc.property(jsonText, fc.array(fc.tuple(fc.nat(), whitespaceRun(20)), { minLength: 1, maxLength: 6 }), (text, runs) => {
        agrees(insertWhitespace(bytes(text), runs));
        if (last.valid) valid++;
        else invalid++;
      }),
      { numRuns: 10_000 },
    );
    // Both outcomes are common: in strings and between tokens whitespace is fine, inside tokens not.
    expect(valid).toBeGreaterThan(1000);
    expect(invalid).toBeGreaterThan(1000);
  });

  it('property: whitespace at every position inside number and literal tokens is invalid', () => {
    const token = fc.oneof(
      fc.constantFrom('true', 'false', 'null'),
      fc
        .tuple(
          fc.boolean(),
          fc.stringMatching(/^(0|[1-9][0-9]{0,5})$/),
          fc.option(fc.stringMatching(/^[0-9]{1,4}$/)),
          fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.stringMatching(/^[0-9]{1,3}$/))),
        )
        .map(([minus, int, frac, exp]) => `${minus ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`),
    );
    fc.assert(
      fc.property(token, whitespaceRun(3), fc.constantFrom('%', ' % ', '[ % ]', '{ "a" : % }', '[1, %, 2]'), (t, ws, wrap) => {
        expect(agrees(bytes(wrap.replace('%', t)))).not.toBe(CompactJsonVerdict.INVALID);
        expect(last.length).toBeGreaterThanOrEqual(0);
        for (let i = 1; i < t.length; i++) {
          agrees(bytes(wrap.replace('%', t.slice(0, i) + ws + t.slice(i))));
          expect(last.length, `${t.slice(0, i)}${ws}${t.slice(i)}`).toBe(CompactJsonVerdict.INVALID);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: strings with whitespace, escapes and multibyte characters, between whitespace, at any offset and after any leftovers', () => {
    fc.assert(
      fc.property(
        fc.array(longString, { minLength: 1, maxLength: 4 }),
        fc.array(whitespaceRun(70), { minLength: 8, maxLength: 8 }),
        fc.nat(),
        longString,
        (strings, ws, cut, poison) => {
          const text = bytes(`${ws[0]}{${ws[1]}"k"${ws[2]}:${ws[3]}[${ws[4]}${strings.join(`${ws[5]},${ws[6]}`)}${ws[7]}]}${ws[0]}`);
          agreesAfter(bytes(poison.repeat(3)), text);
          expect(last.length).toBeGreaterThanOrEqual(0);
          agreesAfter(text, text.subarray(0, cut % (text.length + 1))); // the rest of `text` is left past the end
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('runs to move and whitespace to skip of every length up to 70, around 64-byte blocks, after leftovers', () => {
    // Leftovers past the end that would continue the value if they were looked at: whitespace
    // (a skip running on), a closing quote and bracket (an unterminated string ending), digits.
    const poisons = [bytes(' '.repeat(200)), bytes(`"]}${' '.repeat(30)}1`.repeat(20)), bytes('0'.repeat(200))];
    const texts: string[] = [];
    for (let lead = 0; lead <= 70; lead += lead < 4 ? 1 : 21) {
      for (let runLength = 0; runLength <= 70; runLength++) {
        for (const gap of [' ', '\n', ' \t\r\n'.repeat(5), ' '.repeat(63), ' '.repeat(65)]) {
          const s = 'x'.repeat(runLength);
          texts.push(`${' '.repeat(lead)}["${s}"${gap},${gap}"${s} ${s}"${gap},${gap}${'1'.repeat(runLength + 1)}${gap}]${gap}`);
          texts.push(`{${' '.repeat(lead)}"${s}":${gap}"${s}",${gap}"b":${gap}[${gap}true${gap},${gap}false${gap}]}`);
        }
      }
    }
    for (const text of texts) {
      const src = bytes(text);
      for (const poison of poisons) agreesAfter(poison, src);
      expect(last.length).toBeGreaterThanOrEqual(0);
      // Cut anywhere in the last 24 bytes (the rest of the value left past the end), which is
      // mostly invalid, except where only trailing whitespace is cut off.
      for (let cut = Math.max(0, src.length - 24); cut < src.length; cut++) agreesAfter(src, src.subarray(0, cut));
    }
  });

  it('property: bytes from 0x80 up (not UTF-8) in strings and outside them, with whitespace', () => {
    const byte = fc.oneof(
      fc.constantFrom(...[...'"\\{}[]:,-.e01 tfn'].map((c) => c.charCodeAt(0))),
      fc.constantFrom(0x20, 0x20, 0x0a, 0x09, 0x0d),
      fc.integer({ min: 0x80, max: 0xff }),
    );
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 40 }), fc.array(fc.integer({ min: 0x80, max: 0xff }), { maxLength: 20 }), (random, high) => {
        agrees(Uint8Array.from(random));
        const inString = Uint8Array.from([0x20, 0x5b, 0x0a, 0x22, ...high, 0x20, ...high, 0x22, 0x20, 0x2c, 0x09, 0x22, 0x22, 0x5d, 0x20]); // ` [\n"…"  ,\t"" ] `
        agrees(inString);
        expect(last.length).toBe(inString.length - 5);
      }),
      { numRuns: 5000 },
    );
  });

  it('values larger than 64 kB with whitespace: the memory grows (30 MB), and later small values still work', () => {
    const value = { a: Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['x y', 'z'], ok: i % 2 === 0 })) };
    for (const indent of [2, '\t']) {
      const src = bytes(JSON.stringify(value, null, indent));
      expect(src.length).toBeGreaterThan(65_536);
      agrees(src);
      expect(run(src)?.toString()).toBe(JSON.stringify(value));
    }
    // Larger than the 20 MB value of the test above, so the memory grows for this one.
    const big = bytes(`[\n${'  "ab\\n c",\n'.repeat(2_500_000)}  1\n]\n`);
    expect(big.length).toBeGreaterThan(30_000_000);
    expect(compactJsonInWasm(big)).toBe(big.length - (1 + 2_500_000 * 3 + 4)); // "\n" after "[", "  " and "\n" per item, "  \n" and "\n" at the end
    expect(agrees(big)).toBe(CompactJsonVerdict.UNDECIDED);
    expect(agrees(bytes('{ "a" : [1, 2] }'))).toBe(CompactJsonVerdict.UNDECIDED);
    expect(last.length).toBe(11);
    agreesAfter(big, bytes('[ "ab'));
    expect(last.length).toBe(CompactJsonVerdict.INVALID);
  }, 60_000);
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactJsonInto } from '../../lib/format/json-bytes.ts';
import {
  CompactJsonVerdict,
  compactJsonInWasm,
  forceFallbackForTests,
  validateCompactJson,
  wasmValidatorActive,
} from '../../lib/format/json-validator.ts';
import { JSON_VALIDATOR_WASM_BASE64 } from '../../lib/format/wasm/json-validator.wasm.ts';
import { compileJsonValidator, readGeneratedBase64 } from '../../scripts/build-wasm.ts';

/**
 * The WebAssembly fast path of compactJsonInto must never change a result: for every input,
 * compactJsonInto with it gives what the JS minifier alone (the fallback) gives. Both paths are
 * byte-level and treat bytes from 0x80 up alike, so this holds for any bytes, UTF-8 or not.
 * The wasm side validates compact input (`validate`) and compacts input with whitespace
 * outside strings (`compact`); only nesting deeper than 1024 is left to the JS minifier.
 */

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
/** The validator's stack (MAX_DEPTH in json-validator.as.ts). */
const WASM_MAX_DEPTH = 1024;
const AT = 5;

/** compactJsonInto's result and output (undefined when invalid), written at AT into a dirty buffer. */
function run(src: Uint8Array): Buffer | undefined {
  const dst = Buffer.alloc(src.length + AT + 8, 0xaa);
  const end = compactJsonInto(src, dst, AT);
  return end < 0 ? undefined : dst.subarray(AT, end);
}

function jsOnly(src: Uint8Array): Buffer | undefined {
  forceFallbackForTests(true);
  try {
    return run(src);
  } finally {
    forceFallbackForTests(false);
  }
}

const show = (src: Uint8Array) => JSON.stringify(Buffer.from(src).toString('latin1').slice(0, 300));

/** What the last {@link agrees} found out, for tests that count outcomes. */
const last = { length: 0, valid: false };

/**
 * Asserts that the wasm path agrees with the JS minifier on `src`, that the verdicts are right
 * where they decide, and that they decide whenever they should, so a wasm side that left
 * everything undecided would fail: `validateCompactJson` whenever there is no whitespace and
 * nesting is not too deep, and `compactJsonInWasm` (what compactJsonInto uses, which also
 * compacts whitespace) whenever nesting is not too deep, whitespace or not. Since
 * compactJsonInto takes the wasm side's bytes whenever it decides, its output being the JS
 * minifier's checks those bytes. Returns validateCompactJson's verdict.
 */
function agrees(src: Uint8Array): CompactJsonVerdict {
  const verdict = validateCompactJson(src);
  const length = compactJsonInWasm(src);
  const fast = run(src);
  const reference = jsOnly(src);
  // Plain comparisons first: expect() is slow, and this runs hundreds of thousands of times.
  const same = fast === undefined ? reference === undefined : reference !== undefined && fast.equals(reference);
  if (!same) expect(fast?.toString('latin1'), show(src)).toBe(reference?.toString('latin1'));
  if (verdict === CompactJsonVerdict.VALID && !reference?.equals(src)) {
    expect.fail(`VALID but the JS minifier gives ${reference === undefined ? 'invalid' : 'a different text'}: ${show(src)}`);
  }
  if (verdict === CompactJsonVerdict.INVALID && reference !== undefined) expect.fail(`INVALID but valid: ${show(src)}`);
  if (length >= 0 && reference?.length !== length)
    expect.fail(`compact length ${length}, the JS minifier gives ${reference?.length ?? 'invalid'}: ${show(src)}`);
  if (length === CompactJsonVerdict.INVALID && reference !== undefined) expect.fail(`compacting: INVALID but valid: ${show(src)}`);
  if (verdict === CompactJsonVerdict.UNDECIDED || length === CompactJsonVerdict.UNDECIDED) {
    let openers = 0;
    let spaced = false;
    for (const b of src) {
      if (b === OPEN_BRACKET || b === OPEN_BRACE) openers++;
      else if (WHITESPACE.has(b)) spaced = true;
    }
    if (verdict === CompactJsonVerdict.UNDECIDED && !spaced && openers <= WASM_MAX_DEPTH)
      expect.fail(`UNDECIDED without whitespace or deep nesting: ${show(src)}`);
    if (length === CompactJsonVerdict.UNDECIDED && openers <= WASM_MAX_DEPTH)
      expect.fail(`compacting: UNDECIDED without deep nesting: ${show(src)}`);
  }
  last.length = length;
  last.valid = reference !== undefined;
  return verdict;
}

/** agrees(src) right after validating `poison`, which leaves its bytes in the scratch memory past src's end. */
function agreesAfter(poison: Uint8Array, src: Uint8Array): CompactJsonVerdict {
  validateCompactJson(poison);
  return agrees(src);
}

const bytes = (text: string) => Buffer.from(text, 'utf8');

/** JSON texts of any value: ASCII, any Unicode (lone surrogates escaped), compact or indented. */
const jsonText = fc
  .tuple(
    fc.oneof(fc.json(), fc.json({ stringUnit: 'grapheme' }), fc.json({ stringUnit: 'binary', depthSize: 'medium' })),
    fc.constantFrom(undefined, undefined, undefined, 0, 1, 2, '\t', ' \r\n '),
  )
  .map(([json, indent]) => JSON.stringify(JSON.parse(json), null, indent));

/** Strings long enough for several 16-byte vectors and 64-byte blocks, with escapes, controls and multibyte characters. */
const longString = fc
  .array(fc.constantFrom('a', 'b', 'é', '日', '😀', '"', '\\', '\n', '\u0001', '\u001f', '/', ' ', '\u2028', '\ud800'), { maxLength: 200 })
  .map((chars) => JSON.stringify(chars.join('')));

/** Bytes that matter to the grammar, plus controls and a non-ASCII byte. */
const interesting = fc.oneof(
  fc.constantFrom(...[...'"\\{}[]:,-+.eE0123456789 tfnlrsu'].map((c) => c.charCodeAt(0))),
  fc.integer({ min: 0, max: 0x1f }),
  fc.constantFrom(0x7f, 0x80, 0xc3, 0xff),
);

describe('WebAssembly validator', () => {
  it('is active here (Node has WebAssembly SIMD), so these tests exercise it', () => {
    expect(wasmValidatorActive()).toBe(true);
  });

  it('examples: numbers, literals, empty containers, strings, trailing garbage', () => {
    const texts = [
      '0',
      '-0',
      '1',
      '-1',
      '01',
      '-01',
      '00',
      '1.',
      '1.5',
      '.5',
      '1e',
      '1E+5',
      '1e-5',
      '1e+',
      '1e5.0',
      '-',
      '--1',
      '+1',
      '1.0e',
      '0.e1',
      '12345678901234567890.000000001e-400',
      '[-]',
      '[1.]',
      '{"a":-}',
      '[01]',
      '[1e]',
      '[-0,0,-0.0e0]',
      'true',
      'false',
      'null',
      'tru',
      'fals',
      'nul',
      'truee',
      'nulll',
      't',
      'f',
      'n',
      '[true,false,null]',
      '[tru]',
      '{"a":fals}',
      'True',
      '[]',
      '{}',
      '[[]]',
      '{"a":{}}',
      '[{},[]]',
      '[}',
      '{]',
      '[,]',
      '{,}',
      '[ ]',
      '{ }',
      '[',
      '{',
      ']',
      '}',
      '[[]',
      '[]]',
      '{"a"}',
      '{"a":}',
      '{"a":1,}',
      '[1,]',
      '{1:2}',
      '{"a" :1}',
      '{"a": 1}',
      '{"a":1 }',
      '[1 ]',
      ' []',
      '[] ',
      '[]x',
      '1x',
      '"a"x',
      '"a""b"',
      '1 2',
      '{}{}',
      '[1}',
      '{"a":1]',
      '[[1]}',
      '{"a":[1}}',
      '{"a"::1}',
      '{"a":1:2}',
      '{"a",1}',
      '[1:2]',
      '{"a":1,"b"}',
      '[1,,2]',
      '""',
      '"',
      '"\\',
      '"\\"',
      '"\\u',
      '"\\u12',
      '"\\u12G4"',
      '"\\u00e9"',
      '"\\x"',
      '"a\u0001b"',
      '"a\tb"',
      '"é😀日"',
      '"\\ud800"',
      '',
    ];
    for (const text of texts) agrees(bytes(text));
    expect(agrees(bytes('{"a":[1,{"b":"c"}],"d":true}'))).toBe(CompactJsonVerdict.VALID);
    expect(agrees(bytes('[1,2'))).toBe(CompactJsonVerdict.INVALID);
    expect(agrees(bytes('[1, 2]'))).toBe(CompactJsonVerdict.UNDECIDED); // not compact as is,
    expect(compactJsonInWasm(bytes('[1, 2]'))).toBe(5); // but compacted by the wasm side
  });

  it('property: any JSON value, compact or with whitespace; compact is always decided VALID', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const verdict = agrees(bytes(text));
        if (!/\s/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) expect(verdict).toBe(CompactJsonVerdict.VALID);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: mutations (byte replaced, inserted, deleted, doubled), truncation, appended garbage', () => {
    const edit = fc.tuple(fc.nat(), interesting, fc.constantFrom('replace', 'insert', 'delete', 'duplicate'));
    fc.assert(
      fc.property(
        jsonText,
        fc.array(edit, { maxLength: 3 }),
        fc.option(fc.nat()),
        fc.uint8Array({ maxLength: 4 }),
        fc.array(interesting, { maxLength: 3 }),
        (text, edits, cut, randomTail, grammarTail) => {
          const src = [...bytes(text)];
          for (const [at, byte, how] of edits) {
            const i = at % (src.length + 1);
            if (how === 'insert') src.splice(i, 0, byte);
            else if (how === 'replace') src.splice(i, 1, byte);
            else if (how === 'duplicate')
              src.splice(i, 0, src[i] ?? byte); // e.g. "::" or ",,"
            else src.splice(i, 1);
          }
          const full = Uint8Array.from(src);
          agrees(full);
          if (cut !== null) agreesAfter(full, full.subarray(0, cut % (full.length + 1))); // the rest of `full` is left past the end
          agrees(Uint8Array.from([...full, ...randomTail, ...grammarTail]));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('property: one closer, colon or comma swapped for its counterpart (] and }, : and ,)', () => {
    const counterpart = new Map([
      [0x5d, 0x7d],
      [0x7d, 0x5d],
      [0x3a, 0x2c],
      [0x2c, 0x3a],
    ]);
    fc.assert(
      fc.property(jsonText, fc.nat(), (text, at) => {
        const src = bytes(text);
        for (let i = at % (src.length + 1); i < src.length; i++) {
          const swapped = counterpart.get(src[i]!);
          if (swapped === undefined) continue;
          src[i] = swapped; // maybe inside a string, where it is content
          break;
        }
        agrees(src);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: random sequences of JSON tokens (mismatched closers, doubled colons and commas, ...)', () => {
    const token = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"a"',
      '"b\\"c"',
      '"',
      '1',
      '-',
      '0',
      '.',
      'e',
      '2.5',
      'true',
      'nul',
      'null',
      ' ',
      '\\',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 24 }), (tokens) => {
        agrees(bytes(tokens.join('')));
      }),
      { numRuns: 20_000 },
    );
  });

  it('property: number-like and literal-like tokens, alone and in containers', () => {
    const token = fc.array(fc.constantFrom(...'-+.eE0123456789tfnlrsua'), { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(token, fc.constantFrom('%', '[%]', '[1,%]', '{"a":%}', '[%,0]', '{"a":%,"b":1}'), (t, wrap) => {
        agrees(bytes(wrap.replace('%', t)));
      }),
      { numRuns: 5000 },
    );
  });

  it('property: long strings with escapes, controls and multibyte characters, at any offset, after any leftovers', () => {
    fc.assert(
      fc.property(longString, fc.nat({ max: 70 }), fc.nat(), longString, (s, offset, cut, poison) => {
        const text = bytes(`{"${'k'.repeat(offset)}":[${s},1],"z":${s}}`);
        agreesAfter(bytes(poison.repeat(3)), text);
        agreesAfter(text, text.subarray(0, cut % (text.length + 1)));
        agreesAfter(bytes(poison), bytes(s));
        agrees(bytes(s).subarray(0, cut % (s.length + 1)));
      }),
      { numRuns: 3000 },
    );
  });

  it('every escape, control and multibyte character at every position of strings up to 150 bytes', () => {
    const specials = ['\\"', '\\\\', '\\/', '\\n', '\\u00e9', '\\uD83D\\uDE00', '\\x', '\\u12', '\\', '\u0001', '\t', 'é', '日', '😀', '"'];
    // Leftovers past the end that would end or break a string if they were looked at.
    const poison = bytes(`"${'"\\\u0001'.repeat(100)}`);
    for (const lead of ['', '[', '{"a":']) {
      for (let length = 0; length <= 150; length += length < 20 ? 1 : 7) {
        for (let at = 0; at <= length; at++) {
          for (const special of specials) {
            const body = 'a'.repeat(at) + special + 'b'.repeat(length - at);
            const close = lead === '' ? '' : lead === '[' ? ']' : '}';
            agreesAfter(poison, bytes(`${lead}"${body}"${close}`));
            agreesAfter(poison, bytes(`${lead}"${body}`)); // unterminated, ends right there
          }
        }
      }
    }
  });

  it('deep nesting beyond the wasm stack goes to the JS minifier', () => {
    for (const depth of [WASM_MAX_DEPTH - 1, WASM_MAX_DEPTH, WASM_MAX_DEPTH + 1, WASM_MAX_DEPTH + 2, 5000]) {
      expect(agrees(bytes('['.repeat(depth) + ']'.repeat(depth)))).not.toBe(CompactJsonVerdict.INVALID);
      agrees(bytes('['.repeat(depth) + '1' + ']'.repeat(depth)));
      agrees(bytes('{"a":'.repeat(depth) + '{}' + '}'.repeat(depth)));
      agrees(bytes('[{"a":'.repeat(depth) + '[]' + '}]'.repeat(depth)));
      agrees(bytes('['.repeat(depth) + ']'.repeat(depth - 1)));
      agrees(bytes('['.repeat(depth) + ']'.repeat(depth + 1)));
      agrees(bytes('['.repeat(depth) + '}' + ']'.repeat(depth - 1)));
    }
    expect(validateCompactJson(bytes('['.repeat(WASM_MAX_DEPTH) + ']'.repeat(WASM_MAX_DEPTH)))).toBe(CompactJsonVerdict.VALID);
    expect(validateCompactJson(bytes('['.repeat(WASM_MAX_DEPTH + 2) + ']'.repeat(WASM_MAX_DEPTH + 2)))).toBe(CompactJsonVerdict.UNDECIDED);
    // With whitespace: compacted up to the same depth.
    for (const depth of [WASM_MAX_DEPTH - 1, WASM_MAX_DEPTH, WASM_MAX_DEPTH + 1, 3000]) {
      agrees(bytes('[ '.repeat(depth) + ' ]'.repeat(depth)));
      agrees(bytes('{ "a" : '.repeat(depth) + '1' + ' }'.repeat(depth)));
      agrees(bytes(' [\n'.repeat(depth) + '{}' + '\n]'.repeat(depth)));
      agrees(bytes('[ '.repeat(depth) + ' ]'.repeat(depth - 1)));
    }
    expect(compactJsonInWasm(bytes('[ '.repeat(WASM_MAX_DEPTH) + '1' + ']'.repeat(WASM_MAX_DEPTH)))).toBe(2 * WASM_MAX_DEPTH + 1);
    expect(compactJsonInWasm(bytes('[ '.repeat(WASM_MAX_DEPTH + 1) + '1' + ']'.repeat(WASM_MAX_DEPTH + 1)))).toBe(
      CompactJsonVerdict.UNDECIDED,
    );
  });

  it('values larger than the wasm memory: it grows (20 MB), and later small values still work', () => {
    const big = bytes(`"${'x'.repeat(20_000_000)}"`);
    expect(validateCompactJson(big)).toBe(CompactJsonVerdict.VALID);
    expect(run(big)?.equals(big)).toBe(true);
    expect(validateCompactJson(big.subarray(0, big.length - 1))).toBe(CompactJsonVerdict.INVALID);
    const array = bytes(`[${'"ab\\n",'.repeat(3_000_000)}1]`);
    expect(agrees(array)).toBe(CompactJsonVerdict.VALID);
    expect(agrees(bytes('{"a":[1,2]}'))).toBe(CompactJsonVerdict.VALID);
    expect(agreesAfter(array, bytes('"ab'))).toBe(CompactJsonVerdict.INVALID);
  });

  it('forced fallback: everything UNDECIDED, compactJsonInto gives the same results', () => {
    const texts = ['{"a":[1,2]}', '[1,2', ' [ 1 ] ', '"x"', '', '01', '"\\u00e9"'];
    const withWasm = texts.map((text) => run(bytes(text))?.toString());
    forceFallbackForTests(true);
    try {
      expect(wasmValidatorActive()).toBe(false);
      for (const text of texts) expect(validateCompactJson(bytes(text))).toBe(CompactJsonVerdict.UNDECIDED);
      for (const text of texts) expect(compactJsonInWasm(bytes(text))).toBe(CompactJsonVerdict.UNDECIDED);
      expect(texts.map((text) => run(bytes(text))?.toString())).toEqual(withWasm);
    } finally {
      forceFallbackForTests(false);
    }
    expect(withWasm).toEqual(['{"a":[1,2]}', undefined, '[1]', '"x"', undefined, undefined, '"\\u00e9"']);
  });
});

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

describe('generated module (lib/format/wasm/json-validator.wasm.ts)', () => {
  it('asc output is deterministic, and the committed module is what the source compiles to now', async () => {
    const first = Buffer.from(await compileJsonValidator()).toString('base64');
    const second = Buffer.from(await compileJsonValidator()).toString('base64');
    expect(second).toBe(first);
    expect(readGeneratedBase64(), 'run `npm run build:wasm`').toBe(first);
    expect(JSON_VALIDATOR_WASM_BASE64).toBe(first);
  }, 120_000);
});

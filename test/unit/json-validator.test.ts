import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompactJsonVerdict,
  compactJsonInWasm,
  forceFallbackForTests,
  validateCompactJson,
  wasmValidatorActive,
} from '../../lib/format/json-validator.ts';
import { JSON_VALIDATOR_WASM_BASE64 } from '../../lib/format/wasm/json-validator.wasm.ts';
import { compileJsonValidator, readGeneratedBase64 } from '../../scripts/build-wasm.ts';
import { WASM_MAX_DEPTH, bytes, jsonText, longString, interesting, run, agrees, agreesAfter } from '../support/json-validator-agreement.ts';

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

describe('generated module (lib/format/wasm/json-validator.wasm.ts)', () => {
  it('asc output is deterministic, and the committed module is what the source compiles to now', async () => {
    const first = Buffer.from(await compileJsonValidator()).toString('base64');
    const second = Buffer.from(await compileJsonValidator()).toString('base64');
    expect(second).toBe(first);
    expect(readGeneratedBase64(), 'run `npm run build:wasm`').toBe(first);
    expect(JSON_VALIDATOR_WASM_BASE64).toBe(first);
  }, 120_000);
});

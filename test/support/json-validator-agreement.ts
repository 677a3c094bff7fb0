/**
 * What the JSON validator's tests share (test/unit/json-validator*.test.ts): the agreement check
 * between the WebAssembly path and the JS minifier, and the generators.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { compactJsonInto } from '../../lib/format/json-bytes.ts';
import { CompactJsonVerdict, compactJsonInWasm, forceFallbackForTests, validateCompactJson } from '../../lib/format/json-validator.ts';
/**
 * The WebAssembly fast path of compactJsonInto must never change a result: for every input,
 * compactJsonInto with it gives what the JS minifier alone (the fallback) gives. Both paths are
 * byte-level and treat bytes from 0x80 up alike, so this holds for any bytes, UTF-8 or not.
 * The wasm side validates compact input (`validate`) and compacts input with whitespace
 * outside strings (`compact`); only nesting deeper than 1024 is left to the JS minifier.
 */

export const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
export const OPEN_BRACKET = 0x5b;
export const OPEN_BRACE = 0x7b;
/** The validator's stack (MAX_DEPTH in json-validator.as.ts). */
export const WASM_MAX_DEPTH = 1024;
export const AT = 5;

/** compactJsonInto's result and output (undefined when invalid), written at AT into a dirty buffer. */
export function run(src: Uint8Array): Buffer | undefined {
  const dst = Buffer.alloc(src.length + AT + 8, 0xaa);
  const end = compactJsonInto(src, dst, AT);
  return end < 0 ? undefined : dst.subarray(AT, end);
}

export function jsOnly(src: Uint8Array): Buffer | undefined {
  forceFallbackForTests(true);
  try {
    return run(src);
  } finally {
    forceFallbackForTests(false);
  }
}

export const show = (src: Uint8Array) => JSON.stringify(Buffer.from(src).toString('latin1').slice(0, 300));

/** What the last {@link agrees} found out, for tests that count outcomes. */
export const last = { length: 0, valid: false };

/**
 * Asserts that the wasm path agrees with the JS minifier on `src`, that the verdicts are right
 * where they decide, and that they decide whenever they should, so a wasm side that left
 * everything undecided would fail: `validateCompactJson` whenever there is no whitespace and
 * nesting is not too deep, and `compactJsonInWasm` (what compactJsonInto uses, which also
 * compacts whitespace) whenever nesting is not too deep, whitespace or not. Since
 * compactJsonInto takes the wasm side's bytes whenever it decides, its output being the JS
 * minifier's checks those bytes. Returns validateCompactJson's verdict.
 */
export function agrees(src: Uint8Array): CompactJsonVerdict {
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
export function agreesAfter(poison: Uint8Array, src: Uint8Array): CompactJsonVerdict {
  validateCompactJson(poison);
  return agrees(src);
}

export const bytes = (text: string) => Buffer.from(text, 'utf8');

/** JSON texts of any value: ASCII, any Unicode (lone surrogates escaped), compact or indented. */
export const jsonText = fc
  .tuple(
    fc.oneof(fc.json(), fc.json({ stringUnit: 'grapheme' }), fc.json({ stringUnit: 'binary', depthSize: 'medium' })),
    fc.constantFrom(undefined, undefined, undefined, 0, 1, 2, '\t', ' \r\n '),
  )
  .map(([json, indent]) => JSON.stringify(JSON.parse(json), null, indent));

/** Strings long enough for several 16-byte vectors and 64-byte blocks, with escapes, controls and multibyte characters. */
export const longString = fc
  .array(fc.constantFrom('a', 'b', 'é', '日', '😀', '"', '\\', '\n', '\u0001', '\u001f', '/', ' ', '\u2028', '\ud800'), { maxLength: 200 })
  .map((chars) => JSON.stringify(chars.join('')));

/** Bytes that matter to the grammar, plus controls and a non-ASCII byte. */
export const interesting = fc.oneof(
  fc.constantFrom(...[...'"\\{}[]:,-+.eE0123456789 tfnlrsu'].map((c) => c.charCodeAt(0))),
  fc.integer({ min: 0, max: 0x1f }),
  fc.constantFrom(0x7f, 0x80, 0xc3, 0xff),
);

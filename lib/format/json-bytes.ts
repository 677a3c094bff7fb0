/**
 * The byte-level twin of json-text.ts: a validating JSON minifier that reads UTF-8 bytes and
 * writes the compact JSON straight into an output buffer, without decoding to a string or
 * building a value. It accepts exactly the texts `toCompactJson` accepts (one RFC 8259 value,
 * leading and trailing whitespace allowed) and writes exactly the UTF-8 of what it returns:
 * the bytes as sent, minus the whitespace outside strings. Numbers and strings are copied as
 * written. Iterative (an explicit stack), so any depth works.
 *
 * The input must be valid UTF-8 (check with `isUtf8` first): the grammar's structure is ASCII,
 * and bytes from 0x80 up are taken as string content, as the text version takes non-ASCII
 * characters. Compact input (what producers usually send) is copied with one `set`.
 *
 * Fast path: a WebAssembly (SIMD) validator (json-validator.ts) first decides whether the input
 * is compact JSON as is; then it is copied with one `set` (the copy into wasm memory, the
 * validation and the `set` cost about half of the JS scan below), and invalid input is
 * rejected. Input with whitespace outside strings is compacted in wasm memory (about a third
 * of the JS scan's time) and copied out. Whatever it leaves undecided (nesting deeper than
 * 1024, no WebAssembly) goes through the JS minifier, which is the reference: the wasm side
 * gives a result only where the minifier gives the same.
 */
import { CompactJsonVerdict, compactJsonInWasm, copyWasmCompacted } from './json-validator.ts';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const UPPER_E = 0x45;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const LOWER_A = 0x61;
const LOWER_E = 0x65;
const LOWER_F = 0x66;
const LOWER_L = 0x6c;
const LOWER_N = 0x6e;
const LOWER_R = 0x72;
const LOWER_S = 0x73;
const LOWER_T = 0x74;
const LOWER_U = 0x75;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

const IN_ARRAY = 0;
const IN_OBJECT = 1;

/** 1 for JSON's four whitespace bytes. */
const WHITESPACE = new Uint8Array(256);
WHITESPACE[SPACE] = WHITESPACE[LF] = WHITESPACE[CR] = WHITESPACE[TAB] = 1;

/** 1 for bytes that stand for themselves inside a string (not a quote, backslash or control). */
const STRING_PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 256; b++) STRING_PLAIN[b] = b === QUOTE || b === BACKSLASH ? 0 : 1;

/** 1 for the escape letters allowed after a backslash (besides `u`): `" \ / b f n r t`. */
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

/** 1 for hexadecimal digits. */
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

/** The container stack, shared by all calls (they are synchronous) and grown on demand. */
let stack = new Uint8Array(256);

/** Returns the index just past the string whose opening quote is at `pos`, or -1. */
function scanString(src: Uint8Array, pos: number, end: number): number {
  pos++;
  for (;;) {
    let c = 0;
    while (pos < end) {
      c = src[pos]!;
      if (c < 0x20 || c === QUOTE || c === BACKSLASH) break;
      pos++;
    }
    if (pos >= end) return -1;
    if (c === QUOTE) return pos + 1;
    if (c !== BACKSLASH || pos + 1 >= end) return -1; // a raw control byte, or a lone backslash
    const e = src[pos + 1]!;
    if (e === LOWER_U) {
      if (pos + 5 >= end || HEX[src[pos + 2]!]! + HEX[src[pos + 3]!]! + HEX[src[pos + 4]!]! + HEX[src[pos + 5]!]! !== 4) return -1;
      pos += 6;
    } else if (SIMPLE_ESCAPE[e] === 1) {
      pos += 2;
    } else {
      return -1;
    }
  }
}

/** Returns the index past the digits starting at `pos`. */
function scanDigits(src: Uint8Array, pos: number, end: number): number {
  while (pos < end) {
    const c = src[pos]!;
    if (c < ZERO || c > NINE) break;
    pos++;
  }
  return pos;
}

/** Scans a number starting at `pos`; returns the index past it, or -1. */
function scanNumber(src: Uint8Array, pos: number, end: number): number {
  if (pos < end && src[pos] === MINUS) pos++;
  if (pos >= end) return -1;
  const first = src[pos]!;
  if (first === ZERO) pos++;
  else if (first > ZERO && first <= NINE) pos = scanDigits(src, pos + 1, end);
  else return -1;
  if (pos < end && src[pos] === DOT) {
    const after = scanDigits(src, pos + 1, end);
    if (after === pos + 1) return -1;
    pos = after;
  }
  if (pos < end && (src[pos] === LOWER_E || src[pos] === UPPER_E)) {
    pos++;
    if (pos < end && (src[pos] === PLUS || src[pos] === MINUS)) pos++;
    const after = scanDigits(src, pos, end);
    if (after === pos) return -1;
    pos = after;
  }
  return pos;
}

/** Copies `src[from, to)` to `dst` at `out`; returns the new output position. */
function copyRun(src: Uint8Array, from: number, to: number, dst: Uint8Array, out: number): number {
  const length = to - from;
  if (length <= 32) {
    for (let i = 0; i < length; i++) dst[out + i] = src[from + i]!;
  } else {
    dst.set(src.subarray(from, to), out);
  }
  return out + length;
}

/**
 * Writes the compact form of the JSON text in `src` (valid UTF-8) to `dst` from `out`, and
 * returns the position after it; returns -1 when `src` is not exactly one JSON value (then
 * `dst` from `out` on holds garbage). `dst` needs room for `src.length` bytes from `out`.
 */
export function compactJsonInto(src: Uint8Array, dst: Uint8Array, out: number): number {
  const length = compactJsonInWasm(src);
  if (length === src.length) {
    dst.set(src, out); // compact already (nothing removed): the value as sent, as minifyJsonInto would write it
    return out + length;
  }
  if (length >= 0) return copyWasmCompacted(dst, out, length); // whitespace removed by the wasm side
  if (length === CompactJsonVerdict.INVALID) return -1;
  return minifyJsonInto(src, dst, out);
}

/** The JS minifier: `compactJsonInto` without the WebAssembly fast path (any input, any depth). */
function minifyJsonInto(src: Uint8Array, dst: Uint8Array, out: number): number {
  const end = src.length;
  let depth = 0;
  let pos = 0;
  /** Start of the run of input not yet copied (everything before it is written or dropped). */
  let copyFrom = 0;

  // Whitespace removal, inlined where whitespace may appear: copy the run before it, skip it.
  if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
    pos++;
    while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
    copyFrom = pos;
  }

  value: for (;;) {
    if (pos >= end) return -1;
    const c = src[pos]!;
    switch (c) {
      case QUOTE:
        pos = scanString(src, pos, end);
        if (pos < 0) return -1;
        break;
      case OPEN_BRACE:
      case OPEN_BRACKET: {
        pos++;
        if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
          out = copyRun(src, copyFrom, pos, dst, out);
          pos++;
          while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
          copyFrom = pos;
        }
        if (pos < end && src[pos] === (c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
          pos++;
          break; // an empty container is a complete value
        }
        if (depth === stack.length) {
          const bigger = new Uint8Array(stack.length * 2);
          bigger.set(stack);
          stack = bigger;
        }
        if (c === OPEN_BRACKET) {
          stack[depth++] = IN_ARRAY;
          continue value;
        }
        stack[depth++] = IN_OBJECT;
        // A member's name and colon.
        if (pos >= end || src[pos] !== QUOTE) return -1;
        pos = scanString(src, pos, end);
        if (pos < 0) return -1;
        if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
          out = copyRun(src, copyFrom, pos, dst, out);
          pos++;
          while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
          copyFrom = pos;
        }
        if (pos >= end || src[pos] !== COLON) return -1;
        pos++;
        if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
          out = copyRun(src, copyFrom, pos, dst, out);
          pos++;
          while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
          copyFrom = pos;
        }
        continue value;
      }
      case LOWER_T:
        if (pos + 3 >= end || src[pos + 1] !== LOWER_R || src[pos + 2] !== LOWER_U || src[pos + 3] !== LOWER_E) return -1;
        pos += 4;
        break;
      case LOWER_F:
        if (
          pos + 4 >= end ||
          src[pos + 1] !== LOWER_A ||
          src[pos + 2] !== LOWER_L ||
          src[pos + 3] !== LOWER_S ||
          src[pos + 4] !== LOWER_E
        ) {
          return -1;
        }
        pos += 5;
        break;
      case LOWER_N:
        if (pos + 3 >= end || src[pos + 1] !== LOWER_U || src[pos + 2] !== LOWER_L || src[pos + 3] !== LOWER_L) return -1;
        pos += 4;
        break;
      default:
        pos = scanNumber(src, pos, end);
        if (pos < 0) return -1;
    }

    // After a complete value: a comma (next value), a closer (completes the container), or the end.
    for (;;) {
      if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
        out = copyRun(src, copyFrom, pos, dst, out);
        pos++;
        while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
        copyFrom = pos;
      }
      if (depth === 0) break value;
      if (pos >= end) return -1;
      const inObject = stack[depth - 1] === IN_OBJECT;
      const d = src[pos]!;
      if (d === COMMA) {
        pos++;
        if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
          out = copyRun(src, copyFrom, pos, dst, out);
          pos++;
          while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
          copyFrom = pos;
        }
        if (inObject) {
          if (pos >= end || src[pos] !== QUOTE) return -1;
          pos = scanString(src, pos, end);
          if (pos < 0) return -1;
          if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
            out = copyRun(src, copyFrom, pos, dst, out);
            pos++;
            while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
            copyFrom = pos;
          }
          if (pos >= end || src[pos] !== COLON) return -1;
          pos++;
          if (pos < end && src[pos]! <= SPACE && WHITESPACE[src[pos]!] === 1) {
            out = copyRun(src, copyFrom, pos, dst, out);
            pos++;
            while (pos < end && WHITESPACE[src[pos]!] === 1) pos++;
            copyFrom = pos;
          }
        }
        continue value;
      }
      if (d !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return -1;
      pos++;
      depth--;
    }
  }

  if (pos !== end) return -1;
  if (copyFrom === 0) {
    dst.set(src, out); // nothing stripped: the value as sent
    return out + end;
  }
  return copyRun(src, copyFrom, end, dst, out);
}

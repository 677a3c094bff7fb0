/**
 * AssemblyScript source of the WebAssembly fast path of `compactJsonInto` (json-bytes.ts).
 * Compiled by `npm run build:wasm` (scripts/build-wasm.ts) into json-validator.wasm.ts; it is
 * not TypeScript and is excluded from tsc.
 *
 * `validate(start, end)` checks whether the bytes in memory [start, end) are one *compact* JSON
 * value (RFC 8259 with no whitespace outside strings), the form producers usually send, for
 * which the compact output is the input as is. It answers
 *   VALID (0)        one JSON value, no whitespace outside strings;
 *   INVALID (-1)     not one JSON value (met before any whitespace outside strings, so the JS
 *                    minifier, which only differs in skipping such whitespace, says the same);
 *   NOT_COMPACT (-2) whitespace outside strings: the caller calls `compact`;
 *   TOO_DEEP (-3)    nesting deeper than MAX_DEPTH: undecided, the caller runs the JS minifier.
 * `compact(start, end)` is for NOT_COMPACT input (pretty-printed, or with stray whitespace): it
 * writes the compact form in place at `start` and returns its length, or INVALID, or TOO_DEEP,
 * exactly as the JS minifier decides. Like the JS version both take bytes from 0x80 up as
 * string content (the caller checked UTF-8).
 *
 * SIMD is used only to find where strings end, because that is where the time goes: most of
 * a typical value's bytes are inside strings, and most strings are short (a dozen bytes). A
 * 16-byte-at-a-time scan per string still puts a load, the vector compares and a bit scan on
 * the chain from one string's start to the next; so instead the bits of all quotes,
 * backslashes and control bytes of a 64-byte block are computed once (independent of where
 * the strings are), and each string's end is a shift and a count of trailing zeros away. The
 * structure between strings is short tokens, where a byte-at-a-time state machine is simple and
 * fast enough.
 *
 * Invariant: the verdict never depends on bytes at or after `end`. The caller's memory goes on
 * for READ_PAST_END bytes past the value (with leftovers of earlier values), and the block
 * masks cover them; a stop bit at or past `end` is taken as "no stop before end" (the string
 * is unterminated), whatever the byte there is. Every scalar read is guarded by a `< end` check.
 * `compact` also writes, but only below the position it reads at, and its vector loads past
 * `end` only feed bytes that end up past the output (see `skipWhitespace` and `moveDown`).
 */

const VALID: i32 = 0;
const INVALID: i32 = -1;
const NOT_COMPACT: i32 = -2;
const TOO_DEEP: i32 = -3;

const TAB: u32 = 0x09;
const LF: u32 = 0x0a;
const CR: u32 = 0x0d;
const SPACE: u32 = 0x20;
const QUOTE: u32 = 0x22;
const PLUS: u32 = 0x2b;
const COMMA: u32 = 0x2c;
const MINUS: u32 = 0x2d;
const DOT: u32 = 0x2e;
const SLASH: u32 = 0x2f;
const ZERO: u32 = 0x30;
const COLON: u32 = 0x3a;
const OPEN_BRACKET: u32 = 0x5b;
const BACKSLASH: u32 = 0x5c;
const LOWER_B: u32 = 0x62;
const LOWER_E: u32 = 0x65;
const LOWER_F: u32 = 0x66;
const LOWER_N: u32 = 0x6e;
const LOWER_R: u32 = 0x72;
const LOWER_T: u32 = 0x74;
const LOWER_U: u32 = 0x75;
const OPEN_BRACE: u32 = 0x7b;
/** A closer is its opener + 2 in ASCII: `[` 0x5b / `]` 0x5d, `{` 0x7b / `}` 0x7d. */
const OPENER_TO_CLOSER: u32 = 2;

/** Bytes per block of string-stop bits (one u64 mask). */
const BLOCK: usize = 64;
/** How far past `end` the block loads may read; the caller keeps that much memory after a value. */
const READ_PAST_END: usize = BLOCK;

/** Deepest nesting handled here; deeper values are left to the JS minifier (any depth). */
const MAX_DEPTH: usize = 1024;
/** The container stack: the opener (`[` or `{`) of each open container. Static, zeroed. */
const stack: usize = memory.data(<i32>MAX_DEPTH);

/**
 * First byte of the scratch region where the caller copies values: past the static data (the
 * stack), 16-byte aligned. The stub runtime never allocates (nothing here does), so all memory
 * from `__heap_base` on is the caller's.
 */
export function scratchStart(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/** Bytes the caller must have readable (any content) after a value: see the invariant above. */
export function readPastEnd(): usize {
  return READ_PAST_END;
}

@inline function isWhitespace(c: u32): bool {
  return c == SPACE || c == LF || c == CR || c == TAB;
}

@inline function isDigit(c: u32): bool {
  return c - ZERO < 10; // unsigned: bytes below '0' wrap around to large numbers
}

@inline function isHex(c: u32): bool {
  return c - ZERO < 10 || (c | 0x20) - 0x61 < 6; // 0-9, a-f, A-F (| 0x20 lowercases letters)
}

/** After the unexpected byte `c`: whitespace means undecided (JS skips it), anything else invalid. */
@inline function unexpected(c: u32): i32 {
  return isWhitespace(c) ? NOT_COMPACT : INVALID;
}

/** The position past the digits from `p` (`p` itself when there are none). */
@inline function skipDigits(p: usize, end: usize): usize {
  while (p < end && isDigit(load<u8>(p))) p++;
  return p;
}

/**
 * Stop bits of the 16 bytes at `b`, one per byte, set for a quote, a backslash or a control
 * byte (< 0x20; unsigned, so bytes from 0x80 up are string content).
 */
@inline function stops16(b: usize): u64 {
  const v = v128.load(b);
  // Quote and controls in one unsigned compare: xor 2 turns the quote 0x22 into 0x20 and keeps
  // controls below 0x20, and no other byte lands at or below 0x20; x <= 0x20 is min(x, 0x20) == x.
  const x = v128.xor(v, i8x16.splat(2));
  const quoteOrControl = i8x16.eq(i8x16.min_u(x, i8x16.splat(<i8>SPACE)), x);
  return <u64><u32>i8x16.bitmask(v128.or(quoteOrControl, i8x16.eq(v, i8x16.splat(<i8>BACKSLASH))));
}

/** Stop bits of the BLOCK (64) bytes at `b`: bit i for the byte at b + i. */
@inline function stops64(b: usize): u64 {
  return stops16(b) | (stops16(b + 16) << 16) | (stops16(b + 32) << 32) | (stops16(b + 48) << 48);
}

/**
 * The position past the whitespace run that starts at `p` (< end, a whitespace byte), at most
 * `end`. A one-byte run (the space after a colon) is settled by one scalar read; longer ones
 * (a newline and an indent) 16 bytes at a time: the load may cover bytes at or past `end`
 * (READ_PAST_END), but the result is capped at `end`, so whatever they are, they never count.
 */
@inline function skipWhitespace(p: usize, end: usize): usize {
  if (p + 1 >= end) return end;
  if (<u32>load<u8>(p + 1) > SPACE) return p + 1;
  while (true) {
    const v = v128.load(p);
    const ws = v128.or(
      v128.or(i8x16.eq(v, i8x16.splat(<i8>SPACE)), i8x16.eq(v, i8x16.splat(<i8>LF))),
      v128.or(i8x16.eq(v, i8x16.splat(<i8>CR)), i8x16.eq(v, i8x16.splat(<i8>TAB))),
    );
    const other = ~i8x16.bitmask(ws) & 0xffff; // bit i: the byte at p + i is not whitespace
    if (other != 0) {
      p += <usize>ctz(other);
      break;
    }
    p += 16;
    if (p >= end) break;
  }
  return p < end ? p : end;
}

/**
 * Moves memory [from, to) down to `q` (q <= from) and returns the position past the copy,
 * writing nothing at or past `limit` (to <= limit <= end): `compact`'s unread input starts
 * there (what lies between `to` and `limit` is whitespace being dropped). Every byte is loaded
 * before any store that could overwrite it: a 16-byte store at q + i only reaches
 * q + i + 16 <= from + i + 16, where the next load starts. Once enough whitespace has been
 * dropped (limit - q >= n + 15: from the second line or so of a pretty-printed value), each
 * run is moved in whole vectors, typically one load and one store.
 */
@inline function moveDown(q: usize, from: usize, to: usize, limit: usize): usize {
  const n = to - from;
  if (q == from) return to; // nothing removed before this run: it is in place already
  if (limit - q >= n + 15) {
    // Room for whole vectors: the last store may run up to 15 bytes past q + n, which is
    // garbage between the output and the input (the loads may read past `to`, below end + 16).
    for (let i: usize = 0; i < n; i += 16) v128.store(q + i, v128.load(from + i));
  } else if (n >= 16) {
    const last = v128.load(to - 16); // before the loop's stores, which may overwrite it
    for (let i: usize = 0; i + 16 < n; i += 16) v128.store(q + i, v128.load(from + i));
    v128.store(q + n - 16, last);
  } else if (n >= 8) {
    const first = load<u64>(from);
    const last = load<u64>(to - 8);
    store<u64>(q, first);
    store<u64>(q + n - 8, last);
  } else if (n >= 4) {
    const first = load<u32>(from);
    const last = load<u32>(to - 4);
    store<u32>(q, first);
    store<u32>(q + n - 4, last);
  } else if (n != 0) {
    // 1 to 3 bytes: the first, the middle and the last (some of them the same byte).
    const first = load<u8>(from);
    const middle = load<u8>(from + (n >> 1));
    const last = load<u8>(to - 1);
    store<u8>(q, first);
    store<u8>(q + (n >> 1), middle);
    store<u8>(q + n - 1, last);
  }
  return q + n;
}

/** Validates memory [start, end) as one compact JSON value; see the header for the verdicts. */
export function validate(start: usize, end: usize): i32 {
  let p = start;
  /** Open containers; their openers are at stack[0, depth). */
  let depth: usize = 0;
  /** Stop bits of the BLOCK bytes from `block` (always <= p): strings end at one of them. */
  let block = start;
  let stops = stops64(start);
  /** Whether the next token must be an object member's name (after `{` or a comma in an object). */
  let expectName = false;
  while (true) {
    // A value, or a member name, starts at p.
    if (p >= end) return INVALID;
    let c = <u32>load<u8>(p);
    if (c == QUOTE) {
      // A string: jump from stop to stop until the closing quote.
      p++;
      while (true) {
        let offset = p - block;
        if (offset >= BLOCK) {
          block = p;
          stops = stops64(p);
          offset = 0;
        }
        const ahead = stops >> <u64>offset; // bit 0 is the byte at p
        if (ahead == 0) {
          p = block + BLOCK; // nothing to stop at in the rest of the block
          if (p >= end) return INVALID; // unterminated
          continue;
        }
        p += <usize>ctz(ahead);
        // A stop at or past end says nothing about the value: the string is unterminated.
        if (p >= end) return INVALID;
        const s = <u32>load<u8>(p);
        if (s == QUOTE) break;
        if (s != BACKSLASH || p + 1 >= end) return INVALID; // a raw control byte, or a backslash at the end
        const e = <u32>load<u8>(p + 1);
        if (e == LOWER_U) {
          if (p + 5 >= end || !isHex(load<u8>(p + 2)) || !isHex(load<u8>(p + 3)) || !isHex(load<u8>(p + 4)) || !isHex(load<u8>(p + 5))) return INVALID;
          p += 6;
        } else if (e == QUOTE || e == BACKSLASH || e == SLASH || e == LOWER_B || e == LOWER_F || e == LOWER_N || e == LOWER_R || e == LOWER_T) {
          p += 2; // past the escaped byte, which may have a stop bit (an escaped quote or backslash)
        } else {
          return INVALID;
        }
      }
      p++; // past the closing quote
      if (expectName) {
        // A member name: a colon, then the member's value.
        expectName = false;
        if (p >= end) return INVALID;
        const d = <u32>load<u8>(p);
        if (d != COLON) return unexpected(d);
        p++;
        continue;
      }
    } else if (expectName) {
      return unexpected(c);
    } else if (c == OPEN_BRACE || c == OPEN_BRACKET) {
      p++;
      if (p >= end) return INVALID;
      if (<u32>load<u8>(p) == c + OPENER_TO_CLOSER) {
        p++; // an empty container is a complete value
      } else {
        if (depth == MAX_DEPTH) return TOO_DEEP;
        store<u8>(stack + depth, <u8>c);
        depth++;
        expectName = c == OPEN_BRACE;
        continue; // the first element, or the first member's name
      }
    } else if (c == LOWER_T) {
      if (p + 3 >= end || load<u8>(p + 1) != LOWER_R || load<u8>(p + 2) != LOWER_U || load<u8>(p + 3) != LOWER_E) return INVALID;
      p += 4;
    } else if (c == LOWER_F) {
      if (p + 4 >= end || load<u8>(p + 1) != 0x61 || load<u8>(p + 2) != 0x6c || load<u8>(p + 3) != 0x73 || load<u8>(p + 4) != LOWER_E) return INVALID;
      p += 5;
    } else if (c == LOWER_N) {
      if (p + 3 >= end || load<u8>(p + 1) != LOWER_U || load<u8>(p + 2) != 0x6c || load<u8>(p + 3) != 0x6c) return INVALID;
      p += 4;
    } else {
      // A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
      if (c == MINUS) {
        p++;
        if (p >= end) return INVALID;
        c = <u32>load<u8>(p);
        if (!isDigit(c)) return INVALID; // even whitespace: JS rejects "- 1" too
      } else if (!isDigit(c)) {
        return unexpected(c);
      }
      p++;
      if (c != ZERO) p = skipDigits(p, end); // a leading zero stands alone ("01" fails after the value)
      if (p < end && <u32>load<u8>(p) == DOT) {
        const digits = p + 1;
        p = skipDigits(digits, end);
        if (p == digits) return INVALID;
      }
      if (p < end && (<u32>load<u8>(p) | 0x20) == LOWER_E) {
        p++;
        if (p < end && (<u32>load<u8>(p) == PLUS || <u32>load<u8>(p) == MINUS)) p++;
        const digits = p;
        p = skipDigits(digits, end);
        if (p == digits) return INVALID;
      }
    }

    // After a complete value: the end (at depth 0), a comma (next element or member), or the
    // closer of the innermost container (which completes it, so loop for what follows it).
    while (true) {
      if (depth == 0) return p == end ? VALID : unexpected(load<u8>(p)); // p <= end always
      if (p >= end) return INVALID;
      const d = <u32>load<u8>(p);
      const opener = <u32>load<u8>(stack + depth - 1);
      if (d == COMMA) {
        p++;
        expectName = opener == OPEN_BRACE;
        break;
      }
      if (d != opener + OPENER_TO_CLOSER) return unexpected(d);
      p++;
      depth--;
    }
  }
}

/**
 * Writes the compact form of memory [start, end), one JSON value with whitespace anywhere
 * JSON allows it, at `start` (in place) and returns its length; or INVALID (not one JSON
 * value, the JS minifier says the same), or TOO_DEEP (undecided, as in `validate`). The
 * grammar and the string scan are `validate`'s; the difference is that whitespace is skipped
 * where the JS minifier skips it (before and after the value, after an opener, around a colon
 * or comma, before a closer) and is invalid anywhere else (inside a number or a literal, as in
 * "1 2", "- 1" or "tr ue"). Strings, numbers and literals are copied as written.
 *
 * In place: the input is read at p and the output written at q <= p. Bytes are copied in runs:
 * `run` is where the input not yet copied starts, and at each whitespace run the input before
 * it is moved down to q (`moveDown`, which writes only below the end of that whitespace, where
 * p goes next). So nothing from p on is ever written: the block masks (loaded at some earlier
 * p, and only looked at from the current p on) still describe the input, every read from p on
 * sees the input as given, and the invariant of the header holds as in `validate`. Memory from
 * start + length up to end is garbage afterwards.
 *
 * `validate` stays the function for compact input (the common case, which this one would
 * slow down by its whitespace checks); this one is for input that `validate` found
 * NOT_COMPACT, and starts again from `start`, which costs little since pretty-printed values
 * have whitespace right after their first byte. It is tuned for them: whitespace is looked for
 * right after a comma or a colon (a newline and indent, a space), elsewhere only where the
 * expected byte is not there.
 *
 * So the grammar is written twice, here and in `validate`, for the speed of both: a change to
 * one goes into the other (test/unit/json-validator.test.ts holds both to the JS minifier).
 */
export function compact(start: usize, end: usize): i32 {
  let p = start;
  /** Where the next output byte goes; q <= run <= p. */
  let q = start;
  /** Start of the input not yet copied to q (everything before it is copied or dropped). */
  let run = start;
  /** Open containers; their openers are at stack[0, depth). */
  let depth: usize = 0;
  /** Stop bits of the BLOCK bytes from `block` (always <= p): strings end at one of them. */
  let block = start;
  let stops = stops64(start);
  /** Whether the next token must be an object member's name (after `{` or a comma in an object). */
  let expectName = false;
  // Whitespace at p is skipped by
  //   const next = skipWhitespace(p, end); q = moveDown(q, run, p, next); p = run = next;
  // spelled out each time (AssemblyScript has no macros, and a function cannot set three locals).
  // Leading whitespace: dropped (the output still starts at q = start).
  if (p < end && isWhitespace(load<u8>(p))) p = run = skipWhitespace(p, end);
  while (true) {
    // A value, or a member name, starts at p: whitespace before it (after the start, an
    // opener, a comma or a colon) has been skipped already.
    if (p >= end) return INVALID;
    let c = <u32>load<u8>(p);
    if (c == QUOTE) {
      // A string: jump from stop to stop until the closing quote (as in `validate`).
      p++;
      while (true) {
        let offset = p - block;
        if (offset >= BLOCK) {
          block = p;
          stops = stops64(p);
          offset = 0;
        }
        const ahead = stops >> <u64>offset; // bit 0 is the byte at p
        if (ahead == 0) {
          p = block + BLOCK; // nothing to stop at in the rest of the block
          if (p >= end) return INVALID; // unterminated
          continue;
        }
        p += <usize>ctz(ahead);
        // A stop at or past end says nothing about the value: the string is unterminated.
        if (p >= end) return INVALID;
        const s = <u32>load<u8>(p);
        if (s == QUOTE) break;
        if (s != BACKSLASH || p + 1 >= end) return INVALID; // a raw control byte, or a backslash at the end
        const e = <u32>load<u8>(p + 1);
        if (e == LOWER_U) {
          if (p + 5 >= end || !isHex(load<u8>(p + 2)) || !isHex(load<u8>(p + 3)) || !isHex(load<u8>(p + 4)) || !isHex(load<u8>(p + 5))) return INVALID;
          p += 6;
        } else if (e == QUOTE || e == BACKSLASH || e == SLASH || e == LOWER_B || e == LOWER_F || e == LOWER_N || e == LOWER_R || e == LOWER_T) {
          p += 2; // past the escaped byte, which may have a stop bit (an escaped quote or backslash)
        } else {
          return INVALID;
        }
      }
      p++; // past the closing quote
      if (expectName) {
        // A member name: a colon (maybe after whitespace), then the member's value.
        expectName = false;
        if (p >= end) return INVALID;
        const d = <u32>load<u8>(p);
        if (d != COLON) {
          if (!isWhitespace(d)) return INVALID;
          const next = skipWhitespace(p, end);
          q = moveDown(q, run, p, next);
          p = run = next;
          if (p >= end || <u32>load<u8>(p) != COLON) return INVALID;
        }
        p++;
        if (p < end && isWhitespace(load<u8>(p))) {
          const next = skipWhitespace(p, end);
          q = moveDown(q, run, p, next);
          p = run = next;
        }
        continue;
      }
    } else if (c == OPEN_BRACE || c == OPEN_BRACKET) {
      if (expectName) return INVALID;
      p++;
      if (p >= end) return INVALID;
      let d = <u32>load<u8>(p);
      if (isWhitespace(d)) {
        // Before the first element or member, or before the closer of an empty container.
        const next = skipWhitespace(p, end);
        q = moveDown(q, run, p, next);
        p = run = next;
        if (p >= end) return INVALID;
        d = <u32>load<u8>(p);
      }
      if (d == c + OPENER_TO_CLOSER) {
        p++; // an empty container is a complete value
      } else {
        if (depth == MAX_DEPTH) return TOO_DEEP;
        store<u8>(stack + depth, <u8>c);
        depth++;
        expectName = c == OPEN_BRACE;
        continue; // the first element, or the first member's name
      }
    } else if (expectName) {
      return INVALID;
    } else if (c == LOWER_T) {
      if (p + 3 >= end || load<u8>(p + 1) != LOWER_R || load<u8>(p + 2) != LOWER_U || load<u8>(p + 3) != LOWER_E) return INVALID;
      p += 4;
    } else if (c == LOWER_F) {
      if (p + 4 >= end || load<u8>(p + 1) != 0x61 || load<u8>(p + 2) != 0x6c || load<u8>(p + 3) != 0x73 || load<u8>(p + 4) != LOWER_E) return INVALID;
      p += 5;
    } else if (c == LOWER_N) {
      if (p + 3 >= end || load<u8>(p + 1) != LOWER_U || load<u8>(p + 2) != 0x6c || load<u8>(p + 3) != 0x6c) return INVALID;
      p += 4;
    } else {
      // A number, as in `validate`; whitespace inside it ends it ("- 1" and "1 .5" are invalid).
      if (c == MINUS) {
        p++;
        if (p >= end) return INVALID;
        c = <u32>load<u8>(p);
        if (!isDigit(c)) return INVALID;
      } else if (!isDigit(c)) {
        return INVALID;
      }
      p++;
      if (c != ZERO) p = skipDigits(p, end);
      if (p < end && <u32>load<u8>(p) == DOT) {
        const digits = p + 1;
        p = skipDigits(digits, end);
        if (p == digits) return INVALID;
      }
      if (p < end && (<u32>load<u8>(p) | 0x20) == LOWER_E) {
        p++;
        if (p < end && (<u32>load<u8>(p) == PLUS || <u32>load<u8>(p) == MINUS)) p++;
        const digits = p;
        p = skipDigits(digits, end);
        if (p == digits) return INVALID;
      }
    }

    // After a complete value: the end (at depth 0), a comma, or the closer of the innermost
    // container (which completes it, so loop for what follows it); whitespace before any of them.
    while (true) {
      if (depth == 0) {
        if (p < end) {
          // Trailing whitespace, dropped: the output ends where it starts.
          if (!isWhitespace(load<u8>(p)) || skipWhitespace(p, end) != end) return INVALID;
          return <i32>(moveDown(q, run, p, end) - start);
        }
        return <i32>(moveDown(q, run, end, end) - start);
      }
      if (p >= end) return INVALID;
      const d = <u32>load<u8>(p);
      const opener = <u32>load<u8>(stack + depth - 1);
      if (d == COMMA) {
        p++;
        if (p < end && isWhitespace(load<u8>(p))) {
          const next = skipWhitespace(p, end);
          q = moveDown(q, run, p, next);
          p = run = next;
        }
        expectName = opener == OPEN_BRACE;
        break;
      }
      if (d == opener + OPENER_TO_CLOSER) {
        p++;
        depth--;
        continue;
      }
      if (!isWhitespace(d)) return INVALID;
      const next = skipWhitespace(p, end);
      q = moveDown(q, run, p, next);
      p = run = next;
    }
  }
}

/**
 * `compact` of the JSON validator, with the whitespace helpers only it uses (see
 * json-validator.as.ts for the verdicts and the invariant on `end`).
 */

import {
  INVALID, TOO_DEEP, TAB, LF, CR, SPACE, QUOTE, PLUS, COMMA, MINUS, DOT, SLASH, ZERO, COLON,
  OPEN_BRACKET, BACKSLASH, LOWER_B, LOWER_E, LOWER_F, LOWER_N, LOWER_R, LOWER_T, LOWER_U,
  OPEN_BRACE, OPENER_TO_CLOSER, BLOCK, MAX_DEPTH, stack, isWhitespace, isDigit, isHex, skipDigits,
  stops64,
} from './json-validator-common.as';

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
 * sees the input as given, and the invariant in json-validator.as.ts's header holds as in
 * `validate`. Memory from start + length up to end is garbage afterwards.
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

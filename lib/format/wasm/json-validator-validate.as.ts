/**
 * `validate` of the JSON validator (see json-validator.as.ts for the verdicts and the invariant
 * on `end`); `compact` (json-validator-compact.as.ts) writes the same grammar a second time.
 */

import {
  VALID, INVALID, TOO_DEEP, QUOTE, PLUS, COMMA, MINUS, DOT, SLASH, ZERO, COLON, OPEN_BRACKET,
  BACKSLASH, LOWER_B, LOWER_E, LOWER_F, LOWER_N, LOWER_R, LOWER_T, LOWER_U, OPEN_BRACE,
  OPENER_TO_CLOSER, BLOCK, MAX_DEPTH, stack, isDigit, isHex, unexpected, skipDigits, stops64,
} from './json-validator-common.as';

/** Validates memory [start, end) as one compact JSON value; see json-validator.as.ts for the verdicts. */
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

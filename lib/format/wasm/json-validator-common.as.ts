/**
 * What the JSON validator's `validate` (json-validator-validate.as.ts) and `compact`
 * (json-validator-compact.as.ts) share: the verdicts, the bytes of the grammar, the container
 * stack and the scalar and SIMD helpers. Part of the AssemblyScript source compiled from
 * json-validator.as.ts (see its header for the verdicts and the invariant on `end`).
 */

export const VALID: i32 = 0;
export const INVALID: i32 = -1;
export const NOT_COMPACT: i32 = -2;
export const TOO_DEEP: i32 = -3;

export const TAB: u32 = 0x09;
export const LF: u32 = 0x0a;
export const CR: u32 = 0x0d;
export const SPACE: u32 = 0x20;
export const QUOTE: u32 = 0x22;
export const PLUS: u32 = 0x2b;
export const COMMA: u32 = 0x2c;
export const MINUS: u32 = 0x2d;
export const DOT: u32 = 0x2e;
export const SLASH: u32 = 0x2f;
export const ZERO: u32 = 0x30;
export const COLON: u32 = 0x3a;
export const OPEN_BRACKET: u32 = 0x5b;
export const BACKSLASH: u32 = 0x5c;
export const LOWER_B: u32 = 0x62;
export const LOWER_E: u32 = 0x65;
export const LOWER_F: u32 = 0x66;
export const LOWER_N: u32 = 0x6e;
export const LOWER_R: u32 = 0x72;
export const LOWER_T: u32 = 0x74;
export const LOWER_U: u32 = 0x75;
export const OPEN_BRACE: u32 = 0x7b;
/** A closer is its opener + 2 in ASCII: `[` 0x5b / `]` 0x5d, `{` 0x7b / `}` 0x7d. */
export const OPENER_TO_CLOSER: u32 = 2;

/** Bytes per block of string-stop bits (one u64 mask). */
export const BLOCK: usize = 64;
/** How far past `end` the block loads may read; the caller keeps that much memory after a value. */
export const READ_PAST_END: usize = BLOCK;

/** Deepest nesting handled here; deeper values are left to the JS minifier (any depth). */
export const MAX_DEPTH: usize = 1024;
/** The container stack: the opener (`[` or `{`) of each open container. Static, zeroed. */
export const stack: usize = memory.data(<i32>MAX_DEPTH);

@inline export function isWhitespace(c: u32): bool {
  return c == SPACE || c == LF || c == CR || c == TAB;
}

@inline export function isDigit(c: u32): bool {
  return c - ZERO < 10; // unsigned: bytes below '0' wrap around to large numbers
}

@inline export function isHex(c: u32): bool {
  return c - ZERO < 10 || (c | 0x20) - 0x61 < 6; // 0-9, a-f, A-F (| 0x20 lowercases letters)
}

/** After the unexpected byte `c`: whitespace means undecided (JS skips it), anything else invalid. */
@inline export function unexpected(c: u32): i32 {
  return isWhitespace(c) ? NOT_COMPACT : INVALID;
}

/** The position past the digits from `p` (`p` itself when there are none). */
@inline export function skipDigits(p: usize, end: usize): usize {
  while (p < end && isDigit(load<u8>(p))) p++;
  return p;
}

/**
 * Stop bits of the 16 bytes at `b`, one per byte, set for a quote, a backslash or a control
 * byte (< 0x20; unsigned, so bytes from 0x80 up are string content).
 */
@inline export function stops16(b: usize): u64 {
  const v = v128.load(b);
  // Quote and controls in one unsigned compare: xor 2 turns the quote 0x22 into 0x20 and keeps
  // controls below 0x20, and no other byte lands at or below 0x20; x <= 0x20 is min(x, 0x20) == x.
  const x = v128.xor(v, i8x16.splat(2));
  const quoteOrControl = i8x16.eq(i8x16.min_u(x, i8x16.splat(<i8>SPACE)), x);
  return <u64><u32>i8x16.bitmask(v128.or(quoteOrControl, i8x16.eq(v, i8x16.splat(<i8>BACKSLASH))));
}

/** Stop bits of the BLOCK (64) bytes at `b`: bit i for the byte at b + i. */
@inline export function stops64(b: usize): u64 {
  return stops16(b) | (stops16(b + 16) << 16) | (stops16(b + 32) << 32) | (stops16(b + 48) << 48);
}


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

import { READ_PAST_END } from './json-validator-common.as';

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

// The grammar, in one file per function.
export { validate } from './json-validator-validate.as';
export { compact } from './json-validator-compact.as';

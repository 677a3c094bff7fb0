/**
 * Validating JSON minifier: checks that a text is exactly one JSON value (RFC 8259) and removes
 * the whitespace outside strings, without ever building a value. Numbers stay lexeme for lexeme
 * (never parsed to a double) and strings stay as written (escapes included), so the output is
 * the producer's JSON minus insignificant whitespace. Iterative (an explicit stack), so any depth
 * works.
 */

// Character codes.
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
const LOWER_E = 0x65;
const LOWER_F = 0x66;
const LOWER_N = 0x6e;
const LOWER_T = 0x74;
const LOWER_U = 0x75;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** The container kinds on the stack. */
const IN_ARRAY = 0;
const IN_OBJECT = 1;

/** Plain string content (no quote, backslash or control character): skipped by the regex engine. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000-U+001F must be escaped in JSON strings: the run stops there.
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;

/** Escape letters allowed after a backslash (besides `u`): `" \ / b f n r t`. */
const SIMPLE_ESCAPE = new Uint8Array(128);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

function isWhitespace(c: number): boolean {
  return c === SPACE || c === LF || c === CR || c === TAB;
}

/** Returns the index of the first non-whitespace character at or after `pos`. */
function skipWhitespace(text: string, pos: number): number {
  while (isWhitespace(text.charCodeAt(pos))) pos++;
  return pos;
}

function isHexDigit(c: number): boolean {
  return (c >= ZERO && c <= NINE) || ((c | 0x20) >= 0x61 && (c | 0x20) <= LOWER_F);
}

/**
 * Scans the string whose opening quote is at `start`; returns the index just past the closing
 * quote, or -1 when the string is invalid or unterminated.
 */
function scanString(text: string, start: number): number {
  const length = text.length;
  let pos = start + 1;
  for (;;) {
    PLAIN_RUN.lastIndex = pos;
    PLAIN_RUN.test(text); // always matches (possibly empty)
    pos = PLAIN_RUN.lastIndex;
    if (pos >= length) return -1;
    const c = text.charCodeAt(pos);
    if (c === QUOTE) return pos + 1;
    if (c !== BACKSLASH) return -1; // a raw control character
    const e = text.charCodeAt(pos + 1); // NaN past the end
    if (e === LOWER_U) {
      if (
        !isHexDigit(text.charCodeAt(pos + 2)) ||
        !isHexDigit(text.charCodeAt(pos + 3)) ||
        !isHexDigit(text.charCodeAt(pos + 4)) ||
        !isHexDigit(text.charCodeAt(pos + 5))
      ) {
        return -1;
      }
      pos += 6;
    } else if (e < 128 && SIMPLE_ESCAPE[e] === 1) {
      pos += 2;
    } else {
      return -1;
    }
  }
}

/** Scans the digits starting at `pos`; returns the index past them. */
function scanDigits(text: string, pos: number): number {
  let c = text.charCodeAt(pos);
  while (c >= ZERO && c <= NINE) c = text.charCodeAt(++pos);
  return pos;
}

/**
 * Scans a number (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`) starting at `start`;
 * returns the index past it, or -1.
 */
function scanNumber(text: string, start: number): number {
  let pos = start;
  let c = text.charCodeAt(pos);
  if (c === MINUS) c = text.charCodeAt(++pos);
  if (c === ZERO) {
    pos++;
  } else if (c > ZERO && c <= NINE) {
    pos = scanDigits(text, pos + 1);
  } else {
    return -1;
  }
  c = text.charCodeAt(pos);
  if (c === DOT) {
    const end = scanDigits(text, pos + 1);
    if (end === pos + 1) return -1;
    pos = end;
    c = text.charCodeAt(pos);
  }
  if (c === LOWER_E || c === UPPER_E) {
    c = text.charCodeAt(++pos);
    if (c === PLUS || c === MINUS) pos++;
    const end = scanDigits(text, pos);
    if (end === pos) return -1;
    pos = end;
  }
  return pos;
}

/** Whitespace removal state: the compact text so far and where the next kept run starts. */
class Compactor {
  out = '';
  copyFrom = 0;
  stripped = false;
  constructor(readonly text: string) {}

  /** Skips whitespace at `pos`, if any, dropping it from the output; returns the new position. */
  skip(pos: number): number {
    const text = this.text;
    if (!isWhitespace(text.charCodeAt(pos))) return pos;
    const end = skipWhitespace(text, pos + 1);
    this.out += text.slice(this.copyFrom, pos);
    this.copyFrom = end;
    this.stripped = true;
    return end;
  }

  /** Reads a member's name and colon at `pos` (whitespace skipped); returns the position after, or -1. */
  memberName(pos: number): number {
    const text = this.text;
    if (text.charCodeAt(pos) !== QUOTE) return -1;
    pos = this.skip(scanString(text, pos));
    if (text.charCodeAt(pos) !== COLON) return -1; // also when scanString failed (-1 → NaN)
    return this.skip(pos + 1);
  }
}

/**
 * Returns `text` with the whitespace outside strings removed, or undefined when `text` is not
 * exactly one valid JSON value (leading and trailing whitespace allowed). When there is nothing
 * to remove, returns `text` itself.
 */
export function toCompactJson(text: string): string | undefined {
  const length = text.length;
  const ws = new Compactor(text);
  /** Container stack (IN_ARRAY / IN_OBJECT), grown on demand. */
  let stack = new Uint8Array(64);
  let depth = 0;
  let pos = ws.skip(0);

  // Each turn of this loop reads one value, then the separators and closers that follow it.
  value: for (;;) {
    const c = text.charCodeAt(pos);
    switch (c) {
      case QUOTE:
        pos = scanString(text, pos);
        if (pos < 0) return undefined;
        break;
      case OPEN_BRACE:
      case OPEN_BRACKET: {
        pos = ws.skip(pos + 1);
        if (text.charCodeAt(pos) === (c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
          pos++;
          break; // an empty container is a complete value
        }
        if (depth === stack.length) {
          const bigger = new Uint8Array(stack.length * 2);
          bigger.set(stack);
          stack = bigger;
        }
        if (c === OPEN_BRACE) {
          stack[depth++] = IN_OBJECT;
          pos = ws.memberName(pos);
          if (pos < 0) return undefined;
        } else {
          stack[depth++] = IN_ARRAY;
        }
        continue value;
      }
      case LOWER_T:
        if (!text.startsWith('true', pos)) return undefined;
        pos += 4;
        break;
      case LOWER_F:
        if (!text.startsWith('false', pos)) return undefined;
        pos += 5;
        break;
      case LOWER_N:
        if (!text.startsWith('null', pos)) return undefined;
        pos += 4;
        break;
      default:
        pos = scanNumber(text, pos);
        if (pos < 0) return undefined;
    }

    // After a complete value: a comma (next value), a closer (completes the container), or the end.
    for (;;) {
      pos = ws.skip(pos);
      if (depth === 0) break value;
      const inObject = stack[depth - 1] === IN_OBJECT;
      const d = text.charCodeAt(pos);
      if (d === COMMA) {
        pos = ws.skip(pos + 1);
        if (inObject) {
          pos = ws.memberName(pos);
          if (pos < 0) return undefined;
        }
        continue value;
      }
      if (d !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return undefined;
      pos++;
      depth--;
    }
  }

  if (pos !== length) return undefined;
  if (!ws.stripped) return text;
  return ws.copyFrom < length ? ws.out + text.slice(ws.copyFrom) : ws.out;
}

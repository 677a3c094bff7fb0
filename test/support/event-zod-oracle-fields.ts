/**
 * Part of the zod-era event parser kept as a test oracle (see event-zod-oracle.ts): what both
 * of its passes share about an event's fields, the legal topic names and map keys, and strict
 * base64 decoded into a per-event byte arena.
 */

/** Kafka's legal topic names. */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** The form of a `records` map key, `<topic>-<partition>` (checked whole, never split). */
export const PARTITION_KEY = /^[a-zA-Z0-9._-]{1,249}-(?:0|[1-9][0-9]*)$/;

/**
 * A character above U+00FF, which Node's decoder would truncate to its low byte (`Ł` U+0141
 * would read as `A`). The other non-alphabet characters it skips, so the decoded length shows
 * them. V8 compiles this regular expression separately for strings stored one byte per
 * character, where it cannot match: on the usual base64 string the test costs no scan (about
 * 20 ns whatever the length, against 100 ns and more for `Buffer.byteLength`).
 */
const BEYOND_LATIN1 = /[^\0-\xff]/;

/**
 * Decodes strict base64 (standard alphabet, `=` padding only at the end, length a multiple
 * of 4; the empty string is valid), or returns undefined.
 *
 * Fast on long strings: Node's decoder is lenient (it skips unknown characters, accepts the
 * URL-safe alphabet and stops at a `=`) and truncates characters above U+00FF, so we first rule
 * out those characters and `-`/`_` (with scans that cost little or nothing on base64 text),
 * then decode and compare the length with the one the string must give: any skipped or
 * misplaced character makes the result shorter.
 */
export function decodeBase64Strict(s: string): Buffer | undefined {
  const size = strictBase64Size(s);
  if (size < 0) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.length === size ? bytes : undefined;
}

/**
 * The number of bytes `s` decodes to if nothing but its decoded length can still make it
 * invalid (see {@link decodeBase64Strict}), else -1.
 */
function strictBase64Size(s: string): number {
  const length = s.length;
  if (length % 4 !== 0) return -1;
  if (length === 0) return 0;
  if (BEYOND_LATIN1.test(s)) return -1;
  if (s.includes('-') || s.includes('_')) return -1; // URL-safe alphabet
  const padding = s.charCodeAt(length - 1) !== 0x3d ? 0 : s.charCodeAt(length - 2) !== 0x3d ? 1 : 2;
  if (padding === 2 && s.charCodeAt(length - 3) === 0x3d) return -1;
  return (length / 4) * 3 - padding;
}

/**
 * `buffer.write(s, offset, length, 'base64')` without its argument checks and its dispatch on
 * the encoding, a call site that every caller of `write` in the process shares: Node's own
 * `Buffer.prototype.base64Write`, undocumented but there since Node 0.x, which `write` ends in.
 * Measured on the benchmark's 6 MB event: the handler runs 1 ms faster with it. Where it is
 * missing, the public call.
 */
const writeBase64: (buffer: Buffer, s: string, offset: number, length: number) => number =
  typeof (Buffer.prototype as { base64Write?: unknown }).base64Write === 'function'
    ? (buffer, s, offset, length) =>
        (buffer as Buffer & { base64Write(s: string, offset: number, length: number): number }).base64Write(s, offset, length)
    : (buffer, s, offset, length) => buffer.write(s, offset, length, 'base64');

/** The first chunk of a {@link ByteArena}; each next one doubles, up to the largest. */
const FIRST_CHUNK = 16 * 1024;
const LARGEST_CHUNK = 4 * 1024 * 1024;

/**
 * The bytes of one event's keys, values and header values, written one after another into a
 * few shared chunks and handed out as views, instead of one allocation each (a 6 MB event has
 * about 15,000 of them).
 */
export class ByteArena {
  #chunk = Buffer.alloc(0);
  #used = 0;
  #nextSize = FIRST_CHUNK;

  /** Makes room for `size` more bytes in the current chunk. */
  #reserve(size: number): void {
    if (this.#used + size <= this.#chunk.length) return;
    this.#chunk = Buffer.allocUnsafe(Math.max(size, this.#nextSize));
    this.#used = 0;
    this.#nextSize = Math.min(2 * this.#nextSize, LARGEST_CHUNK);
  }

  /** `size` bytes as they are in memory (uninitialised): the caller writes every one. */
  take(size: number): Buffer {
    this.#reserve(size);
    const start = this.#used;
    this.#used = start + size;
    return this.#chunk.subarray(start, start + size);
  }

  /** Strict base64, decoded: same results as {@link decodeBase64Strict}. */
  decodeBase64(s: string): Buffer | undefined {
    const size = strictBase64Size(s);
    if (size < 0) return undefined;
    this.#reserve(size);
    // A lenient decode that skipped a character writes fewer bytes than the size (never more).
    if (writeBase64(this.#chunk, s, this.#used, size) !== size) return undefined;
    return this.take(size); // the bytes just written (the room is there: no new chunk)
  }
}

/** A number usable as a partition or an offset. */
export function isSafeNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

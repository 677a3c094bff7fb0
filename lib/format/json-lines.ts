/**
 * JSON Lines, the default format (DESIGN.md, "Output format"): one line per record,
 *
 *   {"topic":…,"partition":…,"offset":…,"timestamp":…,"timestampType":…,"key":…,"value":…,"headers":[…]}
 *
 * A key, value or header value that is UTF-8 JSON is embedded as that JSON, exactly as sent
 * apart from insignificant whitespace; other UTF-8 text becomes a JSON string; other bytes become
 * a base64 string followed by a marker field (`keyEncoding`/`valueEncoding`/`encoding`: "base64").
 *
 * The writer builds the body straight into one growing buffer: values are never decoded to
 * strings nor parsed into objects. UTF-8 is checked natively (`isUtf8`); JSON is validated and
 * compacted on its bytes (json-bytes.ts), compact JSON copied as is; text is escaped only where
 * it must be; the parts every line repeats are cached as bytes. Same bytes, line for line, as
 * `JSON.stringify`-style string building would give (test/unit/json-lines-writer.test.ts keeps
 * that string encoder as the reference).
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import { compactJsonInto } from './json-bytes.ts';
import { ValueConverter, type RecordFormat, type RecordWriter } from './record-format.ts';

export interface JsonLinesOptions {
  /** `auto` (default rules) or `json` (a value that is not UTF-8 JSON is a poison record). */
  readonly valueConverter: ValueConverter;
}

/** The JSON Lines format; also encodes single lines, for tests and tools. */
export interface JsonLinesFormat extends RecordFormat {
  /** One record's line, without its newline. Throws `PoisonRecordError` as a writer would. */
  encodeRecord(record: KafkaRecord): string;
  /** A body from lines given as strings: each followed by `\n`, UTF-8; empty for no lines. */
  join(encoded: readonly string[]): Uint8Array;
}

/** A Buffer view of the same memory (no copy). */
function view(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The text of `bytes` if they are valid UTF-8, else undefined. Same result as
 * `new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)` (a BOM is kept as
 * U+FEFF; the tests check the two agree), but several times faster: simdutf validation, then
 * a decode that cannot fail, and no exception on the non-UTF-8 path.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  const buffer = view(bytes);
  return isUtf8(buffer) ? buffer.toString('utf8') : undefined;
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

const QUOTE = 0x22;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const NULL = ascii('null');
const TIMESTAMP = ascii(',"timestamp":');
const VALUE = ascii(',"value":');
const HEADERS = ascii(',"headers":[');
const LINE_END = ascii(']}\n');
const NO_HEADERS = ascii(',"headers":[]}\n');
const KEY_MARKER = ascii('","keyEncoding":"base64"');
const VALUE_MARKER = ascii('","valueEncoding":"base64"');
const HEADER_MARKER = ascii('","encoding":"base64"');
const HEX_DIGITS = ascii('0123456789abcdef');

/** The longest `String(n)` of a finite double ("-1.2345678901234567e-308"). */
const MAX_NUMBER_LENGTH = 24;

/**
 * How `JSON.stringify` writes each byte of UTF-8 text inside a string: 0 as itself, else the
 * letter of its short escape (`\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`), or 1 for `\u00XX`.
 * Bytes from 0x80 up are parts of characters, written as themselves (valid UTF-8 has no lone
 * surrogates, the one case where `JSON.stringify` escapes a character from U+0080 up).
 */
const ESCAPE = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) ESCAPE[b] = 1;
ESCAPE[0x08] = 0x62; // b
ESCAPE[0x09] = 0x74; // t
ESCAPE[0x0a] = 0x6e; // n
ESCAPE[0x0c] = 0x66; // f
ESCAPE[0x0d] = 0x72; // r
ESCAPE[QUOTE] = QUOTE;
ESCAPE[BACKSLASH] = BACKSLASH;

/** 1 for the bytes of ASCII text that a JSON string holds as they are: 0x20–0x7e but `"` and `\`. */
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 0x7f; b++) PLAIN[b] = ESCAPE[b] === 0 ? 1 : 0;

/** 1 for the bytes a JSON text can start with: whitespace, `{ [ " -`, digits, and `t f n` of the literals. */
const JSON_START = new Uint8Array(256);
for (const c of ' \t\n\r{["-0123456789tfn') JSON_START[c.charCodeAt(0)] = 1;

/** `{"key":<name>,"value":` per header name, as bytes (a few names repeat on every record). */
const headerStarts = new Map<string, Buffer>();
function headerStart(name: string): Buffer {
  let start = headerStarts.get(name);
  if (start === undefined) {
    // JSON.stringify writes lone surrogates (possible in a name) as \u escapes: valid UTF-8.
    start = Buffer.from(`{"key":${JSON.stringify(name)},"value":`, 'utf8');
    if (headerStarts.size < 1000) headerStarts.set(name, start);
  }
  return start;
}

function numberJson(n: number | null): string {
  return n !== null && Number.isFinite(n) ? String(n) : 'null';
}

/**
 * Writes the decimal digits of `n` (an integer from 0 to 2^31 - 1) at `pos`, padded with zeros
 * to `width` digits; returns the position after them.
 */
function putDigits(buf: Buffer, pos: number, n: number, width: number): number {
  let digits = 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
  if (digits < width) digits = width;
  const end = pos + digits;
  for (let i = end - 1; i >= pos; i--) {
    const q = (n / 10) | 0;
    buf[i] = 0x30 + n - q * 10;
    n = q;
  }
  return end;
}

/** No cached part yet. */
const NONE = Symbol('none');

/** Initial capacity of a writer's buffer without a hint; it doubles as needed. */
const INITIAL_CAPACITY = 64 * 1024;
/** Bytes of a line besides its topic, key, value and headers (field names, numbers), rounded up. */
const LINE_OVERHEAD = 160;
/** Bytes of a header besides its name and value. */
const HEADER_OVERHEAD = 24;

/**
 * The size of the lines of `records` when their keys and values are JSON or plain text, the
 * usual case: enough to write them without growing the buffer (base64 and escapes may need more).
 */
function expectedSize(records: readonly KafkaRecord[]): number {
  let size = 256;
  for (let i = 0; i < records.length; i++) {
    const { topic, key, value, headers } = records[i]!;
    size += LINE_OVERHEAD + topic.length + (key === null ? 0 : key.length) + (value === null ? 0 : value.length);
    for (let j = 0; j < headers.length; j++) size += HEADER_OVERHEAD + headers[j]!.key.length + headers[j]!.value.length;
  }
  return size;
}

class JsonLinesWriter implements RecordWriter {
  readonly #strict: boolean;
  #buf: Buffer;
  #pos = 0;
  #count = 0;
  #finished = false;
  /** `{"topic":<topic>,"partition":<partition>,"offset":` of the last record's topic-partition. */
  #prefix: Buffer = NULL;
  #prefixTopic: unknown = NONE;
  #prefixPartition: unknown = NONE;
  /** `,"timestampType":<type>,"key":` of the last record's timestamp type. */
  #middle: Buffer = NULL;
  #middleType: unknown = NONE;

  constructor(strict: boolean, capacity: number) {
    this.#strict = strict;
    this.#buf = Buffer.allocUnsafe(capacity);
  }

  get count(): number {
    return this.#count;
  }

  get size(): number {
    return this.#pos;
  }

  write(record: KafkaRecord): void {
    if (this.#finished) throw new TypeError('JSON Lines writer already finished');
    const mark = this.#pos;
    try {
      this.#writeLine(record);
    } catch (error) {
      this.#pos = mark; // the body stays as it was
      throw error;
    }
    this.#count++;
  }

  finish(): Uint8Array {
    this.#finished = true;
    return this.#pos === 0 ? new Uint8Array(0) : this.#buf.subarray(0, this.#pos);
  }

  /** Makes room for `n` more bytes. */
  #reserve(n: number): void {
    const needed = this.#pos + n;
    if (needed <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.#buf.length * 2));
    this.#buf.copy(bigger, 0, 0, this.#pos);
    this.#buf = bigger;
  }

  /** Appends bytes (room reserved). */
  #put(bytes: Uint8Array): void {
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Appends a number as `String(n)` would, `null` when absent or not finite (room reserved). */
  #putNumber(n: number | null): void {
    if (n !== null && Number.isSafeInteger(n) && n >= 0) {
      // Digits by int32 arithmetic (a double's % is slow): n = high·10⁸ + low, high < 2^27.
      if (n < 100_000_000) {
        this.#pos = putDigits(this.#buf, this.#pos, n, 0);
      } else {
        let high = Math.floor(n / 100_000_000);
        let low = n - high * 100_000_000; // exact: both terms are integers below 2^53
        if (low < 0) {
          high -= 1; // guard against the division rounding up
          low += 100_000_000;
        }
        const pos = putDigits(this.#buf, this.#pos, high, 0);
        this.#pos = putDigits(this.#buf, pos, low, 8);
      }
      return;
    }
    this.#pos += this.#buf.write(numberJson(n), this.#pos, 'latin1');
  }

  #writeLine(record: KafkaRecord): void {
    const { topic, partition, timestampType } = record;
    if (topic !== this.#prefixTopic || partition !== this.#prefixPartition) {
      this.#prefix = Buffer.from(`{"topic":${JSON.stringify(topic)},"partition":${numberJson(partition)},"offset":`, 'utf8');
      this.#prefixTopic = topic;
      this.#prefixPartition = partition;
    }
    if (timestampType !== this.#middleType) {
      this.#middle = Buffer.from(`,"timestampType":${timestampType === null ? 'null' : JSON.stringify(timestampType)},"key":`, 'utf8');
      this.#middleType = timestampType;
    }
    this.#reserve(this.#prefix.length + TIMESTAMP.length + this.#middle.length + 2 * MAX_NUMBER_LENGTH);
    this.#put(this.#prefix);
    this.#putNumber(record.offset);
    this.#put(TIMESTAMP);
    this.#putNumber(record.timestamp);
    this.#put(this.#middle);
    this.#writeBytes(record.key, KEY_MARKER);
    this.#reserve(VALUE.length);
    this.#put(VALUE);
    if (this.#strict && record.value !== null) this.#writeStrictValue(record);
    else this.#writeBytes(record.value, VALUE_MARKER);
    const headers = record.headers;
    if (headers.length === 0) {
      this.#reserve(NO_HEADERS.length);
      this.#put(NO_HEADERS); // the usual line end, in one piece
      return;
    }
    this.#reserve(HEADERS.length);
    this.#put(HEADERS);
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i]!;
      const start = headerStart(header.key);
      this.#reserve(start.length + 1);
      if (i > 0) this.#buf[this.#pos++] = COMMA;
      this.#put(start);
      this.#writeBytes(header.value, HEADER_MARKER);
      this.#reserve(1);
      this.#buf[this.#pos++] = 0x7d; // }
    }
    this.#reserve(LINE_END.length);
    this.#put(LINE_END);
  }

  /** `value.converter=json`: the value must be UTF-8 JSON, else the record is poison. */
  #writeStrictValue(record: KafkaRecord): void {
    const value = record.value!;
    if (!isUtf8(value)) throw new PoisonRecordError(record, 'value is not valid UTF-8 (value.converter json)');
    this.#reserve(value.length);
    const end = compactJsonInto(value, this.#buf, this.#pos);
    if (end < 0) throw new PoisonRecordError(record, 'value is not valid JSON (value.converter json)');
    this.#pos = end;
  }

  /** A key, value or header value: null, embedded JSON, a JSON string, or base64 and its marker. */
  #writeBytes(bytes: Uint8Array | null, marker: Buffer): void {
    if (bytes === null) {
      this.#reserve(NULL.length);
      this.#put(NULL);
      return;
    }
    const length = bytes.length;
    // Only what can start a JSON text gets the JSON check.
    const jsonLike = length > 0 && JSON_START[bytes[0]!] === 1;
    // Most keys and header values are plain ASCII text (ids, names, trace ids): they cannot
    // start a JSON text, and one pass over their bytes shows they need no UTF-8 check and no
    // escape, so they are copied between quotes as they are.
    if (!jsonLike) {
      let i = 0;
      while (i < length && PLAIN[bytes[i]!] === 1) i++;
      if (i === length) {
        this.#putQuoted(bytes);
        return;
      }
    }
    if (!isUtf8(bytes)) {
      const base64 = view(bytes).toString('base64');
      this.#reserve(base64.length + 1 + marker.length);
      this.#buf[this.#pos++] = QUOTE;
      this.#pos += this.#buf.write(base64, this.#pos, 'latin1');
      this.#put(marker);
      return;
    }
    if (jsonLike) {
      this.#reserve(length);
      const end = compactJsonInto(bytes, this.#buf, this.#pos);
      if (end >= 0) {
        this.#pos = end;
        return;
      }
    }
    this.#writeText(bytes);
  }

  /** Text that needs no escape, between quotes. */
  #putQuoted(bytes: Uint8Array): void {
    this.#reserve(bytes.length + 2);
    const buf = this.#buf;
    buf[this.#pos++] = QUOTE;
    buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    buf[this.#pos++] = QUOTE;
  }

  /** UTF-8 text as a JSON string, escaped as `JSON.stringify` escapes it. */
  #writeText(bytes: Uint8Array): void {
    const length = bytes.length;
    let i = 0;
    while (i < length && ESCAPE[bytes[i]!] === 0) i++;
    if (i === length) {
      this.#putQuoted(bytes);
      return;
    }
    this.#reserve(6 * length + 2);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = QUOTE;
    for (let j = 0; j < i; j++) buf[pos++] = bytes[j]!;
    for (; i < length; i++) {
      const b = bytes[i]!;
      const shortEscape = ESCAPE[b]!;
      if (shortEscape === 0) {
        buf[pos++] = b;
      } else if (shortEscape !== 1) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = shortEscape;
      } else {
        buf[pos++] = BACKSLASH;
        buf[pos++] = 0x75; // u
        buf[pos++] = 0x30;
        buf[pos++] = 0x30;
        buf[pos++] = HEX_DIGITS[b >> 4]!;
        buf[pos++] = HEX_DIGITS[b & 15]!;
      }
    }
    buf[pos++] = QUOTE;
    this.#pos = pos;
  }
}

export function createJsonLinesFormat(options: JsonLinesOptions): JsonLinesFormat {
  const strict = options.valueConverter === ValueConverter.json;
  return {
    name: 'jsonl',
    version: '1',
    extension: '.jsonl',
    contentType: 'application/x-ndjson',

    createWriter(expected?: readonly KafkaRecord[]): RecordWriter {
      return new JsonLinesWriter(strict, expected === undefined ? INITIAL_CAPACITY : expectedSize(expected));
    },

    encodeRecord(record: KafkaRecord): string {
      const writer = new JsonLinesWriter(strict, 256);
      writer.write(record);
      const line = writer.finish();
      return Buffer.from(line.buffer, line.byteOffset, line.byteLength - 1).toString('utf8');
    },

    join(encoded: readonly string[]): Uint8Array {
      if (encoded.length === 0) return new Uint8Array(0);
      return Buffer.from(`${encoded.join('\n')}\n`, 'utf8');
    },
  };
}

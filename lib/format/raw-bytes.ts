/**
 * Raw bytes: each record's value exactly as sent, followed by a separator (default `\n`), like
 * Kafka Connect's ByteArrayFormat with a line separator. Keys, headers, offsets and timestamps are
 * not written (the object's metadata and key name its range).
 *
 * - A value that contains the separator is a poison record (errors.tolerance applies): written,
 *   it would read back as two records.
 * - A tombstone (no value) is left out: raw bytes cannot tell "no value" from "empty"; it is not
 *   counted in the object's record-count, and the object's range still covers its offset.
 * - An empty value is an empty line (just the separator).
 */
import { Buffer } from 'node:buffer';
import { PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import type { RecordFormat, RecordWriter } from './record-format.ts';

/** Reads a separator written with JSON string escapes (`\n`, `\r\n`, `\t`, `\u0000`, `|`). */
export function parseSeparator(text: string): Uint8Array {
  let value: unknown;
  try {
    value = JSON.parse(`"${text.replace(/"/g, '\\"')}"`);
  } catch {
    throw new TypeError(`not a valid separator (JSON string escapes such as \\n, \\t, \\u0000): ${text}`);
  }
  const bytes = Buffer.from(value as string, 'utf8');
  if (bytes.byteLength === 0 || bytes.byteLength > 16) throw new TypeError('the separator must be 1 to 16 bytes');
  return bytes;
}

class RawBytesWriter implements RecordWriter {
  readonly #separator: Buffer;
  #parts: Uint8Array[] = [];
  #size = 0;
  #count = 0;

  constructor(separator: Uint8Array) {
    this.#separator = Buffer.from(separator);
  }

  get count(): number {
    return this.#count;
  }

  get size(): number {
    return this.#size;
  }

  write(record: KafkaRecord): void {
    const value = record.value;
    if (value === null) return; // a tombstone: nothing to write (see the module comment)
    const view = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (view.indexOf(this.#separator) >= 0) throw new PoisonRecordError(record, 'raw bytes: the value contains the separator');
    this.#parts.push(value, this.#separator);
    this.#size += value.byteLength + this.#separator.byteLength;
    this.#count += 1;
  }

  finish(): Uint8Array {
    const body = this.#parts.length === 0 ? new Uint8Array(0) : Buffer.concat(this.#parts, this.#size);
    this.#parts = [];
    return body;
  }
}

export function createRawBytesFormat(options: { readonly separator: Uint8Array }): RecordFormat {
  return {
    name: 'raw',
    version: '1',
    extension: '.bin',
    contentType: 'application/octet-stream',
    createWriter: () => new RawBytesWriter(options.separator),
  };
}

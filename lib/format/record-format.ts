import type { KafkaRecord } from '../core/model.ts';

/**
 * How records become the bytes of one object (before compression). Naming, format and
 * compression are separate pieces, as in Confluent's S3 sink.
 */
export interface RecordFormat {
  /** Short name, e.g. `jsonl`. */
  readonly name: string;
  /** Version of the layout, written to each object's metadata. */
  readonly version: string;
  /** File extension without compression, e.g. `.jsonl`. */
  readonly extension: string;
  /** Content type of the uncompressed body. */
  readonly contentType: string;
  /**
   * A writer for the body of one new object. `expected`, a hint: the records it will probably
   * be given, so that it can size its buffer once.
   */
  createWriter(expected?: readonly KafkaRecord[]): RecordWriter;
}

/**
 * Builds the (uncompressed) body of one object, record by record, straight into bytes.
 * Single use: `finish()` ends it.
 */
export interface RecordWriter {
  /**
   * Appends one record. Throws `PoisonRecordError` when the record cannot be written in this
   * format (never for a reason outside the record itself); the body is then left as it was
   * before the call, and the writer can go on with the next record.
   */
  write(record: KafkaRecord): void;
  /** Records written so far. */
  readonly count: number;
  /**
   * Uncompressed bytes of the body so far (an estimate for formats that encode at `finish()`),
   * for rotation by size.
   */
  readonly size: number;
  /**
   * The body holding the records written, in order (empty when there are none). The bytes are
   * the caller's; the writer must not be used afterwards.
   */
  finish(): Uint8Array;
}

/** A compression codec for object bodies. */
export interface Compression {
  readonly name: CompressionName;
  /** Appended to the format's extension, e.g. `.gz`; empty for none. */
  readonly extension: string;
  /** Content type of the compressed body, or undefined to keep the format's. */
  readonly contentType: string | undefined;
  /** Deterministic: the same input gives the same bytes. */
  compress(body: Uint8Array): Uint8Array;
  /**
   * The same bytes as `compress`, computed on libuv's thread pool: the writer awaits it, so the
   * event loop goes on meanwhile (the standalone worker fetches while it flushes).
   */
  compressAsync?(body: Uint8Array): Promise<Uint8Array>;
}

/** The codecs the sink offers. */
export const CompressionName = {
  gzip: 'gzip',
  zstd: 'zstd',
  none: 'none',
} as const;
export type CompressionName = (typeof CompressionName)[keyof typeof CompressionName];

/**
 * How a record's value (and key and header values) is read. `auto`: embedded as JSON when it
 * is UTF-8 JSON, else a JSON string when UTF-8 text, else base64. `json`: must be UTF-8 JSON,
 * else the record is poison (Kafka Connect's JsonConverter).
 */
export const ValueConverter = {
  auto: 'auto',
  json: 'json',
} as const;
export type ValueConverter = (typeof ValueConverter)[keyof typeof ValueConverter];

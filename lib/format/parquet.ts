/**
 * Parquet, written with hyparquet-writer (pure JavaScript, no native code, no dependencies but
 * its sibling reader's types). One row per record, one row group per object:
 *
 *   kafka_partition INT32, kafka_offset INT64, kafka_timestamp TIMESTAMP(ms)?, kafka_key BYTE_ARRAY?,
 *   then one column per top-level field of the JSON value (all optional).
 *
 * The value must be a JSON object (Confluent's ParquetFormat needs a struct too); anything else
 * (text, bytes, an array, a scalar) is a poison record; a tombstone is a row whose value columns
 * are all null. Headers are not written. Also poison, so that no record can fail the whole object
 * at `finish()`: a partition number past INT32, a timestamp that is not whole milliseconds, a top-level field name or string that
 * is not valid Unicode (a lone surrogate, which UTF-8 cannot hold), a value nested deeper than
 * `MAX_PARQUET_DEPTH`. Poison messages name the field and the reason, never the value.
 *
 * The value columns come from the configuration (`SINK_PARQUET_SCHEMA`) or are inferred from the
 * values in the object (README, "Formats"): booleans → BOOLEAN; numbers → INT64 when every one is a
 * safe integer, else DOUBLE (int widened to double); strings → STRING; objects and arrays → JSON;
 * any other mix → STRING holding each value's JSON text (strings as they are); a field that is
 * only ever null → STRING. Columns in order of first appearance. Same records → same schema →
 * same bytes: `created_by` is fixed and nothing in the footer depends on the time.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { constants, gzipSync, zstdCompressSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import type { RecordFormat, RecordWriter } from './record-format.ts';

/** Parquet's own page codecs. */
export const ParquetCodec = { snappy: 'SNAPPY', gzip: 'GZIP', zstd: 'ZSTD', none: 'UNCOMPRESSED' } as const;
export type ParquetCodecName = keyof typeof ParquetCodec;

/** Column types of a configured schema. */
export const ParquetColumnType = ['STRING', 'INT64', 'DOUBLE', 'BOOLEAN', 'TIMESTAMP', 'JSON'] as const;
export type ParquetColumnType = (typeof ParquetColumnType)[number];

export interface ParquetOptions {
  readonly codec: ParquetCodecName;
  /** Field → type, in column order; undefined: inferred per object. */
  readonly schema: ReadonlyArray<readonly [string, ParquetColumnType]> | undefined;
}

/** Written to the footer's created_by: fixed, so the bytes do not depend on where they were written. */
export const PARQUET_CREATED_BY = 'msk-s3-sink parquet format 1 (hyparquet-writer)';
const METADATA_COLUMNS = new Set(['kafka_partition', 'kafka_offset', 'kafka_timestamp', 'kafka_key']);
/**
 * Nesting depth (of objects and arrays) a value may have: JSON columns are serialised recursively
 * at `finish()` (V8's JSON.stringify gives up at a few thousand levels), so deeper values are
 * poison records, found record by record in `write()`.
 */
export const MAX_PARQUET_DEPTH = 512;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** Parses a configured schema (`{"field": "TYPE", …}`); throws a TypeError with the problem. */
export function parseParquetSchema(text: string): Array<[string, ParquetColumnType]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError('not JSON: expected an object of field → type, e.g. {"id":"STRING","amount":"DOUBLE"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('expected an object of field → type');
  const entries = Object.entries(parsed);
  if (entries.length === 0) throw new TypeError('no field');
  return entries.map(([name, type]) => {
    if (METADATA_COLUMNS.has(name)) throw new TypeError(`field "${name}" clashes with the sink's own column`);
    if (!ParquetColumnType.includes(type as ParquetColumnType))
      throw new TypeError(`field "${name}": type must be one of ${ParquetColumnType.join(', ')}`);
    return [name, type as ParquetColumnType];
  });
}

const compressors = {
  GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)),
  ZSTD: (input: Uint8Array) =>
    new Uint8Array(zstdCompressSync(input, { params: { [constants.ZSTD_c_compressionLevel]: 3 }, pledgedSrcSize: input.byteLength })),
};

type Row = { readonly record: KafkaRecord; readonly value: Record<string, unknown> | null };

class ParquetRecordWriter implements RecordWriter {
  readonly #options: ParquetOptions;
  readonly #rows: Row[] = [];
  #size = 0;
  #finished = false;

  constructor(options: ParquetOptions) {
    this.#options = options;
  }

  get count(): number {
    return this.#rows.length;
  }

  get size(): number {
    return this.#size;
  }

  write(record: KafkaRecord): void {
    if (this.#finished) throw new TypeError('Parquet writer already finished');
    if (record.partition > 0x7fff_ffff)
      throw new PoisonRecordError(record, 'Parquet: the partition number does not fit kafka_partition (INT32)', { field: 'partition' });
    if (record.timestamp !== null && !Number.isSafeInteger(record.timestamp)) {
      throw new PoisonRecordError(record, 'Parquet: the timestamp is not whole epoch milliseconds (an INT64 column)', {
        field: 'timestamp',
      });
    }
    let value: Record<string, unknown> | null = null;
    if (record.value !== null) {
      const field = { field: 'value' };
      if (!isUtf8(record.value)) throw new PoisonRecordError(record, 'Parquet: the value is not UTF-8 JSON', field);
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength).toString('utf8'));
      } catch {
        throw new PoisonRecordError(record, 'Parquet: the value is not JSON', field);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new PoisonRecordError(record, 'Parquet: the value is not a JSON object', field);
      }
      value = parsed as Record<string, unknown>;
      for (const [name, fieldValue] of Object.entries(value)) {
        // Names come from the record: quoted only when they are the sink's own (known) names.
        if (METADATA_COLUMNS.has(name))
          throw new PoisonRecordError(record, `Parquet: field "${name}" clashes with the sink's own column`, field);
        if (!name.isWellFormed())
          throw new PoisonRecordError(record, 'Parquet: a top-level field name is not valid Unicode (a lone surrogate)', field);
        if (typeof fieldValue === 'string' && !fieldValue.isWellFormed()) {
          throw new PoisonRecordError(record, 'Parquet: a top-level string field is not valid Unicode (a lone surrogate)', field);
        }
        if (typeof fieldValue === 'object' && fieldValue !== null && nestedDeeperThan(fieldValue, MAX_PARQUET_DEPTH - 1)) {
          throw new PoisonRecordError(record, `Parquet: the value is nested deeper than ${MAX_PARQUET_DEPTH} levels`, field);
        }
      }
      if (this.#options.schema) for (const [name, type] of this.#options.schema) convert(record, name, type, own(value, name));
    }
    this.#rows.push({ record, value });
    this.#size += 24 + (record.key?.byteLength ?? 0) + (record.value?.byteLength ?? 0);
  }

  finish(): Uint8Array {
    this.#finished = true;
    const rows = this.#rows;
    if (rows.length === 0) return new Uint8Array(0);
    const schema = this.#options.schema ?? inferSchema(rows);
    const columnData = [
      { name: 'kafka_partition', type: 'INT32' as const, nullable: false, data: rows.map((r) => r.record.partition) },
      { name: 'kafka_offset', type: 'INT64' as const, nullable: false, data: rows.map((r) => BigInt(r.record.offset)) },
      {
        name: 'kafka_timestamp',
        type: 'TIMESTAMP' as const,
        nullable: true,
        data: rows.map((r) => (r.record.timestamp === null ? null : BigInt(r.record.timestamp))),
      },
      { name: 'kafka_key', type: 'BYTE_ARRAY' as const, nullable: true, data: rows.map((r) => r.record.key) },
      ...schema.map(([name, type]) => ({
        name,
        type: type === 'TIMESTAMP' ? ('TIMESTAMP' as const) : type,
        nullable: true,
        data: rows.map((r) => (r.value === null ? null : convert(r.record, name, type, own(r.value, name)))),
      })),
    ];
    const buffer = parquetWriteBuffer({
      columnData,
      codec: ParquetCodec[this.#options.codec],
      compressors,
      statistics: true,
      rowGroupSize: rows.length,
      createdBy: PARQUET_CREATED_BY,
    });
    return new Uint8Array(buffer);
  }
}

/** A field of a parsed JSON object, own fields only (a configured column `constructor` is not `{}`'s). */
function own(value: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(value, name) ? value[name] : undefined;
}

/** Whether a parsed JSON object or array holds objects or arrays more than `levels` deep (iterative: any depth). */
function nestedDeeperThan(root: object, levels: number): boolean {
  const stack: Array<[object, number]> = [[root, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child !== 'object' || child === null) continue;
      if (depth + 1 > levels) return true;
      stack.push([child as object, depth + 1]);
    }
  }
  return false;
}

/**
 * A JSON value as a column of `type` wants it; throws PoisonRecordError when it cannot be one.
 * The message names the configured column and type, never the value.
 */
function convert(record: KafkaRecord, name: string, type: ParquetColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const wrong = () => new PoisonRecordError(record, `Parquet: field "${name}" is not a ${type}`, { field: `value.${name}` });
  switch (type) {
    case 'STRING':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'INT64':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrong();
      return BigInt(value);
    case 'DOUBLE':
      if (typeof value !== 'number') throw wrong();
      return value;
    case 'BOOLEAN':
      if (typeof value !== 'boolean') throw wrong();
      return value;
    case 'TIMESTAMP':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      if (typeof value === 'string' && ISO_8601.test(value) && Number.isFinite(Date.parse(value.replace(' ', 'T'))))
        return BigInt(Date.parse(value.replace(' ', 'T')));
      throw wrong();
    case 'JSON':
      return value;
  }
}

/** The documented inference rules, over the object's rows. */
export function inferSchema(rows: ReadonlyArray<{ readonly value: Record<string, unknown> | null }>): Array<[string, ParquetColumnType]> {
  const kinds = new Map<string, Set<string>>();
  for (const { value } of rows) {
    if (value === null) continue;
    for (const [name, field] of Object.entries(value)) {
      let set = kinds.get(name);
      if (!set) kinds.set(name, (set = new Set()));
      if (field === null) continue;
      if (typeof field === 'number') set.add(Number.isSafeInteger(field) ? 'int' : 'double');
      else if (typeof field === 'object') set.add('json');
      else set.add(typeof field);
    }
  }
  return [...kinds].map(([name, set]): [string, ParquetColumnType] => {
    if (set.size === 0) return [name, 'STRING'];
    if (set.size === 1) {
      const [only] = set;
      return [name, ({ int: 'INT64', double: 'DOUBLE', string: 'STRING', boolean: 'BOOLEAN', json: 'JSON' } as const)[only as 'int']];
    }
    if (set.size === 2 && set.has('int') && set.has('double')) return [name, 'DOUBLE'];
    return [name, 'STRING'];
  });
}

export function createParquetFormat(options: ParquetOptions): RecordFormat {
  return {
    name: 'parquet',
    version: '1',
    extension: '.parquet',
    contentType: 'application/vnd.apache.parquet',
    createWriter: () => new ParquetRecordWriter(options),
  };
}

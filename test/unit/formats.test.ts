import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/config.ts';
import { PoisonRecordError } from '../../lib/core/errors.ts';
import { createParquetFormat, PARQUET_CREATED_BY, parseParquetSchema } from '../../lib/format/parquet.ts';
import { createRawBytesFormat, parseSeparator } from '../../lib/format/raw-bytes.ts';
import type { KafkaRecord } from '../../lib/core/model.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { rng } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { parquetLines } from '../../testkit/read-back.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

const record = (offset: number, value: unknown, key: string | null = `k${offset}`): KafkaRecord => ({
  topic: 'orders',
  partition: 2,
  offset,
  timestamp: 1_764_115_200_000 + offset,
  timestampType: 'CREATE_TIME',
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers: [],
});
const arrayBuffer = (bytes: Uint8Array) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

describe('Parquet (hyparquet-writer), read back with hyparquet', () => {
  const values = [
    { id: 'a', n: 1, amount: 10, ok: true, mixed: 1, tags: ['x'], maybe: null },
    { id: 'b', n: 2, amount: 10.5, ok: false, mixed: 'two', tags: [], maybe: null },
    null,
    { id: 'c', n: 3, amount: 7, extra: { deep: 1 }, mixed: false, maybe: null },
  ];
  const write = (codec: 'snappy' | 'gzip' | 'zstd' | 'none', schema?: string) => {
    const writer = createParquetFormat({ codec, schema: schema === undefined ? undefined : parseParquetSchema(schema) }).createWriter();
    for (const [index, value] of values.entries()) writer.write(record(100 + index, value, index === 1 ? null : `k${index}`));
    return writer.finish();
  };

  it('infers the schema by the documented rules, with statistics, for every codec', async () => {
    for (const codec of ['snappy', 'gzip', 'zstd', 'none'] as const) {
      const body = write(codec);
      const metadata = parquetMetadata(arrayBuffer(body));
      expect(metadata.created_by).toBe(PARQUET_CREATED_BY);
      expect(metadata.num_rows).toBe(4n);
      const columns = Object.fromEntries(
        metadata.schema.slice(1).map((s) => [s.name, `${s.type}${s.converted_type ? `/${s.converted_type}` : ''}`]),
      );
      expect(columns).toEqual({
        kafka_partition: 'INT32',
        kafka_offset: 'INT64',
        kafka_timestamp: 'INT64/TIMESTAMP_MILLIS',
        kafka_key: 'BYTE_ARRAY',
        id: 'BYTE_ARRAY/UTF8',
        n: 'INT64', // all safe integers
        amount: 'DOUBLE', // int and double: widened
        ok: 'BOOLEAN',
        mixed: 'BYTE_ARRAY/UTF8', // number, string and boolean: JSON text
        tags: 'BYTE_ARRAY/JSON',
        maybe: 'BYTE_ARRAY/UTF8', // only ever null
        extra: 'BYTE_ARRAY/JSON',
      });
      const codecs = new Set(metadata.row_groups[0]!.columns.map((c) => c.meta_data!.codec));
      expect(codecs).toEqual(new Set([{ snappy: 'SNAPPY', gzip: 'GZIP', zstd: 'ZSTD', none: 'UNCOMPRESSED' }[codec]]));
      const offsetStats = metadata.row_groups[0]!.columns[1]!.meta_data!.statistics!;
      expect([offsetStats.min_value, offsetStats.max_value]).toEqual([100n, 103n]);
      const rows = await parquetReadObjects({ file: arrayBuffer(body), compressors });
      expect(rows.map((r) => r['mixed'])).toEqual(['1', 'two', null, 'false']);
      expect(rows.map((r) => r['amount'])).toEqual([10, 10.5, null, 7]);
      expect(rows[2]).toMatchObject({ kafka_offset: 102n, id: null, n: null }); // the tombstone
      expect(rows[1]!['kafka_key']).toBeNull();
    }
  });

  it('is deterministic: the same records give the same bytes', () => {
    expect(Buffer.from(write('zstd')).equals(Buffer.from(write('zstd')))).toBe(true);
    expect(Buffer.from(write('gzip')).equals(Buffer.from(write('gzip')))).toBe(true);
  });

  it('takes the schema from configuration; a value that does not fit, or is not a JSON object, is poison', async () => {
    const body = write('snappy', '{"id":"STRING","n":"INT64","amount":"DOUBLE","mixed":"STRING","tags":"JSON"}');
    const rows = await parquetReadObjects({ file: arrayBuffer(body), compressors });
    expect(Object.keys(rows[0]!)).toEqual([
      'kafka_partition',
      'kafka_offset',
      'kafka_timestamp',
      'kafka_key',
      'id',
      'n',
      'amount',
      'mixed',
      'tags',
    ]);
    expect(rows.map((r) => r['n'])).toEqual([1n, 2n, null, 3n]);
    const strict = createParquetFormat({ codec: 'snappy', schema: parseParquetSchema('{"n":"INT64","at":"TIMESTAMP"}') }).createWriter();
    expect(() => strict.write(record(1, { n: 1.5 }))).toThrow(PoisonRecordError);
    expect(() => strict.write(record(1, { at: 'yesterday' }))).toThrow(PoisonRecordError);
    strict.write(record(2, { n: 4, at: '2026-11-26T00:00:00Z' }));
    for (const bad of ['plain text', '[1,2]', '42', Buffer.from([0xff, 0xfe]), { kafka_offset: 1 }]) {
      expect(() => strict.write(record(3, bad))).toThrow(PoisonRecordError);
    }
    expect(strict.count).toBe(1);
    expect(() => parseParquetSchema('{"a":"CHAR"}')).toThrow('type must be one of');
    expect(() => loadConfig({ SINK_BUCKET: 'bucket-a', LEDGER_TABLE: 'ledger', SINK_PARQUET_SCHEMA: '{"a":"STRING"}' })).toThrow(
      'only used with SINK_FORMAT=parquet',
    );
    expect(loadConfig({ SINK_BUCKET: 'bucket-a', LEDGER_TABLE: 'ledger', SINK_FORMAT: 'parquet' }).compression).toBe('snappy');
  });

  it('through the sink: .parquet objects, never compressed again, every record once', async () => {
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    const sink = createSink({
      config: testConfig({ SINK_FORMAT: 'parquet', SINK_COMPRESSION: 'zstd', SINK_ROTATE_MAX_RECORDS: '7' }),
      ports,
      logger: silentLogger,
      metrics: silentMetrics,
    });
    const log = generateLog({ topic: 'orders', partition: 0, count: 30, random: rng(3), textRate: 0 }).filter(
      (r) => r.kind === 'json' || r.kind === 'tombstone',
    );
    await sink.handle(toKafkaEvent([{ topic: 'orders', partition: 0, records: log }]));
    const objects = [...ports.store.objects.values()];
    expect(objects.every((o) => o.key.endsWith('.parquet') && o.contentType === 'application/vnd.apache.parquet')).toBe(true);
    const lines = (await Promise.all(objects.map((o) => parquetLines(Buffer.from(o.body))))).flat();
    expect(lines.map((l) => l['offset'])).toEqual(log.map((r) => r.offset));
    expect(lines.map((l) => (l['value'] as { id?: string } | null)?.id ?? null)).toEqual(
      log.map((r) => (r.kind === 'json' ? `orders/0/${r.offset}` : null)),
    );
    expect(objects.every((o) => Number(o.metadata['record-count']) <= 7)).toBe(true);
  });
});

describe('raw bytes', () => {
  it('writes each value and the separator; tombstones are left out; a value holding the separator is poison', () => {
    const writer = createRawBytesFormat({ separator: parseSeparator('\\n') }).createWriter();
    writer.write(record(1, 'first'));
    writer.write(record(2, null));
    writer.write(record(3, Buffer.from([0xff, 0x00, 0x01])));
    writer.write(record(4, ''));
    expect(() => writer.write(record(5, 'two\nlines'))).toThrow(PoisonRecordError);
    expect(writer.count).toBe(3);
    expect(Buffer.from(writer.finish())).toEqual(
      Buffer.concat([Buffer.from('first\n'), Buffer.from([0xff, 0x00, 0x01, 0x0a]), Buffer.from('\n')]),
    );
    expect(Buffer.from(parseSeparator('\\r\\n'))).toEqual(Buffer.from('\r\n'));
    expect(Buffer.from(parseSeparator('|'))).toEqual(Buffer.from('|'));
    expect(() => parseSeparator('')).toThrow('1 to 16 bytes');
  });

  it('through the sink: .bin objects with the configured compression', async () => {
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    const sink = createSink({
      config: testConfig({ SINK_FORMAT: 'raw', SINK_RAW_SEPARATOR: '\\u0000', SINK_COMPRESSION: 'none' }),
      ports,
      logger: silentLogger,
      metrics: silentMetrics,
    });
    await sink.handle(
      toKafkaEvent([
        {
          topic: 'raw',
          partition: 0,
          records: [record(0, 'a'), record(1, 'b')].map((r) => ({
            ...r,
            topic: 'raw',
            partition: 0,
            key: null,
            value: Buffer.from(r.value!),
            kind: 'text' as const,
            headers: [],
            timestamp: r.timestamp!,
          })),
        },
      ]),
    );
    const [object] = [...ports.store.objects.values()];
    expect(object!.key).toBe('topics/raw/partition=0/raw+0+00000000000000000000.bin');
    expect(Buffer.from(object!.body).toString('latin1')).toBe('a\u0000b\u0000');
  });
});

import { describe, expect, it } from 'vitest';
import { type ConnectorConfigError, resolveConnectorConfig } from '../../infra/connector-config.ts';
import { MskS3Sink } from '../../infra/msk-s3-sink.ts';
import { loadConfig } from '../../lib/config/config.ts';
import { CLUSTER_ARN, newStack } from './support.ts';

const minimal = { topics: 'orders', 'msk.cluster.arn': CLUSTER_ARN } as const;
const settingsOf = (config: Record<string, unknown>) => resolveConnectorConfig({ ...minimal, ...config }).props(newStack()).sinkSettings;

/** Kafka Connect's partitioner and rotation keys → the function's SINK_* settings (docs/configuration.md). */
describe('connector configuration: data layout and rotation keys', () => {
  it('maps the storage partitioner keys', () => {
    expect(settingsOf({})).toEqual({});
    expect(
      settingsOf({
        'partitioner.class': 'io.confluent.connect.storage.partitioner.TimeBasedPartitioner',
        'path.format': "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
        'partition.duration.ms': '3600000',
        'timestamp.extractor': 'RecordField',
        'timestamp.field': 'event.time',
        timezone: 'Europe/Paris',
        locale: 'fr-FR',
        'rotate.interval.ms': 600_000,
        'sink.rotate.max.records': 5000,
        'sink.rotate.max.bytes': 67_108_864,
      }),
    ).toEqual({
      SINK_PARTITIONER: 'time',
      SINK_PATH_FORMAT: "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
      SINK_PARTITION_DURATION_MS: '3600000',
      SINK_TIMESTAMP_EXTRACTOR: 'RecordField',
      SINK_TIMESTAMP_FIELD: 'event.time',
      SINK_TIMEZONE: 'Europe/Paris',
      SINK_ROTATE_INTERVAL_MS: '600000',
      SINK_ROTATE_MAX_RECORDS: '5000',
      SINK_ROTATE_MAX_BYTES: '67108864',
    });
    expect(settingsOf({ 'partitioner.class': 'io.confluent.connect.storage.partitioner.DailyPartitioner' })).toEqual({
      SINK_PARTITIONER: 'time',
      SINK_PATH_FORMAT: "'year'=YYYY/'month'=MM/'day'=dd",
    });
    expect(
      settingsOf({ 'partitioner.class': 'io.confluent.connect.storage.partitioner.FieldPartitioner', 'partition.field.name': 'country' }),
    ).toEqual({
      SINK_PARTITIONER: 'field',
      SINK_PARTITION_FIELD: 'country',
    });
  });

  it('rejects what has no record-time meaning, and the function loader accepts what the app passes', () => {
    const problems = (config: Record<string, unknown>) => {
      try {
        resolveConnectorConfig({ ...minimal, ...config });
        return [];
      } catch (error) {
        return (error as ConnectorConfigError).problems;
      }
    };
    expect(problems({ 'timestamp.extractor': 'Wallclock' })[0]).toMatch(/Wallclock is not supported/);
    expect(problems({ 'rotate.schedule.interval.ms': 60_000 })[0]).toMatch(/wall clock/);
    expect(problems({ 'partitioner.class': 'com.example.Mine' })[0]).toMatch(/partitioner.class/);
    const sink = new MskS3Sink(newStack(), 'Sink', {
      ...resolveConnectorConfig({
        ...minimal,
        'partitioner.class': 'HourlyPartitioner',
        timezone: 'Asia/Kolkata',
        'rotate.interval.ms': 600_000,
      }).props(newStack()),
    });
    expect(loadConfig({ ...sink.environment, SINK_BUCKET: 'b-bucket', LEDGER_TABLE: 'ledger' }).layout?.timezone).toBe('Asia/Kolkata');
    expect(
      () =>
        new MskS3Sink(
          newStack(),
          'Sink',
          resolveConnectorConfig({ ...minimal, 'partitioner.class': 'FieldPartitioner' }).props(newStack()),
        ),
    ).toThrow('SINK_PARTITION_FIELD');
  });
});

describe('connector configuration: formats', () => {
  it('maps ParquetFormat (snappy by default, parquet.codec, a schema) and ByteArrayFormat (separator)', () => {
    expect(settingsOf({ 'format.class': 'io.confluent.connect.s3.format.parquet.ParquetFormat' })).toEqual({
      SINK_FORMAT: 'parquet',
      SINK_COMPRESSION: 'snappy',
    });
    expect(settingsOf({ 'format.class': 'parquet', 'parquet.codec': 'zstd', 'sink.parquet.schema': { id: 'STRING', n: 'INT64' } })).toEqual(
      {
        SINK_FORMAT: 'parquet',
        SINK_COMPRESSION: 'zstd',
        SINK_PARQUET_SCHEMA: '{"id":"STRING","n":"INT64"}',
      },
    );
    expect(
      settingsOf({ 'format.class': 'io.confluent.connect.s3.format.bytearray.ByteArrayFormat', 'format.bytearray.separator': '\\r\\n' }),
    ).toEqual({
      SINK_FORMAT: 'raw',
      SINK_RAW_SEPARATOR: '\\r\\n',
    });
    const sink = new MskS3Sink(newStack(), 'Sink', resolveConnectorConfig({ ...minimal, 'format.class': 'parquet' }).props(newStack()));
    expect(loadConfig({ ...sink.environment, SINK_BUCKET: 'b-bucket', LEDGER_TABLE: 'ledger' })).toMatchObject({
      format: 'parquet',
      compression: 'snappy',
    });
    expect(() => resolveConnectorConfig({ ...minimal, 'parquet.codec': 'zstd' })).toThrow('only used with format.class ParquetFormat');
    expect(() => resolveConnectorConfig({ ...minimal, 'format.class': 'avro' })).toThrow('format.class');
  });
});

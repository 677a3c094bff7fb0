import { describe, expect, it } from 'vitest';
import { ConnectorConfigError, resolveConnectorConfig } from '../../infra/connector-config.ts';
import { MskS3Sink } from '../../infra/msk-s3-sink.ts';
import { loadConfig, type SinkConfig } from '../../lib/config/config.ts';
import { parseSinkKeys } from '../../lib/config/connect-settings.ts';
import { resolveStandaloneConfig, StandaloneConfigError, type WorkerSinkConfig } from '../../lib/config/worker-config.ts';
import { parseProperties } from '../../lib/config/properties.ts';
import { CLUSTER_ARN, newStack } from './support.ts';

/**
 * The sink's keys mean the same in the CDK app's configuration and in the standalone worker's
 * properties file (lib/config/connect-settings.ts): the same SINK_* settings, the same problems.
 */
const cdkMinimal = { topics: 'orders', 'msk.cluster.arn': CLUSTER_ARN } as const;
const workerMinimal = {
  'bootstrap.servers': 'localhost:9092',
  topics: 'orders',
  'group.id': 'g',
  's3.bucket.name': 'b-bucket',
  'offset.storage.file.filename': 'offsets.json',
};

/** The CDK path: connector configuration → construct → the function's environment → loadConfig. */
function viaCdk(keys: Record<string, string>): { environment: Record<string, string>; sink: SinkConfig } {
  const sink = new MskS3Sink(newStack(), 'Sink', resolveConnectorConfig({ ...cdkMinimal, ...keys }).props(newStack()));
  const environment = { ...sink.environment, SINK_BUCKET: 'b-bucket', LEDGER_TABLE: 'ledger' };
  return { environment, sink: loadConfig(environment) };
}

/** The standalone path: a .properties file's text → the worker's sink configuration. */
function viaProperties(keys: Record<string, string>): WorkerSinkConfig {
  const text = Object.entries({ ...workerMinimal, ...keys })
    .map(([key, value]) => `${key}=${value.replaceAll('\\', '\\\\')}`)
    .join('\n');
  const raw = new Map([...parseProperties(text)].map(([key, entry]) => [key, entry.value]));
  return resolveStandaloneConfig(raw, {}, { baseDir: '/tmp' }).sink;
}

/** What the sink does with its settings (not where its ledger or bucket is). */
const behaviour = ({
  bucket: _b,
  ledgerTable: _l,
  aws: _a,
  reportBatchItemFailures: _r,
  ...rest
}: WorkerSinkConfig & { ledgerTable?: string }) => rest;

const problemsOf = (run: () => unknown): string[] => {
  try {
    run();
    return [];
  } catch (error) {
    if (error instanceof ConnectorConfigError || error instanceof StandaloneConfigError) return [...error.problems];
    throw error;
  }
};

describe('the sink keys: CDK configuration and standalone properties map alike', () => {
  const rows: ReadonlyArray<readonly [name: string, keys: Record<string, string>, expected: Record<string, string>]> = [
    [
      'HourlyPartitioner, timezone, rotate.interval.ms, ParquetFormat',
      {
        'partitioner.class': 'io.confluent.connect.storage.partitioner.HourlyPartitioner',
        timezone: 'Asia/Kolkata',
        'rotate.interval.ms': '600000',
        'format.class': 'io.confluent.connect.s3.format.parquet.ParquetFormat',
      },
      {
        SINK_PARTITIONER: 'time',
        SINK_PATH_FORMAT: "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
        SINK_TIMEZONE: 'Asia/Kolkata',
        SINK_ROTATE_INTERVAL_MS: '600000',
        SINK_FORMAT: 'parquet',
        SINK_COMPRESSION: 'snappy',
      },
    ],
    [
      'TimeBasedPartitioner with path.format, duration, RecordField, rotation limits',
      {
        'partitioner.class': 'TimeBasedPartitioner',
        'path.format': "'dt'=YYYY-MM-dd/'hour'=HH",
        'partition.duration.ms': '3600000',
        'timestamp.extractor': 'RecordField',
        'timestamp.field': 'event.time',
        locale: 'fr-FR',
        'sink.rotate.max.records': '5000',
        'sink.rotate.max.bytes': '67108864',
      },
      {
        SINK_PARTITIONER: 'time',
        SINK_PATH_FORMAT: "'dt'=YYYY-MM-dd/'hour'=HH",
        SINK_PARTITION_DURATION_MS: '3600000',
        SINK_TIMESTAMP_EXTRACTOR: 'RecordField',
        SINK_TIMESTAMP_FIELD: 'event.time',
        SINK_ROTATE_MAX_RECORDS: '5000',
        SINK_ROTATE_MAX_BYTES: '67108864',
      },
    ],
    [
      'FieldPartitioner',
      { 'partitioner.class': 'io.confluent.connect.storage.partitioner.FieldPartitioner', 'partition.field.name': 'country' },
      { SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' },
    ],
    [
      'DailyPartitioner',
      { 'partitioner.class': 'io.confluent.connect.storage.partitioner.DailyPartitioner' },
      { SINK_PARTITIONER: 'time', SINK_PATH_FORMAT: "'year'=YYYY/'month'=MM/'day'=dd" },
    ],
    [
      'ParquetFormat with parquet.codec and a schema',
      { 'format.class': 'parquet', 'parquet.codec': 'uncompressed', 'sink.parquet.schema': '{"id":"STRING","n":"INT64"}' },
      { SINK_FORMAT: 'parquet', SINK_COMPRESSION: 'none', SINK_PARQUET_SCHEMA: '{"id":"STRING","n":"INT64"}' },
    ],
    [
      'ParquetFormat with s3.compression.type',
      { 'format.class': 'parquet', 's3.compression.type': 'zstd' },
      { SINK_FORMAT: 'parquet', SINK_COMPRESSION: 'zstd' },
    ],
    [
      'ByteArrayFormat with a separator',
      { 'format.class': 'io.confluent.connect.s3.format.bytearray.ByteArrayFormat', 'format.bytearray.separator': '\\r\\n' },
      { SINK_FORMAT: 'raw', SINK_RAW_SEPARATOR: '\\r\\n' },
    ],
    [
      'prefix, compression, converter, errors, dead letters, concurrency',
      {
        'topics.dir': 'raw',
        's3.compression.type': 'zstd',
        'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'errors.tolerance': 'all',
        'errors.deadletterqueue.s3.prefix': 'dlq/',
        'sink.max.concurrency': '8',
        'format.class': 'io.confluent.connect.s3.format.json.JsonFormat',
      },
      {
        SINK_PREFIX: 'raw/',
        SINK_COMPRESSION: 'zstd',
        SINK_VALUE_CONVERTER: 'json',
        SINK_ERRORS_TOLERANCE: 'all',
        SINK_DEAD_LETTER_PREFIX: 'dlq/',
        SINK_MAX_CONCURRENCY: '8',
        SINK_FORMAT: 'jsonl',
      },
    ],
  ];

  it.each(rows)('%s', (_name, keys, expected) => {
    const cdk = viaCdk(keys);
    expect(cdk.environment).toMatchObject(expected);
    expect(parseSinkKeys(keys)).toEqual({ environment: expected, problems: [] });
    const standalone = viaProperties(keys);
    expect(behaviour(standalone)).toEqual(behaviour(cdk.sink));
  });

  it('the standalone worker reports the same problems as the CDK configuration', () => {
    const bad: ReadonlyArray<Record<string, string>> = [
      { 'partitioner.class': 'com.example.Mine' },
      { 'timestamp.extractor': 'Wallclock' },
      { 'format.class': 'avro' },
      { 'parquet.codec': 'zstd' },
      { 'format.class': 'parquet', 'parquet.codec': 'zstd', 's3.compression.type': 'gzip' },
      { 'format.bytearray.separator': '\\n' },
      { locale: 'not_a_locale!' },
      { 'value.converter': 'avro' },
      { 'partition.duration.ms': '1000' },
      { 's3.compression.type': 'brotli' },
    ];
    for (const keys of bad) {
      const cdk = problemsOf(() => resolveConnectorConfig({ ...cdkMinimal, ...keys }));
      const standalone = problemsOf(() => resolveStandaloneConfig({ ...workerMinimal, ...keys }, {}, { baseDir: '/tmp' }));
      expect(cdk.length, JSON.stringify(keys)).toBeGreaterThan(0);
      expect(standalone, JSON.stringify(keys)).toEqual(cdk);
    }
  });

  it("the standalone worker no longer rejects the layout keys, and words the function loader's problems by key", () => {
    expect(problemsOf(() => resolveStandaloneConfig({ ...workerMinimal, 'path.format': 'YYYY' }, {}, { baseDir: '/tmp' }))).toEqual([
      'path.format: time fields need partitioner.class=time',
    ]);
    expect(
      problemsOf(() => resolveStandaloneConfig({ ...workerMinimal, 'partitioner.class': 'FieldPartitioner' }, {}, { baseDir: '/tmp' })),
    ).toEqual(['partition.field.name: required with partitioner.class=field']);
  });
});

/**
 * The configuration loader reads the environment without zod (lighter cold start); the zod
 * schema it replaced is kept as an oracle (test/support/config-zod-oracle.ts). On random
 * environments, built from each setting's valid values, its edges and arbitrary text, both
 * must give the same configuration, or fail with the same message, byte for byte.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/config.ts';
import { loadConfig as loadConfigWithZod } from '../support/config-zod-oracle.ts';

type Outcome = { config: unknown } | { error: string };

function outcome(load: (env: Record<string, string>) => unknown, env: Record<string, string>): Outcome {
  try {
    return { config: load(env) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

const text = fc.string({ maxLength: 12 });
const anyOf = (...values: ReadonlyArray<string | fc.Arbitrary<string>>): fc.Arbitrary<string> =>
  fc.oneof(...values.map((value) => (typeof value === 'string' ? fc.constant(value) : value)));

/** Numbers as text: in and out of every bound, not whole, not numbers, and what `Number()` reads oddly. */
const numberText = anyOf(
  '0',
  '1',
  '4',
  '16',
  '256',
  '257',
  '-1',
  '-0',
  '1.5',
  '1e3',
  '0x10',
  ' 8 ',
  '',
  'abc',
  'Infinity',
  '-Infinity',
  '1e400',
  '1023',
  '1024',
  '59999',
  '60000',
  '2678400000',
  '2678400001',
  '1000000',
  '1000001',
  '5368709120',
  '5368709121',
  '9007199254740991',
  '9007199254740993',
  '-9007199254740993',
  fc.integer().map(String),
  fc.double().map(String),
  text,
);
const urlText = anyOf(
  'http://127.0.0.1:4566',
  'https://s3.example.com',
  ' http://localhost:1 ',
  'http://a\tb:1',
  'HTTP://LOCALHOST',
  'localhost:4566',
  'ftp://x',
  'http:x',
  'http://',
  'https:/path',
  'http://[::1]:9',
  '',
  fc.webUrl(),
  text,
);
const prefixText = anyOf('topics/', 'raw/kafka', 'dead-letters', 'dlq/', 'topics/dl/', '', '/abs', 'x'.repeat(900), 'é'.repeat(400), text);

const settings: Record<string, fc.Arbitrary<string>> = {
  SINK_BUCKET: anyOf('my-sink-bucket', 'ab', 'abc', 'Bad_Bucket', '', 'a'.repeat(63), 'a'.repeat(64), text),
  SINK_PREFIX: prefixText,
  LEDGER_TABLE: anyOf('sink-ledger', 'ab', 'x'.repeat(255), 'x'.repeat(256), '', text),
  SINK_FORMAT: anyOf('jsonl', 'raw', 'parquet', 'csv', 'JSONL', ''),
  SINK_COMPRESSION: anyOf('gzip', 'zstd', 'none', 'snappy', 'lz4', ''),
  SINK_RAW_SEPARATOR: anyOf('\\n', '\\r\\n', '\\u0000', ',', '', 'abc', text),
  SINK_PARQUET_SCHEMA: anyOf('{"a":"STRING"}', '{"a":"INT64","b":"BOOLEAN","c":"TIMESTAMP"}', '{}', 'bad', '', text),
  SINK_ERRORS_TOLERANCE: anyOf('none', 'all', 'some', ''),
  SINK_DEAD_LETTER_PREFIX: prefixText,
  SINK_VALUE_CONVERTER: anyOf('auto', 'json', 'avro', ''),
  SINK_REPORT_BATCH_ITEM_FAILURES: anyOf('true', 'false', 'TRUE', '1', ''),
  SINK_MAX_CONCURRENCY: numberText,
  SINK_PARTITIONER: anyOf('default', 'time', 'field', 'hourly', ''),
  SINK_PATH_FORMAT: anyOf(
    'year={{timestamp:unit=yyyy}}/hour={{timestamp:unit=HH}}',
    'hour={{timestamp:unit=HH}}',
    'HH',
    'region={{field}}',
    'partition={p}',
    '',
    'x'.repeat(512),
    'x'.repeat(513),
    '{{bogus}}',
    text,
  ),
  SINK_PARTITION_DURATION_MS: numberText,
  SINK_TIMESTAMP_EXTRACTOR: anyOf('Record', 'RecordField', 'Wallclock', 'record', ''),
  SINK_TIMESTAMP_FIELD: anyOf('ts', 'a.b', 'a..b', '.a', '', text),
  SINK_TIMEZONE: anyOf('UTC', 'Etc/UTC', 'Europe/Paris', 'Asia/Kolkata', 'utc', '', 'Mars/Olympus', text),
  SINK_PARTITION_FIELD: anyOf('region', '', text),
  SINK_ROTATE_MAX_RECORDS: numberText,
  SINK_ROTATE_MAX_BYTES: numberText,
  SINK_ROTATE_INTERVAL_MS: numberText,
  AWS_REGION: anyOf('eu-west-1', '', text),
  AWS_ENDPOINT_URL: urlText,
  AWS_ENDPOINT_URL_S3: urlText,
  AWS_ENDPOINT_URL_DYNAMODB: urlText,
  SINK_BOGUS: text,
  HOME: text,
};

/** An environment: the two required settings usually there and valid, a few others at random. */
const environment = fc
  .tuple(
    fc.record(
      {
        SINK_BUCKET: fc.oneof({ weight: 4, arbitrary: fc.constant('my-sink-bucket') }, settings['SINK_BUCKET']!),
        LEDGER_TABLE: fc.oneof({ weight: 4, arbitrary: fc.constant('sink-ledger') }, settings['LEDGER_TABLE']!),
      },
      { requiredKeys: [] },
    ),
    fc
      .record(settings, { requiredKeys: [] })
      .chain((all) =>
        fc.subarray(Object.keys(all), { maxLength: 6 }).map((keys) => Object.fromEntries(keys.map((key) => [key, all[key]!]))),
      ),
  )
  .map(([required, others]) => ({ ...required, ...others }) as Record<string, string>);

describe('the configuration loader without zod', () => {
  it('loads, rejects and words every environment as the zod schema did', () => {
    fc.assert(
      fc.property(environment, (env) => {
        expect(outcome(loadConfig, env)).toEqual(outcome(loadConfigWithZod, env));
      }),
      { numRuns: 2500 },
    );
  });

  it('agrees on every value of each setting alone (beside valid required ones)', () => {
    for (const [name, values] of Object.entries(settings)) {
      for (const value of fc.sample(values, 150)) {
        const env = { SINK_BUCKET: 'my-sink-bucket', LEDGER_TABLE: 'sink-ledger', [name]: value };
        expect(outcome(loadConfig, env), `${name}=${JSON.stringify(value)}`).toEqual(outcome(loadConfigWithZod, env));
      }
    }
  });
});

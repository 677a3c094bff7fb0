// No zod at run time: this module is in both Lambda bundles and runs at every cold start, where
// zod (even zod/mini, with its English messages) cost 30 KB of bundle, and loading this module
// and reading the environment took about 20 ms of CPU instead of 7. The checks below word every
// problem as the zod schema they replace did ("Too small: expected number to be >=1"), byte for
// byte: test/unit/config-oracle.test.ts compares them with that schema (kept as
// test/support/config-zod-oracle.ts) on random environments.
import { ErrorsTolerance } from '../delivery/options.ts';
import { ConfigurationError } from '../core/errors.ts';
import { parseParquetSchema, type ParquetColumnType } from '../format/parquet.ts';
import { parseSeparator } from '../format/raw-bytes.ts';
import { CompressionName, ValueConverter } from '../format/record-format.ts';
import {
  DEFAULT_LAYOUT,
  layoutProblems,
  longestFixedKeyBytes,
  PartitionerName,
  S3_KEY_LIMIT_BYTES,
  TimestampExtractor,
  UNPARTITIONED_PATH,
  type LayoutSettings,
  type RotationSettings,
} from '../layout/layout.ts';
import { type Problem, SettingsReader } from './settings-reader.ts';

/**
 * The sink's settings: what it writes and how (format, layout, rotation, prefixes, error
 * handling), validated on their own, with no bucket or table: the CDK construct checks them at
 * synth, before the bucket and the table have names.
 */
export interface SinkSettings {
  /** Ends in `/`. */
  readonly prefix: string;
  /** `jsonl`, `raw` (values and a separator) or `parquet`. */
  readonly format: 'jsonl' | 'raw' | 'parquet';
  /** For Parquet, its page codec (also `snappy`, its default); otherwise the object's compression. */
  readonly compression: CompressionName | 'snappy';
  /** Raw bytes: the separator after each value; undefined: `\n`. */
  readonly rawSeparator?: Uint8Array;
  /** Parquet: the configured value columns; undefined: inferred per object. */
  readonly parquetSchema?: ReadonlyArray<readonly [string, ParquetColumnType]>;
  readonly errorsTolerance: ErrorsTolerance;
  /** Ends in `/`; never inside `prefix`. */
  readonly deadLetterPrefix: string;
  readonly valueConverter: ValueConverter;
  readonly reportBatchItemFailures: boolean;
  readonly maxConcurrency: number;
  /** Partitioner and path template (lib/layout/layout.ts); undefined: the default layout, `partition={p}`. */
  readonly layout?: LayoutSettings;
  /** Rotation limits; undefined: one object per partition per batch (unless the path changes). */
  readonly rotation?: RotationSettings;
}

/** Where the storage is: the bucket, and the region and endpoints of the AWS clients. */
export interface StorageBindings {
  readonly bucket: string;
  readonly aws: {
    readonly region: string | undefined;
    readonly s3Endpoint: string | undefined;
    readonly dynamoDbEndpoint: string | undefined;
  };
}

/** The sink's bindings: the storage and the ledger table. */
export interface SinkBindings extends StorageBindings {
  readonly ledgerTable: string;
}

/** The sink's validated configuration: its settings and its bindings. */
export interface SinkConfig extends SinkSettings, SinkBindings {}

/**
 * The environment variables the function reads, with their defaults. The names in the first
 * block are part of the product's interface (DESIGN.md); the `SINK_*` settings are ours.
 */
export const SINK_SETTINGS = [
  'SINK_BUCKET',
  'SINK_PREFIX',
  'LEDGER_TABLE',
  'SINK_FORMAT',
  'SINK_COMPRESSION',
  'SINK_ERRORS_TOLERANCE',
  'SINK_DEAD_LETTER_PREFIX',
  'SINK_VALUE_CONVERTER',
  'SINK_REPORT_BATCH_ITEM_FAILURES',
  'SINK_MAX_CONCURRENCY',
  'SINK_PARTITIONER',
  'SINK_PATH_FORMAT',
  'SINK_PARTITION_DURATION_MS',
  'SINK_TIMESTAMP_EXTRACTOR',
  'SINK_TIMESTAMP_FIELD',
  'SINK_TIMEZONE',
  'SINK_PARTITION_FIELD',
  'SINK_ROTATE_MAX_RECORDS',
  'SINK_ROTATE_MAX_BYTES',
  'SINK_ROTATE_INTERVAL_MS',
  'SINK_RAW_SEPARATOR',
  'SINK_PARQUET_SCHEMA',
] as const;

/** The longest object extension a format and compression give (`.jsonl.zst`). */
const LONGEST_EXTENSION = '.jsonl.zst';

/** The settings once read: defaults applied, numbers parsed, prefixes ending in `/`. */
interface SettingsEnvironment {
  SINK_PREFIX: string;
  SINK_FORMAT: 'jsonl' | 'raw' | 'parquet';
  SINK_COMPRESSION?: CompressionName | 'snappy' | undefined;
  SINK_RAW_SEPARATOR?: string | undefined;
  SINK_PARQUET_SCHEMA?: string | undefined;
  SINK_ERRORS_TOLERANCE: ErrorsTolerance;
  SINK_DEAD_LETTER_PREFIX: string;
  SINK_VALUE_CONVERTER: ValueConverter;
  SINK_REPORT_BATCH_ITEM_FAILURES: 'true' | 'false';
  SINK_MAX_CONCURRENCY: number;
  SINK_PARTITIONER: PartitionerName;
  SINK_PATH_FORMAT?: string | undefined;
  SINK_PARTITION_DURATION_MS?: number | undefined;
  SINK_TIMESTAMP_EXTRACTOR: TimestampExtractor;
  SINK_TIMESTAMP_FIELD?: string | undefined;
  SINK_TIMEZONE: string;
  SINK_PARTITION_FIELD?: string | undefined;
  SINK_ROTATE_MAX_RECORDS?: number | undefined;
  SINK_ROTATE_MAX_BYTES?: number | undefined;
  SINK_ROTATE_INTERVAL_MS?: number | undefined;
}

/** The bindings once read. */
interface BindingsEnvironment {
  SINK_BUCKET: string;
  LEDGER_TABLE: string;
  AWS_REGION?: string | undefined;
  AWS_ENDPOINT_URL?: string | undefined;
  AWS_ENDPOINT_URL_S3?: string | undefined;
  AWS_ENDPOINT_URL_DYNAMODB?: string | undefined;
}

/** Reads every setting (no binding) into `read`. */
function readSettings(read: SettingsReader): SettingsEnvironment {
  return {
    SINK_PREFIX: read.prefix('SINK_PREFIX', 'topics/'),
    SINK_FORMAT: read.option('SINK_FORMAT', ['jsonl', 'raw', 'parquet'] as const) ?? 'jsonl',
    SINK_COMPRESSION: read.option('SINK_COMPRESSION', [...Object.values(CompressionName), 'snappy'] as const),
    SINK_RAW_SEPARATOR: read.string('SINK_RAW_SEPARATOR'),
    SINK_PARQUET_SCHEMA: read.string('SINK_PARQUET_SCHEMA'),
    SINK_ERRORS_TOLERANCE: read.option('SINK_ERRORS_TOLERANCE', Object.values(ErrorsTolerance)) ?? ErrorsTolerance.none,
    SINK_DEAD_LETTER_PREFIX: read.prefix('SINK_DEAD_LETTER_PREFIX', 'dead-letters/'),
    SINK_VALUE_CONVERTER: read.option('SINK_VALUE_CONVERTER', Object.values(ValueConverter)) ?? ValueConverter.auto,
    SINK_REPORT_BATCH_ITEM_FAILURES: read.option('SINK_REPORT_BATCH_ITEM_FAILURES', ['true', 'false'] as const) ?? 'false',
    SINK_MAX_CONCURRENCY: read.integer('SINK_MAX_CONCURRENCY', 1, 256) ?? 16,
    SINK_PARTITIONER: read.option('SINK_PARTITIONER', Object.values(PartitionerName)) ?? PartitionerName.default,
    SINK_PATH_FORMAT: read.string('SINK_PATH_FORMAT', { min: 1, max: 512 }),
    SINK_PARTITION_DURATION_MS: read.integer('SINK_PARTITION_DURATION_MS', 60_000, 31 * 86_400_000),
    SINK_TIMESTAMP_EXTRACTOR:
      read.option(
        'SINK_TIMESTAMP_EXTRACTOR',
        Object.values(TimestampExtractor),
        'SINK_TIMESTAMP_EXTRACTOR must be Record or RecordField (never the wall clock: keys must be a function of the records)',
      ) ?? TimestampExtractor.record,
    SINK_TIMESTAMP_FIELD: read.string('SINK_TIMESTAMP_FIELD', {
      pattern: [/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'SINK_TIMESTAMP_FIELD must be a field name or a dotted path (a.b)'],
    }),
    SINK_TIMEZONE: read.string('SINK_TIMEZONE', { min: 1 }) ?? 'UTC',
    SINK_PARTITION_FIELD: read.string('SINK_PARTITION_FIELD', { min: 1 }),
    SINK_ROTATE_MAX_RECORDS: read.integer('SINK_ROTATE_MAX_RECORDS', 1, 1_000_000),
    SINK_ROTATE_MAX_BYTES: read.integer('SINK_ROTATE_MAX_BYTES', 1024, 5 * 1024 ** 3),
    SINK_ROTATE_INTERVAL_MS: read.integer('SINK_ROTATE_INTERVAL_MS', 1),
  };
}

/** Reads the bindings into `read`; `ledgerTable: false` leaves the table out (a worker with a file ledger has none). */
function readBindings(read: SettingsReader, options: { readonly ledgerTable: boolean }): BindingsEnvironment {
  return {
    SINK_BUCKET: read.required('SINK_BUCKET', /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'SINK_BUCKET must be an S3 bucket name'),
    LEDGER_TABLE: options.ledgerTable
      ? read.required('LEDGER_TABLE', /^[a-zA-Z0-9_.-]{3,255}$/, 'LEDGER_TABLE must be a DynamoDB table name')
      : '',
    AWS_REGION: read.string('AWS_REGION', { min: 1 }),
    AWS_ENDPOINT_URL: read.url('AWS_ENDPOINT_URL'),
    AWS_ENDPOINT_URL_S3: read.url('AWS_ENDPOINT_URL_S3'),
    AWS_ENDPOINT_URL_DYNAMODB: read.url('AWS_ENDPOINT_URL_DYNAMODB'),
  };
}

/**
 * The order in which problems are reported: the environment's (bucket, prefix, table, then the
 * other settings, then the AWS variables), whichever reader found them, so that a message reads
 * the same whether settings and bindings are checked together or not.
 */
const REPORT_ORDER: readonly string[] = [
  'SINK_BUCKET',
  'SINK_PREFIX',
  'LEDGER_TABLE',
  'SINK_FORMAT',
  'SINK_COMPRESSION',
  'SINK_RAW_SEPARATOR',
  'SINK_PARQUET_SCHEMA',
  'SINK_ERRORS_TOLERANCE',
  'SINK_DEAD_LETTER_PREFIX',
  'SINK_VALUE_CONVERTER',
  'SINK_REPORT_BATCH_ITEM_FAILURES',
  'SINK_MAX_CONCURRENCY',
  'SINK_PARTITIONER',
  'SINK_PATH_FORMAT',
  'SINK_PARTITION_DURATION_MS',
  'SINK_TIMESTAMP_EXTRACTOR',
  'SINK_TIMESTAMP_FIELD',
  'SINK_TIMEZONE',
  'SINK_PARTITION_FIELD',
  'SINK_ROTATE_MAX_RECORDS',
  'SINK_ROTATE_MAX_BYTES',
  'SINK_ROTATE_INTERVAL_MS',
  'AWS_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL_DYNAMODB',
];

/**
 * Reads what `parts` asks for; the problems, and the values when there are none. The problems of
 * single variables come first, in `REPORT_ORDER` (a stable sort keeps each variable's own order);
 * the checks across settings run only when no problem is fatal, and come last.
 */
function readEnvironment(
  input: Readonly<Record<string, string | undefined>>,
  parts: { readonly bindings: false | { readonly ledgerTable: boolean } },
): { settings: SettingsEnvironment | undefined; bindings: BindingsEnvironment | undefined; problems: Problem[] } {
  const read = new SettingsReader(input);
  const bindings = parts.bindings ? readBindings(read, parts.bindings) : undefined;
  const settings = readSettings(read);
  const rank = (problem: Problem) => REPORT_ORDER.indexOf(problem.name);
  const problems = read.problems.splice(0).sort((a, b) => rank(a) - rank(b));
  if (problems.some((problem) => problem.fatal)) return { settings: undefined, bindings: undefined, problems };
  crossCheck(settings, read);
  problems.push(...read.problems);
  return problems.length === 0 ? { settings, bindings, problems } : { settings: undefined, bindings: undefined, problems };
}

/** The checks across settings, once each setting has a value. */
function crossCheck(env: SettingsEnvironment, read: SettingsReader): void {
  const sink = env.SINK_PREFIX;
  const dead = env.SINK_DEAD_LETTER_PREFIX;
  if (dead.startsWith(sink) || sink.startsWith(dead)) {
    read.add('SINK_DEAD_LETTER_PREFIX', `SINK_DEAD_LETTER_PREFIX "${dead}" must lie outside SINK_PREFIX "${sink}" (and not contain it)`);
  }
  const issue = (name: string, message: string) => read.add(name, `${name}: ${message}`);
  // A dead letter, and the `_unpartitioned` object that covers a poison record's range, must
  // fit S3's key limit whatever the topic, or one poison record could stall its partition.
  const keyRoom: Array<[string, string, string | undefined, string]> = [
    ['SINK_PREFIX', sink, UNPARTITIONED_PATH, LONGEST_EXTENSION],
    ['SINK_DEAD_LETTER_PREFIX', dead, undefined, '.json'],
  ];
  for (const [name, value, path, extension] of keyRoom) {
    const over = longestFixedKeyBytes(value, path, extension) - S3_KEY_LIMIT_BYTES;
    if (over > 0) {
      const bytes = new TextEncoder().encode(value).length;
      issue(
        name,
        `${bytes} bytes; at most ${bytes - over}, so that every key fits S3's 1,024 bytes with any topic name (up to 249 characters)`,
      );
    }
  }
  if (env.SINK_COMPRESSION === 'snappy' && env.SINK_FORMAT !== 'parquet')
    issue('SINK_COMPRESSION', 'snappy is a Parquet codec; use gzip, zstd or none');
  if (env.SINK_RAW_SEPARATOR !== undefined) {
    if (env.SINK_FORMAT !== 'raw') issue('SINK_RAW_SEPARATOR', 'only used with SINK_FORMAT=raw');
    try {
      parseSeparator(env.SINK_RAW_SEPARATOR);
    } catch (error) {
      issue('SINK_RAW_SEPARATOR', (error as Error).message);
    }
  }
  if (env.SINK_PARQUET_SCHEMA !== undefined) {
    if (env.SINK_FORMAT !== 'parquet') issue('SINK_PARQUET_SCHEMA', 'only used with SINK_FORMAT=parquet');
    try {
      parseParquetSchema(env.SINK_PARQUET_SCHEMA);
    } catch (error) {
      issue('SINK_PARQUET_SCHEMA', (error as Error).message);
    }
  }
  for (const problem of layoutProblems(layoutOf(env))) read.add(problem.slice(0, problem.indexOf(':')), problem);
}

function layoutOf(
  env: Pick<
    SettingsEnvironment,
    | 'SINK_PARTITIONER'
    | 'SINK_PATH_FORMAT'
    | 'SINK_PARTITION_DURATION_MS'
    | 'SINK_TIMESTAMP_EXTRACTOR'
    | 'SINK_TIMESTAMP_FIELD'
    | 'SINK_TIMEZONE'
    | 'SINK_PARTITION_FIELD'
  >,
): LayoutSettings {
  return {
    partitioner: env.SINK_PARTITIONER,
    pathFormat: env.SINK_PATH_FORMAT,
    partitionDurationMs: env.SINK_PARTITION_DURATION_MS,
    timestampExtractor: env.SINK_TIMESTAMP_EXTRACTOR,
    timestampField: env.SINK_TIMESTAMP_FIELD,
    timezone: env.SINK_TIMEZONE,
    partitionField: env.SINK_PARTITION_FIELD,
  };
}

/** Throws every problem in one `ConfigurationError`, unknown `SINK_*` variables first. */
function check(unknown: readonly string[], found: readonly Problem[]): void {
  const problems = [
    ...unknown.map((name) => `${name} is not a setting of this sink (known: ${SINK_SETTINGS.join(', ')})`),
    ...found.map(({ name, message }) => (message.includes(name) ? message : `${name}: ${message}`)),
  ];
  if (problems.length > 0) throw new ConfigurationError(`Invalid sink configuration: ${problems.join('; ')}`);
}

/** The `SINK_*` variables of `env` that are no setting of this sink: a misspelt setting is an error, not ignored. */
function unknownSettings(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set<string>(SINK_SETTINGS);
  return Object.keys(env).filter((name) => name.startsWith('SINK_') && !known.has(name));
}

/**
 * Reads and validates the sink's settings alone; the bindings' variables (`SINK_BUCKET`,
 * `LEDGER_TABLE`, `AWS_*`) are not looked at. Every problem is reported in one
 * `ConfigurationError`, worded as `loadConfig` words it.
 */
export function loadSettings(env: Readonly<Record<string, string | undefined>>): SinkSettings {
  const { settings, problems } = readEnvironment(env, { bindings: false });
  check(unknownSettings(env), problems);
  return toSettings(settings!);
}

/**
 * Reads and validates the settings and the storage bindings (the bucket, the region and the
 * endpoints), without a ledger table: the standalone worker with a file ledger has none.
 */
export function loadStorageConfig(env: Readonly<Record<string, string | undefined>>): SinkSettings & StorageBindings {
  const { settings, bindings, problems } = readEnvironment(env, { bindings: { ledgerTable: false } });
  check(unknownSettings(env), problems);
  return { ...toSettings(settings!), ...toStorageBindings(bindings!) };
}

/**
 * Reads and validates the configuration from an environment (the function passes
 * `process.env` once, at cold start): the settings and every binding. Every problem is reported
 * in one `ConfigurationError`; an unknown `SINK_*` variable is an error too, so that a misspelt
 * setting is not silently ignored.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): SinkConfig {
  const { settings, bindings, problems } = readEnvironment(env, { bindings: { ledgerTable: true } });
  check(unknownSettings(env), problems);
  return { ...toSettings(settings!), ...toStorageBindings(bindings!), ledgerTable: bindings!.LEDGER_TABLE };
}

function toStorageBindings(env: BindingsEnvironment): StorageBindings {
  return {
    bucket: env.SINK_BUCKET,
    aws: {
      region: env.AWS_REGION,
      s3Endpoint: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
      dynamoDbEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL,
    },
  };
}

function toSettings(env: SettingsEnvironment): SinkSettings {
  const layout = layoutOf(env);
  const isDefaultLayout = (Object.keys(DEFAULT_LAYOUT) as Array<keyof LayoutSettings>).every(
    (name) => layout[name] === DEFAULT_LAYOUT[name],
  );
  const rotation: RotationSettings = {
    maxRecords: env.SINK_ROTATE_MAX_RECORDS,
    maxBytes: env.SINK_ROTATE_MAX_BYTES,
    intervalMs: env.SINK_ROTATE_INTERVAL_MS,
  };
  const rotates = Object.values(rotation).some((value) => value !== undefined);
  return {
    prefix: env.SINK_PREFIX,
    format: env.SINK_FORMAT,
    compression: env.SINK_COMPRESSION ?? (env.SINK_FORMAT === 'parquet' ? 'snappy' : CompressionName.gzip),
    ...(env.SINK_RAW_SEPARATOR === undefined ? {} : { rawSeparator: parseSeparator(env.SINK_RAW_SEPARATOR) }),
    ...(env.SINK_PARQUET_SCHEMA === undefined ? {} : { parquetSchema: parseParquetSchema(env.SINK_PARQUET_SCHEMA) }),
    errorsTolerance: env.SINK_ERRORS_TOLERANCE,
    deadLetterPrefix: env.SINK_DEAD_LETTER_PREFIX,
    valueConverter: env.SINK_VALUE_CONVERTER,
    reportBatchItemFailures: env.SINK_REPORT_BATCH_ITEM_FAILURES === 'true',
    maxConcurrency: env.SINK_MAX_CONCURRENCY,
    ...(isDefaultLayout ? {} : { layout }),
    ...(rotates ? { rotation } : {}),
  };
}

/**
 * The configuration loader as it was with zod (lib/config/config.ts up to the change that parses the
 * environment without zod at run time, to lighten the functions' cold start), kept unchanged
 * as the oracle of test/unit/config-oracle.test.ts: the loader of today must accept, reject and
 * word every environment exactly as this one does.
 */
// zod/mini, not classic zod: this module is in both Lambda bundles, and mini's functional API
// tree-shakes: about 31 KB of zod in the bundle instead of 455 KB, and some 20 ms less module
// initialisation at cold start. A namespace import: `import { z }` defeats the tree-shaking.
import * as z from 'zod/mini';
// Classic zod registers English messages globally on import; mini has no locale, so the English
// messages some problems are worded with ("Too small: expected number to be >=1") are passed to
// the parse (see loadConfig). Imported alone, not as `z.locales.en`, which would bundle every locale.
import { en } from 'zod/locales';
import { ErrorsTolerance } from '../../lib/delivery/options.ts';
import { ConfigurationError } from '../../lib/core/errors.ts';
import { parseParquetSchema, type ParquetColumnType } from '../../lib/format/parquet.ts';
import { parseSeparator } from '../../lib/format/raw-bytes.ts';
import { CompressionName, ValueConverter } from '../../lib/format/record-format.ts';
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
} from '../../lib/layout/layout.ts';

/** The sink's validated configuration. */
export interface SinkConfig {
  readonly bucket: string;
  /** Ends in `/`. */
  readonly prefix: string;
  readonly ledgerTable: string;
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
  readonly aws: {
    readonly region: string | undefined;
    readonly s3Endpoint: string | undefined;
    readonly dynamoDbEndpoint: string | undefined;
  };
}

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

const prefix = (name: string, fallback: string) =>
  z
    .pipe(
      z._default(z.string(), fallback),
      z.transform((value: string) => (value === '' || value.endsWith('/') ? value : `${value}/`)),
    )
    .check(
      z.refine((value) => !value.startsWith('/'), `${name} must not start with "/"`),
      z.refine((value) => value !== '', `${name} must not be empty (dead letters need a prefix outside the sink's)`),
    );

/** The longest object extension a format and compression give (`.jsonl.zst`). */
const LONGEST_EXTENSION = '.jsonl.zst';

const optionalUrl = z.optional(z.url({ protocol: /^https?$/ }));

const EnvironmentSchema = z
  .object({
    SINK_BUCKET: z
      .string({ error: 'SINK_BUCKET is required' })
      .check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'SINK_BUCKET must be an S3 bucket name')),
    SINK_PREFIX: prefix('SINK_PREFIX', 'topics/'),
    LEDGER_TABLE: z
      .string({ error: 'LEDGER_TABLE is required' })
      .check(z.regex(/^[a-zA-Z0-9_.-]{3,255}$/, 'LEDGER_TABLE must be a DynamoDB table name')),
    SINK_FORMAT: z._default(z.enum(['jsonl', 'raw', 'parquet']), 'jsonl'),
    SINK_COMPRESSION: z.optional(z.enum([...Object.values(CompressionName), 'snappy'])),
    SINK_RAW_SEPARATOR: z.optional(z.string()),
    SINK_PARQUET_SCHEMA: z.optional(z.string()),
    SINK_ERRORS_TOLERANCE: z._default(z.enum(Object.values(ErrorsTolerance)), ErrorsTolerance.none),
    SINK_DEAD_LETTER_PREFIX: prefix('SINK_DEAD_LETTER_PREFIX', 'dead-letters/'),
    SINK_VALUE_CONVERTER: z._default(z.enum(Object.values(ValueConverter)), ValueConverter.auto),
    SINK_REPORT_BATCH_ITEM_FAILURES: z._default(z.enum(['true', 'false']), 'false'),
    SINK_MAX_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(256)), 16),
    SINK_PARTITIONER: z._default(z.enum(Object.values(PartitionerName)), PartitionerName.default),
    SINK_PATH_FORMAT: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
    SINK_PARTITION_DURATION_MS: z.optional(z.coerce.number().check(z.int(), z.gte(60_000), z.lte(31 * 86_400_000))),
    SINK_TIMESTAMP_EXTRACTOR: z._default(
      z.enum(Object.values(TimestampExtractor), {
        error: 'SINK_TIMESTAMP_EXTRACTOR must be Record or RecordField (never the wall clock: keys must be a function of the records)',
      }),
      TimestampExtractor.record,
    ),
    SINK_TIMESTAMP_FIELD: z.optional(
      z
        .string()
        .check(z.regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'SINK_TIMESTAMP_FIELD must be a field name or a dotted path (a.b)')),
    ),
    SINK_TIMEZONE: z._default(z.string().check(z.minLength(1)), 'UTC'),
    SINK_PARTITION_FIELD: z.optional(z.string().check(z.minLength(1))),
    SINK_ROTATE_MAX_RECORDS: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(1_000_000))),
    SINK_ROTATE_MAX_BYTES: z.optional(z.coerce.number().check(z.int(), z.gte(1024), z.lte(5 * 1024 ** 3))),
    SINK_ROTATE_INTERVAL_MS: z.optional(z.coerce.number().check(z.int(), z.gte(1))),
    AWS_REGION: z.optional(z.string().check(z.minLength(1))),
    AWS_ENDPOINT_URL: optionalUrl,
    AWS_ENDPOINT_URL_S3: optionalUrl,
    AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  })
  .check(
    z.superRefine((env, context) => {
      const sink = env.SINK_PREFIX;
      const dead = env.SINK_DEAD_LETTER_PREFIX;
      if (dead.startsWith(sink) || sink.startsWith(dead)) {
        context.addIssue({
          code: 'custom',
          path: ['SINK_DEAD_LETTER_PREFIX'],
          message: `SINK_DEAD_LETTER_PREFIX "${dead}" must lie outside SINK_PREFIX "${sink}" (and not contain it)`,
        });
      }
      const issue = (name: string, message: string) => context.addIssue({ code: 'custom', path: [name], message: `${name}: ${message}` });
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
      for (const problem of layoutProblems(layoutOf(env))) {
        const name = problem.slice(0, problem.indexOf(':'));
        context.addIssue({ code: 'custom', path: [name], message: problem });
      }
    }),
  );

/**
 * zod's English messages, as classic zod words them. Passed to the parse rather than set with
 * `z.config`, which would change the messages of every other zod user in the process.
 */
const ENGLISH = en().localeError;

function layoutOf(env: {
  SINK_PARTITIONER: PartitionerName;
  SINK_PATH_FORMAT?: string | undefined;
  SINK_PARTITION_DURATION_MS?: number | undefined;
  SINK_TIMESTAMP_EXTRACTOR: TimestampExtractor;
  SINK_TIMESTAMP_FIELD?: string | undefined;
  SINK_TIMEZONE: string;
  SINK_PARTITION_FIELD?: string | undefined;
}): LayoutSettings {
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

/**
 * Reads and validates the configuration from an environment (the function passes
 * `process.env` once, at cold start). Every problem is reported in one `ConfigurationError`;
 * an unknown `SINK_*` variable is an error too, so that a misspelt setting is not silently ignored.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): SinkConfig {
  const known = new Set<string>(SINK_SETTINGS);
  const unknown = Object.keys(env).filter((name) => name.startsWith('SINK_') && !known.has(name));
  const parsed = EnvironmentSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)), {
    error: ENGLISH,
  });
  const problems = [
    ...unknown.map((name) => `${name} is not a setting of this sink (known: ${SINK_SETTINGS.join(', ')})`),
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => {
          const name = String(issue.path[0] ?? 'environment');
          return issue.message.includes(name) ? issue.message : `${name}: ${issue.message}`;
        })),
  ];
  if (problems.length > 0 || !parsed.success) {
    throw new ConfigurationError(`Invalid sink configuration: ${problems.join('; ')}`);
  }
  const env2 = parsed.data;
  const layout = layoutOf(env2);
  const isDefaultLayout = (Object.keys(DEFAULT_LAYOUT) as Array<keyof LayoutSettings>).every(
    (name) => layout[name] === DEFAULT_LAYOUT[name],
  );
  const rotation: RotationSettings = {
    maxRecords: env2.SINK_ROTATE_MAX_RECORDS,
    maxBytes: env2.SINK_ROTATE_MAX_BYTES,
    intervalMs: env2.SINK_ROTATE_INTERVAL_MS,
  };
  const rotates = Object.values(rotation).some((value) => value !== undefined);
  return {
    bucket: env2.SINK_BUCKET,
    prefix: env2.SINK_PREFIX,
    ledgerTable: env2.LEDGER_TABLE,
    format: env2.SINK_FORMAT,
    compression: env2.SINK_COMPRESSION ?? (env2.SINK_FORMAT === 'parquet' ? 'snappy' : CompressionName.gzip),
    ...(env2.SINK_RAW_SEPARATOR === undefined ? {} : { rawSeparator: parseSeparator(env2.SINK_RAW_SEPARATOR) }),
    ...(env2.SINK_PARQUET_SCHEMA === undefined ? {} : { parquetSchema: parseParquetSchema(env2.SINK_PARQUET_SCHEMA) }),
    errorsTolerance: env2.SINK_ERRORS_TOLERANCE,
    deadLetterPrefix: env2.SINK_DEAD_LETTER_PREFIX,
    valueConverter: env2.SINK_VALUE_CONVERTER,
    reportBatchItemFailures: env2.SINK_REPORT_BATCH_ITEM_FAILURES === 'true',
    maxConcurrency: env2.SINK_MAX_CONCURRENCY,
    ...(isDefaultLayout ? {} : { layout }),
    ...(rotates ? { rotation } : {}),
    aws: {
      region: env2.AWS_REGION,
      s3Endpoint: env2.AWS_ENDPOINT_URL_S3 ?? env2.AWS_ENDPOINT_URL,
      dynamoDbEndpoint: env2.AWS_ENDPOINT_URL_DYNAMODB ?? env2.AWS_ENDPOINT_URL,
    },
  };
}

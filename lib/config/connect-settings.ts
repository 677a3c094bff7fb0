/**
 * The sink's own Kafka Connect keys — those that become the function's `SINK_*` settings
 * (lib/config/config.ts): prefix, format, compression, converter, errors and dead letters, data layout
 * and rotation, Parquet and raw options. One mapping for the CDK app (infra/connector-config.ts)
 * and the standalone worker (lib/config/worker-config.ts), so that both accept the same keys, map
 * them to the same settings and report the same problems. Pure: no CDK, no I/O.
 */
import { z } from 'zod';

// --- Value schemas (strings accepted everywhere, as Kafka Connect's REST API and .properties files give them)
const text = z.string().trim().min(1);
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** The sink's keys, in the order docs/configuration.md lists them. */
export const SINK_KEYS = [
  'topics.dir',
  'format.class',
  's3.compression.type',
  'value.converter',
  'errors.tolerance',
  'errors.deadletterqueue.s3.prefix',
  'sink.max.concurrency',
  'partitioner.class',
  'path.format',
  'partition.duration.ms',
  'timestamp.extractor',
  'timestamp.field',
  'timezone',
  'locale',
  'partition.field.name',
  'rotate.interval.ms',
  'sink.rotate.max.records',
  'sink.rotate.max.bytes',
  'parquet.codec',
  'sink.parquet.schema',
  'format.bytearray.separator',
] as const;
export type SinkKey = (typeof SINK_KEYS)[number];

/** Each key's value schema (all optional); spread into a configuration's `z.object`. */
export const SINK_KEY_SCHEMAS = {
  'topics.dir': z.string().optional(),
  'format.class': text.optional(),
  's3.compression.type': z.enum(['gzip', 'zstd', 'none']).optional(),
  'value.converter': text.optional(),
  'errors.tolerance': z.enum(['none', 'all']).optional(),
  'errors.deadletterqueue.s3.prefix': z.string().optional(),
  'sink.max.concurrency': integer(1, 256).optional(),
  // Data layout and rotation (Kafka Connect's storage partitioner names)
  'partitioner.class': text.optional(),
  'path.format': text.optional(),
  'partition.duration.ms': integer(60_000, 31 * 86_400_000).optional(),
  'timestamp.extractor': text.optional(),
  'timestamp.field': text.optional(),
  timezone: text.optional(),
  locale: text.optional(),
  'partition.field.name': text.optional(),
  'rotate.interval.ms': integer(1, Number.MAX_SAFE_INTEGER).optional(),
  'sink.rotate.max.records': integer(1, 1_000_000).optional(),
  'sink.rotate.max.bytes': integer(1024, 5 * 1024 ** 3).optional(),
  // Formats
  'parquet.codec': z.enum(['snappy', 'gzip', 'zstd', 'none', 'uncompressed']).optional(),
  'sink.parquet.schema': z.union([z.record(z.string(), z.string()), text]).optional(),
  'format.bytearray.separator': z.string().optional(),
} satisfies Record<SinkKey, z.ZodType>;

const SinkKeysSchema = z.object(SINK_KEY_SCHEMAS);
/** The sink's keys, validated. */
export type SinkKeys = z.infer<typeof SinkKeysSchema>;

/** `value.converter` → SINK_VALUE_CONVERTER. */
export const VALUE_CONVERTERS: Readonly<Record<string, 'auto' | 'json'>> = {
  'org.apache.kafka.connect.json.JsonConverter': 'json',
  json: 'json',
  auto: 'auto',
};

const JSON_FORMATS = new Set(['io.confluent.connect.s3.format.json.JsonFormat', 'json', 'jsonl', 'jsonlines']);
const PARQUET_FORMATS = new Set(['io.confluent.connect.s3.format.parquet.ParquetFormat', 'parquet']);
const RAW_FORMATS = new Set(['io.confluent.connect.s3.format.bytearray.ByteArrayFormat', 'bytearray', 'raw']);
/** `format.class` → SINK_FORMAT (undefined: not given, or unknown). */
export function formatOf(value: string | undefined): 'jsonl' | 'parquet' | 'raw' | undefined {
  if (value === undefined) return undefined;
  return JSON_FORMATS.has(value) ? 'jsonl' : PARQUET_FORMATS.has(value) ? 'parquet' : RAW_FORMATS.has(value) ? 'raw' : undefined;
}

const PARTITIONER_PACKAGE = 'io.confluent.connect.storage.partitioner.';
/** `partitioner.class` → SINK_PARTITIONER, and the path format it implies (Hourly/Daily). */
const PARTITIONERS: Record<string, { partitioner: 'default' | 'time' | 'field'; pathFormat?: string }> = {
  DefaultPartitioner: { partitioner: 'default' },
  TimeBasedPartitioner: { partitioner: 'time' },
  HourlyPartitioner: { partitioner: 'time', pathFormat: "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH" },
  DailyPartitioner: { partitioner: 'time', pathFormat: "'year'=YYYY/'month'=MM/'day'=dd" },
  FieldPartitioner: { partitioner: 'field' },
  default: { partitioner: 'default' },
  time: { partitioner: 'time' },
  field: { partitioner: 'field' },
};
function partitionerOf(value: string | undefined): (typeof PARTITIONERS)[string] | undefined {
  if (value === undefined) return undefined;
  return PARTITIONERS[value.startsWith(PARTITIONER_PACKAGE) ? value.slice(PARTITIONER_PACKAGE.length) : value];
}
const TIMESTAMP_EXTRACTORS: Record<string, 'Record' | 'RecordField'> = { Record: 'Record', RecordField: 'RecordField' };
const extractorName = (value: string) =>
  value
    .split('.')
    .at(-1)!
    .replace(/TimestampExtractor$/, '');

/**
 * The function's SINK_* settings for the keys given (only those: the function's defaults apply
 * to the rest). Unknown values are left out; `sinkKeyProblems` reports them.
 */
export function toSinkEnvironment(config: SinkKeys): Record<string, string> {
  const settings: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined) => {
    if (value !== undefined) settings[name] = String(value);
  };
  // Kafka Connect's topics.dir has no trailing slash ("topics"); the sink's prefix has one.
  const topicsDir = config['topics.dir'];
  set('SINK_PREFIX', topicsDir === undefined ? undefined : topicsDir === '' || topicsDir.endsWith('/') ? topicsDir : `${topicsDir}/`);
  set('SINK_DEAD_LETTER_PREFIX', config['errors.deadletterqueue.s3.prefix']);
  set('SINK_ERRORS_TOLERANCE', config['errors.tolerance']);
  const converter = config['value.converter'];
  set('SINK_VALUE_CONVERTER', converter === undefined ? undefined : VALUE_CONVERTERS[converter]);
  set('SINK_MAX_CONCURRENCY', config['sink.max.concurrency']);
  const partitioner = partitionerOf(config['partitioner.class']);
  set('SINK_PARTITIONER', partitioner?.partitioner);
  set('SINK_PATH_FORMAT', config['path.format'] ?? partitioner?.pathFormat);
  set('SINK_PARTITION_DURATION_MS', config['partition.duration.ms']);
  const extractor = config['timestamp.extractor'];
  set('SINK_TIMESTAMP_EXTRACTOR', extractor === undefined ? undefined : TIMESTAMP_EXTRACTORS[extractorName(extractor)]);
  set('SINK_TIMESTAMP_FIELD', config['timestamp.field']);
  set('SINK_TIMEZONE', config.timezone);
  set('SINK_PARTITION_FIELD', config['partition.field.name']);
  set('SINK_ROTATE_INTERVAL_MS', config['rotate.interval.ms']);
  set('SINK_ROTATE_MAX_RECORDS', config['sink.rotate.max.records']);
  set('SINK_ROTATE_MAX_BYTES', config['sink.rotate.max.bytes']);
  const format = formatOf(config['format.class']);
  set('SINK_FORMAT', format);
  if (format === 'parquet') {
    const codec = config['parquet.codec'] ?? config['s3.compression.type'] ?? 'snappy';
    set('SINK_COMPRESSION', codec === 'uncompressed' ? 'none' : codec);
    const schema = config['sink.parquet.schema'];
    set('SINK_PARQUET_SCHEMA', schema === undefined ? undefined : typeof schema === 'string' ? schema : JSON.stringify(schema));
  } else {
    set('SINK_COMPRESSION', config['s3.compression.type']);
  }
  if (format === 'raw') set('SINK_RAW_SEPARATOR', config['format.bytearray.separator']);
  return settings;
}

/** Unknown values and conflicting keys among the sink's keys (`key: what is wrong`). */
export function sinkKeyProblems(config: SinkKeys): string[] {
  const problems: string[] = [];
  const format = config['format.class'];
  if (format !== undefined && formatOf(format) === undefined) {
    problems.push(
      `format.class: one of io.confluent.connect.s3.format.json.JsonFormat (JSON Lines), …parquet.ParquetFormat or ` +
        `…bytearray.ByteArrayFormat (or json, parquet, bytearray); got ${format}`,
    );
  }
  const formatName = formatOf(format) ?? 'jsonl';
  if (formatName !== 'parquet') {
    for (const key of ['parquet.codec', 'sink.parquet.schema'] as const)
      if (config[key] !== undefined) problems.push(`${key}: only used with format.class ParquetFormat`);
  } else if (config['parquet.codec'] !== undefined && config['s3.compression.type'] !== undefined) {
    problems.push('parquet.codec, s3.compression.type: give one (Parquet compresses its pages with parquet.codec)');
  }
  if (formatName !== 'raw' && config['format.bytearray.separator'] !== undefined)
    problems.push('format.bytearray.separator: only used with format.class ByteArrayFormat');
  const partitioner = config['partitioner.class'];
  if (partitioner !== undefined && !partitionerOf(partitioner)) {
    problems.push(
      `partitioner.class: one of ${Object.keys(PARTITIONERS)
        .slice(0, 5)
        .map((name) => PARTITIONER_PACKAGE + name)
        .join(', ')} (or default, time, field), got ${partitioner}`,
    );
  }
  const extractor = config['timestamp.extractor'];
  if (extractor !== undefined) {
    const short = extractorName(extractor);
    if (short === 'Wallclock')
      problems.push(
        'timestamp.extractor: Wallclock is not supported: object keys must be a function of the records (use Record or RecordField)',
      );
    else if (!(short in TIMESTAMP_EXTRACTORS)) problems.push(`timestamp.extractor: Record or RecordField, got ${extractor}`);
  }
  const locale = config.locale;
  if (locale !== undefined) {
    try {
      Intl.getCanonicalLocales(locale);
    } catch {
      problems.push(`locale: not a BCP 47 language tag, got ${locale}`);
    }
  }
  const converter = config['value.converter'];
  if (converter !== undefined && !(converter in VALUE_CONVERTERS)) {
    problems.push(`value.converter: one of ${Object.keys(VALUE_CONVERTERS).join(', ')}, got ${converter}`);
  }
  return problems;
}

/** Which key each SINK_* setting comes from, to word lib/config/config.ts's problems in the configuration's terms. */
export const SETTING_KEYS: Readonly<Record<string, SinkKey>> = {
  SINK_PREFIX: 'topics.dir',
  SINK_DEAD_LETTER_PREFIX: 'errors.deadletterqueue.s3.prefix',
  SINK_ERRORS_TOLERANCE: 'errors.tolerance',
  SINK_VALUE_CONVERTER: 'value.converter',
  SINK_MAX_CONCURRENCY: 'sink.max.concurrency',
  SINK_FORMAT: 'format.class',
  SINK_COMPRESSION: 's3.compression.type',
  SINK_PARTITIONER: 'partitioner.class',
  SINK_PATH_FORMAT: 'path.format',
  SINK_PARTITION_DURATION_MS: 'partition.duration.ms',
  SINK_TIMESTAMP_EXTRACTOR: 'timestamp.extractor',
  SINK_TIMESTAMP_FIELD: 'timestamp.field',
  SINK_TIMEZONE: 'timezone',
  SINK_PARTITION_FIELD: 'partition.field.name',
  SINK_ROTATE_INTERVAL_MS: 'rotate.interval.ms',
  SINK_ROTATE_MAX_RECORDS: 'sink.rotate.max.records',
  SINK_ROTATE_MAX_BYTES: 'sink.rotate.max.bytes',
  SINK_PARQUET_SCHEMA: 'sink.parquet.schema',
  SINK_RAW_SEPARATOR: 'format.bytearray.separator',
};

/**
 * Validates the sink's keys of a raw configuration (other keys are ignored) and maps them:
 * `problems` lists every bad value and conflict; `environment` holds the SINK_* settings.
 */
export function parseSinkKeys(raw: Readonly<Record<string, unknown>>): {
  readonly environment: Record<string, string>;
  readonly problems: string[];
} {
  const given = Object.fromEntries(Object.entries(raw).filter(([key]) => key in SINK_KEY_SCHEMAS));
  const parsed = SinkKeysSchema.safeParse(given);
  if (!parsed.success) {
    return { environment: {}, problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`) };
  }
  return { environment: toSinkEnvironment(parsed.data), problems: sinkKeyProblems(parsed.data) };
}

import { z } from 'zod';
import { ErrorsTolerance } from './delivery/options.ts';
import { ConfigurationError } from './errors.ts';
import { CompressionName, ValueConverter } from './format/record-format.ts';

/** The sink's validated configuration. */
export interface SinkConfig {
  readonly bucket: string;
  /** Ends in `/`. */
  readonly prefix: string;
  readonly ledgerTable: string;
  readonly format: 'jsonl';
  readonly compression: CompressionName;
  readonly errorsTolerance: ErrorsTolerance;
  /** Ends in `/`; never inside `prefix`. */
  readonly deadLetterPrefix: string;
  readonly valueConverter: ValueConverter;
  readonly reportBatchItemFailures: boolean;
  readonly maxConcurrency: number;
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
] as const;

const prefix = (name: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) => (value === '' || value.endsWith('/') ? value : `${value}/`))
    .refine((value) => !value.startsWith('/'), `${name} must not start with "/"`)
    .refine((value) => value !== '', `${name} must not be empty (dead letters need a prefix outside the sink's)`);

const optionalUrl = z.url({ protocol: /^https?$/ }).optional();

const EnvironmentSchema = z
  .object({
    SINK_BUCKET: z
      .string({ error: 'SINK_BUCKET is required' })
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'SINK_BUCKET must be an S3 bucket name'),
    SINK_PREFIX: prefix('SINK_PREFIX', 'topics/'),
    LEDGER_TABLE: z
      .string({ error: 'LEDGER_TABLE is required' })
      .regex(/^[a-zA-Z0-9_.-]{3,255}$/, 'LEDGER_TABLE must be a DynamoDB table name'),
    SINK_FORMAT: z.enum(['jsonl']).default('jsonl'),
    SINK_COMPRESSION: z.enum(Object.values(CompressionName)).default(CompressionName.gzip),
    SINK_ERRORS_TOLERANCE: z.enum(Object.values(ErrorsTolerance)).default(ErrorsTolerance.none),
    SINK_DEAD_LETTER_PREFIX: prefix('SINK_DEAD_LETTER_PREFIX', 'dead-letters/'),
    SINK_VALUE_CONVERTER: z.enum(Object.values(ValueConverter)).default(ValueConverter.auto),
    SINK_REPORT_BATCH_ITEM_FAILURES: z.enum(['true', 'false']).default('false'),
    SINK_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
    AWS_REGION: z.string().min(1).optional(),
    AWS_ENDPOINT_URL: optionalUrl,
    AWS_ENDPOINT_URL_S3: optionalUrl,
    AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  })
  .superRefine((env, context) => {
    const sink = env.SINK_PREFIX;
    const dead = env.SINK_DEAD_LETTER_PREFIX;
    if (dead.startsWith(sink) || sink.startsWith(dead)) {
      context.addIssue({
        code: 'custom',
        path: ['SINK_DEAD_LETTER_PREFIX'],
        message: `SINK_DEAD_LETTER_PREFIX "${dead}" must lie outside SINK_PREFIX "${sink}" (and not contain it)`,
      });
    }
  });

/**
 * Reads and validates the configuration from an environment (the function passes
 * `process.env` once, at cold start). Every problem is reported in one `ConfigurationError`;
 * an unknown `SINK_*` variable is an error too, so that a misspelt setting is not silently ignored.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): SinkConfig {
  const known = new Set<string>(SINK_SETTINGS);
  const unknown = Object.keys(env).filter((name) => name.startsWith('SINK_') && !known.has(name));
  const parsed = EnvironmentSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)),
  );
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
  return {
    bucket: env2.SINK_BUCKET,
    prefix: env2.SINK_PREFIX,
    ledgerTable: env2.LEDGER_TABLE,
    format: env2.SINK_FORMAT,
    compression: env2.SINK_COMPRESSION,
    errorsTolerance: env2.SINK_ERRORS_TOLERANCE,
    deadLetterPrefix: env2.SINK_DEAD_LETTER_PREFIX,
    valueConverter: env2.SINK_VALUE_CONVERTER,
    reportBatchItemFailures: env2.SINK_REPORT_BATCH_ITEM_FAILURES === 'true',
    maxConcurrency: env2.SINK_MAX_CONCURRENCY,
    aws: {
      region: env2.AWS_REGION,
      s3Endpoint: env2.AWS_ENDPOINT_URL_S3 ?? env2.AWS_ENDPOINT_URL,
      dynamoDbEndpoint: env2.AWS_ENDPOINT_URL_DYNAMODB ?? env2.AWS_ENDPOINT_URL,
    },
  };
}

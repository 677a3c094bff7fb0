import { SINK_KEY_SCHEMAS } from '../lib/config/connect-settings.ts';
import { z } from 'zod';
import type { StartingPosition } from './msk-s3-sink.ts';

/** A connector configuration: flat keys, as in Kafka Connect (values may be strings, as in Connect's JSON). */
export type ConnectorConfig = Readonly<Record<string, unknown>>;

export class ConnectorConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`Invalid connector configuration:\n  - ${problems.join('\n  - ')}`, options);
    this.name = 'ConnectorConfigError';
  }
}

/** The configuration file named by `-c config=FILE` cannot be read: one line naming the file (the cause keeps the system error). */
export class ConnectorConfigFileError extends ConnectorConfigError {
  constructor(
    readonly path: string,
    code: string | undefined,
    options?: ErrorOptions,
  ) {
    super([`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? 'unknown error'})`}`], options);
    this.name = 'ConnectorConfigFileError';
    this.message =
      code === 'ENOENT'
        ? `Connector configuration file not found: ${path}`
        : `Cannot read the connector configuration file ${path}: ${firstLine((options?.cause as Error | undefined)?.message ?? String(code))}`;
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!;
}

// --- Value schemas (strings accepted everywhere, as Kafka Connect's REST API sends them) -------
const text = z.string().trim().min(1);
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const boolean = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);
const list = z.union([
  z.array(text),
  z.string().transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  ),
]);
const arn = (service: string) => z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `must be an ${service} ARN`);

/** Every key the app understands; `.strict()` turns any other key into an error. */
export const ConnectorSchema = z
  .object({
    // Identity
    name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,100}$/, 'letters, digits and "-", starting with a letter')
      .optional(),
    'connector.class': text.optional(),
    // What to read
    topics: list.pipe(
      z
        .array(
          z
            .string()
            .regex(
              /^[a-zA-Z0-9_-][a-zA-Z0-9._-]{1,248}$/,
              'not a topic name a Lambda mapping accepts (2-249 of [a-zA-Z0-9._-], not starting with ".")',
            ),
        )
        .min(1, 'at least one topic'),
    ),
    'group.id': text.optional(),
    'consumer.group.id': text.optional(),
    'consumer.override.group.id': text.optional(),
    'consumer.auto.offset.reset': text.optional(),
    'consumer.override.auto.offset.reset': text.optional(),
    'auto.offset.reset': text.optional(),
    'flush.size': integer(1, 10_000).optional(),
    'offset.flush.interval.ms': integer(0, 300_000).optional(),
    // Where from
    'msk.cluster.arn': arn('kafka').optional(),
    'msk.serverless': boolean.optional(),
    'msk.subnet.ids': list.pipe(z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id (subnet-...)')).min(1)).optional(),
    'bootstrap.servers': list.optional(),
    'security.protocol': z.enum(['SASL_SSL', 'SSL', 'PLAINTEXT', 'SASL_PLAINTEXT']).optional(),
    'sasl.mechanism': z.enum(['AWS_MSK_IAM', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN']).optional(),
    'kafka.auth.secret.arn': arn('secretsmanager').optional(),
    'kafka.root.ca.secret.arn': arn('secretsmanager').optional(),
    'kafka.vpc.subnet.ids': list.optional(),
    'kafka.vpc.security.group.id': z
      .string()
      .regex(/^sg-[0-9a-f]+$/, 'must be a security group id (sg-...)')
      .optional(),
    // Where to
    's3.bucket.name': z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
      .optional(),
    's3.region': z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region, e.g. eu-west-1')
      .optional(),
    's3.ssea.name': z.enum(['AES256', 'aws:kms']).optional(),
    's3.sse.kms.key.id': arn('kms').optional(),
    's3.bucket.versioning': boolean.optional(),
    's3.dead.letter.expiration.days': integer(0, 36_500).optional(),
    's3.noncurrent.version.expiration.days': integer(0, 36_500).optional(),
    // Lambda and the event source mapping
    'lambda.provisioned.pollers.min': integer(1, 200).optional(),
    'lambda.provisioned.pollers.max': integer(1, 2000).optional(),
    'lambda.provisioned.poller.group': text.optional(),
    'lambda.retry.attempts': integer(-1, 10_000).optional(),
    'lambda.bisect.batch.on.error': boolean.optional(),
    'lambda.max.record.age.seconds': integer(60, 604_800).optional(),
    'lambda.report.batch.item.failures': boolean.optional(),
    'lambda.on.failure.destination': z.enum(['none', 's3', 'sqs']).optional(),
    'lambda.memory.mb': integer(128, 10_240).optional(),
    'lambda.timeout.seconds': integer(1, 900).optional(),
    'lambda.log.retention.days': z.coerce.number().int().optional(),
    // The sink's own keys (prefix, format, compression, converter, errors, layout, rotation): lib/config/connect-settings.ts
    ...SINK_KEY_SCHEMAS,
    // Alarms
    'alarms.email': list.optional(),
    'alarms.sns.topic.arn': arn('sns').optional(),
    'alarms.offset.lag.threshold': integer(1, Number.MAX_SAFE_INTEGER).optional(),
    'alarms.skipped.offsets.threshold': integer(0, Number.MAX_SAFE_INTEGER).optional(),
    'alarms.silent.mapping.hours': integer(0, 24).optional(),
  })
  .strict();

export type ParsedConnector = z.infer<typeof ConnectorSchema>;

/** Kafka Connect keys this sink knowingly does not support, and why (listed in docs/configuration.md). */
export const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  'topics.regex': 'a Lambda event source mapping subscribes to named topics only; list them in "topics"',
  'tasks.max': 'Lambda scales the consumers itself; bound them with lambda.provisioned.pollers.min/max',
  'key.converter': 'keys are written with the same rules as values (JSON, text or base64)',
  'value.converter.schemas.enable': 'the sink writes values as they are; there is no Connect schema envelope',
  'storage.class': 'the storage is always Amazon S3',
  'rotate.schedule.interval.ms':
    'it rotates on the wall clock, and object keys must be a function of the records; use rotate.interval.ms (record time)',
  's3.part.size': 'objects are written with one PutObject (a batch is at most 6 MB)',
  'errors.deadletterqueue.topic.name': 'poison records go to S3 under errors.deadletterqueue.s3.prefix, not to a Kafka topic',
  'errors.retry.timeout': "retries are the event source mapping's: lambda.retry.attempts and lambda.max.record.age.seconds",
  'errors.log.enable': 'every failure is logged to CloudWatch Logs (structured, without record values)',
  'behavior.on.null.values': 'tombstones are always written, with "value": null',
};

/** The same setting under several names (Kafka Connect has aliases): all given values must agree. */
export function oneOf<K extends keyof ParsedConnector>(
  config: Partial<ParsedConnector>,
  keys: readonly K[],
  problems: string[],
): ParsedConnector[K] | undefined {
  const given = keys.filter((key) => config[key] !== undefined);
  const values = new Set(given.map((key) => JSON.stringify(config[key])));
  if (values.size > 1) {
    problems.push(
      `${given.join(', ')}: conflicting values for the same setting (${given.map((key) => `${key}=${String(config[key])}`).join(', ')}); give one`,
    );
  }
  return given.length > 0 ? config[given[0]!] : undefined;
}

export const GROUP_KEYS = ['group.id', 'consumer.group.id', 'consumer.override.group.id'] as const;
export const RESET_KEYS = ['consumer.auto.offset.reset', 'consumer.override.auto.offset.reset', 'auto.offset.reset'] as const;

/** `earliest` | `latest` | an ISO-8601 date-time | Unix milliseconds → the mapping's starting position, or a problem. */
export function startingPosition(value: string): StartingPosition | string {
  if (value === 'earliest') return { type: 'TRIM_HORIZON' };
  if (value === 'latest') return { type: 'LATEST' };
  if (value === 'none')
    return 'none (fail when no offset is committed) has no event source mapping equivalent; use earliest, latest or a timestamp';
  const millis = /^\d+$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(millis) || millis <= 0) {
    return `expected earliest, latest, an ISO-8601 date-time (2024-05-01T00:00:00Z) or Unix milliseconds, got "${value}"`;
  }
  if (millis % 1000 !== 0) return `the mapping starts at whole seconds; got ${value} (${millis} ms)`;
  return { type: 'AT_TIMESTAMP', timestamp: millis / 1000 };
}

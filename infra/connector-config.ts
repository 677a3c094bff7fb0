/**
 * Kafka Connect-style configuration for the CDK app: the names Kafka Connect users know
 * (`topics`, `flush.size`, `consumer.auto.offset.reset`, `errors.tolerance`, `topics.dir`, ...)
 * plus a few `lambda.*`/`msk.*`/`kafka.*` keys for what Kafka Connect has no name for. Read from a
 * JSON or YAML file and/or CDK context, validated with zod; every problem (unknown key, bad value,
 * conflicting keys) is reported in ONE error. docs/configuration.md documents every key.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Annotations, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { SINK_KEY_SCHEMAS, sinkKeyProblems, toSinkEnvironment, VALUE_CONVERTERS } from '../lib/config/connect-settings.ts';
import { closestName } from '../lib/config/suggest.ts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { KafkaSource } from './kafka-source.ts';
import type { MskS3SinkProps, StartingPosition } from './msk-s3-sink.ts';

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
const ConnectorSchema = z
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

type ParsedConnector = z.infer<typeof ConnectorSchema>;

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

/** Reads a connector configuration file (`.json`, `.yaml` or `.yml`). */
export function readConnectorConfigFile(path: string): Record<string, unknown> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConnectorConfigFileError(path, (error as NodeJS.ErrnoException).code, { cause: error });
  }
  const extension = extname(path).toLowerCase();
  let parsed: unknown;
  try {
    parsed = extension === '.json' ? JSON.parse(content) : parseYaml(content);
  } catch (error) {
    throw new ConnectorConfigError([`${path}: not valid ${extension === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`]);
  }
  // Kafka Connect's REST form: { "name": ..., "config": { ... } }.
  if (isRecord(parsed) && isRecord(parsed.config)) {
    const { config, ...rest } = parsed;
    parsed = { ...rest, ...config };
  }
  if (!isRecord(parsed)) throw new ConnectorConfigError([`${path}: must hold an object of keys`]);
  return parsed;
}

/** What the app builds from a configuration: the construct's props and the stack's name and region. */
export interface ResolvedConnector {
  readonly stackName: string;
  readonly region: string | undefined;
  /** Builds the construct props; CDK references (secrets, subnets, keys) are created in `scope`. */
  readonly props: (scope: Construct) => MskS3SinkProps;
  /** The validated keys, for reference. */
  readonly config: ParsedConnector;
}

/** Validates a configuration and maps it onto the construct. Throws one `ConnectorConfigError` listing every problem. */
export function resolveConnectorConfig(raw: ConnectorConfig): ResolvedConnector {
  const problems: string[] = [];
  const known = new Set(Object.keys(ConnectorSchema.shape));
  for (const key of Object.keys(raw)) {
    if (key in UNSUPPORTED_KEYS) problems.push(`${key}: not supported: ${UNSUPPORTED_KEYS[key]}`);
    else if (!known.has(key)) {
      const suggestion = closestName(key, known);
      problems.push(`${key}: unknown key${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
    }
  }
  const supported = Object.fromEntries(Object.entries(raw).filter(([key]) => known.has(key)));
  const parsed = ConnectorSchema.safeParse(supported);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || '(config)'}: ${issue.message}`);
    // The cross-key checks run in the same pass, over the keys whose own values are valid, so
    // that one error lists every problem; a check that rests on a key with its own error is left
    // out (its answer would be made up: "one is required" for a given but malformed ARN).
    const failed = new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? '')));
    const valid = ConnectorSchema.partial().safeParse(Object.fromEntries(Object.entries(supported).filter(([key]) => !failed.has(key))));
    if (valid.success) problems.push(...semanticProblems(valid.data).filter((problem) => !mentionsAny(problem, failed)));
  }
  if (parsed.success) problems.push(...semanticProblems(parsed.data));
  if (!parsed.success || problems.length > 0) throw new ConnectorConfigError(problems);
  const config = parsed.data;
  return {
    stackName: config.name ?? 'MskS3Sink',
    region: config['s3.region'],
    config,
    props: (scope) => toProps(scope, config),
  };
}

/** Whether a problem's text names one of `keys` ("a.b.min/max" names a.b.min and a.b.max). */
function mentionsAny(problem: string, keys: ReadonlySet<string>): boolean {
  const named = new Set<string>();
  for (const [word] of problem.matchAll(/[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*(?:\/[a-z0-9_-]+)*/g)) {
    const [first, ...alternatives] = word.split('/');
    named.add(first!);
    const stem = first!.slice(0, first!.lastIndexOf('.') + 1);
    for (const alternative of alternatives) named.add(stem + alternative);
  }
  return [...keys].some((key) => named.has(key));
}

/** The same setting under several names (Kafka Connect has aliases): all given values must agree. */
function oneOf<K extends keyof ParsedConnector>(
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

const GROUP_KEYS = ['group.id', 'consumer.group.id', 'consumer.override.group.id'] as const;
const RESET_KEYS = ['consumer.auto.offset.reset', 'consumer.override.auto.offset.reset', 'auto.offset.reset'] as const;
/** The function's SINK_* settings for the data layout, rotation and format keys (only those given); the construct's own props carry the rest. */
export function layoutSettings(config: ParsedConnector): Record<string, string> {
  const {
    SINK_PREFIX: _prefix,
    SINK_DEAD_LETTER_PREFIX: _deadLetterPrefix,
    SINK_ERRORS_TOLERANCE: _errorsTolerance,
    SINK_VALUE_CONVERTER: _valueConverter,
    SINK_MAX_CONCURRENCY: _maxConcurrency,
    ...settings
  } = toSinkEnvironment(config);
  if (settings['SINK_FORMAT'] === 'jsonl') delete settings['SINK_FORMAT'];
  // Outside Parquet, SINK_COMPRESSION is the construct's `compression` prop.
  if (settings['SINK_FORMAT'] !== 'parquet') delete settings['SINK_COMPRESSION'];
  return settings;
}

/** The cross-key checks; `config` may lack keys (those with their own errors: see resolveConnectorConfig). */
function semanticProblems(config: Partial<ParsedConnector>): string[] {
  const problems: string[] = [];
  oneOf(config, GROUP_KEYS, problems);
  const reset = oneOf(config, RESET_KEYS, problems);
  if (reset !== undefined) {
    const position = startingPosition(reset);
    if (typeof position === 'string') problems.push(`consumer.auto.offset.reset: ${position}`);
  }
  const msk = config['msk.cluster.arn'] !== undefined;
  const selfManaged = config['bootstrap.servers'] !== undefined;
  if (msk && selfManaged)
    problems.push('msk.cluster.arn, bootstrap.servers: conflicting sources; give an MSK cluster ARN or bootstrap servers, not both');
  if (!msk && !selfManaged) problems.push('msk.cluster.arn or bootstrap.servers: one is required (the Kafka cluster to read from)');
  const mechanism = config['sasl.mechanism'];
  const protocol = config['security.protocol'];
  if (protocol === 'PLAINTEXT' || protocol === 'SASL_PLAINTEXT') {
    problems.push(`security.protocol: ${protocol} is not supported by Lambda event source mappings; use SASL_SSL or SSL`);
  }
  if (protocol === 'SSL' && mechanism !== undefined)
    problems.push('sasl.mechanism: conflicts with security.protocol=SSL (mutual TLS); remove one');
  if (msk) {
    if (mechanism === 'SCRAM-SHA-256' || mechanism === 'PLAIN')
      problems.push(`sasl.mechanism: Amazon MSK supports AWS_MSK_IAM or SCRAM-SHA-512, not ${mechanism}`);
    const iam = (mechanism ?? 'AWS_MSK_IAM') === 'AWS_MSK_IAM' && protocol !== 'SSL';
    if (iam && config['kafka.auth.secret.arn'])
      problems.push(
        'kafka.auth.secret.arn: not used with IAM authentication (sasl.mechanism=AWS_MSK_IAM); remove it or choose SCRAM-SHA-512 / SSL',
      );
    if (!iam && !config['kafka.auth.secret.arn']) problems.push('kafka.auth.secret.arn: required for SCRAM or mutual TLS authentication');
    for (const key of ['kafka.vpc.subnet.ids', 'kafka.vpc.security.group.id', 'kafka.root.ca.secret.arn'] as const) {
      if (config[key] !== undefined)
        problems.push(`${key}: applies to self-managed Kafka only (an MSK mapping uses the cluster's own network and certificates)`);
    }
  } else if (selfManaged) {
    if (config['msk.serverless'] !== undefined) problems.push('msk.serverless: applies to Amazon MSK only');
    if (config['msk.subnet.ids'] !== undefined)
      problems.push('msk.subnet.ids: applies to Amazon MSK only; self-managed Kafka uses kafka.vpc.subnet.ids');
    if (mechanism === 'AWS_MSK_IAM') problems.push('sasl.mechanism: AWS_MSK_IAM works with Amazon MSK only');
    if (mechanism !== undefined && !config['kafka.auth.secret.arn']) problems.push('kafka.auth.secret.arn: required with sasl.mechanism');
    if (protocol === 'SSL' && !config['kafka.auth.secret.arn'] && config['kafka.vpc.subnet.ids'] === undefined) {
      problems.push('kafka.auth.secret.arn: required for mutual TLS (security.protocol=SSL)');
    }
    const subnets = config['kafka.vpc.subnet.ids'] !== undefined;
    const group = config['kafka.vpc.security.group.id'] !== undefined;
    if (subnets !== group) problems.push('kafka.vpc.subnet.ids, kafka.vpc.security.group.id: give both, or neither');
    for (const server of config['bootstrap.servers'] ?? []) {
      if (!/^[^\s:,]+:\d{1,5}$/.test(server)) problems.push(`bootstrap.servers: "${server}" is not host:port`);
    }
  }
  problems.push(...sinkKeyProblems(config));
  if (config['s3.bucket.name'] !== undefined) {
    for (const key of [
      's3.ssea.name',
      's3.bucket.versioning',
      's3.dead.letter.expiration.days',
      's3.noncurrent.version.expiration.days',
    ] as const) {
      if (config[key] !== undefined)
        problems.push(`${key}: applies only to a bucket the app creates; conflicts with s3.bucket.name (an existing bucket)`);
    }
  } else if (config['s3.sse.kms.key.id'] !== undefined && config['s3.ssea.name'] === 'AES256') {
    problems.push('s3.sse.kms.key.id: conflicts with s3.ssea.name=AES256');
  }
  const interval = config['offset.flush.interval.ms'];
  if (interval !== undefined && interval % 1000 !== 0) {
    problems.push(`offset.flush.interval.ms: the batching window is set in whole seconds; use a multiple of 1000, got ${interval}`);
  }
  const retention = config['lambda.log.retention.days'];
  if (retention !== undefined && !(Object.values(logs.RetentionDays) as unknown[]).includes(retention)) {
    problems.push(`lambda.log.retention.days: one of CloudWatch's retention periods (1, 3, 5, 7, 14, 30, 60, 90, ...), got ${retention}`);
  }
  const provisioned = ['lambda.provisioned.pollers.min', 'lambda.provisioned.pollers.max', 'lambda.provisioned.poller.group'].some(
    (key) => config[key as keyof ParsedConnector] !== undefined,
  );
  for (const key of [
    'lambda.retry.attempts',
    'lambda.bisect.batch.on.error',
    'lambda.max.record.age.seconds',
    'lambda.report.batch.item.failures',
  ] as const) {
    const value = config[key];
    if (value !== undefined && value !== false && !provisioned) {
      problems.push(`${key}: Kafka event source mappings support it only in provisioned mode; set lambda.provisioned.pollers.min/max`);
    }
  }
  const min = config['lambda.provisioned.pollers.min'];
  const max = config['lambda.provisioned.pollers.max'];
  if (min !== undefined && max !== undefined && min > max)
    problems.push(`lambda.provisioned.pollers.min (${min}) exceeds lambda.provisioned.pollers.max (${max})`);
  const discards = (config['lambda.retry.attempts'] ?? -1) !== -1 || config['lambda.max.record.age.seconds'] !== undefined;
  const destination = config['lambda.on.failure.destination'] ?? 'none';
  if (discards && destination === 'none') {
    problems.push(
      'lambda.on.failure.destination: lambda.retry.attempts / lambda.max.record.age.seconds discard records; choose s3 or sqs so that none is lost silently',
    );
  }
  if (destination !== 'none' && (config['lambda.retry.attempts'] ?? -1) === -1) {
    problems.push(
      `lambda.retry.attempts: with lambda.on.failure.destination=${destination} Lambda caps unlimited retries (-1${config['lambda.retry.attempts'] === undefined ? ', the default' : ''}) at 10, then sends the batch to the destination and moves past it; set the retries you mean (0-10000)`,
    );
  }
  if (config['s3.bucket.versioning'] === false && config['s3.noncurrent.version.expiration.days'] !== undefined) {
    problems.push('s3.noncurrent.version.expiration.days: applies to a versioned bucket; conflicts with s3.bucket.versioning=false');
  }
  const group = oneOf(config, GROUP_KEYS, []);
  if (group?.includes('*'))
    problems.push(
      `group.id: "${group}" must not contain "*": the group id is also the IAM resource the mapping may use, where "*" would grant every group`,
    );
  if (group !== undefined && (config.topics?.length ?? 0) > 1 && !group.includes('{topic}')) {
    problems.push('group.id: with several topics (one event source mapping each) the group id must contain "{topic}"');
  }
  if (config['alarms.email'] !== undefined && config['alarms.sns.topic.arn'] !== undefined) {
    problems.push(
      'alarms.email, alarms.sns.topic.arn: conflicting; subscribe the addresses to your topic yourself, or let the app create one',
    );
  }
  return problems;
}

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

function toProps(scope: Construct, config: ParsedConnector): MskS3SinkProps {
  const secret = (id: string, secretArn: string) => secretsmanager.Secret.fromSecretCompleteArn(scope, id, secretArn);
  const authSecretArn = config['kafka.auth.secret.arn'];
  const protocol = config['security.protocol'];
  const mechanism = config['sasl.mechanism'];
  let source: KafkaSource;
  if (config['msk.cluster.arn'] !== undefined) {
    source = {
      kind: 'msk',
      clusterArn: config['msk.cluster.arn'],
      serverless: config['msk.serverless'],
      subnetIds: config['msk.subnet.ids'],
      authentication:
        protocol === 'SSL'
          ? { type: 'mtls', secret: secret('KafkaAuthSecret', authSecretArn!) }
          : mechanism === 'SCRAM-SHA-512'
            ? { type: 'sasl-scram', secret: secret('KafkaAuthSecret', authSecretArn!) }
            : { type: 'iam' },
    };
  } else {
    const subnetIds = config['kafka.vpc.subnet.ids'];
    const groupId = config['kafka.vpc.security.group.id'];
    const type =
      protocol === 'SSL'
        ? 'mtls'
        : ({ 'SCRAM-SHA-512': 'sasl-scram-512', 'SCRAM-SHA-256': 'sasl-scram-256', PLAIN: 'basic' } as const)[
            (mechanism ?? 'SCRAM-SHA-512') as 'SCRAM-SHA-512' | 'SCRAM-SHA-256' | 'PLAIN'
          ];
    source = {
      kind: 'self-managed',
      bootstrapServers: config['bootstrap.servers']!,
      authentication: authSecretArn ? { type, secret: secret('KafkaAuthSecret', authSecretArn) } : undefined,
      rootCaCertificate: config['kafka.root.ca.secret.arn'] ? secret('KafkaRootCa', config['kafka.root.ca.secret.arn']) : undefined,
      vpcSubnets: subnetIds ? { subnets: subnetIds.map((id) => importedSubnet(scope, id)) } : undefined,
      securityGroup: groupId ? ec2.SecurityGroup.fromSecurityGroupId(scope, 'KafkaSecurityGroup', groupId) : undefined,
    };
  }

  const start = oneOf(config, RESET_KEYS, []);
  const keyArn = config['s3.sse.kms.key.id'];
  const bucketName = config['s3.bucket.name'];
  const pollers =
    config['lambda.provisioned.pollers.min'] !== undefined ||
    config['lambda.provisioned.pollers.max'] !== undefined ||
    config['lambda.provisioned.poller.group'] !== undefined
      ? {
          minimumPollers: config['lambda.provisioned.pollers.min'],
          maximumPollers: config['lambda.provisioned.pollers.max'],
          pollerGroupName: config['lambda.provisioned.poller.group'],
        }
      : undefined;
  const onFailure = config['lambda.on.failure.destination'];
  const interval = config['offset.flush.interval.ms'];
  const retention = config['lambda.log.retention.days'];
  const environment = toSinkEnvironment(config);
  return {
    source,
    topics: config.topics,
    consumerGroupId: oneOf(config, GROUP_KEYS, []),
    startingPosition: start === undefined ? undefined : (startingPosition(start) as StartingPosition),
    batchSize: config['flush.size'],
    maxBatchingWindow: interval === undefined ? undefined : Duration.seconds(interval / 1000),
    provisionedPollers: pollers,
    retryAttempts: config['lambda.retry.attempts'],
    bisectBatchOnError: config['lambda.bisect.batch.on.error'] || undefined,
    maxRecordAge:
      config['lambda.max.record.age.seconds'] === undefined ? undefined : Duration.seconds(config['lambda.max.record.age.seconds']),
    reportBatchItemFailures: config['lambda.report.batch.item.failures'] || undefined,
    onFailure: onFailure === 's3' ? { type: 's3' } : onFailure === 'sqs' ? { type: 'sqs' } : undefined,
    bucket: bucketName ? s3.Bucket.fromBucketName(scope, 'ExistingBucket', bucketName) : undefined,
    bucketKey: keyArn ? kms.Key.fromKeyArn(scope, 'BucketKeyRef', keyArn) : undefined,
    bucketEncryption: bucketName
      ? undefined
      : config['s3.ssea.name'] === 'aws:kms' || keyArn
        ? 'KMS'
        : config['s3.ssea.name']
          ? 'S3_MANAGED'
          : undefined,
    bucketVersioned: config['s3.bucket.versioning'],
    deadLetterExpirationDays: config['s3.dead.letter.expiration.days'],
    noncurrentVersionExpirationDays: config['s3.noncurrent.version.expiration.days'],
    // Kafka Connect's topics.dir has no trailing slash ("topics"); the sink's prefix has one (lib/config/connect-settings.ts).
    prefix: environment['SINK_PREFIX'],
    deadLetterPrefix: config['errors.deadletterqueue.s3.prefix'],
    compression: config['s3.compression.type'],
    errorsTolerance: config['errors.tolerance'],
    valueConverter: config['value.converter'] === undefined ? undefined : VALUE_CONVERTERS[config['value.converter']],
    maxConcurrency: config['sink.max.concurrency'],
    sinkSettings: layoutSettings(config),
    memorySize: config['lambda.memory.mb'],
    timeout: config['lambda.timeout.seconds'] === undefined ? undefined : Duration.seconds(config['lambda.timeout.seconds']),
    logRetention: retention as logs.RetentionDays | undefined,
    alarms: {
      offsetLagThreshold: config['alarms.offset.lag.threshold'],
      skippedOffsetsThreshold: config['alarms.skipped.offsets.threshold'],
      silentMappingHours: config['alarms.silent.mapping.hours'],
      topic: config['alarms.sns.topic.arn']
        ? sns.Topic.fromTopicArn(scope, 'AlarmTopicRef', config['alarms.sns.topic.arn'])
        : config['alarms.email'] !== undefined
          ? true
          : undefined,
      emails: config['alarms.email'],
    },
  };
}

/** A subnet by id. The mapping needs only its id; the route table CDK warns about is never used. */
function importedSubnet(scope: Construct, subnetId: string): ec2.ISubnet {
  const subnet = ec2.Subnet.fromSubnetId(scope, `Subnet-${subnetId}`, subnetId);
  Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'The event source mapping uses the subnet id only');
  return subnet;
}

/** A value that stands for the user's own (an example's ARN, address or `<...>` template): synth takes it, a deploy is refused. */
export interface Placeholder {
  readonly key: string;
  readonly value: string;
  /** Why it is taken for a placeholder. */
  readonly reason: string;
}

/** The account ids AWS's documentation uses in its examples (examples/connector.example.yaml uses the first). */
export const EXAMPLE_ACCOUNTS = ['123456789012', '111122223333'] as const;

/**
 * The values of a configuration (its keys as given, before validation) that are placeholders:
 * ARNs in one of `EXAMPLE_ACCOUNTS`, e-mail addresses and host names under the domains reserved
 * for documentation (example.com, .org, .net: RFC 2606), and `<...>` or REPLACE_ME templates.
 * In key order; a list value yields one entry per placeholder item.
 */
export function findPlaceholders(config: ConnectorConfig): Placeholder[] {
  const found: Placeholder[] = [];
  for (const [key, value] of Object.entries(config)) {
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
    for (const item of items) {
      if (typeof item !== 'string') continue;
      const text = item.trim();
      const reason = placeholderReason(text);
      if (reason !== undefined) found.push({ key, value: text, reason });
    }
  }
  return found;
}

function placeholderReason(value: string): string | undefined {
  const account = /^arn:aws[a-z-]*:[^:]*:[^:]*:(\d{12}):/.exec(value)?.[1];
  if (account !== undefined && (EXAMPLE_ACCOUNTS as readonly string[]).includes(account)) {
    return `account ${account} is the example account of AWS's documentation`;
  }
  const domain = /(?:^|[@.])(example\.(?:com|org|net))(?::\d+)?$/i.exec(value)?.[1];
  if (domain !== undefined) return `${domain.toLowerCase()} is a domain reserved for examples`;
  if (/<[^<>]+>/.test(value) || /\b(?:REPLACE|CHANGE)[_-]?ME\b/i.test(value)) return 'a template to fill in';
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

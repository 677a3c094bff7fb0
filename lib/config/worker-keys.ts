/**
 * The standalone worker's keys: which it reads and which Kafka Connect keys it refuses, their
 * schemas, the configuration's error, and the small types the rest of its configuration uses.
 */
import { z } from 'zod';
import type { SinkSettings, StorageBindings } from './config.ts';
import { SINK_KEY_SCHEMAS, SINK_KEYS } from './connect-settings.ts';
import { ConfigurationError } from '../core/errors.ts';

/** The configuration is invalid; `problems` lists every one (`key: what is wrong`). */
export class StandaloneConfigError extends ConfigurationError {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`Invalid standalone configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StandaloneConfigError';
    this.problems = problems;
  }
}

/** The sink's settings and where it writes; the ledger is chosen apart (`LedgerChoice`). */
export type WorkerSinkConfig = SinkSettings & StorageBindings;

export type LedgerChoice = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'dynamodb'; readonly table: string };

/**
 * The partition assignors of the classic group protocol the worker offers: `cooperative-sticky`
 * (incremental: a rebalance moves only the partitions that change owner, the others are never
 * revoked) and `roundrobin` (eager: every member gives up everything at each rebalance).
 */
export const AssignmentStrategy = {
  cooperativeSticky: 'cooperative-sticky',
  roundRobin: 'roundrobin',
} as const;
export type AssignmentStrategy = (typeof AssignmentStrategy)[keyof typeof AssignmentStrategy];

/** Kafka's assignor class names for ours (what a Java consumer's configuration has). */
export const ASSIGNOR_CLASSES: Readonly<Record<string, AssignmentStrategy>> = {
  'org.apache.kafka.clients.consumer.CooperativeStickyAssignor': AssignmentStrategy.cooperativeSticky,
  'org.apache.kafka.clients.consumer.RoundRobinAssignor': AssignmentStrategy.roundRobin,
};

/** Keys the worker reads, with what they mean (the README's table is generated from the same facts). */
export const STANDALONE_KEYS = [
  'name',
  'connector.class',
  'tasks.max',
  'bootstrap.servers',
  'topics',
  'topics.regex',
  'group.id',
  'client.id',
  'consumer.auto.offset.reset',
  'auto.offset.reset',
  'offset.flush.interval.ms',
  'flush.size',
  'consumer.session.timeout.ms',
  'consumer.heartbeat.interval.ms',
  'consumer.max.poll.interval.ms',
  'consumer.fetch.max.wait.ms',
  'consumer.max.partition.fetch.bytes',
  'consumer.metadata.max.age.ms',
  'consumer.partition.assignment.strategy',
  'consumer.group.protocol',
  'task.shutdown.graceful.timeout.ms',
  'security.protocol',
  'sasl.mechanism',
  'sasl.jaas.config',
  'sasl.username',
  'sasl.password',
  'sasl.aws.region',
  'ssl.ca.location',
  'ssl.truststore.location',
  'ssl.truststore.type',
  'ssl.certificate.location',
  'ssl.key.location',
  'offset.storage.file.filename',
  'ledger.table',
  's3.bucket.name',
  's3.region',
  // The sink's keys, as the CDK app's configuration has them (lib/config/connect-settings.ts).
  ...SINK_KEYS,
] as const;

/** Kafka Connect keys with no equivalent here, and why. */
export const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  'key.converter': 'keys are written with the same rules as values (JSON, text or base64)',
  'value.converter.schemas.enable': 'the sink writes values as they are; there is no Connect schema envelope',
  'storage.class': 'the storage is always Amazon S3',
  'rotate.schedule.interval.ms':
    'it rotates on the wall clock, and object keys must be a function of the records; use rotate.interval.ms (record time)',
  's3.part.size': 'objects are written with one PutObject each',
  'errors.deadletterqueue.topic.name': 'poison records go to S3 under errors.deadletterqueue.s3.prefix, not to a Kafka topic',
  'behavior.on.null.values': 'tombstones are always written, as "value": null',
  'offset.storage.topic': "the offsets live in the sink's ledger: offset.storage.file.filename or ledger.table",
  'msk.cluster.arn': "standalone mode connects to bootstrap.servers (the MSK cluster's bootstrap brokers)",
};

const positiveInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Where the objects and the offsets go, and their layout: all the operations commands read. */
export const STORAGE_KEY_SCHEMAS = {
  'offset.storage.file.filename': z.string().min(1).optional(),
  'ledger.table': z.string().min(1).optional(),
  's3.bucket.name': z.string().optional(),
  's3.region': z.string().optional(),
  ...SINK_KEY_SCHEMAS,
};
export const StorageSchema = z.object(STORAGE_KEY_SCHEMAS);

export const WorkerSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-" only')
    .optional(),
  'connector.class': z.string().optional(),
  'tasks.max': z
    .literal('1', { error: 'must be 1: run several standalone workers with the same group.id to share the partitions' })
    .optional(),
  'bootstrap.servers': z.string({ error: 'required' }).min(1, 'required'),
  topics: z.string().optional(),
  'topics.regex': z.string().optional(),
  'group.id': z.string().min(1).max(255).optional(),
  'client.id': z.string().min(1).max(255).optional(),
  'consumer.auto.offset.reset': z.enum(['earliest', 'latest'], { error: 'earliest or latest' }).optional(),
  'auto.offset.reset': z.enum(['earliest', 'latest'], { error: 'earliest or latest' }).optional(),
  'offset.flush.interval.ms': positiveInt(10, 3_600_000).default(10_000),
  'flush.size': positiveInt(1, 1_000_000).default(1_000),
  'consumer.session.timeout.ms': positiveInt(1_000, 3_600_000).default(45_000),
  'consumer.heartbeat.interval.ms': positiveInt(100, 600_000).default(3_000),
  'consumer.max.poll.interval.ms': positiveInt(1_000, 3_600_000).default(300_000),
  'consumer.fetch.max.wait.ms': positiveInt(0, 60_000).default(500),
  'consumer.max.partition.fetch.bytes': positiveInt(1_024, 256 * 1024 * 1024).default(1_048_576),
  // Kafka's default (5 minutes); the floor keeps a typo from listing the topics many times a second.
  'consumer.metadata.max.age.ms': positiveInt(1_000, 86_400_000).default(300_000),
  // Cooperative first; roundrobin too, so that workers of an older release (roundrobin only) and
  // newer ones can share a group during a rolling upgrade (the group takes the common one).
  'consumer.partition.assignment.strategy': z.string().default(`${AssignmentStrategy.cooperativeSticky},${AssignmentStrategy.roundRobin}`),
  'consumer.group.protocol': z.enum(['classic', 'consumer'], { error: 'classic' }).default('classic'),
  // Kafka Connect's default (5 s). 0 abandons the Kafka side at once; the ceiling (10 minutes)
  // is well past any supervisor's stop timeout (systemd 90 s, Kubernetes 30 s by default).
  'task.shutdown.graceful.timeout.ms': positiveInt(0, 600_000).default(5_000),
  'security.protocol': z
    .enum(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'], { error: 'PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL' })
    .default('PLAINTEXT'),
  'sasl.mechanism': z
    .enum(['SCRAM-SHA-256', 'SCRAM-SHA-512', 'AWS_MSK_IAM'], { error: 'SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM' })
    .optional(),
  'sasl.jaas.config': z.string().optional(),
  'sasl.username': z.string().min(1).optional(),
  'sasl.password': z.string().min(1).optional(),
  'sasl.aws.region': z.string().min(1).optional(),
  'ssl.ca.location': z.string().min(1).optional(),
  'ssl.truststore.location': z.string().min(1).optional(),
  'ssl.truststore.type': z.literal('PEM', { error: 'only PEM trust stores are read (convert a JKS one with keytool/openssl)' }).optional(),
  'ssl.certificate.location': z.string().min(1).optional(),
  'ssl.key.location': z.string().min(1).optional(),
  ...STORAGE_KEY_SCHEMAS,
});

/**
 * The props of `MskS3Sink` and their defaults: the Kafka source and its mappings, the storage,
 * the function, monitoring and the manifest writer. Validated by `validateProps`
 * (sink-props-validation.ts) before anything is created.
 */
import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { KafkaSource } from './kafka-source.ts';
import type { SinkAlarmOptions } from './sink-monitoring.ts';

/** Where a mapping starts reading when its consumer group has no committed offset yet. */
export type StartingPosition =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'LATEST' }
  /** `timestamp`: Unix time in seconds. */
  | { readonly type: 'AT_TIMESTAMP'; readonly timestamp: number };

/** The mapping's provisioned mode: a floor and a ceiling of event pollers. */
export interface ProvisionedPollers {
  /** @default 1 */
  readonly minimumPollers?: number;
  /** @default 200 */
  readonly maximumPollers?: number;
  /** Mappings with the same group name share pollers. @default - dedicated pollers */
  readonly pollerGroupName?: string;
}

/**
 * Where the mapping sends a batch it gives up on (after `retryAttempts` or `maxRecordAge`).
 * `s3` keeps the whole batch with the failure's metadata; `sqs` keeps only the metadata
 * (topic, partition, offsets), the records stay in Kafka until its retention deletes them.
 */
export type OnFailureDestination =
  | { readonly type: 's3' /** @default - a new encrypted bucket */; readonly bucket?: s3.IBucket }
  | { readonly type: 'sqs' /** @default - a new encrypted queue */; readonly queue?: sqs.IQueue };

/** Bucket encryption for a bucket the construct creates. */
export type SinkBucketEncryption = 'S3_MANAGED' | 'KMS';

/** Defaults that favour large objects: cost per GB is mostly S3 PUTs (one per partition per batch). */
export const DEFAULT_BATCH_SIZE = 10_000;
export const DEFAULT_BATCHING_WINDOW = Duration.seconds(60);

export interface MskS3SinkProps {
  /** The Kafka cluster to read from. */
  readonly source: KafkaSource;
  /**
   * The topics to deliver. A Lambda Kafka event source mapping takes exactly one topic, so the
   * construct creates one mapping per topic, all invoking the same function and sharing the
   * ledger (its key is topic + partition).
   */
  readonly topics: readonly string[];
  /**
   * The consumer group id of the mappings. Each mapping needs its own group, so with several
   * topics the id must contain `{topic}`, which is replaced by each topic's name. A group id
   * cannot change once a mapping exists (CloudFormation replaces the mapping).
   * @default - Lambda's default: the mapping's UUID
   */
  readonly consumerGroupId?: string;
  /** @default { type: 'TRIM_HORIZON' } (Kafka Connect's `earliest`) */
  readonly startingPosition?: StartingPosition;
  /**
   * Records per invocation, 1–10000 (an invocation also stops at Lambda's 6 MB payload). Larger
   * batches make larger objects: one S3 PUT per partition per batch is most of the cost per GB
   * (README, Performance), so the default is the most Lambda allows.
   * @default 10000 (Lambda's own default is 100)
   */
  readonly batchSize?: number;
  /**
   * How long the mapping gathers records before invoking, at most 5 minutes: the bound on how
   * stale S3 may be, traded against object size (Firehose's default buffer is 300 s).
   * @default Duration.seconds(60) (Lambda's own default is 500 ms)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Provisioned mode (dedicated event pollers). Required by `retryAttempts`, `bisectBatchOnError`,
   * `maxRecordAge` and `reportBatchItemFailures`.
   * @default - on-demand mode
   */
  readonly provisionedPollers?: ProvisionedPollers;
  /**
   * Provisioned mode only: retries of a failed batch before the mapping gives up on it. -1 = retry
   * until the record expires in Kafka. Set on the mapping explicitly (`MaximumRetryAttempts`) in
   * provisioned mode. With an `onFailure` destination, Lambda caps -1 at 10 retries, after which
   * it sends the batch to the destination and the consumer group moves past it; the construct
   * therefore refuses -1 (or no value) together with `onFailure`: give the number you mean.
   * @default -1 (provisioned mode); not set in on-demand mode, where Lambda retries until the record expires
   */
  readonly retryAttempts?: number;
  /** Provisioned mode only: split a failed batch in two and retry each half. @default false */
  readonly bisectBatchOnError?: boolean;
  /** Provisioned mode only: discard records older than this (60 s – 7 days). @default - never */
  readonly maxRecordAge?: Duration;
  /**
   * Provisioned mode only: the function reports the first undelivered record of each failed
   * partition (`ReportBatchItemFailures`) so that delivered partitions are not retried. Sets the
   * function's `SINK_REPORT_BATCH_ITEM_FAILURES=true` together with the mapping's response type.
   * @default false
   */
  readonly reportBatchItemFailures?: boolean;
  /**
   * Where given-up batches go. Required when `retryAttempts` or `maxRecordAge` can discard
   * records, so that nothing is dropped silently. Needs an explicit `retryAttempts` (0-10000,
   * provisioned mode): with a destination Lambda silently caps unlimited retries at 10. Every
   * batch that reaches the destination raises an alarm (README, "Alarms").
   * @default - none (the mapping retries until the record expires in Kafka)
   */
  readonly onFailure?: OnFailureDestination;

  /**
   * An existing bucket to write to. Its encryption key, if any, goes in `bucketKey`.
   * @default - a new bucket
   */
  readonly bucket?: s3.IBucket;
  /**
   * The KMS key of an existing `bucket` (or the key a new bucket uses with `KMS` encryption).
   * @default - none for an existing bucket; a new key for `bucketEncryption: 'KMS'`
   */
  readonly bucketKey?: kms.IKey;
  /** New bucket only. @default 'S3_MANAGED' */
  readonly bucketEncryption?: SinkBucketEncryption;
  /**
   * New bucket only. Versioning keeps every object recoverable if something overwrites or deletes
   * it in spite of the bucket policy (README, "The bucket trusts only the sink"); noncurrent
   * versions expire after `noncurrentVersionExpirationDays`. `false` opts out.
   * @default true
   */
  readonly bucketVersioned?: boolean;
  /**
   * New, versioned bucket only: noncurrent versions expire this many days after they stop being
   * current; 0 keeps them.
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * New bucket only: server access logs go to this bucket.
   * @default - a new access-log bucket (90-day expiry)
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * New bucket only: dead letters expire this many days after they are written; 0 keeps them.
   * @default 365
   */
  readonly deadLetterExpirationDays?: number;

  /** `SINK_PREFIX` (Kafka Connect's `topics.dir`). @default 'topics/' */
  readonly prefix?: string;
  /** `SINK_DEAD_LETTER_PREFIX`, outside `prefix`. @default 'dead-letters/' */
  readonly deadLetterPrefix?: string;
  /** `SINK_COMPRESSION`. @default 'gzip' */
  readonly compression?: 'gzip' | 'zstd' | 'none';
  /** `SINK_ERRORS_TOLERANCE` (Kafka Connect's `errors.tolerance`). @default 'none' */
  readonly errorsTolerance?: 'none' | 'all';
  /** `SINK_VALUE_CONVERTER`. @default 'auto' */
  readonly valueConverter?: 'auto' | 'json';
  /** `SINK_MAX_CONCURRENCY`: partitions of a batch delivered at once. @default 16 */
  readonly maxConcurrency?: number;
  /**
   * Further `SINK_*` settings of the function (data layout, rotation, format: see
   * docs/configuration.md), checked by the function's own loader at synth.
   * @default - none (JSON Lines, `partition={p}` layout, one object per partition per batch)
   */
  readonly sinkSettings?: Readonly<Record<string, string>>;

  /** @default 1024 */
  readonly memorySize?: number;
  /** At most 15 minutes. @default Duration.minutes(5) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Bundle the AWS SDK v3 into the function (pinned to the version the tests ran with) instead
   * of using the runtime's copy.
   * @default true
   */
  readonly bundleAwsSdk?: boolean;

  /** Alarm thresholds and the notification topic. @default - see `SinkAlarmOptions` */
  readonly alarms?: SinkAlarmOptions;
  /** @default - `<stack name>-msk-s3-sink` */
  readonly dashboardName?: string;

  /**
   * Completeness markers (`_manifest.json`, README "Completeness markers"): with the time
   * partitioner (`sinkSettings.SINK_PARTITIONER: 'time'`, Kafka record timestamps), a second
   * function writes the due manifests of every topic on a schedule. `false` turns it off; options
   * with another partitioner are an error.
   * @default - on with the time partitioner (every 5 minutes, no grace), off otherwise
   */
  readonly manifests?: ManifestWriterOptions | false;
}

/** The scheduled manifest writer (functions/manifest-writer). */
export interface ManifestWriterOptions {
  /** How often it runs, 1 minute to 1 day. @default Duration.minutes(5) */
  readonly schedule?: Duration;
  /** How long after a time partition's end every partition must have reached (`MANIFEST_GRACE_MS`). @default 0 */
  readonly graceMs?: number;
  /**
   * Each topic's partition count (`MANIFEST_TOPIC_PARTITIONS`), so that partitions that never
   * committed anything hold completeness back.
   * @default - only the partitions the ledger knows
   */
  readonly partitionsPerTopic?: Readonly<Record<string, number>>;
}

export const DEFAULT_MANIFEST_SCHEDULE = Duration.minutes(5);
/** The longest timeout Lambda allows. */
export const MAX_TIMEOUT = Duration.minutes(15);

/** The consumer group id of one topic's mapping: `{topic}` in the template replaced by the topic. */
export function consumerGroupFor(template: string | undefined, topic: string): string | undefined {
  return template?.replaceAll('{topic}', topic);
}

/**
 * `MskS3Sink`: the whole sink as one construct. An event source mapping per topic reads from
 * Amazon MSK or a self-managed Kafka cluster and invokes one function, which writes each batch to
 * S3 effectively once with the DynamoDB offset ledger (docs/protocol.md). Secure by default:
 * encrypted, TLS-only, private buckets; least-privilege IAM; retained data; a dashboard and alarms.
 */
import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type { IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { loadConfig } from '../lib/config/config.ts';
import { ledgerTableDefinition } from '../lib/ledger/table.ts';
import { MANIFEST_NAME, MANIFEST_STATE_NAME } from '../lib/manifest/manifest.ts';
import type { KafkaSource, SelfManagedKafkaSource } from './kafka-source.ts';
import { SinkMonitoring, type SinkAlarmOptions } from './sink-monitoring.ts';

export type { KafkaSource, MskSource, SelfManagedKafkaSource } from './kafka-source.ts';

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

/** The directory of this file, to find the handler without relying on the working directory. */
const here = fileURLToPath(new URL('.', import.meta.url));
/** The function's entry point (DESIGN.md: part of the product's interface). */
export const HANDLER_ENTRY = `${here}../functions/msk-sink/handler.ts`;
/** The scheduled manifest writer's entry point. */
export const MANIFEST_WRITER_ENTRY = `${here}../functions/manifest-writer/handler.ts`;
export const DEFAULT_MANIFEST_SCHEDULE = Duration.minutes(5);
const MAX_TIMEOUT = Duration.minutes(15);

export class MskS3Sink extends Construct {
  /** The bucket the sink writes to (created or given). */
  readonly bucket: s3.IBucket;
  /** The access-log bucket, when the construct created one. */
  readonly accessLogsBucket: s3.IBucket | undefined;
  /** The offset ledger, created from `ledgerTableDefinition`. */
  readonly ledgerTable: dynamodb.Table;
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  /** One mapping per topic, in the order of `topics`. */
  readonly eventSourceMappings: readonly lambda.EventSourceMapping[];
  /** The first (with one topic, the only) mapping. */
  readonly eventSourceMapping: lambda.EventSourceMapping;
  /** The on-failure destination, when configured. */
  readonly onFailureBucket: s3.IBucket | undefined;
  readonly onFailureQueue: sqs.IQueue | undefined;
  readonly dashboard: Dashboard;
  readonly alarms: readonly IAlarm[];
  readonly alarmTopic: sns.ITopic | undefined;
  /** The function's environment (`SINK_*`, `LEDGER_TABLE`), as passed to the function. */
  readonly environment: Readonly<Record<string, string>>;
  /** The scheduled manifest writer, with the time partitioner (unless `manifests: false`). */
  readonly manifestWriter: nodejs.NodejsFunction | undefined;
  /** The EventBridge rule that invokes `manifestWriter`. */
  readonly manifestSchedule: events.Rule | undefined;
  /**
   * The sink bucket's protective statements: deny `s3:PutObject` under the sink and dead-letter
   * prefixes to every principal but the sink's role (and, under the sink prefix, the manifest
   * writer's), and deny it there without `If-None-Match`. Added to a bucket the construct creates
   * or one defined in the same app; for an imported `bucket` (e.g. `Bucket.fromBucketName`), add
   * them to its policy yourself: the construct cannot, and warns at synth.
   */
  readonly bucketPolicyStatements: readonly iam.PolicyStatement[];
  private readonly props: MskS3SinkProps;

  constructor(scope: Construct, id: string, props: MskS3SinkProps) {
    super(scope, id);
    validateProps(props);
    this.props = props;
    const stack = Stack.of(this);

    // --- Storage -------------------------------------------------------------------------
    let bucketKey = props.bucketKey;
    if (props.bucket) {
      this.bucket = props.bucket;
      this.accessLogsBucket = undefined;
    } else {
      const encryption = props.bucketEncryption ?? 'S3_MANAGED';
      if (encryption === 'KMS' && !bucketKey) {
        bucketKey = new kms.Key(this, 'BucketKey', {
          description: 'msk-s3-sink: encrypts the sink bucket',
          enableKeyRotation: true,
          removalPolicy: RemovalPolicy.RETAIN,
        });
      }
      this.accessLogsBucket = props.accessLogsBucket ?? this.createAccessLogsBucket();
      this.bucket = this.createSinkBucket(props, encryption, bucketKey);
    }

    this.ledgerTable = new dynamodb.Table(this, 'Ledger', {
      partitionKey: keyAttribute('HASH'),
      sortKey: keyAttribute('RANGE'),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // --- The function's configuration, checked by the function's own loader ---------------
    const environment: Record<string, string> = {
      SINK_BUCKET: this.bucket.bucketName,
      LEDGER_TABLE: this.ledgerTable.tableName,
      SINK_PREFIX: props.prefix ?? 'topics/',
      SINK_DEAD_LETTER_PREFIX: props.deadLetterPrefix ?? 'dead-letters/',
      SINK_FORMAT: 'jsonl',
      SINK_COMPRESSION: props.compression ?? 'gzip',
      SINK_ERRORS_TOLERANCE: props.errorsTolerance ?? 'none',
      SINK_VALUE_CONVERTER: props.valueConverter ?? 'auto',
      SINK_REPORT_BATCH_ITEM_FAILURES: String(props.reportBatchItemFailures ?? false),
      SINK_MAX_CONCURRENCY: String(props.maxConcurrency ?? 16),
      ...props.sinkSettings,
    };
    const config = checkedSinkConfig(environment);
    environment.SINK_PREFIX = config.prefix;
    environment.SINK_DEAD_LETTER_PREFIX = config.deadLetterPrefix;
    this.environment = environment;

    // --- The function ----------------------------------------------------------------------
    const sinkIdentity = this.functionIdentity(
      props,
      '',
      'msk-s3-sink function: its log group, its bucket prefixes, its ledger, its Kafka source',
    );
    this.logGroup = sinkIdentity.logGroup;
    const role = sinkIdentity.role;
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: HANDLER_ENTRY,
      handler: 'handler',
      description: 'msk-s3-sink: delivers Kafka batches to S3 effectively once',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(5),
      role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { ...environment, NODE_OPTIONS: '--enable-source-maps' },
      ...bundlingOptions(props),
    });
    this.grantSinkAccess(role, config.prefix, config.deadLetterPrefix, bucketKey);

    // --- Completeness markers (time partitioner) --------------------------------------------
    const manifests = manifestsEnabled(props, config) ? props.manifests || {} : undefined;
    const writer = manifests ? this.createManifestWriter(props, manifests, environment, config.prefix, bucketKey) : undefined;
    this.manifestWriter = writer?.function;
    this.manifestSchedule = writer?.rule;

    // --- Only the sink (and the manifest writer) may create objects under the sink prefixes ---
    this.bucketPolicyStatements = sinkBucketPolicyStatements({
      bucket: this.bucket,
      prefix: config.prefix,
      deadLetterPrefix: config.deadLetterPrefix,
      sinkRole: role,
      manifestWriterRole: writer?.role,
    });
    // A bucket defined in this app (created here, or a `new s3.Bucket` the user passes) takes the
    // statements; an imported one (`fromBucketName`) cannot: S3 keeps one policy per bucket, owned elsewhere.
    const added = this.bucketPolicyStatements.map((statement) => this.bucket.addToResourcePolicy(statement).statementAdded);
    if (!added.every(Boolean)) {
      Annotations.of(this).addWarningV2(
        'msk-s3-sink:bucketPolicy',
        'MskS3Sink: the sink bucket is not defined in this app, so its bucket policy cannot be changed here: add `bucketPolicyStatements` (deny PutObject under the sink prefixes to every other principal, and without If-None-Match) to its policy yourself (README, "The bucket trusts only the sink").',
      );
    }

    // --- Sources ---------------------------------------------------------------------------
    const sourceAccess = this.sourceAccess(props.source, role);
    const onFailure = this.onFailureDestination(props);
    this.onFailureBucket = onFailure?.bucket;
    this.onFailureQueue = onFailure?.queue;
    const start = props.startingPosition ?? { type: 'TRIM_HORIZON' };
    this.eventSourceMappings = props.topics.map(
      (topic, index) =>
        new lambda.EventSourceMapping(this, `Mapping${index}`, {
          target: this.function,
          kafkaTopic: topic,
          ...(props.source.kind === 'msk'
            ? { eventSourceArn: props.source.clusterArn }
            : { kafkaBootstrapServers: [...props.source.bootstrapServers] }),
          sourceAccessConfigurations: sourceAccess.length > 0 ? sourceAccess : undefined,
          kafkaConsumerGroupId: consumerGroupFor(props.consumerGroupId, topic),
          startingPosition: lambda.StartingPosition[start.type],
          startingPositionTimestamp: start.type === 'AT_TIMESTAMP' ? start.timestamp : undefined,
          batchSize: props.batchSize ?? DEFAULT_BATCH_SIZE,
          maxBatchingWindow: props.maxBatchingWindow ?? DEFAULT_BATCHING_WINDOW,
          provisionedPollerConfig: props.provisionedPollers,
          // Explicit in provisioned mode, so that the template says what the mapping does (-1 is Lambda's default).
          retryAttempts: props.provisionedPollers ? (props.retryAttempts ?? -1) : undefined,
          bisectBatchOnError: props.bisectBatchOnError,
          maxRecordAge: props.maxRecordAge,
          reportBatchItemFailures: props.reportBatchItemFailures,
          onFailure: onFailure?.destination,
          supportS3OnFailureDestination: true,
          // DroppedEventCount, OnFailureDestinationDeliveredEventCount, InvokedEventCount per mapping: alarmed.
          metricsConfig: { metrics: [lambda.MetricType.EVENT_COUNT] },
        }),
    );
    this.eventSourceMapping = this.eventSourceMappings[0]!;

    // --- Monitoring ------------------------------------------------------------------------
    const monitoring = new SinkMonitoring(this, 'Monitoring', {
      function: this.function,
      mappings: this.eventSourceMappings,
      onFailure: props.onFailure?.type,
      onFailureQueue: this.onFailureQueue,
      onFailureBucketEvents: onFailure?.bucketEvents,
      invocationInterval: (props.timeout ?? Duration.minutes(5)).plus(props.maxBatchingWindow ?? DEFAULT_BATCHING_WINDOW),
      manifestWriter: writer ? { function: writer.function, deadLetterQueue: writer.deadLetterQueue } : undefined,
      dashboardName: props.dashboardName ?? `${stack.stackName}-msk-s3-sink`,
      alarms: props.alarms,
      topics: props.topics,
    });
    this.dashboard = monitoring.dashboard;
    this.alarms = monitoring.alarms;
    this.alarmTopic = monitoring.alarmTopic;

    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'Where the sink writes' });
    new CfnOutput(this, 'LedgerTableName', { value: this.ledgerTable.tableName, description: 'The offset ledger' });
    new CfnOutput(this, 'FunctionName', { value: this.function.functionName });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName });
  }

  /**
   * The manifest writer: its own role (list and read the sink prefix, create manifests in it,
   * scan the ledger), log group and EventBridge schedule.
   */
  private createManifestWriter(
    props: MskS3SinkProps,
    options: ManifestWriterOptions,
    sinkEnvironment: Readonly<Record<string, string>>,
    prefix: string,
    key: kms.IKey | undefined,
  ): { function: nodejs.NodejsFunction; rule: events.Rule; role: iam.Role; deadLetterQueue: sqs.Queue } {
    const { logGroup, role } = this.functionIdentity(
      props,
      'ManifestWriter',
      'msk-s3-sink manifest writer: its log group, the sink prefix (list, read, manifests), the ledger (scan)',
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ManifestListPrefix',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ManifestReadObjects',
        // HeadObject (the objects' metadata) is authorised by s3:GetObject.
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${prefix}*`)],
      }),
    );
    acknowledgeWildcard(
      role,
      this.bucket.arnForObjects(`${prefix}*`),
      'The manifest writer reads the metadata of the sink objects of every topic (keys unknown in advance); scoped to the sink prefix of one bucket, read only.',
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ManifestWriteMarkers',
        actions: ['s3:PutObject'],
        resources: [
          this.bucket.arnForObjects(`${prefix}*/${MANIFEST_NAME}`),
          this.bucket.arnForObjects(`${prefix}*/${MANIFEST_STATE_NAME}`),
        ],
      }),
    );
    acknowledgeWildcard(
      role,
      this.bucket.arnForObjects(`${prefix}*/${MANIFEST_NAME}`),
      'The manifest writer creates _manifest.json (If-None-Match) in time-partition directories whose paths depend on the records; scoped to that file name under the sink prefix.',
    );
    acknowledgeWildcard(
      role,
      this.bucket.arnForObjects(`${prefix}*/${MANIFEST_STATE_NAME}`),
      'The manifest writer saves its cursor, one _manifest-state.json per topic (If-Match / If-None-Match); scoped to that file name under the sink prefix.',
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ManifestLedger', actions: ['dynamodb:Scan'], resources: [this.ledgerTable.tableArn] }),
    );
    if (key) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid: 'SinkBucketKey', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
      );
    }
    const partitions = Object.entries(options.partitionsPerTopic ?? {});
    // Scheduled runs that failed after Lambda's retries, or that EventBridge could not deliver: alarmed.
    const deadLetterQueue = new sqs.Queue(this, 'ManifestWriterDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the manifest writer and its schedule.',
    });
    const fn = new nodejs.NodejsFunction(this, 'ManifestWriter', {
      deadLetterQueue,
      retryAttempts: 2,
      entry: MANIFEST_WRITER_ENTRY,
      handler: 'handler',
      description: 'msk-s3-sink: writes _manifest.json into complete time partitions',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(5),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        ...sinkEnvironment,
        MANIFEST_TOPICS: props.topics.join(','),
        ...(partitions.length > 0 ? { MANIFEST_TOPIC_PARTITIONS: partitions.map(([topic, count]) => `${topic}:${count}`).join(',') } : {}),
        ...(options.graceMs === undefined ? {} : { MANIFEST_GRACE_MS: String(options.graceMs) }),
        NODE_OPTIONS: '--enable-source-maps',
      },
      ...bundlingOptions(props),
    });
    const rule = new events.Rule(this, 'ManifestSchedule', {
      description: 'msk-s3-sink: runs the manifest writer',
      schedule: events.Schedule.rate(options.schedule ?? DEFAULT_MANIFEST_SCHEDULE),
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 2, deadLetterQueue })],
    });
    return { function: fn, rule, role, deadLetterQueue };
  }

  /**
   * A function's log group (retained, `logRetention`) and its role, which may write to that log
   * group only; `idPrefix` names both ('' for the sink: `Logs`, `Role`).
   */
  private functionIdentity(props: MskS3SinkProps, idPrefix: string, description: string): { logGroup: logs.LogGroup; role: iam.Role } {
    const logGroup = new logs.LogGroup(this, `${idPrefix}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, `${idPrefix}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    return { logGroup, role };
  }

  private createAccessLogsBucket(): s3.Bucket {
    const logsBucket = new s3.Bucket(this, 'AccessLogs', {
      // Server access log delivery supports SSE-S3 only on the target bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(logsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket itself; logging it to itself would loop.',
    });
    return logsBucket;
  }

  private createSinkBucket(props: MskS3SinkProps, encryption: SinkBucketEncryption, key: kms.IKey | undefined): s3.Bucket {
    const deadLetterPrefix = props.deadLetterPrefix ?? 'dead-letters/';
    const expiration = props.deadLetterExpirationDays ?? 365;
    const lifecycleRules: s3.LifecycleRule[] = [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) }];
    if (expiration > 0) {
      lifecycleRules.push({
        id: 'expire-dead-letters',
        prefix: deadLetterPrefix.endsWith('/') ? deadLetterPrefix : `${deadLetterPrefix}/`,
        expiration: Duration.days(expiration),
      });
    }
    const versioned = props.bucketVersioned ?? true;
    const noncurrentDays = props.noncurrentVersionExpirationDays ?? 30;
    if (versioned && noncurrentDays > 0) {
      lifecycleRules.push({ id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(noncurrentDays) });
    }
    return new s3.Bucket(this, 'Bucket', {
      encryption: encryption === 'KMS' ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: encryption === 'KMS' ? key : undefined,
      bucketKeyEnabled: encryption === 'KMS' ? true : undefined,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'sink-bucket/',
      lifecycleRules,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Exactly what the sink does: PutObject (If-None-Match) and GetObject/HeadObject on its two prefixes; GetItem/UpdateItem on its ledger. */
  private grantSinkAccess(role: iam.Role, prefix: string, deadLetterPrefix: string, key: kms.IKey | undefined): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SinkObjects',
        // HeadObject (of the existing object after a 412) is authorised by s3:GetObject.
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [this.bucket.arnForObjects(`${prefix}*`)],
      }),
    );
    acknowledgeWildcard(
      role,
      this.bucket.arnForObjects(`${prefix}*`),
      'The sink creates one object per topic-partition range, with keys unknown in advance; scoped to the sink prefix of one bucket.',
    );
    // Dead letters are only ever created (If-None-Match; a 412 means the same record is already
    // there): nothing in the function reads them back, so no s3:GetObject.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SinkDeadLetters',
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${deadLetterPrefix}*`)],
      }),
    );
    acknowledgeWildcard(
      role,
      this.bucket.arnForObjects(`${deadLetterPrefix}*`),
      'The sink creates one dead letter per poison record, with keys unknown in advance; scoped to the dead-letter prefix of one bucket, create only.',
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'Ledger',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.ledgerTable.tableArn],
      }),
    );
    if (key) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'SinkBucketKey',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [key.keyArn],
        }),
      );
    }
  }

  /** The mapping's source access configurations, and the execution role's Kafka and network permissions. */
  private sourceAccess(source: KafkaSource, role: iam.Role): lambda.SourceAccessConfiguration[] {
    const access: lambda.SourceAccessConfiguration[] = [];
    const type = lambda.SourceAccessConfigurationType;
    const readSecret = (secretArn: string) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArn] }));
    const addNetworkInterfaces = (subnetIds: readonly string[] | undefined, securityGroupId: string | undefined) => {
      // The mapping's pollers reach the brokers through network interfaces in the cluster's
      // subnets, created and deleted with the function's execution role.
      const stack = Stack.of(this);
      const ec2Arn = (resource: string, name: string) => stack.formatArn({ service: 'ec2', resource, resourceName: name });
      const interfaces = ec2Arn('network-interface', '*');
      // Only interfaces in the source's subnets (self-managed Kafka: listed) or, for MSK (whose
      // subnets the construct is not told), in this account's subnets of this region.
      const inSubnets = subnetIds
        ? { ArnEquals: { 'ec2:Subnet': subnetIds.map((id) => ec2Arn('subnet', id)) } }
        : { ArnLike: { 'ec2:Subnet': ec2Arn('subnet', '*') } };
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'EventPollerDescribeNetwork',
          actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
          resources: ['*'],
        }),
      );
      acknowledgeWildcard(
        role,
        '*',
        'EC2 Describe* actions have no resource-level permissions; the pollers describe the VPC, subnets and security groups of the source.',
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'EventPollerNetworkInterfaces',
          actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface'],
          resources: [interfaces],
          conditions: inSubnets,
        }),
      );
      acknowledgeWildcard(
        role,
        interfaces,
        "The pollers' network interfaces do not exist before they are created; scoped by the ec2:Subnet condition to the source's subnets.",
      );
      const subnets = subnetIds ? subnetIds.map((id) => ec2Arn('subnet', id)) : [ec2Arn('subnet', '*')];
      const groups = securityGroupId ? [ec2Arn('security-group', securityGroupId)] : [ec2Arn('security-group', '*')];
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid: 'EventPollerSubnets', actions: ['ec2:CreateNetworkInterface'], resources: [...subnets, ...groups] }),
      );
      if (!subnetIds) {
        acknowledgeWildcard(
          role,
          subnets[0]!,
          "The MSK cluster's subnets were not given (source.subnetIds); scoped to this account and region.",
        );
      }
      if (!securityGroupId) {
        acknowledgeWildcard(
          role,
          groups[0]!,
          "An MSK cluster's security groups are not known at synth time; scoped to this account and region.",
        );
      }
    };

    if (source.kind === 'msk') {
      const auth = source.authentication ?? { type: 'iam' };
      const clusterArn = source.clusterArn;
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'MskCluster',
          actions: [
            'kafka:DescribeCluster',
            'kafka:DescribeClusterV2',
            'kafka:GetBootstrapBrokers',
            ...(auth.type === 'sasl-scram' ? ['kafka:ListScramSecrets'] : []),
          ],
          resources: [clusterArn],
        }),
      );
      addNetworkInterfaces(source.subnetIds, undefined);
      if (auth.type === 'iam') {
        const [head, tail] = [Fn.select(0, Fn.split(':cluster/', clusterArn)), Fn.select(1, Fn.split(':cluster/', clusterArn))];
        const resource = (kind: string, name: string) => Fn.join('', [head, `:${kind}/`, tail, `/${name}`]);
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'MskIamConnect',
            actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
            resources: [clusterArn],
          }),
        );
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'MskIamTopics',
            actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
            resources: this.props.topics.map((topic) => resource('topic', topic)),
          }),
        );
        const groups = this.groupsForPolicy().map((group) => resource('group', group));
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'MskIamGroups',
            actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
            resources: groups,
          }),
        );
        if (this.props.consumerGroupId === undefined) {
          acknowledgeWildcard(
            role,
            groups[0]!,
            'Without an explicit consumer group id, Lambda names the group after the mapping UUID, which is unknown at synth time; scoped to groups of this one cluster. Set consumerGroupId to remove it.',
          );
        }
      } else {
        access.push({
          type: auth.type === 'sasl-scram' ? type.SASL_SCRAM_512_AUTH : type.CLIENT_CERTIFICATE_TLS_AUTH,
          uri: auth.secret.secretArn,
        });
        readSecret(auth.secret.secretArn);
        if (auth.secret.encryptionKey) auth.secret.encryptionKey.grantDecrypt(role);
      }
      return access;
    }

    const auth = source.authentication;
    if (auth) {
      const authType = {
        'sasl-scram-512': type.SASL_SCRAM_512_AUTH,
        'sasl-scram-256': type.SASL_SCRAM_256_AUTH,
        basic: type.BASIC_AUTH,
        mtls: type.CLIENT_CERTIFICATE_TLS_AUTH,
      }[auth.type];
      access.push({ type: authType, uri: auth.secret.secretArn });
      readSecret(auth.secret.secretArn);
      if (auth.secret.encryptionKey) auth.secret.encryptionKey.grantDecrypt(role);
    }
    if (source.rootCaCertificate) {
      access.push({ type: type.SERVER_ROOT_CA_CERTIFICATE, uri: source.rootCaCertificate.secretArn });
      readSecret(source.rootCaCertificate.secretArn);
    }
    if (source.vpcSubnets && source.securityGroup) {
      access.push({ type: type.VPC_SECURITY_GROUP, uri: source.securityGroup.securityGroupId });
      const subnetIds = subnetIdsOf(source);
      for (const subnetId of subnetIds) access.push({ type: type.VPC_SUBNET, uri: `subnet:${subnetId}` });
      addNetworkInterfaces(subnetIds, source.securityGroup.securityGroupId);
    }
    return access;
  }

  private groupsForPolicy(): string[] {
    // Without an explicit group id, Lambda names the group after the mapping's UUID, unknown at synth time.
    const template = this.props.consumerGroupId;
    if (template === undefined) return ['*'];
    return this.props.topics.map((topic) => consumerGroupFor(template, topic)!);
  }

  private onFailureDestination(
    props: MskS3SinkProps,
  ): { destination: lambda.IEventSourceDlq; bucket?: s3.IBucket; queue?: sqs.IQueue; bucketEvents?: sqs.IQueue } | undefined {
    const onFailure = props.onFailure;
    if (!onFailure) return undefined;
    if (onFailure.type === 'sqs') {
      const queue =
        onFailure.queue ??
        new sqs.Queue(this, 'OnFailureQueue', {
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
          retentionPeriod: Duration.days(14),
        });
      if (!onFailure.queue) {
        Validations.of(queue).acknowledge({
          id: 'AwsSolutions-SQS3',
          reason: 'This queue is itself the dead-letter destination of the event source mapping.',
        });
      }
      return { destination: new SqsDlq(queue), queue };
    }
    const bucket =
      onFailure.bucket ??
      new s3.Bucket(this, 'OnFailureBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        serverAccessLogsBucket: this.accessLogsBucket,
        serverAccessLogsPrefix: 'on-failure-bucket/',
        removalPolicy: RemovalPolicy.RETAIN,
      });
    if (!onFailure.bucket && !this.accessLogsBucket) {
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'The sink writes to an existing bucket, so the construct has no access-log bucket to send these logs to.',
      });
    }
    return {
      destination: new LeastPrivilegeS3OnFailure(bucket),
      bucket,
      bucketEvents: onFailure.bucket ? undefined : this.onFailureBucketEvents(bucket),
    };
  }

  /**
   * Every object created in the on-failure bucket becomes a message in a queue, alarmed while not
   * empty. Chosen over S3 request metrics (paid per bucket filter, and gone once the minute has
   * passed) and over the mapping's own metric alone: S3 sends the event whoever wrote the object,
   * EventBridge retries delivery for 24 hours, and the alarm stays on, with the object keys in the
   * messages, until an operator has dealt with them and emptied the queue.
   */
  private onFailureBucketEvents(bucket: s3.IBucket): sqs.Queue {
    // Set on the bucket resource itself: the `eventBridgeEnabled` prop would deploy CDK's
    // notifications custom resource (another Lambda function) for the same one setting.
    const cfnBucket = bucket.node.defaultChild as s3.CfnBucket;
    cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    const queue = new sqs.Queue(this, 'OnFailureBucketEvents', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue only records which failed batches reached the on-failure bucket; an operator drains it.',
    });
    new events.Rule(this, 'OnFailureBucketObjectCreated', {
      description: 'msk-s3-sink: a failed batch reached the on-failure bucket',
      eventPattern: { source: ['aws.s3'], detailType: ['Object Created'], detail: { bucket: { name: [bucket.bucketName] } } },
      targets: [new targets.SqsQueue(queue)],
    });
    return queue;
  }
}

/**
 * Acknowledges one cdk-nag AwsSolutions-IAM5 finding (a wildcard resource) on the role's policy,
 * with its reason. Called by hand, once per wildcard the construct writes, right where it writes it.
 */
function acknowledgeWildcard(role: iam.IRole, resource: string, reason: string): void {
  const policy = role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  if (!policy) throw new Error(`MskS3Sink: no policy on ${role.node.path} to acknowledge ${resource} on`);
  const rendered = renderForNag(Stack.of(role).resolve(resource));
  Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
}

/**
 * The sink bucket's deny statements. Any principal that could create an object under the sink
 * prefix could plant one whose metadata claims a huge last offset, which the sink would adopt and
 * commit, then drop every later record as a duplicate; any overwrite would change a committed object.
 */
export function sinkBucketPolicyStatements(input: {
  readonly bucket: s3.IBucket;
  readonly prefix: string;
  readonly deadLetterPrefix: string;
  readonly sinkRole: iam.IRole;
  readonly manifestWriterRole?: iam.IRole | undefined;
}): iam.PolicyStatement[] {
  const { bucket, prefix, deadLetterPrefix } = input;
  const sinkObjects = bucket.arnForObjects(`${prefix}*`);
  const deadLetters = bucket.arnForObjects(`${deadLetterPrefix}*`);
  const writers = [input.sinkRole.roleArn, ...(input.manifestWriterRole ? [input.manifestWriterRole.roleArn] : [])];
  return [
    new iam.PolicyStatement({
      sid: 'OnlyTheSinkWritesSinkObjects',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [sinkObjects],
      // aws:PrincipalArn is the role's ARN for its sessions (the functions' invocations).
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': writers } },
    }),
    new iam.PolicyStatement({
      sid: 'OnlyTheSinkWritesDeadLetters',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [deadLetters],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': input.sinkRole.roleArn } },
    }),
    new iam.PolicyStatement({
      // AWS: "enforce conditional writes". Every object is created once, with If-None-Match: *;
      // multipart uploads and copies (which cannot carry it) are refused too: the sink uses neither.
      sid: 'SinkObjectsAreCreatedOnlyOnce',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [deadLetters],
      conditions: { Null: { 's3:if-none-match': 'true' } },
    }),
    new iam.PolicyStatement({
      // Under the sink prefix every write is conditional: data objects and manifests are created
      // with If-None-Match: *, and the manifest writer replaces its cursor (_manifest-state.json)
      // only with If-Match on the version it read. An unconditional PUT (an overwrite) is refused.
      sid: 'SinkObjectsAreWrittenConditionally',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [sinkObjects],
      conditions: { Null: { 's3:if-none-match': 'true', 's3:if-match': 'true' } },
    }),
  ];
}

/** Renders a resolved resource the way cdk-nag names it in its finding ids. */
function renderForNag(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const value = resource as Record<string, unknown>;
  if ('Fn::GetAtt' in value) {
    const [id, attribute] = value['Fn::GetAtt'] as [string, string];
    return `<${id}.${attribute}>`;
  }
  if ('Ref' in value) return `<${String(value.Ref)}>`;
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
    return parts.map(renderForNag).join(separator);
  }
  return JSON.stringify(value);
}

/**
 * An S3 on-failure destination that grants only what Lambda documents for it (s3:PutObject,
 * s3:ListBucket), where `S3OnFailureDestination` grants read-write on the whole bucket.
 */
class LeastPrivilegeS3OnFailure implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}
  bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    targetHandler.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'OnFailureObjects', actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }),
    );
    acknowledgeWildcard(
      targetHandler.role!,
      this.bucket.arnForObjects('*'),
      'The event source mapping writes failed batches under keys it chooses; scoped to the dedicated on-failure bucket.',
    );
    targetHandler.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'OnFailureList', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    this.bucket.encryptionKey?.grantEncrypt(targetHandler);
    return { destination: this.bucket.bucketArn };
  }
}

/**
 * How both functions are bundled: ESM, minified, external source maps, the SDK pinned. Exported
 * for the cold-start benchmark, which bundles its baseline handler the same way.
 */
export function bundlingOptions(props: MskS3SinkProps): Pick<nodejs.NodejsFunctionProps, 'bundling' | 'depsLockFilePath' | 'projectRoot'> {
  return {
    bundling: {
      format: nodejs.OutputFormat.ESM,
      target: 'node24',
      platform: 'node',
      minify: true,
      sourceMap: true,
      sourceMapMode: nodejs.SourceMapMode.EXTERNAL,
      sourcesContent: false,
      mainFields: ['module', 'main'],
      // ESM output: some CommonJS dependencies call require() for Node built-ins.
      banner:
        "import { createRequire as __msk_s3_sink_createRequire } from 'node:module';const require = __msk_s3_sink_createRequire(import.meta.url);",
      bundleAwsSDK: props.bundleAwsSdk ?? true,
      forceDockerBundling: false,
      tsconfig: `${here}../tsconfig.json`,
    },
    depsLockFilePath: `${here}../package-lock.json`,
    projectRoot: `${here}..`,
  };
}

function keyAttribute(keyType: 'HASH' | 'RANGE'): dynamodb.Attribute {
  const name = ledgerTableDefinition.KeySchema.find((key) => key.KeyType === keyType)!.AttributeName;
  const type = ledgerTableDefinition.AttributeDefinitions.find((attribute) => attribute.AttributeName === name)!.AttributeType;
  return { name, type: { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER, B: dynamodb.AttributeType.BINARY }[type] };
}

function consumerGroupFor(template: string | undefined, topic: string): string | undefined {
  return template?.replaceAll('{topic}', topic);
}

function subnetIdsOf(source: SelfManagedKafkaSource): string[] {
  const selection = source.vpcSubnets!;
  if (selection.subnets) return selection.subnets.map((subnet) => subnet.subnetId);
  return source.vpc!.selectSubnets(selection).subnetIds;
}

/** Whether the construct deploys the manifest writer: the time partitioner with record timestamps, unless turned off. */
function manifestsEnabled(props: MskS3SinkProps, config: ReturnType<typeof loadConfig>): boolean {
  return props.manifests !== false && config.layout?.partitioner === 'time' && config.layout.timestampExtractor === 'Record';
}

/** Runs the function's own configuration loader over the environment the construct sets. */
function checkedSinkConfig(environment: Record<string, string>) {
  const placeholders = {
    SINK_BUCKET: Token.isUnresolved(environment.SINK_BUCKET) ? 'placeholder-bucket' : environment.SINK_BUCKET,
    LEDGER_TABLE: Token.isUnresolved(environment.LEDGER_TABLE) ? 'placeholder-table' : environment.LEDGER_TABLE,
  };
  try {
    return loadConfig({ ...environment, ...placeholders });
  } catch (error) {
    throw new Error(`MskS3Sink: ${(error as Error).message}`);
  }
}

/** Synth-time checks. Every problem is reported in one error. */
export function validateProps(props: MskS3SinkProps): void {
  const problems = collectProblems(props);
  if (problems.length > 0) throw new Error(`MskS3Sink: invalid props:\n  - ${problems.join('\n  - ')}`);
}

/** Kafka's topic names, as the mapping's schema accepts them (at least 2 characters, not starting with "."). */
const TOPIC = /^[a-zA-Z0-9_-][a-zA-Z0-9._-]{1,248}$/;
/** Lambda accepts `*` in a group id too, but the id is also an IAM resource name, where `*` would grant every group. */
const GROUP = /^[a-zA-Z0-9\-/:_+=.@{}]{1,200}$/;

function collectProblems(props: MskS3SinkProps): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const topics = props.topics ?? [];
  check(topics.length > 0, 'topics: at least one topic is required');
  for (const topic of topics) {
    check(
      TOPIC.test(topic),
      `topics: "${topic}" is not a topic name a Lambda mapping accepts (2-249 characters of [a-zA-Z0-9._-], not starting with ".")`,
    );
  }
  check(new Set(topics).size === topics.length, 'topics: a topic is listed twice');
  if (props.consumerGroupId !== undefined) {
    check(GROUP.test(props.consumerGroupId), `consumerGroupId: "${props.consumerGroupId}" must be 1-200 characters of [a-zA-Z0-9-/:_+=.@]`);
    check(
      topics.length <= 1 || props.consumerGroupId.includes('{topic}'),
      'consumerGroupId: with several topics (one mapping each) the group id must contain "{topic}", since each mapping needs its own consumer group',
    );
  }
  if (props.batchSize !== undefined) {
    check(
      Number.isInteger(props.batchSize) && props.batchSize >= 1 && props.batchSize <= 10_000,
      `batchSize: must be an integer from 1 to 10000, got ${props.batchSize}`,
    );
  }
  if (props.maxBatchingWindow !== undefined) {
    check(props.maxBatchingWindow.toMilliseconds() <= 300_000, 'maxBatchingWindow: at most 5 minutes');
  }
  const start = props.startingPosition;
  if (start?.type === 'AT_TIMESTAMP') {
    check(
      Number.isInteger(start.timestamp) && start.timestamp > 0,
      'startingPosition: AT_TIMESTAMP needs a timestamp in whole Unix seconds',
    );
  }

  const provisioned = props.provisionedPollers !== undefined;
  const needsProvisioned = (name: string, set: boolean) =>
    check(!set || provisioned, `${name}: Kafka event source mappings support it only in provisioned mode; set provisionedPollers too`);
  needsProvisioned('retryAttempts', props.retryAttempts !== undefined);
  needsProvisioned('bisectBatchOnError', props.bisectBatchOnError === true);
  needsProvisioned('maxRecordAge', props.maxRecordAge !== undefined);
  needsProvisioned('reportBatchItemFailures', props.reportBatchItemFailures === true);
  if (props.provisionedPollers) {
    const { minimumPollers: min = 1, maximumPollers: max = 200 } = props.provisionedPollers;
    check(Number.isInteger(min) && min >= 1 && min <= 200, `provisionedPollers.minimumPollers: must be 1-200, got ${min}`);
    check(Number.isInteger(max) && max >= 1 && max <= 2000, `provisionedPollers.maximumPollers: must be 1-2000, got ${max}`);
    check(min <= max, `provisionedPollers: minimumPollers (${min}) must not exceed maximumPollers (${max})`);
  }
  if (props.retryAttempts !== undefined) {
    check(
      Number.isInteger(props.retryAttempts) && props.retryAttempts >= -1 && props.retryAttempts <= 10_000,
      `retryAttempts: must be -1 (until the record expires) or 0-10000, got ${props.retryAttempts}`,
    );
  }
  if (props.maxRecordAge !== undefined) {
    const seconds = props.maxRecordAge.toSeconds();
    check(seconds >= 60 && seconds <= 604_800, `maxRecordAge: must be 60 seconds to 7 days, got ${seconds} seconds`);
  }
  const discards = (props.retryAttempts !== undefined && props.retryAttempts !== -1) || props.maxRecordAge !== undefined;
  check(
    !discards || props.onFailure !== undefined,
    'onFailure: retryAttempts or maxRecordAge make the mapping discard records it gave up on; configure an onFailure destination so that no record is lost silently',
  );
  check(
    props.onFailure === undefined || (props.retryAttempts !== undefined && props.retryAttempts !== -1),
    `retryAttempts: with an onFailure destination Lambda caps unlimited retries (-1${props.retryAttempts === undefined ? ', the default' : ''}) at 10, then sends the batch to the destination and moves past it; set retryAttempts to the retries you mean (0-10000, provisioned mode) or remove onFailure`,
  );

  if (props.timeout !== undefined) check(props.timeout.toSeconds() <= MAX_TIMEOUT.toSeconds(), 'timeout: at most 15 minutes');
  if (props.memorySize !== undefined) {
    check(Number.isInteger(props.memorySize) && props.memorySize >= 128 && props.memorySize <= 10_240, 'memorySize: 128-10240 MB');
  }
  if (props.deadLetterExpirationDays !== undefined) {
    check(
      Number.isInteger(props.deadLetterExpirationDays) && props.deadLetterExpirationDays >= 0,
      'deadLetterExpirationDays: a whole number of days, 0 to keep dead letters forever',
    );
  }
  if (props.noncurrentVersionExpirationDays !== undefined) {
    check(
      Number.isInteger(props.noncurrentVersionExpirationDays) && props.noncurrentVersionExpirationDays >= 0,
      `noncurrentVersionExpirationDays: a whole number of days, 0 to keep noncurrent versions forever, got ${props.noncurrentVersionExpirationDays}`,
    );
    check(
      props.bucketVersioned !== false,
      'noncurrentVersionExpirationDays: applies to a versioned bucket; conflicts with bucketVersioned: false',
    );
  }
  const alarms = props.alarms ?? {};
  if (alarms.skippedOffsetsThreshold !== undefined) {
    check(
      Number.isSafeInteger(alarms.skippedOffsetsThreshold) && alarms.skippedOffsetsThreshold >= 0,
      `alarms.skippedOffsetsThreshold: a whole number of offsets (0 alarms on any skip), got ${alarms.skippedOffsetsThreshold}`,
    );
  }
  if (alarms.silentMappingHours !== undefined) {
    check(
      Number.isInteger(alarms.silentMappingHours) && alarms.silentMappingHours >= 0 && alarms.silentMappingHours <= 24,
      `alarms.silentMappingHours: whole hours from 1 to 24, or 0 to turn the alarm off, got ${alarms.silentMappingHours}`,
    );
  }
  problems.push(...manifestProblems(props));
  if (props.bucket) {
    for (const name of [
      'bucketEncryption',
      'bucketVersioned',
      'noncurrentVersionExpirationDays',
      'accessLogsBucket',
      'deadLetterExpirationDays',
    ] as const) {
      check(props[name] === undefined, `${name}: applies only to a bucket the construct creates, not to an existing bucket`);
    }
  }

  const source = props.source;
  if (!source) {
    problems.push('source: required');
  } else if (source.kind === 'msk') {
    check(
      Token.isUnresolved(source.clusterArn) || /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(source.clusterArn),
      `source.clusterArn: "${source.clusterArn}" is not an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>)`,
    );
    const auth = source.authentication?.type ?? 'iam';
    check(!source.serverless || auth === 'iam', `source.authentication: MSK Serverless supports IAM authentication only, got ${auth}`);
    if (source.subnetIds !== undefined) {
      check(source.subnetIds.length > 0, 'source.subnetIds: at least one subnet id, or leave it out');
      for (const id of source.subnetIds) {
        check(Token.isUnresolved(id) || /^subnet-[0-9a-f]+$/.test(id), `source.subnetIds: "${id}" is not a subnet id (subnet-...)`);
      }
    }
  } else if (source.kind === 'self-managed') {
    check(source.bootstrapServers.length > 0, 'source.bootstrapServers: at least one host:port');
    for (const server of source.bootstrapServers) {
      check(/^[^\s:,]+:\d{1,5}$/.test(server), `source.bootstrapServers: "${server}" is not host:port`);
    }
    const inVpc = source.vpcSubnets !== undefined || source.securityGroup !== undefined || source.vpc !== undefined;
    if (inVpc) {
      check(source.vpcSubnets !== undefined, 'source.vpcSubnets: required with a VPC (the subnets the pollers use)');
      check(source.securityGroup !== undefined, 'source.securityGroup: required with a VPC');
      check(
        source.vpcSubnets?.subnets !== undefined || source.vpc !== undefined || source.vpcSubnets === undefined,
        'source.vpc: required when vpcSubnets selects subnets by type or group rather than listing them',
      );
    } else {
      check(
        source.authentication !== undefined,
        'source.authentication: required when the brokers are reached over the internet (no vpcSubnets)',
      );
    }
  } else {
    problems.push(`source.kind: must be "msk" or "self-managed"`);
  }
  return problems;
}

function manifestProblems(props: MskS3SinkProps): string[] {
  const options = props.manifests;
  if (options === undefined || options === false) return [];
  const problems: string[] = [];
  const settings = props.sinkSettings ?? {};
  if (settings.SINK_PARTITIONER !== 'time') {
    problems.push(
      `manifests: completeness markers need the time partitioner (sinkSettings.SINK_PARTITIONER: 'time'), got ${settings.SINK_PARTITIONER === undefined ? 'the default partitioner' : `"${settings.SINK_PARTITIONER}"`}; remove manifests or set it to false`,
    );
  } else if ((settings.SINK_TIMESTAMP_EXTRACTOR ?? 'Record') !== 'Record') {
    problems.push(
      'manifests: completeness markers need Kafka record timestamps (SINK_TIMESTAMP_EXTRACTOR=Record), not a field of the value',
    );
  }
  if (options.schedule !== undefined) {
    const seconds = options.schedule.toSeconds();
    problems.push(
      ...(seconds >= 60 && seconds <= 86_400 && seconds % 60 === 0
        ? []
        : [`manifests.schedule: whole minutes from 1 minute to 1 day, got ${seconds} seconds`]),
    );
  }
  if (options.graceMs !== undefined && !(Number.isSafeInteger(options.graceMs) && options.graceMs >= 0)) {
    problems.push(`manifests.graceMs: a non-negative whole number of milliseconds, got ${options.graceMs}`);
  }
  for (const [topic, count] of Object.entries(options.partitionsPerTopic ?? {})) {
    if (!(props.topics ?? []).includes(topic)) problems.push(`manifests.partitionsPerTopic: "${topic}" is not one of topics`);
    if (!(Number.isInteger(count) && count >= 1))
      problems.push(`manifests.partitionsPerTopic: ${topic} must be a positive partition count, got ${count}`);
  }
  return problems;
}

export { collectProblems as sinkPropsProblems };

/**
 * `MskS3Sink`: the whole sink as one construct. An event source mapping per topic reads from
 * Amazon MSK or a self-managed Kafka cluster and invokes one function, which writes each batch to
 * S3 effectively once with the DynamoDB offset ledger (docs/protocol.md). Secure by default:
 * encrypted, TLS-only, private buckets; least-privilege IAM; retained data; a dashboard and alarms.
 *
 * This file composes the parts: props (sink-props.ts) checked by sink-props-validation.ts,
 * storage (sink-storage.ts), permissions (sink-permissions.ts), one source binding per Kafka kind
 * (msk-source.ts, self-managed-source.ts), the on-failure destination (on-failure.ts), the
 * manifest writer (manifest-writer.ts) and monitoring (sink-monitoring.ts). Every resource is
 * created in this construct's own scope, with the ids it always had, so that the logical IDs of
 * deployed stacks do not change.
 */
import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import type { IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { loadSettings, loadStorageConfig, type SinkSettings } from '../lib/config/config.ts';
import { bundlingOptions, HANDLER_ENTRY } from './bundling.ts';
import { createManifestWriter, manifestsEnabled } from './manifest-writer.ts';
import { bindMskSource } from './msk-source.ts';
import { createOnFailureDestination } from './on-failure.ts';
import { bindSelfManagedSource } from './self-managed-source.ts';
import { SinkMonitoring } from './sink-monitoring.ts';
import { grantSinkAccess, functionIdentity, sinkBucketPolicyStatements } from './sink-permissions.ts';
import { consumerGroupFor, DEFAULT_BATCH_SIZE, DEFAULT_BATCHING_WINDOW, type MskS3SinkProps } from './sink-props.ts';
import { validateProps } from './sink-props-validation.ts';
import { createStorage } from './sink-storage.ts';

export { bundlingOptions, HANDLER_ENTRY, MANIFEST_WRITER_ENTRY } from './bundling.ts';
export type { KafkaSource, MskSource, SelfManagedKafkaSource } from './kafka-source.ts';
export { sinkBucketPolicyStatements } from './sink-permissions.ts';
export {
  DEFAULT_BATCH_SIZE,
  DEFAULT_BATCHING_WINDOW,
  DEFAULT_MANIFEST_SCHEDULE,
  type ManifestWriterOptions,
  type MskS3SinkProps,
  type OnFailureDestination,
  type ProvisionedPollers,
  type SinkBucketEncryption,
  type StartingPosition,
} from './sink-props.ts';
export { sinkPropsProblems, validateProps } from './sink-props-validation.ts';

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

  constructor(scope: Construct, id: string, props: MskS3SinkProps) {
    super(scope, id);
    validateProps(props);
    const stack = Stack.of(this);

    // --- Storage: in this scope, with the ids of deployed stacks -------------------------------
    const storage = createStorage(this, props);
    const bucketKey = storage.bucketKey;
    this.bucket = storage.bucket;
    this.accessLogsBucket = storage.accessLogsBucket;
    this.ledgerTable = storage.ledgerTable;

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
    const sinkIdentity = functionIdentity(
      this,
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
    grantSinkAccess(role, storage, config.prefix, config.deadLetterPrefix, bucketKey);

    // --- Completeness markers (time partitioner) --------------------------------------------
    const manifests = manifestsEnabled(props, config) ? props.manifests || {} : undefined;
    const writer = manifests ? createManifestWriter(this, props, manifests, storage, environment, config.prefix) : undefined;
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
    const sourceAccess = props.source.kind === 'msk' ? bindMskSource(props.source, props, role) : bindSelfManagedSource(props.source, role);
    const onFailure = createOnFailureDestination(this, props, this.accessLogsBucket);
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
  }
}

/**
 * Runs the function's own loader over the settings the construct sets (format, layout, rotation,
 * prefixes, error handling). The bindings are the construct's own bucket and table, unresolved
 * at synth, and are left out; an existing bucket whose name is known is checked with them.
 */
function checkedSinkConfig(environment: Record<string, string>): SinkSettings {
  try {
    return Token.isUnresolved(environment.SINK_BUCKET) ? loadSettings(environment) : loadStorageConfig(environment);
  } catch (error) {
    throw new Error(`MskS3Sink: ${(error as Error).message}`);
  }
}

/**
 * The scheduled manifest writer (functions/manifest-writer): its role, log group, dead-letter
 * queue, function and EventBridge schedule, created in the `MskS3Sink` construct's scope.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { SinkConfig } from '../lib/config/config.ts';
import { MANIFEST_NAME, MANIFEST_STATE_NAME } from '../lib/manifest/manifest.ts';
import { bundlingOptions, MANIFEST_WRITER_ENTRY } from './bundling.ts';
import { acknowledgeWildcard, functionIdentity } from './sink-permissions.ts';
import { DEFAULT_MANIFEST_SCHEDULE, type ManifestWriterOptions, type MskS3SinkProps } from './sink-props.ts';
import type { SinkStorage } from './sink-storage.ts';

/** The manifest writer's function, schedule, role and dead-letter queue. */
export interface ManifestWriter {
  readonly function: nodejs.NodejsFunction;
  readonly rule: events.Rule;
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.Queue;
}

/**
 * The manifest writer: its own role (list and read the sink prefix, create manifests in it,
 * scan the ledger), log group and EventBridge schedule.
 */
export function createManifestWriter(
  scope: Construct,
  props: MskS3SinkProps,
  options: ManifestWriterOptions,
  storage: Pick<SinkStorage, 'bucket' | 'ledgerTable' | 'bucketKey'>,
  sinkEnvironment: Readonly<Record<string, string>>,
  prefix: string,
): ManifestWriter {
  const key = storage.bucketKey;
  const { logGroup, role } = functionIdentity(
    scope,
    props,
    'ManifestWriter',
    'msk-s3-sink manifest writer: its log group, the sink prefix (list, read, manifests), the ledger (scan)',
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ManifestListPrefix',
      actions: ['s3:ListBucket'],
      resources: [storage.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ManifestReadObjects',
      // HeadObject (the objects' metadata) is authorised by s3:GetObject.
      actions: ['s3:GetObject'],
      resources: [storage.bucket.arnForObjects(`${prefix}*`)],
    }),
  );
  acknowledgeWildcard(
    role,
    storage.bucket.arnForObjects(`${prefix}*`),
    'The manifest writer reads the metadata of the sink objects of every topic (keys unknown in advance); scoped to the sink prefix of one bucket, read only.',
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ManifestWriteMarkers',
      actions: ['s3:PutObject'],
      resources: [
        storage.bucket.arnForObjects(`${prefix}*/${MANIFEST_NAME}`),
        storage.bucket.arnForObjects(`${prefix}*/${MANIFEST_STATE_NAME}`),
      ],
    }),
  );
  acknowledgeWildcard(
    role,
    storage.bucket.arnForObjects(`${prefix}*/${MANIFEST_NAME}`),
    'The manifest writer creates _manifest.json (If-None-Match) in time-partition directories whose paths depend on the records; scoped to that file name under the sink prefix.',
  );
  acknowledgeWildcard(
    role,
    storage.bucket.arnForObjects(`${prefix}*/${MANIFEST_STATE_NAME}`),
    'The manifest writer saves its cursor, one _manifest-state.json per topic (If-Match / If-None-Match); scoped to that file name under the sink prefix.',
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'ManifestLedger', actions: ['dynamodb:Scan'], resources: [storage.ledgerTable.tableArn] }),
  );
  if (key) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'SinkBucketKey', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
    );
  }
  const partitions = Object.entries(options.partitionsPerTopic ?? {});
  // Scheduled runs that failed after Lambda's retries, or that EventBridge could not deliver: alarmed.
  const deadLetterQueue = new sqs.Queue(scope, 'ManifestWriterDeadLetters', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(deadLetterQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself the dead-letter queue of the manifest writer and its schedule.',
  });
  const fn = new nodejs.NodejsFunction(scope, 'ManifestWriter', {
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
  const rule = new events.Rule(scope, 'ManifestSchedule', {
    description: 'msk-s3-sink: runs the manifest writer',
    schedule: events.Schedule.rate(options.schedule ?? DEFAULT_MANIFEST_SCHEDULE),
    targets: [new targets.LambdaFunction(fn, { retryAttempts: 2, deadLetterQueue })],
  });
  return { function: fn, rule, role, deadLetterQueue };
}

/** Whether the construct deploys the manifest writer: the time partitioner with record timestamps, unless turned off. */
export function manifestsEnabled(props: MskS3SinkProps, config: Pick<SinkConfig, 'layout'>): boolean {
  return props.manifests !== false && config.layout?.partitioner === 'time' && config.layout.timestampExtractor === 'Record';
}

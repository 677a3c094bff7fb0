/**
 * The mappings' on-failure destination: an SQS queue (the failure's metadata) or an S3 bucket
 * (the whole batch), created or given, and for a created bucket the queue that records each
 * object written to it, so that an alarm stays on until an operator has dealt with it.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledgeWildcard } from './sink-permissions.ts';
import type { MskS3SinkProps } from './sink-props.ts';
/** The on-failure destination of the mappings, and what the construct created for it. */
export interface OnFailure {
  readonly destination: lambda.IEventSourceDlq;
  readonly bucket?: s3.IBucket;
  readonly queue?: sqs.IQueue;
  /** With a bucket the construct created: the queue of its object-created events. */
  readonly bucketEvents?: sqs.IQueue;
}

/**
 * Creates (or takes from `props`) the on-failure destination in `scope`; a created bucket logs to
 * `accessLogsBucket` when there is one. Undefined without `props.onFailure`.
 */
export function createOnFailureDestination(
  scope: Construct,
  props: MskS3SinkProps,
  accessLogsBucket: s3.IBucket | undefined,
): OnFailure | undefined {
  const onFailure = props.onFailure;
  if (!onFailure) return undefined;
  if (onFailure.type === 'sqs') {
    const queue =
      onFailure.queue ??
      new sqs.Queue(scope, 'OnFailureQueue', {
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
    new s3.Bucket(scope, 'OnFailureBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: 'on-failure-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
  if (!onFailure.bucket && !accessLogsBucket) {
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'The sink writes to an existing bucket, so the construct has no access-log bucket to send these logs to.',
    });
  }
  return {
    destination: new LeastPrivilegeS3OnFailure(bucket),
    bucket,
    bucketEvents: onFailure.bucket ? undefined : onFailureBucketEvents(scope, bucket),
  };
}

/**
 * Every object created in the on-failure bucket becomes a message in a queue, alarmed while not
 * empty. Chosen over S3 request metrics (paid per bucket filter, and gone once the minute has
 * passed) and over the mapping's own metric alone: S3 sends the event whoever wrote the object,
 * EventBridge retries delivery for 24 hours, and the alarm stays on, with the object keys in the
 * messages, until an operator has dealt with them and emptied the queue.
 */
function onFailureBucketEvents(scope: Construct, bucket: s3.IBucket): sqs.Queue {
  // Set on the bucket resource itself: the `eventBridgeEnabled` prop would deploy CDK's
  // notifications custom resource (another Lambda function) for the same one setting.
  const cfnBucket = bucket.node.defaultChild as s3.CfnBucket;
  cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
  const queue = new sqs.Queue(scope, 'OnFailureBucketEvents', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue only records which failed batches reached the on-failure bucket; an operator drains it.',
  });
  new events.Rule(scope, 'OnFailureBucketObjectCreated', {
    description: 'msk-s3-sink: a failed batch reached the on-failure bucket',
    eventPattern: { source: ['aws.s3'], detailType: ['Object Created'], detail: { bucket: { name: [bucket.bucketName] } } },
    targets: [new targets.SqsQueue(queue)],
  });
  return queue;
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

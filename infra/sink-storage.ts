/**
 * The sink's stateful resources: the sink bucket (and its access-log bucket and KMS key, when the
 * construct creates them) and the offset ledger table. They are created in the `MskS3Sink`
 * construct's own scope, not in a child construct, so that their logical IDs stay those of the
 * stacks already deployed: a changed logical ID would replace a bucket or a table
 * (test/infra/logical-ids.test.ts).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ledgerTableDefinition } from '../lib/ledger/table.ts';
import type { MskS3SinkProps, SinkBucketEncryption } from './sink-props.ts';

/** The storage of one sink. */
export interface SinkStorage {
  /** The bucket the sink writes to (created or given). */
  readonly bucket: s3.IBucket;
  /** The access-log bucket, when the construct created one. */
  readonly accessLogsBucket: s3.IBucket | undefined;
  /** The key of the sink bucket: given, created for `KMS` encryption, or none. */
  readonly bucketKey: kms.IKey | undefined;
  /** The offset ledger, created from `ledgerTableDefinition`. */
  readonly ledgerTable: dynamodb.Table;
}

/** Creates (or takes from `props`) the buckets, the key and the ledger table, in `scope`. */
export function createStorage(scope: Construct, props: MskS3SinkProps): SinkStorage {
  let bucketKey = props.bucketKey;
  let bucket: s3.IBucket;
  let accessLogsBucket: s3.IBucket | undefined;
  if (props.bucket) {
    bucket = props.bucket;
    accessLogsBucket = undefined;
  } else {
    const encryption = props.bucketEncryption ?? 'S3_MANAGED';
    if (encryption === 'KMS' && !bucketKey) {
      bucketKey = new kms.Key(scope, 'BucketKey', {
        description: 'msk-s3-sink: encrypts the sink bucket',
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
    accessLogsBucket = props.accessLogsBucket ?? createAccessLogsBucket(scope);
    bucket = createSinkBucket(scope, props, encryption, bucketKey, accessLogsBucket);
  }

  const ledgerTable = new dynamodb.Table(scope, 'Ledger', {
    partitionKey: keyAttribute('HASH'),
    sortKey: keyAttribute('RANGE'),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: true,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  return { bucket, accessLogsBucket, bucketKey, ledgerTable };
}

function createAccessLogsBucket(scope: Construct): s3.Bucket {
  const logsBucket = new s3.Bucket(scope, 'AccessLogs', {
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

function createSinkBucket(
  scope: Construct,
  props: MskS3SinkProps,
  encryption: SinkBucketEncryption,
  key: kms.IKey | undefined,
  accessLogsBucket: s3.IBucket | undefined,
): s3.Bucket {
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
  return new s3.Bucket(scope, 'Bucket', {
    encryption: encryption === 'KMS' ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
    encryptionKey: encryption === 'KMS' ? key : undefined,
    bucketKeyEnabled: encryption === 'KMS' ? true : undefined,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    versioned,
    serverAccessLogsBucket: accessLogsBucket,
    serverAccessLogsPrefix: 'sink-bucket/',
    lifecycleRules,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

function keyAttribute(keyType: 'HASH' | 'RANGE'): dynamodb.Attribute {
  const name = ledgerTableDefinition.KeySchema.find((key) => key.KeyType === keyType)!.AttributeName;
  const type = ledgerTableDefinition.AttributeDefinitions.find((attribute) => attribute.AttributeName === name)!.AttributeType;
  return { name, type: { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER, B: dynamodb.AttributeType.BINARY }[type] };
}

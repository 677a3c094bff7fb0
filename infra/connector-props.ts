import { Annotations, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { toSinkEnvironment, VALUE_CONVERTERS } from '../lib/config/connect-settings.ts';
import type { KafkaSource } from './kafka-source.ts';
import type { MskS3SinkProps, StartingPosition } from './msk-s3-sink.ts';
import { GROUP_KEYS, oneOf, type ParsedConnector, RESET_KEYS, startingPosition } from './connector-schema.ts';

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

export function toProps(scope: Construct, config: ParsedConnector): MskS3SinkProps {
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

import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { MskS3Sink, type MskS3SinkProps } from '../../infra/msk-s3-sink.ts';
import { CLUSTER_ARN, newStack, secret } from './support.ts';

const msk = { kind: 'msk', clusterArn: CLUSTER_ARN } as const;
const base: MskS3SinkProps = { source: msk, topics: ['orders'] };

/** [what, props change, the message the error must contain] */
const cases: Array<[string, Partial<MskS3SinkProps>, string]> = [
  ['no topic', { topics: [] }, 'topics: at least one topic is required'],
  ['a bad topic', { topics: ['bad topic'] }, 'topics: "bad topic" is not a topic name a Lambda mapping accepts'],
  ['a repeated topic', { topics: ['orders', 'orders'] }, 'topics: a topic is listed twice'],
  ['several topics, one group', { topics: ['orders', 'payments'], consumerGroupId: 'sink' }, 'the group id must contain "{topic}"'],
  ['batch size', { batchSize: 20_000 }, 'batchSize: must be an integer from 1 to 10000, got 20000'],
  ['batching window', { maxBatchingWindow: Duration.minutes(6) }, 'maxBatchingWindow: at most 5 minutes'],
  [
    'retries without provisioned mode',
    { retryAttempts: 3 },
    'retryAttempts: Kafka event source mappings support it only in provisioned mode',
  ],
  [
    'bisect without provisioned mode',
    { bisectBatchOnError: true },
    'bisectBatchOnError: Kafka event source mappings support it only in provisioned mode',
  ],
  [
    'record age without provisioned mode',
    { maxRecordAge: Duration.hours(1), onFailure: { type: 's3' } },
    'maxRecordAge: Kafka event source mappings support it only in provisioned mode',
  ],
  [
    'partial batch responses without provisioned mode',
    { reportBatchItemFailures: true },
    'reportBatchItemFailures: Kafka event source mappings support it only in provisioned mode',
  ],
  [
    'pollers upside down',
    { provisionedPollers: { minimumPollers: 5, maximumPollers: 2 } },
    'provisionedPollers: minimumPollers (5) must not exceed maximumPollers (2)',
  ],
  [
    'discarding without a destination',
    { provisionedPollers: {}, retryAttempts: 2 },
    'onFailure: retryAttempts or maxRecordAge make the mapping discard records',
  ],
  [
    'record age out of range',
    { provisionedPollers: {}, maxRecordAge: Duration.seconds(30), onFailure: { type: 'sqs' } },
    'maxRecordAge: must be 60 seconds to 7 days',
  ],
  ['timeout', { timeout: Duration.minutes(16) }, 'timeout: at most 15 minutes'],
  [
    'cluster ARN',
    { source: { kind: 'msk', clusterArn: 'arn:aws:kafka:eu-west-1:123:cluster/x' } },
    'source.clusterArn: "arn:aws:kafka:eu-west-1:123:cluster/x" is not an MSK cluster ARN',
  ],
  [
    'serverless with SCRAM',
    { source: { ...msk, serverless: true, authentication: { type: 'sasl-scram', secret: undefined as never } } },
    'MSK Serverless supports IAM authentication only',
  ],
  [
    'internet brokers without auth',
    { source: { kind: 'self-managed', bootstrapServers: ['broker:9092'] } },
    'source.authentication: required when the brokers are reached over the internet',
  ],
  [
    'a bad broker',
    { source: { kind: 'self-managed', bootstrapServers: ['broker'], authentication: { type: 'basic', secret: undefined as never } } },
    'source.bootstrapServers: "broker" is not host:port',
  ],
  [
    'subnets without a security group',
    { source: { kind: 'self-managed', bootstrapServers: ['broker:9092'], vpcSubnets: { subnets: [] } } },
    'source.securityGroup: required with a VPC',
  ],
];

describe('synth-time validation', () => {
  it.each(cases)('%s', (_what, change, message) => {
    const stack = newStack();
    expect(() => new MskS3Sink(stack, 'Sink', { ...base, ...change })).toThrow(message);
  });

  it('reports every problem in one error', () => {
    const stack = newStack();
    expect(() => new MskS3Sink(stack, 'Sink', { ...base, topics: [], batchSize: 0, reportBatchItemFailures: true })).toThrow(
      /topics: at least one topic[\s\S]*batchSize: must be[\s\S]*reportBatchItemFailures: Kafka/,
    );
  });

  it('rejects new-bucket settings on an existing bucket', () => {
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'my-existing-bucket');
    expect(() => new MskS3Sink(stack, 'Sink', { ...base, bucket, bucketVersioned: true })).toThrow(
      'bucketVersioned: applies only to a bucket the construct creates',
    );
  });

  it("runs the function's own configuration loader (lib/config/config.ts) over the environment it sets", () => {
    const stack = newStack();
    expect(() => new MskS3Sink(stack, 'Sink', { ...base, prefix: 'data/', deadLetterPrefix: 'data/dead/' })).toThrow(
      'SINK_DEAD_LETTER_PREFIX "data/dead/" must lie outside SINK_PREFIX "data/"',
    );
    expect(() => new MskS3Sink(newStack(), 'Sink', { ...base, maxConcurrency: 1000 })).toThrow('SINK_MAX_CONCURRENCY');
    // A prefix that could push a dead letter or an `_unpartitioned` object past S3's 1,024-byte keys.
    expect(() => new MskS3Sink(newStack(), 'Sink', { ...base, prefix: `${'p'.repeat(499)}/` })).toThrow(
      'SINK_PREFIX: 500 bytes; at most 444',
    );
  });

  it('checks the layout on its own (no placeholder bucket or table), and the name of an existing bucket when it is known', () => {
    expect(() => new MskS3Sink(newStack(), 'Sink', { ...base, sinkSettings: { SINK_PARTITIONER: 'field' } })).toThrow(
      /^MskS3Sink: Invalid sink configuration: SINK_PARTITION_FIELD: required with SINK_PARTITIONER=field$/,
    );
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'My_Bucket');
    expect(() => new MskS3Sink(stack, 'Sink', { ...base, bucket })).toThrow(
      /^MskS3Sink: Invalid sink configuration: SINK_BUCKET must be an S3 bucket name$/,
    );
  });

  it('asks for an SNS topic it creates when e-mail addresses are given', () => {
    const stack = newStack();
    expect(() => new MskS3Sink(stack, 'Sink', { ...base, alarms: { emails: ['ops@example.com'] } })).toThrow(
      'alarms.emails: e-mail subscriptions need a topic the construct creates',
    );
    expect(() => new MskS3Sink(newStack(), 'Sink', { ...base, alarms: { topic: true, emails: ['ops@example.com'] } })).not.toThrow();
  });

  it('accepts a valid SCRAM source', () => {
    const stack = newStack();
    expect(
      () => new MskS3Sink(stack, 'Sink', { ...base, source: { ...msk, authentication: { type: 'sasl-scram', secret: secret(stack) } } }),
    ).not.toThrow();
  });
});

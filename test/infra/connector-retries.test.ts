/**
 * Issue 14 in the connector configuration: retries with an on-failure destination are explicit,
 * and the new bucket and alarm keys reach the construct.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG } from '../../infra/app.ts';
import { readConnectorConfigFile, resolveConnectorConfig } from '../../infra/connector-config.ts';
import { MskS3Sink } from '../../infra/msk-s3-sink.ts';
import { CLUSTER_ARN, newStack } from './support.ts';

const minimal = { topics: 'orders', 'msk.cluster.arn': CLUSTER_ARN } as const;
const provisioned = { 'lambda.provisioned.pollers.max': 2 } as const;
const resolve = (config: Record<string, unknown>) => resolveConnectorConfig({ ...minimal, ...config });

describe('lambda.retry.attempts with an on-failure destination', () => {
  it.each(['s3', 'sqs'])('refuses the default (-1) with lambda.on.failure.destination=%s, naming the cap', (destination) => {
    expect(() => resolve({ ...provisioned, 'lambda.on.failure.destination': destination })).toThrow(
      `lambda.retry.attempts: with lambda.on.failure.destination=${destination} Lambda caps unlimited retries (-1, the default) at 10`,
    );
    expect(() => resolve({ ...provisioned, 'lambda.retry.attempts': -1, 'lambda.on.failure.destination': destination })).toThrow(
      `lambda.retry.attempts: with lambda.on.failure.destination=${destination} Lambda caps unlimited retries (-1) at 10`,
    );
  });

  it('passes an explicit number through to MaximumRetryAttempts', () => {
    const stack = newStack();
    new MskS3Sink(
      stack,
      'Sink',
      resolve({ ...provisioned, 'lambda.retry.attempts': '250', 'lambda.on.failure.destination': 'sqs' }).props(stack),
    );
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 250 });
  });

  it('the example configuration sets it (it has an S3 destination)', () => {
    const connector = resolveConnectorConfig(readConnectorConfigFile(EXAMPLE_CONFIG));
    expect(connector.config['lambda.on.failure.destination']).toBe('s3');
    const stack = newStack();
    new MskS3Sink(stack, 'Sink', connector.props(stack));
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 10_000 });
  });
});

describe('group.id', () => {
  it('refuses "*" (a wildcard in the IAM grant), with the other problems', () => {
    expect(() => resolve({ topics: 'a1,b2', 'group.id': 'sink-*' })).toThrow(
      /group\.id: "sink-\*" must not contain "\*"[\s\S]*group\.id: with several topics/,
    );
    expect(() => resolve({ 'group.id': 'sink-*' })).toThrow('group.id: "sink-*" must not contain "*"');
  });
});

describe('new keys', () => {
  it.each([
    [
      's3.noncurrent.version.expiration.days',
      { 's3.noncurrent.version.expiration.days': '7' },
      (p: ReturnType<typeof propsOf>) => p.noncurrentVersionExpirationDays,
      7,
    ],
    [
      'alarms.skipped.offsets.threshold',
      { 'alarms.skipped.offsets.threshold': 100 },
      (p: ReturnType<typeof propsOf>) => p.alarms?.skippedOffsetsThreshold,
      100,
    ],
    [
      'alarms.silent.mapping.hours',
      { 'alarms.silent.mapping.hours': '0' },
      (p: ReturnType<typeof propsOf>) => p.alarms?.silentMappingHours,
      0,
    ],
    [
      'msk.subnet.ids',
      { 'msk.subnet.ids': 'subnet-0a1, subnet-0b2' },
      (p: ReturnType<typeof propsOf>) => p.source.kind === 'msk' && p.source.subnetIds,
      ['subnet-0a1', 'subnet-0b2'],
    ],
  ])('%s', (_key, config, pick, expected) => {
    expect(pick(propsOf(config))).toEqual(expected);
  });

  it('rejects what cannot apply', () => {
    expect(() => resolve({ 'alarms.silent.mapping.hours': 48 })).toThrow('alarms.silent.mapping.hours: ');
    expect(() => resolve({ 's3.bucket.name': 'existing-bucket', 's3.noncurrent.version.expiration.days': 7 })).toThrow(
      's3.noncurrent.version.expiration.days: applies only to a bucket the app creates',
    );
    expect(() => resolve({ 's3.bucket.versioning': false, 's3.noncurrent.version.expiration.days': 7 })).toThrow(
      's3.noncurrent.version.expiration.days: applies to a versioned bucket; conflicts with s3.bucket.versioning=false',
    );
  });
});

function propsOf(config: Record<string, unknown>) {
  return resolve(config).props(newStack());
}

import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import type { MskS3SinkProps } from '../../infra/msk-s3-sink.ts';
import { CLUSTER_ARN, policyStatements, synthSink } from './support.ts';

const msk = { kind: 'msk', clusterArn: CLUSTER_ARN } as const;
const base: MskS3SinkProps = { source: msk, topics: ['orders'], consumerGroupId: 'orders-sink' };
const provisioned = { provisionedPollers: { minimumPollers: 1, maximumPollers: 2 } } as const;

/** The alarms of a template, by metric name (alarms on one metric) or by expression (metric math). */
function alarms(template: Template): Array<Record<string, unknown>> {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties as Record<string, unknown>);
}
const alarmOn = (template: Template, metricName: string) => alarms(template).filter((alarm) => alarm.MetricName === metricName);

describe('retries: explicit, and never silently capped by an on-failure destination', () => {
  it('sets MaximumRetryAttempts explicitly in provisioned mode (-1 unless told otherwise)', () => {
    const { template } = synthSink({ ...base, ...provisioned });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: -1 });
  });

  it('leaves it out in on-demand mode, where Lambda does not take it', () => {
    const { template } = synthSink(base);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: Match.absent() });
  });

  it.each([
    ['no retryAttempts', {}, 'retryAttempts: with an onFailure destination Lambda caps unlimited retries (-1, the default) at 10'],
    ['retryAttempts -1', { retryAttempts: -1 }, 'retryAttempts: with an onFailure destination Lambda caps unlimited retries (-1) at 10'],
  ])('refuses an on-failure destination with %s', (_what, change, message) => {
    for (const type of ['s3', 'sqs'] as const) {
      expect(() => synthSink({ ...base, ...provisioned, ...change, onFailure: { type } })).toThrow(message);
    }
  });

  it('refuses an on-failure destination in on-demand mode (no way to set the retries there)', () => {
    expect(() => synthSink({ ...base, onFailure: { type: 's3' } })).toThrow(/retryAttempts: with an onFailure destination Lambda caps/);
  });

  it('takes the number of retries the user means', () => {
    const { template } = synthSink({ ...base, ...provisioned, retryAttempts: 10_000, onFailure: { type: 's3' } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 10_000 });
  });
});

describe('alarms for every way the sink can stop, skip or fail', () => {
  const { template, sink, stack } = synthSink({
    ...base,
    topics: ['orders', 'payments'],
    consumerGroupId: 'sink-{topic}',
    ...provisioned,
    retryAttempts: 100,
    reportBatchItemFailures: true,
    onFailure: { type: 's3' },
    sinkSettings: { SINK_PARTITIONER: 'time' },
  });
  const sinkMetric = (name: string) => ({
    Namespace: 'MskS3Sink',
    MetricName: name,
    Dimensions: [{ Name: 'service', Value: 'msk-s3-sink' }],
  });

  it('PartitionsFailed, MalformedEvents and InvalidObjects: one is enough', () => {
    for (const name of ['PartitionsFailed', 'MalformedEvents', 'InvalidObjects']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...sinkMetric(name),
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmDescription: Match.anyValue(),
      });
    }
  });

  it('SkippedOffsets: a single range larger than 1 (a transaction commit marker is tolerated)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...sinkMetric('SkippedOffsets'),
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const custom = synthSink({ ...base, alarms: { skippedOffsetsThreshold: 50 } }).template;
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { ...sinkMetric('SkippedOffsets'), Threshold: 50 });
  });

  it("turns on each mapping's EventCount metrics and alarms on what it dropped or sent to the destination", () => {
    const mappings = template.findResources('AWS::Lambda::EventSourceMapping');
    expect(Object.values(mappings).map((m) => m.Properties.MetricsConfig)).toEqual([
      { Metrics: ['EventCount'] },
      { Metrics: ['EventCount'] },
    ]);
    for (const mapping of sink.eventSourceMappings) {
      const dimensions = [{ Name: 'EventSourceMappingUUID', Value: stack.resolve(mapping.eventSourceMappingId) }];
      for (const metricName of ['DroppedEventCount', 'OnFailureDestinationDeliveredEventCount']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metricName,
          Dimensions: dimensions,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
      }
    }
    expect(alarmOn(template, 'OnFailureDestinationDeliveredEventCount')).toHaveLength(2);
  });

  it('a mapping silent for 24 hours (disabled, or unable to reach the cluster): missing data breaches', () => {
    expect(alarmOn(template, 'InvokedEventCount')).toHaveLength(2);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'InvokedEventCount',
      Period: 3600,
      EvaluationPeriods: 24,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    const off = synthSink({ ...base, alarms: { silentMappingHours: 0 } }).template;
    expect(alarmOn(off, 'InvokedEventCount')).toHaveLength(0);
  });

  it('a mapping that stopped invoking while its topic has lag: metric math with missing data filled as 0', () => {
    const stalled = alarms(template).filter((alarm) => JSON.stringify(alarm.Metrics ?? '').includes('FILL(lag, 0)'));
    expect(stalled).toHaveLength(1);
    const metrics = stalled[0]!.Metrics as Array<{ Expression?: string; MetricStat?: { Metric: { MetricName: string } } }>;
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('IF(FILL(lag, 0) > 0 AND FILL(invocations, 0) == 0, 1, 0)');
    expect(metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : [])).sort()).toEqual(['Invocations', 'OffsetLag']);
    // 5-minute periods spanning a whole invocation (timeout 5 min + window 60 s) and more: 3 of them.
    expect(stalled[0]).toMatchObject({ EvaluationPeriods: 3, Threshold: 1, TreatMissingData: 'notBreaching' });
  });

  it('the S3 on-failure destination: its "Object Created" events go to an alarmed queue', () => {
    const onFailureBucket = stack.resolve(sink.onFailureBucket!.bucketName);
    template.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: [onFailureBucket] } } },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } })],
    });
    const rule = Object.values(template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.s3'] } } }))[0]!;
    const queueArn = (rule.Properties.Targets as Array<{ Arn: unknown }>)[0]!.Arn;
    const queueName = { 'Fn::GetAtt': [(queueArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0], 'QueueName'] };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: queueName }],
      Threshold: 1,
    });
    // No notifications custom resource (another function) for it.
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });

  it('the manifest writer: its errors, and a dead-letter queue for its scheduled runs, alarmed', () => {
    const writer = stack.resolve(sink.manifestWriter!.functionName);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: writer }],
      Threshold: 1,
    });
    const writerResource = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { MANIFEST_TOPICS: Match.anyValue() } } },
      }),
    )[0]!;
    const dlqArn = (writerResource.Properties.DeadLetterConfig as { TargetArn: { 'Fn::GetAtt': [string, string] } }).TargetArn;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ DeadLetterConfig: { Arn: dlqArn }, RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqArn['Fn::GetAtt'][0], 'QueueName'] } }],
    });
  });

  it('exposes every alarm and shows them on the dashboard', () => {
    expect(sink.alarms).toHaveLength(alarms(template).length);
    // 4 before + PartitionsFailed, MalformedEvents, SkippedOffsets, InvalidObjects, stalled,
    // 2 x (silent, dropped, on-failure), on-failure bucket, manifest writer errors and DLQ.
    expect(alarms(template)).toHaveLength(4 + 5 + 6 + 1 + 2);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const name of [
      'SkippedOffsets',
      'InvalidObjects',
      'MalformedEvents',
      'InvokedEventCount',
      'DroppedEventCount',
      'OnFailureDestinationDeliveredEventCount',
      'FILL(lag, 0)',
    ]) {
      expect(body).toContain(name);
    }
  });

  it('rejects bad alarm settings with clear messages', () => {
    expect(() => synthSink({ ...base, alarms: { skippedOffsetsThreshold: -1, silentMappingHours: 48 } })).toThrow(
      /alarms\.skippedOffsetsThreshold: a whole number of offsets[\s\S]*alarms\.silentMappingHours: whole hours from 1 to 24/,
    );
  });
});

describe('the bucket trusts only the sink', () => {
  it('is versioned by default, with noncurrent versions expiring after 30 days', () => {
    const { template } = synthSink(base);
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' })]),
      },
    });
    const kept = synthSink({ ...base, noncurrentVersionExpirationDays: 0 }).template;
    kept.hasResourceProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    expect(JSON.stringify(kept.toJSON())).not.toContain('NoncurrentVersionExpiration');
  });

  it('validates noncurrentVersionExpirationDays at synth', () => {
    expect(() => synthSink({ ...base, noncurrentVersionExpirationDays: -3 })).toThrow(
      'noncurrentVersionExpirationDays: a whole number of days, 0 to keep noncurrent versions forever, got -3',
    );
    expect(() =>
      synthSink((s) => ({ ...base, bucket: s3.Bucket.fromBucketName(s, 'E', 'existing-sink-bucket'), noncurrentVersionExpirationDays: 7 })),
    ).toThrow('noncurrentVersionExpirationDays: applies only to a bucket the construct creates');
  });

  it('lets the user opt out of versioning', () => {
    const { template } = synthSink({ ...base, bucketVersioned: false });
    expect(JSON.stringify(template.findResources('AWS::S3::Bucket'))).not.toContain('VersioningConfiguration');
    expect(JSON.stringify(template.toJSON())).not.toContain('NoncurrentVersionExpiration');
    expect(() => synthSink({ ...base, bucketVersioned: false, noncurrentVersionExpirationDays: 7 })).toThrow(
      'noncurrentVersionExpirationDays: applies to a versioned bucket; conflicts with bucketVersioned: false',
    );
  });

  it('denies PutObject under the sink prefixes to everyone but the sink and the manifest writer, and without If-None-Match', () => {
    const { template, sink, stack } = synthSink({ ...base, sinkSettings: { SINK_PARTITIONER: 'time' } });
    const bucketArn = stack.resolve(sink.bucket.bucketArn);
    const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn, `/${prefix}*`]] });
    const sinkRole = stack.resolve(sink.function.role!.roleArn);
    const writerRole = stack.resolve(sink.manifestWriter!.role!.roleArn);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: stack.resolve(sink.bucket.bucketName),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: objects('topics/'),
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': [sinkRole, writerRole] } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: objects('dead-letters/'),
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': sinkRole } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: objects('dead-letters/'),
            Condition: { Null: { 's3:if-none-match': 'true' } },
          }),
          // Under the sink prefix a write must be conditional: If-None-Match (objects, manifests)
          // or If-Match (the manifest writer's cursor); an unconditional PUT is refused.
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: objects('topics/'),
            Condition: { Null: { 's3:if-none-match': 'true', 's3:if-match': 'true' } },
          }),
        ]),
      },
    });
    // The manifest writer's own grant is the manifests and its cursor under the sink prefix, which the policy leaves it.
    const writerPuts = policyStatements(template).filter((s) => s.Sid === 'ManifestWriteMarkers');
    expect(writerPuts).toEqual([
      expect.objectContaining({
        Resource: [
          // (CDK sorts the resources.)
          { 'Fn::Join': ['', [bucketArn, '/topics/*/_manifest-state.json']] },
          { 'Fn::Join': ['', [bucketArn, '/topics/*/_manifest.json']] },
        ],
      }),
    ]);
  });

  it('without the manifest writer, only the sink role may write under the sink prefix', () => {
    const { template, sink, stack } = synthSink(base);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'OnlyTheSinkWritesSinkObjects',
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': [stack.resolve(sink.function.role!.roleArn)] } },
          }),
        ]),
      },
    });
  });

  it('an existing bucket keeps its policy: a warning, and the statements to add exposed', () => {
    const { template, sink, stack } = synthSink((s) => ({
      ...base,
      bucket: s3.Bucket.fromBucketName(s, 'Existing', 'existing-sink-bucket'),
    }));
    template.resourceCountIs('AWS::S3::BucketPolicy', 0);
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('sink bucket is not defined in this app'));
    const statements = sink.bucketPolicyStatements.map(
      (statement) => stack.resolve(statement.toStatementJson()) as Record<string, unknown>,
    );
    expect(statements.map((s) => [s.Sid, s.Effect, s.Action])).toEqual([
      ['OnlyTheSinkWritesSinkObjects', 'Deny', 's3:PutObject'],
      ['OnlyTheSinkWritesDeadLetters', 'Deny', 's3:PutObject'],
      ['SinkObjectsAreCreatedOnlyOnce', 'Deny', 's3:PutObject'],
      ['SinkObjectsAreWrittenConditionally', 'Deny', 's3:PutObject'],
    ]);
    expect(statements[0]!.Resource).toBe('arn:aws:s3:::existing-sink-bucket/topics/*');
  });

  it('a bucket the user defines in the same app takes the statements', () => {
    const { template, stack } = synthSink((s) => ({ ...base, bucket: new s3.Bucket(s, 'Mine', { enforceSSL: true }) }));
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'OnlyTheSinkWritesSinkObjects' }),
          Match.objectLike({ Sid: 'SinkObjectsAreCreatedOnlyOnce' }),
        ]),
      },
    });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('not defined in this app'))).toHaveLength(0);
  });
});
